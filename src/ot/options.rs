//! Options → configs: the one place that turns the options of `monge fit` (by their CLI names) into
//! everything a fit needs — a [`Method`] with its config (the λ schedule included), the held-out
//! choice, the precision, seed and threads — from the configs' own `Default`s and with the same checks
//! for every caller.
//!
//! Callers hand their options over as an [`OptionSource`]: the CLI's parsed arguments and the Python
//! package's keyword dict both implement it. A source answers typed look-ups by name (`"max-dim"`,
//! `"lambda"`, …), says how it spells an option in messages (`--max-dim` on the command line,
//! `max_dim` in Python), and refuses in [`OptionSource::finish`] every option nobody read.
//!
//! The reading is in two steps, so that a caller can check its own options (files, outputs) between
//! them in the order `monge fit` always has: [`read_common`] (the options of every method), then
//! [`resolve`] (the precision and the method's own options, then `finish`, then the checks that need
//! all of them).

use crate::ot::anneal::{AnnealConfig, DimBudgetConfig};
use crate::ot::fit::{LambdaSchedule, Method, W2Schedule};
use crate::ot::latent::{Decode, LatentConfig};
use crate::ot::penalty::Penalty;
use crate::ot::sinkhorn::{ElasticCost, SinkhornConfig};
use crate::ot::train::{Criterion, DEFAULT_PATIENCE};
use crate::ot::w1::W1Config;
use crate::ot::w2::W2Config;
use crate::{Error, Result};

/// A default an option fell back to, handed to [`OptionSource::defaulted`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptValue<'a> {
    /// A count or size.
    Count(u64),
    /// A real number.
    Real(f64),
    /// A name.
    Text(&'a str),
}

/// Where options come from, looked up by their `monge fit` names (without dashes).
pub trait OptionSource {
    /// Whether `name` was given at all (without consuming it).
    fn given(&self, name: &str) -> bool;
    /// Whether the flag `name` was given.
    fn flag(&mut self, name: &str) -> Result<bool>;
    /// The text value of `name`.
    fn text(&mut self, name: &str) -> Result<Option<String>>;
    /// The value of `name` as an exact non-negative integer.
    fn count(&mut self, name: &str) -> Result<Option<u64>>;
    /// The value of `name` as a finite real number.
    fn real(&mut self, name: &str) -> Result<Option<f64>>;
    /// Fails on any option nobody read.
    fn finish(&mut self) -> Result<()>;
    /// Shows a warning to the user.
    fn warn(&mut self, message: &str);
    /// Told each default an option fell back to (the CLI's `--help` test records them).
    fn defaulted(&mut self, _name: &str, _value: OptValue<'_>) {}
    /// The option `name` as this source's user writes it: `--max-dim`.
    fn spell(&self, name: &str) -> String {
        format!("--{name}")
    }
    /// The option `name` with the value `value`: `--penalty none`.
    fn spell_value(&self, name: &str, value: &str) -> String {
        format!("--{name} {value}")
    }
    /// The option `name` with one of `values`: `--penalty l1, stvs or l0`.
    fn spell_values(&self, name: &str, values: &[&str]) -> String {
        format!("--{name} {}", or_list(values, |v| v.to_string()))
    }
    /// The flag `name` set: `--anneal`.
    fn spell_flag(&self, name: &str) -> String {
        format!("--{name}")
    }
}

/// `a, b or c`, each item written by `f`.
pub fn or_list(values: &[&str], f: impl Fn(&str) -> String) -> String {
    let items: Vec<String> = values.iter().map(|v| f(v)).collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn count_or(src: &mut impl OptionSource, name: &str, default: usize) -> Result<usize> {
    match src.count(name)? {
        Some(v) => usize::try_from(v)
            .map_err(|_| Error::Usage(format!("option {}: {v} is too large", src.spell(name)))),
        None => {
            src.defaulted(name, OptValue::Count(default as u64));
            Ok(default)
        }
    }
}

fn count(src: &mut impl OptionSource, name: &str) -> Result<Option<usize>> {
    match src.count(name)? {
        Some(v) => usize::try_from(v)
            .map(Some)
            .map_err(|_| Error::Usage(format!("option {}: {v} is too large", src.spell(name)))),
        None => Ok(None),
    }
}

fn real_or(src: &mut impl OptionSource, name: &str, default: f64) -> Result<f64> {
    match src.real(name)? {
        Some(v) => Ok(v),
        None => {
            src.defaulted(name, OptValue::Real(default));
            Ok(default)
        }
    }
}

fn text_or(src: &mut impl OptionSource, name: &str, default: &str) -> Result<String> {
    match src.text(name)? {
        Some(v) => Ok(v),
        None => {
            src.defaulted(name, OptValue::Text(default));
            Ok(default.to_string())
        }
    }
}

fn usage(msg: String) -> Error {
    Error::Usage(msg)
}

/// The default thread count: the machine's cores, at most 2 (the measured sweet spot; see the README).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2)
}

/// The cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// `threads` (default: `default`): at least 1, and capped at the cores available with a warning (a
/// thread per requested core beyond those only costs memory and time, and would change the bits).
pub fn threads(src: &mut impl OptionSource, default: usize) -> Result<usize> {
    let t = count_or(src, "threads", default)?;
    if t == 0 {
        return Err(usage(format!(
            "{} must be at least 1",
            src.spell("threads")
        )));
    }
    let cores = available_cores();
    if t > cores {
        let msg = format!(
            "{} capped at the {cores} cores available",
            src.spell_value("threads", &t.to_string())
        );
        src.warn(&msg);
        return Ok(cores);
    }
    Ok(t)
}

/// Where the held-out cells of an iterative fit come from.
#[derive(Clone, Debug, PartialEq)]
pub enum HeldoutChoice {
    /// SPEC §7.7's split with this fraction of each set (0 = no held-out cells).
    Fraction(f64),
    /// The caller's own files (`--heldout-source`, `--heldout-target`); the inputs are all training data.
    Files {
        /// `--heldout-source`.
        source: String,
        /// `--heldout-target`.
        target: String,
    },
}

/// The options every method reads, as read by [`read_common`].
#[derive(Clone, Debug)]
pub struct CommonOptions {
    /// `--method` as given.
    pub method: String,
    /// `--dtype` as given (checked by [`resolve`]).
    pub dtype: String,
    /// `--criterion`.
    pub criterion: Criterion,
    /// The held-out cells.
    pub heldout: HeldoutChoice,
    /// `--seed`.
    pub seed: u64,
    /// `--threads`.
    pub threads: usize,
    /// `--iters` as given (None: each method's own default).
    pub iters: Option<usize>,
    /// `--batch`.
    pub batch: usize,
    /// `--eval-every`.
    pub eval_every: usize,
    /// `--patience`.
    pub patience: usize,
}

impl CommonOptions {
    /// Whether the method is iterative (w2, w1): held-out cells, selection, checkpoints.
    pub fn iterative(&self) -> bool {
        self.method == "w2" || self.method == "w1"
    }
}

/// The precision of a fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// f32 (the default).
    F32,
    /// f64.
    F64,
}

/// Everything a fit needs, resolved from the options.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// The method with its config.
    pub method: Method,
    /// The precision.
    pub dtype: Dtype,
    /// The options every method reads.
    pub common: CommonOptions,
}

/// Reads the options of every method: `method`, `dtype`, `criterion`, the held-out choice, `seed`,
/// `threads`, `iters`, `batch`, `eval-every`, `patience`, `heldout-fraction`.
pub fn read_common(src: &mut impl OptionSource) -> Result<CommonOptions> {
    let method = src
        .text("method")?
        .ok_or_else(|| usage(format!("option {} is required", src.spell("method"))))?;
    let dtype = text_or(src, "dtype", "f32")?;
    let criterion = text_or(src, "criterion", Criterion::default().name())?;
    let criterion = Criterion::from_name(&criterion).ok_or_else(|| {
        usage(format!(
            "{}: unknown '{criterion}' (expected sliced_w2, energy_distance, mmd_median or mmd_cellot)",
            src.spell("criterion")
        ))
    })?;
    let hs = src.text("heldout-source")?;
    let ht = src.text("heldout-target")?;
    let files = match (hs, ht) {
        (Some(source), Some(target)) => Some((source, target)),
        (None, None) => None,
        _ => {
            return Err(usage(format!(
                "{} and {} go together: give both or neither",
                src.spell("heldout-source"),
                src.spell("heldout-target")
            )))
        }
    };
    let seed = match src.count("seed")? {
        Some(s) => s,
        None => {
            src.defaulted("seed", OptValue::Count(0));
            0
        }
    };
    let threads = threads(src, default_threads())?;
    let iters = count(src, "iters")?;
    let batch = count_or(src, "batch", 256)?;
    // one default for both solvers (W2Config's and W1Config's agree)
    let eval_every = count_or(src, "eval-every", W2Config::default().eval_every)?;
    let patience = count_or(src, "patience", DEFAULT_PATIENCE)?;
    let fraction = real_or(src, "heldout-fraction", 0.1)?;
    if !(0.0..1.0).contains(&fraction) {
        return Err(usage(format!(
            "{} must lie in [0, 1), got {fraction}",
            src.spell("heldout-fraction")
        )));
    }
    let heldout = match files {
        Some((source, target)) => HeldoutChoice::Files { source, target },
        None => HeldoutChoice::Fraction(fraction),
    };
    Ok(CommonOptions {
        method,
        dtype,
        criterion,
        heldout,
        seed,
        threads,
        iters,
        batch,
        eval_every,
        patience,
    })
}

/// Reads the precision and the method's own options over `common`, then refuses every option nobody
/// read ([`OptionSource::finish`]).
pub fn resolve(common: CommonOptions, src: &mut impl OptionSource) -> Result<FitOptions> {
    let dtype = match common.dtype.as_str() {
        "f32" => Dtype::F32,
        "f64" => Dtype::F64,
        other => {
            return Err(usage(format!(
                "{}: unknown '{other}' (expected f32 or f64)",
                src.spell("dtype")
            )))
        }
    };
    let latent = latent(&common, src)?;
    let method = match common.method.as_str() {
        "w2" => w2(&common, src)?,
        "w1" => w1(&common, src)?,
        "sinkhorn" => sinkhorn(&common, src)?,
        "mean-shift" | "identity" => {
            src.finish()?;
            if common.method == "identity" {
                Method::Identity
            } else {
                Method::MeanShift
            }
        }
        other => {
            return Err(usage(format!(
                "{}: unknown '{other}' (expected w2, w1, sinkhorn, mean-shift or identity)",
                src.spell("method")
            )))
        }
    };
    let method = match latent {
        Some(cfg) => Method::Latent(cfg, Box::new(method)),
        None => method,
    };
    Ok(FitOptions {
        method,
        dtype,
        common,
    })
}

/// `latent pca:K` and `decode keep|full` ([`crate::ot::latent`]): None without `latent`.
fn latent(c: &CommonOptions, src: &mut impl OptionSource) -> Result<Option<LatentConfig>> {
    let spec = src.text("latent")?;
    let given = src.given("decode");
    let decode = text_or(src, "decode", Decode::default().name())?;
    let Some(spec) = spec else {
        if given {
            return Err(usage(format!(
                "{} has no effect without {}",
                src.spell("decode"),
                src.spell("latent")
            )));
        }
        return Ok(None);
    };
    let mut cfg = LatentConfig::parse(&spec).map_err(|_| {
        usage(format!(
            "{}: expected pca:K with K ≥ 1 (e.g. pca:50)",
            src.spell("latent")
        ))
    })?;
    cfg.decode = Decode::from_name(&decode).ok_or_else(|| {
        usage(format!(
            "{}: unknown '{}' (expected keep or full)",
            src.spell("decode"),
            decode.chars().take(40).collect::<String>()
        ))
    })?;
    cfg.pca.seed = c.seed;
    Ok(Some(cfg))
}

/// `penalty` with its parameters `sigma` (l0), `gamma` (stvs), `lambda` (any but none).
pub fn penalty(src: &mut impl OptionSource) -> Result<Penalty> {
    let name = text_or(src, "penalty", "none")?;
    for (knob, applies) in [("sigma", "l0"), ("gamma", "stvs"), ("lambda", "")] {
        let ok = if applies.is_empty() {
            name != "none"
        } else {
            name == applies
        };
        if src.given(knob) && !ok {
            return Err(usage(format!(
                "{} has no effect with {} (it applies to {})",
                src.spell(knob),
                src.spell_value("penalty", &name),
                if applies.is_empty() {
                    src.spell_values("penalty", &["l1", "stvs", "l0"])
                } else {
                    src.spell_value("penalty", applies)
                }
            )));
        }
    }
    let sigma = real_or(src, "sigma", 1.0)?;
    let gamma = real_or(src, "gamma", 1.0)?;
    let p = match name.as_str() {
        "none" => Penalty::None,
        "l1" => Penalty::L1,
        "stvs" => Penalty::Stvs { gamma },
        "l0" => Penalty::SmoothedL0 { sigma },
        other => {
            return Err(usage(format!(
                "{}: unknown '{other}' (expected none, l1, stvs or l0)",
                src.spell("penalty")
            )))
        }
    };
    p.validate()?;
    Ok(p)
}

/// `preset cellot` gives [`W2Config::default`] (the papers' setting); otherwise [`W2Config::monge`].
fn w2_preset(src: &mut impl OptionSource) -> Result<W2Config> {
    match src.text("preset")?.as_deref() {
        None => Ok(W2Config::monge()),
        Some("cellot") => Ok(W2Config::default()),
        Some(o) => Err(usage(format!(
            "{}: unknown '{o}' (expected cellot)",
            src.spell("preset")
        ))),
    }
}

/// `potential`, `quad-rank`, `activation`, `init`, `conjugate*`, `amortization` over the preset's values.
fn w2_potentials(src: &mut impl OptionSource, base: &W2Config, cfg: &mut W2Config) -> Result<()> {
    use crate::nn::icnn::Activation;
    use crate::ot::conjugate::{amortization_from_name, solver_from_name};
    use crate::ot::potentials::{MapInit, Potential};
    let base_rank = match base.potential {
        Potential::QuadraticIcnn { rank } => rank,
        Potential::Icnn => 64,
    };
    let rank = count_or(src, "quad-rank", base_rank)?;
    let p = text_or(src, "potential", base.potential.name())?;
    cfg.potential = match p.as_str() {
        "icnn" => Potential::Icnn,
        "quadratic-icnn" => Potential::QuadraticIcnn { rank },
        o => {
            return Err(usage(format!(
                "{}: unknown '{o}' (expected icnn or quadratic-icnn)",
                src.spell("potential")
            )))
        }
    };
    let act = text_or(src, "activation", base.activation.name())?;
    cfg.activation = Activation::parse(&act).ok_or_else(|| {
        usage(format!(
            "{}: unknown '{act}' (expected leaky-relu or elu)",
            src.spell("activation")
        ))
    })?;
    let init_given = src.given("init");
    let init = text_or(src, "init", base.map_init.name())?;
    cfg.map_init = MapInit::from_name(&init)?;
    if cfg.potential == Potential::Icnn && !init_given {
        cfg.map_init = MapInit::Random;
    }
    let solver = text_or(src, "conjugate", "none")?;
    cfg.conjugate.solver = solver_from_name(&solver)?;
    cfg.conjugate.steps = count_or(src, "conjugate-steps", base.conjugate.steps)?;
    cfg.conjugate.tol = real_or(src, "conjugate-tol", base.conjugate.tol)?;
    let am = text_or(src, "amortization", "objective")?;
    cfg.conjugate.amortization = amortization_from_name(&am)?;
    Ok(())
}

fn w2(c: &CommonOptions, src: &mut impl OptionSource) -> Result<Method> {
    let defaults = w2_preset(src)?;
    let lr_given = src.given("lr");
    let lr = real_or(src, "lr", defaults.lr_f)?;
    let mut cfg = W2Config {
        batch: c.batch,
        iterations: c.iters.unwrap_or(defaults.iterations),
        g_iters: count_or(src, "g-iters", defaults.g_iters)?,
        lr_f: lr,
        lr_g: lr,
        penalty: penalty(src)?,
        lambda: real_or(src, "lambda", 0.0)?,
        eval_every: c.eval_every,
        patience: c.patience,
        criterion: c.criterion,
        threads: c.threads,
        seed: c.seed,
        ..defaults.clone()
    };
    if lr_given {
        cfg.lr_reference_dim = 0; // a rate given is the rate used
    }
    w2_potentials(src, &defaults, &mut cfg)?;
    let anneal = src.flag("anneal")?;
    let max_dim = src.real("max-dim")?;
    if let Some(l) = max_dim {
        if l.is_nan() || l < 0.0 {
            return Err(usage(format!(
                "{} {l}: a displacement dimensionality budget is at least 0",
                src.spell("max-dim")
            )));
        }
    }
    for (knob, needs, given) in [
        ("anneal-warmup", "anneal", anneal),
        ("anneal-adjust", "anneal", anneal),
        ("threshold", "max-dim", max_dim.is_some()),
        ("budget-warmup", "max-dim", max_dim.is_some()),
        ("budget-block", "max-dim", max_dim.is_some()),
    ] {
        if src.given(knob) && !given {
            let needs = if needs == "anneal" {
                src.spell_flag(needs)
            } else {
                src.spell(needs)
            };
            return Err(usage(format!(
                "{} has no effect without {needs}",
                src.spell(knob)
            )));
        }
    }
    let (sa, sm) = (src.spell("anneal"), src.spell("max-dim"));
    if src.given("lambda") && (anneal || max_dim.is_some()) {
        return Err(usage(format!(
            "{} has no effect with {sa} / {sm}: the schedule sets λ",
            src.spell("lambda")
        )));
    }
    let ad = AnnealConfig::default();
    let anneal_cfg = AnnealConfig {
        initial_iters: count_or(src, "anneal-warmup", ad.initial_iters)?,
        adjust_iters: count_or(src, "anneal-adjust", ad.adjust_iters)?,
        seed: c.seed,
        ..ad
    };
    let bd = DimBudgetConfig::default();
    let budget_cfg = DimBudgetConfig {
        budget: max_dim.unwrap_or(bd.budget),
        threshold: real_or(src, "threshold", bd.threshold)?,
        warmup_iters: count_or(src, "budget-warmup", bd.warmup_iters)?,
        block_iters: count_or(src, "budget-block", bd.block_iters)?,
        seed: c.seed,
        ..bd
    };
    src.finish()?;
    if anneal && max_dim.is_some() {
        return Err(usage(format!(
            "{sa} and {sm} are two different λ schedules: choose one"
        )));
    }
    if (anneal || max_dim.is_some()) && cfg.penalty.is_none() {
        return Err(usage(format!(
            "{sa} / {sm} tune the weight of a penalty: give {}",
            src.spell_values("penalty", &["l1", "stvs", "l0"])
        )));
    }
    let schedule = if anneal {
        LambdaSchedule::Anneal(anneal_cfg)
    } else if max_dim.is_some() {
        LambdaSchedule::MaxDim(budget_cfg)
    } else {
        return Ok(Method::W2(cfg));
    };
    // λ is driven for an open-ended number of iterations: no cosine schedule, and the papers' constant
    // rate unless `lr` is given (the λ schedules were measured with it)
    cfg.cosine_lr = false;
    cfg.lr_reference_dim = 0;
    if !lr_given {
        cfg.lr_f = W2Config::default().lr_f;
        cfg.lr_g = W2Config::default().lr_g;
    }
    Ok(Method::W2Schedule(W2Schedule {
        w2: cfg,
        schedule,
        cap: c.iters,
    }))
}

fn w1(c: &CommonOptions, src: &mut impl OptionSource) -> Result<Method> {
    use crate::nn::lipschitz::LipschitzConfig;
    let d = W1Config::default();
    let ortho = text_or(src, "orthonormal", "cayley")?;
    let potential = match ortho.as_str() {
        "cayley" => d.potential.clone(),
        "bjorck" => LipschitzConfig::bjorck(),
        other => {
            return Err(usage(format!(
                "{}: unknown '{other}' (expected cayley or bjorck)",
                src.spell("orthonormal")
            )))
        }
    };
    let cfg = W1Config {
        potential,
        potential_iters: c.iters.unwrap_or(d.potential_iters),
        gan_iters: c.iters.unwrap_or(d.gan_iters),
        batch: c.batch,
        positive: src.flag("positive")?,
        gan_lr: real_or(src, "gan-lr", d.gan_lr)?,
        eval_every: c.eval_every,
        patience: c.patience,
        criterion: c.criterion,
        seed: c.seed,
        threads: c.threads,
        ..d
    };
    src.finish()?;
    Ok(Method::W1(cfg))
}

fn sinkhorn(c: &CommonOptions, src: &mut impl OptionSource) -> Result<Method> {
    let defaults = SinkhornConfig::default();
    let name = text_or(src, "penalty", "l1")?;
    if name == "none" && src.given("gamma") {
        return Err(usage(format!(
            "{} has no effect with {} (the cost is then ½‖z‖²)",
            src.spell("gamma"),
            src.spell_value("penalty", "none")
        )));
    }
    let gamma = real_or(src, "gamma", 1.0)?;
    let cost = match name.as_str() {
        "none" => ElasticCost::SqEuclidean,
        "l1" => ElasticCost::L1 { gamma },
        "stvs" => ElasticCost::Stvs { gamma },
        other => {
            return Err(usage(format!(
                "{}: the sinkhorn map takes none, l1 or stvs, not '{other}'",
                src.spell("penalty")
            )))
        }
    };
    cost.validate()?;
    let cfg = SinkhornConfig {
        cost,
        epsilon: src.real("epsilon")?,
        tol: real_or(src, "tol", defaults.tol)?,
        max_iter: count_or(src, "max-iter", defaults.max_iter)?,
        threads: c.threads,
        ..defaults
    };
    src.finish()?;
    Ok(Method::Sinkhorn(cfg))
}
