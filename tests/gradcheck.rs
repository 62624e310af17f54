//! The finite-difference harness passes a correct gradient and fails a wrong one.

use monge::gradcheck::{numeric_gradient, GradCheck};

fn f(x: &[f64]) -> f64 {
    // F(x) = Σ sin(xᵢ)·x_{i+1} + ½‖x‖² + exp(x₀)
    let mut s = 0.5 * x.iter().map(|v| v * v).sum::<f64>() + x[0].exp();
    for i in 0..x.len() - 1 {
        s += x[i].sin() * x[i + 1];
    }
    s
}

fn grad(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g: Vec<f64> = x.to_vec();
    g[0] += x[0].exp();
    for i in 0..n - 1 {
        g[i] += x[i].cos() * x[i + 1];
        g[i + 1] += x[i].sin();
    }
    g
}

#[test]
fn correct_gradient_passes() {
    let x = [0.3, -1.1, 2.0, 0.7, -0.2];
    let rep = GradCheck::default().check(f, &x, &grad(&x));
    assert_eq!(rep.checked, 5);
    rep.assert_below(1e-8, "smooth test function");
}

#[test]
fn wrong_gradient_fails_and_names_the_coordinate() {
    let x = [0.3, -1.1, 2.0, 0.7, -0.2];
    let mut g = grad(&x);
    g[3] *= 1.0 + 1e-4; // a relative slip of 1e-4 in one coordinate
    let rep = GradCheck::default().check(f, &x, &g);
    assert!(!rep.passes(1e-6), "{rep:?}");
    assert_eq!(rep.worst_index, 3);
    // a sign error is caught too
    let mut g = grad(&x);
    g[1] = -g[1];
    let rep = GradCheck::default().check(f, &x, &g);
    assert!(rep.max_rel_err > 1.0);
    assert_eq!(rep.worst_index, 1);
    // NaN never passes
    let mut g = grad(&x);
    g[0] = f64::NAN;
    assert!(!GradCheck::default().check(f, &x, &g).passes(1e6));
}

#[test]
#[should_panic(expected = "gradient check failed")]
fn assert_below_panics_on_failure() {
    let x = [1.0, 2.0];
    GradCheck::default()
        .check(f, &x, &[0.0, 0.0])
        .assert_below(1e-6, "zero gradient");
}

#[test]
fn numeric_gradient_of_quadratic_is_exact_to_rounding() {
    let x = [1.0, -2.0, 3.0];
    let g = numeric_gradient(|v| v.iter().map(|a| a * a).sum(), &x, 1e-4);
    for (gi, xi) in g.iter().zip(x) {
        assert!((gi - 2.0 * xi).abs() < 1e-9);
    }
}

/// LeakyReLU(0.2), the ICNN's σ.
fn leaky(u: f64) -> f64 {
    if u > 0.0 {
        u
    } else {
        0.2 * u
    }
}

/// Two switches, 0.01h left and 0.03h right of x = 0.5h: both within h/2, the smallest step's reach
fn two_sided(x: f64) -> f64 {
    let h = GradCheck::default().h;
    leaky(x - 0.49 * h) + leaky(x - 0.53 * h)
}

#[test]
fn a_kink_inside_the_stencil_is_passed_by_a_smaller_clean_stencil() {
    // F(x) = Σ σ(xᵢ) + x₀x₁: coordinate 1 sits 0.6h right of σ's kink, so the central difference at h
    // (σ' = 1 on one part, 0.2 on the other) is off by ~0.1 relative; at h/4 the stencil is clean.
    let h = GradCheck::default().h;
    let f = |x: &[f64]| leaky(x[0]) + leaky(x[1]) + x[0] * x[1];
    let x = [0.7, 0.6 * h];
    let analytic = [1.0 + x[1], 1.0 + x[0]];
    let rep = GradCheck::default().check(f, &x, &analytic);
    assert_eq!((rep.one_sided, rep.skipped), (0, 0), "{rep:?}");
    rep.assert_below(1e-8, "σ kink at 0.6h");
    // the central difference at h alone misses by ~0.1 (the report shows it)
    assert!((rep.numeric - analytic[1]).abs() > 0.05, "{rep:?}");
}

#[test]
fn a_switch_closer_than_every_step_is_checked_on_its_clean_side() {
    // F jumps by 1e-4 at x = 0 (as a loss through σ' does when a pre-activation changes sign): the
    // central difference at h reads 1e-4/2h = 5, the derivative is 3. At h/64 from the jump every step
    // straddles it; the left one-sided differences are clean and agree across steps.
    let h = GradCheck::default().h;
    let f = |x: &[f64]| 3.0 * x[0] + if x[0] > 0.0 { 1e-4 } else { 0.0 };
    let rep = GradCheck::default().check(f, &[-h / 64.0], &[3.0]);
    assert_eq!((rep.one_sided, rep.skipped), (1, 0), "{rep:?}");
    rep.assert_below(1e-8, "jump at h/64");
    // a kink (σ) h/64 to the left: the right side is clean
    let rep = GradCheck::default().check(|x: &[f64]| leaky(x[0]), &[h / 64.0], &[1.0]);
    assert_eq!((rep.one_sided, rep.skipped), (1, 0), "{rep:?}");
    rep.assert_below(1e-8, "σ kink at h/64");
}

#[test]
fn a_wrong_gradient_at_a_kink_still_fails() {
    // matching neither side: the slope of neither branch (1 or 0.2), nor a mix of the two
    let h = GradCheck::default().h;
    for x in [h / 64.0, 0.6 * h] {
        for wrong in [0.5, 0.6, -1.0, 0.0] {
            let rep = GradCheck::default().check(|x: &[f64]| leaky(x[0]), &[x], &[wrong]);
            assert!(!rep.passes(1e-6), "{x} {wrong}: {rep:?}");
        }
    }
    // the other branch's slope fails whether a switch is near or not
    for x in [h / 64.0, 0.6 * h, 3.0 * h] {
        let rep = GradCheck::default().check(|x: &[f64]| leaky(x[0]), &[x], &[0.2]);
        assert!(!rep.passes(1e-6), "{x}: {rep:?}");
    }
}

#[test]
fn switches_on_both_sides_are_skipped_and_too_many_skips_fail() {
    let h = GradCheck::default().h;
    // one coordinate, skipped: nothing was checked, so it fails whatever the claimed value
    for claim in [1.2, 0.6, 2.0] {
        let rep = GradCheck::default().check(|x: &[f64]| two_sided(x[0]), &[0.5 * h], &[claim]);
        assert_eq!((rep.skipped, rep.max_skipped), (1, 0), "{rep:?}");
        assert!(!rep.passes(1e-6), "{rep:?}");
    }
    // two of eight may be skipped (⌊8/4⌋), three may not
    let f = |x: &[f64]| x.iter().map(|&v| two_sided(v)).sum::<f64>();
    for (skips, pass) in [(2, true), (3, false)] {
        let mut x = [0.3; 8];
        x[..skips].fill(0.5 * h);
        let analytic: Vec<f64> = x.iter().map(|&v| if v > h { 2.0 } else { 1.2 }).collect();
        let rep = GradCheck::default().check(f, &x, &analytic);
        assert_eq!(
            (rep.checked, rep.skipped, rep.max_skipped),
            (8 - skips, skips, 2),
            "{rep:?}"
        );
        assert_eq!(rep.passes(1e-6), pass, "{rep:?}");
    }
}

#[test]
fn the_floor_grows_with_the_value_so_rounding_of_a_large_value_is_not_an_error() {
    // F = C + x², C = 1e4: F carries a rounding error ε·C ≈ 2e-12, so the central difference of the
    // small derivative 2x = 2e-4 is off by ~ε·C/h ≈ 2e-7 — 2e-4 relative to an unscaled 1e-3 floor,
    // 2e-8 relative to the scaled floor 1e-3·|F| = 10.
    let f = |x: &[f64]| 1e4 + x[0] * x[0];
    let x = [1e-4];
    let rep = GradCheck::default().check(f, &x, &[2e-4]);
    rep.assert_below(1e-6, "1e4 + x²");
    let unscaled = GradCheck {
        floor: 1e-3 / 1e4,
        ..GradCheck::default()
    };
    assert!(!unscaled.check(f, &x, &[2e-4]).passes(1e-6));
    // a wrong derivative of the same size is still caught: 20 % off is 4e-5 absolute, 4e-6 relative to 10
    assert!(!GradCheck::default().check(f, &x, &[2.4e-4]).passes(1e-6));
}
