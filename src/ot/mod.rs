//! Optimal transport solvers, sparsity penalties, λ schedules and baselines (SPEC §3).
//!
//! Shared vocabulary of the solvers:
//! - [`TransportMap`]: anything that maps a batch of source points (a fitted W2/W1 model, a baseline);
//! - [`SavedModel`]: the format-neutral content of a model file (the byte format lives in `io`);
//! - [`Progress`]: what a training loop reports to its caller at its progress interval;
//! - [`fit`]: the front door, one `fit` for every method;
//! - [`options`]: the options of `monge fit` (by name, from any [`options::OptionSource`]) → a `Method`;
//! - [`train`]: the training harness (held-out split, selection criterion, selector, divergence guard,
//!   run loop) every iterative solver uses.

pub mod anneal;
pub mod baselines;
pub mod conjugate;
pub mod fit;
pub mod gaussian;
pub mod latent;
pub mod options;
pub mod penalty;
pub mod potentials;
pub mod sinkhorn;
pub mod train;
pub mod w1;
pub mod w2;

use crate::linalg::{Mat, MatRef, Real};
use crate::parallel::Pool;
use crate::Result;

/// A fitted map T: ℝᵈ → ℝᵈ, applied batch-wise.
///
/// # Threads
/// One policy for every map: the caller's thread count is the size of the [`Pool`] it passes to
/// [`TransportMap::transport_on`] (persistent: one pool can serve many calls). The learned maps and the
/// mean shift split the rows with [`map_rows`], one contiguous range per worker, and each row's
/// arithmetic does not depend on its range, so the output has the same bits on every pool size.
pub trait TransportMap<T: Real>: Send + Sync {
    /// Input (and output) dimension d.
    fn dim(&self) -> usize;
    /// T applied to every row of `x` (n × d) → n × d, on the workers of `pool`. Not a hot path: may
    /// allocate (work buffers of a bounded number of rows per worker).
    fn transport_on(&self, x: &Mat<T>, pool: &mut Pool) -> Mat<T>;
    /// [`Self::transport_on`] on the calling thread alone.
    fn transport(&self, x: &Mat<T>) -> Mat<T> {
        self.transport_on(x, &mut Pool::new(1))
    }
    /// The model's content for saving (method name, hyper-parameters, parameter tensors).
    fn to_saved(&self) -> SavedModel<T>;
}

/// Maps the rows of `x` on the workers of `pool` (the one row loop of every learned map): the n rows
/// are cut into one contiguous range of ⌈n/threads⌉ rows per worker (fewer ranges when n is small), each
/// range into chunks of at most `chunk` rows, and `map(state, rows of x, the same rows of the output,
/// row-major)` is called per chunk with a per-worker `state(rows)` (work buffers), made on the worker for
/// its first chunk and again when a chunk's row count differs (a range's last chunk). Memory beyond x
/// and the n × d output is one chunk's state per worker. `map` must give each row bits that do not
/// depend on the chunk it came in; then the result does not depend on the pool's size either.
pub fn map_rows<T: Real, S>(
    x: &Mat<T>,
    pool: &mut Pool,
    chunk: usize,
    state: impl Fn(usize) -> S + Sync,
    map: impl Fn(&mut S, MatRef<'_, T>, &mut [T]) + Sync,
) -> Mat<T> {
    let (n, d) = x.shape();
    let mut out = Mat::zeros(n, d);
    if n == 0 || d == 0 {
        return out;
    }
    let chunk = chunk.clamp(1, n);
    let per = n.div_ceil(pool.threads().min(n));
    let mut ranges: Vec<(usize, &mut [T])> = out
        .as_mut_slice()
        .chunks_mut(per * d)
        .enumerate()
        .map(|(k, rows)| (k * per, rows))
        .collect();
    pool.for_each_mut(&mut ranges, |_, (r0, rows)| {
        let mut work: Option<(usize, S)> = None;
        for (k, dst) in rows.chunks_mut(chunk * d).enumerate() {
            let (c0, m) = (*r0 + k * chunk, dst.len() / d);
            if work.as_ref().map(|w| w.0) != Some(m) {
                work = Some((m, state(m)));
            }
            let (_, st) = work.as_mut().expect("made above");
            map(st, x.view().rows_range(c0, c0 + m), dst);
        }
    });
    out
}

/// The format-neutral content of a model file: enough to rebuild the map bit-exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel<T> {
    /// `"w2"`, `"w1"`, `"sinkhorn"`, `"mean-shift"`, `"identity"` or `"latent"`.
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

/// Checks shared by every `from_saved` (hostile model files): sizes are validated against the values
/// actually present before anything is allocated from them, and hyper-parameters are parsed with bounds.
impl<T: Real> SavedModel<T> {
    /// An [`crate::Error::Model`] with an empty file name (the caller that knows the path fills it in).
    pub fn fail(msg: impl Into<String>) -> crate::Error {
        crate::Error::Model {
            file: String::new(),
            msg: msg.into(),
        }
    }

    /// Total number of values in the tensors present: an upper bound on every size the model can
    /// legitimately need (each width, layer count and parameter count is at most this).
    pub fn n_values(&self) -> usize {
        self.tensors.iter().map(|t| t.2.len()).sum()
    }

    /// Hyper-parameter `key` as a finite number in `lo..=hi`.
    pub fn hyper_f64_in(&self, key: &str, lo: f64, hi: f64) -> Result<f64> {
        let v: f64 = self.hyper_parse(key)?;
        if !v.is_finite() || v < lo || v > hi {
            return Err(Self::fail(format!(
                "hyper-parameter '{key}' = {v} is outside [{lo}, {hi}]"
            )));
        }
        Ok(v)
    }

    /// Hyper-parameter `key` as an integer in `lo..=hi`.
    pub fn hyper_usize_in(&self, key: &str, lo: usize, hi: usize) -> Result<usize> {
        let v: usize = self.hyper_parse(key)?;
        if v < lo || v > hi {
            return Err(Self::fail(format!(
                "hyper-parameter '{key}' = {v} is outside {lo}..={hi}"
            )));
        }
        Ok(v)
    }

    /// Hyper-parameter `key` as a comma-separated list of positive widths (empty text = no layer, when
    /// `allow_empty`). Each width is at most [`Self::n_values`] (a layer of width w has at least w
    /// parameters), so no width read from a file can size an allocation the file does not pay for.
    pub fn hyper_widths(&self, key: &str, allow_empty: bool) -> Result<Vec<usize>> {
        let s = self
            .hyper(key)
            .ok_or_else(|| Self::fail(format!("missing hyper-parameter '{key}'")))?;
        if s.trim().is_empty() && allow_empty {
            return Ok(Vec::new());
        }
        let cap = self.n_values();
        let mut out = Vec::new();
        for part in s.split(',') {
            let w: usize = part
                .trim()
                .parse()
                .map_err(|_| Self::fail(format!("hyper-parameter '{key}': bad width list")))?;
            if w == 0 || w > cap {
                return Err(Self::fail(format!(
                    "hyper-parameter '{key}': width {w} is not in 1..={cap} (the values present)"
                )));
            }
            out.push(w);
        }
        Ok(out)
    }

    /// The tensors by name (one pass; a repeated name is an error), for O(1) look-ups.
    pub fn tensor_index(&self) -> Result<TensorIndex<'_, T>> {
        let mut by_name = std::collections::HashMap::with_capacity(self.tensors.len());
        for (i, (name, _, _)) in self.tensors.iter().enumerate() {
            if by_name.insert(name.as_str(), i).is_some() {
                return Err(Self::fail(format!("tensor '{name}' appears twice")));
            }
        }
        Ok(TensorIndex {
            model: self,
            by_name,
            used: 0,
        })
    }
}

/// Name → tensor look-up over a [`SavedModel`], counting the tensors taken (see [`Self::finish`]).
pub struct TensorIndex<'a, T> {
    model: &'a SavedModel<T>,
    by_name: std::collections::HashMap<&'a str, usize>,
    used: usize,
}

impl<'a, T: Real> TensorIndex<'a, T> {
    /// The values of tensor `name` after checking that it has exactly `shape` (and as many values) and
    /// that every value is finite.
    pub fn shaped(&mut self, name: &str, shape: &[usize]) -> Result<&'a [T]> {
        let &i = self
            .by_name
            .get(name)
            .ok_or_else(|| SavedModel::<T>::fail(format!("missing tensor '{name}'")))?;
        let (_, s, v) = &self.model.tensors[i];
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if s.as_slice() != shape || count != Some(v.len()) {
            return Err(SavedModel::<T>::fail(format!(
                "tensor '{name}' has shape {s:?} ({} values), expected {shape:?}",
                v.len()
            )));
        }
        if let Some(k) = v.iter().position(|x| !x.is_finite()) {
            return Err(SavedModel::<T>::fail(format!(
                "tensor '{name}' has a non-finite value at {k}"
            )));
        }
        self.used += 1;
        Ok(v)
    }

    /// Fails when the model holds a tensor that was never taken (a file from another architecture).
    pub fn finish(&self) -> Result<()> {
        if self.used == self.model.tensors.len() {
            return Ok(());
        }
        Err(SavedModel::<T>::fail(format!(
            "{} unexpected tensor(s) besides the {} the architecture needs",
            self.model.tensors.len() - self.used,
            self.used
        )))
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
        "latent" => Ok(Box::new(latent::LatentMap::from_saved(m)?)),
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
    /// The held-out criterion's name, when model selection runs.
    pub criterion: Option<&'static str>,
    /// Its latest value.
    pub heldout: Option<f64>,
    /// Its best value so far (the model that would be returned).
    pub heldout_best: Option<f64>,
}

/// A progress sink: the CLI prints, tests ignore.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&Progress);
