//! Log-domain Sinkhorn between two uniform empirical measures (\[CKA23\], SPEC §3.5).
//!
//! # Iteration
//! Source x_1..x_n with weights a_i = 1/n, target y_1..y_m with b_j = 1/m, cost matrix `C_ij = h(x_i − y_j)`
//! computed once (n × m f64, never n × m × d), and the plan `P_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)`.
//! Starting from g = 0, each iteration is
//! 1. `f_i ← −ε · LSE_j(ln b_j + (g_j − C_ij)/ε)` (rows of P now sum to a_i exactly);
//! 2. `g'_j ← −ε · LSE_i(ln a_i + (f_i − C_ij)/ε)`; before this update the column sums of P are
//!    `Σ_i P_ij = b_j exp((g_j − g'_j)/ε)`, so the marginal error `Σ_j b_j |exp((g_j − g'_j)/ε) − 1|`
//!    (ℓ1, as ott-jax's default criterion) comes for free; stop when it is ≤ `tol`, or after `max_iter`.
//!
//! LSE is taken with its maximum subtracted (stable for any ε), so every exponent is ≤ 0: the
//! exponentials are [`exp_nonpositive`] (within an ulp of libm's, and vectorised with the loops, which
//! are compiled per instruction set by `simd_dispatch`), and a row's sum in step 1 is taken in
//! `lane_sum`'s fixed order. ε defaults to `0.05 · mean(C)`, ott-jax's default (`Geometry`: ε = 5e-2
//! relative to the mean of the cost matrix).
//!
//! # Threads
//! The caller's [`Pool`] (built once per fit) runs the cost matrix by row ranges, step 1 by row ranges
//! and step 2 by column ranges, one range per worker; each worker owns its output range and its scratch,
//! sized once, so an iteration allocates nothing and wakes the pool's persistent workers twice. Every
//! f_i and g_j is computed by one worker in a fixed order (a row's sweep over j, a column's sweep over
//! i: max pass, then sum pass), so the potentials do not depend on the thread count.

use super::cost::{cost_rows, lane_sum, ElasticCost};
use crate::linalg::ops::exp_nonpositive;
use crate::linalg::simd::simd_dispatch;
use crate::linalg::{Mat, Real};
use crate::parallel::Pool;
use crate::{Error, Result};

/// Options of [`super::ElasticSinkhornMap::fit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornConfig {
    /// The cost's regulariser.
    pub cost: ElasticCost,
    /// ε; `None`: `rel_epsilon · mean(C)`.
    pub epsilon: Option<f64>,
    /// Scale of the default ε relative to the mean cost (ott-jax: 0.05).
    pub rel_epsilon: f64,
    /// Stop when the ℓ1 marginal error is at most this (ott-jax: 1e-3).
    pub tol: f64,
    /// Iteration cap (ott-jax: 2000).
    pub max_iter: usize,
    /// Worker threads of the fit (at least 1; default 1). The fitted map runs on the pool its caller
    /// passes to [`crate::ot::TransportMap::transport_on`].
    pub threads: usize,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        SinkhornConfig {
            cost: ElasticCost::L1 { gamma: 1.0 },
            epsilon: None,
            rel_epsilon: 0.05,
            tol: 1e-3,
            max_iter: 2000,
            threads: 1,
        }
    }
}

impl SinkhornConfig {
    /// Checks the options (the cost's γ, positive finite tol, rel_epsilon and ε, max_iter and threads
    /// at least 1).
    pub fn validate(&self) -> Result<()> {
        self.cost.validate()?;
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.tol) || self.max_iter == 0 || !positive(self.rel_epsilon) {
            return Err(Error::Usage(
                "Sinkhorn: tol, max_iter and rel_epsilon must be positive".into(),
            ));
        }
        if let Some(e) = self.epsilon {
            if !positive(e) {
                return Err(Error::Usage(format!(
                    "Sinkhorn: epsilon must be positive, got {e}"
                )));
            }
        }
        if self.threads == 0 {
            return Err(Error::Usage("Sinkhorn: threads must be at least 1".into()));
        }
        Ok(())
    }
}

/// What a Sinkhorn run did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornReport {
    /// ε used.
    pub epsilon: f64,
    /// Iterations run.
    pub iterations: usize,
    /// ℓ1 error of the column marginal at the last check.
    pub marginal_error: f64,
    /// Whether `marginal_error ≤ tol`.
    pub converged: bool,
    /// Mean of the cost matrix.
    pub mean_cost: f64,
}

/// Source rows per block of the fit's cost matrix: the cost gemm packs the target once per block, so
/// larger blocks pack it fewer times (at n = m = d = 1000, f64, 256 rows: 4 packings of 8 MB per thread
/// instead of 16).
const COST_BLOCK: usize = 256;

/// One worker's range of a potential (rows for f, columns for g) and its scratch, sized once.
struct Range {
    start: usize,
    /// The range's new values.
    out: Vec<f64>,
    /// Per-column maxima and sums of step 2 (empty for step 1).
    max: Vec<f64>,
    sum: Vec<f64>,
}

/// `len` split into at most `parts` contiguous ranges of `⌈len/parts⌉` (the last shorter).
fn ranges(len: usize, parts: usize, scratch: bool) -> Vec<Range> {
    let per = len.div_ceil(parts.max(1)).max(1);
    (0..len)
        .step_by(per)
        .map(|start| {
            let w = per.min(len - start);
            let s = if scratch { w } else { 0 };
            Range {
                start,
                out: vec![0.0; w],
                max: vec![0.0; s],
                sum: vec![0.0; s],
            }
        })
        .collect()
}

/// Runs the iteration of the module doc between `x` and `y` (the same rows in T and in f64) on `pool`;
/// returns the target potential g and the report. A run that hits `max_iter` is not an error; a
/// non-finite marginal error is [`Error::Diverged`].
pub(super) fn solve<T: Real>(
    x: &Mat<T>,
    x64: &Mat<f64>,
    y: &Mat<T>,
    y64: &Mat<f64>,
    cfg: &SinkhornConfig,
    pool: &mut Pool,
) -> Result<(Vec<f64>, SinkhornReport)> {
    let (n, m) = (x.rows(), y.rows());
    let c = cost_matrix(&cfg.cost, x, x64, y, y64, pool);
    let mean_cost = c.iter().sum::<f64>() / (n * m) as f64;
    let eps = cfg
        .epsilon
        .unwrap_or(cfg.rel_epsilon * mean_cost)
        .max(f64::MIN_POSITIVE);
    let (ln_a, ln_b) = (-(n as f64).ln(), -(m as f64).ln());
    let mut f = vec![0.0f64; n];
    let mut g = vec![0.0f64; m];
    let mut g_new = vec![0.0f64; m];
    let mut f_ranges = ranges(n, pool.threads(), false);
    let mut g_ranges = ranges(m, pool.threads(), true);
    let mut report = SinkhornReport {
        epsilon: eps,
        iterations: 0,
        marginal_error: f64::INFINITY,
        converged: false,
        mean_cost,
    };
    for it in 1..=cfg.max_iter {
        // 1. f_i ← −ε LSE_j(ln b + (g_j − C_ij)/ε)
        pool.for_each_mut(&mut f_ranges, |_, r| update_f(&c, &g, ln_b, eps, r));
        for r in &f_ranges {
            f[r.start..r.start + r.out.len()].copy_from_slice(&r.out);
        }
        // 2. g'_j ← −ε LSE_i(ln a + (f_i − C_ij)/ε), column error of (f, g) before the update.
        pool.for_each_mut(&mut g_ranges, |_, r| update_g(&c, &f, ln_a, eps, m, r));
        for r in &g_ranges {
            g_new[r.start..r.start + r.out.len()].copy_from_slice(&r.out);
        }
        let err: f64 = g
            .iter()
            .zip(&g_new)
            .map(|(old, new)| ((old - new) / eps).exp_m1().abs())
            .sum::<f64>()
            / m as f64;
        std::mem::swap(&mut g, &mut g_new);
        report.iterations = it;
        report.marginal_error = err;
        if !err.is_finite() {
            return Err(Error::Diverged {
                iteration: it,
                what: "Sinkhorn marginal error".into(),
            });
        }
        if err <= cfg.tol {
            report.converged = true;
            break;
        }
    }
    Ok((g, report))
}

/// The full n × m cost matrix, one row range per worker, each range in blocks of [`COST_BLOCK`] rows.
fn cost_matrix<T: Real>(
    cost: &ElasticCost,
    x: &Mat<T>,
    x64: &Mat<f64>,
    y: &Mat<T>,
    y64: &Mat<f64>,
    pool: &mut Pool,
) -> Vec<f64> {
    let (n, m) = (x.rows(), y.rows());
    let mut c = vec![0.0f64; n * m];
    let per = n.div_ceil(pool.threads()).max(1);
    let mut chunks: Vec<(usize, &mut [f64])> = c
        .chunks_mut(per * m)
        .enumerate()
        .map(|(t, chunk)| (t * per, chunk))
        .collect();
    pool.for_each_mut(&mut chunks, |_, (r0, chunk)| {
        // Blocks of rows keep the gemm operands small.
        for (k, blk) in chunk.chunks_mut(COST_BLOCK * m).enumerate() {
            let b0 = *r0 + k * COST_BLOCK;
            let b1 = b0 + blk.len() / m;
            let xb = x.view().rows_range(b0, b1).to_mat();
            let xb64 = x64.view().rows_range(b0, b1).to_mat();
            cost_rows(cost, &xb, &xb64, y, y64, blk);
        }
    });
    c
}

simd_dispatch! {
    /// Step 1 on the rows of `r`: `f_i ← −ε LSE_j(ln b + (g_j − C_ij)/ε)`; each row's sum in the fixed
    /// lane-split order of [`lane_sum`].
    fn update_f[][](c: &[f64], g: &[f64], ln_b: f64, eps: f64, r: &mut Range) -> () = update_f_body;
}

/// [`update_f`]; its exponents are ≤ 0 (the row maximum is subtracted), the domain of
/// [`exp_nonpositive`], which vectorises with the sum.
#[inline(always)]
fn update_f_body(c: &[f64], g: &[f64], ln_b: f64, eps: f64, r: &mut Range) {
    let (m, inv_eps) = (g.len(), 1.0 / eps);
    for (k, fi) in r.out.iter_mut().enumerate() {
        let i = r.start + k;
        let row = &c[i * m..(i + 1) * m];
        let mut mx = f64::NEG_INFINITY;
        for (&cij, &gj) in row.iter().zip(g) {
            mx = mx.max(gj - cij);
        }
        let sum = lane_sum(g, row, |z| exp_nonpositive((z - mx) * inv_eps).0);
        *fi = -(eps * ln_b + mx + eps * sum.ln());
    }
}

simd_dispatch! {
    /// Step 2 on the columns of `r`: `g_j ← −ε LSE_i(ln a + (f_i − C_ij)/ε)`; each column sweeps the
    /// rows in order (max pass, then sum pass), so the result does not depend on the split.
    fn update_g[][](c: &[f64], f: &[f64], ln_a: f64, eps: f64, m: usize, r: &mut Range) -> () = update_g_body;
}

/// [`update_g`] (exponents ≤ 0, as in [`update_f_body`]).
#[inline(always)]
fn update_g_body(c: &[f64], f: &[f64], ln_a: f64, eps: f64, m: usize, r: &mut Range) {
    let (c0, w, inv_eps) = (r.start, r.out.len(), 1.0 / eps);
    r.max.fill(f64::NEG_INFINITY);
    for (i, &fi) in f.iter().enumerate() {
        let row = &c[i * m + c0..i * m + c0 + w];
        for (mj, &cij) in r.max.iter_mut().zip(row) {
            *mj = mj.max(fi - cij);
        }
    }
    r.sum.fill(0.0);
    for (i, &fi) in f.iter().enumerate() {
        let row = &c[i * m + c0..i * m + c0 + w];
        for ((sj, &cij), &mj) in r.sum.iter_mut().zip(row).zip(&r.max) {
            *sj += exp_nonpositive((fi - cij - mj) * inv_eps).0;
        }
    }
    for ((gj, &sj), &mj) in r.out.iter_mut().zip(&r.sum).zip(&r.max) {
        *gj = -(eps * ln_a + mj + eps * sj.ln());
    }
}
