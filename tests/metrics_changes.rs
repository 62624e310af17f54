//! Mean changes of a perturbation (src/metrics/changes.rs): the top changed features and r²/Pearson of
//! the predicted against the observed mean changes, checked on hand-computed instances.

use monge::linalg::Mat;
use monge::metrics::{mean_change, pearson_delta, r2_delta, r2_means, top_changed_features};

fn mat(rows: usize, cols: usize, v: &[f64]) -> Mat<f64> {
    Mat::from_vec(rows, cols, v.to_vec()).unwrap()
}

/// Source means s̄ = (5, −3, 2, 7) (two rows), observed change δ_obs = (1, 2, 0, 0).
fn source_and_target() -> (Mat<f64>, Mat<f64>) {
    let source = mat(2, 4, &[4.0, -4.0, 2.0, 6.0, 6.0, -2.0, 2.0, 8.0]);
    let target = mat(1, 4, &[6.0, -1.0, 2.0, 7.0]);
    (source, target)
}

#[test]
fn r2_delta_correlates_the_changes_not_the_means() {
    let (source, target) = source_and_target();
    assert_eq!(
        mean_change(source.view(), target.view()),
        vec![1.0, 2.0, 0.0, 0.0]
    );
    // δ_pred = (1, 0, 2, 0). Centred (means 3/4): δp = (¼, −¾, 5/4, −¾), δo = (¼, 5/4, −¾, −¾);
    // Σ δp·δo = 1/16 − 15/16 − 15/16 + 9/16 = −5/4, Σ δp² = Σ δo² = 11/4, so ρ = −5/11.
    let pred = mat(1, 4, &[6.0, -3.0, 4.0, 7.0]);
    let rho = -5.0 / 11.0;
    assert!((pearson_delta(source.view(), pred.view(), target.view()) - rho).abs() < 1e-15);
    assert!((r2_delta(source.view(), pred.view(), target.view()) - rho * rho).abs() < 1e-15);
    // the papers' r² of the same prediction is high: the means are dominated by the unchanged baseline
    assert!(r2_means(pred.view(), target.view()) > 0.8);
}

#[test]
fn r2_delta_is_one_for_a_scaled_change_and_undefined_for_identity() {
    let (source, target) = source_and_target();
    // s̄ + 3·δ_obs: the right directions, the wrong size — ρ = 1 (ρ = −1 for s̄ − δ_obs, r² = 1 for both)
    let scaled = mat(1, 4, &[8.0, 3.0, 2.0, 7.0]);
    let opposite = mat(1, 4, &[4.0, -5.0, 2.0, 7.0]);
    assert!((pearson_delta(source.view(), scaled.view(), target.view()) - 1.0).abs() < 1e-15);
    assert!((pearson_delta(source.view(), opposite.view(), target.view()) + 1.0).abs() < 1e-15);
    assert!((r2_delta(source.view(), opposite.view(), target.view()) - 1.0).abs() < 1e-15);
    // identity predicts no change: no correlation exists (NaN, reported as null by the CLI), while the
    // papers' r² of identity is close to 1 here
    assert!(r2_delta(source.view(), source.view(), target.view()).is_nan());
    assert!(r2_means(source.view(), target.view()) > 0.9);
    // f32 inputs are scored in f64
    let r = r2_delta(
        source.cast::<f32>().view(),
        opposite.cast::<f32>().view(),
        target.cast::<f32>().view(),
    );
    assert!((r - 1.0).abs() < 1e-12);
}

#[test]
fn top_changed_features_rank_by_absolute_mean_change() {
    // source means 0; target means (0.5, −3, 3, 1, −0.2): |δ| ranks 1 and 2 (tie, smaller index first),
    // then 3, 0, 4 — a decrease counts as much as an increase
    let source = mat(1, 5, &[0.0; 5]);
    let target = mat(2, 5, &[0.0, -2.0, 3.0, 1.0, -0.4, 1.0, -4.0, 3.0, 1.0, 0.0]);
    assert_eq!(
        top_changed_features(source.view(), target.view(), 3),
        vec![1, 2, 3]
    );
    assert_eq!(
        top_changed_features(source.view(), target.view(), 9),
        vec![1, 2, 3, 0, 4]
    );
}
