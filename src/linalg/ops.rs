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
