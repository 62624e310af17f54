//! Input-convex neural network (ICNN) of \[M20\]/\[B23\] with hand-derived first and second-order gradients
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
//! with ρ = identity (CellOT, the default) or ρ = σ (the 2-D TensorFlow code of \[M20\]/\[C25\]; option
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
//! With [`Activation::Elu`] (Amos 2023's w2ot ICNN) σ = q = ELU on every layer (and ρ = ELU with
//! `output_activation`): σ(u) = u or eᵘ − 1, σ' = 1 or eᵘ, σ'' = 0 or eᵘ — convex, non-decreasing and
//! C¹, so ∇g is continuous where the LeakyReLU network's map jumps across the kinks of layers ≥ 1. The
//! passes take the activation as a type (`Leaky`, `Elu`: one compiled copy each); σ'' ≠ 0 adds the
//! second adjoint of every layer to steps D and J (`icnn/second_order.rs`, D6–D8).
//!
//! # The passes, one file each
//! - `icnn/workspace.rs`: the per-batch scratch [`IcnnWorkspace`], sized once;
//! - `icnn/forward.rs`: step F, the forward pass (the value g(x));
//! - `icnn/backward.rs`: step B, the backward pass (∇_x g, the map T = ∇g, and the parameter gradient
//!   of the value);
//! - `icnn/second_order.rs`: step D, the double backprop (the parameter gradient of ⟨V, ∇g⟩), and
//!   step J, the Hessian–vector product;
//! - `icnn/convexity.rs`: the constraint W ≥ 0 (clamp and penalty).
//!
//! Each file opens with the derivation it implements.
//!
//! # Quadratic path ([`Icnn::with_quadratic`])
//! Optionally the potential is `φ(x) = g(x) + q(x)`, `q(x) = ½ xᵀ(LLᵀ + diag(softplus(s)))x + βᵀx`, convex
//! for every (L, s, β); its blocks follow W_L in the buffer. Every pass adds the matching pass of q,
//! derived in [`crate::nn::quadratic`]: F adds q(x) to the value (outside ρ), B stores the seed, B4 adds
//! `w_i ∇q(x_i)`, B5 and D add q's parameter gradients, J adds `(LLᵀ + diag(softplus(s))) v`. The W
//! constraint (`icnn/convexity.rs`) does not touch q.

mod backward;
mod convexity;
mod forward;
mod second_order;
mod workspace;

pub use workspace::IcnnWorkspace;

use crate::linalg::ops::exp_nonpositive;
use crate::linalg::{MatRef, Real};
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
    /// Apply the activation σ to the scalar output (LeakyReLU: the 2-D TensorFlow code); CellOT has none.
    pub output_activation: bool,
    /// The activation of every layer (default LeakyReLU with a squared first layer, CellOT).
    pub activation: Activation,
}

impl Default for IcnnConfig {
    fn default() -> Self {
        IcnnConfig {
            hidden: vec![64; 4],
            init: IcnnInit::default(),
            output_activation: false,
            activation: Activation::LeakyRelu,
        }
    }
}

/// The activations of an [`Icnn`] (σ on layers 1..L−1, q on layer 0, ρ on the output when enabled).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    /// σ = LeakyReLU(0.2), q = σ² (\[M20\]/\[B23\] CellOT; the default). σ'' = 0 a.e., so the map ∇g is
    /// piecewise affine and jumps where a unit of layer ≥ 1 changes sign.
    #[default]
    LeakyRelu,
    /// σ = q = ρ = ELU, `u` (u > 0) or `eᵘ − 1` (u ≤ 0), on every layer (Amos 2023's w2ot ICNN): convex,
    /// increasing and C¹ (σ' = 1 or eᵘ, σ'' = 0 or eᵘ), so the map ∇g is continuous. The second-order
    /// passes carry the σ'' terms of every layer (`icnn/second_order.rs`).
    Elu,
}

impl Activation {
    /// The spelling of the CLI and the model file.
    pub fn name(self) -> &'static str {
        match self {
            Activation::LeakyRelu => "leaky-relu",
            Activation::Elu => "elu",
        }
    }

    /// Parses [`Activation::name`]'s spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "leaky-relu" => Some(Activation::LeakyRelu),
            "elu" => Some(Activation::Elu),
            _ => None,
        }
    }
}

/// One activation as the passes use it: σ, σ' and `r = σ''/σ'` on layers ≥ 1 and the output, q, q', q''
/// on layer 0. `SMOOTH` = σ'' is not identically 0 (the second-order passes then run the second adjoint
/// through every layer; without it only layer 0's q'' term is non-zero).
pub(super) trait Act {
    const SMOOTH: bool;
    fn sigma<T: Real>(u: T) -> T;
    fn dsigma<T: Real>(u: T) -> T;
    /// σ''/σ' (0 where σ'' = 0).
    fn ratio<T: Real>(u: T) -> T;
    fn q<T: Real>(u: T) -> T;
    fn dq<T: Real>(u: T) -> T;
    fn d2q<T: Real>(u: T) -> T;
}

/// [`Activation::LeakyRelu`].
pub(super) struct Leaky;
/// [`Activation::Elu`].
pub(super) struct Elu;

impl Act for Leaky {
    const SMOOTH: bool = false;
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
    #[inline(always)]
    fn ratio<T: Real>(_: T) -> T {
        T::ZERO
    }
    /// q = σ²
    #[inline(always)]
    fn q<T: Real>(u: T) -> T {
        let s = Self::sigma(u);
        s * s
    }
    /// q' = 2σσ'
    #[inline(always)]
    fn dq<T: Real>(u: T) -> T {
        T::TWO * Self::sigma(u) * Self::dsigma(u)
    }
    /// q'' = 2σ'² (σ'' = 0 a.e.)
    #[inline(always)]
    fn d2q<T: Real>(u: T) -> T {
        let d = Self::dsigma(u);
        T::TWO * d * d
    }
}

/// ELU: σ(u) = u for u > 0, eᵘ − 1 otherwise. eᵘ comes from [`exp_nonpositive`] (no library call), so
/// the passes' loops over units vectorise; it is evaluated on every lane and selected.
impl Act for Elu {
    const SMOOTH: bool = true;
    #[inline(always)]
    fn sigma<T: Real>(u: T) -> T {
        let em1 = exp_nonpositive(u).1;
        if u > T::ZERO {
            u
        } else {
            em1
        }
    }
    #[inline(always)]
    fn dsigma<T: Real>(u: T) -> T {
        let e = exp_nonpositive(u).0;
        if u > T::ZERO {
            T::ONE
        } else {
            e
        }
    }
    /// σ''/σ' = eᵘ/eᵘ = 1 (u ≤ 0), 0 (u > 0)
    #[inline(always)]
    fn ratio<T: Real>(u: T) -> T {
        if u > T::ZERO {
            T::ZERO
        } else {
            T::ONE
        }
    }
    #[inline(always)]
    fn q<T: Real>(u: T) -> T {
        Self::sigma(u)
    }
    #[inline(always)]
    fn dq<T: Real>(u: T) -> T {
        Self::dsigma(u)
    }
    /// σ'' = σ' · (σ''/σ'): eᵘ (u ≤ 0), 0 (u > 0)
    #[inline(always)]
    fn d2q<T: Real>(u: T) -> T {
        Self::dsigma(u) * Self::ratio(u)
    }
}

/// Runs `$f::<T, A>(args)` with A the network's activation type.
macro_rules! with_act {
    ($act:expr, $f:ident :: <$t:ty> ($($arg:expr),* $(,)?)) => {
        match $act {
            $crate::nn::icnn::Activation::LeakyRelu => $f::<$t, $crate::nn::icnn::Leaky>($($arg),*),
            $crate::nn::icnn::Activation::Elu => $f::<$t, $crate::nn::icnn::Elu>($($arg),*),
        }
    };
}
pub(super) use with_act;

/// An input-convex network g: ℝᵈ → ℝ (see the module doc for the architecture and the derivations).
#[derive(Clone, Debug, PartialEq)]
pub struct Icnn<T> {
    dim: usize,
    hidden: Vec<usize>,
    output_activation: bool,
    activation: Activation,
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

impl<T: Real> Icnn<T> {
    /// A network on ℝ^`dim` with the given architecture, weights drawn from `rng`.
    ///
    /// Panics if `dim == 0` or a width is 0 or `hidden` is empty (internal invariants: options are
    /// validated by the solver).
    pub fn new(dim: usize, cfg: &IcnnConfig, rng: &mut Stream) -> Self {
        let mut net =
            Self::zeros(dim, &cfg.hidden, cfg.output_activation).with_activation(cfg.activation);
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
            activation: Activation::LeakyRelu,
            params: vec![T::ZERO; off],
            h_off,
            off_b,
            off_w,
            quad: None,
        }
    }

    /// The network with activation `act` (the parameters and their layout do not depend on it).
    pub fn with_activation(mut self, act: Activation) -> Self {
        self.activation = act;
        self
    }

    /// The activation of every layer.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Whether σ'' is not identically 0 (the second-order passes then need the second adjoint).
    pub(super) fn smooth(&self) -> bool {
        match self.activation {
            Activation::LeakyRelu => Leaky::SMOOTH,
            Activation::Elu => Elu::SMOOTH,
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
    /// Whether the activation σ is applied to the output.
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
}
