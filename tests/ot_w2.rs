//! W2 solver: the full L_g (with every penalty) and L_f gradients against f64 central differences, option
//! validation, determinism, save/load, and training outcomes (8gaussians fit, sparse displacement).

#[path = "common/cases.rs"]
mod cases;

use monge::data::toys::Toy;
use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::nn::icnn::{Icnn, IcnnConfig, IcnnInit};
use monge::ot::penalty::Penalty;
use monge::ot::train::Heldout;
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
        ..IcnnConfig::default()
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
    #![proptest_config(ProptestConfig::with_cases(cases::cases(1000)))]

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
    for (i, &fti) in ft.iter().enumerate() {
        let xt: f64 = (0..3).map(|j| x.get(i, j) * t.get(i, j)).sum();
        let delta: Vec<f64> = (0..3).map(|j| t.get(i, j) - x.get(i, j)).collect();
        want += (fti - xt + 0.3 * pen.value(&delta)) / 6.0;
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
    // a batch above the training cells is cut to them (20 of 200 held out per side)
    let big = W2Config {
        batch: 500,
        ..small_cfg()
    };
    assert_eq!(W2Trainer::new(&x, &y, &big).unwrap().batch(), 180);
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
        assert!((s1.half_w2sq - s2.half_w2sq).abs() <= 1e-9 * (1.0 + s1.half_w2sq.abs()));
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

/// Exact W2²(T#μ, ν) on fresh samples of n = 1000 (independent of the training samples), averaged over
/// 4 sample pairs: the W2² between two n = 1000 samples of the same 8gaussians law itself ranges over
/// 0.08–0.21 from draw to draw (mean 0.111, SPEC §5), so one pair is too noisy to judge a map by.
fn fresh_w2sq(map: &W2Map<f32>, toy: &str, seed: u64) -> f64 {
    let mut s = 0.0;
    for k in 0..4 {
        let (xs, yt) = toy_data(toy, 1000, seed * 10 + k + 1000);
        let t = map.transport(&xs);
        s += monge::metrics::exact_w2sq(t.view(), yt.view()).unwrap();
    }
    s / 4.0
}

/// Tuning aid (not a test): `MONGE_TOY=moons MONGE_ITERS=3000 MONGE_LR=1e-3 cargo test --release --test
/// ot_w2 tune -- --ignored --nocapture`.
#[test]
#[ignore]
fn tune() {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let toy = env("MONGE_TOY", "8gaussians");
    let lr: f64 = env("MONGE_LR", "3e-4").parse().unwrap();
    let cfg = W2Config {
        iterations: env("MONGE_ITERS", "1500").parse().unwrap(),
        lr_f: lr,
        lr_g: lr,
        batch: env("MONGE_BATCH", "256").parse().unwrap(),
        output_activation: env("MONGE_OA", "1") == "1",
        seed: env("MONGE_SEED", "0").parse().unwrap(),
        cosine_lr: env("MONGE_COS", "1") == "1",
        g_iters: env("MONGE_GITERS", "10").parse().unwrap(),
        betas: (0.5, env("MONGE_B2", "0.9").parse().unwrap()),
        init: if env("MONGE_INIT", "u") == "normal" {
            IcnnInit::Normal { std: 0.1 }
        } else {
            IcnnInit::default()
        },
        heldout_fraction: env("MONGE_HELD", "0.1").parse().unwrap(),
        ..W2Config::demo()
    };
    eprintln!("{cfg:?}");
    let (x, y) = toy_data(&toy, 1000, cfg.seed);
    let t0 = std::time::Instant::now();
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    for k in 0..cfg.iterations {
        let st = tr.step().unwrap();
        if (k + 1) % 500 == 0 {
            eprintln!(
                "{} half_w2sq {:.3} fnorm {:.4} heldout {:?} exact-now {:.4}",
                k + 1,
                st.half_w2sq,
                st.fnorm,
                tr.evaluate(),
                fresh_w2sq(&tr.map(), &toy, cfg.seed)
            );
        }
    }
    tr.evaluate();
    let rep = tr.report();
    eprintln!(
        "{toy}: best it {} heldout {:?}; exact W2² best {:.4}; {:.1} s",
        rep.best_iteration,
        rep.best_heldout,
        fresh_w2sq(&tr.best_map(), &toy, cfg.seed),
        t0.elapsed().as_secs_f64()
    );
}

/// Source N(0, I₁₀); target = source shifted by (+3, −3) on the first two coordinates (unpaired). The
/// optimal map is that translation: it moves exactly 2 coordinates.
fn shifted_pair(n: usize, seed: u64) -> (Mat<f32>, Mat<f32>) {
    let mut r1 = Stream::new(seed, 8);
    let mut r2 = Stream::new(seed, 9);
    let x = Mat::from_fn(n, 10, |_, _| r1.normal());
    let y = Mat::from_fn(n, 10, |_, j| {
        r2.normal::<f32>()
            + match j {
                0 => 3.0,
                1 => -3.0,
                _ => 0.0,
            }
    });
    (x, y)
}

fn sparse_cfg(penalty: Penalty, lambda: f64) -> W2Config {
    W2Config {
        hidden: vec![64, 64],
        iterations: 600,
        lr_f: 1e-3,
        lr_g: 1e-3,
        cosine_lr: true,
        eval_every: 0,
        penalty,
        lambda,
        ..W2Config::default()
    }
}

#[test]
fn smoothed_l0_penalty_reduces_the_displacement_dimension() {
    let (x, y) = shifted_pair(1000, 11);
    let (xs, _) = shifted_pair(1000, 12);
    // (mean displacement dim at thr 0.02 / 0.05 / 0.1, mean displacement of coordinates 0 and 1)
    let run = |cfg: &W2Config| {
        let (m, _) = fit(&x, &y, cfg, &mut |_| {}).unwrap();
        let t = m.transport(&xs);
        let dims = [0.02, 0.05, 0.1]
            .map(|thr| monge::metrics::displacement_dim(xs.view(), t.view(), thr).0);
        let shift = |j: usize| {
            (0..xs.rows())
                .map(|i| (t.get(i, j) - xs.get(i, j)) as f64)
                .sum::<f64>()
                / xs.rows() as f64
        };
        (dims, [shift(0), shift(1)])
    };
    let (p, p_shift) = run(&sparse_cfg(Penalty::None, 0.0));
    let (s, s_shift) = run(&sparse_cfg(Penalty::SmoothedL0 { sigma: 0.1 }, 2.0));
    eprintln!(
        "mean displacement dim at thr 0.02/0.05/0.1: unpenalised {p:.2?} (shift {p_shift:.2?}), \
         smoothed L0 {s:.2?} (shift {s_shift:.2?})"
    );
    // at thr 0.05: the unpenalised map moves most coordinates, the penalised one about the true 2
    assert!(p[1] > 7.0, "unpenalised map moves most coordinates: {p:?}");
    assert!(s[1] < 3.0, "penalised map moves about 2 coordinates: {s:?}");
    // and both still transport: the mean shift of the two moved coordinates is (3, −3)
    for sh in [p_shift, s_shift] {
        assert!(
            (sh[0] - 3.0).abs() < 0.3 && (sh[1] + 3.0).abs() < 0.3,
            "{sh:?}"
        );
    }
}

/// The demo's held-out cells: a fresh sample of 1000 per side (the demo draws its own; a toy can).
fn demo_heldout(toy: &str, seed: u64) -> Heldout<f32> {
    let (hx, hy) = toy_data(toy, 1000, seed + 500);
    Heldout::Given(hx, hy)
}

/// The demo budget on 8gaussians (n = 1000, selection on 1000 fresh held-out cells per side): the
/// selected map reaches exact W2²(T#μ, ν) ≤ 1.5 × 0.111 (the sampling floor of SPEC §5, averaged over 4
/// fresh sample pairs; measured 0.133, and 0.193 with the setting before the conjugate refinement — 10
/// g steps, no L-BFGS — which fails it); a second run is bit-identical; the trained f is convex along
/// segments and ∇g is monotone.
#[test]
fn w2_demo_fits_8gaussians_within_one_and_a_half_sampling_floors() {
    let cfg = W2Config::demo();
    let (x, y) = toy_data("8gaussians", 1000, cfg.seed);
    let held = demo_heldout("8gaussians", cfg.seed);
    let train = || {
        let mut tr = W2Trainer::with_heldout(&x, &y, &held, &cfg).unwrap();
        tr.run(cfg.iterations, &mut |_| {}).unwrap();
        tr
    };
    let tr = train();
    let map = tr.best_map();
    let w2sq = fresh_w2sq(&map, "8gaussians", 0);
    eprintln!(
        "8gaussians demo: exact W2² {w2sq:.4} (best iteration {}, {:.1} s)",
        tr.report().best_iteration,
        tr.report().seconds
    );
    assert!(w2sq <= 1.5 * 0.111, "exact W2²(T#μ, ν) = {w2sq}");
    // bit-identical second run
    let tr2 = train();
    let bits = |m: &W2Map<f32>| -> Vec<u32> {
        m.potential().params().iter().map(|v| v.to_bits()).collect()
    };
    assert!(bits(&map) == bits(&tr2.best_map()), "second run differs");
    assert_eq!(tr.report().evals, tr2.report().evals);
    // f is clamped: convex along segments; ∇g (penalised, not clamped) is monotone on random pairs
    let f = tr.f();
    assert!(f.is_convex());
    let mut rng = Stream::new(99, 0);
    let n = 500;
    let p = Mat::<f32>::from_fn(n, 2, |_, _| 3.0 * rng.normal::<f32>());
    let q = Mat::<f32>::from_fn(n, 2, |_, _| 3.0 * rng.normal::<f32>());
    let mid = Mat::<f32>::from_fn(n, 2, |i, j| 0.3 * p.get(i, j) + 0.7 * q.get(i, j));
    let mut ws = f.workspace(n);
    let (mut fp, mut fq, mut fm) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    f.value(p.view(), &mut ws, &mut fp);
    f.value(q.view(), &mut ws, &mut fq);
    f.value(mid.view(), &mut ws, &mut fm);
    for i in 0..n {
        let chord = 0.3 * fp[i] + 0.7 * fq[i];
        assert!(
            fm[i] <= chord + 1e-4 * (1.0 + chord.abs()),
            "f above its chord"
        );
    }
    let (tp, tq) = (map.transport(&p), map.transport(&q));
    for i in 0..n {
        let s: f32 = (0..2)
            .map(|j| (tp.get(i, j) - tq.get(i, j)) * (p.get(i, j) - q.get(i, j)))
            .sum();
        let d2: f32 = (0..2).map(|j| (p.get(i, j) - q.get(i, j)).powi(2)).sum();
        assert!(s >= -1e-3 * d2, "∇g not monotone on pair {i}: {s}");
    }
}

/// Diagnostic (not a test): N(0, I₂) → N((1, −1), diag(4, 0.25)); the optimal map is linear.
#[test]
#[ignore]
fn gaussian_diag() {
    let gen = |seed: u64, k: u64| {
        let mut r1 = Stream::new(seed, k);
        let mut r2 = Stream::new(seed, k + 1);
        let x = Mat::<f32>::from_fn(1000, 2, |_, _| r1.normal());
        let y = Mat::<f32>::from_fn(1000, 2, |_, j| {
            let z: f32 = r2.normal();
            if j == 0 {
                1.0 + 2.0 * z
            } else {
                -1.0 + 0.5 * z
            }
        });
        (x, y)
    };
    let (x, y) = gen(0, 8);
    let cfg = W2Config::demo();
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    tr.run(cfg.iterations, &mut |_| {}).unwrap();
    let (xs, ys) = gen(5, 8);
    let (_, y2) = gen(6, 8);
    let t = tr.best_map().transport(&xs);
    let exact: Mat<f32> = Mat::from_fn(1000, 2, |i, j| {
        if j == 0 {
            1.0 + 2.0 * xs.get(i, 0)
        } else {
            -1.0 + 0.5 * xs.get(i, 1)
        }
    });
    let mse: f64 = (0..1000)
        .map(|i| {
            (0..2)
                .map(|j| ((t.get(i, j) - exact.get(i, j)) as f64).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / 1000.0;
    eprintln!(
        "gaussian: W2²(T#μ, ν) {:.4}, floor {:.4}, E‖T − T*‖² {:.4}",
        monge::metrics::exact_w2sq(t.view(), ys.view()).unwrap(),
        monge::metrics::exact_w2sq(y2.view(), ys.view()).unwrap(),
        mse
    );
}

/// More iterations never return a worse map: on 8gaussians (demo settings, selection on fresh held-out
/// cells) the map returned with a 15 000-iteration cap is at least as close to fresh target samples
/// (exact W2², 4 pairs) as the one returned with 1 500. Slow (up to 15 000 iterations): run with
/// `cargo test --release --test ot_w2 more_iterations_never -- --ignored --nocapture`; the CI test
/// below checks the same fact on the held-out criterion at a small budget.
#[test]
#[ignore]
fn more_iterations_never_return_a_worse_map_on_8gaussians() {
    let held = demo_heldout("8gaussians", 0);
    let (x, y) = toy_data("8gaussians", 1000, 0);
    let mut out = Vec::new();
    for cap in [1500, 15_000] {
        let cfg = W2Config {
            iterations: cap,
            ..W2Config::demo()
        };
        let mut tr = W2Trainer::with_heldout(&x, &y, &held, &cfg).unwrap();
        let (stopped, err) = tr.run_until(cap, &mut |_| std::ops::ControlFlow::Continue(()));
        assert!(err.is_none());
        let rep = tr.report();
        let w = fresh_w2sq(&tr.best_map(), "8gaussians", 0);
        eprintln!(
            "cap {cap}: stopped {stopped:?} after {} iterations ({:.1} s), best iteration {}, held-out {:?}, exact W2² {w:.4}",
            rep.iterations, rep.seconds, rep.best_iteration, rep.best_heldout
        );
        out.push(w);
    }
    assert!(
        out[1] <= out[0],
        "15 000-cap map {} vs 1 500-cap map {}",
        out[1],
        out[0]
    );
}

/// The CI version: with a constant learning rate the longer run's trajectory extends the shorter one's
/// bit for bit, so the selected map of the larger cap has a held-out criterion at most the smaller's,
/// and it is the same map when the best came before the smaller cap.
#[test]
fn a_larger_cap_never_returns_a_worse_heldout_criterion() {
    let (x, y) = toy_data("8gaussians", 400, 7);
    let held = demo_heldout("8gaussians", 7);
    let run = |cap: usize| {
        let cfg = W2Config {
            iterations: cap,
            eval_every: 25,
            patience: 0,
            ..small_cfg()
        };
        let mut tr = W2Trainer::with_heldout(&x, &y, &held, &cfg).unwrap();
        tr.run(cap, &mut |_| {}).unwrap();
        tr
    };
    let (short, long) = (run(150), run(600));
    let (bs, bl) = (
        short.selector().best().unwrap(),
        long.selector().best().unwrap(),
    );
    assert!(bl.1 <= bs.1, "{bl:?} vs {bs:?}");
    assert_eq!(
        &long.selector().evals()[..short.selector().evals().len()],
        short.selector().evals(),
        "the longer run repeats the shorter one"
    );
    let returned = long.report().heldout.unwrap();
    assert_eq!((returned.map, returned.best_iteration), (bl.1, bl.0));
}
