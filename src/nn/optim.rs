//! Optimisers on flat parameter buffers, and learning-rate schedules.
//!
//! Every network keeps its parameters in one flat buffer `θ` and its gradients in a buffer `∇θ` of the same
//! length; an optimiser owns its state vectors (sized once at construction) and updates `θ` in place.
//!
//! # Adam (PyTorch's `torch.optim.Adam`, so reference runs carry over)
//! At step t = 1, 2, … with gradient g and learning rate η:
//! 1. `g ← g + wd·θ` (L2 weight decay, coupled, as PyTorch's Adam; `wd = 0` by default)
//! 2. `m ← β₁ m + (1 − β₁) g`
//! 3. `v ← β₂ v + (1 − β₂) g²`
//! 4. `c₁ = 1 − β₁ᵗ`, `c₂ = 1 − β₂ᵗ`
//! 5. `θ ← θ − (η / c₁) · m / (√v / √c₂ + ε)`
//!
//! # SGD (PyTorch's `torch.optim.SGD`)
//! 1. `g ← g + wd·θ`; 2. with momentum μ > 0: `b ← μ b + g` (b = g at the first step), `g ← b`;
//! 3. `θ ← θ − η g`.
//!
//! # Schedules
//! Constant, or cosine annealing `η_t = η_min + ½(η₀ − η_min)(1 + cos(π t / T))` for `t ≤ T`
//! (η_min afterwards), as PyTorch's `CosineAnnealingLR` in closed form.

use crate::linalg::simd::simd_dispatch;
use crate::linalg::Real;

/// Learning-rate schedule as a function of the step count t (0-based: the first step uses `at(0)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule {
    /// η_t = η
    Constant(f64),
    /// η_t = η_min + ½(η₀ − η_min)(1 + cos(π t / T)), clamped at t = T.
    Cosine {
        /// η₀
        lr0: f64,
        /// η_min
        lr_min: f64,
        /// T (number of steps of the half cosine)
        total: usize,
    },
}

impl LrSchedule {
    /// Learning rate at step `t`.
    pub fn at(&self, t: usize) -> f64 {
        match *self {
            LrSchedule::Constant(lr) => lr,
            LrSchedule::Cosine { lr0, lr_min, total } => {
                if total == 0 {
                    return lr_min;
                }
                let t = t.min(total) as f64;
                lr_min
                    + 0.5
                        * (lr0 - lr_min)
                        * (1.0 + (core::f64::consts::PI * t / total as f64).cos())
            }
        }
    }
}

/// Settings of [`Adam`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// β₁
    pub beta1: f64,
    /// β₂
    pub beta2: f64,
    /// ε
    pub eps: f64,
    /// Coupled L2 weight decay (PyTorch `weight_decay`).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// PyTorch defaults: β = (0.9, 0.999), ε = 1e-8, no weight decay.
    fn default() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Adam with bias correction (see the module doc, steps 1–5).
#[derive(Clone, Debug)]
pub struct Adam<T> {
    cfg: AdamConfig,
    m: Vec<T>,
    v: Vec<T>,
    t: u64,
}

impl<T: Real> Adam<T> {
    /// State for a parameter buffer of length `n`.
    pub fn new(n: usize, cfg: AdamConfig) -> Self {
        Adam {
            cfg,
            m: vec![T::ZERO; n],
            v: vec![T::ZERO; n],
            t: 0,
        }
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The settings.
    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }

    /// The moments (m, v) and the step count (the whole state, for checkpoints).
    pub fn state(&self) -> (&[T], &[T], u64) {
        (&self.m, &self.v, self.t)
    }

    /// Restores a [`Adam::state`]; false (and nothing changed) when the lengths differ.
    pub fn restore(&mut self, m: &[T], v: &[T], t: u64) -> bool {
        if m.len() != self.m.len() || v.len() != self.v.len() {
            return false;
        }
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        self.t = t;
        true
    }

    /// One update of `params` with gradient `grads` at learning rate `lr`.
    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        let n = params.len();
        self.step_split(params, grads, lr, n, lr);
    }

    /// One update (one step count) with learning rate `lr` on `params[..split]` and `lr_tail` on
    /// `params[split..]` (parameter groups with their own rates, as PyTorch's `param_groups`; `split`
    /// is clamped to the length). With `lr_tail = lr` this is [`Adam::step`].
    pub fn step_split(
        &mut self,
        params: &mut [T],
        grads: &[T],
        lr: f64,
        split: usize,
        lr_tail: f64,
    ) {
        assert!(
            params.len() == self.m.len() && grads.len() == self.m.len(),
            "Adam: buffer lengths differ from the state"
        );
        let split = split.min(params.len());
        self.t += 1;
        let b1 = T::from_f64(self.cfg.beta1);
        let b2 = T::from_f64(self.cfg.beta2);
        let wd = T::from_f64(self.cfg.weight_decay);
        let eps = T::from_f64(self.cfg.eps);
        // step 4, in f64 then rounded (as PyTorch computes the scalars in Python floats)
        let c1 = 1.0 - self.cfg.beta1.powi(self.t as i32);
        let c2 = 1.0 - self.cfg.beta2.powi(self.t as i32);
        let step_size = T::from_f64(lr / c1);
        let sqrt_c2 = T::from_f64(c2.sqrt());
        let mut k = AdamScalars {
            b1,
            b2,
            one_m_b1: T::ONE - b1,
            one_m_b2: T::ONE - b2,
            wd,
            eps,
            step_size,
            sqrt_c2,
        };
        let (p0, p1) = params.split_at_mut(split);
        let (m0, m1) = self.m.split_at_mut(split);
        let (v0, v1) = self.v.split_at_mut(split);
        adam_update(p0, &grads[..split], m0, v0, k);
        if !p1.is_empty() {
            k.step_size = T::from_f64(lr_tail / c1);
            adam_update(p1, &grads[split..], m1, v1, k);
        }
    }
}

/// The scalars of one Adam step (module doc, steps 1–5).
#[derive(Clone, Copy)]
struct AdamScalars<T> {
    b1: T,
    b2: T,
    one_m_b1: T,
    one_m_b2: T,
    wd: T,
    eps: T,
    step_size: T,
    sqrt_c2: T,
}

simd_dispatch! {
    /// Steps 1–3 and 5 of the module doc over the whole buffer, for the widest instruction set of the
    /// CPU (the same operations in every copy, so the same bits).
    fn adam_update[T: Real][T](params: &mut [T], grads: &[T], m: &mut [T], v: &mut [T], k: AdamScalars<T>) -> () = adam_body;
}

#[inline(always)]
fn adam_body<T: Real>(params: &mut [T], grads: &[T], m: &mut [T], v: &mut [T], k: AdamScalars<T>) {
    let decay = k.wd != T::ZERO;
    for (((p, &g), m), v) in params
        .iter_mut()
        .zip(grads)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        // step 1
        let g = if decay { g + k.wd * *p } else { g };
        // steps 2–3
        let mi = k.b1 * *m + k.one_m_b1 * g;
        let vi = k.b2 * *v + k.one_m_b2 * g * g;
        *m = mi;
        *v = vi;
        // step 5
        let denom = vi.sqrt() / k.sqrt_c2 + k.eps;
        *p -= k.step_size * (mi / denom);
    }
}

/// Plain SGD with optional momentum and coupled weight decay (see the module doc).
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    momentum: f64,
    weight_decay: f64,
    buf: Vec<T>,
    t: u64,
}

impl<T: Real> Sgd<T> {
    /// State for a parameter buffer of length `n`.
    pub fn new(n: usize, momentum: f64, weight_decay: f64) -> Self {
        Sgd {
            momentum,
            weight_decay,
            buf: vec![T::ZERO; if momentum != 0.0 { n } else { 0 }],
            t: 0,
        }
    }

    /// One update of `params` with gradient `grads` at learning rate `lr`.
    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        assert_eq!(params.len(), grads.len(), "SGD: buffer lengths differ");
        let lr = T::from_f64(lr);
        let wd = T::from_f64(self.weight_decay);
        let mu = T::from_f64(self.momentum);
        let first = self.t == 0;
        self.t += 1;
        for i in 0..params.len() {
            let mut g = grads[i];
            if self.weight_decay != 0.0 {
                g += wd * params[i];
            }
            if self.momentum != 0.0 {
                let b = if first { g } else { mu * self.buf[i] + g };
                self.buf[i] = b;
                g = b;
            }
            params[i] -= lr * g;
        }
    }
}

/// Either optimiser behind one type, so solvers can take the choice as an option.
#[derive(Clone, Debug)]
pub enum Optimizer<T> {
    /// [`Adam`]
    Adam(Adam<T>),
    /// [`Sgd`]
    Sgd(Sgd<T>),
}

impl<T: Real> Optimizer<T> {
    /// One update (see [`Adam::step`], [`Sgd::step`]).
    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        match self {
            Optimizer::Adam(a) => a.step(params, grads, lr),
            Optimizer::Sgd(s) => s.step(params, grads, lr),
        }
    }
}
