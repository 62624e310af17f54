//! The quadratic path of an ICNN potential (`nn::quadratic`, issue 13): value, ∇x, parameter gradient,
//! double backprop and Hessian–vector product against f64 central differences at random shapes and ranks
//! (r < d and r = d), convexity for any quadratic parameters, and the exact representation of a given
//! affine map.

#[path = "common/cases.rs"]
mod cases;
mod nn_common;

use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::nn::icnn::{Activation, Icnn, IcnnConfig};
use monge::random::Stream;
use nn_common::{grad_map, seeded_value, with_params, Case, Shape};
use proptest::prelude::*;

const TOL: f64 = 1e-6;

/// A random ICNN (weights of both signs) with a quadratic path of rank `rank`, every quadratic parameter
/// random (s of both signs so softplus and its derivative are exercised away from 1 and ½).
fn case(seed: u64, d: usize, hidden: Vec<usize>, b: usize, rank: usize, oa: bool) -> Case {
    let shape = Shape {
        d,
        hidden,
        b,
        output_activation: oa,
        activation: Activation::LeakyRelu,
        std: 0.7,
        quadratic: Some(rank),
        scale: 1.0,
    };
    nn_common::case(seed, shape)
}

fn shapes() -> impl Strategy<Value = (u64, usize, Vec<usize>, usize, usize, bool)> {
    (
        any::<u64>(),
        1usize..6,
        prop::collection::vec(1usize..5, 1..3),
        1usize..6,
        0usize..7,
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases::cases(1000)))]

    #[test]
    fn value_param_grad_matches_finite_differences((seed, d, hidden, b, r, oa) in shapes()) {
        let c = case(seed, d, hidden, b, r, oa);
        let mut ws = c.net.workspace(b);
        let mut g = vec![0.0; c.net.n_params()];
        c.net.param_grad_of_value(c.x.view(), &c.w, &mut ws, &mut g);
        let f = |th: &[f64]| seeded_value(&with_params(&c.net, th), &c.x, &c.w);
        GradCheck::default().check(f, c.net.params(), &g).assert_below(TOL, "Σ w φ(x) w.r.t. θ");
    }

    #[test]
    fn grad_x_matches_finite_differences((seed, d, hidden, b, r, oa) in shapes()) {
        let c = case(seed, d, hidden, b, r, oa);
        let f = |xs: &[f64]| seeded_value(&c.net, &Mat::from_vec(b, d, xs.to_vec()).unwrap(), &c.w);
        // the seeded backward gives row i = w_i ∇φ(x_i)
        let mut ws = c.net.workspace(b);
        c.net.forward(c.x.view(), &mut ws);
        c.net.backward(&mut ws, Some(&c.w));
        let mut seeded = Mat::zeros(b, d);
        c.net.input_grad(&ws, seeded.view_mut());
        GradCheck::default().check(f, c.x.as_slice(), seeded.as_slice()).assert_below(TOL, "∇x φ");
    }

    #[test]
    fn map_param_grad_matches_finite_differences((seed, d, hidden, b, r, oa) in shapes()) {
        let c = case(seed, d, hidden, b, r, oa);
        let mut ws = c.net.workspace(b);
        let mut g = vec![0.0; c.net.n_params()];
        c.net.param_grad_of_map(c.x.view(), c.v.view(), &mut ws, &mut g);
        let f = |th: &[f64]| nn_common::map_dot(&with_params(&c.net, th), &c.x, &c.v);
        GradCheck::default().check(f, c.net.params(), &g).assert_below(TOL, "Σ ⟨V, ∇φ(x)⟩ w.r.t. θ");
    }

    #[test]
    fn jacobian_vector_matches_finite_differences((seed, d, hidden, b, r, oa) in shapes()) {
        let c = case(seed, d, hidden, b, r, oa);
        let mut ws = c.net.workspace(b);
        let mut hv = Mat::zeros(b, d);
        c.net.jacobian_vector(c.x.view(), c.v.view(), &mut ws, hv.view_mut());
        let f_all = |t: f64| {
            let x = Mat::from_fn(b, d, |i, j| c.x.get(i, j) + t * c.v.get(i, j));
            grad_map(&c.net, &x)
        };
        for k in 0..b * d {
            let f = |t: &[f64]| f_all(t[0]).as_slice()[k];
            GradCheck::default().check(f, &[0.0], &hv.as_slice()[k..k + 1]).assert_below(TOL, "∇²φ v");
        }
    }

    #[test]
    fn convex_for_any_quadratic_parameters((seed, d, hidden, _b, r, oa) in shapes()) {
        let mut c = case(seed, d, hidden, 1, r, oa);
        let q = *c.net.quadratic().unwrap();
        let before = c.net.params()[q.off..].to_vec();
        c.net.clamp_nonneg();
        prop_assert!(c.net.is_convex());
        // the clamp leaves the quadratic path alone (its parameters need no constraint)
        prop_assert_eq!(&c.net.params()[q.off..], &before[..]);
        let mut rng = Stream::new(seed, 9);
        let n = 16;
        let p = Mat::from_fn(n, d, |_, _| 2.0 * rng.normal_f64());
        let qq = Mat::from_fn(n, d, |_, _| 2.0 * rng.normal_f64());
        let (tp, tq) = (grad_map(&c.net, &p), grad_map(&c.net, &qq));
        for i in 0..n {
            let s: f64 = (0..d).map(|j| (tp.get(i, j) - tq.get(i, j)) * (p.get(i, j) - qq.get(i, j))).sum();
            prop_assert!(s >= -1e-12, "∇φ not monotone: {s}");
        }
    }
}

/// `set_from_matrix` with r = d represents a symmetric positive-definite M exactly, and with the ICNN's
/// output weights at zero the potential's gradient is the affine map x ↦ Mx + β.
#[test]
fn full_rank_path_carries_an_affine_map_exactly() {
    let d = 4;
    let mut rng = Stream::new(5, 0);
    let g = Mat::from_fn(d, d, |_, _| rng.normal_f64());
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            m[i * d + j] = (0..d).map(|k| g.get(i, k) * g.get(j, k)).sum::<f64>()
                + if i == j { 0.3 } else { 0.0 };
        }
    }
    let beta = [0.5, -1.0, 2.0, 0.25];
    let cfg = IcnnConfig::default();
    let mut net = Icnn::<f64>::new(d, &cfg, &mut rng).with_quadratic(d);
    let q = *net.quadratic().unwrap();
    let err = q.set_from_matrix(net.params_mut(), &m, &beta);
    assert!(err < 1e-10, "representation error {err}");
    let l = net.hidden().len();
    let (rw, _, _) = net.w_range(l);
    let (ra, _) = net.a_range(l);
    for k in rw.chain(ra).chain(net.b_range(l)) {
        net.params_mut()[k] = 0.0;
    }
    let x = Mat::from_fn(7, d, |_, _| rng.normal_f64());
    let t = grad_map(&net, &x);
    for i in 0..7 {
        for j in 0..d {
            let want: f64 = (0..d).map(|k| m[j * d + k] * x.get(i, k)).sum::<f64>() + beta[j];
            assert!(
                (t.get(i, j) - want).abs() < 1e-10,
                "({i},{j}): {} vs {want}",
                t.get(i, j)
            );
        }
    }
}

/// With r < d the path is the best rank-r-plus-isotropic approximation: exact on the top-r eigenvectors'
/// span when the remaining eigenvalues are equal.
#[test]
fn low_rank_path_is_exact_for_spiked_matrices() {
    let d = 6;
    let mut rng = Stream::new(8, 0);
    let u1: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            m[i * d + j] = 3.0 * u1[i] * u1[j] + if i == j { 0.7 } else { 0.0 };
        }
    }
    let cfg = IcnnConfig::default();
    let mut net = Icnn::<f64>::new(d, &cfg, &mut rng).with_quadratic(1);
    let q = *net.quadratic().unwrap();
    let err = q.set_from_matrix(net.params_mut(), &m, &[0.0; 6]);
    assert!(err < 1e-9, "spiked matrix, rank 1: error {err}");
}

/// A fresh path is the identity map, and not at the L = 0 saddle: the double-backprop gradient in L is
/// non-zero for a non-zero tangent.
#[test]
fn fresh_path_is_the_identity_and_l_can_learn() {
    let (d, r, b) = (5, 3, 4);
    let mut rng = Stream::new(11, 0);
    let mut net = Icnn::<f64>::new(d, &IcnnConfig::default(), &mut rng).with_quadratic(r);
    monge::ot::gaussian::silence_icnn(&mut net);
    let x = Mat::from_fn(b, d, |_, _| rng.normal_f64());
    let t = grad_map(&net, &x);
    for (a, e) in t.as_slice().iter().zip(x.as_slice()) {
        assert!(
            (a - e).abs() < 1e-12,
            "fresh path is not the identity: {a} vs {e}"
        );
    }
    let v = Mat::from_fn(b, d, |_, _| rng.normal_f64());
    let mut ws = net.workspace(b);
    let mut g = vec![0.0; net.n_params()];
    net.param_grad_of_map(x.view(), v.view(), &mut ws, &mut g);
    let q = *net.quadratic().unwrap();
    let gl: f64 = g[q.l_range()].iter().map(|v| v * v).sum();
    assert!(
        gl > 1e-6,
        "the gradient in L vanishes at the start (‖∂L‖² = {gl})"
    );
}
