//! Wasserstein-1 neural OT solver ([W1], w1ot; SPEC §3.4, §7.6).
//!
//! # Phase 1 — the Kantorovich potential
//! Maximise `mean_x f(x) − mean_y f(y)` over the 1-Lipschitz [`LipschitzNet`] f, i.e. minimise
//! `L_f = mean_y f(y) − mean_x f(x)`: one stacked batch `[x; y]` (2B rows) with per-sample seeds
//! `−1/B` (source) and `+1/B` (target) gives `∂L_f/∂θ` by [`LipschitzNet::param_grad_of_value`].
//! Adam with betas (0.5, 0.5), lr 1e-2 cosine-annealed to 1e-4 over the phase, 10 000 iterations, batch 256.
//!
//! # Phase 2 — the step size by a GAN, f frozen
//! At the start the potential's Q's are recomputed with the export orthonormaliser and the directions
//! `d(x) = ∇f(x) / (‖∇f(x)‖ + 1e-6)` of every training source point are computed once (detached). Then
//! `T(x) = x − η(x)·d(x)` (optionally `relu(T)` with `positive`), and per iteration, as w1ot:
//! 1. discriminator step on `L_D = mean_y softplus(−D(y)) + mean_x softplus(D(T(x)))`
//!    (`= −mean log σ(D(y)) − mean log(1 − σ(D(T(x))))`, logit form), T held fixed;
//! 2. generator step with the updated D on `L_G = mean_x softplus(−D(T(x)))` (`= −mean log σ(D(T(x)))`).
//!
//! Gradient of `L_G` with respect to η's parameters (step by step; `l_i = D(T_i)`):
//! - G1. `∂L_G/∂l_i = −σ(−l_i)/B` (see [`crate::nn::mlp::bce_real_grad`]);
//! - G2. `T̄_i = ∂L_G/∂T_i` = the input gradient of D with those seeds ([`Mlp::backward`]);
//! - G3. with `positive`, `T_i = relu(T̃_i)`: `T̃̄_ij = T̄_ij·[T̃_ij > 0]`;
//! - G4. `T̃_i = x_i − η_i d_i` with d detached: `η̄_i = −⟨T̃̄_i, d_i⟩`;
//! - G5. η's parameter gradient by [`Mlp::backward`] with output seeds `η̄`.
//!
//! `∂L_D/∂θ_D` is D's parameter gradient on the stacked batch `[y; T]` with seeds `−σ(−l)/B` on the y rows
//! and `σ(l)/B` on the T rows. Both phase-2 optimisers: Adam lr 1e-4, betas (0.9, 0.999).
//!
//! # Model selection
//! With `eval_every > 0`, a held-out part of each set (`heldout_frac`, w1ot's 10% validation split, drawn
//! with the `SPLIT` stream) is kept out of training; every `eval_every` phase-2 iterations the MMD
//! (training bandwidths, [`crate::metrics::MMD_GAMMAS_TRAIN`]) between `T(x_held)` and `y_held` is measured
//! and the step-size parameters with the lowest value are kept.
//!
//! # Determinism, threads and allocation
//! Every random draw comes from a stream of the seed; workspaces are sized before the loops, so an
//! iteration allocates nothing (checked by tests/alloc.rs: gemm's packing buffer is each thread's own,
//! sized at its first product; only the `matrixmultiply` fallback for CPUs without AVX2 allocates one
//! per call). With `threads > 1` the phase-1 batch is split into that many
//! row ranges, run on the trainer's [`crate::parallel::Pool`] (built once in [`W1Trainer::new`]; its
//! helper threads are woken per step, never spawned per step) and reduced in a fixed order
//! ([`LipschitzNet::param_grad_of_value_sharded`]); the per-layer orthonormalisations before and after
//! it are spread over the same pool, one layer per worker ([`LipschitzNet::orthonormalise_on`]); in phase 2 each row range maps its rows and computes
//! its share of both losses' gradients ([`GanWork::shard_of`]) on its own worker of the same pool, and
//! the shares are added in range order. Same seed and thread count ⇒ bit-identical model.

use std::time::Instant;

use crate::linalg::{gather_rows, Mat, MatRef, Real};
use crate::nn::lipschitz::{LipschitzConfig, LipschitzNet, LipschitzShards, Orthonormaliser};
use crate::nn::mlp::{bce_fake, bce_fake_grad, bce_real, bce_real_grad, Mlp, MlpConfig, MlpWork};
use crate::nn::{Adam, AdamConfig, LrSchedule};
use crate::ot::{Progress, ProgressFn, SavedModel, TransportMap};
use crate::parallel::Pool;
use crate::random::{streams, BatchSampler, Stream};
use crate::{Error, Result};

/// Every setting of the W1 solver; `Default` reproduces w1ot (SPEC §3.4, §7.6).
#[derive(Clone, Debug, PartialEq)]
pub struct W1Config {
    /// Architecture of the potential f.
    pub potential: LipschitzConfig,
    /// Phase-1 iterations (10 000).
    pub potential_iters: usize,
    /// Phase-1 initial learning rate (1e-2), cosine-annealed to `potential_lr_min` (1e-4).
    pub potential_lr: f64,
    /// Phase-1 final learning rate.
    pub potential_lr_min: f64,
    /// Phase-1 Adam settings (betas 0.5, 0.5).
    pub potential_adam: AdamConfig,
    /// Batch size of both phases (256).
    pub batch: usize,
    /// Architecture of η.
    pub step_size: MlpConfig,
    /// Architecture of D.
    pub discriminator: MlpConfig,
    /// Phase-2 iterations (10 000).
    pub gan_iters: usize,
    /// Phase-2 learning rate of both networks (1e-4, constant).
    pub gan_lr: f64,
    /// Phase-2 Adam settings (betas 0.9, 0.999).
    pub gan_adam: AdamConfig,
    /// Clamp mapped points at 0 (`T ← relu(T)`, non-negative expression data).
    pub positive: bool,
    /// User seed.
    pub seed: u64,
    /// Threads of the batch split of both phases (1; results are bit-identical for a given count).
    pub threads: usize,
    /// Held-out MMD model selection every this many phase-2 iterations (0 = off).
    pub eval_every: usize,
    /// Fraction of each set held out when `eval_every > 0` (0.1, as w1ot's validation split).
    pub heldout_frac: f64,
    /// Progress report interval in iterations (0 = only at the end of each phase).
    pub progress_every: usize,
}

impl Default for W1Config {
    fn default() -> Self {
        W1Config {
            potential: LipschitzConfig::default(),
            potential_iters: 10_000,
            potential_lr: 1e-2,
            potential_lr_min: 1e-4,
            potential_adam: AdamConfig {
                beta1: 0.5,
                beta2: 0.5,
                ..AdamConfig::default()
            },
            batch: 256,
            step_size: MlpConfig::step_size(),
            discriminator: MlpConfig::discriminator(),
            gan_iters: 10_000,
            gan_lr: 1e-4,
            gan_adam: AdamConfig::default(),
            positive: false,
            seed: 0,
            threads: 1,
            eval_every: 0,
            heldout_frac: 0.1,
            progress_every: 100,
        }
    }
}

/// What a W1 fit reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct W1Report {
    /// Phase-1 iterations run.
    pub potential_iters: usize,
    /// Phase-2 iterations run.
    pub gan_iters: usize,
    /// Dual objective `mean f(x) − mean f(y)` on the last phase-1 batch.
    pub potential_objective: f64,
    /// Dual objective on the whole training sets with the export Q (the W1 estimate).
    pub w1_estimate: f64,
    /// Fraction of training source points with `‖∇f(x)‖ ∈ [0.9, 1 + 1e-6]` after phase 1.
    pub grad_norm_fraction: f64,
    /// Last discriminator loss.
    pub disc_loss: f64,
    /// Last generator loss.
    pub gen_loss: f64,
    /// Best held-out MMD and the phase-2 iteration it was measured at (model selection only).
    pub best_mmd: Option<(f64, usize)>,
    /// Wall time of phase 1 (s).
    pub seconds_potential: f64,
    /// Wall time of phase 2 (s).
    pub seconds_gan: f64,
}

/// Checks a data set: non-empty, finite, dimension > 0.
fn check_set<T: Real>(m: &Mat<T>, what: &str) -> Result<()> {
    if m.rows() == 0 {
        return Err(Error::data(what, None, None, "empty set"));
    }
    if m.cols() == 0 {
        return Err(Error::data(what, None, None, "no features"));
    }
    for i in 0..m.rows() {
        if let Some(j) = m.row(i).iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                what,
                Some(i + 1),
                Some(j + 1),
                "value is not finite",
            ));
        }
    }
    Ok(())
}

/// Workspaces of the phase-2 losses for one batch size (public so that tests can check both losses'
/// gradients against finite differences; the trainer uses it per iteration).
#[derive(Clone, Debug)]
pub struct GanWork<T> {
    batch: usize,
    /// 1/B of the loss means (B the whole batch when this is a shard of it).
    inv_norm: T,
    /// Stacked `[y; T(x)]` (2B × d); T rows after `relu` when positive.
    stack: Mat<T>,
    /// T before the clamp (B × d).
    t_pre: Mat<T>,
    eta_ws: MlpWork<T>,
    d2_ws: MlpWork<T>,
    d1_ws: MlpWork<T>,
    seeds2: Vec<T>,
    seeds1: Vec<T>,
}

impl<T: Real> GanWork<T> {
    /// Workspaces for batch `b` in dimension of `step` / `disc`.
    pub fn new(step: &Mlp<T>, disc: &Mlp<T>, b: usize) -> Self {
        let d = step.dim();
        GanWork {
            batch: b,
            inv_norm: T::ONE / T::from_usize(b.max(1)),
            stack: Mat::zeros(2 * b, d),
            t_pre: Mat::zeros(b, d),
            eta_ws: step.work(b),
            d2_ws: disc.work(2 * b),
            d1_ws: disc.work(b),
            seeds2: vec![T::ZERO; 2 * b],
            seeds1: vec![T::ZERO; b],
        }
    }

    /// The same workspaces for a shard of `b` rows of a batch of `total` rows: the losses (and their
    /// gradients) are this shard's share of the means over `total`, so shards add up to the batch.
    pub fn shard_of(step: &Mlp<T>, disc: &Mlp<T>, b: usize, total: usize) -> Self {
        GanWork {
            inv_norm: T::ONE / T::from_usize(total.max(1)),
            ..Self::new(step, disc, b)
        }
    }

    /// The mapped batch T(x) of the last [`Self::transport`] (B × d).
    pub fn mapped(&self) -> MatRef<'_, T> {
        self.stack.view().rows_range(self.batch, 2 * self.batch)
    }

    /// `T = x − η(x)·d` (then `relu` when `positive`), and `y` copied into the stacked batch.
    pub fn transport(
        &mut self,
        step: &Mlp<T>,
        x: MatRef<'_, T>,
        dirs: MatRef<'_, T>,
        y: MatRef<'_, T>,
        positive: bool,
    ) {
        let b = self.batch;
        step.forward(x, &mut self.eta_ws);
        let eta = self.eta_ws.outputs();
        for (i, &e) in eta.iter().enumerate() {
            self.stack.row_mut(i).copy_from_slice(y.row(i));
            let (xr, dr) = (x.row(i), dirs.row(i));
            let tp = self.t_pre.row_mut(i);
            for ((t, &xv), &dv) in tp.iter_mut().zip(xr).zip(dr) {
                *t = xv - e * dv;
            }
            let tr = self.stack.row_mut(b + i);
            for (o, &t) in tr.iter_mut().zip(tp.iter()) {
                *o = if positive { t.max(T::ZERO) } else { t };
            }
        }
    }

    /// `L_D` on the stacked batch (after [`Self::transport`]); with `grads`, `∂L_D/∂θ_D` is accumulated.
    pub fn discriminator_loss(&mut self, disc: &Mlp<T>, grads: Option<&mut [T]>) -> T {
        let b = self.batch;
        let inv_b = self.inv_norm;
        disc.forward(self.stack.view(), &mut self.d2_ws);
        let l = self.d2_ws.logits();
        let mut loss = T::ZERO;
        for (i, (&li, si)) in l.iter().zip(self.seeds2.iter_mut()).enumerate() {
            if i < b {
                loss += bce_real(li) * inv_b;
                *si = bce_real_grad(li) * inv_b;
            } else {
                loss += bce_fake(li) * inv_b;
                *si = bce_fake_grad(li) * inv_b;
            }
        }
        if let Some(g) = grads {
            disc.backward(
                self.stack.view(),
                &self.seeds2,
                &mut self.d2_ws,
                Some(g),
                false,
            );
        }
        loss
    }

    /// `L_G` of the mapped batch under `disc` (after [`Self::transport`]); with `grads`, η's parameter
    /// gradient is accumulated (module doc, steps G1–G5). `x` and `dirs` as given to `transport`.
    pub fn generator_loss(
        &mut self,
        disc: &Mlp<T>,
        step: &Mlp<T>,
        x: MatRef<'_, T>,
        dirs: MatRef<'_, T>,
        positive: bool,
        grads: Option<&mut [T]>,
    ) -> T {
        let b = self.batch;
        let inv_b = self.inv_norm;
        let tv = self.stack.view().rows_range(b, 2 * b);
        disc.forward(tv, &mut self.d1_ws);
        let l = self.d1_ws.logits();
        let mut loss = T::ZERO;
        for (&li, si) in l.iter().zip(self.seeds1.iter_mut()) {
            loss += bce_real(li) * inv_b;
            // G1
            *si = bce_real_grad(li) * inv_b;
        }
        if let Some(g) = grads {
            // G2
            disc.backward(tv, &self.seeds1, &mut self.d1_ws, None, true);
            let tbar = self.d1_ws.grad_x();
            // G3–G4: η̄_i = −⟨T̄_i ⊙ mask, d_i⟩ (reusing seeds1)
            for i in 0..b {
                let mut s = T::ZERO;
                for ((&tb, &dv), &tp) in tbar.row(i).iter().zip(dirs.row(i)).zip(self.t_pre.row(i))
                {
                    if !positive || tp > T::ZERO {
                        s += tb * dv;
                    }
                }
                self.seeds1[i] = -s;
            }
            // G5
            step.backward(x, &self.seeds1, &mut self.eta_ws, Some(g), false);
        }
        loss
    }
}

/// One row range of the phase-2 batch: its workspaces, partial gradients and partial losses.
#[derive(Clone, Debug)]
struct GanShard<T> {
    r0: usize,
    r1: usize,
    gw: GanWork<T>,
    gd: Vec<T>,
    ge: Vec<T>,
    ld: T,
    lg: T,
}

/// `d(x) = ∇f(x)/(‖∇f(x)‖ + 1e-6)` row by row, in place; returns the fraction of rows with
/// `‖∇f‖ ∈ [0.9, 1 + 1e-6]`.
fn normalise_rows<T: Real>(g: &mut Mat<T>) -> f64 {
    let n = g.rows();
    let mut ok = 0usize;
    let eps = T::from_f64(1e-6);
    for i in 0..n {
        let r = g.row_mut(i);
        let norm = crate::linalg::ops::norm2(r);
        let nf = norm.to_f64();
        if (0.9..=1.0 + 1e-6).contains(&nf) {
            ok += 1;
        }
        let inv = T::ONE / (norm + eps);
        r.iter_mut().for_each(|v| *v *= inv);
    }
    if n == 0 {
        0.0
    } else {
        ok as f64 / n as f64
    }
}

/// The W1 solver as a step-able object (phase 1 then phase 2); [`fit`] drives it.
pub struct W1Trainer<T: Real> {
    cfg: W1Config,
    dim: usize,
    xs: Mat<T>,
    ys: Mat<T>,
    xs_val: Option<Mat<T>>,
    ys_val: Option<Mat<T>>,
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
    samp_x: BatchSampler,
    samp_y: BatchSampler,
    rng_x: Stream,
    rng_y: Stream,
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
    best: Option<(f64, usize, Vec<T>)>,
}

impl<T: Real> W1Trainer<T> {
    /// Validates the inputs and options and builds every network, optimiser and workspace.
    pub fn new(source: &Mat<T>, target: &Mat<T>, cfg: &W1Config) -> Result<Self> {
        check_set(source, "source set")?;
        check_set(target, "target set")?;
        if source.cols() != target.cols() {
            return Err(Error::Shape(format!(
                "source has {} features, target has {}",
                source.cols(),
                target.cols()
            )));
        }
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
        // split
        let (xs, xs_val, ys, ys_val) = if cfg.eval_every > 0 {
            if !(cfg.heldout_frac > 0.0 && cfg.heldout_frac < 1.0) {
                return Err(Error::Usage("held-out fraction must be in (0, 1)".into()));
            }
            let mut rng = Stream::new(cfg.seed, streams::SPLIT);
            let (a, b) = split(source, cfg.heldout_frac, &mut rng);
            let (c, d) = split(target, cfg.heldout_frac, &mut rng);
            (a, Some(b), c, Some(d))
        } else {
            (source.clone(), None, target.clone(), None)
        };
        for (m, what) in [(&xs, "source"), (&ys, "target")] {
            if cfg.batch > m.rows() {
                return Err(Error::Usage(format!(
                    "batch size {} exceeds the {} training points of the {what} set",
                    cfg.batch,
                    m.rows()
                )));
            }
        }
        let mut rng_a = Stream::new(cfg.seed, streams::INIT_A);
        let potential = LipschitzNet::new(dim, cfg.potential.clone(), &mut rng_a);
        potential.validate()?;
        let mut rng_b = Stream::new(cfg.seed, streams::INIT_B);
        let step = Mlp::new(dim, cfg.step_size.clone(), &mut rng_b);
        let mut rng_c = Stream::new(cfg.seed, streams::INIT_C);
        let disc = Mlp::new(dim, cfg.discriminator.clone(), &mut rng_c);
        let b = cfg.batch;
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
        let pool = Pool::new(lip_ws.len());
        Ok(W1Trainer {
            dim,
            opt_f: Adam::new(potential.n_params(), cfg.potential_adam),
            grad_f: vec![T::ZERO; potential.n_params()],
            lip_ws,
            pool,
            xy: Mat::zeros(2 * b, dim),
            seeds_f,
            samp_x: BatchSampler::new(xs.rows()),
            samp_y: BatchSampler::new(ys.rows()),
            rng_x: Stream::new(cfg.seed, streams::BATCH_SOURCE),
            rng_y: Stream::new(cfg.seed, streams::BATCH_TARGET),
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
            best: None,
            xs,
            ys,
            xs_val,
            ys_val,
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
        let b = self.cfg.batch;
        self.samp_x.sample(&mut self.rng_x, &mut self.idx_x);
        self.samp_y.sample(&mut self.rng_y, &mut self.idx_y);
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
        self.it_f += 1;
        if !loss.is_finite() || self.grad_f.iter().any(|g| !g.is_finite()) {
            return Err(Error::Diverged {
                iteration: self.it_f,
                what: "potential loss".into(),
            });
        }
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
        if let Some(xv) = &self.xs_val {
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
        self.samp_x.sample(&mut self.rng_x, &mut self.idx_x);
        self.samp_y.sample(&mut self.rng_y, &mut self.idx_y);
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
        self.it_g += 1;
        if !ld.is_finite() {
            return Err(Error::Diverged {
                iteration: self.it_g,
                what: "discriminator loss".into(),
            });
        }
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
        if !lg.is_finite() || self.grad_eta.iter().any(|g| !g.is_finite()) {
            return Err(Error::Diverged {
                iteration: self.it_g,
                what: "generator loss".into(),
            });
        }
        self.opt_eta
            .step(self.step.params_mut(), &self.grad_eta, self.cfg.gan_lr);
        self.last_losses = (ld.to_f64(), lg.to_f64());
        Ok(self.last_losses)
    }

    /// Held-out MMD of the current map (None without a held-out split); keeps the best step size.
    pub fn evaluate(&mut self) -> Option<f64> {
        if self.dirs.is_none() {
            self.start_gan();
        }
        let (xv, yv, dv) = (
            self.xs_val.as_ref()?,
            self.ys_val.as_ref()?,
            self.dirs_val.as_ref()?,
        );
        let (ws, tv) = self.eval_ws.as_mut()?;
        self.step.forward(xv.view(), ws);
        let eta = ws.outputs();
        for (i, &e) in eta.iter().enumerate() {
            let (xr, dr) = (xv.row(i), dv.row(i));
            for ((t, &x), &d) in tv.row_mut(i).iter_mut().zip(xr).zip(dr) {
                let v = x - e * d;
                *t = if self.cfg.positive { v.max(T::ZERO) } else { v };
            }
        }
        let m = crate::metrics::mmd(tv.view(), yv.view(), &crate::metrics::MMD_GAMMAS_TRAIN);
        let better = match &self.best {
            None => true,
            Some((b, _, _)) => m < *b,
        };
        if better {
            match &mut self.best {
                Some((b, it, p)) => {
                    *b = m;
                    *it = self.it_g;
                    p.copy_from_slice(self.step.params());
                }
                None => self.best = Some((m, self.it_g, self.step.params().to_vec())),
            }
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

    /// Finishes: restores the best step size (model selection), caches the export Q, returns the map.
    pub fn into_map(mut self) -> W1Map<T> {
        if let Some((_, _, p)) = &self.best {
            self.step.params_mut().copy_from_slice(p);
        }
        self.potential.orthonormalise(true);
        W1Map {
            potential: self.potential,
            step: self.step,
            positive: self.cfg.positive,
        }
    }
}

/// Random split of the rows: (train, held-out) with `⌊frac·n⌋` (at least 1) held out.
fn split<T: Real>(m: &Mat<T>, frac: f64, rng: &mut Stream) -> (Mat<T>, Mat<T>) {
    let n = m.rows();
    let k = ((frac * n as f64).floor() as usize).clamp(1, n.saturating_sub(1).max(1));
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let held = m.select_rows(&idx[..k]);
    let train = m.select_rows(&idx[k..]);
    (train, held)
}

/// Fits the W1 map: phase 1 (potential) then phase 2 (step size by a GAN), reporting progress every
/// `cfg.progress_every` iterations. Errors: typed input/option errors, or [`Error::Diverged`] naming the
/// phase iteration where a loss stopped being finite.
pub fn fit<T: Real>(
    source: &Mat<T>,
    target: &Mat<T>,
    cfg: &W1Config,
    progress: ProgressFn,
) -> Result<(W1Map<T>, W1Report)> {
    let mut tr = W1Trainer::new(source, target, cfg)?;
    let mut rep = W1Report::default();
    let every = cfg.progress_every;
    let t0 = Instant::now();
    for it in 1..=cfg.potential_iters {
        let obj = tr.potential_step()?;
        if (every > 0 && it % every == 0) || it == cfg.potential_iters {
            progress(&Progress {
                phase: "potential",
                iteration: it,
                total: cfg.potential_iters,
                losses: vec![("dual", obj)],
                ..Progress::default()
            });
        }
    }
    rep.potential_iters = cfg.potential_iters;
    rep.potential_objective = tr.last_objective;
    tr.start_gan();
    rep.grad_norm_fraction = tr.grad_fraction;
    rep.w1_estimate = tr.full_objective();
    rep.seconds_potential = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut last_mmd = None;
    for it in 1..=cfg.gan_iters {
        let (ld, lg) = tr.gan_step()?;
        if cfg.eval_every > 0 && (it % cfg.eval_every == 0 || it == cfg.gan_iters) {
            last_mmd = tr.evaluate();
        }
        if (every > 0 && it % every == 0) || it == cfg.gan_iters {
            progress(&Progress {
                phase: "gan",
                iteration: it,
                total: cfg.gan_iters,
                losses: vec![("disc", ld), ("gen", lg)],
                heldout_mmd: last_mmd,
                ..Progress::default()
            });
        }
    }
    rep.gan_iters = cfg.gan_iters;
    rep.disc_loss = tr.last_losses.0;
    rep.gen_loss = tr.last_losses.1;
    rep.best_mmd = tr.best.as_ref().map(|(m, it, _)| (*m, *it));
    rep.seconds_gan = t1.elapsed().as_secs_f64();
    Ok((tr.into_map(), rep))
}

/// A fitted W1 map `T(x) = x − η(x)·∇f(x)/(‖∇f(x)‖ + 1e-6)` (then `relu` when `positive`).
#[derive(Clone, Debug)]
pub struct W1Map<T: Real> {
    potential: LipschitzNet<T>,
    step: Mlp<T>,
    positive: bool,
}

fn join(v: &[usize]) -> String {
    v.iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn ortho_hyper(o: Orthonormaliser) -> String {
    match o {
        Orthonormaliser::Cayley => "cayley".into(),
        Orthonormaliser::Bjorck(b) => {
            let scale = match b.scale {
                crate::linalg::bjorck::BjorckScale::Frobenius => "frobenius",
                crate::linalg::bjorck::BjorckScale::OneInf => "oneinf",
                crate::linalg::bjorck::BjorckScale::Dims => "dims",
            };
            format!("bjorck:{}:{}:{scale}", b.order.degree(), b.iters)
        }
    }
}

fn parse_ortho(s: &str) -> Result<Orthonormaliser> {
    use crate::linalg::bjorck::{Bjorck, BjorckOrder, BjorckScale};
    let bad = || Error::Model {
        file: String::new(),
        msg: format!("unknown orthonormaliser '{s}'"),
    };
    if s == "cayley" {
        return Ok(Orthonormaliser::Cayley);
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 4 || parts[0] != "bjorck" {
        return Err(bad());
    }
    let order = parts[1]
        .parse()
        .ok()
        .and_then(BjorckOrder::from_degree)
        .ok_or_else(bad)?;
    let iters = parts[2].parse().map_err(|_| bad())?;
    let scale = match parts[3] {
        "frobenius" => BjorckScale::Frobenius,
        "oneinf" => BjorckScale::OneInf,
        "dims" => BjorckScale::Dims,
        _ => return Err(bad()),
    };
    Ok(Orthonormaliser::Bjorck(Bjorck {
        order,
        iters,
        scale,
    }))
}

/// Largest Björck iteration count a model file may ask for (training uses 20, export 100).
pub const MAX_SAVED_BJORCK_ITERS: usize = 10_000;

impl<T: Real> W1Map<T> {
    /// The potential network (Q cached with the export orthonormaliser).
    pub fn potential(&self) -> &LipschitzNet<T> {
        &self.potential
    }
    /// The step-size network η.
    pub fn step_size(&self) -> &Mlp<T> {
        &self.step
    }
    /// Whether mapped points are clamped at 0.
    pub fn positive(&self) -> bool {
        self.positive
    }
    /// f(x) for every row.
    pub fn potential_values(&self, x: &Mat<T>) -> Vec<T> {
        self.potential.values(x)
    }
    /// ∇f(x) for every row.
    pub fn potential_gradients(&self, x: &Mat<T>) -> Mat<T> {
        self.potential.gradients(x)
    }
    /// η(x) for every row.
    pub fn step_sizes(&self, x: &Mat<T>) -> Vec<T> {
        self.step.outputs(x)
    }

    /// Rebuilds a map from its saved content (method "w1"). Widths are bounded by the values present,
    /// the parameter counts they imply are computed (overflow-checked) and compared with the tensors
    /// *before* either network is allocated; the LeakyReLU slope must be finite in [0, 1], the
    /// orthonormaliser's iteration count at most [`MAX_SAVED_BJORCK_ITERS`].
    pub fn from_saved(s: &SavedModel<T>) -> Result<Self> {
        let fail = SavedModel::<T>::fail;
        if s.method != "w1" {
            return Err(fail(format!("expected a 'w1' model, found '{}'", s.method)));
        }
        if s.dim == 0 {
            return Err(fail("dimension 0".into()));
        }
        let pot_hidden = s.hyper_widths("potential.hidden", true)?;
        let step_hidden = s.hyper_widths("step.hidden", true)?;
        let max_width = pot_hidden.iter().copied().max().unwrap_or(1);
        let ortho = parse_ortho(s.hyper("potential.ortho").unwrap_or(""))?;
        let ortho_export = parse_ortho(s.hyper("potential.ortho_export").unwrap_or(""))?;
        for o in [ortho, ortho_export] {
            if let Orthonormaliser::Bjorck(b) = o {
                if b.iters > MAX_SAVED_BJORCK_ITERS {
                    return Err(fail(format!(
                        "Björck iteration count {} is above {MAX_SAVED_BJORCK_ITERS}",
                        b.iters
                    )));
                }
            }
        }
        let pot_cfg = LipschitzConfig {
            hidden: pot_hidden,
            group_size: match s.hyper("potential.group_size") {
                None | Some("auto") => None,
                Some(_) => Some(s.hyper_usize_in("potential.group_size", 1, max_width)?),
            },
            descending: s.hyper_parse("potential.descending")?,
            ortho,
            ortho_export,
        };
        let step_cfg = MlpConfig {
            hidden: step_hidden,
            leaky_slope: s.hyper_f64_in("step.leaky_slope", 0.0, 1.0)?,
            output: crate::nn::mlp::OutputAct::Softplus,
        };
        let positive = s.hyper_parse("positive")?;
        // Parameter counts from the architecture alone (layouts of LipschitzNet::new and Mlp::new).
        let too_big = || fail("the architecture's parameter count overflows".into());
        let cayley = usize::from(matches!(pot_cfg.ortho, Orthonormaliser::Cayley));
        let mut widths = vec![s.dim];
        widths.extend_from_slice(&pot_cfg.hidden);
        widths.push(1);
        let mut n_pot = 0usize;
        for w in widths.windows(2) {
            let layer = w[1]
                .checked_mul(w[0])
                .and_then(|x| x.checked_add(w[1] + cayley))
                .ok_or_else(too_big)?;
            n_pot = n_pot.checked_add(layer).ok_or_else(too_big)?;
        }
        let mut widths = vec![s.dim];
        widths.extend_from_slice(&step_cfg.hidden);
        widths.push(1);
        let mut n_step = 0usize;
        for w in widths.windows(2) {
            let layer = w[1]
                .checked_mul(w[0])
                .and_then(|x| x.checked_add(w[1]))
                .ok_or_else(too_big)?;
            n_step = n_step.checked_add(layer).ok_or_else(too_big)?;
        }
        let mut index = s.tensor_index()?;
        let pot_vals = index.shaped("potential", &[n_pot])?;
        let step_vals = index.shaped("step_size", &[n_step])?;
        index.finish()?;
        let mut rng = Stream::new(0, streams::SPARE);
        let mut potential = LipschitzNet::new(s.dim, pot_cfg, &mut rng);
        potential.validate().map_err(|e| fail(e.to_string()))?;
        let mut step = Mlp::new(s.dim, step_cfg, &mut rng);
        for (v, dst) in [
            (pot_vals, potential.params_mut()),
            (step_vals, step.params_mut()),
        ] {
            if v.len() != dst.len() {
                return Err(fail(format!(
                    "a tensor has {} values, the architecture needs {}",
                    v.len(),
                    dst.len()
                )));
            }
            dst.copy_from_slice(v);
        }
        potential.orthonormalise(true);
        Ok(W1Map {
            potential,
            step,
            positive,
        })
    }
}

impl<T: Real> TransportMap<T> for W1Map<T> {
    fn dim(&self) -> usize {
        self.potential.dim()
    }

    fn transport(&self, x: &Mat<T>) -> Mat<T> {
        assert_eq!(x.cols(), self.dim(), "W1Map: input dimension");
        let mut d = self.potential.gradients(x);
        normalise_rows(&mut d);
        let eta = self.step.outputs(x);
        let mut out = x.clone();
        for (i, &e) in eta.iter().enumerate() {
            for (o, &dv) in out.row_mut(i).iter_mut().zip(d.row(i)) {
                let v = *o - e * dv;
                *o = if self.positive { v.max(T::ZERO) } else { v };
            }
        }
        out
    }

    fn to_saved(&self) -> SavedModel<T> {
        let pc = self.potential.config();
        let hyper = vec![
            ("potential.hidden".into(), join(&pc.hidden)),
            (
                "potential.group_size".into(),
                pc.group_size
                    .map(|g| g.to_string())
                    .unwrap_or_else(|| "auto".into()),
            ),
            ("potential.descending".into(), pc.descending.to_string()),
            ("potential.ortho".into(), ortho_hyper(pc.ortho)),
            (
                "potential.ortho_export".into(),
                ortho_hyper(pc.ortho_export),
            ),
            ("step.hidden".into(), join(&self.step.config().hidden)),
            (
                "step.leaky_slope".into(),
                self.step.config().leaky_slope.to_string(),
            ),
            ("positive".into(), self.positive.to_string()),
        ];
        SavedModel {
            method: "w1".into(),
            dim: self.dim(),
            hyper,
            tensors: vec![
                (
                    "potential".into(),
                    vec![self.potential.n_params()],
                    self.potential.params().to_vec(),
                ),
                (
                    "step_size".into(),
                    vec![self.step.n_params()],
                    self.step.params().to_vec(),
                ),
            ],
        }
    }
}
