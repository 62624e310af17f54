//! Displacement-sparsity penalties τ on Δ = T(x) − x (SPEC §3.2, §7.2): value, gradient, and the proximal
//! operator where a closed form exists.
//!
//! Every τ is a sum over features, `τ(Δ) = Σ_i φ(Δ_i)`; per coordinate:
//! - **L1**: `φ(z) = |z|`, `φ'(z) = sign(z)` (subgradient 0 at 0);
//!   `prox_{tφ}(v) = sign(v)·max(|v| − t, 0)` (soft threshold).
//! - **STVS** with parameter γ (\[CKA23\]): `φ(z) = γ² [u + ½ − ½ e^{−2u}]`, `u = asinh(|z|/(2γ))`.
//!   Evaluated in a form without cancellation ([`StvsCoord`], the one implementation: the W2 penalty,
//!   the elastic Sinkhorn cost and Alg. 1's Spa all call it). With `s = |z|/(2γ)`, `r = √(1 + s²)`:
//!   1. `e^{u} = s + r` and `e^{−u} = r − s` (as r² − s² = 1);
//!   2. `½ − ½e^{−2u} = −½·expm1(−2u) = ½(1 − (r − s)²) = s(r − s) = s / (r + s)` (using r² = 1 + s²):
//!      the last form is evaluated — a quotient of positive terms, accurate to a few ulps, where
//!      `½ − ½e^{−2u}` in f32 carries an absolute error of up to half an ulp of ½ (3e-8): a relative
//!      error of 3e-4 at s = 1e-4, and it is 0 for s < 3e-8, halving φ;
//!   3. `u = ln(s + r) = ln_1p(s + s²/(1 + r))` (as r − 1 = s²/(1 + r)), accurate for small s too;
//!
//!   So `φ(z) = γ² (ln_1p(s + s²/(1 + r)) + s/(r + s))`.
//!
//!   Derivative, step by step: `dφ/du = γ² (1 + e^{−2u})`; `du/d|z| = 1 / (2γ r)`;
//!   `1 + e^{−2u} = 1 + (r − s)² = 2r(r − s)`; so `φ'(z) = sign(z) · γ² · 2r(r − s) / (2γ r)
//!   = sign(z) · γ (r − s) = sign(z) · γ / (r + s)`, the last form evaluated (no cancellation for
//!   large s); → ±γ at 0±: subgradient 0 at 0.
//!
//!   Prox of weight 1: `prox_φ(v) = 0` if `v² ≤ γ²`, else `v − γ²/v`. This closed form holds for weight
//!   t = 1 only (SPEC §7.2: errors 0.1–0.3 otherwise), so [`Penalty::prox`] refuses t ≠ 1 for STVS.
//! - **Smoothed L0** with width σ: `φ(z) = 1 − exp(−z²/(2σ²))`, `φ'(z) = (z/σ²) exp(−z²/(2σ²))`. No prox.
//!
//! # Batch convention
//! Solvers add `λ · mean_x τ(T(x) − x)` (the batch **mean**, so λ does not depend on the batch size B).
//! \[C25\]'s code sums over the batch; its λ converts as `λ_mean = B · λ_sum` (e.g. their λ0 = 5e-4 at
//! B = 256 is λ_mean = 0.128). See [`lambda_mean_from_sum`].

use crate::linalg::{MatRef, Real};
use crate::{Error, Result};

/// A sparsity penalty τ (see the module doc for the formulas).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Penalty {
    /// No penalty (τ = 0).
    #[default]
    None,
    /// `Σ|Δ_i|`.
    L1,
    /// Soft-thresholding vanishing shrinkage (\[CKA23\]) with parameter γ > 0.
    Stvs {
        /// γ
        gamma: f64,
    },
    /// `Σ 1 − exp(−Δ_i²/(2σ²))` with width σ > 0.
    SmoothedL0 {
        /// σ
        sigma: f64,
    },
}

/// `λ_mean = B · λ_sum` (from \[C25\]'s batch-sum convention to monge's batch mean).
pub fn lambda_mean_from_sum(lambda_sum: f64, batch: usize) -> f64 {
    lambda_sum * batch as f64
}

impl Penalty {
    /// Checks the parameter (γ, σ finite and > 0).
    pub fn validate(&self) -> Result<()> {
        match *self {
            Penalty::Stvs { gamma } if !(gamma.is_finite() && gamma > 0.0) => Err(Error::Usage(
                format!("STVS parameter gamma must be positive and finite, got {gamma}"),
            )),
            Penalty::SmoothedL0 { sigma } if !(sigma.is_finite() && sigma > 0.0) => {
                Err(Error::Usage(format!(
                    "smoothed-L0 width sigma must be positive and finite, got {sigma}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Short name (`none`, `l1`, `stvs`, `smoothed-l0`).
    pub fn name(&self) -> &'static str {
        match self {
            Penalty::None => "none",
            Penalty::L1 => "l1",
            Penalty::Stvs { .. } => "stvs",
            Penalty::SmoothedL0 { .. } => "smoothed-l0",
        }
    }

    /// Whether τ ≡ 0.
    pub fn is_none(&self) -> bool {
        matches!(self, Penalty::None)
    }

    /// φ(z) for one coordinate.
    #[inline]
    pub fn phi<T: Real>(&self, z: T) -> T {
        match *self {
            Penalty::None => T::ZERO,
            Penalty::L1 => z.abs(),
            Penalty::Stvs { gamma } => StvsCoord::new(gamma).phi(z),
            Penalty::SmoothedL0 { sigma } => {
                let s2 = T::from_f64(2.0 * sigma * sigma);
                // 1 − e^{−z²/2σ²}, written as −expm1 for accuracy at small z
                -(-(z * z) / s2).exp_m1()
            }
        }
    }

    /// φ'(z) for one coordinate (0 at the kinks of L1 and STVS).
    #[inline]
    pub fn dphi<T: Real>(&self, z: T) -> T {
        match *self {
            Penalty::None => T::ZERO,
            Penalty::L1 => z.sign(),
            Penalty::Stvs { gamma } => StvsCoord::new(gamma).dphi(z),
            Penalty::SmoothedL0 { sigma } => {
                let s2 = T::from_f64(sigma * sigma);
                z / s2 * (-(z * z) / (T::TWO * s2)).exp()
            }
        }
    }

    /// τ(z) = Σ_i φ(z_i).
    pub fn value<T: Real>(&self, z: &[T]) -> T {
        if self.is_none() {
            return T::ZERO;
        }
        z.iter().fold(T::ZERO, |s, &v| s + self.phi(v))
    }

    /// `out ← ∇τ(z)`.
    pub fn grad<T: Real>(&self, z: &[T], out: &mut [T]) {
        assert_eq!(z.len(), out.len(), "penalty gradient: lengths differ");
        for (o, &v) in out.iter_mut().zip(z) {
            *o = self.dphi(v);
        }
    }

    /// `out += α ∇τ(z)`; returns τ(z). The fused form the solvers use.
    pub fn value_and_add_grad<T: Real>(&self, z: &[T], alpha: T, out: &mut [T]) -> T {
        assert_eq!(z.len(), out.len(), "penalty gradient: lengths differ");
        if self.is_none() {
            return T::ZERO;
        }
        let mut s = T::ZERO;
        for (o, &v) in out.iter_mut().zip(z) {
            s += self.phi(v);
            *o += alpha * self.dphi(v);
        }
        s
    }

    /// For one sample: `out += λ ∇τ(t − x)` and returns τ(t − x) — the fused kernel of the W2 g step
    /// (the variant is matched once per row and the constants hoisted; smoothed L0 shares one `exp`
    /// between φ and φ').
    pub fn add_displacement_grad<T: Real>(&self, x: &[T], t: &[T], lambda: T, out: &mut [T]) -> T {
        assert!(
            x.len() == t.len() && t.len() == out.len(),
            "penalty: lengths differ"
        );
        let mut tau = T::ZERO;
        match *self {
            Penalty::None => {}
            Penalty::SmoothedL0 { sigma } => {
                let inv_s2 = T::from_f64(1.0 / (sigma * sigma));
                let half_inv_s2 = T::HALF * inv_s2;
                for ((o, &xi), &ti) in out.iter_mut().zip(x).zip(t) {
                    let z = ti - xi;
                    let e = (-(z * z) * half_inv_s2).exp();
                    tau += T::ONE - e;
                    *o += lambda * z * inv_s2 * e;
                }
            }
            Penalty::Stvs { gamma } => {
                let st = StvsCoord::<T>::new(gamma);
                for ((o, &xi), &ti) in out.iter_mut().zip(x).zip(t) {
                    let z = ti - xi;
                    tau += st.phi(z);
                    *o += lambda * st.dphi(z);
                }
            }
            _ => {
                for ((o, &xi), &ti) in out.iter_mut().zip(x).zip(t) {
                    let z = ti - xi;
                    tau += self.phi(z);
                    *o += lambda * self.dphi(z);
                }
            }
        }
        tau
    }

    /// Batch mean of τ over the rows of `delta`, accumulated in f64.
    pub fn batch_mean<T: Real>(&self, delta: MatRef<'_, T>) -> f64 {
        if delta.rows() == 0 {
            return 0.0;
        }
        let s: f64 = (0..delta.rows())
            .map(|i| self.value(delta.row(i)).to_f64())
            .sum();
        s / delta.rows() as f64
    }

    /// `Σ_i τ(t_i − x_i)` over the rows of `x` and `tx`, each difference and φ in f64 (Alg. 1's Spa).
    pub fn displacement_sum<T: Real>(&self, x: MatRef<'_, T>, tx: MatRef<'_, T>) -> f64 {
        assert_eq!(
            (x.rows(), x.cols()),
            (tx.rows(), tx.cols()),
            "penalty: shapes differ"
        );
        let mut s = 0.0;
        for i in 0..x.rows() {
            for (a, b) in x.row(i).iter().zip(tx.row(i)) {
                s += self.phi(b.to_f64() - a.to_f64());
            }
        }
        s
    }

    /// `out ← prox_{t τ}(v) = argmin_z ½‖z − v‖² + t τ(z)` where a closed form exists: L1 (any t ≥ 0),
    /// STVS (t = 1 only), None (identity). Smoothed L0 and STVS with t ≠ 1 are `Error::NotAvailable`.
    pub fn prox<T: Real>(&self, v: &[T], t: f64, out: &mut [T]) -> Result<()> {
        assert_eq!(v.len(), out.len(), "prox: lengths differ");
        match *self {
            Penalty::None => out.copy_from_slice(v),
            Penalty::L1 => {
                let t = T::from_f64(t);
                for (o, &x) in out.iter_mut().zip(v) {
                    *o = x.sign() * (x.abs() - t).max(T::ZERO);
                }
            }
            Penalty::Stvs { gamma } => {
                if t != 1.0 {
                    return Err(Error::NotAvailable(format!(
                        "closed-form STVS prox with weight {t} (only weight 1 is exact)"
                    )));
                }
                let g2 = T::from_f64(gamma * gamma);
                for (o, &x) in out.iter_mut().zip(v) {
                    *o = if x * x <= g2 { T::ZERO } else { x - g2 / x };
                }
            }
            Penalty::SmoothedL0 { .. } => {
                return Err(Error::NotAvailable(
                    "proximal operator of the smoothed-L0 penalty".into(),
                ))
            }
        }
        Ok(())
    }
}

/// The STVS penalty per coordinate at parameter γ, its constants hoisted for hot loops (module doc:
/// `φ(z) = γ² (u + s/(r + s))`, `u = ln_1p(s + s²/(1 + r))`, `φ'(z) = sign(z)·γ/(r + s)`, with
/// `s = |z|/(2γ)`, `r = √(1 + s²)`). The one implementation of STVS in monge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StvsCoord<T> {
    gamma: T,
    gamma2: T,
    inv_2gamma: T,
}

impl<T: Real> StvsCoord<T> {
    /// The constants for γ (> 0, as [`Penalty::validate`] requires).
    #[inline(always)]
    pub fn new(gamma: f64) -> Self {
        StvsCoord {
            gamma: T::from_f64(gamma),
            gamma2: T::from_f64(gamma * gamma),
            inv_2gamma: T::from_f64(0.5 / gamma),
        }
    }

    /// `(s, r)` of z.
    #[inline(always)]
    fn s_r(&self, z: T) -> (T, T) {
        let s = z.abs() * self.inv_2gamma;
        (s, (T::ONE + s * s).sqrt())
    }

    /// `φ(z)/γ² = u + s/(r + s)` (sums of it are multiplied by γ² once).
    #[inline(always)]
    pub fn phi_over_gamma2(&self, z: T) -> T {
        let (s, r) = self.s_r(z);
        (s + s * s / (T::ONE + r)).ln_1p() + s / (r + s)
    }

    /// `φ(z) = γ² (u + s/(r + s))`.
    #[inline(always)]
    pub fn phi(&self, z: T) -> T {
        self.gamma2 * self.phi_over_gamma2(z)
    }

    /// `φ'(z) = sign(z)·γ/(r + s)` (0 at z = 0).
    #[inline(always)]
    pub fn dphi(&self, z: T) -> T {
        let (s, r) = self.s_r(z);
        z.sign() * (self.gamma / (r + s))
    }
}
