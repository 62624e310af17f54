//! Algorithm 1 of \[C25\], simulated annealing on λ (module doc of [`super`]), as a resumable state
//! machine: [`Alg1`] holds everything the schedule depends on — the phase and its iteration counter,
//! T_sa and the step index, the proposal/acceptance stream and the projection stream, the steps so far —
//! so it can stop at any outer-iteration boundary ([`Alg1::run`] with a bound), be checkpointed
//! ([`super::checkpoint`]) and continue to the same bits.

use super::{radius, AnnealReport, AnnealStep, Flow, LambdaTrainee};
use crate::linalg::Real;
use crate::ot::penalty::{lambda_mean_from_sum, Penalty};
use crate::ot::train::criterion::sliced_w2;
use crate::random::{streams, Stream};
use crate::Result;

/// Settings of [`anneal_lambda`] (Alg. 1). Defaults are \[C25\]'s code (λ₀ converted for batch 256).
#[derive(Clone, Debug, PartialEq)]
pub struct AnnealConfig {
    /// Warm-up outer iterations at λ₀ (20 000).
    pub initial_iters: usize,
    /// Outer iterations trained per proposal (2 000).
    pub adjust_iters: usize,
    /// Iterations trained at the reverted λ after a rejection (default = `adjust_iters`; 0 = \[C25\]'s code).
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

/// Where Alg. 1 is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Phase {
    /// λ₀ not set yet.
    Start,
    /// Warm-up at λ₀, `left` iterations to go.
    Warmup { left: usize },
    /// About to measure E₀ and propose (or stop, by the temperature rule).
    Propose,
    /// Training at the proposal λ'.
    Adjust {
        left: usize,
        lambda_before: f64,
        proposed: f64,
        e0: f64,
    },
    /// Training at the reverted λ after a rejection; the step is recorded when this ends.
    Smooth { left: usize, step: AnnealStep },
    /// The schedule completed.
    Done,
}

/// Alg. 1's state (module doc).
#[derive(Clone, Debug)]
pub struct Alg1 {
    pub(super) cfg: AnnealConfig,
    pub(super) rng: Stream,
    pub(super) proj: Stream,
    pub(super) steps: Vec<AnnealStep>,
    pub(super) done: usize,
    pub(super) t_sa: f64,
    pub(super) k: usize,
    pub(super) phase: Phase,
}

/// (Spa, Err, Eval) of the trainee's last batch (Alg. 1 metrics).
fn eval_alg1<T: Real>(
    s: &impl LambdaTrainee<T>,
    cfg: &AnnealConfig,
    proj: &mut Stream,
) -> (f64, f64, f64) {
    let (x, tx, y) = s.last_batch();
    let spa = Penalty::Stvs {
        gamma: cfg.stvs_gamma,
    }
    .displacement_sum(x, tx);
    let err = sliced_w2(tx, y, cfg.n_projections, proj) * cfg.balance;
    (spa, err, -cfg.alpha * spa - (1.0 - cfg.alpha) * err)
}

impl Alg1 {
    /// The schedule at its start.
    pub fn new(cfg: &AnnealConfig) -> Self {
        Alg1 {
            cfg: cfg.clone(),
            rng: Stream::new(cfg.seed, streams::ANNEAL),
            proj: Stream::new(cfg.seed, streams::PROJECTIONS),
            steps: Vec::new(),
            done: 0,
            t_sa: cfg.t0,
            k: 0,
            phase: Phase::Start,
        }
    }

    /// Outer iterations trained so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// Runs the schedule until it completes, the trainee asks to stop, or `until` outer iterations in all
    /// have been trained (then [`Flow::Paused`]: call again to continue, e.g. after a checkpoint).
    pub fn run<T: Real>(&mut self, s: &mut impl LambdaTrainee<T>, until: usize) -> Result<Flow> {
        let cfg = self.cfg.clone();
        loop {
            let phase = std::mem::replace(&mut self.phase, Phase::Done);
            self.phase = match phase {
                Phase::Start => {
                    s.set_lambda(cfg.lambda0);
                    Phase::Warmup {
                        left: cfg.initial_iters,
                    }
                }
                Phase::Warmup { left }
                | Phase::Adjust { left, .. }
                | Phase::Smooth { left, .. }
                    if left > 0 =>
                {
                    let why = if self.done >= until {
                        Some(Flow::Paused)
                    } else {
                        s.should_stop().map(Flow::Stopped)
                    };
                    if let Some(flow) = why {
                        self.phase = phase;
                        return Ok(flow);
                    }
                    if let Err(e) = s.train_step() {
                        self.phase = phase;
                        return Err(e);
                    }
                    self.done += 1;
                    match phase {
                        Phase::Warmup { left } => Phase::Warmup { left: left - 1 },
                        Phase::Adjust {
                            left,
                            lambda_before,
                            proposed,
                            e0,
                        } => Phase::Adjust {
                            left: left - 1,
                            lambda_before,
                            proposed,
                            e0,
                        },
                        Phase::Smooth { left, step } => Phase::Smooth {
                            left: left - 1,
                            step,
                        },
                        _ => unreachable!("a training phase"),
                    }
                }
                Phase::Warmup { .. } => Phase::Propose,
                Phase::Propose => {
                    if !(self.t_sa >= cfg.t_min && self.k < cfg.max_steps) {
                        Phase::Done
                    } else {
                        let (_, _, e0) = eval_alg1(s, &cfg, &mut self.proj);
                        let lambda_before = s.lambda();
                        let r = radius(self.t_sa);
                        let proposed =
                            lambda_before * (1.0 + (2.0 * self.rng.uniform_f64() - 1.0) * r);
                        s.set_lambda(proposed);
                        Phase::Adjust {
                            left: cfg.adjust_iters,
                            lambda_before,
                            proposed,
                            e0,
                        }
                    }
                }
                Phase::Adjust {
                    lambda_before,
                    proposed,
                    e0,
                    ..
                } => {
                    let (spa, err, e1) = eval_alg1(s, &cfg, &mut self.proj);
                    let de = e1 - e0;
                    let temperature = (cfg.t0 * cfg.decay.powi(self.k as i32)).max(cfg.t_min);
                    let u = self.rng.uniform_f64();
                    let accepted = de > 0.0 || u < (de / temperature).exp();
                    let step = AnnealStep {
                        iteration: self.done,
                        lambda_before,
                        lambda_proposed: proposed,
                        accepted,
                        spa,
                        err,
                        eval: e1,
                        temperature,
                        eval_before: e0,
                        uniform: u,
                    };
                    if accepted {
                        self.end_step(step)
                    } else {
                        s.set_lambda(lambda_before);
                        Phase::Smooth {
                            left: cfg.smooth_iters,
                            step,
                        }
                    }
                }
                Phase::Smooth { step, .. } => self.end_step(AnnealStep {
                    iteration: self.done,
                    ..step
                }),
                Phase::Done => {
                    self.phase = Phase::Done;
                    return Ok(Flow::Finished);
                }
            };
        }
    }

    /// Records a step and cools: `T_sa ← T_sa · decay`.
    fn end_step(&mut self, step: AnnealStep) -> Phase {
        self.steps.push(step);
        self.t_sa *= self.cfg.decay;
        self.k += 1;
        Phase::Propose
    }

    /// The report now, with the trainee's current λ; `flow` is what the last [`Alg1::run`] returned.
    pub fn report(&self, lambda: f64, flow: Flow) -> AnnealReport {
        AnnealReport {
            steps: self.steps.clone(),
            final_lambda: lambda,
            iterations: self.done,
            ..AnnealReport::ended(flow)
        }
    }
}

/// Alg. 1: simulated annealing on λ (see the module doc). The trainee ends at the final λ.
pub fn anneal_lambda<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    cfg: &AnnealConfig,
) -> Result<AnnealReport> {
    let mut a = Alg1::new(cfg);
    let flow = a.run(s, usize::MAX)?;
    Ok(a.report(s.lambda(), flow))
}
