//! Maximum mean discrepancy with RBF kernels (SPEC §4, §7.7), as CellOT / w1ot `eval.py`.
//!
//! The formula and its blocked computation live in [`crate::ot::train::criterion`] (the solvers select
//! models with it; one implementation of each formula): `mmd(x, y, Γ) = mean_{γ∈Γ} MMD²_γ(x, y)`, the
//! biased V-statistic with `k_γ(a, b) = exp(−γ‖a − b‖²)`. This module fixes the evaluation bandwidths
//! and runs it on the metric threads; the result does not depend on the thread count.

use super::metric_threads;
use crate::linalg::{MatRef, Real};

pub use crate::ot::train::criterion::{median_gammas, MMD_GAMMAS_TRAIN};

/// The evaluation bandwidths of w1ot's `eval.py`: `numpy.logspace(1, −3, 50)`, i.e. `10^(1 − 4i/49)` for
/// i = 0..49 (from 10 down to 0.001).
pub fn mmd_gammas_eval() -> Vec<f64> {
    (0..50)
        .map(|i| 10f64.powf(1.0 - 4.0 * i as f64 / 49.0))
        .collect()
}

/// Biased RBF MMD² averaged over `gammas` ([`crate::ot::train::criterion::mmd`]), computed in f64, on
/// the metric threads (the machine's cores, at most 8): for callers with no thread option (`monge eval`,
/// Python's `evaluate`); a caller with a thread count calls the criterion with it (the value does not
/// depend on the count).
///
/// Panics if either sample is empty, if the feature counts differ, or if `gammas` is empty (callers
/// validate user data before scoring it).
pub fn mmd<T: Real>(x: MatRef<'_, T>, y: MatRef<'_, T>, gammas: &[f64]) -> f64 {
    crate::ot::train::criterion::mmd(x, y, gammas, metric_threads())
}

/// The energy distance ([`crate::ot::train::criterion::energy_distance`]) on the metric threads.
pub fn energy_distance<T: Real>(x: MatRef<'_, T>, y: MatRef<'_, T>) -> f64 {
    crate::ot::train::criterion::energy_distance(x, y, metric_threads())
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
