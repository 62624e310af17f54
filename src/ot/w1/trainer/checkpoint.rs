//! Checkpoint and restore of a [`W1Trainer`]: the three networks, their Adam states, both batch
//! samplers and random streams, both phases' iterations, the selector and the best step size. Phase 2's
//! directions and export Q are recomputed from the restored potential (deterministic), so a run restored
//! at iteration k continues to the same bits as one never stopped.

use super::W1Trainer;
use crate::linalg::Real;
use crate::ot::train::checkpoint::{Reader, Writer};
use crate::ot::train::BatchDraws;
use crate::ot::SavedModel;
use crate::Result;

/// The checkpoint kind of a W1 trainer.
pub const KIND: &str = "checkpoint-w1";

impl<T: Real> W1Trainer<T> {
    /// The training state now (module doc), plus the caller's `extra` entries.
    pub fn checkpoint(&self, extra: &[(String, String)]) -> SavedModel<T> {
        let mut w = Writer::new(KIND, self.dim);
        w.text("potential_iteration", self.it_f);
        w.text("gan_iteration", self.it_g);
        w.f64("last_objective", self.last_objective);
        w.f64("last_disc", self.last_losses.0);
        w.f64("last_gen", self.last_losses.1);
        w.tensor("potential", self.potential.params());
        w.tensor("step_size", self.step.params());
        w.tensor("discriminator", self.disc.params());
        w.tensor("best_step_size", &self.best_params);
        w.adam("adam_potential", &self.opt_f);
        w.adam("adam_step_size", &self.opt_eta);
        w.adam("adam_discriminator", &self.opt_d);
        self.draws.write(&mut w);
        w.selector("selector", &self.selector);
        for (k, v) in extra {
            w.text(k, v);
        }
        w.saved
    }

    /// Restores a [`W1Trainer::checkpoint`] into this trainer, built from the same data and options.
    pub fn restore(&mut self, saved: &SavedModel<T>) -> Result<()> {
        let r = Reader::new(saved, KIND)?;
        r.check_dim(self.dim)?;
        let (np, ns, nd) = (
            self.potential.n_params(),
            self.step.n_params(),
            self.disc.n_params(),
        );
        self.potential
            .params_mut()
            .copy_from_slice(r.tensor("potential", np)?);
        self.step
            .params_mut()
            .copy_from_slice(r.tensor("step_size", ns)?);
        self.disc
            .params_mut()
            .copy_from_slice(r.tensor("discriminator", nd)?);
        self.best_params
            .copy_from_slice(r.tensor("best_step_size", ns)?);
        r.adam("adam_potential", &mut self.opt_f)?;
        r.adam("adam_step_size", &mut self.opt_eta)?;
        r.adam("adam_discriminator", &mut self.opt_d)?;
        self.draws = BatchDraws::read(&r, self.xs.rows(), self.ys.rows())?;
        self.selector = r.selector("selector")?;
        self.it_f = r.parse("potential_iteration")?;
        self.it_g = r.parse("gan_iteration")?;
        self.last_objective = r.f64("last_objective")?;
        self.last_losses = (r.f64("last_disc")?, r.f64("last_gen")?);
        // phase 2's directions come from the restored potential when phase 2 runs
        self.dirs = None;
        self.dirs_val = None;
        self.eval_ws = None;
        Ok(())
    }
}
