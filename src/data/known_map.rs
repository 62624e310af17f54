//! Known-map pairs for L2-UVP (SPEC §4, §5): a source μ, a convex potential ψ* in closed form, and the
//! target ν = ∇ψ*#μ, so the optimal map T* = ∇ψ* is known exactly (Brenier: the gradient of a convex
//! function is the unique W2-optimal map from μ to its push-forward).
//!
//! # The instance
//! - μ: uniform mixture of `components` Gaussians `N(m_c, s² I_d)` (means `m_c ~ N(0, 2² I)`, s = 0.5).
//! - ψ*(x) = ½ xᵀAx + bᵀx + Σ_{k<K} c_k softplus(w_kᵀx + a_k), with
//!   `A = ½ I + GGᵀ/(2d)` (G a d×d standard normal matrix, so A ⪰ ½ I), `b ~ N(0, ½² I)`,
//!   `w_k ~ N(0, (4/d) I)` (‖w_k‖ ≈ 2), `a_k ~ N(0, 1)`, `c_k ~ U(½, 3/2)`, K = max(d, 4).
//! - T*(x) = ∇ψ*(x) = Ax + b + Σ_k c_k σ(w_kᵀx + a_k) w_k (σ the logistic function, softplus' = σ).
//!   Hessian `A + Σ_k c_k σ(1 − σ) w_k w_kᵀ ⪰ ½ I`: ψ* is ½-strongly convex, so T* is strongly monotone,
//!   `⟨T*(x) − T*(x'), x − x'⟩ ≥ ½‖x − x'‖²`.
//!
//! Batched evaluation: `Z = X Wᵀ` (n × K), `S = σ(Z + 1aᵀ) ⊙ 1cᵀ`, `T*(X) = X A + 1bᵀ + S W` (A is symmetric),
//! three gemms in f64.
//!
//! # Streams
//! The instance and the source sample are drawn from stream `DATA` of the seed (in that order); the
//! target sample maps an independent source draw from stream `DATA_2`.

use crate::linalg::ops::{sigmoid as logistic, softplus};
use crate::linalg::{gemm, Mat, MatRef, Op, Real};
use crate::random::{streams, Stream};
use crate::{Error, Result};

/// A source mixture and a closed-form convex potential whose gradient is the optimal map (module doc).
#[derive(Clone, Debug)]
pub struct KnownMap {
    means: Mat<f64>,
    std: f64,
    a: Mat<f64>,
    b: Vec<f64>,
    w: Mat<f64>,
    offsets: Vec<f64>,
    c: Vec<f64>,
}

/// A sample pair with its known optimal map.
#[derive(Clone, Debug)]
pub struct KnownMapPair<T> {
    /// Source sample, drawn from μ.
    pub source: Mat<T>,
    /// Target sample: T* applied to an independent draw from μ.
    pub target: Mat<T>,
    /// The instance (evaluates T* on any points).
    pub map: KnownMap,
}

impl KnownMap {
    /// A random instance in dimension `d` with `components` mixture components (see the module doc),
    /// drawn from `rng`.
    pub fn random(d: usize, components: usize, rng: &mut Stream) -> Self {
        let means = Mat::from_fn(components, d, |_, _| 2.0 * rng.normal_f64());
        let g = Mat::from_fn(d, d, |_, _| rng.normal_f64());
        let mut a = Mat::zeros(d, d);
        gemm(
            1.0 / (2.0 * d as f64),
            g.view(),
            Op::N,
            g.view(),
            Op::T,
            0.0,
            a.view_mut(),
        );
        for i in 0..d {
            a.set(i, i, a.get(i, i) + 0.5);
        }
        let b = (0..d).map(|_| 0.5 * rng.normal_f64()).collect();
        let k = d.max(4);
        let wscale = (4.0 / d as f64).sqrt();
        let w = Mat::from_fn(k, d, |_, _| wscale * rng.normal_f64());
        let offsets = (0..k).map(|_| rng.normal_f64()).collect();
        let c = (0..k).map(|_| 0.5 + rng.uniform_f64()).collect();
        KnownMap {
            means,
            std: 0.5,
            a,
            b,
            w,
            offsets,
            c,
        }
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.b.len()
    }

    /// `n` draws from the source mixture μ (component uniform, then `m_c + s·N(0, I)`).
    pub fn sample_source<T: Real>(&self, n: usize, rng: &mut Stream) -> Mat<T> {
        let d = self.dim();
        let mut x = Mat::zeros(n, d);
        for i in 0..n {
            let comp = rng.below(self.means.rows());
            for j in 0..d {
                let v = self.means.get(comp, j) + self.std * rng.normal_f64();
                x.set(i, j, T::from_f64(v));
            }
        }
        x
    }

    /// ψ*(x) for one point (f64).
    pub fn potential(&self, x: &[f64]) -> f64 {
        let d = self.dim();
        assert_eq!(x.len(), d, "potential: wrong dimension");
        let mut v = 0.0;
        for i in 0..d {
            let ax: f64 = self.a.row(i).iter().zip(x).map(|(p, q)| p * q).sum();
            v += 0.5 * x[i] * ax + self.b[i] * x[i];
        }
        for k in 0..self.w.rows() {
            let z: f64 =
                self.w.row(k).iter().zip(x).map(|(p, q)| p * q).sum::<f64>() + self.offsets[k];
            v += self.c[k] * softplus(z);
        }
        v
    }

    /// T*(x) = ∇ψ*(x) for every row of `x` (computed in f64, returned in `T`). Panics on a wrong width.
    pub fn map<T: Real>(&self, x: MatRef<'_, T>) -> Mat<T> {
        assert_eq!(x.cols(), self.dim(), "known map: wrong dimension");
        let xf = Mat::from_fn(x.rows(), x.cols(), |i, j| x.get(i, j).to_f64());
        let n = x.rows();
        let k = self.w.rows();
        // Z = X Wᵀ, then S = c ⊙ σ(Z + a).
        let mut s = Mat::zeros(n, k);
        gemm(
            1.0,
            xf.view(),
            Op::N,
            self.w.view(),
            Op::T,
            0.0,
            s.view_mut(),
        );
        for i in 0..n {
            for (kk, v) in s.row_mut(i).iter_mut().enumerate() {
                *v = self.c[kk] * logistic(*v + self.offsets[kk]);
            }
        }
        // Y = X A + S W + 1bᵀ.
        let mut y = Mat::zeros(n, self.dim());
        gemm(
            1.0,
            xf.view(),
            Op::N,
            self.a.view(),
            Op::N,
            0.0,
            y.view_mut(),
        );
        gemm(
            1.0,
            s.view(),
            Op::N,
            self.w.view(),
            Op::N,
            1.0,
            y.view_mut(),
        );
        Mat::from_fn(n, self.dim(), |i, j| T::from_f64(y.get(i, j) + self.b[j]))
    }
}

/// A known-map pair in dimension `d`: `n_source` source points, `n_target` target points, the instance.
/// Errors if d = 0, a size is 0 or `components` = 0.
pub fn known_map_pair<T: Real>(
    n_source: usize,
    n_target: usize,
    d: usize,
    components: usize,
    seed: u64,
) -> Result<KnownMapPair<T>> {
    if d == 0 || n_source == 0 || n_target == 0 || components == 0 {
        return Err(Error::Usage(format!(
            "known-map pair needs positive sizes (n_source {n_source}, n_target {n_target}, d {d}, \
             components {components})"
        )));
    }
    let mut rng = Stream::new(seed, streams::DATA);
    let map = KnownMap::random(d, components, &mut rng);
    let source = map.sample_source(n_source, &mut rng);
    let mut rng2 = Stream::new(seed, streams::DATA_2);
    let pre = map.sample_source::<f64>(n_target, &mut rng2);
    let target = map.map::<f64>(pre.view()).cast();
    Ok(KnownMapPair {
        source,
        target,
        map,
    })
}
