//! The W2 minimax solver of \[M20\]/\[B23\] with the displacement-sparsity penalty of \[C25\] (SPEC §3.1, §7.1).
//!
//! Two ICNNs: f (the dual potential on the target side) and g (the map `T = ∇g`). One **outer iteration**
//! ([`W2Trainer::step`]) is, as CellOT's training loop:
//! 1. draw a target batch y (B rows);
//! 2. `g_iters` times: draw a source batch x, take one Adam step of g on
//!    `L_g = mean_x [ f(∇g(x)) − ⟨x, ∇g(x)⟩ ] + λ · mean_x τ(∇g(x) − x) + fnorm · Σ_l ‖relu(−W_l^g)‖_F`;
//! 3. draw a source batch x, take one Adam step of f on `L_f = mean_y f(y) − mean_x f(∇g(x))` (∇g(x) held
//!    fixed), then clamp f's W ≥ 0.
//!
//! # Gradient of L_g (step G), per sample i of a batch of B
//! G1. `T_i = ∇g(x_i)` ([`Icnn::grad_x`]: forward + backward with seed 1 + `E A`).
//! G2. f forward/backward at T_i: `f(T_i)` and `∇f(T_i)`.
//! G3. `∂L_g/∂T_i = V_i = (∇f(T_i) − x_i + λ ∇τ(T_i − x_i)) / B` (chain rule; τ per [`Penalty`]).
//! G4. `∂L_g/∂θ_g = ∂/∂θ_g Σ_i ⟨V_i, ∇g(x_i)⟩` with V held fixed — exactly [`Icnn::map_param_grad`]
//!     (double backprop), reusing the forward/backward of G1.
//! G5. `+ fnorm · ∂/∂θ_g Σ‖relu(−W)‖_F` ([`Icnn::w_penalty`]).
//!
//! # Gradient of L_f (step F)
//! F1. `T_i = ∇g(x_i)` (a constant for f). F2. `∂L_f/∂θ_f = ∂/∂θ_f [Σ_j (1/B) f(y_j) + Σ_i (−1/B) f(T_i)]`:
//! two [`Icnn::param_grad_of_value`] calls with seeds `+1/B` and `−1/B`.
//!
//! # Reported W2 estimate (SPEC §7.1, on the f step's batches)
//! `mean[ f(∇g(x)) − f(y) − ⟨x, ∇g(x)⟩ + ½‖x‖² + ½‖y‖² ]` — an estimate of ½·W2² (measured: ≈ 1.35 on
//! 8gaussians, whose exact W2² is 2.70).
//!
//! # Threads and determinism
//! The batch rows are split into `threads` contiguous chunks; each worker owns its ICNN workspaces and
//! gradient buffers, and the per-worker gradients and loss sums are reduced in worker order. So a given
//! seed and thread count give bit-identical models; different thread counts differ by rounding only.
//! The chunks run on a [`crate::parallel::Pool`] built once per trainer (worker k on chunk k): with one
//! thread nothing is spawned; otherwise `threads − 1` persistent helper threads are woken per step.
//! A step allocates nothing (workspaces are sized in [`W2Trainer::new`], gemm's packing buffer is each
//! thread's own, sized at its first product; checked by tests/alloc.rs). Only the `matrixmultiply`
//! fallback for CPUs without AVX2 allocates a packing buffer per call.
//!
//! # Held-out model selection, early stopping, divergence (the harness, [`crate::ot::train`])
//! Each set is split per side by SPEC §7.7's seeded rule (or the caller passes held-out sets). Every
//! `eval_every` outer iterations (and after the last one) the held-out source is mapped and the
//! selection criterion to the held-out target is computed ([`crate::ot::train::criterion`]; default sliced
//! W2 over fixed directions); the g parameters with the best value are copied into a preallocated buffer and
//! returned by [`W2Trainer::best_map`]. After `patience` evaluations without a new best the run stops.
//! A non-finite loss or gradient stops the step **before** the optimiser update (so the networks keep
//! their last finite parameters) and returns [`crate::Error::Diverged`]; the best model so far stays available
//! through [`W2Trainer::best_map`]. [`fit`] is the convenience wrapper (the error after a divergence);
//! [`W2Trainer::run_until`] reports why it stopped and keeps the trainer for the caller.
//!
//! Files: this one holds the map and the loss/gradient code of one step; [`config`] the options,
//! `trainer` the trainer (state, step loop, evaluation, report).

pub mod config;
pub mod dual;
mod trainer;

pub use config::W2Config;
pub use trainer::{fit, StepStats, W2Report, W2Trainer, SAMPLE_ROWS};

use crate::linalg::{Mat, MatMut, Real};
use crate::nn::icnn::{Activation, Icnn, IcnnWorkspace};
use crate::ot::conjugate::{
    refine, regression_residual, Amortization, ConjugateConfig, ConjugateWorkspace,
};
use crate::ot::penalty::Penalty;
use crate::ot::{map_rows, SavedModel, TransportMap};
use crate::parallel::Pool;
use crate::Result;

/// The model file's `activation` for LeakyReLU (what every model before the ELU option says).
const LEAKY_HYPER: &str = "leaky_relu(0.2), squared first layer";

/// A fitted W2 map `T = ∇g` (g an ICNN).
#[derive(Clone, Debug, PartialEq)]
pub struct W2Map<T> {
    g: Icnn<T>,
}

impl<T: Real> W2Map<T> {
    /// Wraps a trained potential.
    pub fn new(g: Icnn<T>) -> Self {
        W2Map { g }
    }
    /// The potential g.
    pub fn potential(&self) -> &Icnn<T> {
        &self.g
    }
    /// g(x) for every row of `x`.
    pub fn potential_value(&self, x: &Mat<T>) -> Vec<T> {
        assert_eq!(x.cols(), self.g.dim(), "W2 map: input dimension");
        let cap = x.rows().clamp(1, 1024);
        let mut ws = self.g.workspace(cap);
        let mut out = vec![T::ZERO; x.rows()];
        let mut r0 = 0;
        while r0 < x.rows() {
            let r1 = (r0 + cap).min(x.rows());
            self.g
                .value(x.view().rows_range(r0, r1), &mut ws, &mut out[r0..r1]);
            r0 = r1;
        }
        out
    }

    /// Rebuilds a map saved by [`TransportMap::to_saved`]. Every tensor's shape is checked against the
    /// dimension and widths (which are bounded by the values present) *before* the network is allocated,
    /// each tensor is found through one name index, and the network is built once, so loading is linear
    /// in the file size; any mismatch is an `Error::Model`.
    pub fn from_saved(m: &SavedModel<T>) -> Result<Self> {
        if m.method != "w2" {
            return Err(SavedModel::<T>::fail(format!(
                "expected a 'w2' model, found '{}'",
                m.method
            )));
        }
        if m.dim == 0 {
            return Err(SavedModel::<T>::fail("dimension 0"));
        }
        let hidden = m.hyper_widths("hidden", false)?;
        let out_act: bool = m.hyper_parse("output_activation")?;
        let activation = match m.hyper("activation") {
            None | Some(LEAKY_HYPER) => Activation::LeakyRelu,
            Some(a) => Activation::parse(a).ok_or_else(|| {
                SavedModel::<T>::fail(format!(
                    "activation '{a}' (expected '{LEAKY_HYPER}' or 'elu')"
                ))
            })?,
        };
        let n_l = hidden.len();
        let width = |l: usize| if l < n_l { hidden[l] } else { 1 };
        let mut index = m.tensor_index()?;
        let mut blocks: Vec<(&[T], char, usize)> = Vec::with_capacity(3 * n_l + 2);
        for l in 0..=n_l {
            blocks.push((index.shaped(&format!("A{l}"), &[width(l), m.dim])?, 'A', l));
            blocks.push((index.shaped(&format!("b{l}"), &[width(l)])?, 'b', l));
        }
        for l in 1..=n_l {
            blocks.push((
                index.shaped(&format!("W{l}"), &[width(l), hidden[l - 1]])?,
                'W',
                l,
            ));
        }
        // the quadratic path (issue 13): `potential = quadratic-icnn`, rank `quad_rank` ≤ d
        let rank = if m.hyper("potential") == Some("quadratic-icnn") {
            let r: usize = m.hyper_parse("quad_rank")?;
            if r > m.dim {
                return Err(SavedModel::<T>::fail(format!(
                    "quad_rank {r} exceeds the dimension {}",
                    m.dim
                )));
            }
            blocks.push((index.shaped("QL", &[m.dim, r])?, 'L', 0));
            blocks.push((index.shaped("Qs", &[m.dim])?, 's', 0));
            blocks.push((index.shaped("Qbeta", &[m.dim])?, 'q', 0));
            Some(r)
        } else {
            None
        };
        index.finish()?;
        // every size is now paid for by values in the file: allocate once
        let mut g = Icnn::<T>::zeros(m.dim, &hidden, out_act).with_activation(activation);
        if let Some(r) = rank {
            g = g.with_quadratic(r);
        }
        let quad = g.quadratic().copied();
        for (v, kind, l) in blocks {
            let range = match (kind, quad) {
                ('A', _) => g.a_range(l).0,
                ('b', _) => g.b_range(l),
                ('L', Some(q)) => q.l_range(),
                ('s', Some(q)) => q.s_range(),
                ('q', Some(q)) => q.beta_range(),
                _ => g.w_range(l).0,
            };
            g.params_mut()[range].copy_from_slice(v);
        }
        Ok(W2Map { g })
    }
}

impl<T: Real> TransportMap<T> for W2Map<T> {
    fn dim(&self) -> usize {
        self.g.dim()
    }
    fn transport_on(&self, x: &Mat<T>, pool: &mut Pool) -> Mat<T> {
        let d = self.g.dim();
        assert_eq!(x.cols(), d, "W2 map: input dimension");
        // ∇g row by row (chunks of 1024 rows per worker, each with its own workspace)
        map_rows(
            x,
            pool,
            1024,
            |rows| self.g.workspace(rows),
            |ws, xr, out| {
                let dst = MatMut::from_slice(out, xr.rows(), d).expect("chunk shape");
                self.g.grad_x(xr, ws, dst);
            },
        )
    }
    fn to_saved(&self) -> SavedModel<T> {
        let g = &self.g;
        let hidden = g
            .hidden()
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut tensors = Vec::new();
        let p = g.params();
        for l in 0..=g.hidden().len() {
            let (ra, w) = g.a_range(l);
            tensors.push((format!("A{l}"), vec![w, g.dim()], p[ra].to_vec()));
            tensors.push((format!("b{l}"), vec![w], p[g.b_range(l)].to_vec()));
        }
        for l in 1..=g.hidden().len() {
            let (rw, o, i) = g.w_range(l);
            tensors.push((format!("W{l}"), vec![o, i], p[rw].to_vec()));
        }
        let mut quad = Vec::new();
        if let Some(q) = g.quadratic() {
            tensors.push(("QL".into(), vec![q.dim, q.rank], p[q.l_range()].to_vec()));
            tensors.push(("Qs".into(), vec![q.dim], p[q.s_range()].to_vec()));
            tensors.push(("Qbeta".into(), vec![q.dim], p[q.beta_range()].to_vec()));
            quad.push(("quad_rank".to_string(), q.rank.to_string()));
        }
        SavedModel {
            method: "w2".into(),
            dim: g.dim(),
            hyper: vec![
                (
                    "potential".into(),
                    if quad.is_empty() {
                        "icnn"
                    } else {
                        "quadratic-icnn"
                    }
                    .into(),
                ),
                ("hidden".into(), hidden),
                (
                    "activation".into(),
                    match g.activation() {
                        Activation::LeakyRelu => LEAKY_HYPER,
                        a => a.name(),
                    }
                    .into(),
                ),
                (
                    "output_activation".into(),
                    g.output_activation().to_string(),
                ),
            ]
            .into_iter()
            .chain(quad)
            .collect(),
            tensors,
        }
    }
}

/// One worker's share of a batch: rows `r0..r1`, its workspaces, gradient buffers and loss sums.
struct Worker<T> {
    r0: usize,
    r1: usize,
    gws: IcnnWorkspace<T>,
    fws: IcnnWorkspace<T>,
    /// T(x) of the chunk (chunk × d).
    tx: Mat<T>,
    /// ∇f(T(x)), then V (chunk × d).
    v: Mat<T>,
    grad_g: Vec<T>,
    grad_f: Vec<T>,
    /// Seeds +1/B and −1/B (chunk).
    wpos: Vec<T>,
    wneg: Vec<T>,
    /// Loss sums over the chunk (f64).
    sums: Sums,
    /// Conjugate solve scratch, and the refined maximisers y* of the regression g loss (chunk × d).
    conj: ConjugateWorkspace<T>,
    ystar: Mat<T>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    f_tx: f64,
    f_y: f64,
    x_tx: f64,
    tau: f64,
    half_x2: f64,
    half_y2: f64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.f_tx += o.f_tx;
        self.f_y += o.f_y;
        self.x_tx += o.x_tx;
        self.tau += o.tau;
        self.half_x2 += o.half_x2;
        self.half_y2 += o.half_y2;
    }
}

/// The read-only state every worker sees during a step.
struct Shared<'a, T> {
    f: &'a Icnn<T>,
    g: &'a Icnn<T>,
    x: &'a Mat<T>,
    y: &'a Mat<T>,
    penalty: Penalty,
    lambda: T,
    inv_b: T,
    conj: &'a ConjugateConfig,
}

/// Step G (G1–G4) on one worker's rows; gradient into `w.grad_g` (overwritten), sums into `w.sums`.
fn g_step_worker<T: Real>(s: &Shared<'_, T>, w: &mut Worker<T>) {
    let x = s.x.view().rows_range(w.r0, w.r1);
    w.grad_g.fill(T::ZERO);
    // G1
    s.g.grad_x(x, &mut w.gws, w.tx.view_mut());
    if s.conj.amortization == Amortization::Regression {
        return g_regression_worker(s, w);
    }
    // G2
    s.f.forward(w.tx.view(), &mut w.fws);
    s.f.backward(&mut w.fws, None);
    s.f.input_grad(&w.fws, w.v.view_mut());
    let mut sums = Sums {
        f_tx: values_sum(&w.fws),
        ..Sums::default()
    };
    // G3
    let pen = s.penalty;
    for i in 0..x.rows() {
        let (xr, tr) = (x.row(i), w.tx.row(i));
        let d = xr.len();
        let vr = &mut w.v.as_mut_slice()[i * d..(i + 1) * d];
        let mut xt = T::ZERO;
        for j in 0..d {
            xt += xr[j] * tr[j];
            vr[j] -= xr[j];
        }
        sums.tau += pen.add_displacement_grad(xr, tr, s.lambda, vr).to_f64();
        for vj in vr.iter_mut() {
            *vj *= s.inv_b;
        }
        sums.x_tx += xt.to_f64();
    }
    // G4
    s.g.map_param_grad(x, w.v.view(), &mut w.gws, &mut w.grad_g);
    w.sums = sums;
}

/// The g step under regression amortisation ([`crate::ot::conjugate`]): y* refined from ∇g(x),
/// `V_i = (∇g(x_i) − y*_i + λ∇τ(∇g(x_i) − x_i))/B`, then G4. The sums carry `Σ ½‖∇g(x_i) − y*_i‖²` in
/// `f_tx` (and `x_tx = 0`), so the reported L_g is the regression loss.
fn g_regression_worker<T: Real>(s: &Shared<'_, T>, w: &mut Worker<T>) {
    let x = s.x.view().rows_range(w.r0, w.r1);
    w.ystar.as_mut_slice().copy_from_slice(w.tx.as_slice());
    refine(s.conj, s.f, x, w.ystar.view_mut(), &mut w.fws, &mut w.conj);
    let mut sums = Sums::default();
    for i in 0..x.rows() {
        let (xr, tr, yr) = (x.row(i), w.tx.row(i), w.ystar.row(i));
        let d = xr.len();
        let vr = &mut w.v.as_mut_slice()[i * d..(i + 1) * d];
        vr.copy_from_slice(tr);
        sums.f_tx += regression_residual(vr, yr).to_f64();
        sums.tau += s
            .penalty
            .add_displacement_grad(xr, tr, s.lambda, vr)
            .to_f64();
        for vj in vr.iter_mut() {
            *vj *= s.inv_b;
        }
    }
    s.g.map_param_grad(x, w.v.view(), &mut w.gws, &mut w.grad_g);
    w.sums = sums;
}

/// Step F (F1–F2) on one worker's rows; gradient into `w.grad_f` (overwritten), sums into `w.sums`.
fn f_step_worker<T: Real>(s: &Shared<'_, T>, w: &mut Worker<T>) {
    let x = s.x.view().rows_range(w.r0, w.r1);
    let y = s.y.view().rows_range(w.r0, w.r1);
    w.grad_f.fill(T::ZERO);
    // F1
    s.g.grad_x(x, &mut w.gws, w.tx.view_mut());
    // F1': the conjugate refined from the amortised guess (no-op without a solver)
    if s.conj.active() {
        refine(s.conj, s.f, x, w.tx.view_mut(), &mut w.fws, &mut w.conj);
    }
    // F2
    s.f.param_grad_of_value(y, &w.wpos, &mut w.fws, &mut w.grad_f);
    let f_y = values_sum(&w.fws);
    s.f.param_grad_of_value(w.tx.view(), &w.wneg, &mut w.fws, &mut w.grad_f);
    let f_tx = values_sum(&w.fws);
    let mut sums = Sums {
        f_tx,
        f_y,
        ..Sums::default()
    };
    for i in 0..x.rows() {
        let (xr, tr, yr) = (x.row(i), w.tx.row(i), y.row(i));
        let mut xt = T::ZERO;
        let mut x2 = T::ZERO;
        let mut y2 = T::ZERO;
        for j in 0..xr.len() {
            xt += xr[j] * tr[j];
            x2 += xr[j] * xr[j];
            y2 += yr[j] * yr[j];
        }
        sums.x_tx += xt.to_f64();
        sums.half_x2 += 0.5 * x2.to_f64();
        sums.half_y2 += 0.5 * y2.to_f64();
    }
    w.sums = sums;
}

/// Σ_i g(x_i) of the last forward pass, in f64.
fn values_sum<T: Real>(ws: &IcnnWorkspace<T>) -> f64 {
    ws.values().iter().map(|v| v.to_f64()).sum()
}

fn single_worker<T: Real>(f: &Icnn<T>, g: &Icnn<T>, b: usize) -> Worker<T> {
    let inv_b = T::ONE / T::from_usize(b);
    Worker {
        r0: 0,
        r1: b,
        gws: g.workspace(b),
        fws: f.workspace(b),
        tx: Mat::zeros(b, g.dim()),
        v: Mat::zeros(b, g.dim()),
        grad_g: vec![T::ZERO; g.n_params()],
        grad_f: vec![T::ZERO; f.n_params()],
        wpos: vec![inv_b; b],
        wneg: vec![-inv_b; b],
        sums: Sums::default(),
        conj: ConjugateWorkspace::new(&ConjugateConfig::default(), b, g.dim()),
        ystar: Mat::zeros(0, g.dim()),
    }
}

/// `L_g` of one batch and `grads ← ∂L_g/∂θ_g` (steps G1–G5), by the code path of [`W2Trainer::step`]
/// with one worker. For tests and tools (allocates its workspaces).
pub fn g_loss_and_grad<T: Real>(
    f: &Icnn<T>,
    g: &Icnn<T>,
    x: &Mat<T>,
    penalty: Penalty,
    lambda: f64,
    fnorm: f64,
    grads: &mut [T],
) -> f64 {
    let b = x.rows();
    let mut w = single_worker(f, g, b);
    let shared = Shared {
        f,
        g,
        x,
        y: x,
        penalty,
        lambda: T::from_f64(lambda),
        inv_b: T::ONE / T::from_usize(b),
        conj: &ConjugateConfig::default(),
    };
    g_step_worker(&shared, &mut w);
    grads.copy_from_slice(&w.grad_g);
    let p = if fnorm > 0.0 {
        g.w_penalty(T::from_f64(fnorm), Some(grads)).to_f64()
    } else {
        0.0
    };
    let bf = b as f64;
    (w.sums.f_tx - w.sums.x_tx) / bf + lambda * w.sums.tau / bf + fnorm * p
}

/// `L_f` of one batch pair and `grads ← ∂L_f/∂θ_f` (steps F1–F2), by the code path of
/// [`W2Trainer::step`] with one worker. For tests and tools (allocates its workspaces).
pub fn f_loss_and_grad<T: Real>(
    f: &Icnn<T>,
    g: &Icnn<T>,
    x: &Mat<T>,
    y: &Mat<T>,
    grads: &mut [T],
) -> f64 {
    assert_eq!(x.rows(), y.rows(), "f loss: batches differ in size");
    let b = x.rows();
    let mut w = single_worker(f, g, b);
    let shared = Shared {
        f,
        g,
        x,
        y,
        penalty: Penalty::None,
        lambda: T::ZERO,
        inv_b: T::ONE / T::from_usize(b),
        conj: &ConjugateConfig::default(),
    };
    f_step_worker(&shared, &mut w);
    grads.copy_from_slice(&w.grad_f);
    (w.sums.f_y - w.sums.f_tx) / b as f64
}

/// gemm FLOPs of one outer iteration (g_iters g steps + one f step, batch b, input dimension d), mirroring
/// the gemm calls of this module and `nn::icnn` (2·m·k·n per product; elementwise work not counted).
///
/// With `H1 = Σh + 1` (stacked A rows), `w_l` the widths (w_L = 1), `P = Σ_{l=1..L} 2B w_l w_{l−1}`
/// (all W products on a batch) and `P' = P − 2B w_L w_{L−1}` (without the output row):
/// forward `F = 2BdH1 + P`; backward `Bk = P'`; input gradient `IG = 2BH1d`;
/// map parameter gradient `M = 2BdH1 (U̇) + P' (tangent) + 2H1Bd (∂A) + 2h0Bd (∂A0) + P (∂W)`;
/// value parameter gradient `VP = 2H1Bd + P`.
/// g step = g: F + Bk + IG + M, f: F + Bk + IG. f step = g: F + Bk + IG, f: 2·(F + Bk + VP).
pub fn gemm_flops_per_outer_iteration(d: usize, b: usize, hidden: &[usize], g_iters: usize) -> f64 {
    let (d, b) = (d as f64, b as f64);
    let h1 = hidden.iter().sum::<usize>() as f64 + 1.0;
    let mut widths: Vec<f64> = hidden.iter().map(|&h| h as f64).collect();
    widths.push(1.0);
    let p: f64 = (1..widths.len())
        .map(|l| 2.0 * b * widths[l] * widths[l - 1])
        .sum();
    let last = widths.len() - 1;
    let p_no_out = p - 2.0 * b * widths[last] * widths[last - 1];
    let fwd = 2.0 * b * d * h1 + p;
    let bk = p_no_out;
    let ig = 2.0 * b * h1 * d;
    let m = 2.0 * b * d * h1 + p_no_out + 2.0 * h1 * b * d + 2.0 * widths[0] * b * d + p;
    let vp = 2.0 * h1 * b * d + p;
    let g_step = (fwd + bk + ig + m) + (fwd + bk + ig);
    let f_step = (fwd + bk + ig) + 2.0 * (fwd + bk + vp);
    g_iters as f64 * g_step + f_step
}
