//! The known-map accuracy table of issue 13: W2 maps against the exact optimal map (SPEC §5).
//!
//! For each dimension D and seed: the pair `known_map_pair(n, n, D, 3, seed)` (as `monge synth
//! known-map`, n = 4096 per side by default), and 2048 fresh source points x̃ drawn from stream
//! [`FRESH_STREAM`] of the seed with their exact images T*(x̃). Every row reports
//! `L2-UVP = 100 · mean ‖T(x̃) − T*(x̃)‖² / Var(target)` (%) and the seconds it took:
//! - **identity**: T(x) = x;
//! - **best affine**: the least-squares affine fit `x ↦ Wᵀ[x; 1]` to the pairs (x_i, T*(x_i)) of the
//!   training source ([`best_affine`]; an oracle: it sees the exact map's values, which no solver does);
//! - **Gaussian start**: the closed-form map between the Gaussians of the two training samples
//!   ([`crate::ot::gaussian`]; where the quadratic-ICNN default starts);
//! - **oracle fit** (optional, [`oracle_fit`]): g of a W2 configuration fitted by least squares to the
//!   exact map on the training source — the ceiling of the architecture and its start, with the unpaired
//!   estimation problem taken away (an oracle, as the best affine fit);
//! - one row per W2 configuration given (e.g. the plain CellOT ICNN and monge's default): the map
//!   [`W2Trainer::best_map`] returns (held-out selection as `monge fit`), its wall time, and optionally the
//!   L2-UVP of the current iterate at every held-out evaluation (the trace, to see where training
//!   improves or drifts).
//!
//! What the table measured, and every variant of the default tried on it, is in [`record`].

pub mod record;

use crate::data::known_map::known_map_pair;
use crate::linalg::{gather_rows, Mat, MatRef, Real};
use crate::metrics::l2_uvp;
use crate::nn::icnn::{Icnn, IcnnWorkspace};
use crate::nn::optim::{Adam, AdamConfig, LrSchedule};
use crate::ot::conjugate::regression_residual;
use crate::ot::gaussian::GaussianMap;
use crate::ot::potentials;
use crate::ot::train::criterion::sliced_w2sq;
use crate::ot::train::{Criterion, Evaluator};
use crate::ot::w2::dual::DualEvaluator;
use crate::ot::w2::{W2Config, W2Trainer};
use crate::ot::TransportMap;
use crate::parallel::Pool;
use crate::random::Stream;
use crate::{Error, Result};
use nalgebra::DMatrix;
use std::ops::ControlFlow;
use std::time::Instant;

/// The random stream of the fresh evaluation points (of the pair's seed).
pub const FRESH_STREAM: u64 = 991;

/// The best affine map x ↦ Wᵀ[x; 1] in least squares on the pairs (x_i, t_i) (normal equations in f64,
/// Cholesky), applied to the rows of `fresh`. Errors when `[x 1]` has rank below d + 1.
pub fn best_affine(x: &Mat<f64>, t: &Mat<f64>, fresh: &Mat<f64>) -> Result<Mat<f64>> {
    let (n, d) = (x.rows(), x.cols());
    let xa = DMatrix::from_fn(n, d + 1, |i, j| if j < d { x.get(i, j) } else { 1.0 });
    let ta = DMatrix::from_fn(n, d, |i, j| t.get(i, j));
    let w = (xa.transpose() * &xa)
        .cholesky()
        .ok_or_else(|| Error::Shape("best affine fit: [x 1] is rank-deficient".into()))?
        .solve(&(xa.transpose() * ta));
    let fa = DMatrix::from_fn(fresh.rows(), d + 1, |i, j| {
        if j < d {
            fresh.get(i, j)
        } else {
            1.0
        }
    });
    let p = fa * w;
    Ok(Mat::from_fn(fresh.rows(), d, |i, j| p[(i, j)]))
}

/// The random stream of [`oracle_fit`]'s mini-batches (of the configuration's seed).
pub const ORACLE_STREAM: u64 = 992;

/// The oracle fit (module doc): g built and started as [`W2Trainer`] builds it from `cfg` (architecture,
/// potential, map start, seed; f32), then `steps` Adam steps (`cfg.betas`, rate `lr` with cosine decay to
/// `lr · cfg.lr_min_factor`) on `L(θ) = ½ · mean_{i∈batch} ‖∇g(x_i) − t_i‖²` over mini-batches of
/// `cfg.batch` rows of (x, t) drawn with replacement, each W clamped to ≥ 0 after its step as in
/// training. Returns ∇g on the rows of `fresh`, in f64.
///
/// The gradient: with the residual `V_i = (∇g(x_i) − t_i)/B` held fixed,
/// `∂L/∂θ = Σ_i ⟨V_i, ∂∇g(x_i)/∂θ⟩ = ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩`, which is step D of the ICNN
/// ([`crate::nn::icnn::Icnn::map_param_grad`], derived and finite-difference checked there) — the loss
/// of the regression amortisation with the exact map as its target. One batch is
/// [`map_regression_grad`] (checked against f64 finite differences in `tests/ot_w2_quality.rs`).
pub fn oracle_fit(
    x: &Mat<f64>,
    t: &Mat<f64>,
    fresh: &Mat<f64>,
    cfg: &W2Config,
    steps: usize,
    lr: f64,
) -> Result<Mat<f64>> {
    cfg.validate()?;
    let (xs, ts) = (x.cast::<f32>(), t.cast::<f32>());
    let (_, mut g) =
        potentials::build(&cfg.icnn(), cfg.potential, cfg.map_init, cfg.seed, &xs, &ts)?;
    let (b, d) = (cfg.batch.min(x.rows()), x.cols());
    let adam = AdamConfig {
        beta1: cfg.betas.0,
        beta2: cfg.betas.1,
        ..AdamConfig::default()
    };
    let mut opt = Adam::<f32>::new(g.n_params(), adam);
    let mut ws = g.workspace(b);
    let (mut xb, mut tb, mut v) = (Mat::zeros(b, d), Mat::zeros(b, d), Mat::zeros(b, d));
    let mut grads = vec![0f32; g.n_params()];
    let mut idx = vec![0; b];
    let mut rng = Stream::new(cfg.seed, ORACLE_STREAM);
    let rate = LrSchedule::Cosine {
        lr0: lr,
        lr_min: lr * cfg.lr_min_factor,
        total: steps,
    };
    for step in 0..steps {
        rng.batch_with_replacement(x.rows(), &mut idx);
        gather_rows(xs.view(), &idx, &mut xb);
        gather_rows(ts.view(), &idx, &mut tb);
        map_regression_grad(&g, xb.view(), tb.view(), &mut ws, &mut v, &mut grads);
        opt.step(g.params_mut(), &grads, rate.at(step));
        g.clamp_nonneg();
    }
    let mut fws = g.workspace(fresh.rows().max(1));
    let mut out = Mat::zeros(fresh.rows(), d);
    g.grad_x(fresh.cast::<f32>().view(), &mut fws, out.view_mut());
    Ok(out.cast())
}

/// The loss of [`oracle_fit`] on one batch, `L = ½ · mean_i ‖∇g(x_i) − t_i‖²` (returned), and its
/// parameter gradient into `grads` (overwritten): `V_i = (∇g(x_i) − t_i)/B` into `v` (B × d, the
/// residual of [`crate::ot::conjugate::regression_residual`]), then step D with V.
pub fn map_regression_grad<T: Real>(
    g: &Icnn<T>,
    x: MatRef<'_, T>,
    t: MatRef<'_, T>,
    ws: &mut IcnnWorkspace<T>,
    v: &mut Mat<T>,
    grads: &mut [T],
) -> f64 {
    g.grad_x(x, ws, v.view_mut());
    let inv_b = T::ONE / T::from_usize(x.rows());
    let mut loss = 0.0;
    for i in 0..x.rows() {
        let vr = v.row_mut(i);
        loss += regression_residual(vr, t.row(i)).to_f64();
        vr.iter_mut().for_each(|vj| *vj *= inv_b);
    }
    grads.fill(T::ZERO);
    g.map_param_grad(x, v.view(), ws, grads);
    loss / x.rows() as f64
}

/// One measured row.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownMapRow {
    /// identity, best affine, Gaussian start, or the W2 configuration's name.
    pub name: String,
    /// L2-UVP (%) on the fresh points.
    pub l2_uvp: f64,
    /// Wall seconds (the fit and its held-out evaluations; 0 for the identity).
    pub seconds: f64,
    /// The selected iteration (W2 rows).
    pub best_iteration: Option<usize>,
    /// The current iterate at the start and at each held-out evaluation, when traced.
    pub trace: Vec<TracePoint>,
}

/// One traced evaluation point: the current iterate's L2-UVP and the held-out criteria that could
/// select it, all on the trainer's own held-out cells.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TracePoint {
    /// Outer iteration (0 = the start).
    pub iteration: usize,
    /// L2-UVP (%) on the fresh points.
    pub l2_uvp: f64,
    /// Held-out sliced W2 over the trainer's 200 fixed directions (the `sliced_w2` criterion).
    pub sliced: f64,
    /// Held-out sliced W2 over [`MANY_DIRECTIONS`] fixed directions.
    pub sliced_many: f64,
    /// The held-out semi-dual ([`crate::ot::w2::dual`]; −Ŵ2²; NaN unless [`Trace::Full`]).
    pub dual: f64,
    /// Its solve's largest residual (NaN unless [`Trace::Full`]).
    pub dual_resid: f64,
    /// L-BFGS iterations of the held-out solve (0 unless [`Trace::Full`]).
    pub dual_iters: usize,
    /// The semi-dual on all n + n cells of the pair (training and held-out; NaN unless
    /// [`Trace::Full`]).
    pub dual_all: f64,
}

/// Directions of the traced many-direction sliced W2.
pub const MANY_DIRECTIONS: usize = 2000;

/// Spearman's rank correlation of two equally long lists (average ranks for ties; NaN below 2 points
/// or for a constant list).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        let mut k = 0;
        while k < idx.len() {
            let mut e = k;
            while e + 1 < idx.len() && v[idx[e + 1]] == v[idx[k]] {
                e += 1;
            }
            for &i in &idx[k..=e] {
                r[i] = (k + e) as f64 / 2.0;
            }
            k = e + 1;
        }
        r
    }
    assert_eq!(a.len(), b.len(), "spearman: lengths differ");
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// Which criteria a trace scores each iterate by, beside its L2-UVP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// No trace.
    Off,
    /// The sliced W2 over 200 and [`MANY_DIRECTIONS`] directions (seconds per pair).
    Sliced,
    /// Also the held-out and all-cell semi-duals (minutes per pair: an L-BFGS conjugate solve over
    /// every target cell per point).
    Full,
}

/// The fresh points' L2-UVP of every row for one pair (module doc). `n` points per side; each W2
/// configuration runs for its `iterations` in f32. With a `trace`, the current iterate is also scored
/// at every `eval_every` iterations (run in segments; training and selection are unchanged by it).
pub fn known_map_rows(
    d: usize,
    seed: u64,
    n: usize,
    configs: &[(String, W2Config)],
    trace: Trace,
) -> Result<Vec<KnownMapRow>> {
    let pair = known_map_pair::<f64>(n, n, d, 3, seed)?;
    let fresh: Mat<f64> = pair
        .map
        .sample_source(2048, &mut Stream::new(seed, FRESH_STREAM));
    let t_fresh = pair.map.map(fresh.view());
    let uvp = |tx: &Mat<f64>| l2_uvp(tx.view(), t_fresh.view(), pair.target.view());
    let row = |name: &str, l2_uvp: f64, seconds: f64| KnownMapRow {
        name: name.into(),
        l2_uvp,
        seconds,
        best_iteration: None,
        trace: Vec::new(),
    };
    let mut rows = vec![row("identity", uvp(&fresh), 0.0)];
    let t0 = Instant::now();
    let aff = best_affine(&pair.source, &pair.map.map(pair.source.view()), &fresh)?;
    rows.push(row("best affine", uvp(&aff), t0.elapsed().as_secs_f64()));
    let t0 = Instant::now();
    let gm = GaussianMap::from_samples(pair.source.view(), pair.target.view())?;
    let gx = gm.transport::<f64>(fresh.view());
    rows.push(row("Gaussian start", uvp(&gx), t0.elapsed().as_secs_f64()));
    let (xs, ys) = (pair.source.cast::<f32>(), pair.target.cast::<f32>());
    let fresh32 = fresh.cast::<f32>();
    for (name, cfg) in configs {
        let t0 = Instant::now();
        let mut tr = W2Trainer::new(&xs, &ys, cfg)?;
        let mut traced = Vec::new();
        let mut probe = if trace != Trace::Off && tr.heldout().0.rows() > 0 {
            Some(Probe::new(&tr, cfg.seed, &xs, &ys, trace == Trace::Full))
        } else {
            None
        };
        if let Some(p) = probe.as_mut() {
            traced.push(p.point(&tr, &uvp, &fresh32));
        }
        let mut quiet = |_: &crate::ot::Progress| ControlFlow::Continue(());
        let every = if trace != Trace::Off && cfg.eval_every > 0 {
            cfg.eval_every
        } else {
            cfg.iterations.max(1)
        };
        let (mut stopped, mut err) = (crate::ot::train::Stopped::Cap, None);
        let mut cap = 0;
        while cap < cfg.iterations {
            cap = (cap + every).min(cfg.iterations);
            (stopped, err) = tr.run_segment(cap, &mut quiet);
            if let Some(p) = probe.as_mut() {
                traced.push(p.point(&tr, &uvp, &fresh32));
            }
            if err.is_some() || stopped != crate::ot::train::Stopped::Cap || tr.iteration() < cap {
                break;
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        tr.finalize(stopped);
        let seconds = t0.elapsed().as_secs_f64();
        let rep = tr.report();
        rows.push(KnownMapRow {
            name: name.clone(),
            l2_uvp: uvp(&tr.best_map().transport(&fresh32).cast::<f64>()),
            seconds,
            best_iteration: Some(rep.best_iteration),
            trace: traced,
        });
    }
    Ok(rows)
}

/// The criteria of a trace, bound to a trainer's held-out cells.
struct Probe {
    sliced: Evaluator,
    many_theta_seed: u64,
    held_src: Mat<f32>,
    held_tgt: Mat<f32>,
    /// The held-out and the all-cell semi-dual ([`Trace::Full`]).
    duals: Option<(DualEvaluator, DualEvaluator)>,
    pool: Pool,
}

impl Probe {
    fn new(tr: &W2Trainer<f32>, seed: u64, xs: &Mat<f32>, ys: &Mat<f32>, duals: bool) -> Self {
        let (src, tgt) = tr.heldout();
        let mut pool = Pool::new(1);
        Probe {
            sliced: Evaluator::new(Criterion::SlicedW2, tgt.view(), seed, &mut pool),
            many_theta_seed: seed,
            duals: duals.then(|| {
                (
                    DualEvaluator::new(src.view(), tgt.view(), tr.g(), tr.f()),
                    DualEvaluator::new(xs.view(), ys.view(), tr.g(), tr.f()),
                )
            }),
            held_tgt: tgt.clone(),
            held_src: src,
            pool,
        }
    }

    fn point(
        &mut self,
        tr: &W2Trainer<f32>,
        uvp: &dyn Fn(&Mat<f64>) -> f64,
        fresh: &Mat<f32>,
    ) -> TracePoint {
        let map = tr.map();
        let mapped = map.transport(&self.held_src);
        let (dual, dual_resid, dual_iters, dual_all) = match self.duals.as_mut() {
            Some((held, all)) => {
                let dv = held.eval(map.potential(), tr.f());
                let all = all.eval(map.potential(), tr.f()).value;
                (dv.value, dv.max_grad, dv.iterations, all)
            }
            None => (f64::NAN, f64::NAN, 0, f64::NAN),
        };
        let mut rng = Stream::new(
            self.many_theta_seed,
            crate::random::streams::PROJECTIONS + 1000,
        );
        TracePoint {
            iteration: tr.iteration(),
            l2_uvp: uvp(&map.transport(fresh).cast::<f64>()),
            sliced: self.sliced.eval(mapped.view(), &mut self.pool),
            sliced_many: sliced_w2sq(
                mapped.view(),
                self.held_tgt.view(),
                MANY_DIRECTIONS,
                &mut rng,
            )
            .sqrt(),
            dual,
            dual_resid,
            dual_iters,
            dual_all,
        }
    }
}
