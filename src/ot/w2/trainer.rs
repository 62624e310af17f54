//! The W2 trainer: state, the outer iteration, held-out evaluation and the report (module doc of
//! [`crate::ot::w2`]); the run loop, selector, criterion and guard are the harness's
//! ([`crate::ot::train`]).

use super::{f_step_worker, g_step_worker, Shared, Sums, W2Config, W2Map, Worker};
use crate::linalg::{gather_rows, Mat, MatMut, MatRef, Real};
use crate::nn::icnn::{Icnn, IcnnWorkspace};
use crate::nn::{Adam, AdamConfig, LrSchedule};
use crate::ot::conjugate::{Amortization, ConjugateWorkspace};
use crate::ot::train::{
    evaluate_final, observe, run_phase, BatchDraws, Control, Guard, Heldout, HeldoutEval,
    HeldoutReport, HeldoutSets, Losses, Offer, Phase, Schedule, Selector, Stopped,
};
use crate::ot::ProgressFn;
use crate::parallel::Pool;
use crate::{Error, Result};

mod checkpoint;

/// What one outer iteration measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepStats {
    /// 1-based outer iteration just completed.
    pub iteration: usize,
    /// L_g of the last g step (including λ·τ and the fnorm penalty).
    pub loss_g: f64,
    /// L_f of the f step.
    pub loss_f: f64,
    /// The estimate of SPEC §7.1 on the f step's batches,
    /// `mean[f(∇g(x)) − f(y) − ⟨x, ∇g(x)⟩ + ½‖x‖² + ½‖y‖²]`: an estimate of **½·W2²** (on 8gaussians it
    /// settles near 1.35 where the exact W2² is 2.70).
    pub half_w2sq: f64,
    /// mean τ(∇g(x) − x) of the last g step (without λ).
    pub penalty: f64,
    /// g's `Σ‖relu(−W)‖_F` at the last g step.
    pub fnorm: f64,
}

/// Summary of a training run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct W2Report {
    /// Outer iterations completed.
    pub iterations: usize,
    /// The mini-batch size used (`min(batch, training cells)`).
    pub batch: usize,
    /// Stats of the last completed iteration.
    pub last: StepStats,
    /// (iteration, held-out criterion) of every evaluation.
    pub evals: Vec<(usize, f64)>,
    /// Iteration of the returned model (the best held-out criterion; the last iteration without
    /// model selection).
    pub best_iteration: usize,
    /// Its held-out criterion (None without model selection).
    pub best_heldout: Option<f64>,
    /// λ at the end.
    pub lambda: f64,
    /// Wall-clock seconds spent in [`W2Trainer::run_until`].
    pub seconds: f64,
    /// Why training ended.
    pub stopped: Stopped,
    /// The held-out criterion of the returned map, the identity and the mean shift (None without
    /// held-out cells, or before [`W2Trainer::finish`]).
    pub heldout: Option<HeldoutReport>,
}

/// The step-able W2 trainer (see the module doc). The λ annealers drive it through [`W2Trainer::step`]
/// and [`W2Trainer::set_lambda`].
pub struct W2Trainer<T> {
    cfg: W2Config,
    /// The mini-batch size used: `min(cfg.batch, training cells of either side)`.
    batch: usize,
    f: Icnn<T>,
    g: Icnn<T>,
    opt_f: Adam<T>,
    opt_g: Adam<T>,
    src: Mat<T>,
    tgt: Mat<T>,
    heldout: Option<HeldoutEval<T>>,
    held_tgt: Mat<T>,
    held_mapped: Mat<T>,
    /// ∇g of [`W2Trainer::mapped_training_sample`]'s rows (allocated on its first call).
    sample_mapped: Mat<T>,
    eval_ws: IcnnWorkspace<T>,
    draws: BatchDraws,
    idx: Vec<usize>,
    /// Current source batch (g steps, then the f step's batch).
    x: Mat<T>,
    /// Current target batch.
    y: Mat<T>,
    /// ∇g of the f step's source batch (gathered from the workers).
    tx: Mat<T>,
    workers: Vec<Worker<T>>,
    /// Worker k runs `workers[k]` (k = 0 on the caller); held-out evaluations use it too.
    pool: Pool,
    grad_f: Vec<T>,
    grad_g: Vec<T>,
    lambda: f64,
    iter: usize,
    best_params: Vec<T>,
    /// The moving average ḡ of g's parameters (`cfg.ema > 0`; empty otherwise).
    avg_params: Vec<T>,
    selector: Selector,
    guard: Guard,
    last: StepStats,
    seconds: f64,
    stopped: Stopped,
    heldout_report: Option<HeldoutReport>,
}

/// One of the two potentials (f on the target side, g whose gradient is the map).
#[derive(Clone, Copy)]
enum Potential {
    F,
    G,
}

/// Where a potential's quadratic path starts in its parameter buffer (its length without one): the
/// split of the two Adam parameter groups.
fn quadratic_offset<T: Real>(net: &Icnn<T>) -> usize {
    net.quadratic().map_or(net.n_params(), |q| q.off)
}

impl<T: Real> W2Trainer<T> {
    /// Validates the data and options, splits off the held-out sets (`cfg.heldout_fraction`, SPEC §7.7),
    /// initialises f and g, and sizes every workspace.
    pub fn new(source: &Mat<T>, target: &Mat<T>, cfg: &W2Config) -> Result<Self> {
        Self::with_heldout(
            source,
            target,
            &Heldout::fraction(cfg.heldout_fraction),
            cfg,
        )
    }

    /// As [`W2Trainer::new`], with the held-out cells given by `heldout` (e.g. the caller's own sets).
    pub fn with_heldout(
        source: &Mat<T>,
        target: &Mat<T>,
        heldout: &Heldout<T>,
        cfg: &W2Config,
    ) -> Result<Self> {
        cfg.validate()?;
        crate::ot::train::split::check_pair(source, target)?;
        let d = source.cols();
        let sets = HeldoutSets::new(source, target, heldout, cfg.seed)?;
        let HeldoutSets {
            train_source: src,
            train_target: tgt,
            ..
        } = sets.clone();
        let b = cfg.batch.min(src.rows()).min(tgt.rows());
        let (f, g) = crate::ot::potentials::build(
            &cfg.icnn(),
            cfg.potential,
            cfg.map_init,
            cfg.seed,
            &src,
            &tgt,
        )?;
        let adam = AdamConfig {
            beta1: cfg.betas.0,
            beta2: cfg.betas.1,
            ..AdamConfig::default()
        };
        let nt = cfg.threads.min(b);
        let mut workers = Vec::with_capacity(nt);
        let inv_b = T::ONE / T::from_usize(b);
        for k in 0..nt {
            let (r0, r1) = (k * b / nt, (k + 1) * b / nt);
            let c = r1 - r0;
            workers.push(Worker {
                r0,
                r1,
                gws: g.workspace(c),
                fws: f.workspace(c),
                tx: Mat::zeros(c, d),
                v: Mat::zeros(c, d),
                grad_g: vec![T::ZERO; g.n_params()],
                grad_f: vec![T::ZERO; f.n_params()],
                wpos: vec![inv_b; c],
                wneg: vec![-inv_b; c],
                sums: Sums::default(),
                conj: ConjugateWorkspace::new(&cfg.conjugate, c, d),
                ystar: Mat::zeros(
                    if cfg.conjugate.amortization == Amortization::Regression {
                        c
                    } else {
                        0
                    },
                    d,
                ),
            });
        }
        let eval_ws = g.workspace(b.max(1));
        let mut pool = Pool::new(nt);
        let held = HeldoutEval::new(&sets, cfg.criterion, cfg.seed, &mut pool);
        let guard = Guard::new(&[source, target]);
        Ok(W2Trainer {
            cfg: cfg.clone(),
            batch: b,
            opt_f: Adam::new(f.n_params(), adam),
            opt_g: Adam::new(g.n_params(), adam),
            grad_f: vec![T::ZERO; f.n_params()],
            grad_g: vec![T::ZERO; g.n_params()],
            best_params: g.params().to_vec(),
            avg_params: if cfg.ema > 0.0 {
                g.params().to_vec()
            } else {
                Vec::new()
            },
            draws: BatchDraws::new(src.rows(), tgt.rows(), cfg.seed),
            idx: vec![0; b],
            x: Mat::zeros(b, d),
            y: Mat::zeros(b, d),
            tx: Mat::zeros(b, d),
            held_mapped: Mat::zeros(sets.heldout_source.rows(), d),
            held_tgt: sets.heldout_target,
            heldout: held,
            sample_mapped: Mat::zeros(0, d),
            eval_ws,
            src,
            tgt,
            pool,
            workers,
            f,
            g,
            lambda: cfg.lambda,
            iter: 0,
            selector: Selector::new(cfg.patience),
            guard,
            last: StepStats::default(),
            seconds: 0.0,
            stopped: Stopped::Cap,
            heldout_report: None,
        })
    }

    fn draw_source(&mut self) {
        self.draws.source(&mut self.idx);
        gather_rows(self.src.view(), &self.idx, &mut self.x);
    }

    /// Every worker runs `work` (a g or an f step) on its rows of the batches x and y.
    fn round(&mut self, work: fn(&Shared<'_, T>, &mut Worker<T>)) {
        let shared = Shared {
            f: &self.f,
            g: &self.g,
            x: &self.x,
            y: &self.y,
            penalty: self.cfg.penalty,
            lambda: T::from_f64(self.lambda),
            inv_b: T::ONE / T::from_f64(self.batch as f64),
            conj: &self.cfg.conjugate,
        };
        self.pool
            .for_each_mut(&mut self.workers, |_, w| work(&shared, w));
    }

    /// The update of one potential from its loss and its summed gradient: the guard sees both first
    /// (`Error::Diverged` before any change), then one Adam step at the iteration's rate, the quadratic
    /// path's group at `lr_quadratic_factor` of it.
    fn update(&mut self, which: Potential, loss: f64) -> Result<()> {
        let it = self.iter + 1;
        let lr = self.lr_at(match which {
            Potential::F => self.cfg.lr_f,
            Potential::G => self.cfg.lr_g,
        });
        let (net, opt, grad, what) = match which {
            Potential::F => (
                &mut self.f,
                &mut self.opt_f,
                &self.grad_f,
                ["the f loss", "the f gradient"],
            ),
            Potential::G => (
                &mut self.g,
                &mut self.opt_g,
                &self.grad_g,
                ["the g loss", "the g gradient"],
            ),
        };
        self.guard.loss(loss, what[0], it)?;
        self.guard.grad(grad, what[1], it)?;
        let split = quadratic_offset(net);
        opt.step_split(
            net.params_mut(),
            grad,
            lr,
            split,
            lr * self.cfg.lr_quadratic_factor,
        );
        Ok(())
    }

    /// Sums of the workers' gradients, in worker order, into `out`.
    fn reduce(workers: &[Worker<T>], pick: fn(&Worker<T>) -> &[T], out: &mut [T]) {
        out.copy_from_slice(pick(&workers[0]));
        for w in &workers[1..] {
            for (o, &v) in out.iter_mut().zip(pick(w)) {
                *o += v;
            }
        }
    }

    fn reduce_sums(&self) -> Sums {
        let mut s = Sums::default();
        for w in &self.workers {
            s.add(&w.sums);
        }
        s
    }

    /// One outer iteration (module doc, steps 1–3). On a non-finite loss or gradient returns
    /// `Error::Diverged` before updating the network concerned.
    pub fn step(&mut self) -> Result<StepStats> {
        let b = self.batch as f64;
        // 1. target batch
        self.draws.target(&mut self.idx);
        gather_rows(self.tgt.view(), &self.idx, &mut self.y);
        let fnorm_w = T::from_f64(self.cfg.fnorm_penalty);
        let mut stats = StepStats {
            iteration: self.iter + 1,
            ..StepStats::default()
        };
        // 2. g steps
        for _ in 0..self.cfg.g_iters {
            self.draw_source();
            self.round(g_step_worker);
            Self::reduce(&self.workers, |w| &w.grad_g, &mut self.grad_g);
            // G5
            let fnorm = if self.cfg.fnorm_penalty > 0.0 {
                self.g.w_penalty(fnorm_w, Some(&mut self.grad_g)).to_f64()
            } else {
                0.0
            };
            let s = self.reduce_sums();
            let tau = s.tau / b;
            let loss = (s.f_tx - s.x_tx) / b + self.lambda * tau + self.cfg.fnorm_penalty * fnorm;
            self.update(Potential::G, loss)?;
            stats.loss_g = loss;
            stats.penalty = tau;
            stats.fnorm = fnorm;
        }
        // 3. f step
        self.draw_source();
        self.round(f_step_worker);
        Self::reduce(&self.workers, |w| &w.grad_f, &mut self.grad_f);
        let s = self.reduce_sums();
        let loss_f = (s.f_y - s.f_tx) / b;
        self.update(Potential::F, loss_f)?;
        self.f.clamp_nonneg();
        let d = self.tx.cols();
        for w in &self.workers {
            self.tx.as_mut_slice()[w.r0 * d..w.r1 * d].copy_from_slice(w.tx.as_slice());
        }
        stats.loss_f = loss_f;
        stats.half_w2sq = (s.f_tx - s.f_y - s.x_tx + s.half_x2 + s.half_y2) / b;
        if !self.avg_params.is_empty() {
            let rho = T::from_f64(self.cfg.ema);
            for (a, &p) in self.avg_params.iter_mut().zip(self.g.params()) {
                *a = rho * *a + (T::ONE - rho) * p;
            }
        }
        self.iter += 1;
        self.last = stats.clone();
        Ok(stats)
    }

    /// Swaps g's parameters with the average ḡ (a no-op without averaging): called in pairs around
    /// the code that evaluates the returned map.
    fn swap_average(&mut self) {
        if !self.avg_params.is_empty() {
            self.g.params_mut().swap_with_slice(&mut self.avg_params);
        }
    }

    /// ∇g of the held-out source under the current g (the average ḡ with `cfg.ema > 0`), into
    /// `held_mapped`.
    fn map_heldout(&mut self) {
        self.swap_average();
        self.map_heldout_current();
        self.swap_average();
    }

    fn map_heldout_current(&mut self) {
        let Some(h) = &self.heldout else { return };
        let cap = self.eval_ws.capacity();
        let n = h.source().rows();
        let mut r0 = 0;
        while r0 < n {
            let r1 = (r0 + cap).min(n);
            let dst: MatMut<'_, T> = self.held_mapped.view_mut().rows_range(r0, r1);
            self.g
                .grad_x(h.source().view().rows_range(r0, r1), &mut self.eval_ws, dst);
            r0 = r1;
        }
    }

    /// Held-out model selection now: maps the held-out source, computes the criterion to the held-out
    /// target, offers it to the selector and keeps g if it is the new best. `None` without held-out
    /// cells. A second call at the same iteration returns the recorded value.
    pub fn evaluate(&mut self) -> Option<f64> {
        self.heldout.as_ref()?;
        if let Some((it, m)) = self.selector.last() {
            if it == self.iter {
                return Some(m);
            }
        }
        self.map_heldout();
        let h = self.heldout.as_ref()?;
        let m = h.eval(self.held_mapped.view(), &mut self.pool);
        if self.selector.offer(self.iter, m) == Offer::Best {
            let current = if self.avg_params.is_empty() {
                self.g.params()
            } else {
                &self.avg_params
            };
            self.best_params.copy_from_slice(current);
        }
        Some(m)
    }

    /// A fixed evaluation sample of the training source — its first `min(n, SAMPLE_ROWS)` rows, a random
    /// subset since the training rows are a seeded shuffle — and its image `∇g(x)` under the current g
    /// (the average ḡ with `cfg.ema > 0`).
    /// Alg. 2 measures the dimensionality of the map it returns on it. The output buffer is allocated on
    /// the first call only.
    pub fn mapped_training_sample(&mut self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        let n = self.src.rows().min(SAMPLE_ROWS);
        if self.sample_mapped.rows() != n {
            self.sample_mapped = Mat::zeros(n, self.src.cols());
        }
        let cap = self.eval_ws.capacity();
        let mut r0 = 0;
        self.swap_average();
        while r0 < n {
            let r1 = (r0 + cap).min(n);
            let dst: MatMut<'_, T> = self.sample_mapped.view_mut().rows_range(r0, r1);
            self.g
                .grad_x(self.src.view().rows_range(r0, r1), &mut self.eval_ws, dst);
            r0 = r1;
        }
        self.swap_average();
        (self.src.view().rows_range(0, n), self.sample_mapped.view())
    }

    /// Runs `iterations` more outer iterations (or until early stopping), reporting progress every
    /// `progress_every` and at the end, then a final held-out evaluation and the held-out report. On
    /// divergence returns the error; [`W2Trainer::best_map`] still gives the best model.
    pub fn run(&mut self, iterations: usize, progress: ProgressFn<'_>) -> Result<()> {
        let cap = self.iter + iterations;
        let (_, err) = self.run_until(cap, &mut observe(progress));
        err.map_or(Ok(()), Err)
    }

    /// Runs until `cap` outer iterations in all, early stopping, a divergence, an interrupt or a stop
    /// requested by `progress` (the harness's run loop, [`crate::ot::train::run`]); then evaluates the
    /// final iterate (when the run ended at the cap or by patience) and computes the held-out report of
    /// the returned map. Returns why it stopped and the error of a divergence.
    pub fn run_until(&mut self, cap: usize, progress: Control<'_>) -> (Stopped, Option<Error>) {
        let (stopped, err) = self.run_segment(cap, progress);
        self.finalize(stopped);
        (stopped, err)
    }

    /// One segment of a run: as [`W2Trainer::run_until`] without the final evaluation and report, so
    /// that segments (e.g. between checkpoints) followed by [`W2Trainer::finalize`] train and select
    /// exactly as one uninterrupted run.
    pub fn run_segment(&mut self, cap: usize, progress: Control<'_>) -> (Stopped, Option<Error>) {
        let t0 = std::time::Instant::now();
        let eval_every = self.heldout.as_ref().map_or(0, |_| self.cfg.eval_every);
        let sched = Schedule::new(cap, eval_every, self.cfg.progress_every);
        let (stopped, err) = run_phase(self, &sched, progress);
        self.stopped = stopped;
        self.seconds += t0.elapsed().as_secs_f64();
        (stopped, err)
    }

    /// Ends a run that stopped with `stopped`: the final iterate is evaluated when the run ended at the
    /// cap or by patience and it was not evaluated yet, then the held-out report.
    pub fn finalize(&mut self, stopped: Stopped) {
        self.stopped = stopped;
        if self.heldout.is_some() {
            evaluate_final(self, stopped, self.cfg.eval_every);
        }
        self.finish_heldout();
    }

    /// Computes the held-out report of the map [`W2Trainer::best_map`] returns (criterion of the map,
    /// the identity and the mean shift on the held-out cells); for callers that drive
    /// [`W2Trainer::step`] themselves (the λ annealers). Returns the report.
    pub fn finish(&mut self) -> W2Report {
        self.finish_heldout();
        self.report()
    }

    fn finish_heldout(&mut self) {
        if self.heldout.is_none() {
            return;
        }
        let (best_iteration, map_value) = match self.selector.best() {
            Some(b) => b,
            None => {
                self.map_heldout();
                let h = self.heldout.as_ref().expect("held-out cells");
                (self.iter, h.eval(self.held_mapped.view(), &mut self.pool))
            }
        };
        let h = self.heldout.as_ref().expect("held-out cells");
        self.heldout_report = Some(h.report(best_iteration, map_value, &mut self.pool));
    }

    /// Sets the penalty weight λ (batch-mean convention) for the following steps.
    pub fn set_lambda(&mut self, lambda: f64) {
        self.lambda = lambda;
    }
    /// The current λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
    /// Outer iterations completed.
    pub fn iteration(&self) -> usize {
        self.iter
    }
    /// The mini-batch size in use.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Learning rate of a network with base rate `lr` at the current outer iteration.
    fn lr_at(&self, lr: f64) -> f64 {
        let lr = lr * self.cfg.lr_dim_factor(self.src.cols());
        if self.cfg.cosine_lr {
            LrSchedule::Cosine {
                lr0: lr,
                lr_min: lr * self.cfg.lr_min_factor,
                total: self.cfg.iterations,
            }
            .at(self.iter)
        } else {
            lr
        }
    }
    /// The options.
    pub fn config(&self) -> &W2Config {
        &self.cfg
    }
    /// The potential f.
    pub fn f(&self) -> &Icnn<T> {
        &self.f
    }
    /// The potential g (the map is ∇g).
    pub fn g(&self) -> &Icnn<T> {
        &self.g
    }
    /// The last outer iteration's f-step source batch x (B × d).
    pub fn last_source(&self) -> &Mat<T> {
        &self.x
    }
    /// ∇g(x) of [`W2Trainer::last_source`], computed with g after the iteration's g steps.
    pub fn last_mapped(&self) -> &Mat<T> {
        &self.tx
    }
    /// The last outer iteration's target batch y (B × d).
    pub fn last_target(&self) -> &Mat<T> {
        &self.y
    }
    /// The held-out (source, target) sets (empty without held-out cells).
    pub fn heldout(&self) -> (Mat<T>, &Mat<T>) {
        let src = self
            .heldout
            .as_ref()
            .map_or_else(|| Mat::zeros(0, self.src.cols()), |h| h.source().clone());
        (src, &self.held_tgt)
    }
    /// The selector (evaluations, best so far, patience).
    pub fn selector(&self) -> &Selector {
        &self.selector
    }
    /// The map with the current g (the average ḡ with `cfg.ema > 0`).
    pub fn map(&self) -> W2Map<T> {
        let mut g = self.g.clone();
        if !self.avg_params.is_empty() {
            g.params_mut().copy_from_slice(&self.avg_params);
        }
        W2Map::new(g)
    }
    /// The selected map: g with the best held-out criterion so far, or the current g without model
    /// selection.
    pub fn best_map(&self) -> W2Map<T> {
        match self.selector.best() {
            Some(_) => {
                let mut g = self.g.clone();
                g.params_mut().copy_from_slice(&self.best_params);
                W2Map::new(g)
            }
            None => self.map(),
        }
    }
    /// Whether a best model from a held-out evaluation exists (what a caller can save after a
    /// divergence).
    pub fn has_best(&self) -> bool {
        self.selector.best().is_some()
    }
    /// Summary so far.
    pub fn report(&self) -> W2Report {
        W2Report {
            iterations: self.iter,
            batch: self.batch,
            last: self.last.clone(),
            evals: self.selector.evals().to_vec(),
            best_iteration: self.selector.best().map_or(self.iter, |b| b.0),
            best_heldout: self.selector.best().map(|b| b.1),
            lambda: self.lambda,
            seconds: self.seconds,
            stopped: self.stopped,
            heldout: self.heldout_report.clone(),
        }
    }
}

impl<T: Real> Phase for W2Trainer<T> {
    fn name(&self) -> &'static str {
        "w2"
    }
    fn iteration(&self) -> usize {
        self.iter
    }
    fn step(&mut self) -> Result<Losses> {
        let st = W2Trainer::step(self)?;
        Ok(Losses {
            names: &["loss_g", "loss_f", "half_w2sq_est"],
            values: [st.loss_g, st.loss_f, st.half_w2sq, 0.0],
        })
    }
    fn evaluate(&mut self) -> Option<f64> {
        W2Trainer::evaluate(self)
    }
    fn selector(&self) -> &Selector {
        &self.selector
    }
    fn criterion(&self) -> Option<&'static str> {
        self.heldout.as_ref().map(|_| self.cfg.criterion.name())
    }
    fn lambda(&self) -> Option<f64> {
        (!self.cfg.penalty.is_none()).then_some(self.lambda)
    }
}

/// Rows of [`W2Trainer::mapped_training_sample`] at most.
pub const SAMPLE_ROWS: usize = 2048;

/// Trains f and g for at most `cfg.iterations` outer iterations (early stopping may end sooner) and
/// returns the selected map and a report (with the held-out comparison to the baselines). On
/// divergence returns `Error::Diverged`; use [`W2Trainer::run_until`] to keep the best map then.
pub fn fit<T: Real>(
    source: &Mat<T>,
    target: &Mat<T>,
    cfg: &W2Config,
    progress: ProgressFn<'_>,
) -> Result<(W2Map<T>, W2Report)> {
    let mut tr = W2Trainer::new(source, target, cfg)?;
    tr.run(cfg.iterations, progress)?;
    Ok((tr.best_map(), tr.report()))
}
