//! Optimal transport solvers, sparsity penalties, λ schedules and baselines (SPEC §3).
//!
//! Shared vocabulary of the solvers:
//! - [`TransportMap`]: anything that maps a batch of source points (a fitted W2/W1 model, a baseline);
//! - [`SavedModel`]: the format-neutral content of a model file (the byte format lives in `io`);
//! - [`Progress`]: what a training loop reports to its caller at its progress interval.

pub mod anneal;
pub mod baselines;
pub mod conjugate;
pub mod gaussian;
pub mod penalty;
pub mod potentials;
pub mod sinkhorn;
pub mod w1;
pub mod w2;

use crate::linalg::{Mat, Real};
use crate::Result;

/// A fitted map T: ℝᵈ → ℝᵈ, applied batch-wise.
pub trait TransportMap<T: Real> {
    /// Input (and output) dimension d.
    fn dim(&self) -> usize;
    /// T applied to every row of `x` (n × d) → n × d. Not a hot path: may allocate.
    fn transport(&self, x: &Mat<T>) -> Mat<T>;
    /// The model's content for saving (method name, hyper-parameters, parameter tensors).
    fn to_saved(&self) -> SavedModel<T>;
}

/// The format-neutral content of a model file: enough to rebuild the map bit-exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel<T> {
    /// `"w2"`, `"w1"`, `"sinkhorn"`, `"mean-shift"` or `"identity"`.
    pub method: String,
    /// Input dimension d.
    pub dim: usize,
    /// Hyper-parameters as `key = value` text (architecture, activation, options needed to rebuild).
    pub hyper: Vec<(String, String)>,
    /// Named parameter tensors: (name, shape, row-major values).
    pub tensors: Vec<(String, Vec<usize>, Vec<T>)>,
}

impl<T: Real> SavedModel<T> {
    /// The value of hyper-parameter `key`, if present.
    pub fn hyper(&self, key: &str) -> Option<&str> {
        self.hyper
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<(&[usize], &[T])> {
        self.tensors
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, v)| (s.as_slice(), v.as_slice()))
    }

    /// Hyper-parameter `key` parsed as `V`, or a model error naming it.
    pub fn hyper_parse<V: std::str::FromStr>(&self, key: &str) -> Result<V> {
        let s = self.hyper(key).ok_or_else(|| crate::Error::Model {
            file: String::new(),
            msg: format!("missing hyper-parameter '{key}'"),
        })?;
        s.parse().map_err(|_| crate::Error::Model {
            file: String::new(),
            msg: format!("hyper-parameter '{key}' has unparsable value '{s}'"),
        })
    }
}

/// Rebuilds the map stored in a model file's content, whatever its method.
pub fn map_from_saved<T: Real>(m: &SavedModel<T>) -> Result<Box<dyn TransportMap<T>>> {
    match m.method.as_str() {
        "w2" => Ok(Box::new(w2::W2Map::from_saved(m)?)),
        "w1" => Ok(Box::new(w1::W1Map::from_saved(m)?)),
        "sinkhorn" => Ok(Box::new(sinkhorn::ElasticSinkhornMap::from_saved(m)?)),
        "mean-shift" => Ok(Box::new(baselines::MeanShift::from_saved(m)?)),
        "identity" => Ok(Box::new(baselines::Identity::from_saved(m)?)),
        other => Err(crate::Error::Model {
            file: String::new(),
            msg: format!("unknown method '{other}'"),
        }),
    }
}

/// One progress report of a training loop (sent at the solver's progress interval).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Phase name (e.g. "w2", "potential", "gan", "anneal").
    pub phase: &'static str,
    /// Iterations done in this phase.
    pub iteration: usize,
    /// Iterations planned in this phase.
    pub total: usize,
    /// Named current losses / estimates.
    pub losses: Vec<(&'static str, f64)>,
    /// Current penalty weight λ, when there is one.
    pub lambda: Option<f64>,
    /// Latest held-out MMD, when model selection has run.
    pub heldout_mmd: Option<f64>,
}

/// A progress sink: the CLI prints, tests ignore.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&Progress);
