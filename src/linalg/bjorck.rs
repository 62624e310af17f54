//! Björck orthonormalisation \[A19\] with the exact derivative of the unrolled iteration (SPEC §1, §7.6).
//!
//! # Forward
//! Work in the *tall* orientation: for `W ∈ ℝ^{r×c}` let `R = W` if `r ≥ c`, else `R = Wᵀ`, so `R` is
//! `n × m` with `n ≥ m` (the Gram matrix below is then the small `m × m` one; the singular values, and
//! so the limit, do not depend on the orientation since `W p(WᵀW) = p(WWᵀ) W`).
//! 1. Scale: `X₀ = R / s` with `s ≥ ‖R‖₂` ([`BjorckScale`]):
//!    `Frobenius`: `s = ‖R‖_F`; `OneInf`: `s = √(‖R‖₁‖R‖∞)` (max column / row absolute sums);
//!    `Dims`: `s = √(n·m)` (w1ot's constant, not guaranteed ≥ ‖R‖₂).
//! 2. For k = 0..K−1: `S_k = X_kᵀ X_k`, `P_k = p(S_k)`, `X_{k+1} = X_k P_k`, with the order-p polynomial
//!    ([`BjorckOrder`], the Taylor expansion of `S^{−1/2}` about `I`)
//!    order 1: `p(S) = 3/2·I − 1/2·S`;
//!    order 2: `p(S) = 15/8·I − 5/4·S + 3/8·S²`;
//!    order 4: `p(S) = 315/128·I − 105/32·S + 189/64·S² − 45/32·S³ + 35/128·S⁴`,
//!    evaluated by Horner: `H_p = c_p I`, `H_j = c_j I + S H_{j+1}` (j = p−1..0), `P = H_0`.
//! 3. `Q = X_K` (transposed back when `W` was wide).
//!
//! On a singular value σ ∈ [0, 1] each step maps σ ↦ σ·p(σ²) ≤ 1 (the map is increasing on [0, 1] with
//! fixed point 1), so with a safe scale every iterate has spectral norm ≤ 1: the layer stays 1-Lipschitz
//! even before convergence.
//!
//! # Backward (vector–Jacobian product, given `Q̄ = ∂L/∂Q`)
//! `X̄_K = Q̄` (tall orientation); for k = K−1..0, with `S_k`, `H_j` recomputed from the stored `X_k`:
//! 4. `X_{k+1} = X_k P`  ⇒  `P̄ = X_kᵀ X̄_{k+1}`, `X̄_k = X̄_{k+1} Pᵀ`;
//! 5. Horner in reverse: `H̄_0 = P̄`; for j = 0..p−1, `H_j = c_j I + S H_{j+1}` ⇒
//!    `S̄ += H̄_j H_{j+1}ᵀ`, `H̄_{j+1} = Sᵀ H̄_j`;
//! 6. `S = X_kᵀ X_k`  ⇒  `X̄_k += X_k (S̄ + S̄ᵀ)`;
//! 7. Scale: `X₀ = R / s(R)`  ⇒  `R̄ = X̄₀ / s − (⟨X̄₀, R⟩ / s²)·∇s`, with
//!    `∇s = R / s` (Frobenius); `∇s_{ij} = sign(R_ij)·(b·[j = j*] + a·[i = i*]) / (2s)` (OneInf, with
//!    `a = Σ_i |R_{ij*}|` the largest column sum and `b = Σ_j |R_{i*j}|` the largest row sum; defined
//!    away from ties, which have measure zero); `∇s = 0` (Dims);
//! 8. `W̄ += R̄` (transposed back when `W` was wide).
//!
//! The forward pass stores the K + 1 iterates (`(K+1)·n·m` values); [`Bjorck::forward`] with
//! `record = false` keeps only two (for export / inference, where no backward follows).

use super::tall::{add_from_tall, from_tall, to_tall, Tall};
use super::{gemm, ops, Mat, MatMut, MatRef, Op, Real};

/// Order of the Björck polynomial (see the module doc, step 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BjorckOrder {
    /// `3/2·I − 1/2·S`
    One,
    /// `15/8·I − 5/4·S + 3/8·S²` (w1ot's training setting)
    Two,
    /// `315/128·I − 105/32·S + 189/64·S² − 45/32·S³ + 35/128·S⁴` (w1ot's export setting)
    Four,
}

impl BjorckOrder {
    /// Polynomial coefficients `c_0, …, c_p` of `p(S) = Σ c_j S^j`.
    pub fn coeffs(self) -> &'static [f64] {
        match self {
            BjorckOrder::One => &[1.5, -0.5],
            BjorckOrder::Two => &[15.0 / 8.0, -5.0 / 4.0, 3.0 / 8.0],
            BjorckOrder::Four => &[
                315.0 / 128.0,
                -105.0 / 32.0,
                189.0 / 64.0,
                -45.0 / 32.0,
                35.0 / 128.0,
            ],
        }
    }

    /// 1, 2 or 4.
    pub fn degree(self) -> usize {
        self.coeffs().len() - 1
    }

    /// The order from its number (1, 2 or 4).
    pub fn from_degree(p: usize) -> Option<Self> {
        match p {
            1 => Some(BjorckOrder::One),
            2 => Some(BjorckOrder::Two),
            4 => Some(BjorckOrder::Four),
            _ => None,
        }
    }
}

/// Initial scaling `s` of the iteration (see the module doc, step 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BjorckScale {
    /// `s = ‖W‖_F` (smooth, safe).
    Frobenius,
    /// `s = √(‖W‖₁‖W‖∞)` (safe, often tighter).
    OneInf,
    /// `s = √(rows·cols)` (w1ot's constant; safe only if the entries are small).
    Dims,
}

/// Settings of a Björck orthonormalisation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bjorck {
    /// Polynomial order.
    pub order: BjorckOrder,
    /// Number of iterations K.
    pub iters: usize,
    /// Initial scaling.
    pub scale: BjorckScale,
}

impl Bjorck {
    /// w1ot's training setting: order 2, 20 iterations (with the safe Frobenius scale).
    pub fn training() -> Self {
        Bjorck {
            order: BjorckOrder::Two,
            iters: 20,
            scale: BjorckScale::Frobenius,
        }
    }

    /// w1ot's export setting: order 4, 100 iterations.
    pub fn export() -> Self {
        Bjorck {
            order: BjorckOrder::Four,
            iters: 100,
            scale: BjorckScale::Frobenius,
        }
    }
}

impl Default for Bjorck {
    fn default() -> Self {
        Self::training()
    }
}

/// Workspace of [`Bjorck::forward`] / [`Bjorck::backward`] for one matrix shape, sized once.
#[derive(Clone, Debug)]
pub struct BjorckWork<T> {
    /// The weight's shape and its tall form's.
    tall: Tall,
    cfg: Bjorck,
    /// Scale s of the last forward.
    s: T,
    /// OneInf argmax column j* and row i* (tall orientation), and the sums a, b.
    one_inf: (usize, usize, T, T),
    /// R (tall copy of W).
    r: Mat<T>,
    /// Iterates X_0..X_K (tall); with `record = false` only the first two are used as ping-pong.
    xs: Vec<Mat<T>>,
    /// Horner matrices H_0..H_p (m×m).
    h: Vec<Mat<T>>,
    s_mat: Mat<T>,
    sbar: Mat<T>,
    hbar: Mat<T>,
    hbar2: Mat<T>,
    xbar: Mat<T>,
    xbar2: Mat<T>,
    recorded: bool,
}

impl<T: Real> BjorckWork<T> {
    /// Workspace for a `rows × cols` weight under settings `cfg`.
    pub fn new(rows: usize, cols: usize, cfg: Bjorck) -> Self {
        let tall = Tall::of(rows, cols);
        let Tall { n, m, .. } = tall;
        let p = cfg.order.degree();
        BjorckWork {
            tall,
            cfg,
            s: T::ONE,
            one_inf: (0, 0, T::ZERO, T::ZERO),
            r: Mat::zeros(n, m),
            xs: (0..cfg.iters.max(1) + 1)
                .map(|_| Mat::zeros(n, m))
                .collect(),
            h: (0..p + 1).map(|_| Mat::zeros(m, m)).collect(),
            s_mat: Mat::zeros(m, m),
            sbar: Mat::zeros(m, m),
            hbar: Mat::zeros(m, m),
            hbar2: Mat::zeros(m, m),
            xbar: Mat::zeros(n, m),
            xbar2: Mat::zeros(n, m),
            recorded: false,
        }
    }

    /// The settings this workspace was sized for.
    pub fn config(&self) -> Bjorck {
        self.cfg
    }
}

/// `C ← op(A)·op(B) + β·C` on whole matrices (every product of the iteration has α = 1).
fn mul<T: Real>(a: &Mat<T>, op_a: Op, b: &Mat<T>, op_b: Op, beta: T, c: &mut Mat<T>) {
    gemm(T::ONE, a.view(), op_a, b.view(), op_b, beta, c.view_mut());
}

/// Step 2's polynomial of one iterate, for the forward and again for the backward: `S = XᵀX` into `s`,
/// then Horner, `H_p = c_p I`, `H_j = c_j I + S H_{j+1}` into `h` (`P = H_0`).
fn polynomial<T: Real>(c: &[f64], x: &Mat<T>, s: &mut Mat<T>, h: &mut [Mat<T>]) {
    mul(x, Op::T, x, Op::N, T::ZERO, s);
    let p = c.len() - 1;
    let m = s.rows();
    h[p].fill(T::ZERO);
    for i in 0..m {
        h[p].set(i, i, T::from_f64(c[p]));
    }
    for j in (0..p).rev() {
        let (lo, hi) = h.split_at_mut(j + 1);
        mul(s, Op::N, &hi[0], Op::N, T::ZERO, &mut lo[j]);
        let cj = T::from_f64(c[j]);
        for i in 0..m {
            let v = lo[j].get(i, i) + cj;
            lo[j].set(i, i, v);
        }
    }
}

impl Bjorck {
    /// `Q ← Björck(W)` (module doc, steps 1–3). `q` has the shape of `w`. With `record`, the iterates
    /// are kept for [`Bjorck::backward`].
    pub fn forward<T: Real>(
        &self,
        w: MatRef<'_, T>,
        mut q: MatMut<'_, T>,
        ws: &mut BjorckWork<T>,
        record: bool,
    ) {
        ws.tall.check("bjorck", "workspace", (w.rows(), w.cols()));
        ws.tall.check("bjorck", "output", (q.rows(), q.cols()));
        assert!(
            ws.cfg.order == self.order && ws.cfg.iters == self.iters,
            "bjorck: workspace settings"
        );
        let Tall { n, m, .. } = ws.tall;
        to_tall(w, &mut ws.r);
        // step 1: scale
        let s = match self.scale {
            BjorckScale::Frobenius => ops::norm2(ws.r.as_slice()),
            BjorckScale::OneInf => {
                let (mut jstar, mut a) = (0, T::ZERO);
                for j in 0..m {
                    let cs = (0..n).fold(T::ZERO, |acc, i| acc + ws.r.get(i, j).abs());
                    if cs > a {
                        a = cs;
                        jstar = j;
                    }
                }
                let (mut istar, mut b) = (0, T::ZERO);
                for i in 0..n {
                    let rs = ws.r.row(i).iter().fold(T::ZERO, |acc, &v| acc + v.abs());
                    if rs > b {
                        b = rs;
                        istar = i;
                    }
                }
                ws.one_inf = (jstar, istar, a, b);
                (a * b).sqrt()
            }
            BjorckScale::Dims => T::from_usize(n * m).sqrt(),
        };
        let s = if s > T::ZERO { s } else { T::ONE };
        ws.s = s;
        let inv_s = T::ONE / s;
        for (x, &r) in ws.xs[0].as_mut_slice().iter_mut().zip(ws.r.as_slice()) {
            *x = r * inv_s;
        }
        // step 2
        let c = self.order.coeffs();
        for k in 0..self.iters {
            let (src, dst) = if record {
                (k, k + 1)
            } else {
                (k % 2, 1 - k % 2)
            };
            let (xa, xb) = pair_mut(&mut ws.xs, src, dst);
            polynomial(c, xa, &mut ws.s_mat, &mut ws.h);
            mul(xa, Op::N, &ws.h[0], Op::N, T::ZERO, xb);
        }
        ws.recorded = record;
        // step 3
        let last = if record { self.iters } else { self.iters % 2 };
        from_tall(&ws.xs[last], &mut q);
    }

    /// `W̄ += ∂L/∂W` given `Q̄ = ∂L/∂Q` (module doc, steps 4–8). Needs the last [`Bjorck::forward`] on
    /// this workspace to have run with `record = true`. `w_bar` is row-major like `w`.
    pub fn backward<T: Real>(&self, q_bar: MatRef<'_, T>, w_bar: &mut [T], ws: &mut BjorckWork<T>) {
        assert!(ws.recorded, "bjorck: backward needs a recorded forward");
        ws.tall.check("bjorck", "Q̄", (q_bar.rows(), q_bar.cols()));
        assert_eq!(w_bar.len(), ws.tall.rows * ws.tall.cols, "bjorck: W̄ length");
        let Tall { n, m, .. } = ws.tall;
        to_tall(q_bar, &mut ws.xbar);
        let c = self.order.coeffs();
        let p = c.len() - 1;
        for k in (0..self.iters).rev() {
            let xk = &ws.xs[k];
            polynomial(c, xk, &mut ws.s_mat, &mut ws.h);
            // step 4: P̄ = X_kᵀ X̄ (into hbar = H̄_0), X̄_k = X̄ Pᵀ (into xbar2)
            mul(xk, Op::T, &ws.xbar, Op::N, T::ZERO, &mut ws.hbar);
            mul(&ws.xbar, Op::N, &ws.h[0], Op::T, T::ZERO, &mut ws.xbar2);
            // step 5: Horner in reverse
            ws.sbar.fill(T::ZERO);
            for j in 0..p {
                mul(&ws.hbar, Op::N, &ws.h[j + 1], Op::T, T::ONE, &mut ws.sbar);
                if j + 1 < p {
                    mul(&ws.s_mat, Op::T, &ws.hbar, Op::N, T::ZERO, &mut ws.hbar2);
                    core::mem::swap(&mut ws.hbar, &mut ws.hbar2);
                }
            }
            // step 6: X̄_k += X_k (S̄ + S̄ᵀ)
            mul(xk, Op::N, &ws.sbar, Op::N, T::ONE, &mut ws.xbar2);
            mul(xk, Op::N, &ws.sbar, Op::T, T::ONE, &mut ws.xbar2);
            core::mem::swap(&mut ws.xbar, &mut ws.xbar2);
        }
        // step 7: through the scale, R̄ = X̄₀/s − (⟨X̄₀, R⟩/s²)∇s (into xbar2)
        let s = ws.s;
        let inv_s = T::ONE / s;
        let dot = ops::dot(ws.xbar.as_slice(), ws.r.as_slice());
        let coef = dot * inv_s * inv_s;
        for (o, &xb) in ws.xbar2.as_mut_slice().iter_mut().zip(ws.xbar.as_slice()) {
            *o = xb * inv_s;
        }
        match self.scale {
            BjorckScale::Frobenius => {
                // ∇s = R / s
                for (o, &r) in ws.xbar2.as_mut_slice().iter_mut().zip(ws.r.as_slice()) {
                    *o -= coef * r * inv_s;
                }
            }
            BjorckScale::OneInf => {
                let (jstar, istar, a, b) = ws.one_inf;
                let half_inv_s = T::HALF * inv_s;
                for i in 0..n {
                    let v = ws.r.get(i, jstar).sign() * b * half_inv_s;
                    let o = ws.xbar2.get(i, jstar) - coef * v;
                    ws.xbar2.set(i, jstar, o);
                }
                for j in 0..m {
                    let v = ws.r.get(istar, j).sign() * a * half_inv_s;
                    let o = ws.xbar2.get(istar, j) - coef * v;
                    ws.xbar2.set(istar, j, o);
                }
            }
            BjorckScale::Dims => {}
        }
        // step 8
        add_from_tall(&ws.xbar2, ws.tall.rows, ws.tall.cols, w_bar);
    }
}

/// Two distinct elements of a slice, the first shared and the second mutable.
fn pair_mut<U>(v: &mut [U], a: usize, b: usize) -> (&U, &mut U) {
    assert_ne!(a, b);
    if a < b {
        let (lo, hi) = v.split_at_mut(b);
        (&lo[a], &mut hi[0])
    } else {
        let (lo, hi) = v.split_at_mut(a);
        (&hi[0], &mut lo[b])
    }
}
