//! Dynamic sparsity weight λ: simulated annealing on λ ([C25] Alg. 1) and the displacement-dimensionality
//! budget ([C25] Alg. 2), as coded in the paper's public code (SPEC §7.3, §7.4).
//!
//! Both drive any solver that implements [`LambdaTrainee`] (the W2 trainer does): they call
//! `train_step` for whole outer iterations, read the last batch (source x, mapped T(x), target y), and set λ.
//! λ is in monge's batch-**mean** convention throughout; [C25]'s code sums the penalty over the batch, so its
//! λ values convert as `λ_mean = B · λ_sum` ([`lambda_mean_from_sum`]).
//!
//! # Algorithm 1 (simulated annealing), per SPEC §7.3
//! Measured on the current batch, with Δ = T(x) − x:
//! - `Spa = Σ_batch τ_STVS,γ(Δ)` (γ = 100; summed over the batch as in [C25]'s `eval_function`),
//! - `Err = SW2(T#μ_batch, ν_batch) · balance` (100 projections, balance 1e5),
//! - `Eval = −α·Spa − (1 − α)·Err` (α = 0.8), to be maximised.
//!
//! 1. warm up `initial_iters` outer iterations at λ₀;
//! 2. step k = 0, 1, …: `r = max(0.01, exp(−3(1 − T_sa)))`, propose `λ' = λ·(1 + U(−r, r))`; measure `E₀`
//!    (Eval before), train `adjust_iters` at λ', measure `E₁`; with `ΔE = E₁ − E₀` and
//!    `T = max(T_min, T₀·decayᵏ)` accept iff `ΔE > 0` or `U(0, 1) < exp(ΔE / T)`; otherwise revert λ (the
//!    weights are not rolled back) and, if `smooth_iters > 0`, train that many iterations at the reverted λ
//!    ([C25]'s text; its code skips this);
//! 3. `T_sa ← T_sa · decay`; stop when `T_sa < T_min` (or after `max_steps`).
//!
//! # Algorithm 2 (dimensionality budget l), per SPEC §7.4
//! `dim` of a map is the mean over samples of `#{i : |Δᵢ| > thr}`. Each block of `block_iters` outer
//! iterations ends with a **block dim**, by [`DimEstimate`]:
//! - `MappedSample` (default): the dim of the current map — the one that would be returned — on the
//!   trainee's fixed evaluation sample ([`LambdaTrainee::mapped_sample`]);
//! - `BatchWindow` ([C25]'s code): the average of the batch dims of the block's last `window` iterations.
//!
//! 1. warm up `warmup_iters` at λ₀;
//! 2. increase: train blocks of `block_iters`; if the block's dim < l stop increasing, else `λ ← 1.5·λ`
//!    (at most `max_increases` times: a budget no λ reaches is reported, not looped on forever);
//! 3. decrease by annealing: per step propose `λ' = λ·(1 − U(0, r))` (r as above), train a block at λ', accept
//!    iff its dim ≤ l (the block's SW2 to the target batch is reported next to it), otherwise revert λ;
//!    `T_sa ← T_sa · decay` until `T_sa < T_min`;
//! 4. if the last proposal was rejected, train one more block at the final λ (the weights had moved at λ');
//! 5. repair: while the final block's dim is > l, resume the increase phase (`λ ← 1.5·λ`, one block each;
//!    these blocks are appended to `increases`), within the same `max_increases` in total.
//!
//! Steps 4–5 and the `MappedSample` default are monge's, not [C25]'s. Measured on the reduced synthetic
//! scRNA task (issue 5, l = 24): with [C25]'s rule (batch window, no repair) the returned map moved 29.2
//! genes per cell on the whole control set although the window estimate had met the budget (two ways
//! this happens: the window averages maps that are still moving, and a rejected proposal trains the
//! weights at the smaller λ' which one block at λ need not undo); with these steps it moves 23.3. The
//! reported `final_dim` is that of the returned map on the evaluation sample.

use crate::linalg::{MatRef, Real};
use crate::ot::penalty::lambda_mean_from_sum;
use crate::ot::train::criterion::sliced_w2;
use crate::ot::train::{Control, Stopped};
use crate::ot::w2::W2Trainer;
use crate::ot::{Progress, ProgressFn};
use crate::random::{streams, Stream};
use crate::Result;
use std::ops::ControlFlow;

/// What the annealers need from a solver: whole outer iterations at a settable λ, and the last batch.
pub trait LambdaTrainee<T: Real> {
    /// One outer iteration of training at the current λ.
    fn train_step(&mut self) -> Result<()>;
    /// The current penalty weight (batch-mean convention).
    fn lambda(&self) -> f64;
    /// Sets the penalty weight used from the next iteration on.
    fn set_lambda(&mut self, lambda: f64);
    /// The last outer iteration's (source batch x, mapped batch T(x), target batch y), each B × d.
    fn last_batch(&self) -> (MatRef<'_, T>, MatRef<'_, T>, MatRef<'_, T>);
    /// A fixed evaluation sample of source points x and their images T(x) under the current model (same
    /// rows on every call): Alg. 2 measures the returned map's dimensionality on it.
    fn mapped_sample(&mut self) -> (MatRef<'_, T>, MatRef<'_, T>);
    /// Whether training must end before the next iteration, and why (an iteration cap, an interrupt).
    /// The annealers then stop where they are and report it. Default: never.
    fn should_stop(&self) -> Option<Stopped> {
        None
    }
}

impl<T: Real> LambdaTrainee<T> for W2Trainer<T> {
    fn train_step(&mut self) -> Result<()> {
        self.step().map(|_| ())
    }
    fn lambda(&self) -> f64 {
        W2Trainer::lambda(self)
    }
    fn set_lambda(&mut self, lambda: f64) {
        W2Trainer::set_lambda(self, lambda)
    }
    fn last_batch(&self) -> (MatRef<'_, T>, MatRef<'_, T>, MatRef<'_, T>) {
        (
            self.last_source().view(),
            self.last_mapped().view(),
            self.last_target().view(),
        )
    }
    fn mapped_sample(&mut self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        self.mapped_training_sample()
    }
}

/// Where a [`ReportingTrainee`] sends its progress.
enum Sink<'b> {
    Plain(ProgressFn<'b>),
    Control(Control<'b>),
}

/// A [`W2Trainer`] that reports its progress (phase `"w2-anneal"`, every `every` outer iterations) while
/// an annealer drives it; `total` is an estimate of the annealer's iterations for the ETA. It also ends
/// the annealing ([`LambdaTrainee::should_stop`]) at an iteration cap, on SIGINT/SIGTERM (polled at the
/// iteration boundary) and when a [`Control`] callback asks to stop.
pub struct ReportingTrainee<'a, 'b, T: Real> {
    inner: &'a mut W2Trainer<T>,
    progress: Sink<'b>,
    every: usize,
    total: usize,
    done: usize,
    cap: Option<usize>,
    stop_requested: bool,
}

impl<'a, 'b, T: Real> ReportingTrainee<'a, 'b, T> {
    /// Wraps `inner`; reports every `every` (≥ 1) outer iterations.
    pub fn new(
        inner: &'a mut W2Trainer<T>,
        progress: ProgressFn<'b>,
        every: usize,
        total: usize,
    ) -> Self {
        ReportingTrainee {
            inner,
            progress: Sink::Plain(progress),
            every: every.max(1),
            total,
            done: 0,
            cap: None,
            stop_requested: false,
        }
    }
    /// Wraps `inner` with a callback that may stop the annealing, and an optional cap on the outer
    /// iterations trained through this wrapper (every phase of the annealer counts).
    pub fn controlled(
        inner: &'a mut W2Trainer<T>,
        progress: Control<'b>,
        every: usize,
        total: usize,
        cap: Option<usize>,
    ) -> Self {
        ReportingTrainee {
            inner,
            progress: Sink::Control(progress),
            every: every.max(1),
            total: cap.map_or(total, |c| c.min(total.max(1))),
            done: 0,
            cap,
            stop_requested: false,
        }
    }
    /// Outer iterations trained through this wrapper.
    pub fn done(&self) -> usize {
        self.done
    }
}

impl<T: Real> LambdaTrainee<T> for ReportingTrainee<'_, '_, T> {
    fn train_step(&mut self) -> Result<()> {
        let st = self.inner.step()?;
        self.done += 1;
        if self.done.is_multiple_of(self.every) || self.cap == Some(self.done) {
            let p = Progress {
                phase: "w2-anneal",
                iteration: self.done,
                total: self.total.max(self.done),
                losses: vec![
                    ("loss_g", st.loss_g),
                    ("loss_f", st.loss_f),
                    ("half_w2sq_est", st.half_w2sq),
                ],
                lambda: Some(self.inner.lambda()),
                ..Progress::default()
            };
            match &mut self.progress {
                Sink::Plain(f) => f(&p),
                Sink::Control(f) => {
                    if f(&p).is_break() {
                        self.stop_requested = true;
                    }
                }
            }
        }
        Ok(())
    }
    fn lambda(&self) -> f64 {
        self.inner.lambda()
    }
    fn set_lambda(&mut self, lambda: f64) {
        self.inner.set_lambda(lambda)
    }
    fn last_batch(&self) -> (MatRef<'_, T>, MatRef<'_, T>, MatRef<'_, T>) {
        LambdaTrainee::last_batch(&*self.inner)
    }
    fn mapped_sample(&mut self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        self.inner.mapped_training_sample()
    }
    fn should_stop(&self) -> Option<Stopped> {
        if self.stop_requested || crate::signal::interrupted().is_some() {
            Some(Stopped::Interrupted)
        } else if self.cap.is_some_and(|c| self.done >= c) {
            Some(Stopped::Cap)
        } else {
            None
        }
    }
}

/// A [`Control`] that never stops (for callers with a plain progress sink).
pub fn never_stop(p: ProgressFn<'_>) -> impl FnMut(&Progress) -> ControlFlow<()> + '_ {
    move |pr| {
        p(pr);
        ControlFlow::Continue(())
    }
}

/// Settings of [`anneal_lambda`] (Alg. 1). Defaults are [C25]'s code (λ₀ converted for batch 256).
#[derive(Clone, Debug, PartialEq)]
pub struct AnnealConfig {
    /// Warm-up outer iterations at λ₀ (20 000).
    pub initial_iters: usize,
    /// Outer iterations trained per proposal (2 000).
    pub adjust_iters: usize,
    /// Iterations trained at the reverted λ after a rejection (default = `adjust_iters`; 0 = [C25]'s code).
    pub smooth_iters: usize,
    /// Initial λ, batch-mean convention (default 5e-4 · 256).
    pub lambda0: f64,
    /// α, the weight of Spa in Eval (0.8).
    pub alpha: f64,
    /// Balance factor on the SW2 term (1e5).
    pub balance: f64,
    /// γ of the STVS Spa metric (100).
    pub stvs_gamma: f64,
    /// Random projections of the SW2 term (100).
    pub n_projections: usize,
    /// Initial temperature T₀ (1).
    pub t0: f64,
    /// Minimum temperature T_min (0.15).
    pub t_min: f64,
    /// Temperature decay per step (0.95).
    pub decay: f64,
    /// Safety cap on annealing steps (the temperature rule alone stops after ⌈ln(T_min/T₀)/ln(decay)⌉).
    pub max_steps: usize,
    /// Seed of the proposal / acceptance stream.
    pub seed: u64,
}

impl Default for AnnealConfig {
    fn default() -> Self {
        AnnealConfig {
            initial_iters: 20_000,
            adjust_iters: 2_000,
            smooth_iters: 2_000,
            lambda0: lambda_mean_from_sum(5e-4, 256),
            alpha: 0.8,
            balance: 1e5,
            stvs_gamma: 100.0,
            n_projections: 100,
            t0: 1.0,
            t_min: 0.15,
            decay: 0.95,
            max_steps: 1_000,
            seed: 0,
        }
    }
}

/// One proposal of an annealer.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnealStep {
    /// Outer iterations trained before the proposal was evaluated (cumulative).
    pub iteration: usize,
    /// λ before the proposal.
    pub lambda_before: f64,
    /// λ proposed.
    pub lambda_proposed: f64,
    /// Whether it was accepted.
    pub accepted: bool,
    /// Alg. 1: Spa after training at the proposal. Alg. 2: unused (NaN).
    pub spa: f64,
    /// Alg. 1: Err (SW2·balance). Alg. 2: the block's mean SW2 (unscaled).
    pub err: f64,
    /// Alg. 1: Eval after training at the proposal. Alg. 2: the block's mean dimensionality.
    pub eval: f64,
    /// Temperature used in the acceptance rule.
    pub temperature: f64,
}

/// What an annealer reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnnealReport {
    /// Every proposal in order.
    pub steps: Vec<AnnealStep>,
    /// Alg. 2 increase phase: (iterations so far, λ, block dim) per block.
    pub increases: Vec<(usize, f64, f64)>,
    /// λ at the end.
    pub final_lambda: f64,
    /// Total outer iterations trained.
    pub iterations: usize,
    /// Alg. 2: whether the budget was met at the end (`final dim ≤ l`).
    pub budget_met: Option<bool>,
    /// Alg. 2: the final block's dimensionality (mean over samples) at the final λ, by the configured
    /// [`DimEstimate`] (with `MappedSample`: of the returned map on the evaluation sample).
    pub final_dim: Option<f64>,
    /// Alg. 2 with `MappedSample`: the 75% quantile over the evaluation sample of the returned map's
    /// per-sample dimensionality.
    pub final_dim_q3: Option<f64>,
    /// Why the annealing ended: `Cap` when its own schedule completed or the trainee's iteration cap
    /// was reached before (then `cut_short`), `Interrupted` on a signal or a stop request.
    pub stopped: Stopped,
    /// Whether the trainee stopped the schedule before it completed.
    pub cut_short: bool,
}

/// Trains `n` outer iterations; `Ok(Some(why))` when the trainee asked to stop first.
fn train<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    n: usize,
    done: &mut usize,
) -> Result<Option<Stopped>> {
    for _ in 0..n {
        if let Some(why) = s.should_stop() {
            return Ok(Some(why));
        }
        s.train_step()?;
        *done += 1;
    }
    Ok(None)
}

/// The report of a schedule the trainee cut short.
fn cut<T: Real>(
    s: &impl LambdaTrainee<T>,
    mut rep: AnnealReport,
    done: usize,
    why: Stopped,
) -> AnnealReport {
    rep.final_lambda = s.lambda();
    rep.iterations = done;
    rep.stopped = why;
    rep.cut_short = true;
    rep
}

/// `?` for a stop request: returns the cut-short report from the enclosing annealer.
macro_rules! or_stop {
    ($e:expr, $s:expr, $rep:expr, $done:expr) => {
        if let Some(why) = $e {
            return Ok(cut($s, $rep, $done, why));
        }
    };
}

/// (Spa, Err, Eval) of the trainee's last batch (Alg. 1 metrics).
fn eval_alg1<T: Real>(
    s: &impl LambdaTrainee<T>,
    cfg: &AnnealConfig,
    proj: &mut Stream,
) -> (f64, f64, f64) {
    let (x, tx, y) = s.last_batch();
    let spa = crate::ot::penalty::Penalty::Stvs {
        gamma: cfg.stvs_gamma,
    }
    .displacement_sum(x, tx);
    let err = sliced_w2(tx, y, cfg.n_projections, proj) * cfg.balance;
    (spa, err, -cfg.alpha * spa - (1.0 - cfg.alpha) * err)
}

/// The proposal radius `r = max(0.01, exp(−3(1 − T_sa)))`.
fn radius(t_sa: f64) -> f64 {
    (-3.0 * (1.0 - t_sa)).exp().max(0.01)
}

/// Alg. 1: simulated annealing on λ (see the module doc). The trainee ends at the final λ.
pub fn anneal_lambda<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    cfg: &AnnealConfig,
) -> Result<AnnealReport> {
    let mut rng = Stream::new(cfg.seed, streams::ANNEAL);
    let mut proj = Stream::new(cfg.seed, streams::PROJECTIONS);
    let mut rep = AnnealReport::default();
    let mut done = 0usize;
    s.set_lambda(cfg.lambda0);
    or_stop!(train(s, cfg.initial_iters, &mut done)?, s, rep, done);
    let mut t_sa = cfg.t0;
    let mut k = 0usize;
    while t_sa >= cfg.t_min && k < cfg.max_steps {
        let (_, _, e0) = eval_alg1(s, cfg, &mut proj);
        let lambda = s.lambda();
        let r = radius(t_sa);
        let proposed = lambda * (1.0 + (2.0 * rng.uniform_f64() - 1.0) * r);
        s.set_lambda(proposed);
        or_stop!(train(s, cfg.adjust_iters, &mut done)?, s, rep, done);
        let (spa, err, e1) = eval_alg1(s, cfg, &mut proj);
        let de = e1 - e0;
        let temperature = (cfg.t0 * cfg.decay.powi(k as i32)).max(cfg.t_min);
        let u = rng.uniform_f64();
        let accepted = de > 0.0 || u < (de / temperature).exp();
        if !accepted {
            s.set_lambda(lambda);
            or_stop!(train(s, cfg.smooth_iters, &mut done)?, s, rep, done);
        }
        let step = AnnealStep {
            iteration: done,
            lambda_before: lambda,
            lambda_proposed: proposed,
            accepted,
            spa,
            err,
            eval: e1,
            temperature,
        };
        rep.steps.push(step);
        t_sa *= cfg.decay;
        k += 1;
    }
    rep.final_lambda = s.lambda();
    rep.iterations = done;
    Ok(rep)
}

/// Settings of [`dim_budget`] (Alg. 2). Defaults are [C25]'s high-dimensional code (λ₀ for batch 128).
#[derive(Clone, Debug, PartialEq)]
pub struct DimBudgetConfig {
    /// The budget l on the mean displacement dimensionality (150).
    pub budget: f64,
    /// Threshold of a moved coordinate, |Δᵢ| > thr (1).
    pub threshold: f64,
    /// Initial λ, batch-mean convention (default 0.005 · 128).
    pub lambda0: f64,
    /// Warm-up outer iterations (10 000).
    pub warmup_iters: usize,
    /// Outer iterations per block (5 000).
    pub block_iters: usize,
    /// Last iterations of a block averaged into its dim (100).
    pub window: usize,
    /// Factor of the increase phase (1.5).
    pub increase: f64,
    /// Cap on increase steps (40: λ grows by 1.5⁴⁰ ≈ 1e7).
    pub max_increases: usize,
    /// Projections for the reported SW2 (100).
    pub n_projections: usize,
    /// T₀ (1).
    pub t0: f64,
    /// T_min (0.15).
    pub t_min: f64,
    /// Decay (0.95).
    pub decay: f64,
    /// Safety cap on annealing steps.
    pub max_steps: usize,
    /// How a block's dimensionality is measured (default `MappedSample`; `BatchWindow` is [C25]'s code).
    pub estimate: DimEstimate,
    /// Seed of the proposal stream.
    pub seed: u64,
}

/// How Alg. 2 measures a block's displacement dimensionality (module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DimEstimate {
    /// The current map on the trainee's fixed evaluation sample, at the end of the block.
    #[default]
    MappedSample,
    /// The mean of the batch dims over the block's last `window` iterations ([C25]'s code).
    BatchWindow,
}

impl Default for DimBudgetConfig {
    fn default() -> Self {
        DimBudgetConfig {
            budget: 150.0,
            threshold: 1.0,
            lambda0: lambda_mean_from_sum(0.005, 128),
            warmup_iters: 10_000,
            block_iters: 5_000,
            window: 100,
            increase: 1.5,
            max_increases: 40,
            n_projections: 100,
            t0: 1.0,
            t_min: 0.15,
            decay: 0.95,
            max_steps: 1_000,
            estimate: DimEstimate::MappedSample,
            seed: 0,
        }
    }
}

/// What a block measured: its dim (by the configured estimate), the Q3 of the per-sample dims when
/// measured on the evaluation sample, and the mean batch SW2 over its last `window` iterations.
#[derive(Clone, Copy, Debug)]
struct BlockDim {
    dim: f64,
    q3: Option<f64>,
    sw2: f64,
}

/// Trains one block of `block_iters` outer iterations and measures it.
fn block<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    cfg: &DimBudgetConfig,
    proj: &mut Stream,
    done: &mut usize,
) -> Result<std::result::Result<BlockDim, Stopped>> {
    let window = cfg.window.clamp(1, cfg.block_iters.max(1));
    let (mut dim, mut sw, mut cnt) = (0.0, 0.0, 0usize);
    for it in 0..cfg.block_iters {
        if let Some(why) = s.should_stop() {
            return Ok(Err(why));
        }
        s.train_step()?;
        *done += 1;
        if it + window >= cfg.block_iters {
            let (x, tx, y) = s.last_batch();
            if cfg.estimate == DimEstimate::BatchWindow {
                dim += displacement_dim(x, tx, cfg.threshold).0;
            }
            sw += sliced_w2(tx, y, cfg.n_projections, proj);
            cnt += 1;
        }
    }
    let c = cnt.max(1) as f64;
    Ok(Ok(match cfg.estimate {
        DimEstimate::BatchWindow => BlockDim {
            dim: dim / c,
            q3: None,
            sw2: sw / c,
        },
        DimEstimate::MappedSample => {
            let (x, tx) = s.mapped_sample();
            let (mean, q3) = displacement_dim(x, tx, cfg.threshold);
            BlockDim {
                dim: mean,
                q3: Some(q3),
                sw2: sw / c,
            }
        }
    }))
}

/// A block, or the cut-short report from the enclosing annealer.
macro_rules! block_or_stop {
    ($s:expr, $cfg:expr, $proj:expr, $done:expr, $rep:expr) => {
        match block($s, $cfg, $proj, $done)? {
            Ok(b) => b,
            Err(why) => return Ok(cut($s, $rep, *$done, why)),
        }
    };
}

/// Alg. 2: meet the displacement-dimensionality budget (see the module doc).
pub fn dim_budget<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    cfg: &DimBudgetConfig,
) -> Result<AnnealReport> {
    let mut rng = Stream::new(cfg.seed, streams::ANNEAL);
    let mut proj = Stream::new(cfg.seed, streams::PROJECTIONS);
    let mut rep = AnnealReport::default();
    let mut done = 0usize;
    s.set_lambda(cfg.lambda0);
    or_stop!(train(s, cfg.warmup_iters, &mut done)?, s, rep, done);
    // 2. increase phase
    let mut last;
    let mut n_inc = 0usize;
    loop {
        last = block_or_stop!(s, cfg, &mut proj, &mut done, rep);
        rep.increases.push((done, s.lambda(), last.dim));
        if last.dim < cfg.budget || n_inc >= cfg.max_increases {
            break;
        }
        s.set_lambda(s.lambda() * cfg.increase);
        n_inc += 1;
    }
    // 3. decrease by annealing, only when the budget is met
    let mut t_sa = cfg.t0;
    let mut k = 0usize;
    while last.dim <= cfg.budget && t_sa >= cfg.t_min && k < cfg.max_steps {
        let lambda = s.lambda();
        let proposed = lambda * (1.0 - rng.uniform_f64() * radius(t_sa));
        s.set_lambda(proposed);
        let b = block_or_stop!(s, cfg, &mut proj, &mut done, rep);
        let accepted = b.dim <= cfg.budget;
        if accepted {
            last = b;
        } else {
            s.set_lambda(lambda);
        }
        rep.steps.push(AnnealStep {
            iteration: done,
            lambda_before: lambda,
            lambda_proposed: proposed,
            accepted,
            spa: f64::NAN,
            err: b.sw2,
            eval: b.dim,
            temperature: (cfg.t0 * cfg.decay.powi(k as i32)).max(cfg.t_min),
        });
        t_sa *= cfg.decay;
        k += 1;
    }
    // 4. A rejected proposal trained the weights at λ' (they are not rolled back): settle one block at the
    // final λ so the reported dimensionality is that of the map actually returned.
    if rep.steps.last().is_some_and(|st| !st.accepted) {
        last = block_or_stop!(s, cfg, &mut proj, &mut done, rep);
    }
    // 5. repair: the returned map must meet the budget, so resume increasing while it does not.
    while last.dim > cfg.budget && n_inc < cfg.max_increases {
        s.set_lambda(s.lambda() * cfg.increase);
        n_inc += 1;
        last = block_or_stop!(s, cfg, &mut proj, &mut done, rep);
        rep.increases.push((done, s.lambda(), last.dim));
    }
    rep.final_lambda = s.lambda();
    rep.iterations = done;
    rep.final_dim = Some(last.dim);
    rep.final_dim_q3 = last.q3;
    rep.budget_met = Some(last.dim <= cfg.budget);
    Ok(rep)
}

/// Displacement dimensionality: `(mean, q3)` of the per-sample counts `#{i : |tx_i − x_i| > thr}` (Q3 by
/// NumPy's default "linear", Hyndman–Fan type 7: with the counts sorted
/// ascending `c_0 ≤ … ≤ c_{n−1}`, `h = 0.75·(n − 1)`, `Q3 = c_⌊h⌋ + (h − ⌊h⌋)(c_⌊h⌋+1 − c_⌊h⌋)`).
///
/// Panics if `x` is empty or the shapes of `x` and `tx` differ.
pub fn displacement_dim<T: Real>(x: MatRef<'_, T>, tx: MatRef<'_, T>, thr: f64) -> (f64, f64) {
    assert!(x.rows() > 0, "displacement_dim: empty sample");
    assert_eq!(
        (x.rows(), x.cols()),
        (tx.rows(), tx.cols()),
        "displacement_dim: shapes differ"
    );
    let mut counts: Vec<usize> = (0..x.rows())
        .map(|i| {
            x.row(i)
                .iter()
                .zip(tx.row(i))
                .filter(|(a, b)| (b.to_f64() - a.to_f64()).abs() > thr)
                .count()
        })
        .collect();
    let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
    counts.sort_unstable();
    (mean, quantile_linear(&counts, 0.75))
}

/// NumPy's default ("linear", type 7) quantile of sorted values.
fn quantile_linear(sorted: &[usize], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    sorted[lo] as f64 + frac * (sorted[hi] as f64 - sorted[lo] as f64)
}
