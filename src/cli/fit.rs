//! `monge fit`: learn a map from a source set to a target set and save it as a model file.
//!
//! The options become a [`Method`] in the library ([`monge::ot::options`], shared with the Python
//! package); this file keeps the files, the printing and the JSON. Sinkhorn, mean shift and identity run
//! through the front door [`monge::fit`]; W2, W2 under a λ schedule and W1 run in checkpointed segments
//! ([`super::resume`]).

use super::args::Args;
use super::common::{
    check_ext, check_paths, fmt_num, load, same_dim, warn_scale, History, ProgressPrinter,
};
use super::json::Json;
use monge::io::LoadedModel;
use monge::linalg::{Mat, Real};
use monge::ot::fit::report;
use monge::ot::options::{self, CommonOptions, Dtype, FitOptions, HeldoutChoice};
use monge::ot::penalty::Penalty;
use monge::ot::potentials::MapInit;
use monge::ot::train::{Heldout, HeldoutReport, Stopped};
use monge::ot::{Progress, SavedModel};
use monge::report::Value;
use monge::{Error, Method, Result};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

pub use monge::ot::options::default_threads;

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
    --checkpoint FILE              w2/w1 (with --anneal/--max-dim too): write the whole training state
                                   atomically, periodically and on SIGINT/SIGTERM
    --checkpoint-every N           iterations between checkpoints (default 1000)
    --resume FILE                  continue a checkpoint to the same bits as an uninterrupted run (its
                                   options and data files, checked by fingerprint; --model M may change)
    --latent pca:K                 train in the K principal coordinates of the pooled training cells
                                   (any method; the basis is saved in the model; not with --penalty,
                                   --anneal, --max-dim, --checkpoint); held-out selection runs there
    --decode keep|full             back to genes: keep (default) adds the latent displacement to x, the
                                   part of x outside the latent space kept; full projects onto it
    --history FILE.csv             write the training curves (for `monge plot --history`)
    --quiet                        no progress on stderr
    --json                         print one JSON object on stdout

W2 OPTIONS:
    --preset cellot                the papers' plain setting: plain ICNN, random start, constant lr 1e-4,
                                   100000 iterations, no refinement; without it monge's measured setting
    --potential NAME               quadratic-icnn (default): ICNN + affine path ½xᵀ(LLᵀ + diag)x + βᵀx, or
                                   icnn: the plain ICNN (CellOT)
    --quad-rank R                  rank of L in the affine path (default 64; at most d)
    --activation NAME              leaky-relu (default), squared on the first layer (CellOT), or elu on
                                   every layer (Amos 2023's w2ot: a continuous map ∇g)
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
    --lr X                         Adam learning rate of f and g (default 1e-3 with cosine decay, times
                                   max(8/d, 0.1) on d > 8 features; a given rate is used as is; with
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
(a warning when the map does not beat the mean shift; for w2, a note naming the start — e.g. the
Gaussian map — when no later iterate beat it) and why training stopped (patience, cap, diverged,
interrupted). SIGINT/SIGTERM stop at the next iteration: the best model so far is written to
--model (and --history), and monge exits with code 1.";

/// The options of `monge fit` that are the CLI's own (files, printing, checkpoints).
pub(super) struct Files {
    pub source: String,
    pub target: String,
    pub model: String,
    pub history: Option<String>,
    pub quiet: bool,
    pub json: bool,
    /// `--checkpoint FILE` and its interval.
    pub checkpoint: Option<String>,
    pub checkpoint_every: usize,
    /// The options as given (stored in a checkpoint; a resume re-reads them).
    pub argv: Vec<String>,
    /// `--resume FILE`: the checkpoint read.
    pub resume: Option<(String, LoadedModel)>,
}

/// Parses `--penalty` with its parameters (the library's [`options::penalty`]).
pub fn parse_penalty(a: &mut Args) -> Result<Penalty> {
    options::penalty(a)
}

/// The held-out comparison as JSON ([`monge::ot::fit::report::heldout`]).
pub fn heldout_json(h: Option<&HeldoutReport>) -> Json {
    report::heldout(h)
}

/// Runs `monge fit`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    if let Some(ck) = a.get::<String>("resume")? {
        return super::resume::resume(ck, a);
    }
    // the options as typed (after `fit`), for a checkpoint
    let argv: Vec<String> = std::env::args()
        .skip_while(|s| s != "fit")
        .skip(1)
        .collect();
    run_with(a, argv, None)
}

/// `monge fit` with the options `a` (typed as `argv`), resuming `resume` when given.
pub(super) fn run_with(
    mut a: Args,
    argv: Vec<String>,
    resume: Option<(String, LoadedModel)>,
) -> Result<()> {
    let common = options::read_common(&mut a)?;
    let f = Files {
        source: a.required("source")?,
        target: a.required("target")?,
        model: a.required("model")?,
        history: a.get("history")?,
        quiet: a.flag("quiet"),
        json: a.flag("json"),
        checkpoint: a.get("checkpoint")?,
        checkpoint_every: a.get_or("checkpoint-every", 1000)?,
        argv,
        resume,
    };
    if (f.checkpoint.is_some() || f.resume.is_some()) && !common.iterative() {
        return Err(Error::Usage(format!(
            "--checkpoint / --resume are for the iterative methods (w2, w1), not {}",
            common.method
        )));
    }
    if f.checkpoint_every == 0 {
        return Err(Error::Usage("--checkpoint-every must be at least 1".into()));
    }
    // every output checked (distinct from the inputs and each other, writable) before training starts
    let mut outputs = vec![("model", f.model.as_str())];
    if let Some(p) = &f.checkpoint {
        outputs.push(("checkpoint", p.as_str()));
    }
    if let Some(h) = &f.history {
        check_ext("history", h, &["csv", "txt"], "CSV text")?;
        outputs.push(("history", h.as_str()));
    }
    let mut inputs = vec![("source", f.source.as_str()), ("target", f.target.as_str())];
    if let HeldoutChoice::Files { source, target } = &common.heldout {
        inputs.push(("heldout-source", source.as_str()));
        inputs.push(("heldout-target", target.as_str()));
    }
    check_paths(&inputs, &outputs)?;
    let opts = options::resolve(common, &mut a)?;
    match opts.dtype {
        Dtype::F32 => fit_typed::<f32>(&f, &opts),
        Dtype::F64 => fit_typed::<f64>(&f, &opts),
    }
}

/// What a method's fit hands back to [`fit_typed`].
pub(super) struct Fitted<T> {
    /// The model to write (the best so far after a divergence or an interrupt; None when there is none).
    pub saved: Option<SavedModel<T>>,
    pub out: Value,
    /// Why an iterative fit stopped (None for the closed-form methods).
    pub stopped: Option<Stopped>,
    /// Iterations done when it stopped.
    pub iteration: usize,
    pub heldout: Option<HeldoutReport>,
    /// What `saved` is, for the messages ("the best model (iteration 3000)", …).
    pub what: String,
    /// The divergence error.
    pub error: Option<Error>,
}

/// What a W2 fit's iteration 0 is, for the note that says the returned map is the start.
fn start_of(init: MapInit) -> &'static str {
    match init {
        MapInit::Gaussian => {
            "the Gaussian map between the training cells' means and covariances (--init gaussian)"
        }
        MapInit::Identity => "the identity (--init identity)",
        MapInit::Random => "the untrained random network (--init random)",
    }
}

/// The held-out cells of the options (the files are read as `T`).
pub(super) fn heldout_option<T: Real>(c: &CommonOptions) -> Result<Heldout<T>> {
    Ok(match &c.heldout {
        HeldoutChoice::Files { source, target } => {
            let hs = load::<T>(source)?;
            let ht = load::<T>(target)?;
            same_dim(source, hs.cols(), target, ht.cols())?;
            Heldout::Given(hs, ht)
        }
        HeldoutChoice::Fraction(f) if *f == 0.0 => Heldout::None,
        HeldoutChoice::Fraction(f) => Heldout::Fraction(*f),
    })
}

/// Loads and checks the two sets.
pub(super) fn load_pair<T: Real>(f: &Files) -> Result<(Mat<T>, Mat<T>)> {
    let x = load::<T>(&f.source)?;
    let y = load::<T>(&f.target)?;
    same_dim(&f.source, x.cols(), &f.target, y.cols())?;
    warn_scale(&f.source, &x);
    warn_scale(&f.target, &y);
    Ok((x, y))
}

/// The progress callback of a fit.
pub(super) type Ctl<'a> = &'a mut dyn FnMut(&Progress) -> ControlFlow<()>;

/// The JSON every fit starts with ([`report::head`]).
pub(super) fn json_head<T: Real>(method: &str, x: &Mat<T>, y: &Mat<T>) -> Value {
    report::head(method, x.rows(), y.rows(), x.cols())
}

/// Sinkhorn, mean shift, identity and `--latent`: through the front door.
fn fit_front<T: Real>(
    f: &Files,
    c: &CommonOptions,
    method: &Method,
    progress: Ctl<'_>,
) -> Result<Fitted<T>> {
    let (x, y) = load_pair::<T>(f)?;
    let mut out = json_head(method.name(), &x, &y);
    let mut heldout = Heldout::None;
    if let Method::Latent(..) = method {
        heldout = heldout_option::<T>(c)?;
        if f.checkpoint.is_some() || f.resume.is_some() {
            return Err(Error::Usage(
                "--checkpoint / --resume are not available with --latent so far".into(),
            ));
        }
    }
    if let Method::Sinkhorn(_) = method {
        super::args::check_memory(
            &format!(
                "the Sinkhorn cost matrix ({} source × {} target rows, f64)",
                x.rows(),
                y.rows()
            ),
            8.0 * x.rows() as f64 * y.rows() as f64,
        )?;
    }
    report::cost_keys(&mut out, method);
    let fitted = monge::fit(&x, &y, method, &heldout, Some(progress))?;
    let rep = fitted.report;
    let saved = Some(fitted.map.to_saved());
    report::method_keys(&mut out, method, &rep);
    if let Some(l) = &rep.latent {
        if !l.converged && !f.quiet {
            say!(
                "monge: warning: the latent PCA stopped at its iteration cap with a Ritz residual of \
                 {:.1e} (> {:.0e}): the {} axes are orthonormal but not exactly the leading ones",
                l.max_residual,
                monge::ot::latent::LATENT_PCA_TOL,
                l.components
            );
        }
        let what = match rep.stopped {
            Some(_) => format!(
                "the model from iteration {}",
                rep.heldout
                    .as_ref()
                    .map_or(rep.iterations, |h| h.best_iteration)
            ),
            None => "the model".into(),
        };
        return Ok(Fitted {
            saved,
            out,
            stopped: rep.stopped,
            iteration: rep.iterations,
            heldout: rep.heldout,
            what,
            error: rep.divergence,
        });
    }
    if let Some(r) = &rep.sinkhorn {
        if !r.converged && !f.quiet {
            say!(
                "monge: warning: Sinkhorn stopped at the iteration cap ({}) with marginal error {:.3e} > tol",
                r.iterations, r.marginal_error
            );
        }
    }
    Ok(Fitted {
        saved,
        out,
        stopped: None,
        iteration: 0,
        heldout: None,
        what: "the model".into(),
        error: None,
    })
}

fn fit_typed<T: Real>(f: &Files, opts: &FitOptions) -> Result<()> {
    let c = &opts.common;
    let mut printer = ProgressPrinter::new(f.quiet);
    let mut history = History::default();
    let mut on_progress = |p: &Progress| {
        printer.report(p);
        history.record(p);
        ControlFlow::Continue(())
    };
    let t0 = Instant::now();
    // SIGINT/SIGTERM are recorded, not fatal, while training: the loops stop at an iteration boundary
    let deferral = monge::signal::Deferral::new();
    let fitted: Fitted<T> = match &opts.method {
        Method::W2(cfg) => super::resume::fit_w2::<T>(f, c, cfg, &mut on_progress)?,
        Method::W1(cfg) => super::resume::fit_w1::<T>(f, c, cfg, &mut on_progress)?,
        Method::W2Schedule(s) => super::resume::fit_w2_schedule::<T>(f, c, s, &mut on_progress)?,
        other => fit_front::<T>(f, c, other, &mut on_progress)?,
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
        monge::io::save_model(Path::new(&f.model), s)?;
    }
    if let Some(h) = &f.history {
        history.write_csv(h)?;
    }
    drop(deferral);
    let history_note = f
        .history
        .as_ref()
        .map_or(String::new(), |h| format!(" and the history to {h}"));
    if let Some(e) = error {
        match &saved {
            Some(_) => say!(
                "monge: training diverged; wrote {what} to {}{history_note}",
                f.model
            ),
            None => say!(
                "monge: training diverged before the first held-out evaluation: no model was written \
                 to {} (nothing better than the untrained networks existed){history_note}",
                f.model
            ),
        }
        return Err(e);
    }
    report::close(&mut out, stopped, heldout.as_ref());
    out.set("model", f.model.as_str())
        .set("dtype", T::NAME)
        .set("seconds", t0.elapsed().as_secs_f64());
    if f.json {
        out!("{}", out.render());
    }
    if stopped == Some(Stopped::Interrupted) {
        let by = signal.map_or("a stop request", monge::signal::name);
        let ck = f.checkpoint.as_ref().map_or(String::new(), |p| {
            format!(", and the training state to {p} (continue with `monge fit --resume {p}`)")
        });
        say!(
            "monge: interrupted by {by} at iteration {iteration}: wrote {what} to {}{history_note}{ck}",
            f.model
        );
        std::process::exit(1);
    }
    if !f.quiet {
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
            if let (Method::W2(cfg), 0, 1..) = (&opts.method, h.best_iteration, iteration) {
                say!(
                    "monge: note: no iterate scored better on the held-out cells than the start, so \
                     the returned map is the start: {}",
                    start_of(cfg.map_init)
                );
            }
        }
        if let Some(st) = stopped {
            say!("stopped at iteration {iteration}: {}", st.describe());
        }
    }
    if let Some(h) = heldout.as_ref().filter(|_| !f.quiet) {
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
    if !f.json && !f.quiet {
        if let Some(s) = &saved {
            say!(
                "saved {} model ({}, d = {}) to {} in {:.1} s",
                s.method,
                T::NAME,
                s.dim,
                f.model,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
