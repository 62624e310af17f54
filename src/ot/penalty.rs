//! Displacement-sparsity penalties τ on Δ = T(x) − x (SPEC §3.2, §7.2): value, gradient, and the proximal
//! operator where a closed form exists.
//!
//! Every τ is a sum over features, `τ(Δ) = Σ_i φ(Δ_i)`; per coordinate:
//! - **L1**: `φ(z) = |z|`, `φ'(z) = sign(z)` (subgradient 0 at 0);
//!   `prox_{tφ}(v) = sign(v)·max(|v| − t, 0)` (soft threshold).
//! - **STVS** with parameter γ ([CKA23]): `φ(z) = γ² [u + ½ − ½ e^{−2u}]`, `u = asinh(|z|/(2γ))`.
//!   Derivative, step by step: `du/d|z| = 1 / (2γ √(1 + z²/(4γ²)))`; `dφ/du = γ² (1 + e^{−2u})`; so
//!   `φ'(z) = sign(z) · γ² (1 + e^{−2u}) / (2γ √(1 + z²/(4γ²)))` (→ ±γ at 0±: subgradient 0 at 0).
//!   Prox of weight 1: `prox_φ(v) = 0` if `v² ≤ γ²`, else `v − γ²/v`. This closed form holds for weight
//!   t = 1 only (SPEC §7.2: errors 0.1–0.3 otherwise), so [`Penalty::prox`] refuses t ≠ 1 for STVS.
//! - **Smoothed L0** with width σ: `φ(z) = 1 − exp(−z²/(2σ²))`, `φ'(z) = (z/σ²) exp(−z²/(2σ²))`. No prox.
//!
//! # Batch convention
//! Solvers add `λ · mean_x τ(T(x) − x)` (the batch **mean**, so λ does not depend on the batch size B).
//! [C25]'s code sums over the batch; its λ converts as `λ_mean = B · λ_sum` (e.g. their λ0 = 5e-4 at
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
    /// Soft-thresholding vanishing shrinkage ([CKA23]) with parameter γ > 0.
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

/// `λ_mean = B · λ_sum` (from [C25]'s batch-sum convention to monge's batch mean).
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
            Penalty::Stvs { gamma } => {
                let g = T::from_f64(gamma);
                let u = (z.abs() / (T::TWO * g)).asinh();
                g * g * (u + T::HALF - T::HALF * (-(T::TWO * u)).exp())
            }
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
            Penalty::Stvs { gamma } => {
                let g = T::from_f64(gamma);
                let r = z / (T::TWO * g);
                let root = (T::ONE + r * r).sqrt();
                let u = r.abs().asinh();
                z.sign() * g * g * (T::ONE + (-(T::TWO * u)).exp()) / (T::TWO * g * root)
            }
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
