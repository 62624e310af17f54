//! Metrics between point clouds and maps (SPEC §4, §7.7).
//!
//! Every metric takes row-major views (`n × d`, one sample per row), is generic over `T: Real`, and computes
//! in f64 whatever `T` is (inputs are widened once), so an f32 model is scored with f64 arithmetic.
//! - [`mmd()`]: biased RBF maximum mean discrepancy averaged over bandwidths (CellOT / w1ot `eval.py`);
//! - [`wasserstein`]: sliced W2 (random projections) and exact W2² by an assignment solver;
//! - [`summary`]: feature-mean r² / Pearson / ℓ2, displacement dimensionality, L2-UVP, moved-gene
//!   precision and recall;
//! - [`changes`]: the features that changed most (top-k genes) and r²/Pearson of the mean changes;
//! - [`evaluation`]: the report of `monge eval` and Python's `monge.evaluate`, composed once from the
//!   metrics above (subsets, top genes, the identity / mean-shift / observed baselines).
//!
//! On expression data the metrics are also reported on a user-given subset of features (SPEC §7.7, e.g.
//! the top-50 marker genes): [`feature_subset`] extracts those columns, and any metric applies to the
//! result.

pub mod changes;
pub mod evaluation;
pub mod mmd;
pub mod summary;
pub mod wasserstein;

pub use changes::{mean_change, pearson_delta, r2_delta, top_changed_features};
pub use mmd::{mmd, mmd_gammas_eval, MMD_GAMMAS_TRAIN};
pub use summary::{
    displacement_dim, l2_means, l2_uvp, moved_genes_precision_recall, pearson_means, r2_means,
    total_variance, PrecisionRecall,
};
pub use wasserstein::{
    assignment, exact_w2sq, optimal_matching, sliced_w2, sliced_w2sq, EXACT_W2_MAX_N,
};

use crate::linalg::{Mat, MatRef, Real};
use crate::{Error, Result};

/// The columns `features` of `x` (in the given order; repeats allowed), as a new `n × features.len()`
/// matrix. Errors with the offending position if an index is out of range.
pub fn feature_subset<T: Real>(x: MatRef<'_, T>, features: &[usize]) -> Result<Mat<T>> {
    if let Some((pos, &bad)) = features.iter().enumerate().find(|&(_, &f)| f >= x.cols()) {
        return Err(Error::Usage(format!(
            "feature index {bad} (entry {} of the feature list) is out of range: the data has {} features",
            pos + 1,
            x.cols()
        )));
    }
    Ok(Mat::from_fn(x.rows(), features.len(), |i, k| {
        x.get(i, features[k])
    }))
}

/// The view widened to an owned f64 matrix (metrics compute in f64 whatever the input type).
pub(crate) fn to_f64<T: Real>(x: MatRef<'_, T>) -> Mat<f64> {
    Mat::from_fn(x.rows(), x.cols(), |i, j| x.get(i, j).to_f64())
}

/// Worker threads for the blocked metrics: the machine's parallelism, capped at 8. Results never depend on
/// it (partial sums are kept per block and added in block order).
pub(crate) fn metric_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}
