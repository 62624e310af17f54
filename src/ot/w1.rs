//! Wasserstein-1 neural OT solver (\[W1\], w1ot; SPEC §3.4, §7.6).
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
//! # Model selection, early stopping, divergence (the harness, [`crate::ot::train`])
//! Each set is split per side by SPEC §7.7's seeded rule (`heldout_frac`, default 0.1; or the caller's own
//! held-out sets). Every `eval_every` phase-2 iterations (default 1000) the selection criterion
//! ([`crate::ot::train::criterion`], default sliced W2 over fixed directions) between `T(x_held)` and `y_held` is
//! measured; the step-size parameters with the best finite value are kept (a non-finite evaluation is
//! never kept), and after `patience` evaluations without a new best phase 2 stops. Every loss and
//! gradient (potential, discriminator, generator) is checked before its update.
//!
//! Files: this one holds the phase-2 losses and the map; [`config`] the options and the report,
//! `trainer` the trainer and [`fit`].
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

pub mod config;
mod trainer;

pub use config::{W1Config, W1Report};
pub use trainer::{fit, W1Trainer};

use crate::linalg::{Mat, MatRef, Real};
use crate::nn::dense;
use crate::nn::lipschitz::{LipschitzConfig, LipschitzNet, Orthonormaliser};
use crate::nn::mlp::{bce_fake, bce_fake_grad, bce_real, bce_real_grad, Mlp, MlpConfig, MlpWork};
use crate::ot::{map_rows, SavedModel, TransportMap};
use crate::parallel::Pool;
use crate::random::{streams, Stream};
use crate::{Error, Result};

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

/// Rows per chunk of [`W1Map`]'s `transport` (its workspaces hold this many rows).
pub const W1_MAP_CHUNK: usize = 1024;

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
        // Parameter counts from the architecture alone (the dense layers of LipschitzNet and Mlp).
        let too_big = || fail("the architecture's parameter count overflows".into());
        let cayley = usize::from(matches!(pot_cfg.ortho, Orthonormaliser::Cayley));
        let n_pot = dense::param_count(s.dim, &pot_cfg.hidden, cayley).ok_or_else(too_big)?;
        let n_step = dense::param_count(s.dim, &step_cfg.hidden, 0).ok_or_else(too_big)?;
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

    fn transport_on(&self, x: &Mat<T>, pool: &mut Pool) -> Mat<T> {
        assert_eq!(x.cols(), self.dim(), "W1Map: input dimension");
        // Rows in chunks of W1_MAP_CHUNK per worker (`map_rows`): the work buffers hold one chunk, not
        // every row; each row's arithmetic does not depend on its chunk, so the result does not either.
        let dim = x.cols();
        let work = |rows| {
            let grad = Mat::zeros(rows, dim);
            (self.potential.work(rows), self.step.work(rows), grad)
        };
        map_rows(x, pool, W1_MAP_CHUNK, work, |(pw, sw, d), xv, out| {
            self.potential.grad_x(xv, pw);
            d.as_mut_slice().copy_from_slice(pw.grad_x().as_slice());
            normalise_rows(d);
            self.step.forward(xv, sw);
            for (i, &e) in sw.outputs().iter().enumerate() {
                let dst = &mut out[i * dim..(i + 1) * dim];
                for ((o, &xk), &dk) in dst.iter_mut().zip(xv.row(i)).zip(d.row(i)) {
                    let v = xk - e * dk;
                    *o = if self.positive { v.max(T::ZERO) } else { v };
                }
            }
        })
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
