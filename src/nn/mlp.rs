//! Plain MLPs of the W1 solver's second phase (SPEC §2.3, §7.6): the step size η(x) ≥ 0 and the
//! discriminator D(x) (a logit), plus the logit-form binary cross-entropy they are trained with.
//!
//! # Architecture
//! Widths `w_0 = d, w_1, …, w_L` (default \[64\]×4), LeakyReLU σ with slope 0.01 (w1ot §7.6):
//! `u_l = a_{l−1} W_lᵀ + 1 b_lᵀ`, `a_l = σ(u_l)` (l = 1..L, `a_0 = x`); output `o = a_L w_outᵀ + b_out`
//! (a scalar per sample) and `y = φ(o)` with φ = softplus (η, so η ≥ 0) or the identity (D's logit).
//! Parameters, one flat buffer, per layer: `W_l` (w_l × w_{l−1}, row-major), `b_l`; then `w_out`
//! (1 × w_L), `b_out`. Initialisation as PyTorch's `nn.Linear`: `W, b ~ U(±1/√fan_in)`.
//!
//! # Backward with per-sample output seeds ȳ_i (vector–Jacobian product of Σ_i ȳ_i y_i)
//! 1. `ō_i = ȳ_i φ'(o_i)` (softplus' = logistic sigmoid; identity' = 1);
//! 2. `w̄_out += ōᵀ a_L`, `b̄_out += Σ_i ō_i`, `ā_L = ō w_out` (outer product: row i is `ō_i w_out`);
//! 3. for l = L..1: `ū_l = ā_l ⊙ σ'(u_l)` (σ' = 1 for u > 0, else the slope); `W̄_l += ū_lᵀ a_{l−1}`,
//!    `b̄_l += 1ᵀ ū_l`, `ā_{l−1} = ū_l W_l` (for l = 1 this is the input gradient, computed on request).
//!
//! Each layer's affine map and its three adjoints are the dense layer's steps L1–L4
//! ([`crate::nn::dense`]); this file adds σ, φ and their derivatives.
//!
//! # Losses in logit form (numerically stable BCE, replacing w1ot's `log(· + 1e-6)` guards)
//! With logits `l` and `σ` the logistic function: `−log σ(l) = softplus(−l)` (a "real" label) and
//! `−log(1 − σ(l)) = softplus(l)` (a "fake" label); derivatives `−σ(−l)` and `σ(l)`.

use crate::linalg::ops::{sigmoid, softplus};
use crate::linalg::{Mat, MatMut, MatRef, Real};
use crate::nn::dense;
use crate::random::Stream;

/// Output activation φ of an [`Mlp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputAct {
    /// No activation (a logit).
    Identity,
    /// softplus, so the output is ≥ 0.
    Softplus,
}

/// Architecture of an [`Mlp`].
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    /// Hidden widths (default \[64\]×4).
    pub hidden: Vec<usize>,
    /// Negative slope of the LeakyReLU (0.01).
    pub leaky_slope: f64,
    /// Output activation.
    pub output: OutputAct,
}

impl MlpConfig {
    /// The step size η(x) of w1ot: \[64\]×4, LeakyReLU(0.01), softplus output.
    pub fn step_size() -> Self {
        MlpConfig {
            hidden: vec![64; 4],
            leaky_slope: 0.01,
            output: OutputAct::Softplus,
        }
    }
    /// The discriminator of w1ot: same body, logit output.
    pub fn discriminator() -> Self {
        MlpConfig {
            output: OutputAct::Identity,
            ..Self::step_size()
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Layer {
    rows: usize,
    cols: usize,
    w: usize,
    b: usize,
}

/// A fully connected network with a scalar output (see the module doc).
#[derive(Clone, Debug)]
pub struct Mlp<T> {
    cfg: MlpConfig,
    dim: usize,
    layers: Vec<Layer>,
    params: Vec<T>,
}

/// Per-batch workspace of an [`Mlp`], sized once.
#[derive(Clone, Debug)]
pub struct MlpWork<T> {
    batch: usize,
    /// Pre-activations u_l and activations a_l (l = 1..L).
    u: Vec<Mat<T>>,
    a: Vec<Mat<T>>,
    abar: Vec<Mat<T>>,
    ubar: Vec<Mat<T>>,
    /// Output pre-activation o (B × 1) and output y = φ(o).
    o: Mat<T>,
    y: Mat<T>,
    obar: Mat<T>,
    /// Input gradient (B × d).
    gx: Mat<T>,
    ones: Vec<T>,
}

impl<T: Real> MlpWork<T> {
    /// Outputs y of the last forward.
    pub fn outputs(&self) -> &[T] {
        self.y.as_slice()
    }
    /// Output pre-activations o of the last forward (the logits for an identity output).
    pub fn logits(&self) -> &[T] {
        self.o.as_slice()
    }
    /// Input gradient of the last backward with `want_gx`.
    pub fn grad_x(&self) -> &Mat<T> {
        &self.gx
    }
    /// Batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

impl<T: Real> Mlp<T> {
    /// A network on inputs of dimension `dim`, initialised from `rng` as PyTorch's `nn.Linear`.
    pub fn new(dim: usize, cfg: MlpConfig, rng: &mut Stream) -> Self {
        let mut widths = vec![dim];
        widths.extend_from_slice(&cfg.hidden);
        widths.push(1);
        let mut layers = Vec::new();
        let mut off = 0;
        for l in 1..widths.len() {
            let (rows, cols) = (widths[l], widths[l - 1]);
            layers.push(Layer {
                rows,
                cols,
                w: off,
                b: off + rows * cols,
            });
            off += rows * cols + rows;
        }
        let mut params = vec![T::ZERO; off];
        for ly in &layers {
            let bound = 1.0 / (ly.cols.max(1) as f64).sqrt();
            rng.fill_uniform(
                &mut params[ly.w..ly.b + ly.rows],
                T::from_f64(-bound),
                T::from_f64(bound),
            );
        }
        Mlp {
            cfg,
            dim,
            layers,
            params,
        }
    }

    /// The architecture.
    pub fn config(&self) -> &MlpConfig {
        &self.cfg
    }
    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }
    /// The flat parameters.
    pub fn params(&self) -> &[T] {
        &self.params
    }
    /// The flat parameters, mutable.
    pub fn params_mut(&mut self) -> &mut [T] {
        &mut self.params
    }

    /// A workspace for batches of `batch` rows.
    pub fn work(&self, batch: usize) -> MlpWork<T> {
        let h = &self.cfg.hidden;
        MlpWork {
            batch,
            u: h.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            a: h.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            abar: h.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            ubar: h.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            o: Mat::zeros(batch, 1),
            y: Mat::zeros(batch, 1),
            obar: Mat::zeros(batch, 1),
            gx: Mat::zeros(batch, self.dim),
            ones: vec![T::ONE; batch],
        }
    }

    fn wmat(&self, l: usize) -> MatRef<'_, T> {
        let ly = self.layers[l];
        MatRef::from_slice(&self.params[ly.w..ly.b], ly.rows, ly.cols).expect("layer block")
    }

    /// Forward pass on the rows of `x` (B × d): outputs in [`MlpWork::outputs`].
    pub fn forward(&self, x: MatRef<'_, T>, ws: &mut MlpWork<T>) {
        assert_eq!(x.rows(), ws.batch, "Mlp: batch size");
        assert_eq!(x.cols(), self.dim, "Mlp: input dimension");
        let nh = self.cfg.hidden.len();
        let slope = T::from_f64(self.cfg.leaky_slope);
        for l in 0..nh {
            let ly = self.layers[l];
            let ain = if l == 0 { x } else { ws.a[l - 1].view() };
            // u_l = a_{l−1} W_lᵀ + 1 b_lᵀ, a_l = σ(u_l)
            dense::forward(
                ain,
                self.wmat(l),
                &self.params[ly.b..ly.b + ly.rows],
                &mut ws.u[l],
            );
            for (av, &uv) in ws.a[l].as_mut_slice().iter_mut().zip(ws.u[l].as_slice()) {
                *av = if uv > T::ZERO { uv } else { slope * uv };
            }
        }
        // o = a_L w_outᵀ + b_out
        let last = self.layers[nh];
        let ain = if nh == 0 { x } else { ws.a[nh - 1].view() };
        dense::forward(
            ain,
            self.wmat(nh),
            &self.params[last.b..last.b + 1],
            &mut ws.o,
        );
        // y = φ(o)
        for (y, o) in ws.y.as_mut_slice().iter_mut().zip(ws.o.as_mut_slice()) {
            *y = match self.cfg.output {
                OutputAct::Identity => *o,
                OutputAct::Softplus => softplus(*o),
            };
        }
    }

    /// Backward after [`Self::forward`] on the same `x`, with output seeds `y_bar` (module doc steps
    /// 1–3): parameter gradients accumulate into `grads` when given; the input gradient lands in
    /// [`MlpWork::grad_x`] when `want_gx`.
    pub fn backward(
        &self,
        x: MatRef<'_, T>,
        y_bar: &[T],
        ws: &mut MlpWork<T>,
        mut grads: Option<&mut [T]>,
        want_gx: bool,
    ) {
        let bsz = ws.batch;
        assert_eq!(y_bar.len(), bsz, "Mlp: seed length");
        if let Some(g) = grads.as_deref() {
            assert_eq!(g.len(), self.params.len(), "Mlp: gradient length");
        }
        let nh = self.cfg.hidden.len();
        let slope = T::from_f64(self.cfg.leaky_slope);
        // step 1
        for ((ob, &yb), &o) in ws
            .obar
            .as_mut_slice()
            .iter_mut()
            .zip(y_bar)
            .zip(ws.o.as_slice())
        {
            *ob = match self.cfg.output {
                OutputAct::Identity => yb,
                OutputAct::Softplus => yb * sigmoid(o),
            };
        }
        // step 2
        let last = self.layers[nh];
        let ain = if nh == 0 { x } else { ws.a[nh - 1].view() };
        if let Some(g) = grads.as_deref_mut() {
            let gw = MatMut::from_slice(&mut g[last.w..last.b], 1, last.cols).expect("w_out");
            dense::weight_grad(ws.obar.view(), ain, T::ONE, gw);
            g[last.b] += ws.obar.as_slice().iter().copied().sum::<T>();
        }
        if nh == 0 {
            if want_gx {
                dense::input_grad(ws.obar.view(), self.wmat(0), ws.gx.view_mut());
            }
            return;
        }
        dense::input_grad(ws.obar.view(), self.wmat(nh), ws.abar[nh - 1].view_mut());
        // step 3
        for l in (0..nh).rev() {
            let ly = self.layers[l];
            for ((ub, &ab), &u) in ws.ubar[l]
                .as_mut_slice()
                .iter_mut()
                .zip(ws.abar[l].as_slice())
                .zip(ws.u[l].as_slice())
            {
                *ub = if u > T::ZERO { ab } else { slope * ab };
            }
            let ain = if l == 0 { x } else { ws.a[l - 1].view() };
            let ubar = ws.ubar[l].view();
            if let Some(g) = grads.as_deref_mut() {
                let gw = MatMut::from_slice(&mut g[ly.w..ly.b], ly.rows, ly.cols).expect("W");
                dense::weight_grad(ubar, ain, T::ONE, gw);
                dense::bias_grad(&ws.ones, ubar, &mut g[ly.b..ly.b + ly.rows]);
            }
            if l > 0 {
                dense::input_grad(ubar, self.wmat(l), ws.abar[l - 1].view_mut());
            } else if want_gx {
                dense::input_grad(ubar, self.wmat(0), ws.gx.view_mut());
            }
        }
    }

    /// Outputs for any number of rows (not a hot path: allocates a workspace).
    pub fn outputs(&self, x: &Mat<T>) -> Vec<T> {
        let mut ws = self.work(x.rows());
        self.forward(x.view(), &mut ws);
        ws.y.as_slice().to_vec()
    }
}

/// `−log σ(l)` = softplus(−l): BCE of a logit against the label "real".
#[inline]
pub fn bce_real<T: Real>(l: T) -> T {
    softplus(-l)
}

/// d/dl of [`bce_real`]: `−σ(−l)`.
#[inline]
pub fn bce_real_grad<T: Real>(l: T) -> T {
    -sigmoid(-l)
}

/// `−log(1 − σ(l))` = softplus(l): BCE of a logit against the label "fake".
#[inline]
pub fn bce_fake<T: Real>(l: T) -> T {
    softplus(l)
}

/// d/dl of [`bce_fake`]: `σ(l)`.
#[inline]
pub fn bce_fake_grad<T: Real>(l: T) -> T {
    sigmoid(l)
}
