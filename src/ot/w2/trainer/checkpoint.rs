//! Checkpoint and restore of a [`W2Trainer`]: everything the next iteration depends on — f and g,
//! both Adam states, both batch samplers and random streams, λ, the iteration, the selector and the
//! best parameters — so that a run restored at iteration k continues to the same bits as one that was
//! never stopped (the held-out split, workspaces and pool are rebuilt from the data and options).

use super::W2Trainer;
use crate::linalg::Real;
use crate::ot::train::checkpoint::{Reader, Writer};
use crate::ot::train::BatchDraws;
use crate::ot::SavedModel;
use crate::Result;

/// The checkpoint kind of a W2 trainer.
pub const KIND: &str = "checkpoint-w2";

impl<T: Real> W2Trainer<T> {
    /// The training state now (module doc), plus the caller's `extra` entries (options, data
    /// fingerprints). Write it with `io::save_model` (atomic).
    pub fn checkpoint(&self, extra: &[(String, String)]) -> SavedModel<T> {
        let mut w = Writer::new(KIND, self.src.cols());
        w.text("iteration", self.iter);
        w.f64("lambda", self.lambda);
        w.f64("seconds", self.seconds);
        w.tensor("f", self.f.params());
        w.tensor("g", self.g.params());
        w.tensor("best_g", &self.best_params);
        if !self.avg_params.is_empty() {
            w.tensor("avg_g", &self.avg_params);
        }
        w.adam("adam_f", &self.opt_f);
        w.adam("adam_g", &self.opt_g);
        self.draws.write(&mut w);
        w.selector("selector", &self.selector);
        let l = &self.last;
        for (k, v) in [
            ("last.loss_g", l.loss_g),
            ("last.loss_f", l.loss_f),
            ("last.half_w2sq", l.half_w2sq),
            ("last.penalty", l.penalty),
            ("last.fnorm", l.fnorm),
        ] {
            w.f64(k, v);
        }
        w.text("last.iteration", l.iteration);
        for (k, v) in extra {
            w.text(k, v);
        }
        w.saved
    }

    /// Restores a [`W2Trainer::checkpoint`] into this trainer, built from the same data and options.
    pub fn restore(&mut self, saved: &SavedModel<T>) -> Result<()> {
        let r = Reader::new(saved, KIND)?;
        r.check_dim(self.src.cols())?;
        let (nf, ng) = (self.f.n_params(), self.g.n_params());
        self.f.params_mut().copy_from_slice(r.tensor("f", nf)?);
        self.g.params_mut().copy_from_slice(r.tensor("g", ng)?);
        self.best_params.copy_from_slice(r.tensor("best_g", ng)?);
        if !self.avg_params.is_empty() {
            self.avg_params.copy_from_slice(r.tensor("avg_g", ng)?);
        }
        r.adam("adam_f", &mut self.opt_f)?;
        r.adam("adam_g", &mut self.opt_g)?;
        self.draws = BatchDraws::read(&r, self.src.rows(), self.tgt.rows())?;
        self.selector = r.selector("selector")?;
        self.iter = r.parse("iteration")?;
        self.lambda = r.f64("lambda")?;
        self.seconds = r.f64("seconds")?;
        self.last.iteration = r.parse("last.iteration")?;
        self.last.loss_g = r.f64("last.loss_g")?;
        self.last.loss_f = r.f64("last.loss_f")?;
        self.last.half_w2sq = r.f64("last.half_w2sq")?;
        self.last.penalty = r.f64("last.penalty")?;
        self.last.fnorm = r.f64("last.fnorm")?;
        Ok(())
    }
}
