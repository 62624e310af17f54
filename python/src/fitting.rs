//! The one file that calls monge's fitting API: options → configs, the fit itself, and its report.
//!
//! Options arrive under the names of `monge fit` (`iters`, `batch`, `penalty`, `lambda`, `sigma`,
//! `max-dim`, `patience`, `criterion`, …; the Python glue turns `max_dim` / `lambda_` into them) and
//! become the configs `src/cli/fit.rs` builds, from the same `Default`s and with the same checks, so one
//! seed gives the CLI's model bit for bit (`tests/test_cli_parity.py`). W2 without a λ schedule, W1,
//! mean shift and identity go through the library's front door, [`monge::fit`]; the λ schedules (Alg.
//! 1 / Alg. 2) and Sinkhorn (for its convergence report) are driven as the CLI drives them. The option →
//! config mapping mirrors `src/cli/fit.rs` because that parser lives in the binary, not in the library.

use crate::report::Val;
use monge::linalg::{Mat, Real};
use monge::nn::lipschitz::LipschitzConfig;
use monge::ot::anneal::{
    anneal_lambda, dim_budget, AnnealConfig, AnnealReport, DimBudgetConfig, ReportingTrainee,
};
use monge::ot::penalty::Penalty;
use monge::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use monge::ot::train::select::DEFAULT_PATIENCE;
use monge::ot::train::{Control, Criterion, Heldout, HeldoutReport, Stopped};
use monge::ot::w1::W1Config;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{SavedModel, TransportMap};
use monge::{Error, Method, Result};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

/// The options every method reads (besides its own).
const COMMON: &[&str] = &[
    "dtype",
    "seed",
    "threads",
    "iters",
    "batch",
    "eval-every",
    "patience",
    "criterion",
    "heldout-fraction",
];
const W2_OPTS: &[&str] = &[
    "penalty",
    "lambda",
    "sigma",
    "gamma",
    "lr",
    "g-iters",
    "preset",
    "potential",
    "quad-rank",
    "init",
    "conjugate",
    "conjugate-steps",
    "conjugate-tol",
    "amortization",
    "anneal",
    "anneal-warmup",
    "anneal-adjust",
    "max-dim",
    "threshold",
    "budget-warmup",
    "budget-block",
];
const W1_OPTS: &[&str] = &["orthonormal", "positive", "gan-lr"];
const SINKHORN_OPTS: &[&str] = &["penalty", "gamma", "epsilon", "tol", "max-iter"];

/// The CLI's default thread count: the machine's cores, at most 2 (as `monge fit`).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2)
}

/// A keyword-option reader over the options dict: typed look-ups by CLI name, every key accounted for.
struct Opts<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
    method: &'a str,
}

fn py_name(cli: &str) -> String {
    match cli {
        "lambda" => "lambda_".into(),
        other => other.replace('-', "_"),
    }
}

impl<'py> Opts<'_, 'py> {
    fn raw(&self, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.dict.get_item(name)? {
            Some(v) if v.is_none() => Ok(None),
            other => Ok(other),
        }
    }
    fn type_err(&self, name: &str, want: &str, v: &Bound<'py, PyAny>) -> PyErr {
        let got = v
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        PyTypeError::new_err(format!(
            "option {}: expected {want}, got {got} {}",
            py_name(name),
            v.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    }
    fn given(&self, name: &str) -> PyResult<bool> {
        Ok(self.raw(name)?.is_some())
    }
    fn usize(&self, name: &str) -> PyResult<Option<usize>> {
        let Some(v) = self.raw(name)? else {
            return Ok(None);
        };
        if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
            return Err(self.type_err(name, "a non-negative integer", &v));
        }
        v.extract::<usize>().map(Some).map_err(|_| {
            PyValueError::new_err(format!(
                "option {}: must be a non-negative integer, got {v}",
                py_name(name)
            ))
        })
    }
    fn u64(&self, name: &str) -> PyResult<Option<u64>> {
        Ok(self.usize(name)?.map(|v| v as u64))
    }
    fn f64(&self, name: &str) -> PyResult<Option<f64>> {
        let Some(v) = self.raw(name)? else {
            return Ok(None);
        };
        if !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
            || v.is_instance_of::<PyBool>()
        {
            return Err(self.type_err(name, "a number", &v));
        }
        v.extract::<f64>().map(Some)
    }
    fn string(&self, name: &str) -> PyResult<Option<String>> {
        let Some(v) = self.raw(name)? else {
            return Ok(None);
        };
        if !v.is_instance_of::<PyString>() {
            return Err(self.type_err(name, "a string", &v));
        }
        v.extract::<String>().map(Some)
    }
    fn flag(&self, name: &str) -> PyResult<bool> {
        let Some(v) = self.raw(name)? else {
            return Ok(false);
        };
        if !v.is_instance_of::<PyBool>() {
            return Err(self.type_err(name, "True or False", &v));
        }
        v.extract::<bool>()
    }
    /// Fails on an option the method does not read (as the CLI's "unknown option").
    fn finish(&self, own: &[&str]) -> PyResult<()> {
        for k in self.dict.keys() {
            let k: String = k.extract()?;
            if !COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()) {
                let mut known: Vec<String> = COMMON.iter().chain(own).map(|s| py_name(s)).collect();
                known.sort();
                known.dedup();
                return Err(PyTypeError::new_err(format!(
                    "fit() got an unknown option '{}' for method '{}' (its options: {})",
                    py_name(&k),
                    self.method,
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// What to fit, with every option resolved (built with the GIL, run without it).
pub enum Plan {
    /// A method of the front door.
    Front(Method),
    /// W2 under a λ schedule (Alg. 1 or Alg. 2), driven as the CLI drives it.
    Schedule {
        cfg: W2Config,
        anneal: Option<AnnealConfig>,
        budget: Option<DimBudgetConfig>,
    },
    /// The Sinkhorn map (its convergence report goes into the report).
    Sinkhorn(SinkhornConfig),
}

/// A resolved fit: the plan, its precision and where its held-out cells come from.
pub struct Resolved {
    pub plan: Plan,
    pub dtype: &'static str,
    /// The held-out fraction (0 = none); replaced by the caller's own sets when given.
    pub heldout_fraction: f64,
    /// `iters` as given (the λ schedules' cap).
    pub iters: Option<usize>,
}

fn usage(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// Parses `penalty` with its parameters (as the CLI's `parse_penalty`).
fn w2_penalty(o: &Opts<'_, '_>) -> PyResult<Penalty> {
    let name = o.string("penalty")?.unwrap_or_else(|| "none".into());
    for (knob, applies) in [("sigma", "l0"), ("gamma", "stvs"), ("lambda", "")] {
        let ok = if applies.is_empty() {
            name != "none"
        } else {
            name == applies
        };
        if o.given(knob)? && !ok {
            return Err(usage(format!(
                "{} has no effect with penalty='{name}' (it applies to {})",
                py_name(knob),
                if applies.is_empty() {
                    "penalty='l1', 'stvs' or 'l0'".to_string()
                } else {
                    format!("penalty='{applies}'")
                }
            )));
        }
    }
    let sigma = o.f64("sigma")?.unwrap_or(1.0);
    let gamma = o.f64("gamma")?.unwrap_or(1.0);
    let p = match name.as_str() {
        "none" => Penalty::None,
        "l1" => Penalty::L1,
        "stvs" => Penalty::Stvs { gamma },
        "l0" => Penalty::SmoothedL0 { sigma },
        other => {
            return Err(usage(format!(
                "penalty: unknown '{other}' (expected none, l1, stvs or l0)"
            )))
        }
    };
    p.validate().map_err(crate::to_py_err)?;
    Ok(p)
}

/// `potential`, `quad_rank`, `init`, `conjugate*`, `amortization` over the preset's values (as the CLI's
/// `parse_w2_potentials`).
fn w2_potentials(o: &Opts<'_, '_>, base: &W2Config, cfg: &mut W2Config) -> PyResult<()> {
    use monge::ot::conjugate::{amortization_from_name, solver_from_name};
    use monge::ot::potentials::{MapInit, Potential};
    let err = crate::to_py_err;
    let base_rank = match base.potential {
        Potential::QuadraticIcnn { rank } => rank,
        Potential::Icnn => 64,
    };
    let rank = o.usize("quad-rank")?.unwrap_or(base_rank);
    let p = o
        .string("potential")?
        .unwrap_or_else(|| base.potential.name().to_string());
    cfg.potential = match p.as_str() {
        "icnn" => Potential::Icnn,
        "quadratic-icnn" => Potential::QuadraticIcnn { rank },
        other => {
            return Err(usage(format!(
                "potential: unknown '{other}' (expected icnn or quadratic-icnn)"
            )))
        }
    };
    let init_given = o.given("init")?;
    let init = o
        .string("init")?
        .unwrap_or_else(|| base.map_init.name().to_string());
    cfg.map_init = MapInit::from_name(&init).map_err(err)?;
    if cfg.potential == Potential::Icnn && !init_given {
        cfg.map_init = MapInit::Random;
    }
    let solver = o.string("conjugate")?.unwrap_or_else(|| "none".into());
    cfg.conjugate.solver = solver_from_name(&solver).map_err(err)?;
    cfg.conjugate.steps = o.usize("conjugate-steps")?.unwrap_or(base.conjugate.steps);
    cfg.conjugate.tol = o.f64("conjugate-tol")?.unwrap_or(base.conjugate.tol);
    let am = o
        .string("amortization")?
        .unwrap_or_else(|| "objective".into());
    cfg.conjugate.amortization = amortization_from_name(&am).map_err(err)?;
    Ok(())
}

/// Resolves `method` and the options dict into a [`Resolved`] fit, with the CLI's defaults.
pub fn resolve(method: &str, dict: &Bound<'_, PyDict>) -> PyResult<Resolved> {
    let o = Opts { dict, method };
    let dtype = match o.string("dtype")?.as_deref().unwrap_or("f32") {
        "f32" | "float32" => "f32",
        "f64" | "float64" => "f64",
        other => {
            return Err(usage(format!(
                "dtype: unknown '{other}' (expected f32 or f64)"
            )))
        }
    };
    let seed = o.u64("seed")?.unwrap_or(0);
    let mut threads = o.usize("threads")?.unwrap_or_else(default_threads);
    if threads == 0 {
        return Err(usage("threads must be at least 1".into()));
    }
    // as the CLI: more threads than cores only cost memory and time, and would change the bits
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > cores {
        let msg = format!("threads={threads} capped at the {cores} cores available");
        PyErr::warn(
            dict.py(),
            &dict.py().get_type::<pyo3::exceptions::PyRuntimeWarning>(),
            &std::ffi::CString::new(msg).expect("no NUL"),
            1,
        )?;
        threads = cores;
    }
    let iters = o.usize("iters")?;
    let batch = o.usize("batch")?.unwrap_or(256);
    let eval_every = o
        .usize("eval-every")?
        .unwrap_or(W2Config::default().eval_every);
    let patience = o.usize("patience")?.unwrap_or(DEFAULT_PATIENCE);
    let criterion = match o.string("criterion")? {
        None => Criterion::default(),
        Some(c) => Criterion::from_name(&c).ok_or_else(|| {
            usage(format!(
                "criterion: unknown '{c}' (expected sliced_w2, energy_distance, mmd_median or mmd_cellot)"
            ))
        })?,
    };
    let heldout_fraction = o.f64("heldout-fraction")?.unwrap_or(0.1);
    if !(0.0..1.0).contains(&heldout_fraction) {
        return Err(usage(format!(
            "heldout_fraction must lie in [0, 1), got {heldout_fraction}"
        )));
    }
    let plan = match method {
        "w2" => {
            o.finish(W2_OPTS)?;
            // `preset='cellot'`: W2Config::default (the papers' setting); otherwise W2Config::monge
            let defaults = match o.string("preset")?.as_deref() {
                None => W2Config::monge(),
                Some("cellot") => W2Config::default(),
                Some(other) => {
                    return Err(usage(format!(
                        "preset: unknown '{other}' (expected cellot)"
                    )))
                }
            };
            let lr_given = o.given("lr")?;
            let lr = o.f64("lr")?.unwrap_or(defaults.lr_f);
            let mut cfg = W2Config {
                batch,
                iterations: iters.unwrap_or(defaults.iterations),
                g_iters: o.usize("g-iters")?.unwrap_or(defaults.g_iters),
                lr_f: lr,
                lr_g: lr,
                penalty: w2_penalty(&o)?,
                lambda: o.f64("lambda")?.unwrap_or(0.0),
                eval_every,
                patience,
                criterion,
                threads,
                seed,
                ..defaults.clone()
            };
            w2_potentials(&o, &defaults, &mut cfg)?;
            let anneal = o.flag("anneal")?;
            let max_dim = o.f64("max-dim")?;
            if let Some(l) = max_dim {
                if l.is_nan() || l < 0.0 {
                    return Err(usage(format!(
                        "max_dim {l}: a displacement dimensionality budget is at least 0"
                    )));
                }
            }
            for (knob, needs, given) in [
                ("anneal-warmup", "anneal=True", anneal),
                ("anneal-adjust", "anneal=True", anneal),
                ("threshold", "max_dim", max_dim.is_some()),
                ("budget-warmup", "max_dim", max_dim.is_some()),
                ("budget-block", "max_dim", max_dim.is_some()),
            ] {
                if o.given(knob)? && !given {
                    return Err(usage(format!(
                        "{} has no effect without {needs}",
                        py_name(knob)
                    )));
                }
            }
            if o.given("lambda")? && (anneal || max_dim.is_some()) {
                return Err(usage(
                    "lambda_ has no effect with anneal / max_dim: the schedule sets λ".into(),
                ));
            }
            let ad = AnnealConfig::default();
            let anneal_cfg = AnnealConfig {
                initial_iters: o.usize("anneal-warmup")?.unwrap_or(ad.initial_iters),
                adjust_iters: o.usize("anneal-adjust")?.unwrap_or(ad.adjust_iters),
                seed,
                ..ad
            };
            let bd = DimBudgetConfig::default();
            let budget_cfg = DimBudgetConfig {
                budget: max_dim.unwrap_or(bd.budget),
                threshold: o.f64("threshold")?.unwrap_or(bd.threshold),
                warmup_iters: o.usize("budget-warmup")?.unwrap_or(bd.warmup_iters),
                block_iters: o.usize("budget-block")?.unwrap_or(bd.block_iters),
                seed,
                ..bd
            };
            if anneal && max_dim.is_some() {
                return Err(usage(
                    "anneal and max_dim are two different λ schedules: choose one".into(),
                ));
            }
            if (anneal || max_dim.is_some()) && cfg.penalty.is_none() {
                return Err(usage(
                    "anneal / max_dim tune the weight of a penalty: give penalty='l1', 'stvs' or 'l0'"
                        .into(),
                ));
            }
            if anneal || max_dim.is_some() {
                // as the CLI: no cosine schedule under a λ schedule, the papers' constant rate unless
                // `lr` is given
                cfg.cosine_lr = false;
                if !lr_given {
                    cfg.lr_f = W2Config::default().lr_f;
                    cfg.lr_g = W2Config::default().lr_g;
                }
            }
            cfg.validate().map_err(crate::to_py_err)?;
            if anneal || max_dim.is_some() {
                Plan::Schedule {
                    cfg,
                    anneal: anneal.then_some(anneal_cfg),
                    budget: max_dim.map(|_| budget_cfg),
                }
            } else {
                Plan::Front(Method::W2(cfg))
            }
        }
        "w1" => {
            o.finish(W1_OPTS)?;
            let d = W1Config::default();
            let potential = match o.string("orthonormal")?.as_deref().unwrap_or("cayley") {
                "cayley" => d.potential.clone(),
                "bjorck" => LipschitzConfig::bjorck(),
                other => {
                    return Err(usage(format!(
                        "orthonormal: unknown '{other}' (expected cayley or bjorck)"
                    )))
                }
            };
            Plan::Front(Method::W1(W1Config {
                potential,
                potential_iters: iters.unwrap_or(d.potential_iters),
                gan_iters: iters.unwrap_or(d.gan_iters),
                batch,
                positive: o.flag("positive")?,
                gan_lr: o.f64("gan-lr")?.unwrap_or(d.gan_lr),
                eval_every,
                patience,
                criterion,
                seed,
                threads,
                ..d
            }))
        }
        "sinkhorn" => {
            o.finish(SINKHORN_OPTS)?;
            let defaults = SinkhornConfig::default();
            let pen = o.string("penalty")?;
            if pen.as_deref() == Some("none") && o.given("gamma")? {
                return Err(usage(
                    "gamma has no effect with penalty='none' (the cost is then ½‖z‖²)".into(),
                ));
            }
            let gamma = o.f64("gamma")?.unwrap_or(1.0);
            let cost = match pen.as_deref().unwrap_or("l1") {
                "none" => ElasticCost::SqEuclidean,
                "l1" => ElasticCost::L1 { gamma },
                "stvs" => ElasticCost::Stvs { gamma },
                other => {
                    return Err(usage(format!(
                        "penalty: the sinkhorn map takes none, l1 or stvs, not '{other}'"
                    )))
                }
            };
            cost.validate().map_err(crate::to_py_err)?;
            Plan::Sinkhorn(SinkhornConfig {
                cost,
                epsilon: o.f64("epsilon")?,
                tol: o.f64("tol")?.unwrap_or(defaults.tol),
                max_iter: o.usize("max-iter")?.unwrap_or(defaults.max_iter),
                threads,
                ..defaults
            })
        }
        "mean-shift" | "mean_shift" | "identity" => {
            o.finish(&[])?;
            Plan::Front(if method == "identity" {
                Method::Identity
            } else {
                Method::MeanShift
            })
        }
        other => {
            return Err(usage(format!(
                "method: unknown '{other}' (expected w2, w1, sinkhorn, mean-shift or identity)"
            )))
        }
    };
    Ok(Resolved {
        plan,
        dtype,
        heldout_fraction,
        iters,
    })
}

/// The annealer's trajectory (the CLI's `anneal_json`).
fn anneal_val(rep: &AnnealReport) -> Val {
    let steps = rep
        .steps
        .iter()
        .map(|s| {
            Val::obj()
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
    let inc = rep
        .increases
        .iter()
        .map(|&(it, l, d)| {
            Val::obj()
                .with("iteration", it)
                .with("lambda", l)
                .with("dim", d)
        })
        .collect();
    Val::obj()
        .with("final_lambda", rep.final_lambda)
        .with("iterations", rep.iterations)
        .with("budget_met", rep.budget_met)
        .with("final_dim", rep.final_dim)
        .with("final_dim_q3", rep.final_dim_q3)
        .with("schedule_stopped", rep.stopped.name())
        .with("cut_short", rep.cut_short)
        .with("increases", Val::Arr(inc))
        .with("steps", Val::Arr(steps))
}

/// The held-out comparison (the CLI's `heldout_json`).
fn heldout_val(h: Option<&HeldoutReport>) -> Val {
    match h {
        None => Val::Null,
        Some(h) => Val::obj()
            .with("criterion", h.criterion)
            .with("map", h.map)
            .with("identity", h.identity)
            .with("mean_shift", h.mean_shift)
            .with("best_iteration", h.best_iteration),
    }
}

/// What a fit hands back.
pub struct Outcome<T> {
    /// The model (the best so far after a divergence; None when a divergence left none).
    pub saved: Option<SavedModel<T>>,
    /// The report with `monge fit --json`'s keys (without `model`, `dtype`, `seconds`).
    pub report: Val,
    /// The divergence that ended training, if any.
    pub error: Option<Error>,
}

/// Adds the CLI's closing keys: `stopped`, `heldout`, `criterion_description`.
fn close(out: Val, stopped: Option<Stopped>, heldout: Option<&HeldoutReport>) -> Val {
    let mut out = out;
    if let Some(st) = stopped {
        out = out.with("stopped", st.name());
    }
    out = out.with("heldout", heldout_val(heldout));
    if let Some(h) = heldout {
        out = out.with("criterion_description", h.description.as_str());
    }
    out
}

/// Runs the fit (no GIL needed). `heldout` = the caller's own held-out sets, if any.
pub fn run<T: Real>(
    r: &Resolved,
    x: &Mat<T>,
    y: &Mat<T>,
    heldout: Option<(Mat<T>, Mat<T>)>,
    progress: Control<'_>,
) -> Result<Outcome<T>> {
    if x.cols() != y.cols() {
        return Err(Error::Shape(format!(
            "source has {} features but target has {}",
            x.cols(),
            y.cols()
        )));
    }
    let heldout = match heldout {
        Some((hs, ht)) => Heldout::Given(hs, ht),
        None if r.heldout_fraction == 0.0 => Heldout::None,
        None => Heldout::Fraction(r.heldout_fraction),
    };
    let base = |m: &str| {
        Val::obj()
            .with("method", m)
            .with("n_source", x.rows())
            .with("n_target", y.rows())
            .with("d", x.cols())
    };
    match &r.plan {
        Plan::Sinkhorn(cfg) => {
            let map = ElasticSinkhornMap::fit(x.view(), y.view(), cfg)?;
            let mut out = base("sinkhorn")
                .with("cost", cfg.cost.name())
                .with("gamma", cfg.cost.gamma());
            if let Some(r) = map.report() {
                out = out
                    .with("epsilon", r.epsilon)
                    .with("iterations", r.iterations)
                    .with("marginal_error", r.marginal_error)
                    .with("converged", r.converged);
            }
            Ok(Outcome {
                saved: Some(map.to_saved()),
                report: close(out, None, None),
                error: None,
            })
        }
        Plan::Front(method) => {
            let fitted = monge::fit(x, y, method, &heldout, Some(progress))?;
            let rep = fitted.report;
            let mut out = base(method.name());
            if let Some(w) = &rep.w2 {
                out = out
                    .with("iterations", w.iterations)
                    .with("batch", w.batch)
                    .with("best_iteration", w.best_iteration)
                    .with("lambda", w.lambda)
                    .with("half_w2sq_estimate", w.last.half_w2sq);
            }
            if let Some(w) = &rep.w1 {
                out = out
                    .with("iterations", w.potential_iters + w.gan_iters)
                    .with("potential_iterations", w.potential_iters)
                    .with("gan_iterations", w.gan_iters)
                    .with("batch", w.batch)
                    .with("w1_estimate", w.w1_estimate)
                    .with("grad_norm_fraction", w.grad_norm_fraction);
            }
            Ok(Outcome {
                saved: Some(fitted.map.to_saved()),
                report: close(out, rep.stopped, rep.heldout.as_ref()),
                error: rep.divergence,
            })
        }
        Plan::Schedule {
            cfg,
            anneal,
            budget,
        } => {
            // λ driven from outside, as the CLI: the map at the final λ (no selection across λ), still
            // scored on the held-out cells
            let mut cfg = cfg.clone();
            cfg.eval_every = 0;
            cfg.lambda = match (anneal, budget) {
                (Some(a), _) => a.lambda0,
                (None, Some(b)) => b.lambda0,
                _ => unreachable!("one schedule is set"),
            };
            let mut tr = W2Trainer::with_heldout(x, y, &heldout, &cfg)?;
            let total_est = match (anneal, budget) {
                (Some(a), _) => a.initial_iters + 37 * (a.adjust_iters + a.smooth_iters / 2),
                (None, Some(b)) => b.warmup_iters + 40 * b.block_iters,
                _ => 0,
            };
            let res = {
                let mut rt = ReportingTrainee::controlled(
                    &mut tr,
                    progress,
                    cfg.progress_every,
                    total_est,
                    r.iters,
                );
                match (anneal, budget) {
                    (Some(a), _) => anneal_lambda(&mut rt, a),
                    (None, Some(b)) => dim_budget(&mut rt, b),
                    _ => unreachable!("one schedule is set"),
                }
            };
            let iteration = tr.iteration();
            let out = base("w2");
            let rep = match res {
                Ok(rep) => rep,
                Err(e) => {
                    return Ok(Outcome {
                        saved: None,
                        report: close(out, Some(Stopped::Diverged), None),
                        error: Some(e),
                    })
                }
            };
            let w2rep = tr.finish();
            let key = if anneal.is_some() {
                "anneal"
            } else {
                "max_dim"
            };
            let out = out
                .with("iterations", iteration)
                .with("batch", tr.batch())
                .with("lambda", rep.final_lambda)
                .with("half_w2sq_estimate", w2rep.last.half_w2sq)
                .with(key, anneal_val(&rep));
            Ok(Outcome {
                saved: Some(tr.map().to_saved()),
                report: close(out, Some(rep.stopped), w2rep.heldout.as_ref()),
                error: None,
            })
        }
    }
}
