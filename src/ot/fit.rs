//! The library's front door: one [`fit`] for every method — a [`Method`] (with its config) in, a
//! [`Fitted`] map and a [`FitReport`] out, the progress callback optional.
//!
//! The iterative methods (W2, W1) run through the training harness ([`crate::ot::train`]): the held-out
//! cells ([`Heldout`]: SPEC §7.7's split by default, or the caller's own sets), model selection and early
//! stopping on the held-out criterion, the divergence guard. The callback may return
//! `ControlFlow::Break(())` to stop the fit: it then ends like an interrupt (`stopped =
//! Interrupted`) and returns the best model so far. A divergence also returns the best model so far
//! when a held-out evaluation had run before it (`stopped = Diverged`, the error in
//! [`FitReport::divergence`]); without one it is an `Err`. The closed-form methods (Sinkhorn, mean
//! shift, identity) ignore the held-out option and report no stop reason; Sinkhorn's convergence is in
//! [`FitReport::sinkhorn`].
//!
//! [`Method::W2Schedule`] drives W2's penalty weight λ by one of \[C25\]'s schedules (Alg. 1, simulated
//! annealing; Alg. 2, a dimensionality budget): λ is set from outside, so the map returned is the one at
//! the final λ (held-out selection across different λ would prefer the least sparse map); it is still
//! scored on the held-out cells, and the schedule's trajectory is in [`FitReport::schedule`]. A
//! divergence under a schedule is an `Err` (no best model is kept across λ).
//!
//! `ot::w2::fit` and `ot::w1::fit` stay as the solver-specific wrappers.

pub mod report;

use std::ops::ControlFlow;
use std::time::Instant;

use crate::linalg::{Mat, Real};
use crate::ot::anneal::{AnnealConfig, AnnealReport, Annealer, DimBudgetConfig, ReportingTrainee};
use crate::ot::baselines::{Identity, MeanShift};
use crate::ot::latent::{LatentConfig, LatentReport};
use crate::ot::sinkhorn::{ElasticSinkhornMap, SinkhornConfig, SinkhornReport};
use crate::ot::train::{Control, Heldout, HeldoutReport, Stopped};
use crate::ot::w1::{W1Config, W1Report, W1Trainer};
use crate::ot::w2::{W2Config, W2Report, W2Trainer};
use crate::ot::{Progress, TransportMap};
use crate::{Error, Result};

/// A method and its options.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// ICNN W2 map ([`crate::ot::w2`]).
    W2(W2Config),
    /// ICNN W2 map with λ driven by a schedule ([`crate::ot::anneal`]; module doc).
    W2Schedule(W2Schedule),
    /// W1 map with a learned step size ([`crate::ot::w1`]).
    W1(W1Config),
    /// Entropic map with an elastic cost ([`crate::ot::sinkhorn`]).
    Sinkhorn(SinkhornConfig),
    /// `T(x) = x + mean(ν) − mean(μ)`.
    MeanShift,
    /// `T(x) = x`.
    Identity,
    /// The inner method trained on the K principal coordinates of the pooled training cells and
    /// decoded to gene space ([`crate::ot::latent`]).
    Latent(LatentConfig, Box<Method>),
}

impl Method {
    /// The method's name as in model files (`"w2"`, `"w1"`, `"sinkhorn"`, `"mean-shift"`, `"identity"`,
    /// `"latent"`).
    pub fn name(&self) -> &'static str {
        match self {
            Method::W2(_) | Method::W2Schedule(_) => "w2",
            Method::W1(_) => "w1",
            Method::Sinkhorn(_) => "sinkhorn",
            Method::MeanShift => "mean-shift",
            Method::Identity => "identity",
            Method::Latent(..) => "latent",
        }
    }
}

/// W2 under a λ schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct W2Schedule {
    /// The W2 settings (its `lambda` and `eval_every` are the schedule's: λ₀ and no selection).
    pub w2: W2Config,
    /// Which schedule.
    pub schedule: LambdaSchedule,
    /// A cap on the outer iterations over every phase of the schedule (None: the schedule's own length).
    pub cap: Option<usize>,
}

/// One of \[C25\]'s λ schedules.
#[derive(Clone, Debug, PartialEq)]
pub enum LambdaSchedule {
    /// Alg. 1: simulated annealing of λ.
    Anneal(AnnealConfig),
    /// Alg. 2: raise λ until the displacement dimensionality meets a budget.
    MaxDim(DimBudgetConfig),
}

impl W2Schedule {
    /// The trainer's settings under the schedule: λ starts at λ₀, and no held-out selection (the map
    /// returned is the one at the final λ; module doc).
    pub fn trainer_config(&self) -> W2Config {
        W2Config {
            eval_every: 0,
            lambda: self.schedule.lambda0(),
            ..self.w2.clone()
        }
    }

    /// The trainer `tr` (set up with [`W2Schedule::trainer_config`]) as the annealer drives it:
    /// progress every `progress_every` iterations, the ETA from the schedule's estimated length, and
    /// the schedule's iteration cap.
    pub fn trainee<'a, 'b, T: Real>(
        &self,
        tr: &'a mut W2Trainer<T>,
        progress: Control<'b>,
    ) -> ReportingTrainee<'a, 'b, T> {
        ReportingTrainee::controlled(
            tr,
            progress,
            self.w2.progress_every,
            self.schedule.estimated_iterations(),
            self.cap,
        )
    }
}

impl LambdaSchedule {
    /// The schedule's starting λ.
    pub fn lambda0(&self) -> f64 {
        match self {
            LambdaSchedule::Anneal(a) => a.lambda0,
            LambdaSchedule::MaxDim(b) => b.lambda0,
        }
    }
    /// An estimate of the schedule's outer iterations (for the progress ETA).
    pub fn estimated_iterations(&self) -> usize {
        match self {
            LambdaSchedule::Anneal(a) => {
                a.initial_iters + 37 * (a.adjust_iters + a.smooth_iters / 2)
            }
            LambdaSchedule::MaxDim(b) => b.warmup_iters + 40 * b.block_iters,
        }
    }
}

/// What [`fit`] reports, whatever the method.
#[derive(Debug, Default)]
pub struct FitReport {
    /// The method's name.
    pub method: &'static str,
    /// Iterations done (W1: both phases).
    pub iterations: usize,
    /// Why training ended (None for the closed-form methods).
    pub stopped: Option<Stopped>,
    /// The held-out criterion of the returned map, the identity and the mean shift.
    pub heldout: Option<HeldoutReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The divergence that ended training, when the best model before it is returned.
    pub divergence: Option<Error>,
    /// The W2 solver's own report.
    pub w2: Option<W2Report>,
    /// The W1 solver's own report.
    pub w1: Option<W1Report>,
    /// The λ schedule's trajectory ([`Method::W2Schedule`]).
    pub schedule: Option<AnnealReport>,
    /// The Sinkhorn solver's convergence.
    pub sinkhorn: Option<SinkhornReport>,
    /// The latent space of [`Method::Latent`] (then `heldout` is in gene space, the inner trainer's
    /// latent-space criterion in [`LatentReport::heldout`]).
    pub latent: Option<LatentReport>,
}

/// A fitted map and its report.
pub struct Fitted<T> {
    /// The map (save it with `TransportMap::to_saved` and `io::save_model`).
    pub map: Box<dyn TransportMap<T>>,
    /// The report.
    pub report: FitReport,
}

/// Fits `method` from `source` to `target` (rows are samples). `heldout` chooses the held-out cells of
/// the iterative methods (`Heldout::default()`: SPEC §7.7's split with fraction 0.1; it replaces the
/// fraction in their configs). `progress`, when given, receives the progress reports and may stop the
/// fit (module doc).
pub fn fit<T: Real>(
    source: &Mat<T>,
    target: &Mat<T>,
    method: &Method,
    heldout: &Heldout<T>,
    progress: Option<Control<'_>>,
) -> Result<Fitted<T>> {
    let t0 = Instant::now();
    let mut quiet = |_: &Progress| ControlFlow::Continue(());
    let progress: Control<'_> = match progress {
        Some(p) => p,
        None => &mut quiet,
    };
    let mut report = FitReport {
        method: method.name(),
        ..FitReport::default()
    };
    let map: Box<dyn TransportMap<T>> = match method {
        Method::Latent(cfg, inner) => {
            let (fitted, rep) =
                crate::ot::latent::fit(source, target, cfg, inner, heldout, Some(progress))?;
            let mut report = fitted.report;
            report.method = "latent";
            report.latent = Some(rep);
            report.seconds = t0.elapsed().as_secs_f64();
            return Ok(Fitted {
                map: fitted.map,
                report,
            });
        }
        Method::W2(cfg) => {
            let mut tr = W2Trainer::with_heldout(source, target, heldout, cfg)?;
            let (stopped, err) = tr.run_until(cfg.iterations, progress);
            keep_or_fail(err, tr.has_best(), &mut report)?;
            let rep = tr.report();
            report.iterations = rep.iterations;
            report.stopped = Some(stopped);
            report.heldout = rep.heldout.clone();
            report.w2 = Some(rep);
            Box::new(tr.best_map())
        }
        Method::W2Schedule(s) => {
            let cfg = s.trainer_config();
            let mut tr = W2Trainer::with_heldout(source, target, heldout, &cfg)?;
            let rep = {
                let mut rt = s.trainee(&mut tr, progress);
                let mut a = Annealer::new(&s.schedule);
                let flow = a.run(&mut rt, usize::MAX)?;
                a.report(rt.inner().lambda(), flow)
            };
            let w2rep = tr.finish();
            report.iterations = tr.iteration();
            report.stopped = Some(rep.stopped);
            report.heldout = w2rep.heldout.clone();
            report.w2 = Some(w2rep);
            report.schedule = Some(rep);
            Box::new(tr.map())
        }
        Method::W1(cfg) => {
            let mut tr = W1Trainer::with_heldout(source, target, heldout, cfg)?;
            let (stopped, err) = tr.run_all(progress);
            keep_or_fail(err, tr.has_best(), &mut report)?;
            let rep = tr.report();
            report.iterations = rep.potential_iters + rep.gan_iters;
            report.stopped = Some(stopped);
            report.heldout = rep.heldout.clone();
            report.w1 = Some(rep);
            Box::new(tr.into_map())
        }
        Method::Sinkhorn(cfg) => {
            let m = ElasticSinkhornMap::fit(source.view(), target.view(), cfg)?;
            report.iterations = m.report().map_or(0, |r| r.iterations);
            report.sinkhorn = m.report().copied();
            Box::new(m)
        }
        Method::MeanShift => Box::new(MeanShift::fit(source.view(), target.view())?),
        Method::Identity => {
            if source.cols() != target.cols() {
                return Err(Error::Shape(format!(
                    "source has {} features, target has {}",
                    source.cols(),
                    target.cols()
                )));
            }
            Box::new(Identity::new(source.cols()))
        }
    };
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(Fitted { map, report })
}

/// After a divergence: keep the error in the report when a best model exists, else fail with it.
fn keep_or_fail(err: Option<Error>, has_best: bool, report: &mut FitReport) -> Result<()> {
    match err {
        None => Ok(()),
        Some(e) if has_best => {
            report.divergence = Some(e);
            Ok(())
        }
        Some(e) => Err(e),
    }
}
