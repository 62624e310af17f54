//! Mean changes of a perturbation: the features that changed most, and how well a prediction gets the
//! changes right (the papers' evaluation on expression data, SPEC §7.7), computed in f64.
//!
//! With `s̄`, `p̄`, `t̄` the feature means (vectors over the d features) of the source (control), the
//! prediction T(source) and the target (perturbed) sample:
//! - observed change `δ_obs = t̄ − s̄`, predicted change `δ_pred = p̄ − s̄`;
//! - [`top_changed_features`]: the k features with the largest `|δ_obs_j|` (ties: smaller index first),
//!   in that order — the "top-k differentially expressed genes" by absolute mean difference, as CellOT and
//!   w1ot select their marker genes for a fixed perturbation;
//! - [`pearson_delta`] `= ρ(δ_pred, δ_obs)` across features and [`r2_delta`] `= ρ²`: whether the map moves
//!   the means in the right directions by the right relative amounts. Unlike the papers' `r2 = ρ(p̄, t̄)²`
//!   ([`super::r2_means`]), it is not inflated by the features that the perturbation leaves alone (there
//!   `p̄_j ≈ t̄_j ≈ s̄_j`, which a prediction of no change gets right too); identity (`δ_pred = 0`) has no
//!   correlation at all (NaN, reported as null), a uniform shift of every feature neither.
//!
//! ρ is the two-pass Pearson correlation of [`super::summary`] (NaN when either vector is constant).

use super::summary::{check_pair, feature_means, pearson};
use crate::linalg::{MatRef, Real};

/// `mean(x) − mean(source)` per feature.
///
/// Panics if a sample is empty or the feature counts differ.
pub fn mean_change<T: Real>(source: MatRef<'_, T>, x: MatRef<'_, T>) -> Vec<f64> {
    check_pair("mean_change", &source, &x);
    let s = feature_means(source);
    let mut m = feature_means(x);
    m.iter_mut().zip(&s).for_each(|(a, b)| *a -= b);
    m
}

/// The `k` features with the largest `|mean(target)_j − mean(source)_j|`, largest first (ties: the smaller
/// index first); all d features when `k ≥ d`.
///
/// Panics if a sample is empty or the feature counts differ.
pub fn top_changed_features<T: Real>(
    source: MatRef<'_, T>,
    target: MatRef<'_, T>,
    k: usize,
) -> Vec<usize> {
    let delta = mean_change(source, target);
    let mut idx: Vec<usize> = (0..delta.len()).collect();
    idx.sort_by(|&a, &b| delta[b].abs().total_cmp(&delta[a].abs()).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// `ρ(mean(pred) − mean(source), mean(target) − mean(source))` across features (see the module doc); NaN
/// when either change is constant over the features (e.g. the identity map).
///
/// Panics if a sample is empty or the feature counts differ.
pub fn pearson_delta<T: Real>(
    source: MatRef<'_, T>,
    pred: MatRef<'_, T>,
    target: MatRef<'_, T>,
) -> f64 {
    check_pair("pearson_delta", &source, &target);
    pearson(&mean_change(source, pred), &mean_change(source, target))
}

/// `pearson_delta²`: the share of the variance of the observed mean changes across features that the
/// predicted mean changes explain linearly.
pub fn r2_delta<T: Real>(source: MatRef<'_, T>, pred: MatRef<'_, T>, target: MatRef<'_, T>) -> f64 {
    let r = pearson_delta(source, pred, target);
    r * r
}
