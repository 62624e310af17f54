//! # monge — neural optimal transport maps with hand-derived gradients
//!
//! monge learns optimal transport maps between two point clouds (e.g. control and drug-perturbed cells)
//! with neural networks whose every gradient is derived in the module doc of the file that computes it and
//! checked against finite differences in f64.
//!
//! Rooms, with one-way doors (a module looks only down this list):
//! - [`linalg`]: scalars, matrices, gemm, orthonormalisers;
//! - [`nn`]: networks and optimisers;
//! - `ot`: solvers, penalties, schedules, baselines, and the training harness every iterative solver
//!   runs through (`ot::train`: held-out split, selection criterion, selector, divergence guard, run
//!   loop); `ot` imports neither `metrics` nor `data` (the metrics re-export the formulas the solvers
//!   need, so each formula has one implementation);
//! - `metrics` (with `metrics::evaluation`: the report of `monge eval` and Python's `monge.evaluate`,
//!   composed once), `data`, `io`;
//! - the `monge` binary's command line.
//!
//! # Fit a map (the front door)
//! One [`fit`] for every method: a [`Method`] with its config in, a fitted map and a report out (the
//! held-out comparison with the identity and the mean shift, why training stopped); the progress
//! callback is optional and may stop the fit.
//! ```
//! use monge::linalg::Mat;
//! use monge::ot::w2::W2Config;
//! use monge::{fit, Method};
//!
//! // 300 source cells around 0 and 300 target cells around (3, −1), two features
//! let x = Mat::<f32>::from_fn(300, 2, |i, j| ((i * 37 + j * 11) % 101) as f32 / 101.0 - 0.5);
//! let y = Mat::from_fn(300, 2, |i, j| x.get((i * 7) % 300, j) + [3.0, -1.0][j]);
//! let cfg = W2Config { iterations: 200, eval_every: 50, ..W2Config::default() };
//! let fitted = fit(&x, &y, &Method::W2(cfg), &Default::default(), None)?;
//! let h = fitted.report.heldout.as_ref().expect("held-out cells");
//! assert!(h.map < h.identity, "the map moves the cells towards the target");
//! let mapped = fitted.map.transport(&x); // 300 × 2
//! assert_eq!(mapped.rows(), 300);
//! # Ok::<(), monge::Error>(())
//! ```
//! Programs in `examples/`: `fit_w2` (two arrays in, a model file out), `map_cells` (load a model, map
//! new cells).
//!
//! Cross-cutting: [`random`] (seeded streams), [`parallel`] (the persistent worker pool that splits a
//! batch over cores), [`gradcheck`] (the finite-difference harness), [`error`] (the typed error),
//! [`signal`] (SIGINT/SIGTERM: temp files removed, training loops stopped at an iteration boundary),
//! [`report`] (the JSON-shaped value reports are composed in, for the CLI and Python alike).

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
pub mod report;
pub mod signal;

pub use error::{Error, Result};
pub use ot::fit::{fit, FitReport, Fitted, LambdaSchedule, Method, W2Schedule};
