//! Networks with hand-derived gradients, and the optimisers that train them (SPEC §2).
//!
//! Convention for every network: parameters live in one flat buffer (`params`), gradients in a buffer of the
//! same length and layout (`grads`); layer weights are row-major `out × in` blocks of it (PyTorch layout,
//! `Y = X Wᵀ + 1 bᵀ`). Workspaces for a batch size are sized once and reused; the gradient routines
//! accumulate into `grads` unless their doc says otherwise.

pub mod optim;

pub use optim::{Adam, AdamConfig, LrSchedule, Optimizer, Sgd};

pub mod dense;
pub mod groupsort;
pub mod icnn;
pub mod lipschitz;
pub mod mlp;
pub mod quadratic;
