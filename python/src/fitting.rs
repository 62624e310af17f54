//! The one file that calls monge's fitting API: options → configs, the fit itself, and its report.
//!
//! Options arrive under the names of `monge fit` (`iters`, `batch`, `penalty`, `lambda`, `sigma`,
//! `max-dim`, …; the Python glue turns `max_dim` / `lambda_` into them) and become the same configs
//! `src/cli/fit.rs` builds, from the same `Default`s, so one seed gives the CLI's model bit for bit
//! (`tests/test_cli_parity.py`). The option → config mapping mirrors `src/cli/fit.rs` because that
//! parser lives in the binary, not in the library; when the library's front door (one `fit` for every
//! method) lands, this file switches to it and the mirror goes.

use crate::report::Val;
use monge::linalg::{Mat, Real};
use monge::nn::lipschitz::LipschitzConfig;
use monge::ot::anneal::{
    anneal_lambda, dim_budget, AnnealConfig, AnnealReport, DimBudgetConfig, ReportingTrainee,
};
use monge::ot::baselines::{Identity, MeanShift};
use monge::ot::penalty::Penalty;
use monge::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use monge::ot::w1::W1Config;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{Progress, SavedModel, TransportMap};
use monge::{Error, Result};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

/// The options every method reads (besides its own).
const COMMON: &[&str] = &["dtype", "seed", "threads", "iters", "batch"];
const W2_OPTS: &[&str] = &[
    "penalty",
    "lambda",
    "sigma",
    "gamma",
    "lr",
    "g-iters",
    "eval-every",
    "anneal",
    "anneal-warmup",
    "anneal-adjust",
    "max-dim",
    "threshold",
    "budget-warmup",
    "budget-block",
];
const W1_OPTS: &[&str] = &["orthonormal", "positive", "eval-every"];
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
    /// W2, with an optional λ schedule.
    W2 {
        cfg: W2Config,
        anneal: Option<AnnealConfig>,
        budget: Option<DimBudgetConfig>,
    },
    /// W1.
    W1(W1Config),
    /// Entropic elastic-cost Sinkhorn map.
    Sinkhorn(SinkhornConfig),
    /// T(x) = x + mean(target) − mean(source).
    MeanShift,
    /// T(x) = x.
    Identity,
}

/// A resolved fit: the plan and its precision.
pub struct Resolved {
    pub plan: Plan,
    pub dtype: &'static str,
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
    let plan = match method {
        "w2" => {
            o.finish(W2_OPTS)?;
            let defaults = W2Config::default();
            let lr = o.f64("lr")?.unwrap_or(defaults.lr_f);
            let cfg = W2Config {
                batch,
                iterations: iters.unwrap_or(defaults.iterations),
                g_iters: o.usize("g-iters")?.unwrap_or(defaults.g_iters),
                lr_f: lr,
                lr_g: lr,
                penalty: w2_penalty(&o)?,
                lambda: o.f64("lambda")?.unwrap_or(0.0),
                eval_every: o.usize("eval-every")?.unwrap_or(defaults.eval_every),
                threads,
                seed,
                ..defaults
            };
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
            cfg.validate().map_err(crate::to_py_err)?;
            Plan::W2 {
                cfg,
                anneal: anneal.then_some(anneal_cfg),
                budget: max_dim.map(|_| budget_cfg),
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
            Plan::W1(W1Config {
                potential,
                potential_iters: iters.unwrap_or(d.potential_iters),
                gan_iters: iters.unwrap_or(d.gan_iters),
                batch,
                positive: o.flag("positive")?,
                eval_every: o.usize("eval-every")?.unwrap_or(d.eval_every),
                seed,
                threads,
                ..d
            })
        }
        "sinkhorn" => {
            o.finish(SINKHORN_OPTS)?;
            let defaults = SinkhornConfig::default();
            let gamma = o.f64("gamma")?.unwrap_or(1.0);
            let cost = match o.string("penalty")?.as_deref().unwrap_or("l1") {
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
            if method == "identity" {
                Plan::Identity
            } else {
                Plan::MeanShift
            }
        }
        other => {
            return Err(usage(format!(
                "method: unknown '{other}' (expected w2, w1, sinkhorn, mean-shift or identity)"
            )))
        }
    };
    Ok(Resolved { plan, dtype })
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
        .with("increases", Val::Arr(inc))
        .with("steps", Val::Arr(steps))
}

/// Runs the fit (no GIL needed): the model file's content and the report with `monge fit --json`'s keys
/// (without `model`, `dtype`, `seconds`, which the caller adds).
pub fn run<T: Real>(
    plan: &Plan,
    x: &Mat<T>,
    y: &Mat<T>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(SavedModel<T>, Val)> {
    if x.cols() != y.cols() {
        return Err(Error::Shape(format!(
            "source has {} features but target has {}",
            x.cols(),
            y.cols()
        )));
    }
    let base = |m: &str| {
        Val::obj()
            .with("method", m)
            .with("n_source", x.rows())
            .with("n_target", y.rows())
            .with("d", x.cols())
    };
    match plan {
        Plan::Identity => Ok((Identity::new(x.cols()).to_saved(), base("identity"))),
        Plan::MeanShift => Ok((
            MeanShift::fit(x.view(), y.view())?.to_saved(),
            base("mean-shift"),
        )),
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
            Ok((map.to_saved(), out))
        }
        Plan::W1(cfg) => {
            let (map, rep) = monge::ot::w1::fit(x, y, cfg, progress)?;
            let out = base("w1")
                .with("iterations", rep.potential_iters + rep.gan_iters)
                .with("w1_estimate", rep.w1_estimate)
                .with("grad_norm_fraction", rep.grad_norm_fraction)
                .with("heldout_mmd", rep.best_mmd.map(|b| b.0));
            Ok((map.to_saved(), out))
        }
        Plan::W2 {
            cfg,
            anneal,
            budget,
        } => {
            if anneal.is_some() || budget.is_some() {
                // λ driven from outside, as the CLI: the map at the final λ, no held-out selection
                let mut cfg = cfg.clone();
                cfg.eval_every = 0;
                cfg.lambda = match (anneal, budget) {
                    (Some(a), _) => a.lambda0,
                    (None, Some(b)) => b.lambda0,
                    _ => unreachable!("one schedule is set"),
                };
                let mut tr = W2Trainer::new(x, y, &cfg)?;
                let (rep, total) = {
                    let total_est = match (anneal, budget) {
                        (Some(a), _) => {
                            a.initial_iters + 37 * (a.adjust_iters + a.smooth_iters / 2)
                        }
                        (None, Some(b)) => b.warmup_iters + 40 * b.block_iters,
                        _ => 0,
                    };
                    let mut rt =
                        ReportingTrainee::new(&mut tr, progress, cfg.progress_every, total_est);
                    let rep = match (anneal, budget) {
                        (Some(a), _) => anneal_lambda(&mut rt, a)?,
                        (None, Some(b)) => dim_budget(&mut rt, b)?,
                        _ => unreachable!("one schedule is set"),
                    };
                    (rep, rt.done())
                };
                let key = if anneal.is_some() {
                    "anneal"
                } else {
                    "max_dim"
                };
                let out = base("w2")
                    .with("iterations", total)
                    .with("lambda", rep.final_lambda)
                    .with(key, anneal_val(&rep));
                Ok((tr.map().to_saved(), out))
            } else {
                let mut tr = W2Trainer::new(x, y, cfg)?;
                tr.run(cfg.iterations, progress)?;
                let rep = tr.report();
                let out = base("w2")
                    .with("iterations", rep.iterations)
                    .with("best_iteration", rep.best_iteration)
                    .with("heldout_mmd", rep.best_mmd)
                    .with("lambda", rep.lambda)
                    .with("w2_estimate", rep.last.w2);
                Ok((tr.best_map().to_saved(), out))
            }
        }
    }
}
