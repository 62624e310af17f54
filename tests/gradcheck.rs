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
