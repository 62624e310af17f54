//! The ICNN's and the Lipschitz net's hand-derived gradients at the production shape — [64]×4 hidden,
//! d = 50, batch 256, where gemm runs its full-tile micro-kernel paths (the proptests in tests/nn_icnn.rs
//! and the checks in tests/nn_lipschitz.rs run at widths ≤ 8, on the column and dot kernels only) —
//! against f64 finite differences on sampled coordinates (`GradCheck::check_coords`: 48 per check, spread
//! over every parameter block or input row).

use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::nn::icnn::Activation;
use monge::nn::lipschitz::{LipschitzConfig, LipschitzNet};
use monge::random::Stream;
use nn_common::{grad_map, seeded_value, with_params, Case, Shape};

mod nn_common;

const D: usize = 50;
const B: usize = 256;
const TOL: f64 = 1e-6;
const COORDS: usize = 48;

/// The ICNN case: [64]×4, d = 50, batch 256; V and the row weights w carry 1/B and a sign (the losses
/// are batch means).
fn case(seed: u64) -> Case {
    let shape = Shape {
        d: D,
        hidden: vec![64; 4],
        b: B,
        output_activation: false,
        activation: Activation::LeakyRelu,
        // std ≈ 1/√fan-in keeps the activations of order 1 through four layers of 64
        std: 0.12,
        quadratic: None,
        scale: B as f64,
    };
    nn_common::case(seed, shape)
}

/// `COORDS` distinct coordinates of `0..len`, evenly strided with a seeded offset (every block of a
/// parameter vector laid out layer by layer gets some).
fn coords(len: usize, seed: u64) -> Vec<usize> {
    let mut rng = Stream::new(seed, 1);
    let stride = len / COORDS;
    (0..COORDS)
        .map(|k| k * stride + (rng.next_u64() as usize) % stride.max(1))
        .collect()
}

#[test]
fn icnn_value_param_grad_matches_finite_differences_at_the_production_shape() {
    let c = case(1);
    let mut ws = c.net.workspace(B);
    let mut g = vec![0.0; c.net.n_params()];
    c.net.param_grad_of_value(c.x.view(), &c.w, &mut ws, &mut g);
    let f = |th: &[f64]| seeded_value(&with_params(&c.net, th), &c.x, &c.w);
    GradCheck::default()
        .check_coords(f, c.net.params(), &g, &coords(g.len(), 2))
        .assert_below(TOL, "Σ w g(x) w.r.t. θ, [64]×4, d = 50, B = 256");
}

#[test]
fn icnn_map_param_grad_matches_finite_differences_at_the_production_shape() {
    // The double backprop of the W2 g step: ∂/∂θ Σ ⟨V, ∇ₓg(x)⟩.
    let c = case(3);
    let mut ws = c.net.workspace(B);
    let mut g = vec![0.0; c.net.n_params()];
    c.net
        .param_grad_of_map(c.x.view(), c.v.view(), &mut ws, &mut g);
    let f = |th: &[f64]| nn_common::map_dot(&with_params(&c.net, th), &c.x, &c.v);
    GradCheck::default()
        .check_coords(f, c.net.params(), &g, &coords(g.len(), 4))
        .assert_below(TOL, "Σ ⟨V, ∇g(x)⟩ w.r.t. θ, [64]×4, d = 50, B = 256");
}

#[test]
fn icnn_grad_x_matches_finite_differences_at_the_production_shape() {
    let c = case(5);
    let t = grad_map(&c.net, &c.x);
    let an: Vec<f64> = (0..B * D).map(|k| c.w[k / D] * t.as_slice()[k]).collect();
    let f = |xs: &[f64]| seeded_value(&c.net, &Mat::from_vec(B, D, xs.to_vec()).unwrap(), &c.w);
    GradCheck::default()
        .check_coords(f, c.x.as_slice(), &an, &coords(B * D, 6))
        .assert_below(TOL, "∇x Σ w g(x), [64]×4, d = 50, B = 256");
}

/// The W1 potential at its defaults ([64]×4, GroupSort with 4 groups) with Cayley or Björck (order 2 × 20,
/// as trained), its Q from the current parameters, a batch and row weights (a batch mean with signs).
fn lipschitz_case(cfg: LipschitzConfig, seed: u64) -> (LipschitzNet<f64>, Mat<f64>, Vec<f64>) {
    let mut rng = Stream::new(seed, 0);
    let mut net = LipschitzNet::<f64>::new(D, cfg, &mut rng);
    net.validate().unwrap();
    net.orthonormalise(false);
    let x = Mat::from_fn(B, D, |_, _| rng.normal());
    let s = (0..B).map(|_| rng.normal_f64() / B as f64).collect();
    (net, x, s)
}

fn lipschitz_value_sum(net: &LipschitzNet<f64>, p: &[f64], x: &Mat<f64>, s: &[f64]) -> f64 {
    let mut n = net.clone();
    n.params_mut().copy_from_slice(p);
    n.orthonormalise(false);
    n.values(x).iter().zip(s).map(|(a, b)| a * b).sum()
}

#[test]
fn lipschitz_param_grad_matches_finite_differences_at_the_production_shape() {
    // ∂/∂θ Σ s_i f(x_i) through GroupSort and the orthonormaliser's backward (Cayley's transpose rule,
    // Björck's iteration in reverse), at the full-tile kernel shapes. Every weight of a layer moves all
    // of Q and so every pre-activation of 256 rows: GroupSort swaps lie within 2h of most coordinates at
    // h = 1e-5 (Cayley: 20 of 48 checked one-sided, 3 skipped), none at h = 1e-6 (rounding stays at
    // ε/(h·floor) ≈ 2e-7 of the floor; measured worst error 8e-8).
    let check = GradCheck {
        h: 1e-6,
        ..GradCheck::default()
    };
    for (k, cfg) in [LipschitzConfig::default(), LipschitzConfig::bjorck()]
        .into_iter()
        .enumerate()
    {
        let what = format!(
            "Σ s f(x) w.r.t. θ, {:?}, [64]×4, d = 50, B = 256",
            cfg.ortho
        );
        let (mut net, x, s) = lipschitz_case(cfg, 7 + k as u64);
        let mut ws = net.work(B);
        let mut g = vec![0.0; net.n_params()];
        net.param_grad_of_value(x.view(), &s, &mut g, &mut ws);
        let p0 = net.params().to_vec();
        check
            .check_coords(
                |p| lipschitz_value_sum(&net, p, &x, &s),
                &p0,
                &g,
                &coords(g.len(), 8 + k as u64),
            )
            .assert_below(TOL, &what);
    }
}

#[test]
fn lipschitz_grad_x_matches_finite_differences_at_the_production_shape() {
    for (k, cfg) in [LipschitzConfig::default(), LipschitzConfig::bjorck()]
        .into_iter()
        .enumerate()
    {
        let what = format!("∇x Σ s f(x), {:?}, [64]×4, d = 50, B = 256", cfg.ortho);
        let (net, x, s) = lipschitz_case(cfg, 9 + k as u64);
        let t = net.gradients(&x);
        let an: Vec<f64> = (0..B * D).map(|i| s[i / D] * t.as_slice()[i]).collect();
        let f = |xs: &[f64]| {
            let xm = Mat::from_vec(B, D, xs.to_vec()).unwrap();
            net.values(&xm)
                .iter()
                .zip(&s)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        GradCheck::default()
            .check_coords(f, x.as_slice(), &an, &coords(B * D, 10 + k as u64))
            .assert_below(TOL, &what);
    }
}
