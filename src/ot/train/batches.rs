//! The mini-batch draws of a fit, the same for every trainer: each side (source, target) has its own
//! [`BatchSampler`] (uniform batches of distinct training rows) and its own random stream of the fit's
//! seed (`streams::BATCH_SOURCE`, `streams::BATCH_TARGET`), so one side's batches never depend on how
//! often the other side was drawn. In a checkpoint they are four entries, `rng_source`, `rng_target`,
//! `sampler_source`, `sampler_target`.

use super::checkpoint::{Reader, Writer};
use crate::linalg::Real;
use crate::random::{streams, BatchSampler, Stream};
use crate::Result;

/// The source and target batch draws of one fit.
#[derive(Clone, Debug)]
pub struct BatchDraws {
    source: BatchSampler,
    target: BatchSampler,
    rng_source: Stream,
    rng_target: Stream,
}

impl BatchDraws {
    /// Draws over `n_source` source and `n_target` target training rows, with the streams of `seed`.
    pub fn new(n_source: usize, n_target: usize, seed: u64) -> Self {
        BatchDraws {
            source: BatchSampler::new(n_source),
            target: BatchSampler::new(n_target),
            rng_source: Stream::new(seed, streams::BATCH_SOURCE),
            rng_target: Stream::new(seed, streams::BATCH_TARGET),
        }
    }

    /// `idx` ← the next source batch (distinct row indices).
    pub fn source(&mut self, idx: &mut [usize]) {
        self.source.sample(&mut self.rng_source, idx);
    }

    /// `idx` ← the next target batch (distinct row indices).
    pub fn target(&mut self, idx: &mut [usize]) {
        self.target.sample(&mut self.rng_target, idx);
    }

    /// Writes the four checkpoint entries (module doc).
    pub fn write<T: Real>(&self, w: &mut Writer<T>) {
        w.stream("rng_source", &self.rng_source);
        w.stream("rng_target", &self.rng_target);
        w.sampler("sampler_source", &self.source);
        w.sampler("sampler_target", &self.target);
    }

    /// Reads what [`BatchDraws::write`] wrote, for `n_source` and `n_target` training rows.
    pub fn read<T: Real>(r: &Reader<'_, T>, n_source: usize, n_target: usize) -> Result<Self> {
        Ok(BatchDraws {
            rng_source: r.stream("rng_source")?,
            rng_target: r.stream("rng_target")?,
            source: r.sampler("sampler_source", n_source)?,
            target: r.sampler("sampler_target", n_target)?,
        })
    }
}
