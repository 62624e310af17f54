//! ICNN: every hand-derived gradient against f64 central differences at random shapes, convexity and
//! monotonicity of the map for non-negative W.

#[path = "common/cases.rs"]
mod cases;
mod nn_common;

use monge::gradcheck::GradCheck;
use monge::linalg::{Mat, MatRef};
use monge::nn::icnn::{Activation, Icnn, IcnnConfig, IcnnInit};
use monge::random::Stream;
use nn_common::{grad_map, with_params, Case, Shape};
use proptest::prelude::*;

const TOL: f64 = 1e-6;

/// A random network (weights of both signs, non-zero biases so kinks are off the data) and batch.
fn case(seed: u64, d: usize, hidden: Vec<usize>, b: usize, out_act: bool, act: Activation) -> Case {
    let shape = Shape {
        d,
        hidden,
        b,
        output_activation: out_act,
        activation: act,
        std: 0.7,
        quadratic: None,
        scale: 1.0,
    };
    nn_common::case(seed, shape)
}

fn shapes() -> impl Strategy<Value = (u64, usize, Vec<usize>, usize, bool)> {
    (
        any::<u64>(),
        1usize..5,
        prop::collection::vec(1usize..6, 1..4),
        1usize..6,
        any::<bool>(),
    )
}

/// Step B5: `∂/∂θ Σ w g(x)`.
fn check_value_param_grad(c: &Case) {
    let b = c.x.rows();
    let mut ws = c.net.workspace(b);
    let mut g = vec![0.0; c.net.n_params()];
    c.net.param_grad_of_value(c.x.view(), &c.w, &mut ws, &mut g);
    let f = |th: &[f64]| nn_common::seeded_value(&with_params(&c.net, th), &c.x, &c.w);
    GradCheck::default()
        .check(f, c.net.params(), &g)
        .assert_below(TOL, "Σ w g(x) w.r.t. θ");
}

/// Step B4: `∇x Σ w g`, through the map (seed 1) and through the seeded backward.
fn check_grad_x(c: &Case) {
    let (b, d) = (c.x.rows(), c.x.cols());
    let t = grad_map(&c.net, &c.x);
    let f = |xs: &[f64]| {
        let x = Mat::from_vec(b, d, xs.to_vec()).unwrap();
        nn_common::seeded_value(&c.net, &x, &c.w)
    };
    // analytic: row i of ∇_x Σ w g = w_i ∇g(x_i)
    let an: Vec<f64> = (0..b * d).map(|k| c.w[k / d] * t.as_slice()[k]).collect();
    GradCheck::default()
        .check(f, c.x.as_slice(), &an)
        .assert_below(TOL, "∇x g");
    // the seeded backward gives the same thing directly
    let mut ws = c.net.workspace(b);
    c.net.forward(c.x.view(), &mut ws);
    c.net.backward(&mut ws, Some(&c.w));
    let mut seeded = Mat::zeros(b, d);
    c.net.input_grad(&ws, seeded.view_mut());
    for (a, s) in an.iter().zip(seeded.as_slice()) {
        assert!(
            (a - s).abs() <= 1e-12 * (1.0 + a.abs()),
            "seeded {s} vs {a}"
        );
    }
}

/// Step D: `∂/∂θ Σ ⟨V, ∇g(x)⟩`.
fn check_map_param_grad(c: &Case) {
    let b = c.x.rows();
    let mut ws = c.net.workspace(b);
    let mut g = vec![0.0; c.net.n_params()];
    c.net
        .param_grad_of_map(c.x.view(), c.v.view(), &mut ws, &mut g);
    let f = |th: &[f64]| nn_common::map_dot(&with_params(&c.net, th), &c.x, &c.v);
    GradCheck::default()
        .check(f, c.net.params(), &g)
        .assert_below(TOL, "Σ ⟨V, ∇g(x)⟩ w.r.t. θ");
}

/// Step J: `∇²g v`, each coordinate as the derivative of t ↦ ∇g(x + tV)_k at 0.
fn check_jacobian_vector(c: &Case) {
    let (b, d) = (c.x.rows(), c.x.cols());
    let mut ws = c.net.workspace(b);
    let mut hv = Mat::zeros(b, d);
    c.net
        .jacobian_vector(c.x.view(), c.v.view(), &mut ws, hv.view_mut());
    let analytic: Vec<f64> = hv.as_slice().to_vec();
    let f_all = |t: f64| {
        let x = Mat::from_fn(b, d, |i, j| c.x.get(i, j) + t * c.v.get(i, j));
        grad_map(&c.net, &x)
    };
    for k in 0..b * d {
        let f = |t: &[f64]| f_all(t[0]).as_slice()[k];
        GradCheck::default()
            .check(f, &[0.0], &analytic[k..k + 1])
            .assert_below(TOL, "∇²g v");
    }
}

/// With W clamped to ≥ 0, g lies below its chords and ∇g is monotone.
fn check_convex(seed: u64, d: usize, hidden: Vec<usize>, oa: bool, act: Activation) {
    let mut rng = Stream::new(seed, 1);
    let cfg = IcnnConfig {
        hidden,
        init: IcnnInit::Normal { std: 0.5 },
        output_activation: oa,
        activation: act,
    };
    let mut net = Icnn::<f64>::new(d, &cfg, &mut rng);
    net.clamp_nonneg();
    assert!(net.is_convex());
    let n = 20;
    let p = Mat::from_fn(n, d, |_, _| 2.0 * rng.normal_f64());
    let q = Mat::from_fn(n, d, |_, _| 2.0 * rng.normal_f64());
    let ts = [0.1, 0.3, 0.5, 0.77, 0.9];
    let mut ws = net.workspace(n);
    let (mut gp, mut gq, mut gm) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    net.value(p.view(), &mut ws, &mut gp);
    net.value(q.view(), &mut ws, &mut gq);
    for &t in &ts {
        let m = Mat::from_fn(n, d, |i, j| t * p.get(i, j) + (1.0 - t) * q.get(i, j));
        net.value(m.view(), &mut ws, &mut gm);
        for i in 0..n {
            let chord = t * gp[i] + (1.0 - t) * gq[i];
            assert!(
                gm[i] <= chord + 1e-12 * (1.0 + chord.abs()),
                "g above its chord"
            );
        }
    }
    // the map ∇g is monotone: ⟨∇g(p) − ∇g(q), p − q⟩ ≥ 0
    let (tp, tq) = (grad_map(&net, &p), grad_map(&net, &q));
    for i in 0..n {
        let s: f64 = (0..d)
            .map(|j| (tp.get(i, j) - tq.get(i, j)) * (p.get(i, j) - q.get(i, j)))
            .sum();
        assert!(s >= -1e-12, "∇g not monotone: {s}");
    }
}

const LEAKY: Activation = Activation::LeakyRelu;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases::cases(1000)))]

    #[test]
    fn value_param_grad_matches_finite_differences((seed, d, hidden, b, oa) in shapes()) {
        check_value_param_grad(&case(seed, d, hidden, b, oa, LEAKY));
    }

    #[test]
    fn grad_x_matches_finite_differences((seed, d, hidden, b, oa) in shapes()) {
        check_grad_x(&case(seed, d, hidden, b, oa, LEAKY));
    }

    #[test]
    fn map_param_grad_matches_finite_differences((seed, d, hidden, b, oa) in shapes()) {
        check_map_param_grad(&case(seed, d, hidden, b, oa, LEAKY));
    }

    #[test]
    fn jacobian_vector_matches_finite_differences((seed, d, hidden, b, oa) in shapes()) {
        check_jacobian_vector(&case(seed, d, hidden, b, oa, LEAKY));
    }

    #[test]
    fn w_penalty_grad_matches_finite_differences((seed, d, hidden, _b, oa) in shapes()) {
        let c = case(seed, d, hidden, 1, oa, LEAKY);
        let mut g = vec![0.0; c.net.n_params()];
        let p = c.net.w_penalty(1.0, Some(&mut g));
        prop_assert!(p >= 0.0);
        let f = |th: &[f64]| with_params(&c.net, th).w_penalty(1.0, None);
        GradCheck::default().check(f, c.net.params(), &g).assert_below(TOL, "Σ‖relu(−W)‖_F");
    }

    #[test]
    fn icnn_is_convex_along_segments((seed, d, hidden, _b, oa) in shapes()) {
        check_convex(seed, d, hidden, oa, LEAKY);
    }

    /// ELU: every pass, with the σ'' terms of every layer (steps D6–D8) and the output's ρ''.
    #[test]
    fn elu_passes_match_finite_differences((seed, d, hidden, b, oa) in shapes()) {
        let c = case(seed, d, hidden.clone(), b, oa, Activation::Elu);
        check_value_param_grad(&c);
        check_grad_x(&c);
        check_map_param_grad(&c);
        check_jacobian_vector(&c);
        check_convex(seed, d, hidden, oa, Activation::Elu);
    }
}

#[test]
fn f32_agrees_with_f64() {
    let c = case(7, 3, vec![8, 8, 8], 5, false, LEAKY);
    let net32 = Icnn::<f32>::zeros(3, &[8, 8, 8], false);
    let mut net32 = net32;
    for (a, &b) in net32.params_mut().iter_mut().zip(c.net.params()) {
        *a = b as f32;
    }
    let x32 = c.x.cast::<f32>();
    let mut ws = net32.workspace(5);
    let mut t32 = Mat::zeros(5, 3);
    net32.grad_x(x32.view(), &mut ws, t32.view_mut());
    let t64 = grad_map(&c.net, &c.x);
    for (a, b) in t32.as_slice().iter().zip(t64.as_slice()) {
        assert!(
            (*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "{a} vs {b}"
        );
    }
}

#[test]
fn transport_in_chunks_equals_one_batch() {
    let c = case(3, 2, vec![6, 6], 5, true, LEAKY);
    let x = Mat::from_fn(23, 2, |i, j| (i as f64 * 0.37 + j as f64).sin());
    let mut small = c.net.workspace(4);
    let chunked = c.net.transport(&x, &mut small);
    let whole = grad_map(&c.net, &x);
    let max = chunked
        .as_slice()
        .iter()
        .zip(whole.as_slice())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(max <= 1e-12, "chunked transport differs by {max}");
}

#[test]
fn default_init_is_uniform_nonnegative_and_convex() {
    let mut rng = Stream::new(1, 0);
    let net = Icnn::<f32>::new(5, &IcnnConfig::default(), &mut rng);
    assert!(net.is_convex());
    let a = net.a_all();
    assert_eq!((a.rows(), a.cols()), (257, 5));
    let all_a: Vec<f32> = a.as_slice().to_vec();
    assert!(all_a.iter().all(|&v| (0.0..0.1).contains(&v)));
    assert!(net.b_all().iter().all(|&v| v == 0.0));
    let w: MatRef<f32> = net.w(4);
    assert_eq!((w.rows(), w.cols()), (1, 64));
}
