//! The elastic cost of the Sinkhorn map (\[CKA23\], SPEC §3.5, §7.2): its value, gradient and prox, and
//! the blocks of the cost matrix and of Σ_j p_ij γ∇τ(x_i − y_j) that the solver and the map evaluate.
//!
//! # Cost
//! `c(x, y) = h(x − y)` with `h(z) = ½‖z‖² + γ τ(z)` (per coordinate sums), τ one of
//! - [`ElasticCost::SqEuclidean`]: τ = 0 (γ irrelevant), the plain entropic map;
//! - [`ElasticCost::L1`]: `γτ(z) = γ Σ_k |z_k|`;
//! - [`ElasticCost::Stvs`]: `γτ(z) ≡ τ_γ(z) = γ² Σ_k [u_k + ½ − ½ e^{−2u_k}]`, `u_k = asinh(|z_k| / (2γ))`
//!   (weight 1, γ is the strength: SPEC §7.2 — the closed-form prox below holds only at weight 1),
//!   evaluated by [`StvsCoord`] (`crate::ot::penalty`, the one implementation, in its stable form).
//!
//! # ∇h, step by step
//! - Squared part: `∇(½‖z‖²) = z`.
//! - L1: `∂(γ|z_k|)/∂z_k = γ sign(z_k)` (the subgradient 0 is used at z_k = 0).
//! - STVS, per coordinate with `s = |z|/(2γ)`, `r = √(1 + s²)`, `u = asinh s`:
//!   1. `dφ/du = γ² (1 + e^{−2u})`;
//!   2. `du/d|z| = (1/(2γ)) / r`;
//!   3. `e^{−u} = r − s` (since `e^{u} = s + r`), so `1 + e^{−2u} = 1 + (r − s)² = 2r(r − s)`
//!      (using r² − s² = 1);
//!   4. hence `φ'(z) = sign(z) · γ² · 2r(r − s) / (2γ r) = sign(z) · γ (r − s) = sign(z) · γ / (r + s)`,
//!      evaluated in the last form (no cancellation for large s); at z = 0 the subgradient 0 is used
//!      (the one-sided limits are ±γ).
//!
//!   Value: `φ(z) = γ² (u + s/(r + s))` (`½ − ½(r − s)² = s/(r + s)`: [`crate::ot::penalty`]).
//!
//! # Prox of γτ (closed forms)
//! - L1 (soft threshold): `prox(v) = sign(v) · max(|v| − γ, 0)`.
//! - STVS (weight 1): `prox(v) = 0` if `v² ≤ γ²`, else `v − γ²/v`. Check of the optimality condition
//!   `v − z = φ'(z)` for v > γ, z = (v² − γ²)/v: s = (v² − γ²)/(2γv), r = (v² + γ²)/(2γv), so
//!   `γ (r − s) = γ · 2γ²/(2γv) = γ²/v = v − z` ✓.
//!
//! Both are [`crate::ot::penalty::Penalty::prox`] (L1 with weight γ, STVS with weight 1), which this
//! module calls. φ and φ' of STVS are [`StvsCoord`]'s, in the `r, s` form above (one `ln_1p`, no `exp`);
//! `tests/ot_sinkhorn.rs` checks them against finite differences and against the prox.
//!
//! # Work
//! A block of `bx` rows against `m` targets costs O(bx·m·d) arithmetic: the ½‖·‖² part by one f64 gemm,
//! the τ part by a loop over coordinates in lane-split sums (ROW_TILE rows of x against each y_j, so y_j
//! stays in L1), compiled for AVX-512F / AVX2 when the CPU has them (runtime detection; the same
//! operations in the same order, so the same results on every path).

use crate::linalg::simd::simd_dispatch;
use crate::linalg::{gemm, Mat, MatMut, Op, Real};
use crate::ot::penalty::{Penalty, StvsCoord};
use crate::{Error, Result};

/// The elastic regulariser of the cost `h(z) = ½‖z‖² + γτ(z)` (module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ElasticCost {
    /// τ = 0: `h(z) = ½‖z‖²`.
    SqEuclidean,
    /// `γτ(z) = γ Σ|z_k|`.
    L1 {
        /// Strength γ ≥ 0.
        gamma: f64,
    },
    /// `γτ(z) = τ_γ(z)`, the STVS penalty with parameter γ > 0 at weight 1.
    Stvs {
        /// Parameter γ > 0.
        gamma: f64,
    },
}

impl ElasticCost {
    /// `sqeuclidean`, `l1` or `stvs`.
    pub fn name(&self) -> &'static str {
        match self {
            ElasticCost::SqEuclidean => "sqeuclidean",
            ElasticCost::L1 { .. } => "l1",
            ElasticCost::Stvs { .. } => "stvs",
        }
    }

    /// γ (0 for the squared Euclidean cost).
    pub fn gamma(&self) -> f64 {
        match *self {
            ElasticCost::SqEuclidean => 0.0,
            ElasticCost::L1 { gamma } | ElasticCost::Stvs { gamma } => gamma,
        }
    }

    /// Rebuilds from [`Self::name`] and γ.
    pub fn from_name(name: &str, gamma: f64) -> Result<Self> {
        let c = match name {
            "sqeuclidean" => ElasticCost::SqEuclidean,
            "l1" => ElasticCost::L1 { gamma },
            "stvs" => ElasticCost::Stvs { gamma },
            _ => {
                return Err(Error::Usage(format!(
                    "unknown elastic cost '{name}' (expected sqeuclidean, l1 or stvs)"
                )))
            }
        };
        c.validate()?;
        Ok(c)
    }

    /// γ finite, ≥ 0 for L1 and > 0 for STVS.
    pub fn validate(&self) -> Result<()> {
        match *self {
            ElasticCost::SqEuclidean => Ok(()),
            ElasticCost::L1 { gamma } if gamma.is_finite() && gamma >= 0.0 => Ok(()),
            ElasticCost::Stvs { gamma } if gamma.is_finite() && gamma > 0.0 => Ok(()),
            _ => Err(Error::Usage(format!(
                "elastic cost {}: gamma must be finite and {} 0, got {}",
                self.name(),
                if matches!(self, ElasticCost::L1 { .. }) {
                    "≥"
                } else {
                    ">"
                },
                self.gamma()
            ))),
        }
    }

    /// `h(z) = ½‖z‖² + γτ(z)` in f64 (reference evaluation).
    pub fn h(&self, z: &[f64]) -> f64 {
        let sq: f64 = 0.5 * z.iter().map(|v| v * v).sum::<f64>();
        sq + match *self {
            ElasticCost::SqEuclidean => 0.0,
            ElasticCost::L1 { gamma } => gamma * z.iter().map(|v| v.abs()).sum::<f64>(),
            ElasticCost::Stvs { gamma } => {
                let st = StvsCoord::<f64>::new(gamma);
                z.iter().map(|&v| st.phi(v)).sum()
            }
        }
    }

    /// `out ← ∇h(z)` (subgradient 0 of τ at z_k = 0; module doc, "∇h, step by step").
    pub fn grad_h(&self, z: &[f64], out: &mut [f64]) {
        assert_eq!(z.len(), out.len(), "grad_h: lengths differ");
        for (o, &v) in out.iter_mut().zip(z) {
            *o = v + match *self {
                ElasticCost::SqEuclidean => 0.0,
                ElasticCost::L1 { gamma } => gamma * v.sign(),
                ElasticCost::Stvs { gamma } => StvsCoord::<f64>::new(gamma).dphi(v),
            };
        }
    }

    /// `out ← prox_{γτ}(v) = (∇h)⁻¹(v)` (closed forms of the module doc, via [`Penalty::prox`]).
    pub fn prox<T: Real>(&self, v: &[T], out: &mut [T]) {
        let done = match *self {
            ElasticCost::SqEuclidean => Penalty::None.prox(v, 1.0, out),
            ElasticCost::L1 { gamma } => Penalty::L1.prox(v, gamma, out),
            ElasticCost::Stvs { gamma } => Penalty::Stvs { gamma }.prox(v, 1.0, out),
        };
        done.expect("closed-form prox: L1 at any weight, STVS at weight 1");
    }

    /// `γτ(a − b)` for two rows (lane-split sums in T, returned in f64).
    #[inline(always)]
    fn tau_of_difference<T: Real>(&self, a: &[T], b: &[T]) -> f64 {
        match *self {
            ElasticCost::SqEuclidean => 0.0,
            ElasticCost::L1 { gamma } => gamma * l1_distance(a, b).to_f64(),
            ElasticCost::Stvs { gamma } => stvs_sum(a, b, gamma).to_f64(),
        }
    }

    /// `acc += w · γ∇τ(a − b)` for two rows.
    #[inline(always)]
    fn add_weighted_grad_tau<T: Real>(&self, a: &[T], b: &[T], w: T, acc: &mut [T]) {
        match *self {
            ElasticCost::SqEuclidean => {}
            ElasticCost::L1 { gamma } => {
                let wg = w * T::from_f64(gamma);
                let len = acc.len();
                let (a, b) = (&a[..len], &b[..len]);
                for k in 0..len {
                    let z = a[k] - b[k];
                    // γ sign(z) with sign(0) = 0, as two selects so the loop vectorises.
                    let pos = if z > T::ZERO { wg } else { T::ZERO };
                    let neg = if z < T::ZERO { wg } else { T::ZERO };
                    acc[k] += pos - neg;
                }
            }
            ElasticCost::Stvs { gamma } => {
                let st = StvsCoord::<T>::new(gamma);
                for ((o, &p), &q) in acc.iter_mut().zip(a).zip(b) {
                    *o += w * st.dphi(p - q);
                }
            }
        }
    }
}

/// Lanes of the split accumulators (lets the compiler vectorise reductions it may not reorder).
const LANES: usize = 16;

/// `Σ_k f(a_k − b_k)` in [`LANES`] split accumulators, then the tail, then the lanes in order (the one
/// reduction of both elastic terms and of the solver's row sums; `f` is inlined, so each use compiles
/// to its own loop).
#[inline(always)]
pub(super) fn lane_sum<T: Real>(a: &[T], b: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[T; LANES], &[T; LANES]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for k in 0..LANES {
            acc[k] += f(x[k] - y[k]);
        }
    }
    let mut s = ra.iter().zip(rb).fold(T::ZERO, |s, (&x, &y)| s + f(x - y));
    for v in acc {
        s += v;
    }
    s
}

/// `Σ_k |a_k − b_k|`.
#[inline(always)]
fn l1_distance<T: Real>(a: &[T], b: &[T]) -> T {
    lane_sum(a, b, |z: T| z.abs())
}

/// `Σ_k φ_γ(a_k − b_k)` (STVS, [`StvsCoord`]).
#[inline(always)]
fn stvs_sum<T: Real>(a: &[T], b: &[T], gamma: f64) -> T {
    let st = StvsCoord::<T>::new(gamma);
    T::from_f64(gamma * gamma) * lane_sum(a, b, |z: T| st.phi_over_gamma2(z))
}

/// `out[i·m + j] = h(x_i − y_j)` for all rows of `x` (a block): ½‖·‖² by one f64 gemm
/// (`½‖x‖² + ½‖y‖² − x·y`, clamped at 0), then `+ γτ(x_i − y_j)` by the lane-split loop.
pub(super) fn cost_rows<T: Real>(
    cost: &ElasticCost,
    x: &Mat<T>,
    x64: &Mat<f64>,
    y: &Mat<T>,
    y64: &Mat<f64>,
    out: &mut [f64],
) {
    let (bx, m) = (x.rows(), y.rows());
    gemm(
        -1.0,
        x64.view(),
        Op::N,
        y64.view(),
        Op::T,
        0.0,
        MatMut::from_slice(out, bx, m).expect("cost block"),
    );
    let ny: Vec<f64> = (0..m)
        .map(|j| 0.5 * y64.row(j).iter().map(|v| v * v).sum::<f64>())
        .collect();
    for i in 0..bx {
        let nx = 0.5 * x64.row(i).iter().map(|v| v * v).sum::<f64>();
        for (v, nyj) in out[i * m..(i + 1) * m].iter_mut().zip(&ny) {
            *v = (*v + nx + nyj).max(0.0);
        }
    }
    if matches!(cost, ElasticCost::SqEuclidean) {
        return;
    }
    add_tau_block(cost, x, y, out);
}

/// Rows of x processed together against one target row in the O(n·m·d) loops (cache reuse of y_j).
const ROW_TILE: usize = 4;

simd_dispatch! {
    /// `out[i·m + j] += γτ(x_i − y_j)`, ROW_TILE rows of x at a time against each y_j (y_j stays in L1
    /// across the tile), for the widest instruction set of the CPU (same arithmetic, same order: results
    /// are identical on every path).
    fn add_tau_block[T: Real][T](
        cost: &ElasticCost,
        x: &Mat<T>,
        y: &Mat<T>,
        out: &mut [f64],
    ) -> () = add_tau_block_body;
}

#[inline(always)]
fn add_tau_block_body<T: Real>(cost: &ElasticCost, x: &Mat<T>, y: &Mat<T>, out: &mut [f64]) {
    let (bx, m) = (x.rows(), y.rows());
    for i0 in (0..bx).step_by(ROW_TILE) {
        let i1 = (i0 + ROW_TILE).min(bx);
        for j in 0..m {
            let yj = y.row(j);
            for i in i0..i1 {
                out[i * m + j] += cost.tau_of_difference(x.row(i), yj);
            }
        }
    }
}

simd_dispatch! {
    /// `acc[i·d..(i+1)·d] += Σ_j p_ij γ∇τ(x_i − y_j)` with `p` the bx × m Gibbs weights, ROW_TILE rows at a
    /// time against each y_j; dispatched like [`add_tau_block`].
    pub(super) fn add_grad_tau_block[T: Real][T](
        cost: &ElasticCost,
        x: &Mat<T>,
        y: &Mat<T>,
        p: &[f64],
        acc: &mut [T],
    ) -> () = add_grad_tau_block_body;
}

#[inline(always)]
fn add_grad_tau_block_body<T: Real>(
    cost: &ElasticCost,
    x: &Mat<T>,
    y: &Mat<T>,
    p: &[f64],
    acc: &mut [T],
) {
    let (bx, m, d) = (x.rows(), y.rows(), x.cols());
    for i0 in (0..bx).step_by(ROW_TILE) {
        let i1 = (i0 + ROW_TILE).min(bx);
        for j in 0..m {
            let yj = y.row(j);
            for i in i0..i1 {
                let w = T::from_f64(p[i * m + j]);
                if w != T::ZERO {
                    cost.add_weighted_grad_tau(x.row(i), yj, w, &mut acc[i * d..(i + 1) * d]);
                }
            }
        }
    }
}
