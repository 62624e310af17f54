//! 1-Lipschitz potential network `LipschitzNet` (\[A19\], \[W1\]; SPEC §2.2, §7.6).
//!
//! # Architecture
//! Widths `w_0 = d, w_1, …, w_L` (default hidden \[64\]×4). Layer l = 0..L−1:
//! `z_l = h_l Q_lᵀ + 1 b_lᵀ`, `h_{l+1} = GroupSort(z_l)`, with `h_0 = x` (batch rows) and
//! `Q_l = orth(W_l)` (Björck or Cayley, [`Orthonormaliser`]); output `f = h_L qᵀ + b_out` with
//! `q = orth(w_out)` a unit-norm 1×w_L row; no output activation. Every `Q_l` has spectral norm ≤ 1
//! and GroupSort is a permutation, so `f` is 1-Lipschitz.
//!
//! Parameters (one flat buffer, per layer in order): `W_l` (w_{l+1}×w_l, row-major), `b_l` (w_{l+1}),
//! and for Cayley the scale `α_l` (1); then `w_out` (1×w_L), `b_out` (1), and `α_out` for Cayley.
//!
//! # Backward with per-sample seeds s_i (vector–Jacobian product of Σ_i s_i f(x_i))
//! 1. `h̄_L = s qᵀ`-rows: `h̄_{L,i} = s_i q`; `q̄ += Σ_i s_i h_{L,i}` = `sᵀ H_L`; `b̄_out += Σ_i s_i`.
//! 2. For l = L−1..0: `z̄_l = GroupSortᵀ(h̄_{l+1})` (scatter by the stored argsort);
//!    `Q̄_l += z̄_lᵀ h_l`; `b̄_l += 1ᵀ z̄_l`; `h̄_l = z̄_l Q_l` (skipped for l = 0 unless ∇x is wanted).
//! 3. `∇_x Σ_i s_i f(x_i)` row i is `h̄_{0,i}`; with `s = 1` it is `∇f(x_i)`.
//!    (The layers' `z_l`, `Q̄_l`, `b̄_l` and `h̄_l` are the dense layer's steps L1–L4 with weight Q_l,
//!    [`crate::nn::dense`].)
//! 4. Through the orthonormaliser: `W̄_l += orth'(W_l)ᵀ[Q̄_l]` (and `ᾱ_l`) — see
//!    [`crate::linalg::bjorck`] and [`crate::linalg::cayley`].
//!
//! The orthonormalisation runs once per training step for the whole batch ([`LipschitzNet::orthonormalise`]);
//! the Q's stay cached for inference until the parameters change.

use crate::linalg::bjorck::{Bjorck, BjorckWork};
use crate::linalg::cayley::{cayley_backward, cayley_forward, CayleyWork};
use crate::linalg::{gemm, Mat, MatRef, Op, Real};
use crate::nn::dense;
use crate::nn::groupsort::GroupSort;
use crate::parallel::Pool;
use crate::random::Stream;

/// How the weights are orthonormalised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Orthonormaliser {
    /// Björck iteration with the given settings.
    Bjorck(Bjorck),
    /// Cayley transform with a learnable scale α (w1ot).
    Cayley,
}

/// Architecture of a [`LipschitzNet`].
#[derive(Clone, Debug, PartialEq)]
pub struct LipschitzConfig {
    /// Hidden widths (default [64, 64, 64, 64]).
    pub hidden: Vec<usize>,
    /// GroupSort group size; `None` = w1ot's default, width / 4 (4 groups).
    pub group_size: Option<usize>,
    /// Sort groups in descending order (w1ot) instead of ascending.
    pub descending: bool,
    /// Orthonormaliser used in training.
    pub ortho: Orthonormaliser,
    /// Orthonormaliser used for the cached Q at export / inference (Björck: w1ot's order 4 × 100).
    pub ortho_export: Orthonormaliser,
}

impl Default for LipschitzConfig {
    fn default() -> Self {
        LipschitzConfig {
            hidden: vec![64; 4],
            group_size: None,
            descending: true,
            ortho: Orthonormaliser::Cayley,
            ortho_export: Orthonormaliser::Cayley,
        }
    }
}

impl LipschitzConfig {
    /// The Björck variant of the default (order 2 × 20 in training, order 4 × 100 at export).
    pub fn bjorck() -> Self {
        LipschitzConfig {
            ortho: Orthonormaliser::Bjorck(Bjorck::training()),
            ortho_export: Orthonormaliser::Bjorck(Bjorck::export()),
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug)]
enum OrthoWork<T> {
    Bjorck(BjorckWork<T>),
    Cayley(CayleyWork<T>),
}

/// One layer's orthonormaliser: its workspace and what it last produced — `Q_l` (forward) and
/// `W̄_l`, `ᾱ_l` (backward) — so that the layers, which are independent, can run on different threads
/// and their results be gathered in layer order.
#[derive(Clone, Debug)]
struct OrthoSlot<T> {
    work: OrthoWork<T>,
    q: Mat<T>,
    wbar: Vec<T>,
    abar: T,
}

#[derive(Clone, Copy, Debug)]
struct Layer {
    rows: usize,
    cols: usize,
    w: usize,
    b: usize,
    alpha: Option<usize>,
}

/// The 1-Lipschitz potential (see the module doc).
#[derive(Clone, Debug)]
pub struct LipschitzNet<T> {
    cfg: LipschitzConfig,
    dim: usize,
    layers: Vec<Layer>,
    sorts: Vec<GroupSort>,
    params: Vec<T>,
    /// Cached Q per layer (last one 1×w_L).
    q: Vec<Mat<T>>,
    ortho_ws: Vec<OrthoSlot<T>>,
    /// Which orthonormaliser produced the cached Q (None = stale).
    q_state: Option<Orthonormaliser>,
    q_recorded: bool,
}

/// Per-batch workspace of a [`LipschitzNet`], sized once for a batch size.
#[derive(Clone, Debug)]
pub struct LipschitzWork<T> {
    batch: usize,
    /// Pre-activations z_l (B × w_{l+1}).
    z: Vec<Mat<T>>,
    /// Hidden states h_1..h_L (B × w_l).
    h: Vec<Mat<T>>,
    perm: Vec<Vec<u32>>,
    /// z̄ and h̄ scratch per hidden layer.
    zbar: Vec<Mat<T>>,
    hbar: Vec<Mat<T>>,
    /// Values f(x_i).
    out: Mat<T>,
    /// ∇x (B × d).
    gx: Mat<T>,
    /// Q̄ per layer.
    qbar: Vec<Mat<T>>,
    ones: Vec<T>,
}

/// Row-range shards of a batch with one workspace and one partial gradient each (see
/// [`LipschitzNet::param_grad_of_value_sharded`]).
#[derive(Clone, Debug)]
pub struct LipschitzShards<T> {
    batch: usize,
    shards: Vec<(usize, usize, LipschitzWork<T>, Vec<T>)>,
}

impl<T> LipschitzShards<T> {
    /// Number of shards (threads).
    pub fn len(&self) -> usize {
        self.shards.len()
    }
    /// Whether there are no shards (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

impl<T: Real> LipschitzWork<T> {
    /// The values of the last forward (length B).
    pub fn values(&self) -> &[T] {
        self.out.as_slice()
    }
    /// The input gradients of the last [`LipschitzNet::grad_x`] (B × d).
    pub fn grad_x(&self) -> &Mat<T> {
        &self.gx
    }
    /// Batch size this workspace was sized for.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

impl<T: Real> LipschitzNet<T> {
    /// A network for inputs of dimension `dim`, initialised from `rng` as w1ot (SPEC §7.6):
    /// Cayley layers `W ~ U(±1/√in)` (PyTorch's Linear default), `b ~ U(−1, 1)`, `α = ‖W‖_F`;
    /// Björck layers `W ~ N(0, 2/in)` (Kaiming normal), `b ~ U(±1/√in)`.
    pub fn new(dim: usize, cfg: LipschitzConfig, rng: &mut Stream) -> Self {
        let mut widths = vec![dim];
        widths.extend_from_slice(&cfg.hidden);
        let mut layers = Vec::new();
        let mut off = 0;
        let cayley = matches!(cfg.ortho, Orthonormaliser::Cayley);
        for l in 0..widths.len() {
            let (rows, cols) = if l + 1 < widths.len() {
                (widths[l + 1], widths[l])
            } else {
                (1, widths[l])
            };
            let w = off;
            let b = w + rows * cols;
            off = b + rows;
            let alpha = if cayley {
                off += 1;
                Some(off - 1)
            } else {
                None
            };
            layers.push(Layer {
                rows,
                cols,
                w,
                b,
                alpha,
            });
        }
        let mut params = vec![T::ZERO; off];
        for ly in &layers {
            let fan_in = ly.cols.max(1) as f64;
            let bound = 1.0 / fan_in.sqrt();
            let wsl = &mut params[ly.w..ly.w + ly.rows * ly.cols];
            if cayley {
                rng.fill_uniform(wsl, T::from_f64(-bound), T::from_f64(bound));
                let norm = crate::linalg::ops::norm2(wsl);
                rng.fill_uniform(&mut params[ly.b..ly.b + ly.rows], T::from_f64(-1.0), T::ONE);
                params[ly.alpha.unwrap()] = norm;
            } else {
                rng.fill_normal(wsl, T::ZERO, T::from_f64((2.0 / fan_in).sqrt()));
                rng.fill_uniform(
                    &mut params[ly.b..ly.b + ly.rows],
                    T::from_f64(-bound),
                    T::from_f64(bound),
                );
            }
        }
        let sorts = cfg
            .hidden
            .iter()
            .map(|&w| GroupSort {
                group: cfg.group_size.unwrap_or((w / 4).max(1)),
                descending: cfg.descending,
            })
            .collect();
        let q = layers
            .iter()
            .map(|ly| Mat::zeros(ly.rows, ly.cols))
            .collect();
        let ortho_ws = Self::make_ortho_ws(&layers, cfg.ortho);
        LipschitzNet {
            cfg,
            dim,
            layers,
            sorts,
            params,
            q,
            ortho_ws,
            q_state: None,
            q_recorded: false,
        }
    }

    fn make_ortho_ws(layers: &[Layer], o: Orthonormaliser) -> Vec<OrthoSlot<T>> {
        layers
            .iter()
            .map(|ly| OrthoSlot {
                work: match o {
                    Orthonormaliser::Bjorck(b) => {
                        OrthoWork::Bjorck(BjorckWork::new(ly.rows, ly.cols, b))
                    }
                    Orthonormaliser::Cayley => OrthoWork::Cayley(CayleyWork::new(ly.rows, ly.cols)),
                },
                q: Mat::zeros(ly.rows, ly.cols),
                wbar: vec![T::ZERO; ly.rows * ly.cols],
                abar: T::ZERO,
            })
            .collect()
    }

    /// Checks that every group size divides its width (call before training; `new` does not fail).
    pub fn validate(&self) -> crate::Result<()> {
        for (l, (s, &w)) in self.sorts.iter().zip(&self.cfg.hidden).enumerate() {
            if s.group == 0 || w % s.group != 0 {
                return Err(crate::Error::Usage(format!(
                    "GroupSort group size {} does not divide hidden width {w} (layer {})",
                    s.group,
                    l + 1
                )));
            }
        }
        if matches!(self.cfg.ortho, Orthonormaliser::Cayley)
            != matches!(self.cfg.ortho_export, Orthonormaliser::Cayley)
        {
            return Err(crate::Error::Usage(
                "training and export orthonormalisers must both be Cayley or both Björck".into(),
            ));
        }
        Ok(())
    }

    /// The architecture.
    pub fn config(&self) -> &LipschitzConfig {
        &self.cfg
    }
    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }
    /// The flat parameter buffer.
    pub fn params(&self) -> &[T] {
        &self.params
    }
    /// The flat parameter buffer, mutable (invalidates the cached Q).
    pub fn params_mut(&mut self) -> &mut [T] {
        self.q_state = None;
        &mut self.params
    }
    /// Shapes of the weight blocks (rows, cols) per layer, the last being 1 × w_L.
    pub fn weight_shapes(&self) -> Vec<(usize, usize)> {
        self.layers.iter().map(|l| (l.rows, l.cols)).collect()
    }

    /// Computes every `Q_l` from the parameters with the training (`export = false`) or export
    /// orthonormaliser. Training calls this once per step before [`Self::param_grad_of_value`].
    pub fn orthonormalise(&mut self, export: bool) {
        self.orthonormalise_on(export, None);
    }

    /// As [`Self::orthonormalise`], the layers (independent of each other) spread over the workers of
    /// `pool`, layer l on worker l mod threads. Same result for every pool size.
    pub fn orthonormalise_on(&mut self, export: bool, pool: Option<&mut Pool>) {
        let o = if export {
            self.cfg.ortho_export
        } else {
            self.cfg.ortho
        };
        let record = !export;
        // workspaces follow the chosen orthonormaliser (re-made only when it changes)
        let need = match (&self.ortho_ws[0].work, o) {
            (OrthoWork::Bjorck(w), Orthonormaliser::Bjorck(b)) => w.config() != b,
            (OrthoWork::Cayley(_), Orthonormaliser::Cayley) => false,
            _ => true,
        };
        if need {
            self.ortho_ws = Self::make_ortho_ws(&self.layers, o);
        }
        let (layers, params) = (&self.layers, &self.params);
        for_each_slot(&mut self.ortho_ws, pool, |l, slot| {
            let ly = &layers[l];
            let w = MatRef::from_slice(&params[ly.w..ly.w + ly.rows * ly.cols], ly.rows, ly.cols)
                .expect("layer block");
            match (&mut slot.work, o) {
                (OrthoWork::Bjorck(ws), Orthonormaliser::Bjorck(b)) => {
                    b.forward(w, slot.q.view_mut(), ws, record)
                }
                (OrthoWork::Cayley(ws), Orthonormaliser::Cayley) => {
                    cayley_forward(w, Some(params[ly.alpha.unwrap()]), slot.q.view_mut(), ws)
                }
                _ => unreachable!("workspace matches the orthonormaliser"),
            }
        });
        for (q, slot) in self.q.iter_mut().zip(&self.ortho_ws) {
            q.as_mut_slice().copy_from_slice(slot.q.as_slice());
        }
        self.q_state = Some(o);
        self.q_recorded = record;
    }

    /// Whether cached Q's exist for the current parameters.
    pub fn has_q(&self) -> bool {
        self.q_state.is_some()
    }

    /// The cached Q's (per layer; the last is the 1 × w_L output row).
    pub fn q(&self) -> &[Mat<T>] {
        &self.q
    }

    /// A workspace for batches of up to `batch` rows.
    pub fn work(&self, batch: usize) -> LipschitzWork<T> {
        let hid = &self.cfg.hidden;
        LipschitzWork {
            batch,
            z: hid.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            h: hid.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            perm: hid.iter().map(|&w| vec![0u32; batch * w]).collect(),
            zbar: hid.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            hbar: hid.iter().map(|&w| Mat::zeros(batch, w)).collect(),
            out: Mat::zeros(batch, 1),
            gx: Mat::zeros(batch, self.dim),
            qbar: self
                .layers
                .iter()
                .map(|l| Mat::zeros(l.rows, l.cols))
                .collect(),
            ones: vec![T::ONE; batch],
        }
    }

    /// Forward pass on the rows of `x` (B × d, B = the workspace's batch): values in
    /// [`LipschitzWork::values`]. Needs cached Q ([`Self::orthonormalise`]).
    pub fn forward(&self, x: MatRef<'_, T>, ws: &mut LipschitzWork<T>) {
        assert!(self.q_state.is_some(), "LipschitzNet: orthonormalise first");
        assert_eq!(x.rows(), ws.batch, "LipschitzNet: batch size");
        assert_eq!(x.cols(), self.dim, "LipschitzNet: input dimension");
        let nh = self.cfg.hidden.len();
        for l in 0..nh {
            let ly = self.layers[l];
            let hin = if l == 0 { x } else { ws.h[l - 1].view() };
            // z_l = h_l Q_lᵀ + 1 b_lᵀ, h_{l+1} = GroupSort(z_l)
            dense::forward(
                hin,
                self.q[l].view(),
                &self.params[ly.b..ly.b + ly.rows],
                &mut ws.z[l],
            );
            self.sorts[l].forward(&ws.z[l], &mut ws.h[l], &mut ws.perm[l]);
        }
        // f = h_L qᵀ + b_out
        let last = self.layers[nh];
        let hin = if nh == 0 { x } else { ws.h[nh - 1].view() };
        dense::forward(
            hin,
            self.q[nh].view(),
            &self.params[last.b..last.b + 1],
            &mut ws.out,
        );
    }

    /// Backward pass with per-sample seeds `s` after [`Self::forward`] on the same `x` (module doc
    /// steps 1–3). With `want_gx`, ∇x of Σ s_i f(x_i) lands in [`LipschitzWork::grad_x`]; with
    /// `want_q`, Q̄ and the bias gradients are computed (Q̄ in the workspace, biases into `grads`).
    fn backward(
        &self,
        x: MatRef<'_, T>,
        s: &[T],
        ws: &mut LipschitzWork<T>,
        want_gx: bool,
        mut grads: Option<&mut [T]>,
    ) {
        let nh = self.cfg.hidden.len();
        let bsz = ws.batch;
        assert_eq!(s.len(), bsz, "LipschitzNet: seed length");
        let last = self.layers[nh];
        let q_out = self.q[nh].as_slice();
        // step 1
        if let Some(g) = grads.as_deref_mut() {
            let hl = if nh == 0 { x } else { ws.h[nh - 1].view() };
            let sm = MatRef::from_slice(s, 1, bsz).expect("seed row");
            gemm(
                T::ONE,
                sm,
                Op::N,
                hl,
                Op::N,
                T::ZERO,
                ws.qbar[nh].view_mut(),
            );
            g[last.b] += s.iter().copied().sum::<T>();
        }
        // h̄_L = s qᵀ-rows
        let mut have_gx = false;
        if nh == 0 {
            if want_gx {
                for (i, &si) in s.iter().enumerate() {
                    for (o, &qv) in ws.gx.row_mut(i).iter_mut().zip(q_out) {
                        *o = si * qv;
                    }
                }
                have_gx = true;
            }
        } else {
            let hb = &mut ws.hbar[nh - 1];
            for (i, &si) in s.iter().enumerate() {
                for (o, &qv) in hb.row_mut(i).iter_mut().zip(q_out) {
                    *o = si * qv;
                }
            }
        }
        // step 2
        for l in (0..nh).rev() {
            let ly = self.layers[l];
            self.sorts[l].backward(&ws.hbar[l], &ws.perm[l], &mut ws.zbar[l]);
            let zbar = ws.zbar[l].view();
            if let Some(g) = grads.as_deref_mut() {
                // Q̄_l = z̄_lᵀ h_l, b̄_l += 1ᵀ z̄_l
                let hin = if l == 0 { x } else { ws.h[l - 1].view() };
                dense::weight_grad(zbar, hin, T::ZERO, ws.qbar[l].view_mut());
                dense::bias_grad(&ws.ones, zbar, &mut g[ly.b..ly.b + ly.rows]);
            }
            // h̄_l = z̄_l Q_l
            if l > 0 {
                dense::input_grad(zbar, self.q[l].view(), ws.hbar[l - 1].view_mut());
            } else if want_gx {
                dense::input_grad(zbar, self.q[0].view(), ws.gx.view_mut());
                have_gx = true;
            }
        }
        debug_assert!(!want_gx || have_gx);
    }

    /// `∇f(x_i)` for every row of `x` into [`LipschitzWork::grad_x`] (and values into
    /// [`LipschitzWork::values`]).
    pub fn grad_x(&self, x: MatRef<'_, T>, ws: &mut LipschitzWork<T>) {
        self.forward(x, ws);
        // the seed of ∇f is 1 per sample: use the ones buffer (taken out to satisfy the borrow)
        let ones = core::mem::take(&mut ws.ones);
        self.backward(x, &ones, ws, true, None);
        ws.ones = ones;
    }

    /// `grads += ∂/∂θ Σ_i s_i f(x_i)` (module doc steps 1–4; runs the forward itself). Needs Q from
    /// `orthonormalise(false)` of the current parameters.
    pub fn param_grad_of_value(
        &mut self,
        x: MatRef<'_, T>,
        s: &[T],
        grads: &mut [T],
        ws: &mut LipschitzWork<T>,
    ) {
        self.assert_ready_for_grads("param_grad_of_value", grads);
        self.forward(x, ws);
        self.backward(x, s, ws, false, Some(grads));
        let qbar = core::mem::take(&mut ws.qbar);
        self.ortho_backward(&qbar, grads, None);
        ws.qbar = qbar;
    }

    /// The preconditions of a parameter gradient (`what`): Q recorded by `orthonormalise(false)` of the
    /// current parameters, and a gradient buffer of the parameters' length.
    fn assert_ready_for_grads(&self, what: &str, grads: &[T]) {
        assert!(
            self.q_state == Some(self.cfg.ortho) && self.q_recorded,
            "LipschitzNet: orthonormalise(false) before {what}"
        );
        assert_eq!(
            grads.len(),
            self.params.len(),
            "LipschitzNet: gradient length"
        );
    }

    /// Step 4 of the module doc: `W̄_l += orth'(W_l)ᵀ[Q̄_l]` (and `ᾱ_l`) for every layer — each layer
    /// into its slot (on the workers of `pool`, if any), then added to `grads` in layer order.
    fn ortho_backward(&mut self, qbar: &[Mat<T>], grads: &mut [T], pool: Option<&mut Pool>) {
        let ortho = self.cfg.ortho;
        for_each_slot(&mut self.ortho_ws, pool, |l, slot| {
            slot.wbar.fill(T::ZERO);
            slot.abar = T::ZERO;
            match (&mut slot.work, ortho) {
                (OrthoWork::Bjorck(bw), Orthonormaliser::Bjorck(b)) => {
                    b.backward(qbar[l].view(), &mut slot.wbar, bw)
                }
                (OrthoWork::Cayley(cw), Orthonormaliser::Cayley) => {
                    cayley_backward(qbar[l].view(), &mut slot.wbar, Some(&mut slot.abar), cw)
                }
                _ => unreachable!("workspace matches the orthonormaliser"),
            }
        });
        for (ly, slot) in self.layers.iter().zip(&self.ortho_ws) {
            let wb = &mut grads[ly.w..ly.w + ly.rows * ly.cols];
            for (g, &v) in wb.iter_mut().zip(&slot.wbar) {
                *g += v;
            }
            if let Some(a) = ly.alpha {
                grads[a] += slot.abar;
            }
        }
    }

    /// Workspaces for [`Self::param_grad_of_value_sharded`]: the batch of `batch` rows split into
    /// `threads` consecutive row ranges of near-equal size.
    pub fn shards(&self, batch: usize, threads: usize) -> LipschitzShards<T> {
        let t = threads.clamp(1, batch.max(1));
        let shards = (0..t)
            .map(|k| {
                let (r0, r1) = (k * batch / t, (k + 1) * batch / t);
                (r0, r1, self.work(r1 - r0), vec![T::ZERO; self.params.len()])
            })
            .collect();
        LipschitzShards { batch, shards }
    }

    /// As [`Self::param_grad_of_value`], with the batch split over the shards' row ranges, shard k on
    /// worker k mod `pool.threads()` of `pool` (shard 0 on the calling thread; a one-thread pool runs
    /// them in order here). Each shard runs forward and backward on its rows into its own Q̄ and
    /// parameter-gradient buffers; these are added in shard order, then the orthonormaliser backward
    /// runs once. The result is bit-identical for a given shard count, whatever the pool size. Returns
    /// `Σ_i s_i f(x_i)` (summed per shard, then in shard order).
    pub fn param_grad_of_value_sharded(
        &mut self,
        x: MatRef<'_, T>,
        s: &[T],
        grads: &mut [T],
        sh: &mut LipschitzShards<T>,
        pool: &mut Pool,
    ) -> T {
        self.assert_ready_for_grads("param_grad_of_value_sharded", grads);
        assert_eq!(x.rows(), sh.batch, "LipschitzNet: batch size of the shards");
        assert_eq!(s.len(), sh.batch, "LipschitzNet: seed length");
        let net: &Self = self;
        pool.for_each_mut(&mut sh.shards, |_, (r0, r1, ws, gpart)| {
            gpart.iter_mut().for_each(|g| *g = T::ZERO);
            let xs = x.rows_range(*r0, *r1);
            net.forward(xs, ws);
            net.backward(xs, &s[*r0..*r1], ws, false, Some(gpart));
        });
        // reduce in shard order
        let mut total = T::ZERO;
        for (r0, r1, ws, gpart) in sh.shards.iter() {
            total += ws
                .values()
                .iter()
                .zip(&s[*r0..*r1])
                .fold(T::ZERO, |acc, (&v, &si)| acc + v * si);
            for (g, &p) in grads.iter_mut().zip(gpart) {
                *g += p;
            }
        }
        let (head, tail) = sh.shards.split_at_mut(1);
        let q0 = &mut head[0].2.qbar;
        for (_, _, ws, _) in tail.iter() {
            for (a, b) in q0.iter_mut().zip(&ws.qbar) {
                for (u, &v) in a.as_mut_slice().iter_mut().zip(b.as_slice()) {
                    *u += v;
                }
            }
        }
        let qbar = core::mem::take(&mut head[0].2.qbar);
        self.ortho_backward(&qbar, grads, Some(pool));
        sh.shards[0].2.qbar = qbar;
        total
    }

    /// Values f(x) for any number of rows (not a hot path: allocates a workspace).
    pub fn values(&self, x: &Mat<T>) -> Vec<T> {
        let mut ws = self.work(x.rows());
        self.forward(x.view(), &mut ws);
        ws.out.as_slice().to_vec()
    }

    /// ∇f(x) for any number of rows (not a hot path: allocates a workspace).
    pub fn gradients(&self, x: &Mat<T>) -> Mat<T> {
        let mut ws = self.work(x.rows());
        self.grad_x(x.view(), &mut ws);
        ws.gx
    }
}

/// Runs `f(l, slot_l)` for every layer: on the workers of `pool`, or here in layer order.
fn for_each_slot<T: Real>(
    slots: &mut [OrthoSlot<T>],
    pool: Option<&mut Pool>,
    f: impl Fn(usize, &mut OrthoSlot<T>) + Sync,
) {
    match pool {
        Some(p) => p.for_each_mut(slots, f),
        None => {
            for (l, slot) in slots.iter_mut().enumerate() {
                f(l, slot);
            }
        }
    }
}
