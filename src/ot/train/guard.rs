//! The divergence guard: every loss and gradient is checked **before** the optimiser update it would
//! drive, so a network keeps its last finite parameters and the best model so far is still valid.
//!
//! A non-finite value returns [`Error::Diverged`] naming the iteration and the quantity. When the data
//! reach a magnitude at which the networks' arithmetic overflows in the training type (|x| above
//! `√T::MAX · 10⁻⁶`: 1.8e13 in f32, 1.3e148 in f64), the message says that the data's scale is the
//! likely cause. What was written after a divergence is the caller's to say (the error does not claim
//! a model was kept).

use crate::linalg::{Mat, Real};
use crate::{Error, Result};

/// Checks losses and gradients of one training run.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Largest |value| in the training data.
    scale: f64,
    /// Whether that scale overflows the training type's arithmetic.
    huge: bool,
}

impl Guard {
    /// A guard for a run on `sets` (its scale hint is computed from them).
    pub fn new<T: Real>(sets: &[&Mat<T>]) -> Self {
        let scale = sets
            .iter()
            .flat_map(|m| m.as_slice().iter())
            .fold(0.0f64, |a, v| a.max(v.to_f64().abs()));
        let limit = T::MAX.to_f64().sqrt() * 1e-6;
        Guard {
            scale,
            huge: scale > limit,
        }
    }

    fn error(&self, what: &str, iteration: usize) -> Error {
        let what = if self.huge {
            format!(
                "{what} (the data reach |x| = {:.3e}: at that scale the networks' arithmetic overflows, \
                 so the data's scale is the likely cause — standardise or log-transform them)",
                self.scale
            )
        } else {
            what.to_string()
        };
        Error::Diverged { iteration, what }
    }

    /// `Err(Diverged)` unless `loss` is finite.
    pub fn loss(&self, loss: f64, what: &str, iteration: usize) -> Result<()> {
        if loss.is_finite() {
            Ok(())
        } else {
            Err(self.error(what, iteration))
        }
    }

    /// `Err(Diverged)` unless every entry of `grad` is finite.
    pub fn grad<T: Real>(&self, grad: &[T], what: &str, iteration: usize) -> Result<()> {
        if grad.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(self.error(what, iteration))
        }
    }

    /// Largest |value| of the training data.
    pub fn data_scale(&self) -> f64 {
        self.scale
    }
}
