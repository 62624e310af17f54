//! The closed-form W2 map between Gaussians, and the initialisation of the W2 potentials at it (issue 13).
//!
//! # The map
//! For μ = N(m_μ, Σ_μ), ν = N(m_ν, Σ_ν) with Σ_μ ≻ 0 the optimal map is affine, `T(x) = m_ν + A(x − m_μ)`,
//! ```text
//! A = Σ_μ^{-1/2} (Σ_μ^{1/2} Σ_ν Σ_μ^{1/2})^{1/2} Σ_μ^{-1/2},
//! ```
//! the unique symmetric positive-definite A with `A Σ_μ A = Σ_ν` (check: with `C = Σ_μ^{1/2} Σ_ν Σ_μ^{1/2}`,
//! `A Σ_μ A = Σ_μ^{-1/2} C^{1/2} C^{1/2} Σ_μ^{-1/2} = Σ_ν`). Its inverse, the map from ν back to μ, is
//! `T⁻¹(y) = m_μ + A⁻¹(y − m_ν)`, `A⁻¹ = Σ_μ^{1/2} C^{-1/2} Σ_μ^{1/2}`. Symmetric square roots come from the
//! eigen-decomposition `S = U diag(λ) Uᵀ`: `S^{±1/2} = U diag(λ^{±1/2}) Uᵀ` (nalgebra's `SymmetricEigen`,
//! eigenvalues clipped at 0 before the root, and at `1e-12 · λ_max` before an inverse root).
//!
//! # From samples
//! Means and the unbiased covariances `S = (X − 1mᵀ)ᵀ(X − 1mᵀ)/(n − 1)` in f64, regularised
//! `Σ = S + ε I`, `ε = κ · tr(S)/d` with κ = 1e-6 when n > d and κ = 1e-2 when n ≤ d (then S is singular,
//! and without the ridge `Σ_μ^{-1/2}` would blow up along directions the sample does not span).
//!
//! # Initialising the potentials ([`init_potentials`])
//! In monge's minimax (module [`crate::ot::w2`]) the map is `∇g` and f is the potential on the target
//! side, whose gradient is the inverse map at the optimum (`∇f = (∇g)⁻¹`, f and g convex conjugates).
//! Both potentials need the quadratic path ([`crate::nn::icnn::Icnn::with_quadratic`]):
//! g's path is set to `M = A`, `β = m_ν − A m_μ` (so `∇q_g(x) = Ax + m_ν − A m_μ = T(x)`), f's to
//! `M = A⁻¹`, `β = m_μ − A⁻¹ m_ν`, and in both the ICNN's output layer (W_L, A_L, b_L) is set to 0, so the
//! ICNN contributes nothing at the start and `∇g = T`, `∇f = T⁻¹` exactly (up to the low-rank
//! approximation when the path's rank is below d). The inner layers keep their random weights; the
//! gradient reaches them once W_L has moved away from 0.

use crate::linalg::{Mat, MatRef, Real};
use crate::nn::icnn::Icnn;
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// The affine W2 map between two Gaussians (module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMap {
    /// Source mean m_μ.
    pub mean_source: Vec<f64>,
    /// Target mean m_ν.
    pub mean_target: Vec<f64>,
    /// A (d × d, symmetric positive definite).
    pub a: DMatrix<f64>,
    /// A⁻¹.
    pub a_inv: DMatrix<f64>,
}

/// `S^{p}` for p = ½ or −½ of a symmetric positive semi-definite S (module doc).
fn sym_pow(s: &DMatrix<f64>, p: f64) -> DMatrix<f64> {
    let e = SymmetricEigen::new(s.clone());
    let lmax = e.eigenvalues.iter().fold(0.0f64, |m, &v| m.max(v));
    let floor = if p < 0.0 { 1e-12 * lmax } else { 0.0 };
    let d = DVector::from_iterator(
        e.eigenvalues.len(),
        e.eigenvalues.iter().map(|&v| v.max(floor).powf(p)),
    );
    let us = &e.eigenvectors * DMatrix::from_diagonal(&d);
    let r = us * e.eigenvectors.transpose();
    (&r + r.transpose()) * 0.5
}

/// Mean and regularised covariance of the rows of `x` (module doc).
fn moments<T: Real>(x: MatRef<'_, T>) -> (Vec<f64>, DMatrix<f64>) {
    let (n, d) = (x.rows(), x.cols());
    let mut m = vec![0.0; d];
    for i in 0..n {
        for (mj, &v) in m.iter_mut().zip(x.row(i)) {
            *mj += v.to_f64();
        }
    }
    for v in &mut m {
        *v /= n as f64;
    }
    let c = DMatrix::from_fn(n, d, |i, j| x.get(i, j).to_f64() - m[j]);
    let mut s = c.transpose() * &c / ((n.max(2) - 1) as f64);
    let kappa = if n > d { 1e-6 } else { 1e-2 };
    let eps = kappa * (s.trace() / d as f64).max(f64::MIN_POSITIVE);
    for j in 0..d {
        s[(j, j)] += eps;
    }
    (m, s)
}

impl GaussianMap {
    /// The map between N(m_μ, Σ_μ) and N(m_ν, Σ_ν) (covariances symmetric positive definite, d × d).
    pub fn from_moments(
        mean_source: Vec<f64>,
        cov_source: &DMatrix<f64>,
        mean_target: Vec<f64>,
        cov_target: &DMatrix<f64>,
    ) -> Self {
        let sq = sym_pow(cov_source, 0.5);
        let isq = sym_pow(cov_source, -0.5);
        let c = &sq * cov_target * &sq;
        let c = (&c + c.transpose()) * 0.5;
        let a = &isq * sym_pow(&c, 0.5) * &isq;
        let a_inv = &sq * sym_pow(&c, -0.5) * &sq;
        GaussianMap {
            mean_source,
            mean_target,
            a: (&a + a.transpose()) * 0.5,
            a_inv: (&a_inv + a_inv.transpose()) * 0.5,
        }
    }

    /// The map between the Gaussians with the samples' means and (regularised) covariances.
    pub fn from_samples<T: Real>(source: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<Self> {
        if source.rows() < 2 || target.rows() < 2 {
            return Err(Error::data(
                if source.rows() < 2 {
                    "source set"
                } else {
                    "target set"
                },
                None,
                None,
                "the Gaussian initialisation needs at least 2 samples",
            ));
        }
        if source.cols() != target.cols() || source.cols() == 0 {
            return Err(Error::Shape(format!(
                "source has {} features, target has {}",
                source.cols(),
                target.cols()
            )));
        }
        let (ms, ss) = moments(source);
        let (mt, st) = moments(target);
        Ok(Self::from_moments(ms, &ss, mt, &st))
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.mean_source.len()
    }

    /// `T(x) = m_ν + A(x − m_μ)` for every row of `x`.
    pub fn transport<T: Real>(&self, x: MatRef<'_, T>) -> Mat<T> {
        affine(x, &self.a, &self.mean_source, &self.mean_target)
    }

    /// `T⁻¹(y) = m_μ + A⁻¹(y − m_ν)` for every row of `y`.
    pub fn inverse<T: Real>(&self, y: MatRef<'_, T>) -> Mat<T> {
        affine(y, &self.a_inv, &self.mean_target, &self.mean_source)
    }

    /// The linear term of ∇q for `x ↦ to + M(x − from)`: `β = to − M from`.
    fn beta(m: &DMatrix<f64>, from: &[f64], to: &[f64]) -> Vec<f64> {
        let mf = m * DVector::from_column_slice(from);
        (0..from.len()).map(|j| to[j] - mf[j]).collect()
    }
}

fn affine<T: Real>(x: MatRef<'_, T>, m: &DMatrix<f64>, from: &[f64], to: &[f64]) -> Mat<T> {
    let d = from.len();
    assert_eq!(x.cols(), d, "Gaussian map: input dimension");
    let mut out = Mat::zeros(x.rows(), d);
    for i in 0..x.rows() {
        let xr = x.row(i);
        for j in 0..d {
            let mut v = to[j];
            for k in 0..d {
                v += m[(j, k)] * (xr[k].to_f64() - from[k]);
            }
            out.set(i, j, T::from_f64(v));
        }
    }
    out
}

/// Sets the ICNN's output layer (W_L, A_L, b_L) to 0, so that the network contributes nothing.
pub fn silence_icnn<T: Real>(net: &mut Icnn<T>) {
    let l = net.hidden().len();
    let (rw, _, _) = net.w_range(l);
    let (ra, _) = net.a_range(l);
    let rb = net.b_range(l);
    let p = net.params_mut();
    for k in rw.chain(ra).chain(rb) {
        p[k] = T::ZERO;
    }
}

/// Starts g at `∇g = T` and f at `∇f = T⁻¹` (module doc). Both need the quadratic path; returns the
/// larger Frobenius error of the two low-rank representations (0 up to rounding when the rank is d).
pub fn init_potentials<T: Real>(
    map: &GaussianMap,
    f: &mut Icnn<T>,
    g: &mut Icnn<T>,
) -> Result<f64> {
    let (qf, qg) = match (f.quadratic().copied(), g.quadratic().copied()) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(Error::Usage(
                "the Gaussian initialisation needs potentials with the quadratic path".into(),
            ))
        }
    };
    let d = map.dim();
    if f.dim() != d || g.dim() != d {
        return Err(Error::Shape(format!(
            "Gaussian map of dimension {d}, potentials of dimension {}",
            g.dim()
        )));
    }
    let row_major = |m: &DMatrix<f64>| -> Vec<f64> {
        let mut v = Vec::with_capacity(d * d);
        for i in 0..d {
            for j in 0..d {
                v.push(m[(i, j)]);
            }
        }
        v
    };
    let bg = GaussianMap::beta(&map.a, &map.mean_source, &map.mean_target);
    let bf = GaussianMap::beta(&map.a_inv, &map.mean_target, &map.mean_source);
    let eg = qg.set_from_matrix(g.params_mut(), &row_major(&map.a), &bg);
    let ef = qf.set_from_matrix(f.params_mut(), &row_major(&map.a_inv), &bf);
    silence_icnn(g);
    silence_icnn(f);
    Ok(eg.max(ef))
}
