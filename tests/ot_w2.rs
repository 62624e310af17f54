//! W2 solver: the full L_g (with every penalty) and L_f gradients against f64 central differences, option
//! validation, determinism, save/load, and training outcomes (8gaussians fit, sparse displacement).

use monge::data::toys::Toy;
use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::nn::icnn::{Icnn, IcnnConfig, IcnnInit};
use monge::ot::penalty::Penalty;
use monge::ot::w2::{f_loss_and_grad, fit, g_loss_and_grad, W2Config, W2Map, W2Trainer};
use monge::ot::TransportMap;
use monge::random::Stream;
use monge::Error;
use proptest::prelude::*;

fn nets(seed: u64, d: usize, hidden: Vec<usize>, oa: bool) -> (Icnn<f64>, Icnn<f64>) {
    let cfg = IcnnConfig {
        hidden,
        init: IcnnInit::Normal { std: 0.5 },
        output_activation: oa,
    };
    let f = Icnn::new(d, &cfg, &mut Stream::new(seed, 0));
    let g = Icnn::new(d, &cfg, &mut Stream::new(seed, 1));
    (f, g)
}

fn with_params(net: &Icnn<f64>, th: &[f64]) -> Icnn<f64> {
    let mut n = net.clone();
    n.params_mut().copy_from_slice(th);
    n
}

fn penalty_of(k: usize) -> Penalty {
    match k {
        0 => Penalty::None,
        1 => Penalty::L1,
        2 => Penalty::Stvs { gamma: 0.8 },
        _ => Penalty::SmoothedL0 { sigma: 0.6 },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn g_loss_gradient_matches_finite_differences(
        seed in any::<u64>(), d in 1usize..4, hidden in prop::collection::vec(1usize..5, 1..4),
        b in 1usize..5, pk in 0usize..4, oa in any::<bool>(),
    ) {
        let (f, g) = nets(seed, d, hidden, oa);
        let mut rng = Stream::new(seed, 2);
        let x = Mat::from_fn(b, d, |_, _| rng.normal());
        let pen = penalty_of(pk);
        let (lambda, fnorm) = (0.7, 1.3);
        let mut grad = vec![0.0; g.n_params()];
        g_loss_and_grad(&f, &g, &x, pen, lambda, fnorm, &mut grad);
        let loss = |th: &[f64]| {
            let mut scratch = vec![0.0; th.len()];
            g_loss_and_grad(&f, &with_params(&g, th), &x, pen, lambda, fnorm, &mut scratch)
        };
        GradCheck::default().check(loss, g.params(), &grad).assert_below(1e-6, "∂L_g/∂θ_g");
    }

    #[test]
    fn f_loss_gradient_matches_finite_differences(
        seed in any::<u64>(), d in 1usize..4, hidden in prop::collection::vec(1usize..5, 1..4),
        b in 1usize..5, oa in any::<bool>(),
    ) {
        let (f, g) = nets(seed, d, hidden, oa);
        let mut rng = Stream::new(seed, 2);
        let x = Mat::from_fn(b, d, |_, _| rng.normal());
        let y = Mat::from_fn(b, d, |_, _| rng.normal());
        let mut grad = vec![0.0; f.n_params()];
        f_loss_and_grad(&f, &g, &x, &y, &mut grad);
        let loss = |th: &[f64]| {
            let mut scratch = vec![0.0; th.len()];
            f_loss_and_grad(&with_params(&f, th), &g, &x, &y, &mut scratch)
        };
        GradCheck::default().check(loss, f.params(), &grad).assert_below(1e-6, "∂L_f/∂θ_f");
    }
}

/// L_g written out directly from its definition (for the value, not the gradient).
#[test]
fn g_loss_value_matches_its_definition() {
    let (f, g) = nets(5, 3, vec![4, 4], false);
    let mut rng = Stream::new(5, 3);
    let x = Mat::from_fn(6, 3, |_, _| rng.normal());
    let pen = Penalty::SmoothedL0 { sigma: 0.5 };
    let mut grad = vec![0.0; g.n_params()];
    let got = g_loss_and_grad(&f, &g, &x, pen, 0.3, 2.0, &mut grad);
    let mut ws = g.workspace(6);
    let mut t = Mat::zeros(6, 3);
    g.grad_x(x.view(), &mut ws, t.view_mut());
    let mut fws = f.workspace(6);
    let mut ft = vec![0.0; 6];
    f.value(t.view(), &mut fws, &mut ft);
    let mut want = 0.0;
    for i in 0..6 {
        let xt: f64 = (0..3).map(|j| x.get(i, j) * t.get(i, j)).sum();
        let delta: Vec<f64> = (0..3).map(|j| t.get(i, j) - x.get(i, j)).collect();
        want += (ft[i] - xt + 0.3 * pen.value(&delta)) / 6.0;
    }
    want += 2.0 * g.w_penalty(1.0, None);
    assert!(
        (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
        "{got} vs {want}"
    );
}

fn toy_data(name: &str, n: usize, seed: u64) -> (Mat<f32>, Mat<f32>) {
    let toy = Toy::from_name(name).unwrap();
    let mut r1 = Stream::new(seed, 8);
    let mut r2 = Stream::new(seed, 9);
    (toy.sample_source(n, &mut r1), toy.sample_target(n, &mut r2))
}

fn small_cfg() -> W2Config {
    W2Config {
        hidden: vec![16, 16],
        batch: 64,
        iterations: 30,
        eval_every: 10,
        lr_f: 1e-3,
        lr_g: 1e-3,
        ..W2Config::default()
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let (x, y) = toy_data("8gaussians", 200, 1);
    let cfg = small_cfg();
    let y3 = Mat::<f32>::zeros(200, 3);
    assert!(matches!(
        W2Trainer::new(&x, &y3, &cfg),
        Err(Error::Shape(_))
    ));
    let empty = Mat::<f32>::zeros(0, 2);
    assert!(matches!(
        W2Trainer::new(&empty, &y, &cfg),
        Err(Error::Data { .. })
    ));
    let mut bad = x.clone();
    bad.set(7, 1, f32::NAN);
    match W2Trainer::new(&bad, &y, &cfg) {
        Err(Error::Data { row, col, .. }) => assert_eq!((row, col), (Some(8), Some(2))),
        other => panic!("expected a data error, got {:?}", other.err()),
    }
    let big = W2Config {
        batch: 500,
        ..small_cfg()
    };
    assert!(matches!(W2Trainer::new(&x, &y, &big), Err(Error::Usage(_))));
    let neg = W2Config {
        lambda: -1.0,
        ..small_cfg()
    };
    assert!(matches!(W2Trainer::new(&x, &y, &neg), Err(Error::Usage(_))));
}

#[test]
fn divergence_is_reported_and_the_best_model_kept() {
    let (x, y) = toy_data("8gaussians", 300, 2);
    let cfg = W2Config {
        lr_f: 1e30,
        lr_g: 1e30,
        ..small_cfg()
    };
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    let err = tr.run(1000, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    let it = match err {
        Error::Diverged { iteration, .. } => iteration,
        _ => unreachable!(),
    };
    // the step stopped before the bad update: every kept parameter is finite
    assert!(tr.g().params().iter().all(|v| v.is_finite()));
    assert!(tr.f().params().iter().all(|v| v.is_finite()));
    assert_eq!(tr.iteration(), it - 1);
    let best = tr.best_map();
    assert!(best.potential().params().iter().all(|v| v.is_finite()));
    assert!(tr.report().best_iteration < it);
}

#[test]
fn same_seed_and_threads_give_bit_identical_models() {
    let (x, y) = toy_data("moons", 400, 3);
    for threads in [1, 2] {
        let cfg = W2Config {
            threads,
            ..small_cfg()
        };
        let (m1, r1) = fit(&x, &y, &cfg, &mut |_| {}).unwrap();
        let (m2, r2) = fit(&x, &y, &cfg, &mut |_| {}).unwrap();
        assert_eq!(r1.evals, r2.evals);
        let b1: Vec<u32> = m1
            .potential()
            .params()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let b2: Vec<u32> = m2
            .potential()
            .params()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        assert!(b1 == b2, "{threads} threads: runs differ");
    }
}

#[test]
fn two_threads_agree_with_one_up_to_rounding() {
    let (x, y) = toy_data("moons", 400, 4);
    let mut t1 = W2Trainer::new(&x.cast::<f64>(), &y.cast::<f64>(), &small_cfg()).unwrap();
    let cfg2 = W2Config {
        threads: 2,
        ..small_cfg()
    };
    let mut t2 = W2Trainer::new(&x.cast::<f64>(), &y.cast::<f64>(), &cfg2).unwrap();
    for _ in 0..3 {
        let (s1, s2) = (t1.step().unwrap(), t2.step().unwrap());
        assert!((s1.loss_g - s2.loss_g).abs() <= 1e-9 * (1.0 + s1.loss_g.abs()));
        assert!((s1.w2 - s2.w2).abs() <= 1e-9 * (1.0 + s1.w2.abs()));
    }
    let (p1, p2) = (t1.g().params(), t2.g().params());
    let md = p1
        .iter()
        .zip(p2)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(md <= 1e-9, "parameters differ by {md}");
}

#[test]
fn saved_map_round_trips_exactly() {
    let (x, y) = toy_data("8gaussians", 300, 5);
    let cfg = W2Config {
        output_activation: true,
        ..small_cfg()
    };
    let (m, _) = fit(&x, &y, &cfg, &mut |_| {}).unwrap();
    let saved = m.to_saved();
    assert_eq!(saved.method, "w2");
    let back = W2Map::from_saved(&saved).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.transport(&x), m.transport(&x));
    let mut broken = saved.clone();
    broken.tensors[0].1 = vec![1, 1];
    assert!(matches!(
        W2Map::from_saved(&broken),
        Err(Error::Model { .. })
    ));
}

#[test]
fn step_exposes_the_batches_and_lambda() {
    let (x, y) = toy_data("circles", 300, 6);
    let cfg = W2Config {
        penalty: Penalty::L1,
        lambda: 0.1,
        ..small_cfg()
    };
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    tr.set_lambda(0.25);
    assert_eq!(tr.lambda(), 0.25);
    let st = tr.step().unwrap();
    assert_eq!(st.iteration, 1);
    assert!(st.penalty > 0.0);
    // the exposed mapped batch is ∇g of the exposed source batch under the current g
    let again = tr.map().transport(tr.last_source());
    assert_eq!(&again, tr.last_mapped());
    assert_eq!(tr.last_target().rows(), 64);
}
