//! The W1 trainer: state, the two phases' iterations, held-out evaluation and [`fit`] (module doc of
//! [`crate::ot::w1`]); the run loop, selector, criterion and guard are the harness's
//! ([`crate::ot::train`]).

use std::time::Instant;

use super::{normalise_rows, GanShard, GanWork, W1Config, W1Map, W1Report};
use crate::linalg::{gather_rows, Mat, Real};
use crate::nn::lipschitz::{LipschitzNet, LipschitzShards};
use crate::nn::mlp::{Mlp, MlpWork};
use crate::nn::{Adam, LrSchedule};
use crate::ot::train::{
    evaluate_final, observe, run_phase, BatchDraws, Control, Guard, Heldout, HeldoutEval,
    HeldoutSets, Losses, Offer, Phase, Schedule, Selector, Stopped,
};
use crate::ot::ProgressFn;
use crate::parallel::Pool;
use crate::random::{streams, Stream};
use crate::{Error, Result};

mod checkpoint;

/// The W1 solver as a step-able object (phase 1 then phase 2); [`fit`] drives it.
pub struct W1Trainer<T: Real> {
    cfg: W1Config,
    dim: usize,
    /// The mini-batch size used: `min(cfg.batch, training cells of either side)`.
    batch: usize,
    xs: Mat<T>,
    ys: Mat<T>,
    heldout: Option<HeldoutEval<T>>,
    potential: LipschitzNet<T>,
    step: Mlp<T>,
    disc: Mlp<T>,
    // phase 1
    opt_f: Adam<T>,
    grad_f: Vec<T>,
    lip_ws: LipschitzShards<T>,
    /// The workers of both phases' batch splits (shard k on worker k; one thread = inline).
    pool: Pool,
    xy: Mat<T>,
    seeds_f: Vec<T>,
    draws: BatchDraws,
    idx_x: Vec<usize>,
    idx_y: Vec<usize>,
    it_f: usize,
    last_objective: f64,
    // phase 2
    dirs: Option<Mat<T>>,
    dirs_val: Option<Mat<T>>,
    grad_fraction: f64,
    gans: Vec<GanShard<T>>,
    xb: Mat<T>,
    db: Mat<T>,
    yb: Mat<T>,
    opt_eta: Adam<T>,
    opt_d: Adam<T>,
    grad_eta: Vec<T>,
    grad_d: Vec<T>,
    it_g: usize,
    last_losses: (f64, f64),
    eval_ws: Option<(MlpWork<T>, Mat<T>)>,
    best_params: Vec<T>,
    selector: Selector,
    /// Phase 1 has no held-out evaluation: an empty selector for the run loop.
    no_selection: Selector,
    guard: Guard,
    report: W1Report,
}

impl<T: Real> W1Trainer<T> {
    /// Validates the inputs and options, splits off the held-out cells (`cfg.heldout_frac`, SPEC §7.7)
    /// and builds every network, optimiser and workspace.
    pub fn new(source: &Mat<T>, target: &Mat<T>, cfg: &W1Config) -> Result<Self> {
        Self::with_heldout(source, target, &Heldout::fraction(cfg.heldout_frac), cfg)
    }

    /// As [`W1Trainer::new`], with the held-out cells given by `heldout`.
    pub fn with_heldout(
        source: &Mat<T>,
        target: &Mat<T>,
        heldout: &Heldout<T>,
        cfg: &W1Config,
    ) -> Result<Self> {
        crate::ot::train::split::check_pair(source, target)?;
        let dim = source.cols();
        if cfg.batch == 0 {
            return Err(Error::Usage("batch size must be positive".into()));
        }
        if cfg.threads == 0 {
            return Err(Error::Usage("thread count must be positive".into()));
        }
        for (name, v) in [
            ("potential learning rate", cfg.potential_lr),
            ("potential final learning rate", cfg.potential_lr_min),
            ("GAN learning rate", cfg.gan_lr),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Usage(format!("{name} must be a finite value ≥ 0")));
            }
        }
        if !(0.0..1.0).contains(&cfg.heldout_frac) {
            return Err(Error::Usage(format!(
                "held-out fraction must lie in [0, 1), got {}",
                cfg.heldout_frac
            )));
        }
        let sets = HeldoutSets::new(source, target, heldout, cfg.seed)?;
        let xs = sets.train_source.clone();
        let ys = sets.train_target.clone();
        let mut rng_a = Stream::new(cfg.seed, streams::INIT_A);
        let potential = LipschitzNet::new(dim, cfg.potential.clone(), &mut rng_a);
        potential.validate()?;
        let mut rng_b = Stream::new(cfg.seed, streams::INIT_B);
        let step = Mlp::new(dim, cfg.step_size.clone(), &mut rng_b);
        let mut rng_c = Stream::new(cfg.seed, streams::INIT_C);
        let disc = Mlp::new(dim, cfg.discriminator.clone(), &mut rng_c);
        let b = cfg.batch.min(xs.rows()).min(ys.rows());
        let inv_b = T::ONE / T::from_usize(b);
        let seeds_f = (0..2 * b)
            .map(|i| if i < b { -inv_b } else { inv_b })
            .collect();
        let t = cfg.threads.min(b);
        let gans = (0..t)
            .map(|k| {
                let (r0, r1) = (k * b / t, (k + 1) * b / t);
                GanShard {
                    r0,
                    r1,
                    gw: GanWork::shard_of(&step, &disc, r1 - r0, b),
                    gd: vec![T::ZERO; disc.n_params()],
                    ge: vec![T::ZERO; step.n_params()],
                    ld: T::ZERO,
                    lg: T::ZERO,
                }
            })
            .collect();
        let lip_ws = potential.shards(2 * b, cfg.threads);
        // as many workers as phase-1 shards (≥ the phase-2 shards); helpers are spawned here, once
        let mut pool = Pool::new(lip_ws.len());
        let held = HeldoutEval::new(&sets, cfg.criterion, cfg.seed, &mut pool);
        Ok(W1Trainer {
            dim,
            batch: b,
            heldout: held,
            best_params: step.params().to_vec(),
            selector: Selector::new(cfg.patience),
            no_selection: Selector::new(0),
            guard: Guard::new(&[source, target]),
            report: W1Report {
                batch: b,
                ..W1Report::default()
            },
            opt_f: Adam::new(potential.n_params(), cfg.potential_adam),
            grad_f: vec![T::ZERO; potential.n_params()],
            lip_ws,
            pool,
            xy: Mat::zeros(2 * b, dim),
            seeds_f,
            draws: BatchDraws::new(xs.rows(), ys.rows(), cfg.seed),
            idx_x: vec![0; b],
            idx_y: vec![0; b],
            it_f: 0,
            last_objective: f64::NAN,
            dirs: None,
            dirs_val: None,
            grad_fraction: f64::NAN,
            gans,
            xb: Mat::zeros(b, dim),
            db: Mat::zeros(b, dim),
            yb: Mat::zeros(b, dim),
            opt_eta: Adam::new(step.n_params(), cfg.gan_adam),
            opt_d: Adam::new(disc.n_params(), cfg.gan_adam),
            grad_eta: vec![T::ZERO; step.n_params()],
            grad_d: vec![T::ZERO; disc.n_params()],
            it_g: 0,
            last_losses: (f64::NAN, f64::NAN),
            eval_ws: None,
            xs,
            ys,
            potential,
            step,
            disc,
            cfg: cfg.clone(),
        })
    }

    /// The potential network.
    pub fn potential(&self) -> &LipschitzNet<T> {
        &self.potential
    }

    /// Phase-1 iterations done.
    pub fn potential_iteration(&self) -> usize {
        self.it_f
    }

    /// One phase-1 step; returns the batch's dual objective `mean f(x) − mean f(y)` (before the update).
    pub fn potential_step(&mut self) -> Result<f64> {
        let b = self.batch;
        self.draws.source(&mut self.idx_x);
        self.draws.target(&mut self.idx_y);
        for (r, &i) in self.idx_x.iter().enumerate() {
            self.xy.row_mut(r).copy_from_slice(self.xs.row(i));
        }
        for (r, &i) in self.idx_y.iter().enumerate() {
            self.xy.row_mut(b + r).copy_from_slice(self.ys.row(i));
        }
        self.potential
            .orthonormalise_on(false, Some(&mut self.pool));
        self.grad_f.iter_mut().for_each(|g| *g = T::ZERO);
        let loss = self.potential.param_grad_of_value_sharded(
            self.xy.view(),
            &self.seeds_f,
            &mut self.grad_f,
            &mut self.lip_ws,
            &mut self.pool,
        );
        let it = self.it_f + 1;
        self.guard.loss(loss.to_f64(), "the potential loss", it)?;
        self.guard
            .grad(&self.grad_f, "the potential gradient", it)?;
        self.it_f = it;
        let sched = LrSchedule::Cosine {
            lr0: self.cfg.potential_lr,
            lr_min: self.cfg.potential_lr_min,
            total: self.cfg.potential_iters,
        };
        let lr = sched.at(self.it_f - 1);
        self.opt_f
            .step(self.potential.params_mut(), &self.grad_f, lr);
        self.last_objective = -loss.to_f64();
        Ok(self.last_objective)
    }

    /// Ends phase 1: export Q's, the directions d(x) of every training (and held-out) source point.
    /// Called by [`Self::gan_step`] on its first use.
    pub fn start_gan(&mut self) {
        self.potential.orthonormalise(true);
        let mut g = self.potential.gradients(&self.xs);
        self.grad_fraction = normalise_rows(&mut g);
        self.dirs = Some(g);
        if let Some(h) = &self.heldout {
            let xv = h.source();
            let mut gv = self.potential.gradients(xv);
            normalise_rows(&mut gv);
            self.dirs_val = Some(gv);
            self.eval_ws = Some((self.step.work(xv.rows()), Mat::zeros(xv.rows(), self.dim)));
        }
    }

    /// Fraction of training source points with `‖∇f‖ ∈ [0.9, 1 + 1e-6]` (after [`Self::start_gan`]).
    pub fn grad_norm_fraction(&self) -> f64 {
        self.grad_fraction
    }

    /// One phase-2 iteration (discriminator step, then generator step); returns `(L_D, L_G)`.
    pub fn gan_step(&mut self) -> Result<(f64, f64)> {
        if self.dirs.is_none() {
            self.start_gan();
        }
        let dirs = self.dirs.as_ref().expect("directions");
        self.draws.source(&mut self.idx_x);
        self.draws.target(&mut self.idx_y);
        gather_rows(self.xs.view(), &self.idx_x, &mut self.xb);
        gather_rows(dirs.view(), &self.idx_x, &mut self.db);
        gather_rows(self.ys.view(), &self.idx_y, &mut self.yb);
        let pos = self.cfg.positive;
        // 1. discriminator: each shard maps its rows and adds its share of ∂L_D/∂θ_D
        {
            let (step, disc) = (&self.step, &self.disc);
            let (xb, db, yb) = (self.xb.view(), self.db.view(), self.yb.view());
            self.pool.for_each_mut(&mut self.gans, |_, sh| {
                let (r0, r1) = (sh.r0, sh.r1);
                sh.gw.transport(
                    step,
                    xb.rows_range(r0, r1),
                    db.rows_range(r0, r1),
                    yb.rows_range(r0, r1),
                    pos,
                );
                sh.gd.iter_mut().for_each(|g| *g = T::ZERO);
                sh.ld = sh.gw.discriminator_loss(disc, Some(&mut sh.gd));
            });
        }
        let mut ld = T::ZERO;
        self.grad_d.iter_mut().for_each(|g| *g = T::ZERO);
        for sh in &self.gans {
            ld += sh.ld;
            crate::linalg::ops::axpy(T::ONE, &sh.gd, &mut self.grad_d);
        }
        let it = self.it_g + 1;
        self.guard.loss(ld.to_f64(), "the discriminator loss", it)?;
        self.guard
            .grad(&self.grad_d, "the discriminator gradient", it)?;
        self.opt_d
            .step(self.disc.params_mut(), &self.grad_d, self.cfg.gan_lr);
        // 2. generator, with the updated D
        {
            let (step, disc) = (&self.step, &self.disc);
            let (xb, db) = (self.xb.view(), self.db.view());
            self.pool.for_each_mut(&mut self.gans, |_, sh| {
                let (r0, r1) = (sh.r0, sh.r1);
                sh.ge.iter_mut().for_each(|g| *g = T::ZERO);
                sh.lg = sh.gw.generator_loss(
                    disc,
                    step,
                    xb.rows_range(r0, r1),
                    db.rows_range(r0, r1),
                    pos,
                    Some(&mut sh.ge),
                );
            });
        }
        let mut lg = T::ZERO;
        self.grad_eta.iter_mut().for_each(|g| *g = T::ZERO);
        for sh in &self.gans {
            lg += sh.lg;
            crate::linalg::ops::axpy(T::ONE, &sh.ge, &mut self.grad_eta);
        }
        self.guard.loss(lg.to_f64(), "the generator loss", it)?;
        self.guard
            .grad(&self.grad_eta, "the step-size gradient", it)?;
        self.opt_eta
            .step(self.step.params_mut(), &self.grad_eta, self.cfg.gan_lr);
        self.it_g = it;
        self.last_losses = (ld.to_f64(), lg.to_f64());
        Ok(self.last_losses)
    }

    /// `T(x_held)` under the current step size, into the evaluation buffer (after [`Self::start_gan`]).
    fn map_heldout(&mut self) -> bool {
        if self.dirs.is_none() {
            self.start_gan();
        }
        let (Some(h), Some(dv), Some((ws, tv))) =
            (&self.heldout, &self.dirs_val, self.eval_ws.as_mut())
        else {
            return false;
        };
        let xv = h.source();
        self.step.forward(xv.view(), ws);
        let eta = ws.outputs();
        for (i, &e) in eta.iter().enumerate() {
            let (xr, dr) = (xv.row(i), dv.row(i));
            for ((t, &x), &d) in tv.row_mut(i).iter_mut().zip(xr).zip(dr) {
                let v = x - e * d;
                *t = if self.cfg.positive { v.max(T::ZERO) } else { v };
            }
        }
        true
    }

    /// Held-out criterion of the current map (None without held-out cells), offered to the selector;
    /// the step size is kept when it is the new best (never for a non-finite value).
    pub fn evaluate(&mut self) -> Option<f64> {
        if !self.map_heldout() {
            return None;
        }
        let h = self.heldout.as_ref()?;
        let (_, tv) = self.eval_ws.as_ref()?;
        let m = h.eval(tv.view(), &mut self.pool);
        if self.selector.offer(self.it_g, m) == Offer::Best {
            self.best_params.copy_from_slice(self.step.params());
        }
        Some(m)
    }

    /// The dual objective `mean f(x) − mean f(y)` over the training sets (current cached Q).
    fn full_objective(&mut self) -> f64 {
        if !self.potential.has_q() {
            self.potential.orthonormalise(true);
        }
        let fx = self.potential.values(&self.xs);
        let fy = self.potential.values(&self.ys);
        let mx = fx.iter().map(|v| v.to_f64()).sum::<f64>() / fx.len() as f64;
        let my = fy.iter().map(|v| v.to_f64()).sum::<f64>() / fy.len() as f64;
        mx - my
    }

    /// Phase-2 iterations done.
    pub fn gan_iteration(&self) -> usize {
        self.it_g
    }

    /// The mini-batch size in use.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The selector of phase 2 (evaluations, best so far).
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// Whether a best model from a held-out evaluation exists.
    pub fn has_best(&self) -> bool {
        self.selector.best().is_some()
    }

    /// Runs phase 1 then phase 2 to their caps (phase 2 may stop early), through the harness's run loop;
    /// then the held-out report. Returns why it stopped and the error of a divergence.
    pub fn run_all(&mut self, progress: Control<'_>) -> (Stopped, Option<Error>) {
        let total = self.cfg.potential_iters + self.cfg.gan_iters;
        let (stopped, err) = self.run_segment(total, progress);
        self.finalize(stopped);
        (stopped, err)
    }

    /// Iterations done in all (phase 1 then phase 2).
    pub fn iterations(&self) -> usize {
        self.it_f + self.it_g
    }

    /// One segment of [`W1Trainer::run_all`]: up to `cap` iterations in all (phase 1's first), without
    /// the final evaluation and report, so that segments (e.g. between checkpoints) followed by
    /// [`W1Trainer::finalize`] train and select exactly as one uninterrupted run.
    pub fn run_segment(&mut self, cap: usize, progress: Control<'_>) -> (Stopped, Option<Error>) {
        let t0 = Instant::now();
        let sched1 = Schedule::new(
            self.cfg.potential_iters.min(cap),
            0,
            self.cfg.progress_every,
        );
        let (mut stopped, mut err) = run_phase(&mut PotentialPhase(self), &sched1, progress);
        self.report.seconds_potential += t0.elapsed().as_secs_f64();
        if stopped == Stopped::Cap && self.it_f == self.cfg.potential_iters {
            if self.dirs.is_none() {
                self.start_gan();
                self.report.grad_norm_fraction = self.grad_fraction;
                self.report.w1_estimate = self.full_objective();
            }
            let t1 = Instant::now();
            let cap2 = (self.cfg.gan_iters).min(cap.saturating_sub(self.cfg.potential_iters));
            let eval_every = self.heldout.as_ref().map_or(0, |_| self.cfg.eval_every);
            let sched2 = Schedule::new(cap2, eval_every, self.cfg.progress_every);
            (stopped, err) = run_phase(self, &sched2, progress);
            self.report.seconds_gan += t1.elapsed().as_secs_f64();
        }
        self.report.stopped = stopped;
        (stopped, err)
    }

    /// Ends a run that stopped with `stopped`: the final phase-2 iterate is evaluated when the run ended
    /// at the cap or by patience and it was not evaluated yet, then the held-out report.
    pub fn finalize(&mut self, stopped: Stopped) {
        self.report.stopped = stopped;
        if self.heldout.is_some() {
            evaluate_final(self, stopped, self.cfg.eval_every);
        }
        self.finish_heldout();
    }

    fn finish_heldout(&mut self) {
        if self.heldout.is_none() {
            return;
        }
        let (best_iteration, map_value) = match self.selector.best() {
            Some(b) => b,
            None => {
                if !self.map_heldout() {
                    return;
                }
                let h = self.heldout.as_ref().expect("held-out cells");
                let (_, tv) = self.eval_ws.as_ref().expect("evaluation buffer");
                (self.it_g, h.eval(tv.view(), &mut self.pool))
            }
        };
        let h = self.heldout.as_ref().expect("held-out cells");
        self.report.heldout = Some(h.report(best_iteration, map_value, &mut self.pool));
    }

    /// The report so far.
    pub fn report(&self) -> W1Report {
        W1Report {
            potential_iters: self.it_f,
            gan_iters: self.it_g,
            potential_objective: self.last_objective,
            disc_loss: self.last_losses.0,
            gen_loss: self.last_losses.1,
            best_heldout: self.selector.best().map(|(it, m)| (m, it)),
            evals: self.selector.evals().to_vec(),
            ..self.report.clone()
        }
    }

    /// The selected map (best held-out step size, or the current one without selection), with the
    /// export Q cached.
    pub fn best_map(&self) -> W1Map<T> {
        let mut potential = self.potential.clone();
        potential.orthonormalise(true);
        let mut step = self.step.clone();
        if self.selector.best().is_some() {
            step.params_mut().copy_from_slice(&self.best_params);
        }
        W1Map {
            potential,
            step,
            positive: self.cfg.positive,
        }
    }

    /// Finishes: restores the best step size (model selection), caches the export Q, returns the map.
    pub fn into_map(mut self) -> W1Map<T> {
        if self.selector.best().is_some() {
            self.step.params_mut().copy_from_slice(&self.best_params);
        }
        self.potential.orthonormalise(true);
        W1Map {
            potential: self.potential,
            step: self.step,
            positive: self.cfg.positive,
        }
    }
}

/// Phase 1 of a [`W1Trainer`] as a [`Phase`] of the run loop.
struct PotentialPhase<'a, T: Real>(&'a mut W1Trainer<T>);

impl<T: Real> Phase for PotentialPhase<'_, T> {
    fn name(&self) -> &'static str {
        "potential"
    }
    fn iteration(&self) -> usize {
        self.0.it_f
    }
    fn step(&mut self) -> Result<Losses> {
        let obj = self.0.potential_step()?;
        Ok(Losses {
            names: &["dual"],
            values: [obj, 0.0, 0.0, 0.0],
        })
    }
    fn evaluate(&mut self) -> Option<f64> {
        None
    }
    #[allow(clippy::misnamed_getters)] // phase 1 has no selection: the empty selector is right
    fn selector(&self) -> &Selector {
        &self.0.no_selection
    }
    fn criterion(&self) -> Option<&'static str> {
        None
    }
}

impl<T: Real> Phase for W1Trainer<T> {
    fn name(&self) -> &'static str {
        "gan"
    }
    fn iteration(&self) -> usize {
        self.it_g
    }
    fn step(&mut self) -> Result<Losses> {
        let (ld, lg) = self.gan_step()?;
        Ok(Losses {
            names: &["disc", "gen"],
            values: [ld, lg, 0.0, 0.0],
        })
    }
    fn evaluate(&mut self) -> Option<f64> {
        W1Trainer::evaluate(self)
    }
    fn selector(&self) -> &Selector {
        &self.selector
    }
    fn criterion(&self) -> Option<&'static str> {
        self.heldout.as_ref().map(|_| self.cfg.criterion.name())
    }
}

/// Fits the W1 map: phase 1 (potential) then phase 2 (step size by a GAN, early stopping on the held-out
/// criterion), reporting progress every `cfg.progress_every` iterations. Errors: typed input/option
/// errors, or [`Error::Diverged`] naming the phase iteration where a loss or gradient stopped being
/// finite (use [`W1Trainer::run_all`] to keep the best map then).
pub fn fit<T: Real>(
    source: &Mat<T>,
    target: &Mat<T>,
    cfg: &W1Config,
    progress: ProgressFn,
) -> Result<(W1Map<T>, W1Report)> {
    let mut tr = W1Trainer::new(source, target, cfg)?;
    let (_, err) = tr.run_all(&mut observe(progress));
    if let Some(e) = err {
        return Err(e);
    }
    let rep = tr.report();
    Ok((tr.into_map(), rep))
}
