//! Elementwise and reduction kernels on flat slices and matrices, the small pieces every layer needs.
//! Each is a loop a reviewer can check at a glance; lengths must agree (violations panic: they are
//! internal invariants, not user input).

use super::{Mat, Real};

/// y ← α·x + y
#[inline]
pub fn axpy<T: Real>(alpha: T, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len(), "axpy: lengths differ");
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// x ← α·x
#[inline]
pub fn scale<T: Real>(alpha: T, x: &mut [T]) {
    x.iter_mut().for_each(|v| *v *= alpha);
}

/// ⟨x, y⟩
#[inline]
pub fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    assert_eq!(x.len(), y.len(), "dot: lengths differ");
    x.iter().zip(y).fold(T::ZERO, |s, (&a, &b)| s + a * b)
}

/// ‖x‖₂²
#[inline]
pub fn norm2_sq<T: Real>(x: &[T]) -> T {
    x.iter().fold(T::ZERO, |s, &a| s + a * a)
}

/// ‖x‖₂
#[inline]
pub fn norm2<T: Real>(x: &[T]) -> T {
    norm2_sq(x).sqrt()
}

/// ‖x − y‖₂²
#[inline]
pub fn dist2_sq<T: Real>(x: &[T], y: &[T]) -> T {
    assert_eq!(x.len(), y.len(), "dist2_sq: lengths differ");
    x.iter()
        .zip(y)
        .fold(T::ZERO, |s, (&a, &b)| s + (a - b) * (a - b))
}

/// Σ xᵢ
#[inline]
pub fn sum<T: Real>(x: &[T]) -> T {
    x.iter().copied().sum()
}

/// max |xᵢ| (0 for an empty slice)
#[inline]
pub fn max_abs<T: Real>(x: &[T]) -> T {
    x.iter().fold(T::ZERO, |m, &a| m.max(a.abs()))
}

/// z ← x ⊙ y
#[inline]
pub fn hadamard<T: Real>(x: &[T], y: &[T], z: &mut [T]) {
    assert!(
        x.len() == y.len() && y.len() == z.len(),
        "hadamard: lengths differ"
    );
    for ((zi, &a), &b) in z.iter_mut().zip(x).zip(y) {
        *zi = a * b;
    }
}

/// Every row of `m` ← row + `b` (bias broadcast, `Y = X Wᵀ + 1 bᵀ`).
#[inline]
pub fn add_row_vector<T: Real>(m: &mut Mat<T>, b: &[T]) {
    assert_eq!(m.cols(), b.len(), "add_row_vector: width differs");
    let c = m.cols();
    if c == 0 {
        return;
    }
    for row in m.as_mut_slice().chunks_exact_mut(c) {
        for (v, &bi) in row.iter_mut().zip(b) {
            *v += bi;
        }
    }
}

/// out ← β·out + α·(column sums of m) (bias gradient `∂b = 1ᵀ Ȳ`).
#[inline]
pub fn col_sums_into<T: Real>(alpha: T, m: &Mat<T>, beta: T, out: &mut [T]) {
    assert_eq!(m.cols(), out.len(), "col_sums_into: width differs");
    if beta == T::ZERO {
        out.fill(T::ZERO);
    } else if beta != T::ONE {
        scale(beta, out);
    }
    let c = m.cols();
    if c == 0 {
        return;
    }
    for row in m.as_slice().chunks_exact(c) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += alpha * v;
        }
    }
}

/// Column means of a `n × d` matrix.
pub fn col_means<T: Real>(m: &Mat<T>) -> Vec<T> {
    let mut out = vec![T::ZERO; m.cols()];
    if m.rows() > 0 {
        col_sums_into(T::ONE / T::from_usize(m.rows()), m, T::ZERO, &mut out);
    }
    out
}

/// `(eˣ, eˣ − 1)` for x ≤ 0, without a library call: the activation of ELU networks and its
/// derivatives, and the log-domain Sinkhorn's exponentials, in loops that vectorise (libm's `exp` is
/// one call per element). Within an ulp of libm's `exp` and `exp_m1` (`tests/linalg_ops.rs`). x above 0
/// is taken as 0, and x below x_min (−87 for f32, −708 for f64: the last x whose 2ᵏ of step 3 is a
/// normal number) as x_min; NaN stays NaN.
///
/// 1. Range reduction (Cody–Waite): `k = round(x / ln 2)` (adding and subtracting `M = 1.5/ε` rounds to
///    the nearest integer), `r = (x − k·ln2_hi) − k·ln2_lo` with `ln 2 = ln2_hi + ln2_lo` and ln2_hi
///    short enough that `k·ln2_hi` is exact, so `|r| ≤ ln 2 / 2` and r is accurate to an ulp.
/// 2. `p = eʳ − 1 = Σ_{j=1}^{N} rʲ/j!` by Horner, `p = r(1 + r/2 (1 + r/3 (⋯ (1 + r/N))))`, N = 7 for
///    f32 and 13 for f64: the remainder `(ln 2/2)^{N+1}/(N+1)!` is 5·10⁻⁹ and 4·10⁻¹⁸, under half an ulp
///    of 1 in each type.
/// 3. `eˣ = 2ᵏ(1 + p)` and `eˣ − 1 = 2ᵏp + (2ᵏ − 1)`: for k = 0 this is p itself (accurate near 0, as
///    expm1); for k ≤ −1, `|eˣ − 1| ≥ 0.29` and both terms are exact up to one rounding each.
#[inline(always)]
pub fn exp_nonpositive<T: Real>(x: T) -> (T, T) {
    let f32_type = T::BYTES == 4;
    let (x_min, ln2_hi, ln2_lo, n) = if f32_type {
        (-87.0, 0.693_145_751_953_125, 1.428_606_820_309_417_3e-6, 7)
    } else {
        (
            -708.0,
            6.931_471_803_691_238e-1,
            1.908_214_929_270_587_7e-10,
            13,
        )
    };
    let x_min = T::from_f64(x_min);
    let x = if x > T::ZERO { T::ZERO } else { x };
    let x = if x < x_min { x_min } else { x };
    // 1. k and r
    let m = T::from_f64(1.5) / T::EPSILON;
    let k = (x * T::from_f64(core::f64::consts::LOG2_E) + m) - m;
    let r = (x - k * T::from_f64(ln2_hi)) - k * T::from_f64(ln2_lo);
    // 2. p = eʳ − 1
    let mut acc = T::ONE;
    // (an exclusive range: an inclusive one is not unrolled in time, and the caller's loop would not
    // vectorise)
    for j in (2..n + 1).rev() {
        acc = T::ONE + r * T::from_f64(1.0 / j as f64) * acc;
    }
    let p = r * acc;
    // 3. scale by 2ᵏ
    let two_k = T::exp2_int(k);
    (two_k * (T::ONE + p), two_k * p + (two_k - T::ONE))
}

/// Numerically stable softplus: ln(1 + eˣ) = max(x, 0) + ln(1 + e^{−|x|}).
#[inline]
pub fn softplus<T: Real>(x: T) -> T {
    x.max(T::ZERO) + (-x.abs()).exp().ln_1p()
}

/// Logistic sigmoid 1/(1 + e^{−x}), evaluated without overflow for either sign.
#[inline]
pub fn sigmoid<T: Real>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// Stable log-sum-exp of a slice (−∞ for an empty slice).
pub fn logsumexp<T: Real>(x: &[T]) -> T {
    let m = x.iter().fold(-T::INFINITY, |m, &v| m.max(v));
    if !m.is_finite() {
        return m;
    }
    let s: T = x.iter().map(|&v| (v - m).exp()).sum();
    m + s.ln()
}
