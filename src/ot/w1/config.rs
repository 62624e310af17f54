//! The options and the report of the W1 solver.

use crate::nn::lipschitz::LipschitzConfig;
use crate::nn::mlp::MlpConfig;
use crate::nn::AdamConfig;
use crate::ot::train::{Criterion, HeldoutReport, Stopped, DEFAULT_PATIENCE};

/// Every setting of the W1 solver; `Default` reproduces w1ot (SPEC §3.4, §7.6).
#[derive(Clone, Debug, PartialEq)]
pub struct W1Config {
    /// Architecture of the potential f.
    pub potential: LipschitzConfig,
    /// Phase-1 iterations (10 000).
    pub potential_iters: usize,
    /// Phase-1 initial learning rate (1e-2), cosine-annealed to `potential_lr_min` (1e-4).
    pub potential_lr: f64,
    /// Phase-1 final learning rate.
    pub potential_lr_min: f64,
    /// Phase-1 Adam settings (betas 0.5, 0.5).
    pub potential_adam: AdamConfig,
    /// Batch size of both phases (256; a training set smaller than that gives its size).
    pub batch: usize,
    /// Architecture of η.
    pub step_size: MlpConfig,
    /// Architecture of D.
    pub discriminator: MlpConfig,
    /// Phase-2 iterations (10 000).
    pub gan_iters: usize,
    /// Phase-2 learning rate of both networks (1e-4, constant).
    pub gan_lr: f64,
    /// Phase-2 Adam settings (betas 0.9, 0.999).
    pub gan_adam: AdamConfig,
    /// Clamp mapped points at 0 (`T ← relu(T)`, non-negative expression data).
    pub positive: bool,
    /// User seed.
    pub seed: u64,
    /// Threads of the batch split of both phases (1; results are bit-identical for a given count).
    pub threads: usize,
    /// Held-out model selection every this many phase-2 iterations (1000; 0 = off: the last step size
    /// is returned, still scored on the held-out cells).
    pub eval_every: usize,
    /// Fraction of each set held out (0.1, w1ot's validation split, sized by SPEC §7.7's rule; 0 = no
    /// held-out cells at all).
    pub heldout_frac: f64,
    /// Early stopping of phase 2 after this many evaluations without a new best (10; 0 = off).
    pub patience: usize,
    /// The held-out selection criterion (default sliced W2 over 200 fixed directions).
    pub criterion: Criterion,
    /// Progress report interval in iterations (0 = only at the end of each phase).
    pub progress_every: usize,
}

impl Default for W1Config {
    fn default() -> Self {
        W1Config {
            potential: LipschitzConfig::default(),
            potential_iters: 10_000,
            potential_lr: 1e-2,
            potential_lr_min: 1e-4,
            potential_adam: AdamConfig {
                beta1: 0.5,
                beta2: 0.5,
                ..AdamConfig::default()
            },
            batch: 256,
            step_size: MlpConfig::step_size(),
            discriminator: MlpConfig::discriminator(),
            gan_iters: 10_000,
            gan_lr: 1e-4,
            gan_adam: AdamConfig::default(),
            positive: false,
            seed: 0,
            threads: 1,
            eval_every: 1000,
            heldout_frac: 0.1,
            patience: DEFAULT_PATIENCE,
            criterion: Criterion::SlicedW2,
            progress_every: 100,
        }
    }
}

/// What a W1 fit reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct W1Report {
    /// Phase-1 iterations run.
    pub potential_iters: usize,
    /// Phase-2 iterations run.
    pub gan_iters: usize,
    /// Dual objective `mean f(x) − mean f(y)` on the last phase-1 batch.
    pub potential_objective: f64,
    /// Dual objective on the whole training sets with the export Q (the W1 estimate).
    pub w1_estimate: f64,
    /// Fraction of training source points with `‖∇f(x)‖ ∈ [0.9, 1 + 1e-6]` after phase 1.
    pub grad_norm_fraction: f64,
    /// Last discriminator loss.
    pub disc_loss: f64,
    /// Last generator loss.
    pub gen_loss: f64,
    /// Best held-out criterion and the phase-2 iteration it was measured at (model selection only).
    pub best_heldout: Option<(f64, usize)>,
    /// Every held-out evaluation (phase-2 iteration, criterion).
    pub evals: Vec<(usize, f64)>,
    /// The mini-batch size used.
    pub batch: usize,
    /// Why training ended.
    pub stopped: Stopped,
    /// The held-out criterion of the returned map, the identity and the mean shift.
    pub heldout: Option<HeldoutReport>,
    /// Wall time of phase 1 (s).
    pub seconds_potential: f64,
    /// Wall time of phase 2 (s).
    pub seconds_gan: f64,
}
