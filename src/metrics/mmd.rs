//! Maximum mean discrepancy with RBF kernels (SPEC §4, §7.7), as CellOT / w1ot `eval.py`.
//!
//! # Formula
//! With `k_γ(a, b) = exp(−γ‖a − b‖²)` (scikit-learn's `rbf_kernel`: no factor ½), samples `x` (n rows) and
//! `y` (m rows), the biased (V-statistic) estimator for one bandwidth is
//! ```text
//! MMD²_γ(x, y) = 1/n² Σ_{i,i'} k_γ(x_i, x_i') + 1/m² Σ_{j,j'} k_γ(y_j, y_j') − 2/(nm) Σ_{i,j} k_γ(x_i, y_j)
//! ```
//! (diagonal terms included, so it is ≥ 0 and exactly 0 for identical samples), and
//! `mmd(x, y, Γ) = mean_{γ∈Γ} MMD²_γ(x, y)`. This is CellOT's `compute_scalar_mmd` (`xx.mean() + yy.mean()
//! − 2·xy.mean()` averaged over γ): a squared discrepancy, reported under the name "MMD" as in the papers.
//!
//! # Computation
//! Inputs are widened to f64 once. Squared distances come from one gemm per row block,
//! `‖a‖² + ‖b‖² − 2 a·b` (clamped at 0 against rounding), so memory stays `O(BLOCK·max(n, m))`; the
//! self-sums visit only the upper triangle (off-diagonal terms counted twice). Each block keeps its own
//! partial sums, added in block order at the end, so the result does not depend on the thread count.

use super::{metric_threads, to_f64};
use crate::linalg::{gemm, Mat, MatRef, Op, Real};

/// The training-time bandwidths of CellOT's model selection: {2, 1, 0.5, 0.1, 0.01, 0.005}.
pub const MMD_GAMMAS_TRAIN: [f64; 6] = [2.0, 1.0, 0.5, 0.1, 0.01, 0.005];

/// The evaluation bandwidths of w1ot's `eval.py`: `numpy.logspace(1, −3, 50)`, i.e. `10^(1 − 4i/49)` for
/// i = 0..49 (from 10 down to 0.001).
pub fn mmd_gammas_eval() -> Vec<f64> {
    (0..50)
        .map(|i| 10f64.powf(1.0 - 4.0 * i as f64 / 49.0))
        .collect()
}

/// Rows of the left operand per block of the distance matrix.
const BLOCK: usize = 128;

/// Biased RBF MMD² averaged over `gammas` (see the module doc), computed in f64.
///
/// Panics if either sample is empty, if the feature counts differ, or if `gammas` is empty (callers
/// validate user data before scoring it).
pub fn mmd<T: Real>(x: MatRef<'_, T>, y: MatRef<'_, T>, gammas: &[f64]) -> f64 {
    assert!(x.rows() > 0 && y.rows() > 0, "mmd: empty sample");
    assert_eq!(x.cols(), y.cols(), "mmd: feature counts differ");
    assert!(!gammas.is_empty(), "mmd: no bandwidths");
    let (x, y) = (to_f64(x), to_f64(y));
    let (n, m) = (x.rows() as f64, y.rows() as f64);
    let kxx = kernel_sums(&x, &x, true, gammas);
    let kyy = kernel_sums(&y, &y, true, gammas);
    let kxy = kernel_sums(&x, &y, false, gammas);
    let total: f64 = (0..gammas.len())
        .map(|g| kxx[g] / (n * n) + kyy[g] / (m * m) - 2.0 * kxy[g] / (n * m))
        .sum();
    total / gammas.len() as f64
}

/// `out[g] = Σ_{i,j} exp(−γ_g ‖a_i − b_j‖²)`. With `symmetric` (a and b are the same matrix) only the
/// pairs j ≥ i are visited and the off-diagonal ones counted twice.
fn kernel_sums(a: &Mat<f64>, b: &Mat<f64>, symmetric: bool, gammas: &[f64]) -> Vec<f64> {
    let na: Vec<f64> = (0..a.rows()).map(|i| sq_norm(a.row(i))).collect();
    let nb: Vec<f64> = (0..b.rows()).map(|j| sq_norm(b.row(j))).collect();
    let ng = gammas.len();
    let nblocks = a.rows().div_ceil(BLOCK);
    let mut partial = vec![0.0f64; nblocks * ng];
    let threads = metric_threads().min(nblocks).max(1);
    let per = nblocks.div_ceil(threads);
    std::thread::scope(|s| {
        for (t, chunk) in partial.chunks_mut(per * ng).enumerate() {
            let (na, nb) = (&na, &nb);
            s.spawn(move || {
                let mut dist = vec![0.0f64; BLOCK * b.rows()];
                for (k, out) in chunk.chunks_mut(ng).enumerate() {
                    let blk = t * per + k;
                    let r0 = blk * BLOCK;
                    let r1 = (r0 + BLOCK).min(a.rows());
                    let c0 = if symmetric { r0 } else { 0 };
                    block_kernel_sums(
                        a,
                        b,
                        na,
                        nb,
                        (r0, r1),
                        c0,
                        symmetric,
                        gammas,
                        &mut dist,
                        out,
                    );
                }
            });
        }
    });
    let mut out = vec![0.0f64; ng];
    for blk in partial.chunks(ng) {
        for (o, p) in out.iter_mut().zip(blk) {
            *o += p;
        }
    }
    out
}

/// Kernel sums of rows `r0..r1` of `a` against rows `c0..` of `b`, into `out` (one entry per γ).
#[allow(clippy::too_many_arguments)]
fn block_kernel_sums(
    a: &Mat<f64>,
    b: &Mat<f64>,
    na: &[f64],
    nb: &[f64],
    (r0, r1): (usize, usize),
    c0: usize,
    symmetric: bool,
    gammas: &[f64],
    dist: &mut [f64],
    out: &mut [f64],
) {
    let (rb, cb) = (r1 - r0, b.rows() - c0);
    let d = &mut dist[..rb * cb];
    // D ← −2 · A_blk · B_colsᵀ
    gemm(
        -2.0,
        a.view().rows_range(r0, r1),
        Op::N,
        b.view().rows_range(c0, b.rows()),
        Op::T,
        0.0,
        crate::linalg::MatMut::from_slice(d, rb, cb).expect("block buffer"),
    );
    out.fill(0.0);
    for i in 0..rb {
        let row = &mut d[i * cb..(i + 1) * cb];
        // In the symmetric case column c0 + j is sample r0 + j: skip j < i (lower triangle), count j > i twice.
        let j0 = if symmetric { i } else { 0 };
        for (j, v) in row.iter_mut().enumerate().skip(j0) {
            *v = (*v + na[r0 + i] + nb[c0 + j]).max(0.0);
        }
        if symmetric {
            row[i] = 0.0; // a sample's distance to itself, exactly (the gemm form leaves rounding).
        }
        for (g, &gamma) in gammas.iter().enumerate() {
            let mut s = 0.0f64;
            for &v in &row[j0..] {
                s += (-gamma * v).exp();
            }
            if symmetric {
                // row[i] is the diagonal pair (k = 1): once; the pairs j > i twice.
                s = 2.0 * s - 1.0;
            }
            out[g] += s;
        }
    }
}

fn sq_norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_gammas_are_numpy_logspace() {
        let g = mmd_gammas_eval();
        assert_eq!(g.len(), 50);
        assert!((g[0] - 10.0).abs() < 1e-12);
        assert!((g[49] - 1e-3).abs() < 1e-15);
        let ratio = g[1] / g[0];
        for w in g.windows(2) {
            assert!((w[1] / w[0] - ratio).abs() < 1e-12);
        }
    }
}
