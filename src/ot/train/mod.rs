//! The training harness shared by every iterative solver (W2, W1, and the λ annealers that drive W2):
//! - [`split`]: the seeded per-side held-out split of SPEC §7.7, or the caller's own held-out sets;
//! - [`batches`]: the source and target mini-batch draws (samplers and streams of the seed);
//! - [`criterion`]: the discrepancies (MMD, energy distance, sliced W2) and the held-out selection
//!   criterion, with the measurements that chose it;
//! - [`select`]: the model selector (best so far, patience) and the baselines' held-out scores;
//! - [`guard`]: the divergence guard (losses and gradients checked before every update);
//! - [`run`]: the run loop (cap, evaluations, early stopping, progress, interrupts, why it stopped).
//!
//! A solver owns one [`select::Selector`], one [`guard::Guard`] and one [`select::HeldoutEval`], and
//! implements [`run::Phase`] for each of its phases; the loop and the report are the harness's.

pub mod batches;
pub mod checkpoint;
pub mod criterion;
pub mod guard;
pub mod run;
pub mod select;
pub mod split;

pub use batches::BatchDraws;
pub use criterion::{Criterion, Evaluator};
pub use guard::Guard;
pub use run::{
    evaluate_final, observe, run_phase, Control, HeldoutReport, Losses, Phase, Schedule, Stopped,
};
pub use select::{HeldoutEval, Offer, Selector, DEFAULT_PATIENCE};
pub use split::{Heldout, HeldoutSets};
