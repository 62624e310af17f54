//! Cayley orthonormalisation: exact derivative (finite differences, f64) for square, tall and wide
//! weights, with and without the learnable scale α, and orthonormality of the output.

mod linalg_common;

use linalg_common::{normal_mat, ortho_err};
use monge::gradcheck::GradCheck;
use monge::linalg::cayley::{cayley_backward, cayley_forward, inverse_f64, CayleyWork};
use monge::linalg::{ops, Mat};
use proptest::prelude::*;

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    normal_mat(rows, cols, seed, 1)
}

fn q_of(w: &Mat<f64>, alpha: Option<f64>) -> Mat<f64> {
    let mut ws = CayleyWork::new(w.rows(), w.cols());
    let mut q = Mat::zeros(w.rows(), w.cols());
    cayley_forward(w.view(), alpha, q.view_mut(), &mut ws);
    q
}

fn check(rows: usize, cols: usize, alpha: Option<f64>, seed: u64) {
    let w = random(rows, cols, seed);
    let g = random(rows, cols, seed + 50);
    let mut ws = CayleyWork::new(rows, cols);
    let mut q = Mat::zeros(rows, cols);
    cayley_forward(w.view(), alpha, q.view_mut(), &mut ws);
    let mut wbar = vec![0.0; rows * cols];
    let mut abar = 0.0;
    cayley_backward(
        g.view(),
        &mut wbar,
        alpha.is_some().then_some(&mut abar),
        &mut ws,
    );
    // parameters: W then (if scaled) α
    let mut x = w.as_slice().to_vec();
    let mut an = wbar.clone();
    if let Some(a) = alpha {
        x.push(a);
        an.push(abar);
    }
    let loss = |p: &[f64]| {
        let wm = Mat::from_vec(rows, cols, p[..rows * cols].to_vec()).unwrap();
        ops::dot(
            q_of(&wm, alpha.map(|_| p[rows * cols])).as_slice(),
            g.as_slice(),
        )
    };
    GradCheck::default()
        .check(loss, &x, &an)
        .assert_below(1e-6, &format!("cayley {rows}x{cols} α={alpha:?}"));
}

#[test]
fn cayley_backward_matches_finite_differences_square_tall_wide() {
    for &(r, c) in &[(5, 5), (8, 3), (3, 8), (1, 6), (6, 1)] {
        check(r, c, None, (r * 10 + c) as u64);
    }
}

#[test]
fn cayley_backward_matches_finite_differences_with_alpha() {
    for &(r, c) in &[(5, 5), (8, 3), (3, 8)] {
        check(r, c, Some(1.7), (r * 10 + c) as u64 + 7);
    }
}

#[test]
fn cayley_is_orthonormal_f64() {
    for &(r, c) in &[(64, 64), (64, 2), (2, 64), (64, 1000), (1, 64)] {
        let w = random(r, c, 3);
        let alpha = (w.as_slice().iter().map(|v| v * v).sum::<f64>()).sqrt();
        for a in [None, Some(alpha)] {
            let e = ortho_err(&q_of(&w, a));
            assert!(e <= 1e-10, "{r}x{c} α={a:?}: {e:e}");
        }
    }
}

#[test]
fn cayley_is_orthonormal_f32() {
    let w = random(64, 50, 4).cast::<f32>();
    let mut ws = CayleyWork::new(64, 50);
    let mut q = Mat::<f32>::zeros(64, 50);
    cayley_forward(w.view(), Some(3.0), q.view_mut(), &mut ws);
    let e = ortho_err(&q.cast::<f64>());
    assert!(e <= 1e-5, "{e:e}");
}

#[test]
fn inverse_f64_inverts_a_pivoting_matrix() {
    // zero leading pivot forces a row swap
    let a = [0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 3.0, 0.0, 1.0];
    let (mut lu, mut piv, mut inv) = ([0.0; 18], [0usize; 3], [0.0; 9]);
    assert!(inverse_f64(3, &a, &mut lu, &mut piv, &mut inv));
    for i in 0..3 {
        for j in 0..3 {
            let s: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
            let d = if i == j { 1.0 } else { 0.0 };
            assert!((s - d).abs() < 1e-14, "({i},{j}) {s}");
        }
    }
    let singular = [1.0, 2.0, 2.0, 4.0];
    let (mut lu, mut piv, mut inv) = ([0.0; 8], [0usize; 2], [0.0; 4]);
    assert!(!inverse_f64(2, &singular, &mut lu, &mut piv, &mut inv));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn cayley_output_is_orthonormal_for_random_shapes(r in 1usize..24, c in 1usize..24, seed in 0u64..1000) {
        let e = ortho_err(&q_of(&random(r, c, seed), Some(2.0)));
        prop_assert!(e <= 1e-10, "{}x{}: {:e}", r, c, e);
    }
}
