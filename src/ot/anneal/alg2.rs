//! Algorithm 2 of \[C25\], the displacement-dimensionality budget (module doc of [`super`]), as a
//! resumable state machine: [`Alg2`] holds the phase, the block in progress (its iteration and the
//! window's sums), the increase count, T_sa and the step index, the last block's measurement, the
//! proposal and projection streams and the trajectory so far, so it can stop at any outer-iteration
//! boundary, be checkpointed ([`super::checkpoint`]) and continue to the same bits.

use super::{displacement_dim, radius, AnnealReport, AnnealStep, Flow, LambdaTrainee};
use crate::linalg::Real;
use crate::ot::penalty::lambda_mean_from_sum;
use crate::ot::train::criterion::sliced_w2;
use crate::random::{streams, Stream};
use crate::Result;

/// Settings of [`dim_budget`] (Alg. 2). Defaults are \[C25\]'s high-dimensional code (λ₀ for batch 128).
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
    /// How a block's dimensionality is measured (default `MappedSample`; `BatchWindow` is \[C25\]'s code).
    pub estimate: DimEstimate,
    /// Seed of the proposal stream.
    pub seed: u64,
}

/// How Alg. 2 measures a block's displacement dimensionality (module doc of [`super`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DimEstimate {
    /// The current map on the trainee's fixed evaluation sample, at the end of the block.
    #[default]
    MappedSample,
    /// The mean of the batch dims over the block's last `window` iterations (\[C25\]'s code).
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct BlockDim {
    pub(super) dim: f64,
    pub(super) q3: Option<f64>,
    pub(super) sw2: f64,
}

/// A block in progress: iterations done in it and the window's sums.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Block {
    pub(super) it: usize,
    pub(super) dim: f64,
    pub(super) sw: f64,
    pub(super) cnt: usize,
}

/// Why a block is trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Purpose {
    /// Step 2 (increase phase).
    Increase,
    /// Step 3: a proposal `λ' = λ·(1 − u·r)` trained from `lambda_before`.
    Decrease {
        lambda_before: f64,
        proposed: f64,
        uniform: f64,
    },
    /// Step 4: settle at the final λ after a rejected last proposal.
    Settle,
    /// Step 5: repair (`λ ← 1.5·λ`).
    Repair,
}

/// Where Alg. 2 is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Phase {
    /// λ₀ not set yet.
    Start,
    /// Warm-up, `left` iterations to go.
    Warmup { left: usize },
    /// Training a block.
    Block { purpose: Purpose, block: Block },
    /// Step 3's loop condition: propose, or go to step 4.
    Anneal,
    /// Step 5's loop condition: repair, or finish.
    Repair,
    /// The schedule completed.
    Done,
}

/// Alg. 2's state (module doc).
#[derive(Clone, Debug)]
pub struct Alg2 {
    pub(super) cfg: DimBudgetConfig,
    pub(super) rng: Stream,
    pub(super) proj: Stream,
    pub(super) steps: Vec<AnnealStep>,
    pub(super) increases: Vec<(usize, f64, f64)>,
    pub(super) done: usize,
    pub(super) n_inc: usize,
    pub(super) t_sa: f64,
    pub(super) k: usize,
    /// The last block that counts (the increase phase's, an accepted proposal's, the settle or repair
    /// block's).
    pub(super) last: Option<BlockDim>,
    pub(super) phase: Phase,
}

impl Alg2 {
    /// The schedule at its start.
    pub fn new(cfg: &DimBudgetConfig) -> Self {
        Alg2 {
            cfg: cfg.clone(),
            rng: Stream::new(cfg.seed, streams::ANNEAL),
            proj: Stream::new(cfg.seed, streams::PROJECTIONS),
            steps: Vec::new(),
            increases: Vec::new(),
            done: 0,
            n_inc: 0,
            t_sa: cfg.t0,
            k: 0,
            last: None,
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
        let window = cfg.window.clamp(1, cfg.block_iters.max(1));
        loop {
            let trains = match self.phase {
                Phase::Warmup { left } => left > 0,
                Phase::Block { block, .. } => block.it < cfg.block_iters,
                _ => false,
            };
            if trains {
                if self.done >= until {
                    return Ok(Flow::Paused);
                }
                if let Some(why) = s.should_stop() {
                    return Ok(Flow::Stopped(why));
                }
                s.train_step()?;
                self.done += 1;
            }
            self.phase = match self.phase {
                Phase::Start => {
                    s.set_lambda(cfg.lambda0);
                    Phase::Warmup {
                        left: cfg.warmup_iters,
                    }
                }
                Phase::Warmup { left } if left > 0 => Phase::Warmup { left: left - 1 },
                Phase::Warmup { .. } => Self::block(Purpose::Increase),
                Phase::Block { purpose, mut block } if block.it < cfg.block_iters => {
                    if block.it + window >= cfg.block_iters {
                        let (x, tx, y) = s.last_batch();
                        if cfg.estimate == DimEstimate::BatchWindow {
                            block.dim += displacement_dim(x, tx, cfg.threshold).0;
                        }
                        block.sw += sliced_w2(tx, y, cfg.n_projections, &mut self.proj);
                        block.cnt += 1;
                    }
                    block.it += 1;
                    Phase::Block { purpose, block }
                }
                Phase::Block { purpose, block } => {
                    let b = measure(s, &cfg, &block);
                    self.block_done(s, purpose, b)
                }
                Phase::Anneal => {
                    let met = self.last.is_some_and(|l| l.dim <= cfg.budget);
                    if met && self.t_sa >= cfg.t_min && self.k < cfg.max_steps {
                        let lambda_before = s.lambda();
                        let uniform = self.rng.uniform_f64();
                        let proposed = lambda_before * (1.0 - uniform * radius(self.t_sa));
                        s.set_lambda(proposed);
                        Self::block(Purpose::Decrease {
                            lambda_before,
                            proposed,
                            uniform,
                        })
                    } else if self.steps.last().is_some_and(|st| !st.accepted) {
                        // 4. a rejected proposal trained the weights at λ' (they are not rolled back):
                        // settle one block at the final λ so the reported dim is the returned map's
                        Self::block(Purpose::Settle)
                    } else {
                        Phase::Repair
                    }
                }
                Phase::Repair => {
                    // 5. the returned map must meet the budget: resume increasing while it does not
                    let over = self.last.is_some_and(|l| l.dim > cfg.budget);
                    if over && self.n_inc < cfg.max_increases {
                        s.set_lambda(s.lambda() * cfg.increase);
                        self.n_inc += 1;
                        Self::block(Purpose::Repair)
                    } else {
                        Phase::Done
                    }
                }
                Phase::Done => return Ok(Flow::Finished),
            };
        }
    }

    fn block(purpose: Purpose) -> Phase {
        Phase::Block {
            purpose,
            block: Block::default(),
        }
    }

    /// The transition at the end of a block that measured `b`.
    fn block_done<T: Real>(
        &mut self,
        s: &mut impl LambdaTrainee<T>,
        purpose: Purpose,
        b: BlockDim,
    ) -> Phase {
        let cfg = &self.cfg;
        match purpose {
            Purpose::Increase => {
                self.last = Some(b);
                self.increases.push((self.done, s.lambda(), b.dim));
                if b.dim < cfg.budget || self.n_inc >= cfg.max_increases {
                    Phase::Anneal
                } else {
                    s.set_lambda(s.lambda() * cfg.increase);
                    self.n_inc += 1;
                    Self::block(Purpose::Increase)
                }
            }
            Purpose::Decrease {
                lambda_before,
                proposed,
                uniform,
            } => {
                let accepted = b.dim <= cfg.budget;
                if accepted {
                    self.last = Some(b);
                } else {
                    s.set_lambda(lambda_before);
                }
                self.steps.push(AnnealStep {
                    iteration: self.done,
                    lambda_before,
                    lambda_proposed: proposed,
                    accepted,
                    spa: f64::NAN,
                    err: b.sw2,
                    eval: b.dim,
                    temperature: (cfg.t0 * cfg.decay.powi(self.k as i32)).max(cfg.t_min),
                    eval_before: f64::NAN,
                    uniform,
                });
                self.t_sa *= cfg.decay;
                self.k += 1;
                Phase::Anneal
            }
            Purpose::Settle => {
                self.last = Some(b);
                Phase::Repair
            }
            Purpose::Repair => {
                self.last = Some(b);
                self.increases.push((self.done, s.lambda(), b.dim));
                Phase::Repair
            }
        }
    }

    /// The report now, with the trainee's current λ; `flow` is what the last [`Alg2::run`] returned.
    /// The final dim and whether the budget was met are reported once the schedule completed.
    pub fn report(&self, lambda: f64, flow: Flow) -> AnnealReport {
        let done = flow == Flow::Finished;
        let last = self.last.filter(|_| done);
        AnnealReport {
            steps: self.steps.clone(),
            increases: self.increases.clone(),
            final_lambda: lambda,
            iterations: self.done,
            budget_met: last.map(|l| l.dim <= self.cfg.budget),
            final_dim: last.map(|l| l.dim),
            final_dim_q3: last.and_then(|l| l.q3),
            ..AnnealReport::ended(flow)
        }
    }
}

/// A completed block's measurement (by the configured estimate).
fn measure<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    cfg: &DimBudgetConfig,
    block: &Block,
) -> BlockDim {
    let c = block.cnt.max(1) as f64;
    match cfg.estimate {
        DimEstimate::BatchWindow => BlockDim {
            dim: block.dim / c,
            q3: None,
            sw2: block.sw / c,
        },
        DimEstimate::MappedSample => {
            let (x, tx) = s.mapped_sample();
            let (mean, q3) = displacement_dim(x, tx, cfg.threshold);
            BlockDim {
                dim: mean,
                q3: Some(q3),
                sw2: block.sw / c,
            }
        }
    }
}

/// Alg. 2: meet the displacement-dimensionality budget (see the module doc).
pub fn dim_budget<T: Real>(
    s: &mut impl LambdaTrainee<T>,
    cfg: &DimBudgetConfig,
) -> Result<AnnealReport> {
    let mut a = Alg2::new(cfg);
    let flow = a.run(s, usize::MAX)?;
    Ok(a.report(s.lambda(), flow))
}
