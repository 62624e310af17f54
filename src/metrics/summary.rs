//! Summary statistics of a predicted sample against a reference (SPEC §4, §7.2, §7.7), computed in f64.
//!
//! - Feature means (w1ot / CellOT `eval.py`): with `p̄ = mean_i pred_i`, `t̄ = mean_j target_j` (vectors over
//!   the d features), [`pearson_means`] is the Pearson correlation `ρ(p̄, t̄)` across features (CellOT's
//!   `r2-means`, unsquared despite its name), [`r2_means`] is `ρ²` (w1ot's r²), and [`l2_means`] is
//!   `‖p̄ − t̄‖₂`.
//! - Displacement dimensionality (\[C25\], SPEC §7.2): per sample `n(x) = #{i : |T(x)_i − x_i| > thr}`;
//!   [`displacement_dim`] (the annealers' measure, in [`crate::ot::anneal`]; re-exported) returns the
//!   mean over samples and the 75% quantile. The quantile follows NumPy's
//!   default (`numpy.quantile(…, 0.75)`, "linear", Hyndman–Fan type 7): with the counts sorted ascending
//!   `c_0 ≤ … ≤ c_{n−1}`, `h = 0.75·(n − 1)`, `Q3 = c_⌊h⌋ + (h − ⌊h⌋)(c_⌊h⌋+1 − c_⌊h⌋)`.
//! - L2-UVP \[K21\]: `100 · mean_i ‖T(x_i) − T*(x_i)‖² / Var(ν)` with `Var(ν) = Σ_features var` the total
//!   variance of the target sample (population form, 1/n).
//! - Moved-gene precision / recall (synthetic scRNA, SPEC §7.5): a gene of a cell is "moved" by the map when
//!   `|T(x)_g − x_g| > thr`; counting over all (cell, gene) pairs (micro-average),
//!   `precision = #(moved ∧ affected) / #moved`, `recall = #(moved ∧ affected) / (n·|affected|)`.

use crate::linalg::{MatRef, Real};

/// Column means of a view, in f64.
pub(crate) fn feature_means<T: Real>(x: MatRef<'_, T>) -> Vec<f64> {
    let mut m = vec![0.0f64; x.cols()];
    for i in 0..x.rows() {
        for (a, v) in m.iter_mut().zip(x.row(i)) {
            *a += v.to_f64();
        }
    }
    let n = x.rows() as f64;
    m.iter_mut().for_each(|a| *a /= n);
    m
}

pub(crate) fn check_pair<T: Real>(what: &str, p: &MatRef<'_, T>, t: &MatRef<'_, T>) {
    assert!(p.rows() > 0 && t.rows() > 0, "{what}: empty sample");
    assert_eq!(p.cols(), t.cols(), "{what}: feature counts differ");
}

/// Pearson correlation across features of the feature means of `pred` and `target` (CellOT's
/// `r2-means`, unsquared). NaN when either mean vector is constant (zero variance), as NumPy.
///
/// Panics if a sample is empty or the feature counts differ.
pub fn pearson_means<T: Real>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> f64 {
    check_pair("pearson_means", &pred, &target);
    let (p, t) = (feature_means(pred), feature_means(target));
    pearson(&p, &t)
}

/// Squared Pearson correlation of the feature means (w1ot's r²): `pearson_means²`.
pub fn r2_means<T: Real>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> f64 {
    let r = pearson_means(pred, target);
    r * r
}

/// `‖mean(pred) − mean(target)‖₂` over features.
pub fn l2_means<T: Real>(pred: MatRef<'_, T>, target: MatRef<'_, T>) -> f64 {
    check_pair("l2_means", &pred, &target);
    let (p, t) = (feature_means(pred), feature_means(target));
    p.iter()
        .zip(&t)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// Pearson correlation of two equal-length vectors (two-pass: centred sums).
pub(crate) fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}

pub use crate::ot::anneal::displacement_dim;

/// L2-UVP \[K21\]: `100 · mean_i ‖tx_i − t_true_i‖² / Var(target)` with `Var` the total (summed over
/// features) population variance of `target`. `tx` and `t_true` are the fitted and the true map at the same
/// source points.
///
/// Panics if shapes differ or a sample is empty.
pub fn l2_uvp<T: Real>(tx: MatRef<'_, T>, t_true: MatRef<'_, T>, target: MatRef<'_, T>) -> f64 {
    assert!(tx.rows() > 0 && target.rows() > 0, "l2_uvp: empty sample");
    assert_eq!(
        (tx.rows(), tx.cols()),
        (t_true.rows(), t_true.cols()),
        "l2_uvp: shapes of T(x) and T*(x) differ"
    );
    assert_eq!(tx.cols(), target.cols(), "l2_uvp: feature counts differ");
    let err: f64 = (0..tx.rows())
        .map(|i| {
            tx.row(i)
                .iter()
                .zip(t_true.row(i))
                .map(|(a, b)| {
                    let d = a.to_f64() - b.to_f64();
                    d * d
                })
                .sum::<f64>()
        })
        .sum::<f64>()
        / tx.rows() as f64;
    100.0 * err / total_variance(target)
}

/// `Σ_features (1/n) Σ_i (y_ij − ȳ_j)²` (two-pass).
pub fn total_variance<T: Real>(y: MatRef<'_, T>) -> f64 {
    let m = feature_means(y);
    let mut s = 0.0f64;
    for i in 0..y.rows() {
        for (v, mj) in y.row(i).iter().zip(&m) {
            let d = v.to_f64() - mj;
            s += d * d;
        }
    }
    s / y.rows() as f64
}

/// Precision and recall of the genes a map moves, against the truly affected genes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrecisionRecall {
    /// `#(moved ∧ affected) / #moved` over all (cell, gene) pairs (1 when nothing moved).
    pub precision: f64,
    /// `#(moved ∧ affected) / (n · |affected|)` (1 when no gene is affected).
    pub recall: f64,
}

/// Micro-averaged precision / recall of moved genes (see the module doc): a (cell, gene) pair is moved when
/// `|tx − x| > thr`; `affected` lists the truly affected gene indices (duplicates ignored).
///
/// Panics if shapes differ or an index is out of range.
pub fn moved_genes_precision_recall<T: Real>(
    x: MatRef<'_, T>,
    tx: MatRef<'_, T>,
    affected: &[usize],
    thr: f64,
) -> PrecisionRecall {
    assert_eq!(
        (x.rows(), x.cols()),
        (tx.rows(), tx.cols()),
        "moved_genes_precision_recall: shapes differ"
    );
    let mut is_affected = vec![false; x.cols()];
    for &g in affected {
        is_affected[g] = true;
    }
    let n_aff = is_affected.iter().filter(|&&a| a).count();
    let (mut moved, mut hit) = (0usize, 0usize);
    for i in 0..x.rows() {
        for ((a, b), &aff) in x.row(i).iter().zip(tx.row(i)).zip(&is_affected) {
            if (b.to_f64() - a.to_f64()).abs() > thr {
                moved += 1;
                hit += aff as usize;
            }
        }
    }
    let precision = if moved == 0 {
        1.0
    } else {
        hit as f64 / moved as f64
    };
    let possible = x.rows() * n_aff;
    let recall = if possible == 0 {
        1.0
    } else {
        hit as f64 / possible as f64
    };
    PrecisionRecall { precision, recall }
}
