//! Sliced and exact W2 (SPEC §4): the assignment solver against brute force, and known W2 facts.

use monge::linalg::Mat;
use monge::metrics::{assignment, exact_w2sq, sliced_w2, sliced_w2sq, EXACT_W2_MAX_N};
use monge::random::Stream;
use monge::Error;
use proptest::prelude::*;

fn normal_mat(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut s = Stream::new(seed, 8);
    Mat::from_fn(n, d, |_, _| s.normal_f64())
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for k in 0..n {
            let mut q = p.clone();
            q.insert(k, n - 1);
            out.push(q);
        }
    }
    out
}

fn cost_of(cost: &[f64], n: usize, sigma: &[usize]) -> f64 {
    (0..n).map(|i| cost[i * n + sigma[i]]).sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn assignment_is_a_minimum_cost_permutation(n in 1usize..=7, seed in any::<u64>(), ties in any::<bool>()) {
        let mut s = Stream::new(seed, 0);
        // With `ties`, small integer costs (many equal optima); otherwise continuous costs.
        let cost: Vec<f64> = (0..n * n)
            .map(|_| if ties { s.below(4) as f64 } else { s.uniform_f64() * 10.0 - 3.0 })
            .collect();
        let sigma = assignment(&cost, n);
        let mut seen = vec![false; n];
        for &j in &sigma { prop_assert!(!seen[j]); seen[j] = true; }
        let best = permutations(n).iter().map(|p| cost_of(&cost, n, p)).fold(f64::INFINITY, f64::min);
        prop_assert!((cost_of(&cost, n, &sigma) - best).abs() < 1e-12, "solver {} vs brute force {}", cost_of(&cost, n, &sigma), best);
    }
}

#[test]
fn exact_w2_of_a_translated_copy_is_the_squared_shift() {
    let x = normal_mat(300, 4, 1);
    let shift = [0.3, -1.2, 0.0, 2.0];
    let mut y = Mat::from_fn(300, 4, |i, j| x.get(i, j) + shift[j]);
    // Shuffle rows so the identity pairing is not handed to the solver.
    let mut perm: Vec<usize> = (0..300).collect();
    Stream::new(9, 0).shuffle(&mut perm);
    y = y.select_rows(&perm);
    let want: f64 = shift.iter().map(|s| s * s).sum();
    let got = exact_w2sq(x.view(), y.view()).unwrap();
    assert!((got - want).abs() < 1e-12 * want, "{got} vs {want}");
}

#[test]
fn exact_w2_of_a_permuted_copy_is_zero() {
    let x = normal_mat(257, 3, 2).cast::<f32>();
    let mut perm: Vec<usize> = (0..257).collect();
    Stream::new(10, 0).shuffle(&mut perm);
    let y = x.select_rows(&perm);
    assert_eq!(exact_w2sq(x.view(), y.view()).unwrap(), 0.0);
}

#[test]
fn exact_w2_in_one_dimension_is_the_sorted_matching() {
    let x = normal_mat(400, 1, 3);
    let y = Mat::from_fn(400, 1, |i, _| 2.0 * normal_mat(400, 1, 4).get(i, 0) + 1.0);
    let mut a: Vec<f64> = x.as_slice().to_vec();
    let mut b: Vec<f64> = y.as_slice().to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let want = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        / 400.0;
    let got = exact_w2sq(x.view(), y.view()).unwrap();
    assert!((got - want).abs() < 1e-12 * want, "{got} vs {want}");
}

#[test]
fn exact_w2_lies_between_the_mean_gap_and_any_matching() {
    let x = normal_mat(120, 5, 5);
    let y = Mat::from_fn(120, 5, |i, j| normal_mat(120, 5, 6).get(i, j) * 1.5 + 0.7);
    let w = exact_w2sq(x.view(), y.view()).unwrap();
    let mean_gap: f64 = (0..5)
        .map(|j| {
            let mx: f64 = (0..120).map(|i| x.get(i, j)).sum::<f64>() / 120.0;
            let my: f64 = (0..120).map(|i| y.get(i, j)).sum::<f64>() / 120.0;
            (mx - my) * (mx - my)
        })
        .sum();
    let identity: f64 = (0..120)
        .map(|i| {
            (0..5)
                .map(|j| (x.get(i, j) - y.get(i, j)).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / 120.0;
    assert!(
        mean_gap <= w && w <= identity,
        "{mean_gap} ≤ {w} ≤ {identity}"
    );
    // Projections are 1-Lipschitz, so the sliced value never exceeds the exact one.
    let sw = sliced_w2sq(x.view(), y.view(), 64, &mut Stream::new(1, 7));
    assert!(sw <= w, "SW2² {sw} > W2² {w}");
}

#[test]
fn exact_w2_rejects_bad_sizes() {
    let x = normal_mat(10, 2, 7);
    let y = normal_mat(11, 2, 8);
    assert!(matches!(
        exact_w2sq(x.view(), y.view()),
        Err(Error::Shape(_))
    ));
    let z = normal_mat(10, 3, 8);
    assert!(matches!(
        exact_w2sq(x.view(), z.view()),
        Err(Error::Shape(_))
    ));
    let big = Mat::<f32>::zeros(EXACT_W2_MAX_N + 1, 1);
    assert!(matches!(
        exact_w2sq(big.view(), big.view()),
        Err(Error::Usage(_))
    ));
}

#[test]
fn sliced_w2_in_one_dimension_is_the_exact_w2() {
    let x = normal_mat(200, 1, 11);
    let y = Mat::from_fn(200, 1, |i, _| normal_mat(200, 1, 12).get(i, 0) * 0.5 - 1.0);
    let exact = exact_w2sq(x.view(), y.view()).unwrap();
    let sw = sliced_w2sq(x.view(), y.view(), 5, &mut Stream::new(3, 7));
    assert!((sw - exact).abs() < 1e-12 * exact, "{sw} vs {exact}");
    let s = sliced_w2(x.view(), y.view(), 5, &mut Stream::new(3, 7));
    assert!((s * s - sw).abs() < 1e-12 * sw);
}

#[test]
fn sliced_w2_of_unequal_one_dimensional_samples_integrates_the_quantiles() {
    // F⁻¹ of {0, 1} vs G⁻¹ of {0, ½, 1}: they differ by ½ on t ∈ [1/3, 2/3): W2² = (1/3)·¼ = 1/12.
    let x = Mat::from_vec(2, 1, vec![1.0f64, 0.0]).unwrap();
    let y = Mat::from_vec(3, 1, vec![0.5f64, 1.0, 0.0]).unwrap();
    let sw = sliced_w2sq(x.view(), y.view(), 3, &mut Stream::new(4, 7));
    assert!((sw - 1.0 / 12.0).abs() < 1e-15, "{sw}");
    // A sample against itself repeated twice is the same measure.
    let z = normal_mat(37, 3, 13);
    let zz = Mat::from_fn(74, 3, |i, j| z.get(i % 37, j));
    assert!(sliced_w2sq(z.view(), zz.view(), 20, &mut Stream::new(5, 7)) < 1e-24);
}

#[test]
fn sliced_w2_of_a_translation_averages_projected_shifts() {
    // Shifted copy: every projection differs by exactly ⟨θ, s⟩, so SW2² = mean_k ⟨θ_k, s⟩², whose
    // expectation over uniform directions is ‖s‖²/d. K = 4000, d = 3: relative std ≈ 1.4%; allow 5%.
    let x = normal_mat(64, 3, 14);
    let s = [1.0, -2.0, 0.5];
    let y = Mat::from_fn(64, 3, |i, j| x.get(i, j) + s[j]);
    let sw = sliced_w2sq(x.view(), y.view(), 4000, &mut Stream::new(6, 7));
    let want = (1.0 + 4.0 + 0.25) / 3.0;
    assert!((sw / want - 1.0).abs() < 0.05, "{sw} vs {want}");
}
