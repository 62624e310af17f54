//! The training harness (ot::train) through both solvers: selection, early stopping, the divergence guard,
//! batch defaults, the held-out report, and stop requests from the progress callback.

use monge::data::toys::Toy;
use monge::linalg::Mat;
use monge::ot::train::select::{Offer, Selector, MIN_REL_DELTA};
use monge::ot::train::{Criterion, Evaluator, Heldout, HeldoutSets, Stopped};
use monge::ot::w1::{W1Config, W1Trainer};
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{Progress, TransportMap};
use monge::parallel::Pool;
use monge::random::{streams, Stream};
use monge::Error;
use std::ops::ControlFlow;

fn toy(name: &str, n: usize, seed: u64) -> (Mat<f32>, Mat<f32>) {
    let t = Toy::from_name(name).unwrap();
    (
        t.sample_source(n, &mut Stream::new(seed, streams::DATA)),
        t.sample_target(n, &mut Stream::new(seed, streams::DATA_2)),
    )
}

fn go(_: &Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn small_w2() -> W2Config {
    W2Config {
        hidden: vec![16, 16],
        batch: 64,
        lr_f: 1e-3,
        lr_g: 1e-3,
        ..W2Config::default()
    }
}

#[test]
fn selector_never_keeps_a_non_finite_evaluation() {
    let mut s = Selector::new(2);
    assert_eq!(s.offer(10, f64::NAN), Offer::NonFinite);
    assert_eq!(
        s.best(),
        None,
        "a NaN is never the best, not even the first"
    );
    assert_eq!(s.offer(20, 5.0), Offer::Best);
    assert_eq!(s.offer(30, f64::INFINITY), Offer::NonFinite);
    assert_eq!(s.offer(40, f64::NEG_INFINITY), Offer::NonFinite);
    assert_eq!(s.best(), Some((20, 5.0)));
    assert!(s.patience_exhausted(), "two evaluations without a new best");
    // a new best must beat the old one by MIN_REL_DELTA of it
    let mut s = Selector::new(0);
    s.offer(1, 1.0);
    assert_eq!(s.offer(2, 1.0 - 0.5 * MIN_REL_DELTA), Offer::NotBetter);
    assert_eq!(s.offer(3, 1.0 - 2.0 * MIN_REL_DELTA), Offer::Best);
    assert!(!s.patience_exhausted(), "patience 0 never stops");
    assert_eq!(s.evals().len(), 3);
}

#[test]
fn w1_never_keeps_a_non_finite_evaluation() {
    // a held-out target with coordinates at ±f64::MAX: every mapped point is infinitely far in sliced
    // W2 (the squared projection differences overflow), so no evaluation is finite and none may be kept
    let (x, y) = toy("8gaussians", 300, 1);
    let (x, y) = (x.cast::<f64>(), y.cast::<f64>());
    let (hx, hy) = toy("8gaussians", 100, 2);
    let (hx, mut hy) = (hx.cast::<f64>(), hy.cast::<f64>());
    hy.set(0, 0, f64::MAX);
    hy.set(1, 0, -f64::MAX);
    let cfg = W1Config {
        potential_iters: 20,
        gan_iters: 30,
        eval_every: 10,
        ..W1Config::default()
    };
    let mut tr = W1Trainer::with_heldout(&x, &y, &Heldout::Given(hx, hy), &cfg).unwrap();
    let (stopped, err) = tr.run_all(&mut go);
    assert!(err.is_none());
    assert_eq!(stopped, Stopped::Cap);
    let evals = tr.selector().evals().to_vec();
    // the start of phase 2 (iteration 0), then iterations 10, 20, 30
    assert_eq!(evals.len(), 4, "{evals:?}");
    assert!(evals.iter().all(|e| !e.1.is_finite()), "{evals:?}");
    assert!(
        !tr.has_best(),
        "a non-finite evaluation was kept: {evals:?}"
    );
    assert_eq!(tr.report().best_heldout, None);
}

#[test]
fn w2_divergence_after_an_evaluation_keeps_the_best_model() {
    // five good iterations with an evaluation each, then λ = 1e39 (∞ in f32) makes the next g gradient
    // non-finite
    let (x, y) = toy("8gaussians", 300, 2);
    let cfg = W2Config {
        eval_every: 1,
        penalty: monge::ot::penalty::Penalty::L1,
        patience: 0,
        ..small_w2()
    };
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    let (s5, e5) = tr.run_until(5, &mut go);
    assert!(s5 == Stopped::Cap && e5.is_none());
    tr.set_lambda(1e39);
    let (stopped, err) = tr.run_until(1000, &mut go);
    assert_eq!(stopped, Stopped::Diverged);
    let it = match err {
        Some(Error::Diverged { iteration, .. }) => iteration,
        other => panic!("expected a divergence, got {other:?}"),
    };
    assert_eq!(it, 6);
    let (best_it, best) = tr
        .selector()
        .best()
        .expect("an evaluation before the divergence");
    assert!(best_it >= 1 && best_it < it && best.is_finite());
    let rep = tr.report();
    assert_eq!(
        (rep.best_iteration, rep.stopped),
        (best_it, Stopped::Diverged)
    );
    assert!(tr
        .best_map()
        .potential()
        .params()
        .iter()
        .all(|v| v.is_finite()));
    // the held-out report names the kept model
    assert_eq!(
        rep.heldout.as_ref().map(|h| h.best_iteration),
        Some(best_it)
    );
}

#[test]
fn w1_divergence_after_an_evaluation_keeps_the_best_model() {
    // measured: with this rate the discriminator overflows at GAN iteration 4, after three evaluations
    let (x, y) = toy("8gaussians", 300, 2);
    let cfg = W1Config {
        potential_iters: 5,
        gan_iters: 200,
        gan_lr: 1e4,
        eval_every: 1,
        ..W1Config::default()
    };
    let mut tr = W1Trainer::new(&x, &y, &cfg).unwrap();
    let (stopped, err) = tr.run_all(&mut go);
    assert_eq!(stopped, Stopped::Diverged);
    let it = match err {
        Some(Error::Diverged { iteration, .. }) => iteration,
        other => panic!("expected a divergence, got {other:?}"),
    };
    let (best_it, best) = tr
        .selector()
        .best()
        .expect("an evaluation before the divergence");
    let evals = tr.selector().evals().to_vec();
    // evaluations of trained iterates ran before the divergence, and the kept one is the best of all
    // (the start of phase 2, iteration 0, included)
    assert!(
        evals.iter().filter(|e| e.0 >= 1 && e.0 < it).count() >= 2,
        "{evals:?}, diverged at {it}"
    );
    assert!(best_it < it, "best {best_it}, diverged at {it}");
    assert!(
        evals
            .iter()
            .filter(|e| e.1.is_finite())
            .all(|e| e.1 >= best),
        "best {best} of {evals:?}"
    );
    let m = tr.best_map();
    assert!(m.step_sizes(&x).iter().all(|e| e.is_finite()));
}

#[test]
fn divergence_on_data_of_huge_scale_names_the_scale() {
    let (x, y) = toy("8gaussians", 200, 3);
    let big = |m: &Mat<f32>| Mat::from_fn(m.rows(), m.cols(), |i, j| 1e30 * m.get(i, j));
    let mut tr = W2Trainer::new(&big(&x), &big(&y), &small_w2()).unwrap();
    let (stopped, err) = tr.run_until(10, &mut go);
    assert_eq!(stopped, Stopped::Diverged);
    let msg = err.expect("diverged").to_string();
    assert!(
        msg.contains("likely cause") && msg.contains("scale"),
        "{msg}"
    );
    // ordinary data diverging by a bad learning rate: no such claim
    let cfg = W2Config {
        lr_f: 1e30,
        lr_g: 1e30,
        ..small_w2()
    };
    let (stopped, err) = W2Trainer::new(&x, &y, &cfg)
        .unwrap()
        .run_until(100, &mut go);
    assert_eq!(stopped, Stopped::Diverged);
    assert!(!err.unwrap().to_string().contains("scale"));
}

#[test]
fn a_100_cell_group_trains_with_the_default_batch() {
    // the default batch (256) exceeds the 90 training cells per side: it is cut to them
    let (x, y) = toy("moons", 100, 4);
    let w2 = W2Config {
        iterations: 50,
        ..W2Config::default()
    };
    let mut tr = W2Trainer::new(&x, &y, &w2).unwrap();
    assert_eq!(tr.batch(), 90);
    let (stopped, err) = tr.run_until(w2.iterations, &mut go);
    assert!(err.is_none());
    assert_eq!(stopped, Stopped::Cap);
    let h = tr.report().heldout.expect("a held-out report");
    assert_eq!(h.criterion, "sliced_w2");
    assert!(h.map.is_finite() && h.identity > 0.0 && h.mean_shift > 0.0);
    let w1 = W1Config {
        potential_iters: 30,
        gan_iters: 30,
        ..W1Config::default()
    };
    let mut tr = W1Trainer::new(&x, &y, &w1).unwrap();
    assert_eq!(tr.batch(), 90);
    let (stopped, err) = tr.run_all(&mut go);
    assert!(err.is_none() && stopped == Stopped::Cap);
    assert!(tr.report().heldout.is_some());
}

#[test]
fn early_stopping_ends_a_toy_fit_before_the_cap() {
    let (x, y) = toy("8gaussians", 400, 5);
    let cfg = W2Config {
        iterations: 20_000,
        eval_every: 20,
        patience: 3,
        ..small_w2()
    };
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    let (stopped, err) = tr.run_until(cfg.iterations, &mut go);
    assert!(err.is_none());
    let rep = tr.report();
    assert_eq!(
        stopped,
        Stopped::Patience,
        "ran {} iterations",
        rep.iterations
    );
    assert!(rep.iterations < cfg.iterations);
    // it stopped exactly `patience` evaluations after the last new best
    assert_eq!(
        rep.iterations,
        rep.best_iteration + cfg.patience * cfg.eval_every
    );
    assert_eq!(rep.heldout.unwrap().best_iteration, rep.best_iteration);
}

#[test]
fn the_progress_callback_can_stop_a_fit_and_the_best_model_is_kept() {
    let (x, y) = toy("8gaussians", 300, 6);
    let cfg = W2Config {
        eval_every: 10,
        progress_every: 10,
        ..small_w2()
    };
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    let mut seen = Vec::new();
    let mut stop_at_50 = |p: &Progress| {
        seen.push((p.iteration, p.criterion, p.heldout, p.heldout_best));
        if p.iteration >= 50 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let (stopped, err) = tr.run_until(1000, &mut stop_at_50);
    assert!(err.is_none());
    assert_eq!(stopped, Stopped::Interrupted);
    assert_eq!(tr.iteration(), 50);
    // the start (iteration 0), then every 10 iterations
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0].0, 0);
    assert!(seen
        .iter()
        .all(|s| s.1 == Some("sliced_w2") && s.2.is_some()));
    // the best so far never increases
    assert!(seen.windows(2).all(|w| w[1].3 <= w[0].3));
    assert!(tr.has_best());
    let w1 = W1Config {
        potential_iters: 100,
        gan_iters: 100,
        progress_every: 10,
        ..W1Config::default()
    };
    let mut tr = W1Trainer::new(&x, &y, &w1).unwrap();
    let mut stop = |p: &Progress| {
        if p.phase == "potential" && p.iteration == 30 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let (stopped, _) = tr.run_all(&mut stop);
    assert_eq!(stopped, Stopped::Interrupted);
    assert_eq!(
        (tr.report().potential_iters, tr.report().gan_iters),
        (30, 0)
    );
}

/// The held-out criterion of `map` on the held-out cells of a fit built with `(fraction, seed)`,
/// computed here from the split alone (independently of the trainer's selector).
fn heldout_criterion<M: TransportMap<f32>>(
    map: &M,
    x: &Mat<f32>,
    y: &Mat<f32>,
    fraction: f64,
    seed: u64,
) -> f64 {
    let sets = HeldoutSets::new(x, y, &Heldout::Fraction(fraction), seed).unwrap();
    let mut pool = Pool::new(1);
    let ev = Evaluator::new(
        Criterion::SlicedW2,
        sets.heldout_target.view(),
        seed,
        &mut pool,
    );
    ev.eval(map.transport(&sets.heldout_source).view(), &mut pool)
}

#[test]
fn a_fit_never_returns_a_map_worse_than_its_start_on_heldout_cells() {
    // measured on this data (session 18's finding: with all defaults the W2 fit returned held-out sliced
    // W2 1.39 against its start's 1.3856): W2 with the CLI's defaults but a 500-iteration cap scores
    // 1.38556 at its Gaussian start and 1.38662 / 1.38557 at iterations 250 / 500; W1 with its defaults
    // but 1000 + 1000 iterations 1.182 at the start of phase 2 and 1.26–1.58 at every later evaluation.
    // Without the offer of iteration 0 both fits return a map worse than their start.
    // the CLI's `monge synth toy --dataset moons --n 100` (seed 0, f64) read as f32
    let t = Toy::from_name("moons").unwrap();
    let x: Mat<f64> = t.sample_source(100, &mut Stream::new(0, streams::DATA));
    let y: Mat<f64> = t.sample_target(100, &mut Stream::new(0, streams::DATA_2));
    let (x, y): (Mat<f32>, Mat<f32>) = (x.cast(), y.cast());
    let cfg = W2Config {
        iterations: 500,
        ..W2Config::monge()
    };
    let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    let start = heldout_criterion(&tr.map(), &x, &y, cfg.heldout_fraction, cfg.seed);
    let (stopped, err) = tr.run_until(cfg.iterations, &mut go);
    assert!(err.is_none() && stopped != Stopped::Diverged);
    let rep = tr.report();
    let h = rep.heldout.clone().expect("a held-out report");
    assert!(h.map <= start, "map {} vs its start {start}", h.map);
    assert_eq!(rep.evals[0], (0, start), "iteration 0 is evaluated first");
    let returned = heldout_criterion(&tr.best_map(), &x, &y, cfg.heldout_fraction, cfg.seed);
    assert_eq!(returned, h.map, "the report scores the returned map");
    println!(
        "w2: start {start}, returned {} (iteration {}), evals {:?}",
        h.map, h.best_iteration, rep.evals
    );

    let cfg = W1Config {
        potential_iters: 1000,
        gan_iters: 1000,
        eval_every: 250,
        ..W1Config::default()
    };
    let mut tr = W1Trainer::new(&x, &y, &cfg).unwrap();
    tr.run_segment(cfg.potential_iters, &mut go);
    let start = heldout_criterion(&tr.best_map(), &x, &y, cfg.heldout_frac, cfg.seed);
    let (stopped, err) = tr.run_all(&mut go);
    assert!(err.is_none() && stopped != Stopped::Diverged);
    let rep = tr.report();
    let h = rep.heldout.clone().expect("a held-out report");
    assert!(h.map <= start, "map {} vs its start {start}", h.map);
    assert_eq!(
        rep.evals[0],
        (0, start),
        "phase 2's start is evaluated first"
    );
    let returned = heldout_criterion(&tr.best_map(), &x, &y, cfg.heldout_frac, cfg.seed);
    assert_eq!(returned, h.map, "the report scores the returned map");
    println!(
        "w1: start {start}, returned {} (iteration {}), evals {:?}",
        h.map, h.best_iteration, rep.evals
    );
}
