//! Principal component analysis of the rows of a matrix: exact for small problems, randomized subspace
//! iteration on monge's own gemm for large ones.
//!
//! # Model
//! Rows x_1..x_n ∈ ℝ^d, mean `μ = (1/n) Σ x_i`, centred matrix `X_c = X − 1μᵀ = U Σ Vᵀ` (thin SVD,
//! σ_1 ≥ σ_2 ≥ … ≥ 0). The K principal axes are the first K right singular vectors v_1..v_K (the rows of
//! [`Pca::components`], each with its largest-magnitude entry positive, so results are deterministic),
//! the variance along v_k is `σ_k²/n` (population convention) out of a total `‖X_c‖_F²/n`, and
//! - projection: `z = V_Kᵀ (x − μ)` ([`Pca::project`]);
//! - reconstruction: `x̂ = μ + V_K z` ([`Pca::reconstruct`]), the best rank-K affine approximation of
//!   the fitted rows (Eckart–Young).
//!
//! Everything is computed in f64 whatever the input type; X is read in blocks of [`BLOCK`] rows, centred
//! and widened per block, so the memory is O(BLOCK·d + d·l) besides the input (l below).
//!
//! # Exact path (min(n, d) ≤ [`EXACT_MAX`])
//! - d ≤ EXACT_MAX: the Gram matrix `G = X_cᵀ X_c` (d × d, by f64 gemm over the blocks), then nalgebra's
//!   symmetric eigendecomposition `G = V Λ Vᵀ`, `σ_k = √λ_k`. Forming G squares the condition number:
//!   λ_k carries an absolute error of a few `ε·σ_1²`, so σ_k a relative error of about `ε·(σ_1/σ_k)²`
//!   (negligible for the leading components PCA is used for).
//! - else (n ≤ EXACT_MAX < d): nalgebra's SVD of X_c itself (n × d). Axes past the rank (K > n) are
//!   completed to an orthonormal set from the unit basis, with σ = 0.
//!
//! # Randomized path (HMT 2011, Alg. 4.4, on the row space)
//! With `l = min(K + p, d)` (oversampling p, default 10):
//! 1. `V ← orth(Ω)`, Ω d × l uniform on [−1, 1) from a seeded xoshiro256++ (any start with a component in
//!    the top-K subspace converges; step 4 checks it did);
//! 2. `W = X_cᵀ (X_c V)` (two gemms per block of rows, no n × l matrix is kept);
//! 3. Rayleigh–Ritz: `H = Vᵀ W = S Θ Sᵀ` (l × l, nalgebra), Ritz vectors `Ṽ = V S`, values θ_k;
//! 4. **error check**: `r_k = ‖G ṽ_k − θ_k ṽ_k‖ / θ_1` with `G ṽ_k = (W S)_k` (no extra pass). For a
//!    symmetric G and a unit ṽ_k, some eigenvalue of G lies within `‖G ṽ_k − θ_k ṽ_k‖` of θ_k (the
//!    residual bound), so `|σ_k² − θ_k| ≤ r_k·θ_1` once the Ritz values are matched to the top of the
//!    spectrum; stop when `max_{k ≤ K} r_k ≤ tol` (default 1e-10), else `V ← orth(W)` (nalgebra QR) and
//!    go to 2, at most `max_iter` times. The subspace converges at the rate `(σ_{l+1}/σ_K)²` per
//!    iteration; [`Pca::residuals`] and [`Pca::converged`] report the check.
//!
//! `orth` is nalgebra's Householder QR (thin Q). Cost per iteration: `4·n·d·l` flops in monge's gemm.

use super::{gemm, Mat, MatMut, MatRef, Op, Real};
use crate::{Error, Result};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The exact path runs when min(n, d) is at most this.
pub const EXACT_MAX: usize = 256;

/// Rows of X widened and centred at a time.
pub const BLOCK: usize = 256;

/// How [`Pca::fit`] computes the axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcaMethod {
    /// Exact when min(n, d) ≤ [`EXACT_MAX`], else randomized.
    Auto,
    /// Gram eigendecomposition (d ≤ n) or SVD of the centred matrix (module doc).
    Exact,
    /// Randomized subspace iteration with the residual check (module doc).
    Randomized,
}

/// Options of [`Pca::fit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PcaConfig {
    /// Which path.
    pub method: PcaMethod,
    /// Oversampling p of the randomized path (l = K + p).
    pub oversampling: usize,
    /// Stop when every relative Ritz residual of the first K axes is at most this.
    pub tol: f64,
    /// Iteration cap of the randomized path.
    pub max_iter: usize,
    /// Seed of the randomized start.
    pub seed: u64,
}

impl Default for PcaConfig {
    fn default() -> Self {
        PcaConfig {
            method: PcaMethod::Auto,
            oversampling: 10,
            tol: 1e-10,
            max_iter: 100,
            seed: 0,
        }
    }
}

/// A fitted PCA (module doc): mean, K axes, their singular values, and the check of the fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    mean: Vec<f64>,
    /// K × d, row k = v_k.
    components: Mat<f64>,
    singular_values: Vec<f64>,
    n: usize,
    total: f64,
    residuals: Vec<f64>,
    converged: bool,
    method: PcaMethod,
}

/// Rows `r0..r1` of `rows`, minus `mean`, in f64 into `out` ((r1 − r0) × d).
fn centred_block<T: Real>(rows: &[&[T]], mean: &[f64], r0: usize, r1: usize, out: &mut Mat<f64>) {
    out.resize(r1 - r0, mean.len());
    for (i, r) in rows[r0..r1].iter().enumerate() {
        for ((o, &v), &m) in out.row_mut(i).iter_mut().zip(r.iter()).zip(mean) {
            *o = v.to_f64() - m;
        }
    }
}

/// `out ← X_cᵀ X_c V` (d × l) over the blocks (module doc, step 2); with `v` = None, `X_cᵀ X_c`.
fn gram_apply<T: Real>(rows: &[&[T]], mean: &[f64], v: Option<&Mat<f64>>, out: &mut Mat<f64>) {
    let d = mean.len();
    let mut xb = Mat::zeros(0, d);
    let mut p = Mat::zeros(0, 0);
    out.fill(0.0);
    for r0 in (0..rows.len()).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(rows.len());
        centred_block(rows, mean, r0, r1, &mut xb);
        match v {
            Some(v) => {
                p.resize(r1 - r0, v.cols());
                gemm(1.0, xb.view(), Op::N, v.view(), Op::N, 0.0, p.view_mut());
                gemm(1.0, xb.view(), Op::T, p.view(), Op::N, 1.0, out.view_mut());
            }
            None => gemm(1.0, xb.view(), Op::T, xb.view(), Op::N, 1.0, out.view_mut()),
        }
    }
}

fn to_na(m: &Mat<f64>) -> DMatrix<f64> {
    DMatrix::from_row_slice(m.rows(), m.cols(), m.as_slice())
}

fn from_na(m: &DMatrix<f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// Thin Q of the Householder QR of `m` (rows ≥ cols).
fn orth(m: &Mat<f64>) -> Mat<f64> {
    from_na(&to_na(m).qr().q())
}

/// Eigenpairs of the symmetric `h`, eigenvalues descending, eigenvectors as columns.
fn sym_eigen(h: &Mat<f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = h.rows();
    let e = nalgebra::SymmetricEigen::try_new(to_na(h), f64::EPSILON, 1000 * (n + 1)).ok_or_else(
        || Error::NotAvailable("PCA: the eigendecomposition did not converge".into()),
    )?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| e.eigenvalues[b].total_cmp(&e.eigenvalues[a]));
    let vals = order.iter().map(|&k| e.eigenvalues[k]).collect();
    let vecs = Mat::from_fn(n, n, |i, j| e.eigenvectors[(i, order[j])]);
    Ok((vals, vecs))
}

/// Appends unit basis vectors, Gram–Schmidt-orthogonalised against the rows already in `axes`, until it
/// has `k` rows (axes past the rank of the data).
fn complete(axes: &mut Vec<Vec<f64>>, k: usize, d: usize) {
    let mut j = 0;
    while axes.len() < k && j < d {
        let mut v = vec![0.0; d];
        v[j] = 1.0;
        for _ in 0..2 {
            for a in axes.iter() {
                let p: f64 = a.iter().zip(&v).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(a).for_each(|(x, y)| *x -= p * y);
            }
        }
        let nrm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nrm > 0.5 {
            v.iter_mut().for_each(|x| *x /= nrm);
            axes.push(v);
        }
        j += 1;
    }
}

impl Pca {
    /// Fits K axes to the rows of `x` (n × d, n ≥ 1, 1 ≤ K ≤ d). Errors on K out of range, no rows,
    /// non-finite values or invalid options; a randomized run that hits `max_iter` is not an error (see
    /// [`Self::converged`]).
    pub fn fit<T: Real>(x: MatRef<'_, T>, k: usize, cfg: &PcaConfig) -> Result<Pca> {
        let rows: Vec<&[T]> = (0..x.rows()).map(|i| x.row(i)).collect();
        Self::fit_rows(&rows, x.cols(), k, cfg)
    }

    /// [`Self::fit`] on row slices (each of length d), e.g. a subsample of several sets without copying.
    pub fn fit_rows<T: Real>(rows: &[&[T]], d: usize, k: usize, cfg: &PcaConfig) -> Result<Pca> {
        let n = rows.len();
        if n == 0 || d == 0 {
            return Err(Error::Shape(format!("PCA of {n} rows × {d} columns")));
        }
        if k == 0 || k > d {
            return Err(Error::Usage(format!(
                "PCA: the number of components must be in 1..={d}, got {k}"
            )));
        }
        if !(cfg.tol.is_finite() && cfg.tol > 0.0) || cfg.max_iter == 0 {
            return Err(Error::Usage(
                "PCA: tol must be positive and finite, max_iter at least 1".into(),
            ));
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != d {
                return Err(Error::Shape(format!(
                    "PCA: row {} has {} values, expected {d}",
                    i + 1,
                    r.len()
                )));
            }
            if let Some(j) = r.iter().position(|v| !v.is_finite()) {
                return Err(Error::data(
                    "PCA input",
                    Some(i + 1),
                    Some(j + 1),
                    "not finite",
                ));
            }
        }
        let mut mean = vec![0.0; d];
        for r in rows {
            for (m, &v) in mean.iter_mut().zip(r.iter()) {
                *m += v.to_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut total = 0.0;
        for r in rows {
            for (&v, &m) in r.iter().zip(&mean) {
                total += (v.to_f64() - m).powi(2);
            }
        }
        let method = match cfg.method {
            PcaMethod::Auto if n.min(d) <= EXACT_MAX => PcaMethod::Exact,
            PcaMethod::Auto => PcaMethod::Randomized,
            m => m,
        };
        let (axes, sv, residuals, converged) = match method {
            PcaMethod::Randomized => Self::randomized(rows, &mean, k, cfg)?,
            _ if d <= n || d <= EXACT_MAX => {
                let mut g = Mat::zeros(d, d);
                gram_apply(rows, &mean, None, &mut g);
                let (vals, vecs) = sym_eigen(&g)?;
                let axes = (0..k)
                    .map(|c| (0..d).map(|j| vecs.get(j, c)).collect())
                    .collect();
                let sv = vals[..k].iter().map(|&l| l.max(0.0).sqrt()).collect();
                (axes, sv, vec![0.0; k], true)
            }
            _ => {
                let mut xc = Mat::zeros(0, d);
                centred_block(rows, &mean, 0, n, &mut xc);
                let svd = nalgebra::SVD::try_new(to_na(&xc), false, true, f64::EPSILON, 0)
                    .filter(|s| s.v_t.is_some())
                    .ok_or_else(|| Error::NotAvailable("PCA: the SVD did not converge".into()))?;
                let vt = svd.v_t.as_ref().expect("v_t requested");
                let r = vt.nrows().min(k);
                let mut axes: Vec<Vec<f64>> = (0..r)
                    .map(|c| (0..d).map(|j| vt[(c, j)]).collect())
                    .collect();
                let mut sv: Vec<f64> = (0..r).map(|c| svd.singular_values[c]).collect();
                complete(&mut axes, k, d);
                sv.resize(k, 0.0);
                (axes, sv, vec![0.0; k], true)
            }
        };
        let mut components = Mat::zeros(k, d);
        for (c, mut a) in axes.into_iter().enumerate() {
            let big = a
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 {
                a.iter_mut().for_each(|x| *x = -*x);
            }
            components.row_mut(c).copy_from_slice(&a);
        }
        Ok(Pca {
            mean,
            components,
            singular_values: sv,
            n,
            total: total / n as f64,
            residuals,
            converged,
            method,
        })
    }

    /// The randomized path (module doc, steps 1–4): (axes, σ, residuals, converged).
    #[allow(clippy::type_complexity)]
    fn randomized<T: Real>(
        rows: &[&[T]],
        mean: &[f64],
        k: usize,
        cfg: &PcaConfig,
    ) -> Result<(Vec<Vec<f64>>, Vec<f64>, Vec<f64>, bool)> {
        let d = mean.len();
        let l = (k + cfg.oversampling).min(d);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
        // uniform on [−1, 1) from the top 53 bits of each word
        let omega = Mat::from_fn(d, l, |_, _| {
            (rng.next_u64() >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
        });
        let mut v = orth(&omega);
        let mut w = Mat::zeros(d, l);
        let mut h = Mat::zeros(l, l);
        let mut ritz = Mat::zeros(d, l);
        let mut gritz = Mat::zeros(d, l);
        let mut residuals = vec![f64::INFINITY; k];
        let mut theta = vec![0.0; l];
        let mut converged = false;
        for _ in 0..cfg.max_iter {
            // 2. W = X_cᵀ X_c V
            gram_apply(rows, mean, Some(&v), &mut w);
            // 3. H = VᵀW = S Θ Sᵀ; Ṽ = V S, GṼ = W S
            gemm(1.0, v.view(), Op::T, w.view(), Op::N, 0.0, h.view_mut());
            // (symmetrised: VᵀGV is symmetric up to rounding)
            for i in 0..l {
                for j in 0..i {
                    let s = 0.5 * (h.get(i, j) + h.get(j, i));
                    h.set(i, j, s);
                    h.set(j, i, s);
                }
            }
            let (vals, s) = sym_eigen(&h)?;
            theta.copy_from_slice(&vals);
            gemm(1.0, v.view(), Op::N, s.view(), Op::N, 0.0, ritz.view_mut());
            gemm(1.0, w.view(), Op::N, s.view(), Op::N, 0.0, gritz.view_mut());
            // 4. r_k = ‖Gṽ_k − θ_k ṽ_k‖ / θ_1
            let scale = theta[0].abs().max(f64::MIN_POSITIVE);
            for (c, r) in residuals.iter_mut().enumerate() {
                let ss: f64 = (0..d)
                    .map(|j| (gritz.get(j, c) - theta[c] * ritz.get(j, c)).powi(2))
                    .sum();
                *r = ss.sqrt() / scale;
            }
            if residuals.iter().all(|&r| r <= cfg.tol) {
                converged = true;
                break;
            }
            v = orth(&w);
        }
        let axes = (0..k)
            .map(|c| (0..d).map(|j| ritz.get(j, c)).collect())
            .collect();
        let sv = theta[..k].iter().map(|&t| t.max(0.0).sqrt()).collect();
        Ok((axes, sv, residuals, converged))
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Number of axes K.
    pub fn n_components(&self) -> usize {
        self.components.rows()
    }

    /// The mean μ of the fitted rows.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The axes: K × d, row k = v_k (orthonormal rows).
    pub fn components(&self) -> &Mat<f64> {
        &self.components
    }

    /// σ_1 ≥ … ≥ σ_K of the centred matrix.
    pub fn singular_values(&self) -> &[f64] {
        &self.singular_values
    }

    /// The variance along each axis, `σ_k²/n`.
    pub fn explained_variance(&self) -> Vec<f64> {
        let n = self.n as f64;
        self.singular_values.iter().map(|s| s * s / n).collect()
    }

    /// The total variance of the fitted rows, `‖X_c‖_F²/n` (the sum over all d axes).
    pub fn total_variance(&self) -> f64 {
        self.total
    }

    /// The relative Ritz residuals r_k of the randomized path (module doc, step 4); 0 on the exact path.
    pub fn residuals(&self) -> &[f64] {
        &self.residuals
    }

    /// Whether every residual met `tol` (always true on the exact path).
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// The path that ran ([`PcaMethod::Exact`] or [`PcaMethod::Randomized`]).
    pub fn method(&self) -> PcaMethod {
        self.method
    }

    /// `out ← (x − μ) V_K` for every row: out is n × K. Errors when x is not n × d.
    pub fn project_into<T: Real>(&self, x: MatRef<'_, T>, out: MatMut<'_, T>) -> Result<()> {
        project_rows(&self.mean, &self.components, x, out)
    }

    /// `(x − μ) V_K` for every row of x (n × d) → n × K.
    pub fn project<T: Real>(&self, x: MatRef<'_, T>) -> Result<Mat<T>> {
        let mut out = Mat::zeros(x.rows(), self.n_components());
        self.project_into(x, out.view_mut())?;
        Ok(out)
    }

    /// `μ + V_K z` for every row of z (n × K) → n × d.
    pub fn reconstruct<T: Real>(&self, z: MatRef<'_, T>) -> Result<Mat<T>> {
        let (d, k) = (self.dim(), self.n_components());
        if z.cols() != k {
            return Err(Error::Shape(format!(
                "PCA reconstruction: {} coordinates per row, K = {k}",
                z.cols()
            )));
        }
        let zf: Mat<f64> = z.to_mat().cast();
        let mut xf = Mat::from_fn(z.rows(), d, |_, j| self.mean[j]);
        gemm(
            1.0,
            zf.view(),
            Op::N,
            self.components.view(),
            Op::N,
            1.0,
            xf.view_mut(),
        );
        Ok(xf.cast())
    }
}

/// `out ← (x − μ) V_K` for every row of x, for any mean μ (length d) and axes (K × d, row k = v_k):
/// `out[i, k] = Σ_j (x_ij − μ_j) v_kj` in f64 by blocks of [`BLOCK`] rows, rounded once to T. The
/// one implementation of the projection, for a fitted [`Pca`] and for a basis read back from a model file
/// (`ot::latent`). Errors when x is not n × d or out not n × K.
pub fn project_rows<T: Real>(
    mean: &[f64],
    axes: &Mat<f64>,
    x: MatRef<'_, T>,
    out: MatMut<'_, T>,
) -> Result<()> {
    let (d, k) = (mean.len(), axes.rows());
    if axes.cols() != d || x.cols() != d || out.rows() != x.rows() || out.cols() != k {
        return Err(Error::Shape(format!(
            "PCA projection: {}×{} into {}×{} with d = {d}, K = {k}",
            x.rows(),
            x.cols(),
            out.rows(),
            out.cols()
        )));
    }
    let mut out = out;
    let rows: Vec<&[T]> = (0..x.rows()).map(|i| x.row(i)).collect();
    let mut xb = Mat::zeros(0, d);
    let mut zb = Mat::zeros(0, k);
    for r0 in (0..rows.len()).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(rows.len());
        centred_block(&rows, mean, r0, r1, &mut xb);
        zb.resize(r1 - r0, k);
        gemm(
            1.0,
            xb.view(),
            Op::N,
            axes.view(),
            Op::T,
            0.0,
            zb.view_mut(),
        );
        for i in r0..r1 {
            for c in 0..k {
                out.set(i, c, T::from_f64(zb.get(i - r0, c)));
            }
        }
    }
    Ok(())
}
