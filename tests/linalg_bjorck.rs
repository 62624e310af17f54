//! Björck orthonormalisation: exact derivative of the unrolled iteration (finite differences, f64) for each
//! order and scale, and orthonormality of the converged result.

mod linalg_common;

use linalg_common::{normal_mat, ortho_err};
use monge::gradcheck::GradCheck;
use monge::linalg::bjorck::{Bjorck, BjorckOrder, BjorckScale, BjorckWork};
use monge::linalg::{gemm, ops, Mat, Op};
use proptest::prelude::*;

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    normal_mat(rows, cols, seed, 0)
}

fn q_of(cfg: Bjorck, w: &Mat<f64>) -> Mat<f64> {
    let mut ws = BjorckWork::new(w.rows(), w.cols(), cfg);
    let mut q = Mat::zeros(w.rows(), w.cols());
    cfg.forward(w.view(), q.view_mut(), &mut ws, false);
    q
}

fn check_grad(cfg: Bjorck, rows: usize, cols: usize, seed: u64) {
    let w = random(rows, cols, seed);
    let g = random(rows, cols, seed + 100);
    let mut ws = BjorckWork::new(rows, cols, cfg);
    let mut q = Mat::zeros(rows, cols);
    cfg.forward(w.view(), q.view_mut(), &mut ws, true);
    let mut wbar = vec![0.0; rows * cols];
    cfg.backward(g.view(), &mut wbar, &mut ws);
    let loss = |x: &[f64]| {
        let wm = Mat::from_vec(rows, cols, x.to_vec()).unwrap();
        ops::dot(q_of(cfg, &wm).as_slice(), g.as_slice())
    };
    GradCheck::default()
        .check(loss, w.as_slice(), &wbar)
        .assert_below(1e-6, &format!("bjorck {cfg:?} {rows}x{cols}"));
}

#[test]
fn bjorck_backward_matches_finite_differences_each_order() {
    for (k, order) in [BjorckOrder::One, BjorckOrder::Two, BjorckOrder::Four]
        .into_iter()
        .enumerate()
    {
        for &(r, c) in &[(6, 4), (3, 7), (5, 5)] {
            let cfg = Bjorck {
                order,
                iters: 6,
                scale: BjorckScale::Frobenius,
            };
            check_grad(cfg, r, c, 10 * k as u64 + r as u64);
        }
    }
}

#[test]
fn bjorck_backward_matches_finite_differences_each_scale() {
    for scale in [
        BjorckScale::Frobenius,
        BjorckScale::OneInf,
        BjorckScale::Dims,
    ] {
        let cfg = Bjorck {
            order: BjorckOrder::Two,
            iters: 5,
            scale,
        };
        check_grad(cfg, 7, 4, 3);
        check_grad(cfg, 4, 7, 4);
    }
}

#[test]
fn bjorck_recorded_and_unrecorded_forward_agree() {
    let w = random(9, 5, 1);
    let cfg = Bjorck::training();
    let mut ws = BjorckWork::new(9, 5, cfg);
    let mut q1 = Mat::zeros(9, 5);
    cfg.forward(w.view(), q1.view_mut(), &mut ws, true);
    let q2 = q_of(cfg, &w);
    assert_eq!(q1, q2);
}

#[test]
fn bjorck_converged_is_orthonormal_f64() {
    for (order, iters) in [
        (BjorckOrder::One, 60),
        (BjorckOrder::Two, 40),
        (BjorckOrder::Four, 30),
    ] {
        for &(r, c) in &[(64, 64), (64, 2), (2, 64), (30, 17)] {
            let cfg = Bjorck {
                order,
                iters,
                scale: BjorckScale::Frobenius,
            };
            let q = q_of(cfg, &random(r, c, r as u64 * 7 + c as u64));
            let e = ortho_err(&q);
            assert!(e <= 1e-10, "order {order:?} {r}x{c}: ‖QᵀQ − I‖_max = {e:e}");
        }
    }
}

#[test]
fn bjorck_converged_is_orthonormal_f32() {
    let w = random(64, 50, 5).cast::<f32>();
    let cfg = Bjorck::export();
    let mut ws = BjorckWork::new(64, 50, cfg);
    let mut q = Mat::<f32>::zeros(64, 50);
    cfg.forward(w.view(), q.view_mut(), &mut ws, false);
    let e = ortho_err(&q.cast::<f64>());
    assert!(e <= 1e-5, "f32 ‖QᵀQ − I‖_max = {e:e}");
}

#[test]
fn bjorck_spectral_norm_stays_at_most_one_before_convergence() {
    // a singular value σ ≤ 1 maps to σ·p(σ²) ≤ 1: check with power iteration on QᵀQ after 2 iterations.
    let w = random(20, 12, 9);
    let q = q_of(
        Bjorck {
            order: BjorckOrder::One,
            iters: 2,
            scale: BjorckScale::OneInf,
        },
        &w,
    );
    let mut g = Mat::zeros(12, 12);
    gemm(1.0, q.view(), Op::T, q.view(), Op::N, 0.0, g.view_mut());
    let mut v = vec![1.0; 12];
    let mut lam = 0.0;
    for _ in 0..500 {
        let mut nv = [0.0; 12];
        for (i, o) in nv.iter_mut().enumerate() {
            *o = v.iter().enumerate().map(|(j, vj)| g.get(i, j) * vj).sum();
        }
        lam = nv.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = nv.iter().map(|x| x / lam).collect();
    }
    assert!(lam <= 1.0 + 1e-12, "‖Q‖₂² = {lam}");
    assert!(
        ortho_err(&q) > 1e-3,
        "two iterations should not have converged yet"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn bjorck_output_is_orthonormal_for_random_shapes(r in 1usize..24, c in 1usize..24, seed in 0u64..1000) {
        let q = q_of(Bjorck { order: BjorckOrder::Four, iters: 40, scale: BjorckScale::Frobenius }, &random(r, c, seed));
        let e = ortho_err(&q);
        prop_assert!(e <= 1e-10, "{}x{}: {:e}", r, c, e);
    }
}
