//! `monge demo`: the main job on a built-in toy — train, evaluate on fresh samples, plot.

use super::args::Args;
use super::common::{fmt_num, ProgressPrinter};
use super::fit::{default_threads, parse_penalty};
use super::json::Json;
use monge::data::toys::Toy;
use monge::io::svg::{write_scatter_svg, ScatterOptions};
use monge::linalg::Mat;
use monge::metrics;
use monge::ot::train::{criterion, Heldout, Stopped};
use monge::ot::w1::{W1Config, W1Trainer};
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{Progress, TransportMap};
use monge::parallel::Pool;
use monge::random::{streams, Stream};
use monge::{Error, Result};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

/// Help text of `monge demo`.
pub const HELP: &str = "\
monge demo — learn a map on a built-in 2-D toy, print metrics, write demo.svg

USAGE:
    monge demo [OPTIONS]

OPTIONS:
    --method w2|w1        solver (default w2)
    --dataset NAME        8gaussians (default), moons, circles, swissroll, checkerboard, bookshelf,
                          circles-pair
    --n N                 samples per set (default 1000)
    --iters N             iteration cap (w2 default 1500; w1 default 2000 per phase); early stopping on a
                          fresh held-out sample of n points per side may end sooner
    --penalty none|l1|stvs|l0, --lambda X, --sigma S, --gamma G   displacement sparsity (w2)
    --seed S              seed (default 0)
    --threads N           worker threads (default: cores, at most 2)
    --out DIR             where demo.svg goes (default: current directory)
    --json                print one JSON object on stdout
    --quiet               no progress on stderr

The map is trained on one sample of n points per side and evaluated on fresh samples: exact W2² between
the mapped test source and a test target (w2sq_mapped_target), the same between two independent target
samples (w2sq_floor, the sampling-noise floor), between the test source and target (w2sq_source_target),
the transport cost E‖T(x) − x‖², MMD and sliced W2.";

/// Iterations of each w1 phase in the demo (a fifth of w1ot's 10 000 + 10 000).
pub const DEMO_W1_ITERS: usize = 2000;

/// Runs `monge demo`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    let method: String = a.get_or("method", "w2".to_string())?;
    let dataset: String = a.get_or("dataset", "8gaussians".to_string())?;
    let n: usize = a.get_or("n", 1000)?;
    let seed: u64 = a.get_or("seed", 0)?;
    let threads: usize = a.threads(default_threads())?;
    let iters: Option<usize> = a.get("iters")?;
    let out_dir: String = a.get_or("out", ".".to_string())?;
    let json = a.flag("json");
    let quiet = a.flag("quiet");
    let toy = Toy::from_name(&dataset)?;
    if !(2..=metrics::EXACT_W2_MAX_N).contains(&n) {
        return Err(Error::Usage(format!(
            "--n must lie in 2..={} (the exact W2² is O(n³))",
            metrics::EXACT_W2_MAX_N
        )));
    }
    if threads == 0 {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let out_path = PathBuf::from(&out_dir).join("demo.svg");

    // the samples: train pair, test pair, and a second test target for the floor
    let x_train: Mat<f32> = toy.sample_source(n, &mut Stream::new(seed, streams::DATA));
    let y_train: Mat<f32> = toy.sample_target(n, &mut Stream::new(seed, streams::DATA_2));
    let x_test: Mat<f32> = toy.sample_source(n, &mut Stream::new(seed, streams::DATA_3));
    let y_test: Mat<f32> = toy.sample_target(n, &mut Stream::new(seed, streams::DATA_4));
    let y_floor: Mat<f32> = toy.sample_target(n, &mut Stream::new(seed, streams::DATA_5));
    // model selection and early stopping on a fresh held-out sample of each side (a toy can draw one),
    // so the map trains on all n points
    let heldout = Heldout::Given(
        toy.sample_source(n, &mut Stream::new(seed, streams::DATA_6)),
        toy.sample_target(n, &mut Stream::new(seed, streams::DATA_7)),
    );

    let mut printer = ProgressPrinter::new(quiet);
    let mut progress = |p: &Progress| {
        printer.report(p);
        ControlFlow::Continue(())
    };
    let t0 = Instant::now();
    let (map, iterations, stopped, held): (Box<dyn TransportMap<f32>>, usize, Stopped, _) =
        match method.as_str() {
            "w2" => {
                let demo = W2Config::demo();
                let cfg = W2Config {
                    iterations: iters.unwrap_or(demo.iterations),
                    penalty: parse_penalty(&mut a)?,
                    lambda: a.get_or("lambda", 0.0)?,
                    threads,
                    seed,
                    ..demo
                };
                a.finish()?;
                let mut tr = W2Trainer::with_heldout(&x_train, &y_train, &heldout, &cfg)?;
                let (stopped, err) = tr.run_until(cfg.iterations, &mut progress);
                if let Some(e) = err {
                    return Err(e);
                }
                let rep = tr.report();
                (
                    Box::new(tr.best_map()),
                    rep.iterations,
                    stopped,
                    rep.heldout,
                )
            }
            "w1" => {
                let d = W1Config::default();
                // the demo budget: a fifth of w1ot's 10 000 + 10 000 iterations (see the README figures)
                let it = iters.unwrap_or(DEMO_W1_ITERS);
                let cfg = W1Config {
                    potential_iters: it,
                    gan_iters: it,
                    eval_every: 250,
                    threads,
                    seed,
                    ..d
                };
                a.finish()?;
                let mut tr = W1Trainer::with_heldout(&x_train, &y_train, &heldout, &cfg)?;
                let (stopped, err) = tr.run_all(&mut progress);
                if let Some(e) = err {
                    return Err(e);
                }
                let rep = tr.report();
                (
                    Box::new(tr.into_map()),
                    rep.potential_iters + rep.gan_iters,
                    stopped,
                    rep.heldout,
                )
            }
            other => {
                return Err(Error::Usage(format!(
                    "--method: unknown '{other}' (expected w2 or w1)"
                )))
            }
        };
    let train_seconds = t0.elapsed().as_secs_f64();

    // evaluation on the fresh samples, in f64
    let mapped = map
        .transport_on(&x_test, &mut Pool::new(threads))
        .cast::<f64>();
    let xt = x_test.cast::<f64>();
    let yt = y_test.cast::<f64>();
    let yf = y_floor.cast::<f64>();
    let w2_mapped = metrics::exact_w2sq(mapped.view(), yt.view())?;
    let w2_floor = metrics::exact_w2sq(yf.view(), yt.view())?;
    let w2_source = metrics::exact_w2sq(xt.view(), yt.view())?;
    let cost = (0..n)
        .map(|i| {
            mapped
                .row(i)
                .iter()
                .zip(xt.row(i))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n as f64;
    let mmd = criterion::mmd(
        mapped.view(),
        yt.view(),
        &metrics::mmd_gammas_eval(),
        threads,
    );
    let sw2 = metrics::sliced_w2(
        mapped.view(),
        yt.view(),
        200,
        &mut Stream::new(seed, streams::PROJECTIONS),
    );
    let opts = ScatterOptions {
        title: format!("monge demo: {} on {}", method, toy.name()),
        ..ScatterOptions::default()
    };
    write_scatter_svg(&out_path, &xt, &yt, Some(&mapped), &opts)?;

    let out = Json::obj()
        .with("method", method.as_str())
        .with("dataset", toy.name())
        .with("n", n)
        .with("w2sq_mapped_target", w2_mapped)
        .with("w2sq_floor", w2_floor)
        .with("w2sq_source_target", w2_source)
        .with("transport_cost", cost)
        .with("mmd", mmd)
        .with("sw2", sw2)
        .with("iterations", iterations)
        .with("stopped", stopped.name())
        .with("heldout", super::fit::heldout_json(held.as_ref()))
        .with("seconds", train_seconds)
        .with("threads", threads)
        .with("seed", seed as usize)
        .with("svg", out_path.display().to_string());
    if json {
        out!("{}", out.render());
    } else {
        out!(
            "monge demo — {method} map on {} (n = {n}, {iterations} iterations, {:.1} s)",
            toy.name(),
            train_seconds
        );
        out!(
            "  W2²(T#μ, ν)  = {}   (sampling floor W2²(ν, ν') = {}; doing nothing: W2²(μ, ν) = {})",
            fmt_num(w2_mapped),
            fmt_num(w2_floor),
            fmt_num(w2_source)
        );
        out!(
            "  E‖T(x) − x‖² = {}   MMD = {}   sliced W2 = {}",
            fmt_num(cost),
            fmt_num(mmd),
            fmt_num(sw2)
        );
        if let Some(h) = &held {
            out!(
                "  held-out {}: map {}, identity {}, mean shift {} (map from iteration {}; {})",
                h.criterion,
                fmt_num(h.map),
                fmt_num(h.identity),
                fmt_num(h.mean_shift),
                h.best_iteration,
                stopped.describe()
            );
        }
        out!("  plot: {}", out_path.display());
    }
    Ok(())
}
