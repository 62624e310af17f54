//! # monge — neural optimal transport maps with hand-derived gradients
//!
//! monge learns optimal transport maps between two point clouds (e.g. control and drug-perturbed cells)
//! with neural networks whose every gradient is derived in the module doc of the file that computes it and
//! checked against finite differences in f64.
//!
//! Rooms, with one-way doors (a module looks only down this list):
//! - [`linalg`]: scalars, matrices, gemm, orthonormalisers;
//! - [`nn`]: networks and optimisers;
//! - `ot`: solvers, penalties, schedules, baselines;
//! - `metrics`, `data`, `io`;
//! - the `monge` binary's command line.
//!
//! Cross-cutting: [`random`] (seeded streams), [`parallel`] (the persistent worker pool that splits a
//! batch over cores), [`gradcheck`] (the finite-difference harness), [`error`] (the typed error),
//! [`signal`] (SIGINT/SIGTERM: temp files removed, training loops stopped at an iteration boundary).

#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod experiments;
pub mod gradcheck;
pub mod io;
pub mod linalg;
pub mod metrics;
pub mod nn;
pub mod ot;
pub mod parallel;
pub mod random;
pub mod signal;

pub use error::{Error, Result};
