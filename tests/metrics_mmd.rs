//! MMD (SPEC §4, §7.7): the blocked gemm form against the direct definition, and its closed forms.

use monge::linalg::Mat;
use monge::metrics::{mmd, mmd_gammas_eval, MMD_GAMMAS_TRAIN};
use monge::random::Stream;

fn normal_mat(n: usize, d: usize, shift: f64, seed: u64) -> Mat<f64> {
    let mut s = Stream::new(seed, 8);
    Mat::from_fn(n, d, |_, _| shift + s.normal_f64())
}

/// The biased estimator written out pair by pair, with direct coordinate differences.
fn mmd_direct(x: &Mat<f64>, y: &Mat<f64>, gammas: &[f64]) -> f64 {
    let k = |a: &[f64], b: &[f64], g: f64| {
        (-g * a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>()).exp()
    };
    let mean_k = |a: &Mat<f64>, b: &Mat<f64>, g: f64| {
        let mut s = 0.0;
        for i in 0..a.rows() {
            for j in 0..b.rows() {
                s += k(a.row(i), b.row(j), g);
            }
        }
        s / (a.rows() * b.rows()) as f64
    };
    gammas
        .iter()
        .map(|&g| mean_k(x, x, g) + mean_k(y, y, g) - 2.0 * mean_k(x, y, g))
        .sum::<f64>()
        / gammas.len() as f64
}

#[test]
fn blocked_mmd_equals_pairwise_definition() {
    // 300 and 141 rows: several row blocks of 128, a partial last block, unequal sizes.
    let x = normal_mat(300, 7, 0.0, 1);
    let y = normal_mat(141, 7, 0.3, 2);
    for gammas in [&MMD_GAMMAS_TRAIN[..], &mmd_gammas_eval()[..]] {
        let fast = mmd(x.view(), y.view(), gammas);
        let slow = mmd_direct(&x, &y, gammas);
        assert!(
            (fast - slow).abs() <= 1e-12 * slow.abs().max(1e-3),
            "blocked {fast} vs direct {slow}"
        );
    }
}

#[test]
fn mmd_of_identical_samples_is_zero_and_symmetric() {
    let x = normal_mat(200, 4, 0.0, 3);
    let y = normal_mat(90, 4, 1.0, 4);
    assert!(mmd(x.view(), x.view(), &MMD_GAMMAS_TRAIN).abs() < 1e-14);
    let a = mmd(x.view(), y.view(), &MMD_GAMMAS_TRAIN);
    let b = mmd(y.view(), x.view(), &MMD_GAMMAS_TRAIN);
    assert!(a > 0.0);
    assert!((a - b).abs() < 1e-14 * a);
}

#[test]
fn mmd_of_two_points_matches_closed_form() {
    // x = {a}, y = {b}: MMD²_γ = 1 + 1 − 2 exp(−γ‖a − b‖²).
    let x = Mat::from_vec(1, 3, vec![0.5f64, -1.0, 2.0]).unwrap();
    let y = Mat::from_vec(1, 3, vec![1.5f64, 1.0, 2.0]).unwrap();
    let dist2 = 1.0 + 4.0;
    let want: f64 = MMD_GAMMAS_TRAIN
        .iter()
        .map(|g| 2.0 - 2.0 * (-g * dist2).exp())
        .sum::<f64>()
        / 6.0;
    let got = mmd(x.view(), y.view(), &MMD_GAMMAS_TRAIN);
    assert!((got - want).abs() < 1e-14, "{got} vs {want}");
}

#[test]
fn mmd_of_f32_input_is_computed_in_f64() {
    let x = normal_mat(130, 5, 0.0, 5).cast::<f32>();
    let y = normal_mat(70, 5, 0.5, 6).cast::<f32>();
    let got = mmd(x.view(), y.view(), &MMD_GAMMAS_TRAIN);
    let want = mmd_direct(&x.cast(), &y.cast(), &MMD_GAMMAS_TRAIN);
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
}

#[test]
fn mmd_grows_with_the_shift_between_gaussians() {
    let x = normal_mat(256, 3, 0.0, 7);
    let mut last = 0.0;
    for (k, shift) in [0.25, 0.5, 1.0, 2.0].into_iter().enumerate() {
        let y = normal_mat(256, 3, shift, 8 + k as u64);
        let v = mmd(x.view(), y.view(), &MMD_GAMMAS_TRAIN);
        assert!(v > last, "shift {shift}: {v} ≤ {last}");
        last = v;
    }
}
