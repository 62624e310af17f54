//! `monge fit`: learn a map from a source set to a target set and save it as a model file.

use super::args::Args;
use super::common::{load, same_dim, History, ProgressPrinter};
use super::json::Json;
use monge::linalg::Real;
use monge::ot::anneal::{
    anneal_lambda, dim_budget, AnnealConfig, AnnealReport, DimBudgetConfig, ReportingTrainee,
};
use monge::ot::baselines::{Identity, MeanShift};
use monge::ot::penalty::Penalty;
use monge::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{Progress, SavedModel, TransportMap};
use monge::{Error, Result};
use std::path::Path;
use std::time::Instant;

/// Help text of `monge fit`.
pub const HELP: &str = "\
monge fit — learn a transport map and save it

USAGE:
    monge fit --method METHOD --source A --target B --model M [OPTIONS]

METHODS:
    w2          ICNN potentials, map T = ∇g (Makkuva et al.; CellOT), optional displacement sparsity
    w1          1-Lipschitz potential + step-size network, T(x) = x − η(x)·∇f(x)/‖∇f(x)‖ (w1ot)
    sinkhorn    entropic map with elastic cost ½‖·‖² + γτ (Cuturi, Klein, Ablin 2023)
    mean-shift  T(x) = x + mean(target) − mean(source)
    identity    T(x) = x

COMMON OPTIONS:
    --source FILE, --target FILE   data (.npy f32/f64, .csv, .tsv, .txt), one sample per row
    --model FILE                   where to save the model (written atomically)
    --dtype f32|f64                training precision (default f32)
    --seed S                       the one seed of every random draw (default 0)
    --threads N                    worker threads (default: the machine's cores, at most 2)
    --iters N                      outer iterations (w2 default 3000, 100000 with --preset cellot; w1: each
                                   phase, default 10000)
    --batch B                      mini-batch size (default 256)
    --history FILE.csv             write the training curves (for `monge plot --history`)
    --quiet                        no progress on stderr
    --json                         print one JSON object on stdout

W2 OPTIONS:
    --preset cellot                the papers' plain setting (ICNN, random init, lr 1e-4, no refinement);
                                   without it the defaults below are monge's measured best
    --potential icnn|quadratic-icnn  potentials with an affine path ½xᵀ(LLᵀ+diag)x + βᵀx (default
                                   quadratic-icnn; --quad-rank R, default 64)
    --init gaussian|identity|random  start ∇g at the Gaussian map of the data (default), at the identity, or
                                   at random ICNN weights (CellOT; the only start of --potential icnn)
    --conjugate none|lbfgs|adam    refine the conjugate per sample before each f step (Amos 2023); see
                                   --conjugate-steps (5), --conjugate-tol (1e-3),
                                   --amortization objective|regression (the g loss)
    --penalty none|l1|stvs|l0      displacement-sparsity penalty τ (default none)
    --lambda X                     its weight λ, batch-mean convention (λ_mean = B·λ_sum of [C25]'s code)
    --sigma S                      width of the smoothed L0 (default 1)
    --gamma G                      STVS γ (default 1)
    --lr X                         Adam learning rate of f and g (default 1e-3 with cosine decay; 1e-4
                                   constant with --preset cellot)
    --g-iters K                    g steps per outer iteration (default 10)
    --eval-every N                 held-out MMD model selection interval (default 250, cellot 1000; 0 = off)
    --anneal                       tune λ by simulated annealing ([C25] Alg. 1); see --anneal-warmup,
                                   --anneal-adjust (default 20000, 2000)
    --max-dim L                    drive λ until the mean displacement dimensionality is ≤ L ([C25] Alg. 2);
                                   see --threshold (1), --budget-warmup (10000), --budget-block (5000)

W1 OPTIONS:
    --orthonormal cayley|bjorck    orthonormal layers of the potential (default cayley)
    --positive                     clamp mapped values at 0 (non-negative expression data)
    --eval-every N                 held-out MMD model selection of the step-size network (default 1000)

SINKHORN OPTIONS:
    --penalty none|l1|stvs         elastic cost ½‖z‖² + γτ(z) (default l1; none = squared Euclidean)
    --gamma G                      its strength γ (default 1)
    --epsilon E                    entropic ε (default 0.05 × mean cost, as ott-jax)
    --tol T, --max-iter N          Sinkhorn stopping rule (marginal ℓ1 error; defaults 1e-3, 2000)";

/// Options shared by every method.
struct Common {
    source: String,
    target: String,
    model: String,
    seed: u64,
    threads: usize,
    iters: Option<usize>,
    batch: usize,
    history: Option<String>,
    quiet: bool,
    json: bool,
}

/// The default thread count: the machine's cores, at most 2 (the measured sweet spot; see the README).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2)
}

/// Parses `--penalty` with its parameters.
pub fn parse_penalty(a: &mut Args) -> Result<Penalty> {
    let name: String = a.get_or("penalty", "none".to_string())?;
    let sigma: f64 = a.get_or("sigma", 1.0)?;
    let gamma: f64 = a.get_or("gamma", 1.0)?;
    let p = match name.as_str() {
        "none" => Penalty::None,
        "l1" => Penalty::L1,
        "stvs" => Penalty::Stvs { gamma },
        "l0" => Penalty::SmoothedL0 { sigma },
        other => {
            return Err(Error::Usage(format!(
                "--penalty: unknown '{other}' (expected none, l1, stvs or l0)"
            )))
        }
    };
    p.validate()?;
    Ok(p)
}

/// The annealer's trajectory as JSON.
pub fn anneal_json(rep: &AnnealReport) -> Json {
    let steps: Vec<Json> = rep
        .steps
        .iter()
        .map(|s| {
            Json::obj()
                .with("iteration", s.iteration)
                .with("lambda_before", s.lambda_before)
                .with("lambda_proposed", s.lambda_proposed)
                .with("accepted", s.accepted)
                .with("spa", s.spa)
                .with("err", s.err)
                .with("eval", s.eval)
                .with("temperature", s.temperature)
        })
        .collect();
    let inc: Vec<Json> = rep
        .increases
        .iter()
        .map(|&(it, l, d)| {
            Json::obj()
                .with("iteration", it)
                .with("lambda", l)
                .with("dim", d)
        })
        .collect();
    Json::obj()
        .with("final_lambda", rep.final_lambda)
        .with("iterations", rep.iterations)
        .with("budget_met", rep.budget_met)
        .with("final_dim", rep.final_dim)
        .with("final_dim_q3", rep.final_dim_q3)
        .with("increases", Json::Arr(inc))
        .with("steps", Json::Arr(steps))
}

/// Runs `monge fit`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        println!("{HELP}");
        return Ok(());
    }
    let method: String = a.required("method")?;
    let dtype: String = a.get_or("dtype", "f32".to_string())?;
    let c = Common {
        source: a.required("source")?,
        target: a.required("target")?,
        model: a.required("model")?,
        seed: a.get_or("seed", 0)?,
        threads: a.get_or("threads", default_threads())?,
        iters: a.get("iters")?,
        batch: a.get_or("batch", 256)?,
        history: a.get("history")?,
        quiet: a.flag("quiet"),
        json: a.flag("json"),
    };
    if c.threads == 0 {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    match dtype.as_str() {
        "f32" => fit_typed::<f32>(&method, c, a),
        "f64" => fit_typed::<f64>(&method, c, a),
        other => Err(Error::Usage(format!(
            "--dtype: unknown '{other}' (expected f32 or f64)"
        ))),
    }
}

fn fit_typed<T: Real>(method: &str, c: Common, mut a: Args) -> Result<()> {
    let mut printer = ProgressPrinter::new(c.quiet);
    let mut history = History::default();
    let mut on_progress = |p: &Progress| {
        printer.report(p);
        history.record(p);
    };
    let t0 = Instant::now();
    let (saved, mut out): (SavedModel<T>, Json) = match method {
        "w2" => fit_w2::<T>(&c, &mut a, &mut on_progress)?,
        "sinkhorn" => fit_sinkhorn::<T>(&c, &mut a)?,
        "mean-shift" | "identity" => {
            a.finish()?;
            let (x, y) = load_pair::<T>(&c)?;
            let out = Json::obj()
                .with("method", method)
                .with("n_source", x.rows())
                .with("n_target", y.rows())
                .with("d", x.cols());
            let saved = if method == "identity" {
                Identity::new(x.cols()).to_saved()
            } else {
                MeanShift::fit(x.view(), y.view())?.to_saved()
            };
            (saved, out)
        }
        "w1" => fit_w1::<T>(&c, &mut a, &mut on_progress)?,
        other => {
            return Err(Error::Usage(format!(
                "--method: unknown '{other}' (expected w2, w1, sinkhorn, mean-shift or identity)"
            )))
        }
    };
    monge::io::save_model(Path::new(&c.model), &saved)?;
    if let Some(h) = &c.history {
        history.write_csv(h)?;
    }
    out.set("model", c.model.as_str())
        .set("dtype", T::NAME)
        .set("seconds", t0.elapsed().as_secs_f64());
    if c.json {
        println!("{}", out.render());
    } else if !c.quiet {
        eprintln!(
            "saved {} model ({}, d = {}) to {} in {:.1} s",
            saved.method,
            T::NAME,
            saved.dim,
            c.model,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Loads and checks the two sets.
fn load_pair<T: Real>(c: &Common) -> Result<(monge::linalg::Mat<T>, monge::linalg::Mat<T>)> {
    let x = load::<T>(&c.source)?;
    let y = load::<T>(&c.target)?;
    same_dim(&c.source, x.cols(), &c.target, y.cols())?;
    Ok((x, y))
}

fn fit_w2<T: Real>(
    c: &Common,
    a: &mut Args,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(SavedModel<T>, Json)> {
    let defaults = w2_preset(a)?;
    let lr_given: Option<f64> = a.get("lr")?;
    let lr = lr_given.unwrap_or(defaults.lr_f);
    let mut cfg = W2Config {
        batch: c.batch,
        iterations: c.iters.unwrap_or(defaults.iterations),
        g_iters: a.get_or("g-iters", defaults.g_iters)?,
        lr_f: lr,
        lr_g: lr,
        penalty: parse_penalty(a)?,
        lambda: a.get_or("lambda", 0.0)?,
        eval_every: a.get_or("eval-every", defaults.eval_every)?,
        threads: c.threads,
        seed: c.seed,
        ..defaults.clone()
    };
    parse_w2_potentials(a, &defaults, &mut cfg)?;
    let anneal = a.flag("anneal");
    let max_dim: Option<f64> = a.get("max-dim")?;
    let ann_defaults = AnnealConfig::default();
    let anneal_cfg = AnnealConfig {
        initial_iters: a.get_or("anneal-warmup", ann_defaults.initial_iters)?,
        adjust_iters: a.get_or("anneal-adjust", ann_defaults.adjust_iters)?,
        seed: c.seed,
        ..ann_defaults
    };
    let bud_defaults = DimBudgetConfig::default();
    let budget_cfg = DimBudgetConfig {
        budget: max_dim.unwrap_or(bud_defaults.budget),
        threshold: a.get_or("threshold", bud_defaults.threshold)?,
        warmup_iters: a.get_or("budget-warmup", bud_defaults.warmup_iters)?,
        block_iters: a.get_or("budget-block", bud_defaults.block_iters)?,
        seed: c.seed,
        ..bud_defaults
    };
    a.finish()?;
    if anneal && max_dim.is_some() {
        return Err(Error::Usage(
            "--anneal and --max-dim are two different λ schedules: choose one".into(),
        ));
    }
    if (anneal || max_dim.is_some()) && cfg.penalty.is_none() {
        return Err(Error::Usage(
            "--anneal / --max-dim tune the weight of a penalty: give --penalty l1, stvs or l0"
                .into(),
        ));
    }
    let (x, y) = load_pair::<T>(c)?;
    let mut out = Json::obj()
        .with("method", "w2")
        .with("n_source", x.rows())
        .with("n_target", y.rows())
        .with("d", x.cols());
    if anneal || max_dim.is_some() {
        // λ is driven from outside: the map returned is the one at the final λ (held-out selection across
        // different λ would prefer the least sparse map).
        cfg.eval_every = 0;
        // λ is driven for an open-ended number of iterations: no cosine schedule, and the papers' constant
        // rate unless --lr is given (the λ schedules were measured with it)
        cfg.cosine_lr = false;
        if lr_given.is_none() {
            cfg.lr_f = W2Config::default().lr_f;
            cfg.lr_g = W2Config::default().lr_g;
        }
        if anneal {
            cfg.lambda = anneal_cfg.lambda0;
        } else {
            cfg.lambda = budget_cfg.lambda0;
        }
        let mut tr = W2Trainer::new(&x, &y, &cfg)?;
        let (rep, total) = {
            let total_est = if anneal {
                anneal_cfg.initial_iters
                    + 37 * (anneal_cfg.adjust_iters + anneal_cfg.smooth_iters / 2)
            } else {
                budget_cfg.warmup_iters + 40 * budget_cfg.block_iters
            };
            let mut rt = ReportingTrainee::new(&mut tr, progress, cfg.progress_every, total_est);
            let rep = if anneal {
                anneal_lambda(&mut rt, &anneal_cfg)?
            } else {
                dim_budget(&mut rt, &budget_cfg)?
            };
            (rep, rt.done())
        };
        let map = tr.map();
        out.set("iterations", total)
            .set("lambda", rep.final_lambda)
            .set(if anneal { "anneal" } else { "max_dim" }, anneal_json(&rep));
        Ok((map.to_saved(), out))
    } else {
        let mut tr = W2Trainer::new(&x, &y, &cfg)?;
        let res = tr.run(cfg.iterations, progress);
        let rep = tr.report();
        if let Err(e) = res {
            // keep the best model found before the divergence, then report the error
            if rep.best_mmd.is_some() {
                monge::io::save_model(Path::new(&c.model), &tr.best_map().to_saved())?;
                eprintln!(
                    "monge: saved the best model before the divergence (iteration {}) to {}",
                    rep.best_iteration, c.model
                );
            }
            return Err(e);
        }
        out.set("iterations", rep.iterations)
            .set("best_iteration", rep.best_iteration)
            .set("heldout_mmd", rep.best_mmd)
            .set("lambda", rep.lambda)
            .set("w2_estimate", rep.last.w2);
        Ok((tr.best_map().to_saved(), out))
    }
}

/// `--preset cellot` gives [`W2Config::default`] (the papers' setting); otherwise [`W2Config::monge`].
fn w2_preset(a: &mut Args) -> Result<W2Config> {
    match a.get::<String>("preset")?.as_deref() {
        None => Ok(W2Config::monge()),
        Some("cellot") => Ok(W2Config::default()),
        Some(o) => Err(Error::Usage(format!(
            "--preset: unknown '{o}' (expected cellot)"
        ))),
    }
}

/// `--potential`, `--quad-rank`, `--init`, `--conjugate*`, `--amortization` over the preset's values.
fn parse_w2_potentials(a: &mut Args, base: &W2Config, cfg: &mut W2Config) -> Result<()> {
    use monge::ot::conjugate::{amortization_from_name, solver_from_name};
    use monge::ot::potentials::{MapInit, Potential};
    let base_rank = match base.potential {
        Potential::QuadraticIcnn { rank } => rank,
        Potential::Icnn => 64,
    };
    let rank: usize = a.get_or("quad-rank", base_rank)?;
    if let Some(p) = a.get::<String>("potential")? {
        cfg.potential = match p.as_str() {
            "icnn" => Potential::Icnn,
            "quadratic-icnn" => Potential::QuadraticIcnn { rank },
            o => {
                return Err(Error::Usage(format!(
                    "--potential: unknown '{o}' (expected icnn or quadratic-icnn)"
                )))
            }
        };
    } else if let Potential::QuadraticIcnn { .. } = cfg.potential {
        cfg.potential = Potential::QuadraticIcnn { rank };
    }
    if let Some(i) = a.get::<String>("init")? {
        cfg.map_init = MapInit::from_name(&i)?;
    } else if cfg.potential == Potential::Icnn {
        cfg.map_init = MapInit::Random;
    }
    if let Some(c) = a.get::<String>("conjugate")? {
        cfg.conjugate.solver = solver_from_name(&c)?;
    }
    cfg.conjugate.steps = a.get_or("conjugate-steps", base.conjugate.steps)?;
    cfg.conjugate.tol = a.get_or("conjugate-tol", base.conjugate.tol)?;
    if let Some(m) = a.get::<String>("amortization")? {
        cfg.conjugate.amortization = amortization_from_name(&m)?;
    }
    Ok(())
}

fn fit_sinkhorn<T: Real>(c: &Common, a: &mut Args) -> Result<(SavedModel<T>, Json)> {
    let defaults = SinkhornConfig::default();
    let name: String = a.get_or("penalty", "l1".to_string())?;
    let gamma: f64 = a.get_or("gamma", 1.0)?;
    let cost = match name.as_str() {
        "none" => ElasticCost::SqEuclidean,
        "l1" => ElasticCost::L1 { gamma },
        "stvs" => ElasticCost::Stvs { gamma },
        other => {
            return Err(Error::Usage(format!(
                "--penalty: the sinkhorn map takes none, l1 or stvs, not '{other}'"
            )))
        }
    };
    cost.validate()?;
    let cfg = SinkhornConfig {
        cost,
        epsilon: a.get("epsilon")?,
        tol: a.get_or("tol", defaults.tol)?,
        max_iter: a.get_or("max-iter", defaults.max_iter)?,
        threads: c.threads,
        ..defaults
    };
    a.finish()?;
    let (x, y) = load_pair::<T>(c)?;
    let map = ElasticSinkhornMap::fit(x.view(), y.view(), &cfg)?;
    let mut out = Json::obj()
        .with("method", "sinkhorn")
        .with("n_source", x.rows())
        .with("n_target", y.rows())
        .with("d", x.cols())
        .with("cost", cost.name())
        .with("gamma", cost.gamma());
    if let Some(r) = map.report() {
        out.set("epsilon", r.epsilon)
            .set("iterations", r.iterations)
            .set("marginal_error", r.marginal_error)
            .set("converged", r.converged);
        if !r.converged && !c.quiet {
            eprintln!(
                "monge: warning: Sinkhorn stopped at the iteration cap ({}) with marginal error {:.3e} > tol",
                r.iterations, r.marginal_error
            );
        }
    }
    Ok((map.to_saved(), out))
}

fn fit_w1<T: Real>(
    c: &Common,
    a: &mut Args,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(SavedModel<T>, Json)> {
    use monge::nn::lipschitz::LipschitzConfig;
    use monge::ot::w1::{fit, W1Config};
    let d = W1Config::default();
    let ortho: String = a.get_or("orthonormal", "cayley".to_string())?;
    let potential = match ortho.as_str() {
        "cayley" => d.potential.clone(),
        "bjorck" => LipschitzConfig::bjorck(),
        other => {
            return Err(Error::Usage(format!(
                "--orthonormal: unknown '{other}' (expected cayley or bjorck)"
            )))
        }
    };
    let cfg = W1Config {
        potential,
        potential_iters: c.iters.unwrap_or(d.potential_iters),
        gan_iters: c.iters.unwrap_or(d.gan_iters),
        batch: c.batch,
        positive: a.flag("positive"),
        eval_every: a.get_or("eval-every", d.eval_every)?,
        seed: c.seed,
        threads: c.threads,
        ..d
    };
    a.finish()?;
    let (x, y) = load_pair::<T>(c)?;
    let (map, rep) = fit(&x, &y, &cfg, progress)?;
    let out = Json::obj()
        .with("method", "w1")
        .with("n_source", x.rows())
        .with("n_target", y.rows())
        .with("d", x.cols())
        .with("iterations", rep.potential_iters + rep.gan_iters)
        .with("w1_estimate", rep.w1_estimate)
        .with("grad_norm_fraction", rep.grad_norm_fraction)
        .with("heldout_mmd", rep.best_mmd.map(|b| b.0));
    Ok((map.to_saved(), out))
}
