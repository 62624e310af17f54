//! The pieces of a training checkpoint: a format-neutral [`SavedModel`] (the `io` room writes it
//! atomically and checksummed like a model file) holding every part of a trainer's state — network
//! parameters and optimiser moments as tensors (bit-exact in the training type), counters, random
//! streams (seed, stream id, words drawn: replayed on resume), batch samplers' orders, the selector —
//! as `key = value` entries, floating-point values by their bits. A solver writes what it owns
//! (`W2Trainer::checkpoint`) and restores it into a trainer built from the same data and options.

use super::select::Selector;
use crate::linalg::Real;
use crate::nn::Adam;
use crate::ot::SavedModel;
use crate::random::{BatchSampler, Stream};
use crate::{Error, Result};

fn bad(msg: String) -> Error {
    Error::Model {
        file: String::new(),
        msg: format!("checkpoint: {msg}"),
    }
}

/// Writes entries into a checkpoint.
pub struct Writer<T> {
    /// The checkpoint being written.
    pub saved: SavedModel<T>,
}

impl<T: Real> Writer<T> {
    /// An empty checkpoint of `kind` (e.g. `"checkpoint-w2"`) in dimension `dim`.
    pub fn new(kind: &str, dim: usize) -> Self {
        Writer {
            saved: SavedModel {
                method: kind.into(),
                dim,
                hyper: Vec::new(),
                tensors: Vec::new(),
            },
        }
    }
    /// A text entry.
    pub fn text(&mut self, key: &str, v: impl ToString) {
        self.saved.hyper.push((key.into(), v.to_string()));
    }
    /// An f64 by its bits (exact, NaN included).
    pub fn f64(&mut self, key: &str, v: f64) {
        self.text(key, format!("{:016x}", v.to_bits()));
    }
    /// A tensor of the training type.
    pub fn tensor(&mut self, key: &str, v: &[T]) {
        self.saved
            .tensors
            .push((key.into(), vec![v.len()], v.to_vec()));
    }
    /// A random stream's position.
    pub fn stream(&mut self, key: &str, s: &Stream) {
        let (seed, id, draws, spare) = s.position();
        let spare = spare.map_or("none".to_string(), |z| format!("{:016x}", z.to_bits()));
        self.text(key, format!("{seed}:{id}:{draws}:{spare}"));
    }
    /// A batch sampler's order.
    pub fn sampler(&mut self, key: &str, b: &BatchSampler) {
        let v: Vec<String> = b.order().iter().map(|i| i.to_string()).collect();
        self.text(key, v.join(","));
    }
    /// An Adam optimiser's state.
    pub fn adam(&mut self, key: &str, a: &Adam<T>) {
        let (m, v, t) = a.state();
        self.tensor(&format!("{key}.m"), m);
        self.tensor(&format!("{key}.v"), v);
        self.text(&format!("{key}.t"), t);
    }
    /// A selector's state.
    pub fn selector(&mut self, key: &str, s: &Selector) {
        self.text(&format!("{key}.patience"), s.patience());
        self.text(&format!("{key}.since_best"), s.since_best());
        let best = s.best().map_or("none".to_string(), |(i, v)| {
            format!("{i}:{:016x}", v.to_bits())
        });
        self.text(&format!("{key}.best"), best);
        let evals: Vec<String> = s
            .evals()
            .iter()
            .map(|(i, v)| format!("{i}:{:016x}", v.to_bits()))
            .collect();
        self.text(&format!("{key}.evals"), evals.join(","));
    }
}

/// Reads entries from a checkpoint (every missing or malformed entry is an `Error::Model`).
pub struct Reader<'a, T> {
    saved: &'a SavedModel<T>,
}

fn pair(s: &str) -> Option<(usize, f64)> {
    let (i, v) = s.split_once(':')?;
    Some((
        i.parse().ok()?,
        f64::from_bits(u64::from_str_radix(v, 16).ok()?),
    ))
}

impl<'a, T: Real> Reader<'a, T> {
    /// Reads `saved`, which must be of `kind`.
    pub fn new(saved: &'a SavedModel<T>, kind: &str) -> Result<Self> {
        if saved.method != kind {
            return Err(bad(format!(
                "expected a '{kind}', found '{}'",
                saved.method
            )));
        }
        Ok(Reader { saved })
    }
    /// Checks that the checkpoint is for `dim` features (a trainer built from other data refuses it).
    pub fn check_dim(&self, dim: usize) -> Result<()> {
        if self.saved.dim != dim {
            return Err(Error::Shape(format!(
                "the checkpoint is for d = {}, the data have {dim} features",
                self.saved.dim
            )));
        }
        Ok(())
    }
    /// A text entry.
    pub fn text(&self, key: &str) -> Result<&'a str> {
        self.saved
            .hyper(key)
            .ok_or_else(|| bad(format!("missing entry '{key}'")))
    }
    /// A parsed entry.
    pub fn parse<V: std::str::FromStr>(&self, key: &str) -> Result<V> {
        let s = self.text(key)?;
        s.parse()
            .map_err(|_| bad(format!("entry '{key}' = '{s}' does not parse")))
    }
    /// An f64 written by [`Writer::f64`].
    pub fn f64(&self, key: &str) -> Result<f64> {
        let s = self.text(key)?;
        u64::from_str_radix(s, 16)
            .map(f64::from_bits)
            .map_err(|_| bad(format!("entry '{key}' is not an f64's bits")))
    }
    /// A tensor of exactly `len` values.
    pub fn tensor(&self, key: &str, len: usize) -> Result<&'a [T]> {
        let (_, v) = self
            .saved
            .tensor(key)
            .ok_or_else(|| bad(format!("missing tensor '{key}'")))?;
        if v.len() != len {
            return Err(bad(format!(
                "tensor '{key}' has {} values, the trainer needs {len}",
                v.len()
            )));
        }
        Ok(v)
    }
    /// A stream written by [`Writer::stream`].
    pub fn stream(&self, key: &str) -> Result<Stream> {
        let s = self.text(key)?;
        let p: Vec<&str> = s.split(':').collect();
        let err = || bad(format!("entry '{key}' is not a stream position"));
        if p.len() != 4 {
            return Err(err());
        }
        let spare = if p[3] == "none" {
            None
        } else {
            Some(f64::from_bits(
                u64::from_str_radix(p[3], 16).map_err(|_| err())?,
            ))
        };
        Ok(Stream::at(
            p[0].parse().map_err(|_| err())?,
            p[1].parse().map_err(|_| err())?,
            p[2].parse().map_err(|_| err())?,
            spare,
        ))
    }
    /// A sampler written by [`Writer::sampler`], over `len` indices.
    pub fn sampler(&self, key: &str, len: usize) -> Result<BatchSampler> {
        let s = self.text(key)?;
        let perm: Vec<usize> = if s.is_empty() {
            Vec::new()
        } else {
            s.split(',')
                .map(|x| x.parse())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad(format!("entry '{key}' is not an index list")))?
        };
        if perm.len() != len {
            return Err(bad(format!(
                "sampler '{key}' covers {} rows, not {len}",
                perm.len()
            )));
        }
        BatchSampler::with_order(perm).ok_or_else(|| bad(format!("'{key}' is not a permutation")))
    }
    /// Restores an Adam state written by [`Writer::adam`] into `a`.
    pub fn adam(&self, key: &str, a: &mut Adam<T>) -> Result<()> {
        let n = a.state().0.len();
        let m = self.tensor(&format!("{key}.m"), n)?;
        let v = self.tensor(&format!("{key}.v"), n)?;
        let t = self.parse(&format!("{key}.t"))?;
        a.restore(m, v, t);
        Ok(())
    }
    /// A selector written by [`Writer::selector`].
    pub fn selector(&self, key: &str) -> Result<Selector> {
        let patience = self.parse(&format!("{key}.patience"))?;
        let since = self.parse(&format!("{key}.since_best"))?;
        let b = self.text(&format!("{key}.best"))?;
        let err = || bad(format!("entry '{key}' is not a selector"));
        let best = if b == "none" {
            None
        } else {
            Some(pair(b).ok_or_else(err)?)
        };
        let e = self.text(&format!("{key}.evals"))?;
        let evals = if e.is_empty() {
            Vec::new()
        } else {
            e.split(',')
                .map(|s| pair(s).ok_or_else(err))
                .collect::<Result<Vec<_>>>()?
        };
        Ok(Selector::restore(patience, best, evals, since))
    }
}
