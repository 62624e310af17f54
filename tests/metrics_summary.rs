//! Feature-mean statistics, displacement dimensionality, L2-UVP and moved-gene precision/recall (SPEC §4,
//! §7.2, §7.7), checked on hand-computed instances.

use monge::linalg::Mat;
use monge::metrics::{
    displacement_dim, l2_means, l2_uvp, moved_genes_precision_recall, pearson_means, r2_means,
    total_variance,
};

fn mat(rows: usize, cols: usize, v: &[f64]) -> Mat<f64> {
    Mat::from_vec(rows, cols, v.to_vec()).unwrap()
}

#[test]
fn feature_mean_statistics_match_hand_values() {
    // Means over rows: pred (1, 2, 4), target (2, 3, 3).
    let pred = mat(2, 3, &[0.0, 1.0, 4.0, 2.0, 3.0, 4.0]);
    let target = mat(1, 3, &[2.0, 3.0, 3.0]);
    // Centred: p = (−4/3, −1/3, 5/3), t = (−2/3, 1/3, 1/3); Σpt = 12/9, Σp² = 42/9, Σt² = 6/9.
    let r = (12.0 / 9.0) / ((42.0f64 / 9.0) * (6.0 / 9.0)).sqrt();
    assert!((pearson_means(pred.view(), target.view()) - r).abs() < 1e-14);
    assert!((r2_means(pred.view(), target.view()) - r * r).abs() < 1e-14);
    assert!((l2_means(pred.view(), target.view()) - 3f64.sqrt()).abs() < 1e-14);
    // Perfect affine relation of the means: ρ = 1 (ρ = −1 for a decreasing one, r² = 1 for both).
    let up = mat(1, 3, &[2.0, 4.0, 8.0]);
    let down = mat(1, 3, &[-1.0, -3.0, -7.0]);
    assert!((pearson_means(pred.view(), up.view()) - 1.0).abs() < 1e-14);
    assert!((pearson_means(pred.view(), down.view()) + 1.0).abs() < 1e-14);
    assert!((r2_means(pred.cast::<f32>().view(), down.cast::<f32>().view()) - 1.0).abs() < 1e-12);
}

#[test]
fn displacement_dim_counts_and_takes_the_numpy_quantile() {
    // Per-sample counts of |Δ| > 0.5: 0, 1, 3, 4 → mean 2, Q3 at h = 2.25: 3 + 0.25·(4 − 3) = 3.25.
    let x = Mat::<f64>::zeros(4, 4);
    let tx = mat(
        4,
        4,
        &[
            0.5, -0.5, 0.1, 0.0, //
            0.0, 0.0, -0.6, 0.0, //
            1.0, 1.0, 1.0, 0.2, //
            -2.0, 2.0, 0.51, 0.9,
        ],
    );
    assert_eq!(displacement_dim(x.view(), tx.view(), 0.5), (2.0, 3.25));
    // Five samples, counts 0, 0, 1, 2, 2 (unsorted rows): h = 3 → Q3 = 2, mean 1.
    let x5 = Mat::<f32>::zeros(5, 2);
    let tx5 = Mat::from_vec(
        5,
        2,
        vec![2.0f32, 2.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0, -2.0],
    )
    .unwrap();
    assert_eq!(displacement_dim(x5.view(), tx5.view(), 1.0), (1.0, 2.0));
}

#[test]
fn l2_uvp_is_error_over_total_variance() {
    // Target: variances 1 (column 0: ±1) and 4 (column 1: ±2) → Var(ν) = 5.
    let target = mat(2, 2, &[1.0, 2.0, -1.0, -2.0]);
    assert!((total_variance(target.view()) - 5.0).abs() < 1e-14);
    let t_true = mat(3, 2, &[0.0, 0.0, 1.0, 1.0, -3.0, 2.0]);
    assert_eq!(l2_uvp(t_true.view(), t_true.view(), target.view()), 0.0);
    // Off by (1, 2) everywhere: E‖·‖² = 5 → 100 %.
    let tx = Mat::from_fn(3, 2, |i, j| t_true.get(i, j) + [1.0, 2.0][j]);
    assert!((l2_uvp(tx.view(), t_true.view(), target.view()) - 100.0).abs() < 1e-12);
}

#[test]
fn moved_gene_precision_recall_counts_cell_gene_pairs() {
    // Genes 0 and 2 affected. Cell 0 moves genes 0, 1; cell 1 moves gene 2 only.
    let x = Mat::<f64>::zeros(2, 4);
    let tx = mat(2, 4, &[3.0, -3.0, 0.5, 0.0, 0.0, 0.9, 5.0, 0.0]);
    let pr = moved_genes_precision_recall(x.view(), tx.view(), &[0, 2, 2], 1.0);
    // moved = 3, hits = 2 (cell 0 gene 0, cell 1 gene 2), possible = 2 cells · 2 genes.
    assert!((pr.precision - 2.0 / 3.0).abs() < 1e-14);
    assert!((pr.recall - 0.5).abs() < 1e-14);
}
