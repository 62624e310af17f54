//! Input-convex neural network (ICNN) of [M20]/[B23] with hand-derived first and second-order gradients
//! (SPEC §2.1, §7.1).
//!
//! # Architecture
//! Hidden widths `h_0 … h_{L−1}` (default `[64; 4]`), input dimension d, σ = LeakyReLU(0.2),
//! q = σ² (the squared first layer):
//! ```text
//! u0 = x A0ᵀ + b0,                   z0 = q(u0)
//! ul = z_{l−1} Wlᵀ + x Alᵀ + bl,     zl = σ(ul)            l = 1..L−1,   Wl ≥ 0
//! u_L = z_{L−1} W_Lᵀ + x A_Lᵀ + b_L, g(x) = ρ(u_L)          W_L ≥ 0
//! ```
//! with ρ = identity (CellOT, the default) or ρ = σ (the 2-D TensorFlow code of [M20]/[C25]; option
//! `output_activation`). All `A_l` (`l = 0..L`) are stacked row-wise into one `(H+1) × d` block
//! `A = [A0; …; A_L]`, `H = Σ h_l`, so every product with x (or with a tangent v) is **one** gemm
//! `x Aᵀ` of shape `B × (H+1)`, and `∇g = E A` below is one gemm too.
//!
//! Parameter layout (one flat buffer, PyTorch row-major `out × in` blocks):
//! `[A (H+1)×d | b (H+1) | W_1 (h1×h0) | … | W_{L−1} | W_L (1×h_{L−1})]`.
//! Convexity in x holds when every `W_l ≥ 0` (σ, q convex; σ non-decreasing; q is applied to an affine
//! function of x only; ρ convex non-decreasing).
//!
//! Derivatives of the activations: σ'(u) = 1 (u > 0) or 0.2, σ'' = 0 almost everywhere;
//! q(u) = σ(u)², q' = 2σσ' (= 2u or 0.08u), q'' = 2σ'² (= 2 or 0.08) — q is C¹, q'' jumps at 0 only.
//! Derivatives at a kink (u = 0 exactly) use the u ≤ 0 branch, a valid one-sided derivative.
//!
//! # Step F (forward, [`Icnn::forward`])
//! F1. `U ← X Aᵀ + 1 bᵀ` (all layers' input terms in one gemm); F2. `z0 = q(u0)`;
//! F3. for l = 1..L: `ul += z_{l−1} Wlᵀ`, `zl = σ(ul)` (l < L); F4. `g = ρ(u_L)`.
//!
//! # Step B (backward with seed w, [`Icnn::backward`]) — ∂(Σ_i w_i g(x_i))/∂(everything)
//! Let `s_i = w_i ρ'(u_{L,i})` (the adjoint of u_L). Then, per sample (row vectors):
//! B1. `a_{L−1} = s W_L`;
//! B2. for l = L−1 down to 1: `el = al ⊙ σ'(ul)`, `a_{l−1} = el Wl`;
//! B3. `e0 = a0 ⊙ q'(u0)`.
//! Collect `E = [e0 | e1 | … | e_{L−1} | s]` (`B × (H+1)`, same column layout as U). Then
//! B4 (input gradient, [`Icnn::input_grad`]): `∇_x Σ w_i g(x_i)` row i `= Σ_l e_l A_l + s A_L`, i.e. `E A`.
//! With w = 1 this is the map `T(x) = ∇g(x)`.
//! B5 (parameter gradient of the value, [`Icnn::value_param_grad`]): `el` is the adjoint of `ul`, so
//! `∂A += Eᵀ X`, `∂b += 1ᵀ E`, `∂Wl += E_lᵀ Z_{l−1}` (l = 1..L, with `E_L = s`).
//!
//! # Step D (double backprop, [`Icnn::map_param_grad`]) — ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩
//! Per sample with tangent v = V_i, `h(θ) = ⟨v, ∇g(x)⟩` is the directional derivative of g along v, i.e. the
//! forward-mode tangent of step F (seed w = 1, so `s = ρ'(u_L)`):
//! D1. `U̇ = V Aᵀ` (one gemm: `u̇l` starts as `v Alᵀ`); D2. `ż0 = q'(u0) ⊙ u̇0`;
//! D3. for l = 1..L: `u̇l += ż_{l−1} Wlᵀ`, `żl = σ'(ul) ⊙ u̇l` (l < L); `h = s·u̇_L`.
//! Reverse mode through D1–D3 and F. The tangent path is linear in (Wl, Al) with coefficients ż, v;
//! its adjoints are exactly the backward quantities of step B: the adjoint of `u̇_L` is s, of `żl` is
//! `al`, of `u̇l` is `el`. Hence (tangent path)
//! D4. `∂A += Eᵀ V` (rows of A_L get `sᵀ V`), `∂Wl += E_lᵀ Ż_{l−1}` (l = 1..L, `E_L = s`), `∂b_L += 0`.
//! The primal path: h depends on u_l through σ'(u_l) (l ≥ 1, piecewise constant: derivative 0 a.e.),
//! through ρ'(u_L) (also piecewise constant), and on u0 through `ż0 = q'(u0) ⊙ u̇0`, whose derivative is
//! `q''(u0) ⊙ u̇0` with adjoint `a0`. So every primal adjoint above layer 0 vanishes and
//! D5. `ū0 = a0 ⊙ u̇0 ⊙ q''(u0)`, `∂A0 += Ū0ᵀ X`, `∂b0 += 1ᵀ Ū0`.
//! This agrees term by term with the reference derivation in SPEC §2.1 (its `z̄l = 0` for l ≥ 0, its
//! `ūl = al ⊙ u̇l ⊙ σ''(ul) = 0` for l ≥ 1). Cost: one forward, one backward, one tangent pass, and the
//! gradient gemms.
//!
//! # Step J (Hessian–vector product, [`Icnn::jacobian_vector`])
//! Differentiating B1–B4 along v: ṡ = 0, `ėl = ȧl ⊙ σ'(ul) = 0` for l ≥ 1 (ȧ_{L−1} = 0), and
//! `ė0 = a0 ⊙ q''(u0) ⊙ u̇0 = ū0`. So `∇²g(x) v = ū0 A0` — the Hessian is `A0ᵀ diag(a0 ⊙ q''(u0)) A0`,
//! positive semi-definite when every W ≥ 0 (then a0 ≥ 0): the map ∇g is monotone.
//!
//! # Quadratic path ([`Icnn::with_quadratic`])
//! Optionally the potential is `φ(x) = g(x) + q(x)`, `q(x) = ½ xᵀ(LLᵀ + diag(softplus(s)))x + βᵀx`, convex
//! for every (L, s, β); its blocks follow W_L in the buffer. Every pass above adds the matching pass of q,
//! derived in [`crate::nn::quadratic`]: F adds q(x) to the value (outside ρ), B stores the seed, B4 adds
//! `w_i ∇q(x_i)`, B5 and D add q's parameter gradients, J adds `(LLᵀ + diag(softplus(s))) v`. The W
//! constraint below does not touch q.
//!
//! # Convexity constraint
//! [`Icnn::clamp_nonneg`]: `Wl ← max(Wl, 0)` (l = 1..L). [`Icnn::w_penalty`]: `P = Σ_l ‖relu(−Wl)‖_F`
//! (not squared, as [B23]); `∂P/∂Wl = −relu(−Wl)/‖relu(−Wl)‖_F` where the norm is positive, 0 otherwise.

use crate::linalg::simd::simd_dispatch;
use crate::linalg::{gemm, Mat, MatMut, MatRef, Op, Real};
use crate::nn::quadratic::Quadratic;
use crate::random::Stream;

/// Negative slope of the LeakyReLU σ.
pub const LEAKY_SLOPE: f64 = 0.2;

/// Initial distribution of the A and W weights (biases start at 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IcnnInit {
    /// U(lo, hi) — CellOT's `uniform(b = 0.1)`: U(0, 0.1) is the default.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// N(0, std²).
    Normal {
        /// Standard deviation.
        std: f64,
    },
}

impl Default for IcnnInit {
    fn default() -> Self {
        IcnnInit::Uniform { lo: 0.0, hi: 0.1 }
    }
}

/// Architecture of an [`Icnn`].
#[derive(Clone, Debug, PartialEq)]
pub struct IcnnConfig {
    /// Hidden widths h_0 … h_{L−1} (at least one layer).
    pub hidden: Vec<usize>,
    /// Initial distribution of the weights.
    pub init: IcnnInit,
    /// Apply LeakyReLU(0.2) to the scalar output (the 2-D TensorFlow code); CellOT has none.
    pub output_activation: bool,
}

impl Default for IcnnConfig {
    fn default() -> Self {
        IcnnConfig {
            hidden: vec![64; 4],
            init: IcnnInit::default(),
            output_activation: false,
        }
    }
}

#[inline(always)]
fn sigma<T: Real>(u: T) -> T {
    if u > T::ZERO {
        u
    } else {
        T::from_f64(LEAKY_SLOPE) * u
    }
}
#[inline(always)]
fn dsigma<T: Real>(u: T) -> T {
    if u > T::ZERO {
        T::ONE
    } else {
        T::from_f64(LEAKY_SLOPE)
    }
}
/// q = σ²
#[inline(always)]
fn q<T: Real>(u: T) -> T {
    let s = sigma(u);
    s * s
}
/// q' = 2σσ'
#[inline(always)]
fn dq<T: Real>(u: T) -> T {
    T::TWO * sigma(u) * dsigma(u)
}
/// q'' = 2σ'² (σ'' = 0 a.e.)
#[inline(always)]
fn d2q<T: Real>(u: T) -> T {
    let d = dsigma(u);
    T::TWO * d * d
}

/// An input-convex network g: ℝᵈ → ℝ (see the module doc for the architecture and the derivations).
#[derive(Clone, Debug, PartialEq)]
pub struct Icnn<T> {
    dim: usize,
    hidden: Vec<usize>,
    output_activation: bool,
    params: Vec<T>,
    /// Column offset of layer l's block in the stacked `H+1` columns (`h_off[L] = H`, the output column).
    h_off: Vec<usize>,
    /// Offset of b in `params`.
    off_b: usize,
    /// Offset of W_l in `params`, index l − 1 for l = 1..L.
    off_w: Vec<usize>,
    /// The optional quadratic path `½ xᵀ(LLᵀ + diag(softplus(s)))x + βᵀx` (its blocks follow W_L).
    quad: Option<Quadratic>,
}

/// Per-batch scratch of an [`Icnn`] (sized once for at most `capacity` rows; no allocation per call).
#[derive(Clone, Debug)]
pub struct IcnnWorkspace<T> {
    cap: usize,
    rows: usize,
    /// Pre-activations U, `cap × (H+1)`.
    u: Vec<T>,
    /// Activations z_0 … z_{L−1}, `cap × H`.
    z: Vec<T>,
    /// Network values g(x_i).
    val: Vec<T>,
    /// Backward adjoints E, `cap × (H+1)`.
    e: Vec<T>,
    /// a0 (adjoint of z0), `cap × h0`.
    a0: Vec<T>,
    /// Scratch for a_l, `cap × max h`.
    a: Vec<T>,
    /// Tangent pre-activations U̇, `cap × (H+1)`.
    ud: Vec<T>,
    /// Tangent activations Ż, `cap × H`.
    zd: Vec<T>,
    /// Ū0, `cap × h0`.
    ub0: Vec<T>,
    /// Quadratic path: the batch X (cap × d; step Q-B needs it), K = X L and K̃ = diag(w) K (cap × r),
    /// scratch for V L (cap × r), the seed w (cap). Empty without the path.
    qx: Vec<T>,
    qk: Vec<T>,
    qkw: Vec<T>,
    qj: Vec<T>,
    qw: Vec<T>,
    /// softplus(s) of the last forward (d).
    qsp: Vec<T>,
    /// 0 = nothing, 1 = forward done, 2 = backward done (seed 1), 3 = backward done (other seed).
    state: u8,
}

impl<T: Real> IcnnWorkspace<T> {
    /// Largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// g(x_i) of the last forward pass.
    pub fn values(&self) -> &[T] {
        &self.val[..self.rows]
    }
}

impl<T: Real> Icnn<T> {
    /// A network on ℝ^`dim` with the given architecture, weights drawn from `rng`.
    ///
    /// Panics if `dim == 0` or a width is 0 or `hidden` is empty (internal invariants: options are
    /// validated by the solver).
    pub fn new(dim: usize, cfg: &IcnnConfig, rng: &mut Stream) -> Self {
        let mut net = Self::zeros(dim, &cfg.hidden, cfg.output_activation);
        let (off_b, nb) = (net.off_b, net.h_total() + 1);
        let draw = |rng: &mut Stream| -> T {
            match cfg.init {
                IcnnInit::Uniform { lo, hi } => T::from_f64(lo + (hi - lo) * rng.uniform_f64()),
                IcnnInit::Normal { std } => T::from_f64(std * rng.normal_f64()),
            }
        };
        for (i, p) in net.params.iter_mut().enumerate() {
            if i < off_b || i >= off_b + nb {
                *p = draw(rng);
            }
        }
        net
    }

    /// A network with every parameter 0 (for loading).
    pub fn zeros(dim: usize, hidden: &[usize], output_activation: bool) -> Self {
        assert!(dim > 0, "ICNN input dimension must be positive");
        assert!(
            !hidden.is_empty() && hidden.iter().all(|&h| h > 0),
            "ICNN needs at least one hidden layer of positive width"
        );
        let l = hidden.len();
        let mut h_off = Vec::with_capacity(l + 1);
        let mut acc = 0;
        for &h in hidden {
            h_off.push(acc);
            acc += h;
        }
        h_off.push(acc);
        let h_total = acc;
        let off_b = (h_total + 1) * dim;
        let mut off = off_b + h_total + 1;
        let mut off_w = Vec::with_capacity(l);
        for k in 1..=l {
            off_w.push(off);
            let out = if k < l { hidden[k] } else { 1 };
            off += out * hidden[k - 1];
        }
        Icnn {
            dim,
            hidden: hidden.to_vec(),
            output_activation,
            params: vec![T::ZERO; off],
            h_off,
            off_b,
            off_w,
            quad: None,
        }
    }

    /// The potential `φ(x) = ICNN(x) + ½ xᵀ(LLᵀ + diag(softplus(s)))x + βᵀx` with L of rank
    /// `r = min(rank, d)` (module [`crate::nn::quadratic`]): the quadratic blocks are appended to the
    /// parameter buffer and start at `LLᵀ + diag(softplus(s)) = I`, β = 0 (the path is ½‖x‖², the identity
    /// map), split as `L = √½ [I_r; 0]`, `softplus(s_j) = ½` for j < r and 1 beyond. L = 0 would also give I
    /// but is a saddle: every gradient in L is linear in L (`Xᵀ K̃`, `Vᵀ K + Xᵀ J`) and would stay 0.
    /// A network that already has the path is returned unchanged.
    pub fn with_quadratic(mut self, rank: usize) -> Self {
        if self.quad.is_some() {
            return self;
        }
        let q = Quadratic {
            dim: self.dim,
            rank: rank.min(self.dim),
            off: self.params.len(),
        };
        self.params.resize(q.off + q.n_params(), T::ZERO);
        let (half, one) = (
            T::from_f64(crate::nn::quadratic::softplus_inv(0.5)),
            T::from_f64(crate::nn::quadratic::softplus_inv(1.0)),
        );
        let l0 = q.l_range().start;
        for k in 0..q.rank {
            self.params[l0 + k * q.rank + k] = T::from_f64(0.5f64.sqrt());
        }
        let s0 = q.s_range().start;
        for j in 0..q.dim {
            self.params[s0 + j] = if j < q.rank { half } else { one };
        }
        self.quad = Some(q);
        self
    }

    /// The quadratic path, if the potential has one.
    pub fn quadratic(&self) -> Option<&Quadratic> {
        self.quad.as_ref()
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Hidden widths.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }
    /// Whether LeakyReLU is applied to the output.
    pub fn output_activation(&self) -> bool {
        self.output_activation
    }
    /// H = Σ h_l.
    pub fn h_total(&self) -> usize {
        self.h_off[self.hidden.len()]
    }
    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }
    /// The flat parameter buffer (layout in the module doc).
    pub fn params(&self) -> &[T] {
        &self.params
    }
    /// The flat parameter buffer, mutable.
    pub fn params_mut(&mut self) -> &mut [T] {
        &mut self.params
    }
    /// Width of layer l (l = L is the scalar output).
    fn width(&self, l: usize) -> usize {
        if l < self.hidden.len() {
            self.hidden[l]
        } else {
            1
        }
    }
    /// The stacked `(H+1) × d` block A = [A0; …; A_L].
    pub fn a_all(&self) -> MatRef<'_, T> {
        MatRef::from_slice(&self.params[..self.off_b], self.h_total() + 1, self.dim).unwrap()
    }
    /// The stacked biases b = [b0; …; b_L].
    pub fn b_all(&self) -> &[T] {
        &self.params[self.off_b..self.off_b + self.h_total() + 1]
    }
    /// Range of A_l (l = 0..L, an `out × d` block of the stacked A) in the flat buffer, and its width out.
    pub fn a_range(&self, l: usize) -> (core::ops::Range<usize>, usize) {
        assert!(l <= self.hidden.len(), "A_l exists for l = 0..L");
        let w = self.width(l);
        let s = self.h_off[l] * self.dim;
        (s..s + w * self.dim, w)
    }
    /// Range of b_l (l = 0..L) in the flat buffer.
    pub fn b_range(&self, l: usize) -> core::ops::Range<usize> {
        assert!(l <= self.hidden.len(), "b_l exists for l = 0..L");
        let s = self.off_b + self.h_off[l];
        s..s + self.width(l)
    }
    /// Range of W_l (l = 1..L) in the flat buffer, and its shape (out, in).
    pub fn w_range(&self, l: usize) -> (core::ops::Range<usize>, usize, usize) {
        assert!(l >= 1 && l <= self.hidden.len(), "W_l exists for l = 1..L");
        let (o, i) = (self.width(l), self.hidden[l - 1]);
        let s = self.off_w[l - 1];
        (s..s + o * i, o, i)
    }
    /// W_l (l = 1..L) as an `out × in` view.
    pub fn w(&self, l: usize) -> MatRef<'_, T> {
        let (r, o, i) = self.w_range(l);
        MatRef::from_slice(&self.params[r], o, i).unwrap()
    }
    /// Range of all W blocks (W_1 … W_L are contiguous, followed by the quadratic path if any).
    pub fn w_all_range(&self) -> core::ops::Range<usize> {
        self.off_w[0]..self.quad.map_or(self.params.len(), |q| q.off)
    }

    /// A workspace for batches of at most `capacity` rows.
    pub fn workspace(&self, capacity: usize) -> IcnnWorkspace<T> {
        let h1 = self.h_total() + 1;
        let h = self.h_total();
        let h0 = self.hidden[0];
        let hmax = *self.hidden.iter().max().unwrap();
        let z = |n: usize| vec![T::ZERO; capacity * n];
        let (qd, qr) = self.quad.map_or((0, 0), |q| (q.dim, q.rank));
        let qn = usize::from(self.quad.is_some());
        IcnnWorkspace {
            cap: capacity,
            rows: 0,
            u: z(h1),
            z: z(h),
            val: vec![T::ZERO; capacity],
            e: z(h1),
            a0: z(h0),
            a: z(hmax),
            ud: z(h1),
            zd: z(h),
            ub0: z(h0),
            qx: z(qd),
            qk: z(qr),
            qkw: z(qr),
            qj: z(qr),
            qw: z(qn),
            qsp: vec![T::ZERO; qd],
            state: 0,
        }
    }

    /// Step F: forward pass over the rows of `x` (≤ capacity), caching what the other passes need.
    pub fn forward(&self, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) {
        forward_simd(self, x, ws);
        if let Some(q) = &self.quad {
            let (b, d) = (x.rows(), self.dim);
            for i in 0..b {
                ws.qx[i * d..(i + 1) * d].copy_from_slice(x.row(i));
            }
            q.forward(&self.params, x, &mut ws.qsp, &mut ws.qk, &mut ws.val);
        }
    }

    /// Step B (B1–B3): backward pass of the last forward with per-row seed `w` (`None` = all ones),
    /// filling the adjoints E.
    pub fn backward(&self, ws: &mut IcnnWorkspace<T>, seed: Option<&[T]>) {
        backward_simd(self, ws, seed);
        if let Some(q) = &self.quad {
            let b = ws.rows;
            match seed {
                Some(w) => ws.qw[..b].copy_from_slice(w),
                None => ws.qw[..b].fill(T::ONE),
            }
            q.seed_rows(b, &ws.qk, &ws.qw, &mut ws.qkw);
        }
    }

    /// Step B4: `out ← E A` — row i is ∇_x (w_i g(x_i)) for the seed of the last backward.
    pub fn input_grad(&self, ws: &IcnnWorkspace<T>, out: MatMut<'_, T>) {
        assert!(ws.state >= 2, "ICNN input_grad before backward");
        let b = ws.rows;
        let h1 = self.h_total() + 1;
        let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
        let mut out = out;
        gemm(T::ONE, e, Op::N, self.a_all(), Op::N, T::ZERO, out.rb_mut());
        if let Some(q) = &self.quad {
            let x = MatRef::from_slice(&ws.qx[..b * self.dim], b, self.dim).unwrap();
            q.input_grad_add(&self.params, &ws.qsp, x, &ws.qkw, &ws.qw, out);
        }
    }

    /// Step B5: `grads += ∂/∂θ Σ_i w_i g(x_i)` for the seed w of the last backward on the same `x`.
    pub fn value_param_grad(&self, x: MatRef<'_, T>, ws: &IcnnWorkspace<T>, grads: &mut [T]) {
        value_param_grad_simd(self, x, ws, grads);
        if let Some(q) = &self.quad {
            q.value_param_grad(&self.params, x, &ws.qkw, &ws.qw, grads);
        }
    }

    /// `∂Wl += E_lᵀ Y_{l−1}` for l = 1..L, with `y` = Z (value) or Ż (map).
    fn w_grads(&self, e: MatRef<'_, T>, y: MatRef<'_, T>, grads: &mut [T]) {
        let b = e.rows();
        for l in 1..=self.hidden.len() {
            let (r, o, i) = self.w_range(l);
            let (o0, i0) = (self.h_off[l], self.h_off[l - 1]);
            gemm(
                T::ONE,
                e.block(0, b, o0, o0 + o),
                Op::T,
                y.block(0, b, i0, i0 + i),
                Op::N,
                T::ONE,
                MatMut::from_slice(&mut grads[r], o, i).unwrap(),
            );
        }
    }

    /// Steps D1–D5: `grads += ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩`. Needs `forward(x)` and `backward(None)` on the same
    /// `x` first (as left by [`Icnn::grad_x`]).
    pub fn map_param_grad(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        map_param_grad_simd(self, x, v, ws, grads);
        if let Some(q) = &self.quad {
            q.map_param_grad(&self.params, x, v, &ws.qk, &mut ws.qj, grads);
        }
    }

    /// g(x_i) for every row of `x` into `out` (length = rows).
    pub fn value(&self, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, out: &mut [T]) {
        self.forward(x, ws);
        out.copy_from_slice(ws.values());
    }

    /// T(x) = ∇g(x) for every row of `x` into `out` (rows × d). Leaves the workspace ready for
    /// [`Icnn::map_param_grad`] on the same `x`.
    pub fn grad_x(&self, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, out: MatMut<'_, T>) {
        self.forward(x, ws);
        self.backward(ws, None);
        self.input_grad(ws, out);
    }

    /// `grads += ∂/∂θ Σ_i w_i g(x_i)`; the values g(x_i) are left in `ws.values()`.
    pub fn param_grad_of_value(
        &self,
        x: MatRef<'_, T>,
        w: &[T],
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        self.forward(x, ws);
        self.backward(ws, Some(w));
        self.value_param_grad(x, ws, grads);
    }

    /// `grads += ∂/∂θ Σ_i ⟨V_i, ∇g(x_i)⟩` (forward, backward, tangent and gradient passes).
    pub fn param_grad_of_map(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        grads: &mut [T],
    ) {
        self.forward(x, ws);
        self.backward(ws, None);
        self.map_param_grad(x, v, ws, grads);
    }

    /// Step J: `out` row i ← ∇²g(x_i) V_i (Hessian–vector products; rows × d).
    pub fn jacobian_vector(
        &self,
        x: MatRef<'_, T>,
        v: MatRef<'_, T>,
        ws: &mut IcnnWorkspace<T>,
        out: MatMut<'_, T>,
    ) {
        self.forward(x, ws);
        self.backward(ws, None);
        let b = ws.rows;
        let h0 = self.hidden[0];
        let h1 = self.h_total() + 1;
        let a0 = self.a_all().rows_range(0, h0);
        // u̇0 = V A0ᵀ (into Ū0's buffer), then ū0 = a0 ⊙ q''(u0) ⊙ u̇0 in place
        gemm(
            T::ONE,
            v,
            Op::N,
            a0,
            Op::T,
            T::ZERO,
            MatMut::from_slice(&mut ws.ub0[..b * h0], b, h0).unwrap(),
        );
        for i in 0..b {
            let ur = &ws.u[i * h1..i * h1 + h0];
            let ar = &ws.a0[i * h0..(i + 1) * h0];
            let ubr = &mut ws.ub0[i * h0..(i + 1) * h0];
            for j in 0..h0 {
                ubr[j] *= ar[j] * d2q(ur[j]);
            }
        }
        let ub0 = MatRef::from_slice(&ws.ub0[..b * h0], b, h0).unwrap();
        let mut out = out;
        gemm(T::ONE, ub0, Op::N, a0, Op::N, T::ZERO, out.rb_mut());
        if let Some(q) = &self.quad {
            q.hvp_add(&self.params, &ws.qsp, v, &mut ws.qj, out);
        }
    }

    /// ∇g for every row of a set of any size (in chunks of the workspace capacity). Not a hot path.
    pub fn transport(&self, x: &Mat<T>, ws: &mut IcnnWorkspace<T>) -> Mat<T> {
        assert_eq!(x.cols(), self.dim, "ICNN input has the wrong dimension");
        let mut out = Mat::zeros(x.rows(), self.dim);
        let cap = ws.cap.max(1);
        let mut r0 = 0;
        while r0 < x.rows() {
            let r1 = (r0 + cap).min(x.rows());
            let dst = out.view_mut().rows_range(r0, r1);
            self.grad_x(x.view().rows_range(r0, r1), ws, dst);
            r0 = r1;
        }
        out
    }

    /// `Wl ← max(Wl, 0)` for l = 1..L (f's convexity constraint in [B23]).
    pub fn clamp_nonneg(&mut self) {
        let r = self.w_all_range();
        for w in &mut self.params[r] {
            if *w < T::ZERO {
                *w = T::ZERO;
            }
        }
    }

    /// Whether every Wl ≥ 0 (g is then convex in x).
    pub fn is_convex(&self) -> bool {
        self.params[self.w_all_range()]
            .iter()
            .all(|&w| w >= T::ZERO)
    }

    /// `P = Σ_l ‖relu(−Wl)‖_F`; adds `alpha · ∂P/∂θ` to `grads` (when `grads` is given) and returns P.
    pub fn w_penalty(&self, alpha: T, grads: Option<&mut [T]>) -> T {
        let mut grads = grads;
        let mut total = T::ZERO;
        for l in 1..=self.hidden.len() {
            let (r, _, _) = self.w_range(l);
            let w = &self.params[r.clone()];
            let n2 = w
                .iter()
                .fold(T::ZERO, |s, &v| if v < T::ZERO { s + v * v } else { s });
            if n2 > T::ZERO {
                let n = n2.sqrt();
                total += n;
                if let Some(g) = grads.as_deref_mut() {
                    // ∂‖relu(−W)‖_F/∂W = −relu(−W)/‖relu(−W)‖_F = W/n where W < 0
                    let c = alpha / n;
                    for (gv, &wv) in g[r].iter_mut().zip(w) {
                        if wv < T::ZERO {
                            *gv += c * wv;
                        }
                    }
                }
            }
        }
        total
    }
}

// The elementwise loops of the passes vectorise: each pass is compiled for AVX-512F, AVX2 and the
// baseline, and the widest the CPU has runs (`linalg::simd`; same operations, same bits).

simd_dispatch! {
    fn forward_simd[T: Real][T](net: &Icnn<T>, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) -> () = forward_body;
}

#[inline(always)]
fn forward_body<T: Real>(net: &Icnn<T>, x: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>) {
    let b = x.rows();
    assert!(
        b <= ws.cap,
        "ICNN batch {b} exceeds workspace capacity {}",
        ws.cap
    );
    assert_eq!(x.cols(), net.dim, "ICNN input has the wrong dimension");
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    ws.rows = b;
    ws.state = 1;
    // F1. U ← X Aᵀ + 1 bᵀ
    gemm(
        T::ONE,
        x,
        Op::N,
        net.a_all(),
        Op::T,
        T::ZERO,
        MatMut::from_slice(&mut ws.u[..b * h1], b, h1).unwrap(),
    );
    let bias = net.b_all();
    for row in ws.u[..b * h1].chunks_exact_mut(h1) {
        for (v, &bi) in row.iter_mut().zip(bias) {
            *v += bi;
        }
    }
    // F2. z0 = q(u0)
    let h0 = net.hidden[0];
    for i in 0..b {
        let (ur, zr) = (&ws.u[i * h1..i * h1 + h0], &mut ws.z[i * h..i * h + h0]);
        for (zv, &uv) in zr.iter_mut().zip(ur) {
            *zv = q(uv);
        }
    }
    // F3. ul += z_{l−1} Wlᵀ, zl = σ(ul)
    for l in 1..=l_n {
        let (o0, wl) = (net.h_off[l], net.width(l));
        let (i0, wi) = (net.h_off[l - 1], net.hidden[l - 1]);
        let zin = MatRef::new(&ws.z[..], b, h, h)
            .unwrap()
            .block(0, b, i0, i0 + wi);
        let uout = MatMut::new(&mut ws.u[..], b, h1, h1)
            .unwrap()
            .block(0, b, o0, o0 + wl);
        gemm(T::ONE, zin, Op::N, net.w(l), Op::T, T::ONE, uout);
        if l < l_n {
            for i in 0..b {
                let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
                let zr = &mut ws.z[i * h + o0..i * h + o0 + wl];
                for (zv, &uv) in zr.iter_mut().zip(ur) {
                    *zv = sigma(uv);
                }
            }
        }
    }
    // F4. g = ρ(u_L)
    for i in 0..b {
        let ul = ws.u[i * h1 + h];
        ws.val[i] = if net.output_activation { sigma(ul) } else { ul };
    }
}

simd_dispatch! {
    fn backward_simd[T: Real][T](net: &Icnn<T>, ws: &mut IcnnWorkspace<T>, seed: Option<&[T]>) -> () = backward_body;
}

#[inline(always)]
fn backward_body<T: Real>(net: &Icnn<T>, ws: &mut IcnnWorkspace<T>, seed: Option<&[T]>) {
    assert!(ws.state >= 1, "ICNN backward before forward");
    let b = ws.rows;
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    let hmax = *net.hidden.iter().max().unwrap();
    if let Some(w) = seed {
        assert_eq!(w.len(), b, "ICNN seed length differs from the batch");
    }
    // s_i = w_i ρ'(u_L,i)
    for i in 0..b {
        let w = seed.map_or(T::ONE, |w| w[i]);
        let r = if net.output_activation {
            dsigma(ws.u[i * h1 + h])
        } else {
            T::ONE
        };
        ws.e[i * h1 + h] = w * r;
    }
    // B1. a_{L−1} = s W_L (rank one: a loop)
    let wl_last = {
        let (r, _, _) = net.w_range(l_n);
        &net.params[r]
    };
    let top = net.hidden[l_n - 1];
    {
        let dst: &mut [T] = if l_n == 1 { &mut ws.a0 } else { &mut ws.a };
        let rs = if l_n == 1 { net.hidden[0] } else { hmax };
        for i in 0..b {
            let s = ws.e[i * h1 + h];
            for (d, &wv) in dst[i * rs..i * rs + top].iter_mut().zip(wl_last) {
                *d = s * wv;
            }
        }
    }
    // B2. el = al ⊙ σ'(ul), a_{l−1} = el Wl
    for l in (1..l_n).rev() {
        let (o0, wl) = (net.h_off[l], net.hidden[l]);
        for i in 0..b {
            let ar = &ws.a[i * hmax..i * hmax + wl];
            let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
            let er = &mut ws.e[i * h1 + o0..i * h1 + o0 + wl];
            for ((ev, &av), &uv) in er.iter_mut().zip(ar).zip(ur) {
                *ev = av * dsigma(uv);
            }
        }
        let el = MatRef::new(&ws.e[..], b, h1, h1)
            .unwrap()
            .block(0, b, o0, o0 + wl);
        let wi = net.hidden[l - 1];
        let dst = if l == 1 {
            MatMut::new(&mut ws.a0[..], b, wi, wi).unwrap()
        } else {
            MatMut::new(&mut ws.a[..], b, wi, hmax).unwrap()
        };
        gemm(T::ONE, el, Op::N, net.w(l), Op::N, T::ZERO, dst);
    }
    // B3. e0 = a0 ⊙ q'(u0)
    let h0 = net.hidden[0];
    for i in 0..b {
        let ar = &ws.a0[i * h0..(i + 1) * h0];
        let ur = &ws.u[i * h1..i * h1 + h0];
        let er = &mut ws.e[i * h1..i * h1 + h0];
        for ((ev, &av), &uv) in er.iter_mut().zip(ar).zip(ur) {
            *ev = av * dq(uv);
        }
    }
    ws.state = if seed.is_none() { 2 } else { 3 };
}

simd_dispatch! {
    fn value_param_grad_simd[T: Real][T](net: &Icnn<T>, x: MatRef<'_, T>, ws: &IcnnWorkspace<T>, grads: &mut [T]) -> () = value_param_grad_body;
}

#[inline(always)]
fn value_param_grad_body<T: Real>(
    net: &Icnn<T>,
    x: MatRef<'_, T>,
    ws: &IcnnWorkspace<T>,
    grads: &mut [T],
) {
    assert!(ws.state >= 2, "ICNN value_param_grad before backward");
    assert_eq!(grads.len(), net.params.len(), "ICNN gradient buffer length");
    let b = ws.rows;
    assert_eq!(x.rows(), b, "x is not the batch of the last forward");
    let h = net.h_total();
    let h1 = h + 1;
    let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
    let (ga, rest) = grads.split_at_mut(net.off_b);
    // ∂A += Eᵀ X
    gemm(
        T::ONE,
        e,
        Op::T,
        x,
        Op::N,
        T::ONE,
        MatMut::from_slice(ga, h1, net.dim).unwrap(),
    );
    // ∂b += 1ᵀ E
    let gb = &mut rest[..h1];
    for row in ws.e[..b * h1].chunks_exact(h1) {
        for (g, &v) in gb.iter_mut().zip(row) {
            *g += v;
        }
    }
    // ∂Wl += E_lᵀ Z_{l−1}
    let z = MatRef::new(&ws.z[..], b, h, h).unwrap();
    net.w_grads(e, z, grads);
}

simd_dispatch! {
    fn map_param_grad_simd[T: Real][T](net: &Icnn<T>, x: MatRef<'_, T>, v: MatRef<'_, T>, ws: &mut IcnnWorkspace<T>, grads: &mut [T]) -> () = map_param_grad_body;
}

#[inline(always)]
fn map_param_grad_body<T: Real>(
    net: &Icnn<T>,
    x: MatRef<'_, T>,
    v: MatRef<'_, T>,
    ws: &mut IcnnWorkspace<T>,
    grads: &mut [T],
) {
    assert_eq!(
        ws.state, 2,
        "ICNN map_param_grad needs forward + backward(seed 1)"
    );
    assert_eq!(grads.len(), net.params.len(), "ICNN gradient buffer length");
    let b = ws.rows;
    assert!(
        x.rows() == b && v.rows() == b,
        "x/V are not the batch of the last forward"
    );
    assert_eq!(v.cols(), net.dim, "V has the wrong dimension");
    let l_n = net.hidden.len();
    let h = net.h_total();
    let h1 = h + 1;
    let h0 = net.hidden[0];
    // D1. U̇ = V Aᵀ
    gemm(
        T::ONE,
        v,
        Op::N,
        net.a_all(),
        Op::T,
        T::ZERO,
        MatMut::from_slice(&mut ws.ud[..b * h1], b, h1).unwrap(),
    );
    // D2 + D5 (first half). ż0 = q'(u0) ⊙ u̇0, ū0 = a0 ⊙ u̇0 ⊙ q''(u0)
    for i in 0..b {
        let ur = &ws.u[i * h1..i * h1 + h0];
        let udr = &ws.ud[i * h1..i * h1 + h0];
        let ar = &ws.a0[i * h0..(i + 1) * h0];
        let zdr = &mut ws.zd[i * h..i * h + h0];
        let ubr = &mut ws.ub0[i * h0..(i + 1) * h0];
        for j in 0..h0 {
            zdr[j] = dq(ur[j]) * udr[j];
            ubr[j] = ar[j] * udr[j] * d2q(ur[j]);
        }
    }
    // D3. u̇l += ż_{l−1} Wlᵀ, żl = σ'(ul) ⊙ u̇l (l < L; u̇_L is not needed for the gradient)
    for l in 1..l_n {
        let (o0, wl) = (net.h_off[l], net.hidden[l]);
        let (i0, wi) = (net.h_off[l - 1], net.hidden[l - 1]);
        let zin = MatRef::new(&ws.zd[..], b, h, h)
            .unwrap()
            .block(0, b, i0, i0 + wi);
        let uout = MatMut::new(&mut ws.ud[..], b, h1, h1)
            .unwrap()
            .block(0, b, o0, o0 + wl);
        gemm(T::ONE, zin, Op::N, net.w(l), Op::T, T::ONE, uout);
        for i in 0..b {
            let ur = &ws.u[i * h1 + o0..i * h1 + o0 + wl];
            let udr = &ws.ud[i * h1 + o0..i * h1 + o0 + wl];
            let zdr = &mut ws.zd[i * h + o0..i * h + o0 + wl];
            for ((zv, &uv), &udv) in zdr.iter_mut().zip(ur).zip(udr) {
                *zv = dsigma(uv) * udv;
            }
        }
    }
    let e = MatRef::from_slice(&ws.e[..b * h1], b, h1).unwrap();
    let (ga, rest) = grads.split_at_mut(net.off_b);
    // D4. ∂A += Eᵀ V
    gemm(
        T::ONE,
        e,
        Op::T,
        v,
        Op::N,
        T::ONE,
        MatMut::from_slice(&mut ga[..], h1, net.dim).unwrap(),
    );
    // D5. ∂A0 += Ū0ᵀ X, ∂b0 += 1ᵀ Ū0
    let ub0 = MatRef::from_slice(&ws.ub0[..b * h0], b, h0).unwrap();
    gemm(
        T::ONE,
        ub0,
        Op::T,
        x,
        Op::N,
        T::ONE,
        MatMut::from_slice(&mut ga[..h0 * net.dim], h0, net.dim).unwrap(),
    );
    let gb0 = &mut rest[..h0];
    for row in ws.ub0[..b * h0].chunks_exact(h0) {
        for (g, &v) in gb0.iter_mut().zip(row) {
            *g += v;
        }
    }
    // D4. ∂Wl += E_lᵀ Ż_{l−1}
    let zd = MatRef::new(&ws.zd[..], b, h, h).unwrap();
    net.w_grads(e, zd, grads);
}
