//! `monge fit`: learn a map from a source set to a target set and save it as a model file.

use super::args::Args;
use super::common::{
    check_ext, check_paths, fmt_num, load, same_dim, warn_scale, History, ProgressPrinter,
};
use super::json::Json;
use monge::io::LoadedModel;
use monge::linalg::Real;
use monge::ot::anneal::{
    anneal_lambda, dim_budget, AnnealConfig, AnnealReport, DimBudgetConfig, ReportingTrainee,
};
use monge::ot::baselines::{Identity, MeanShift};
use monge::ot::penalty::Penalty;
use monge::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use monge::ot::train::{Criterion, Heldout, HeldoutReport, Stopped, DEFAULT_PATIENCE};
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{Progress, SavedModel, TransportMap};
use monge::{Error, Result};
use std::ops::ControlFlow;
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
    --iters N                      iteration cap (w2 default 3000, with --preset cellot w2 default 100000;
                                   w1: each phase, default 10000);
                                   with --anneal / --max-dim the total over every phase of the schedule
                                   (unset: the schedule runs its own length)
    --batch B                      mini-batch size (default 256); fewer training cells: all of them
    --eval-every N                 held-out evaluation interval (default 1000); 0 = no selection
    --patience N                   early stopping after N evaluations without improvement (default 10)
                                   of the held-out criterion; 0 = run to the cap
    --criterion NAME               held-out selection criterion (default sliced_w2) over 200 fixed
                                   directions, or energy_distance, mmd_median, mmd_cellot
    --heldout-fraction F           held-out share of each set (default 0.1); SPEC §7.7's rule keeps
                                   500–1000 cells per side when the set is large enough; 0 = none
    --heldout-source FILE, --heldout-target FILE
                                   your own held-out cells (then the inputs are all training data)
    --checkpoint FILE              w2/w1 (not --anneal/--max-dim): write the whole training state
                                   atomically, periodically and on SIGINT/SIGTERM
    --checkpoint-every N           iterations between checkpoints (default 1000)
    --resume FILE                  continue a checkpoint to the same bits as an uninterrupted run (its
                                   options and data files, checked by fingerprint; --model M may change)
    --history FILE.csv             write the training curves (for `monge plot --history`)
    --quiet                        no progress on stderr
    --json                         print one JSON object on stdout

W2 OPTIONS:
    --preset cellot                the papers' plain setting: plain ICNN, random start, constant lr 1e-4,
                                   100000 iterations, no refinement; without it monge's measured setting
    --potential NAME               quadratic-icnn (default): ICNN + affine path ½xᵀ(LLᵀ + diag)x + βᵀx, or
                                   icnn: the plain ICNN (CellOT)
    --quad-rank R                  rank of L in the affine path (default 64; at most d)
    --init NAME                    gaussian (default): ∇g starts at the Gaussian map of the data, identity,
                                   or random (CellOT; the only start of the plain ICNN)
    --conjugate NAME               none (default), lbfgs or adam: refine the conjugate per sample before
                                   each f step (Amos 2023)
    --conjugate-steps N            solver iterations at most (default 5)
    --conjugate-tol T              per-sample stop on ‖∇f(y) − x‖ (default 1e-3)
    --amortization NAME            the g loss with a solver: objective (default) or regression
    --penalty none|l1|stvs|l0      displacement-sparsity penalty τ (default none)
    --lambda X                     its weight λ, batch-mean convention (λ_mean = B·λ_sum of [C25]'s code)
    --sigma S                      width of the smoothed L0 (default 1)
    --gamma G                      STVS γ (default 1)
    --lr X                         Adam learning rate of f and g (default 1e-3 with cosine decay; with
                                   --preset cellot 1e-4, constant)
    --g-iters K                    g steps per outer iteration (default 10)
    --anneal                       tune λ by simulated annealing ([C25] Alg. 1); see
                                   --anneal-warmup (20000), --anneal-adjust (2000)
    --max-dim L                    drive λ until the mean displacement dimensionality is ≤ L ([C25] Alg. 2);
                                   see --threshold (1), --budget-warmup (10000), --budget-block (5000)

W1 OPTIONS:
    --orthonormal cayley|bjorck    orthonormal layers of the potential (default cayley)
    --positive                     clamp mapped values at 0 (non-negative expression data)
    --gan-lr X                     Adam learning rate of phase 2, step size and discriminator (default 1e-4);
                                   selection and early stopping act on phase 2, the step-size network

SINKHORN OPTIONS:
    --penalty none|l1|stvs         elastic cost ½‖z‖² + γτ(z) (default l1; none = squared Euclidean)
    --gamma G                      its strength γ (default 1)
    --epsilon E                    entropic ε (default 0.05 × mean cost, as ott-jax)
    --tol T                        Sinkhorn stopping rule: marginal ℓ1 error (default 1e-3)
    --max-iter N                   Sinkhorn iteration cap (default 2000)

Every w2/w1 fit ends with the held-out criterion of the returned map, the identity and the mean shift
(a warning when the map does not beat the mean shift) and why training stopped (patience, cap,
diverged, interrupted). SIGINT/SIGTERM stop at the next iteration: the best model so far is written to
--model (and --history), and monge exits with code 1.";

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
    eval_every: Option<usize>,
    patience: usize,
    criterion: Criterion,
    heldout_fraction: f64,
    heldout_files: Option<(String, String)>,
    /// `--checkpoint FILE` and its interval.
    checkpoint: Option<String>,
    checkpoint_every: usize,
    /// The options as given (stored in a checkpoint; a resume re-reads them).
    argv: Vec<String>,
    /// `--resume FILE`: the checkpoint read.
    resume: Option<(String, LoadedModel)>,
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
    for (knob, applies) in [("sigma", "l0"), ("gamma", "stvs"), ("lambda", "")] {
        let ok = if applies.is_empty() {
            name != "none"
        } else {
            name == applies
        };
        if a.given(knob) && !ok {
            return Err(Error::Usage(format!(
                "--{knob} has no effect with --penalty {name} (it applies to {})",
                if applies.is_empty() {
                    "--penalty l1, stvs or l0".to_string()
                } else {
                    format!("--penalty {applies}")
                }
            )));
        }
    }
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
    let stopped = rep.stopped.name();
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
        .with("schedule_stopped", stopped)
        .with("cut_short", rep.cut_short)
        .with("increases", Json::Arr(inc))
        .with("steps", Json::Arr(steps))
}

/// The held-out comparison as JSON: exactly `{"criterion", "map", "identity", "mean_shift",
/// "best_iteration"}` (null without held-out cells).
pub fn heldout_json(h: Option<&HeldoutReport>) -> Json {
    match h {
        None => Json::Null,
        Some(h) => Json::obj()
            .with("criterion", h.criterion)
            .with("map", h.map)
            .with("identity", h.identity)
            .with("mean_shift", h.mean_shift)
            .with("best_iteration", h.best_iteration),
    }
}

/// Runs `monge fit`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    if let Some(ck) = a.get::<String>("resume")? {
        return resume(ck, a);
    }
    // the options as typed (after `fit`), for a checkpoint
    let argv: Vec<String> = std::env::args()
        .skip_while(|s| s != "fit")
        .skip(1)
        .collect();
    run_with(a, argv, None)
}

/// Separator of the stored options in a checkpoint.
const ARG_SEP: char = '\u{1f}';

/// `monge fit --resume FILE [--model M] [--quiet] [--json]`: the options are the checkpoint's.
fn resume(ck: String, mut a: Args) -> Result<()> {
    let model: Option<String> = a.get("model")?;
    let (quiet, json) = (a.flag("quiet"), a.flag("json"));
    a.finish().map_err(|e| {
        Error::Usage(format!(
            "{e} (--resume takes only --model, --quiet and --json: the other options are the checkpoint's)"
        ))
    })?;
    let loaded = monge::io::load_model(Path::new(&ck))?;
    let stored = match &loaded {
        LoadedModel::F32(m) => m.hyper("argv").map(str::to_string),
        LoadedModel::F64(m) => m.hyper("argv").map(str::to_string),
    };
    let Some(stored) = stored.filter(|_| CHECKPOINT_KINDS.contains(&loaded.method())) else {
        return Err(Error::Usage(format!(
            "--resume: '{ck}' is not a monge fit checkpoint (method '{}')",
            loaded.method()
        )));
    };
    let mut argv: Vec<String> = stored.split(ARG_SEP).map(str::to_string).collect();
    if let Some(m) = model {
        match argv.iter().position(|s| s == "--model") {
            Some(i) if i + 1 < argv.len() => argv[i + 1] = m,
            _ => argv.extend(["--model".to_string(), m]),
        }
    }
    for (on, f) in [(quiet, "--quiet"), (json, "--json")] {
        if on && !argv.iter().any(|s| s == f) {
            argv.push(f.into());
        }
    }
    let a = Args::parse(&argv, super::FLAGS)?;
    run_with(a, argv, Some((ck, loaded)))
}

/// The checkpoint kinds `monge fit` writes (W2, W1).
const CHECKPOINT_KINDS: [&str; 2] = ["checkpoint-w2", "checkpoint-w1"];

fn run_with(mut a: Args, argv: Vec<String>, resume: Option<(String, LoadedModel)>) -> Result<()> {
    let method: String = a.required("method")?;
    let dtype: String = a.get_or("dtype", "f32".to_string())?;
    let criterion: String = a.get_or("criterion", Criterion::default().name().to_string())?;
    let criterion = Criterion::from_name(&criterion).ok_or_else(|| {
        Error::Usage(format!(
            "--criterion: unknown '{criterion}' (expected sliced_w2, energy_distance, mmd_median or mmd_cellot)"
        ))
    })?;
    let hs: Option<String> = a.get("heldout-source")?;
    let ht: Option<String> = a.get("heldout-target")?;
    let heldout_files = match (hs, ht) {
        (Some(s), Some(t)) => Some((s, t)),
        (None, None) => None,
        _ => {
            return Err(Error::Usage(
                "--heldout-source and --heldout-target go together: give both or neither".into(),
            ))
        }
    };
    let c = Common {
        source: a.required("source")?,
        target: a.required("target")?,
        model: a.required("model")?,
        seed: a.get_or("seed", 0)?,
        threads: a.threads(default_threads())?,
        iters: a.get("iters")?,
        batch: a.get_or("batch", 256)?,
        history: a.get("history")?,
        quiet: a.flag("quiet"),
        json: a.flag("json"),
        // one default for both solvers (W2Config's and W1Config's agree)
        eval_every: Some(a.get_or("eval-every", W2Config::default().eval_every)?),
        patience: a.get_or("patience", DEFAULT_PATIENCE)?,
        criterion,
        heldout_fraction: a.get_or("heldout-fraction", 0.1)?,
        heldout_files,
        checkpoint: a.get("checkpoint")?,
        checkpoint_every: a.get_or("checkpoint-every", 1000)?,
        argv,
        resume,
    };
    if (c.checkpoint.is_some() || c.resume.is_some()) && method != "w2" && method != "w1" {
        return Err(Error::Usage(format!(
            "--checkpoint / --resume are for the iterative methods (w2, w1), not {method}"
        )));
    }
    if c.checkpoint_every == 0 {
        return Err(Error::Usage("--checkpoint-every must be at least 1".into()));
    }
    // every output checked (distinct from the inputs and each other, writable) before training starts
    let mut outputs = vec![("model", c.model.as_str())];
    if let Some(p) = &c.checkpoint {
        outputs.push(("checkpoint", p.as_str()));
    }
    if let Some(h) = &c.history {
        check_ext("history", h, &["csv", "txt"], "CSV text")?;
        outputs.push(("history", h.as_str()));
    }
    if !(0.0..1.0).contains(&c.heldout_fraction) {
        return Err(Error::Usage(format!(
            "--heldout-fraction must lie in [0, 1), got {}",
            c.heldout_fraction
        )));
    }
    let mut inputs = vec![("source", c.source.as_str()), ("target", c.target.as_str())];
    if let Some((hs, ht)) = &c.heldout_files {
        inputs.push(("heldout-source", hs.as_str()));
        inputs.push(("heldout-target", ht.as_str()));
    }
    check_paths(&inputs, &outputs)?;
    match dtype.as_str() {
        "f32" => fit_typed::<f32>(&method, c, a),
        "f64" => fit_typed::<f64>(&method, c, a),
        other => Err(Error::Usage(format!(
            "--dtype: unknown '{other}' (expected f32 or f64)"
        ))),
    }
}

/// What a method's fit hands back to [`fit_typed`].
struct Fitted<T> {
    /// The model to write (the best so far after a divergence or an interrupt; None when there is none).
    saved: Option<SavedModel<T>>,
    out: Json,
    /// Why an iterative fit stopped (None for the closed-form methods).
    stopped: Option<Stopped>,
    /// Iterations done when it stopped.
    iteration: usize,
    heldout: Option<HeldoutReport>,
    /// What `saved` is, for the messages ("the best model (iteration 3000)", …).
    what: String,
    /// The divergence error.
    error: Option<Error>,
}

impl<T> Fitted<T> {
    fn closed_form(saved: SavedModel<T>, out: Json) -> Self {
        Fitted {
            saved: Some(saved),
            out,
            stopped: None,
            iteration: 0,
            heldout: None,
            what: "the model".into(),
            error: None,
        }
    }
}

/// The held-out option of the common flags (the files are read as `T`).
fn heldout_option<T: Real>(c: &Common) -> Result<Heldout<T>> {
    Ok(match &c.heldout_files {
        Some((s, t)) => {
            let hs = load::<T>(s)?;
            let ht = load::<T>(t)?;
            same_dim(s, hs.cols(), t, ht.cols())?;
            Heldout::Given(hs, ht)
        }
        None if c.heldout_fraction == 0.0 => Heldout::None,
        None => Heldout::Fraction(c.heldout_fraction),
    })
}

fn fit_typed<T: Real>(method: &str, c: Common, mut a: Args) -> Result<()> {
    let mut printer = ProgressPrinter::new(c.quiet);
    let mut history = History::default();
    let mut on_progress = |p: &Progress| {
        printer.report(p);
        history.record(p);
        ControlFlow::Continue(())
    };
    let t0 = Instant::now();
    // SIGINT/SIGTERM are recorded, not fatal, while training: the loops stop at an iteration boundary
    let deferral = monge::signal::Deferral::new();
    let fitted: Fitted<T> = match method {
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
            Fitted::closed_form(saved, out)
        }
        "w1" => fit_w1::<T>(&c, &mut a, &mut on_progress)?,
        other => {
            return Err(Error::Usage(format!(
                "--method: unknown '{other}' (expected w2, w1, sinkhorn, mean-shift or identity)"
            )))
        }
    };
    let signal = monge::signal::interrupted();
    let Fitted {
        saved,
        mut out,
        stopped,
        iteration,
        heldout,
        what,
        error,
    } = fitted;
    if let Some(s) = &saved {
        monge::io::save_model(Path::new(&c.model), s)?;
    }
    if let Some(h) = &c.history {
        history.write_csv(h)?;
    }
    drop(deferral);
    let history_note = c
        .history
        .as_ref()
        .map_or(String::new(), |h| format!(" and the history to {h}"));
    if let Some(e) = error {
        match &saved {
            Some(_) => say!(
                "monge: training diverged; wrote {what} to {}{history_note}",
                c.model
            ),
            None => say!(
                "monge: training diverged before the first held-out evaluation: no model was written \
                 to {} (nothing better than the untrained networks existed){history_note}",
                c.model
            ),
        }
        return Err(e);
    }
    if let Some(st) = stopped {
        out.set("stopped", st.name());
    }
    out.set("heldout", heldout_json(heldout.as_ref()));
    if let Some(h) = &heldout {
        out.set("criterion_description", h.description.as_str());
    }
    out.set("model", c.model.as_str())
        .set("dtype", T::NAME)
        .set("seconds", t0.elapsed().as_secs_f64());
    if c.json {
        out!("{}", out.render());
    }
    if stopped == Some(Stopped::Interrupted) {
        let by = signal.map_or("a stop request", monge::signal::name);
        let ck = c.checkpoint.as_ref().map_or(String::new(), |p| {
            format!(", and the training state to {p} (continue with `monge fit --resume {p}`)")
        });
        say!(
            "monge: interrupted by {by} at iteration {iteration}: wrote {what} to {}{history_note}{ck}",
            c.model
        );
        std::process::exit(1);
    }
    if !c.quiet {
        if let Some(h) = &heldout {
            say!(
                "held-out {} ({}): map {}, identity {}, mean shift {} (map from iteration {})",
                h.criterion,
                h.description,
                fmt_num(h.map),
                fmt_num(h.identity),
                fmt_num(h.mean_shift),
                h.best_iteration
            );
        }
        if let Some(st) = stopped {
            say!("stopped at iteration {iteration}: {}", st.describe());
        }
    }
    if let Some(h) = heldout.as_ref().filter(|_| !c.quiet) {
        if h.map.partial_cmp(&h.mean_shift) != Some(std::cmp::Ordering::Less) {
            say!(
                "monge: warning: the fitted map does not beat the mean shift on the held-out cells \
                 ({} {} vs {}): consider `--method mean-shift`, more iterations or other options",
                h.criterion,
                fmt_num(h.map),
                fmt_num(h.mean_shift)
            );
        }
    }
    if !c.json && !c.quiet {
        if let Some(s) = &saved {
            say!(
                "saved {} model ({}, d = {}) to {} in {:.1} s",
                s.method,
                T::NAME,
                s.dim,
                c.model,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Loads and checks the two sets.
fn load_pair<T: Real>(c: &Common) -> Result<(monge::linalg::Mat<T>, monge::linalg::Mat<T>)> {
    let x = load::<T>(&c.source)?;
    let y = load::<T>(&c.target)?;
    same_dim(&c.source, x.cols(), &c.target, y.cols())?;
    warn_scale(&c.source, &x);
    warn_scale(&c.target, &y);
    Ok((x, y))
}

type Ctl<'a> = &'a mut dyn FnMut(&Progress) -> ControlFlow<()>;

fn fit_w2<T: Real>(c: &Common, a: &mut Args, progress: Ctl<'_>) -> Result<Fitted<T>> {
    let defaults = w2_preset(a)?;
    let lr_given = a.given("lr");
    let lr: f64 = a.get_or("lr", defaults.lr_f)?;
    let mut cfg = W2Config {
        batch: c.batch,
        iterations: c.iters.unwrap_or(defaults.iterations),
        g_iters: a.get_or("g-iters", defaults.g_iters)?,
        lr_f: lr,
        lr_g: lr,
        penalty: parse_penalty(a)?,
        lambda: a.get_or("lambda", 0.0)?,
        eval_every: c.eval_every.unwrap_or(defaults.eval_every),
        patience: c.patience,
        criterion: c.criterion,
        threads: c.threads,
        seed: c.seed,
        ..defaults.clone()
    };
    parse_w2_potentials(a, &defaults, &mut cfg)?;
    let anneal = a.flag("anneal");
    let max_dim: Option<f64> = a.get("max-dim")?;
    if let Some(l) = max_dim {
        if l < 0.0 {
            return Err(Error::Usage(format!(
                "--max-dim {l}: a displacement dimensionality budget is at least 0"
            )));
        }
    }
    for (knob, needs, given) in [
        ("anneal-warmup", "--anneal", anneal),
        ("anneal-adjust", "--anneal", anneal),
        ("threshold", "--max-dim", max_dim.is_some()),
        ("budget-warmup", "--max-dim", max_dim.is_some()),
        ("budget-block", "--max-dim", max_dim.is_some()),
    ] {
        if a.given(knob) && !given {
            return Err(Error::Usage(format!(
                "--{knob} has no effect without {needs}"
            )));
        }
    }
    if a.given("lambda") && (anneal || max_dim.is_some()) {
        return Err(Error::Usage(
            "--lambda has no effect with --anneal / --max-dim: the schedule sets λ".into(),
        ));
    }
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
    let heldout = heldout_option::<T>(c)?;
    let mut out = Json::obj()
        .with("method", "w2")
        .with("n_source", x.rows())
        .with("n_target", y.rows())
        .with("d", x.cols());
    if (anneal || max_dim.is_some()) && (c.checkpoint.is_some() || c.resume.is_some()) {
        return Err(Error::Usage(
            "--checkpoint / --resume are available for w2 without --anneal / --max-dim so far"
                .into(),
        ));
    }
    if anneal || max_dim.is_some() {
        // λ is driven from outside: the map returned is the one at the final λ (held-out selection across
        // different λ would prefer the least sparse map); it is still scored on the held-out cells.
        cfg.eval_every = 0;
        // λ is driven for an open-ended number of iterations: no cosine schedule, and the papers' constant
        // rate unless --lr is given (the λ schedules were measured with it)
        cfg.cosine_lr = false;
        if !lr_given {
            cfg.lr_f = W2Config::default().lr_f;
            cfg.lr_g = W2Config::default().lr_g;
        }
        if anneal {
            cfg.lambda = anneal_cfg.lambda0;
        } else {
            cfg.lambda = budget_cfg.lambda0;
        }
        let mut tr = W2Trainer::with_heldout(&x, &y, &heldout, &cfg)?;
        let total_est = if anneal {
            anneal_cfg.initial_iters + 37 * (anneal_cfg.adjust_iters + anneal_cfg.smooth_iters / 2)
        } else {
            budget_cfg.warmup_iters + 40 * budget_cfg.block_iters
        };
        let res = {
            let mut rt = ReportingTrainee::controlled(
                &mut tr,
                progress,
                cfg.progress_every,
                total_est,
                c.iters,
            );
            if anneal {
                anneal_lambda(&mut rt, &anneal_cfg)
            } else {
                dim_budget(&mut rt, &budget_cfg)
            }
        };
        let iteration = tr.iteration();
        let rep = match res {
            Ok(r) => r,
            Err(e) => {
                return Ok(Fitted {
                    saved: None,
                    out,
                    stopped: Some(Stopped::Diverged),
                    iteration,
                    heldout: None,
                    what: String::new(),
                    error: Some(e),
                })
            }
        };
        let w2rep = tr.finish();
        let stopped = rep.stopped;
        out.set("iterations", iteration)
            .set("batch", tr.batch())
            .set("lambda", rep.final_lambda)
            .set("half_w2sq_estimate", w2rep.last.half_w2sq)
            .set(if anneal { "anneal" } else { "max_dim" }, anneal_json(&rep));
        Ok(Fitted {
            saved: Some(tr.map().to_saved()),
            out,
            stopped: Some(stopped),
            iteration,
            heldout: w2rep.heldout,
            what: format!(
                "the model at iteration {iteration} (λ = {})",
                rep.final_lambda
            ),
            error: None,
        })
    } else {
        let mut tr = W2Trainer::with_heldout(&x, &y, &heldout, &cfg)?;
        let fps = fingerprints(c)?;
        if let Some(saved) = checked_resume::<T>(c, &fps)? {
            tr.restore(&saved)?;
        }
        let mut extra = fps;
        extra.push(("argv".into(), c.argv.join(&ARG_SEP.to_string())));
        // segments between checkpoints train exactly as one run (the final evaluation comes last)
        let every = c
            .checkpoint
            .as_ref()
            .map_or(usize::MAX, |_| c.checkpoint_every);
        let (stopped, err) = loop {
            let next = cfg.iterations.min(tr.iteration().saturating_add(every));
            let (st, e) = tr.run_segment(next, &mut *progress);
            if let (Some(p), true) = (&c.checkpoint, e.is_none()) {
                monge::io::save_model(Path::new(p), &tr.checkpoint(&extra))?;
            }
            if st == Stopped::Cap && tr.iteration() < cfg.iterations {
                continue;
            }
            break (st, e);
        };
        tr.finalize(stopped);
        let rep = tr.report();
        let saved = (err.is_none() || tr.has_best()).then(|| tr.best_map().to_saved());
        let what = match rep.best_heldout {
            Some(v) => format!(
                "the best model so far (iteration {}, held-out {} {})",
                rep.best_iteration,
                cfg.criterion.name(),
                fmt_num(v)
            ),
            None => format!(
                "the model at iteration {} (no held-out evaluation had run)",
                rep.iterations
            ),
        };
        out.set("iterations", rep.iterations)
            .set("batch", rep.batch)
            .set("best_iteration", rep.best_iteration)
            .set("lambda", rep.lambda)
            .set("half_w2sq_estimate", rep.last.half_w2sq);
        Ok(Fitted {
            saved,
            out,
            stopped: Some(stopped),
            iteration: rep.iterations,
            heldout: rep.heldout,
            what,
            error: err,
        })
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
    let p: String = a.get_or("potential", base.potential.name().to_string())?;
    cfg.potential = match p.as_str() {
        "icnn" => Potential::Icnn,
        "quadratic-icnn" => Potential::QuadraticIcnn { rank },
        o => {
            return Err(Error::Usage(format!(
                "--potential: unknown '{o}' (expected icnn or quadratic-icnn)"
            )))
        }
    };
    let init_given = a.given("init");
    let init: String = a.get_or("init", base.map_init.name().to_string())?;
    cfg.map_init = MapInit::from_name(&init)?;
    if cfg.potential == Potential::Icnn && !init_given {
        cfg.map_init = MapInit::Random;
    }
    let solver: String = a.get_or("conjugate", "none".to_string())?;
    cfg.conjugate.solver = solver_from_name(&solver)?;
    cfg.conjugate.steps = a.get_or("conjugate-steps", base.conjugate.steps)?;
    cfg.conjugate.tol = a.get_or("conjugate-tol", base.conjugate.tol)?;
    let am: String = a.get_or("amortization", "objective".to_string())?;
    cfg.conjugate.amortization = amortization_from_name(&am)?;
    Ok(())
}

fn fit_sinkhorn<T: Real>(c: &Common, a: &mut Args) -> Result<Fitted<T>> {
    let defaults = SinkhornConfig::default();
    let name: String = a.get_or("penalty", "l1".to_string())?;
    if name == "none" && a.given("gamma") {
        return Err(Error::Usage(
            "--gamma has no effect with --penalty none (the cost is then ½‖z‖²)".into(),
        ));
    }
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
    super::args::check_memory(
        &format!(
            "the Sinkhorn cost matrix ({} source × {} target rows, f64)",
            x.rows(),
            y.rows()
        ),
        8.0 * x.rows() as f64 * y.rows() as f64,
    )?;
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
            say!(
                "monge: warning: Sinkhorn stopped at the iteration cap ({}) with marginal error {:.3e} > tol",
                r.iterations, r.marginal_error
            );
        }
    }
    Ok(Fitted::closed_form(map.to_saved(), out))
}

/// The checkpoint to resume from, in the training type, after checking the data files' fingerprints.
fn checked_resume<T: Real>(c: &Common, fps: &[(String, String)]) -> Result<Option<SavedModel<T>>> {
    let Some((ck, loaded)) = &c.resume else {
        return Ok(None);
    };
    let saved = as_type::<T>(loaded);
    for (k, v) in fps {
        if saved.hyper(k) != Some(v.as_str()) {
            return Err(Error::data(
                ck.as_str(),
                None,
                None,
                format!(
                    "{k}: the data file changed since the checkpoint was written (fingerprint {v}, \
                     the checkpoint has {})",
                    saved.hyper(k).unwrap_or("none")
                ),
            ));
        }
    }
    Ok(Some(saved))
}

/// FNV-1a fingerprints of the data files (source, target, held-out files), recorded in a checkpoint.
fn fingerprints(c: &Common) -> Result<Vec<(String, String)>> {
    let mut files = vec![("source", c.source.as_str()), ("target", c.target.as_str())];
    if let Some((s, t)) = &c.heldout_files {
        files.push(("heldout-source", s.as_str()));
        files.push(("heldout-target", t.as_str()));
    }
    files
        .into_iter()
        .map(|(k, p)| {
            let bytes = std::fs::read(p).map_err(|e| Error::io(p, "read", e))?;
            Ok((
                format!("fingerprint.{k}"),
                format!("{:016x}", monge::io::model::fnv1a64(&bytes)),
            ))
        })
        .collect()
}

/// A loaded checkpoint in the training type (its own type: the stored options give the same --dtype,
/// and f32 → f64 → f32 is exact).
fn as_type<T: Real>(m: &LoadedModel) -> SavedModel<T> {
    fn conv<A: Real, B: Real>(m: &SavedModel<A>) -> SavedModel<B> {
        SavedModel {
            method: m.method.clone(),
            dim: m.dim,
            hyper: m.hyper.clone(),
            tensors: m
                .tensors
                .iter()
                .map(|(n, s, v)| {
                    (
                        n.clone(),
                        s.clone(),
                        v.iter().map(|x| B::from_f64(x.to_f64())).collect(),
                    )
                })
                .collect(),
        }
    }
    match m {
        LoadedModel::F32(m) => conv(m),
        LoadedModel::F64(m) => conv(m),
    }
}

fn fit_w1<T: Real>(c: &Common, a: &mut Args, progress: Ctl<'_>) -> Result<Fitted<T>> {
    use monge::nn::lipschitz::LipschitzConfig;
    use monge::ot::w1::{W1Config, W1Trainer};
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
        gan_lr: a.get_or("gan-lr", d.gan_lr)?,
        eval_every: c.eval_every.unwrap_or(d.eval_every),
        patience: c.patience,
        criterion: c.criterion,
        seed: c.seed,
        threads: c.threads,
        ..d
    };
    a.finish()?;
    let (x, y) = load_pair::<T>(c)?;
    let heldout = heldout_option::<T>(c)?;
    let mut tr = W1Trainer::with_heldout(&x, &y, &heldout, &cfg)?;
    let fps = fingerprints(c)?;
    if let Some(saved) = checked_resume::<T>(c, &fps)? {
        tr.restore(&saved)?;
    }
    let mut extra = fps;
    extra.push(("argv".into(), c.argv.join(&ARG_SEP.to_string())));
    let total = cfg.potential_iters + cfg.gan_iters;
    let every = c
        .checkpoint
        .as_ref()
        .map_or(usize::MAX, |_| c.checkpoint_every);
    let (stopped, err) = loop {
        let next = total.min(tr.iterations().saturating_add(every));
        let (st, e) = tr.run_segment(next, &mut *progress);
        if let (Some(p), true) = (&c.checkpoint, e.is_none()) {
            monge::io::save_model(Path::new(p), &tr.checkpoint(&extra))?;
        }
        if st == Stopped::Cap && tr.iterations() < total {
            continue;
        }
        break (st, e);
    };
    tr.finalize(stopped);
    let rep = tr.report();
    let saved = (err.is_none() || tr.has_best()).then(|| tr.best_map().to_saved());
    let iteration = rep.potential_iters + rep.gan_iters;
    let what = match rep.best_heldout {
        Some((v, it)) => format!(
            "the best model so far (GAN iteration {it}, held-out {} {})",
            cfg.criterion.name(),
            fmt_num(v)
        ),
        None => format!(
            "the model at potential iteration {}, GAN iteration {} (no held-out evaluation had run)",
            rep.potential_iters, rep.gan_iters
        ),
    };
    let out = Json::obj()
        .with("method", "w1")
        .with("n_source", x.rows())
        .with("n_target", y.rows())
        .with("d", x.cols())
        .with("iterations", iteration)
        .with("potential_iterations", rep.potential_iters)
        .with("gan_iterations", rep.gan_iters)
        .with("batch", rep.batch)
        .with("w1_estimate", rep.w1_estimate)
        .with("grad_norm_fraction", rep.grad_norm_fraction);
    Ok(Fitted {
        saved,
        out,
        stopped: Some(stopped),
        iteration,
        heldout: rep.heldout,
        what,
        error: err,
    })
}
