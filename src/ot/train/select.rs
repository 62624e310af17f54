//! The model selector: which iterate a solver returns, and when early stopping ends training.
//!
//! Every `eval_every` iterations the solver maps its held-out source cells with the current model and
//! hands the criterion's value (an [`Evaluator`] on the held-out target) to [`Selector::offer`]:
//! - a non-finite value is recorded but is never the best (a model whose held-out image overflows is
//!   not returned);
//! - a finite value becomes the best when it is below the best so far by more than [`MIN_REL_DELTA`] of
//!   it (the first finite value always does); the solver then copies the model into its best buffer;
//! - otherwise the evaluation counts towards the patience: after `patience` evaluations in a row without
//!   a new best, [`Selector::patience_exhausted`] is true and the run loop stops (`patience` 0 = never).
//!
//! [`HeldoutEval`] also scores the two baselines on the same held-out cells — the identity `T(x) = x` and
//! the mean shift `T(x) = x + mean(ν_train) − mean(μ_train)` — for the report every fit ends with.

use super::criterion::{Criterion, Evaluator};
use super::run::HeldoutReport;
use super::split::HeldoutSets;
use crate::linalg::{Mat, MatRef, Real};
use crate::parallel::Pool;

/// A new best must improve on the old one by this fraction of it (0.1 %): differences in the last
/// digits of the criterion are noise, not progress.
pub const MIN_REL_DELTA: f64 = 1e-3;

/// Default patience in evaluations.
pub const DEFAULT_PATIENCE: usize = 10;

/// What [`Selector::offer`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// The value is the new best: keep this model.
    Best,
    /// Finite but not better by [`MIN_REL_DELTA`].
    NotBetter,
    /// Not finite: recorded, never kept.
    NonFinite,
}

/// Best-so-far bookkeeping and the patience counter (module doc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    patience: usize,
    best: Option<(usize, f64)>,
    evals: Vec<(usize, f64)>,
    since_best: usize,
}

impl Selector {
    /// A selector that stops after `patience` evaluations without a new best (0 = never).
    pub fn new(patience: usize) -> Self {
        Selector {
            patience,
            ..Selector::default()
        }
    }

    /// Records the evaluation at `iteration` (module doc).
    pub fn offer(&mut self, iteration: usize, value: f64) -> Offer {
        self.evals.push((iteration, value));
        let verdict = if !value.is_finite() {
            Offer::NonFinite
        } else {
            match self.best {
                None => Offer::Best,
                Some((_, b)) if value < b - MIN_REL_DELTA * b.abs() => Offer::Best,
                Some(_) => Offer::NotBetter,
            }
        };
        if verdict == Offer::Best {
            self.best = Some((iteration, value));
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        verdict
    }

    /// (iteration, value) of the best evaluation so far.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }

    /// Every evaluation in order (non-finite ones included).
    pub fn evals(&self) -> &[(usize, f64)] {
        &self.evals
    }

    /// The last evaluation.
    pub fn last(&self) -> Option<(usize, f64)> {
        self.evals.last().copied()
    }

    /// Whether `patience` evaluations in a row brought no new best.
    pub fn patience_exhausted(&self) -> bool {
        self.patience > 0 && self.since_best >= self.patience
    }

    /// The patience in evaluations.
    pub fn patience(&self) -> usize {
        self.patience
    }

    /// Evaluations since the last new best.
    pub fn since_best(&self) -> usize {
        self.since_best
    }

    /// Restores the state (for resuming from a checkpoint).
    pub fn restore(
        patience: usize,
        best: Option<(usize, f64)>,
        evals: Vec<(usize, f64)>,
        since_best: usize,
    ) -> Self {
        Selector {
            patience,
            best,
            evals,
            since_best,
        }
    }
}

/// The held-out cells of a fit with the criterion bound to their target.
#[derive(Clone, Debug)]
pub struct HeldoutEval<T> {
    evaluator: Evaluator,
    source: Mat<T>,
    /// `mean(ν_train) − mean(μ_train)` per feature (the mean-shift baseline), in f64.
    shift: Vec<f64>,
}

impl<T: Real> HeldoutEval<T> {
    /// Binds `criterion` to the held-out sets of `sets` (None without held-out cells).
    pub fn new(
        sets: &HeldoutSets<T>,
        criterion: Criterion,
        seed: u64,
        pool: &mut Pool,
    ) -> Option<Self> {
        if !sets.has_heldout() {
            return None;
        }
        let mean = |m: &Mat<T>| -> Vec<f64> {
            let mut s = vec![0.0f64; m.cols()];
            for i in 0..m.rows() {
                for (a, v) in s.iter_mut().zip(m.row(i)) {
                    *a += v.to_f64();
                }
            }
            s.iter().map(|v| v / m.rows().max(1) as f64).collect()
        };
        let (mx, my) = (mean(&sets.train_source), mean(&sets.train_target));
        Some(HeldoutEval {
            evaluator: Evaluator::new(criterion, sets.heldout_target.view(), seed, pool),
            source: sets.heldout_source.clone(),
            shift: my.iter().zip(&mx).map(|(a, b)| a - b).collect(),
        })
    }

    /// The held-out source cells.
    pub fn source(&self) -> &Mat<T> {
        &self.source
    }

    /// The bound evaluator.
    pub fn evaluator(&self) -> &Evaluator {
        &self.evaluator
    }

    /// The criterion of mapped held-out source cells.
    pub fn eval(&self, mapped: MatRef<'_, T>, pool: &mut Pool) -> f64 {
        self.evaluator.eval(mapped, pool)
    }

    /// The report of a fit returning the map from `best_iteration` whose criterion is `map`: the
    /// criterion of the identity and of the mean shift beside it.
    pub fn report(&self, best_iteration: usize, map: f64, pool: &mut Pool) -> HeldoutReport {
        let (identity, mean_shift) = self.baselines(pool);
        HeldoutReport {
            criterion: self.evaluator.criterion().name(),
            description: self.evaluator.describe(),
            map,
            identity,
            mean_shift,
            best_iteration,
        }
    }

    /// The criterion of the identity and of the mean shift on the held-out cells.
    pub fn baselines(&self, pool: &mut Pool) -> (f64, f64) {
        let id = self.evaluator.eval(self.source.view(), pool);
        let shifted = Mat::from_fn(self.source.rows(), self.source.cols(), |i, j| {
            self.source.get(i, j).to_f64() + self.shift[j]
        });
        (id, self.evaluator.eval(shifted.view(), pool))
    }
}
