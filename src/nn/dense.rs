//! The dense (fully connected) layer, shared by [`crate::nn::mlp::Mlp`] and
//! [`crate::nn::lipschitz::LipschitzNet`] (whose weight is the orthonormalised Q).
//!
//! A batch `A` (B × n_in, one sample a row), a weight `W` (n_out × n_in, row-major: PyTorch's layout)
//! and a bias `b` (n_out):
//! - L1 (forward): `Z = A Wᵀ + 1 bᵀ` (B × n_out);
//! - with the adjoint `Z̄` of Z (B × n_out), the backward of L1:
//!   L2. `W̄ = Z̄ᵀ A` (added to β·W̄: β = 1 accumulates into a gradient buffer, β = 0 overwrites);
//!   L3. `b̄ += 1ᵀ Z̄` (column sums of Z̄, as a gemm with a row of ones);
//!   L4. `Ā = Z̄ W` (the adjoint of the layer's input, or the input gradient for the first layer).
//!
//! Each step is one gemm (L1 adds the bias after it), with no allocation. A stack of dense layers
//! `d → w_1 → … → w_L → 1` has `Σ_l (w_l·w_{l−1} + w_l)` parameters ([`param_count`]; the Lipschitz
//! net's Cayley layers add one scale α each).

use crate::linalg::ops::add_row_vector;
use crate::linalg::{gemm, Mat, MatMut, MatRef, Op, Real};

/// L1: `z ← a wᵀ + 1 bᵀ`.
#[inline]
pub fn forward<T: Real>(a: MatRef<'_, T>, w: MatRef<'_, T>, b: &[T], z: &mut Mat<T>) {
    gemm(T::ONE, a, Op::N, w, Op::T, T::ZERO, z.view_mut());
    add_row_vector(z, b);
}

/// L2: `w̄ ← β w̄ + z̄ᵀ a`.
#[inline]
pub fn weight_grad<T: Real>(zbar: MatRef<'_, T>, a: MatRef<'_, T>, beta: T, wbar: MatMut<'_, T>) {
    gemm(T::ONE, zbar, Op::T, a, Op::N, beta, wbar);
}

/// L3: `b̄ += 1ᵀ z̄`, with `ones` a row of B ones.
#[inline]
pub fn bias_grad<T: Real>(ones: &[T], zbar: MatRef<'_, T>, bbar: &mut [T]) {
    let ones = MatRef::from_slice(ones, 1, zbar.rows()).expect("a row of ones per sample");
    let n = bbar.len();
    let bbar = MatMut::from_slice(bbar, 1, n).expect("bias gradient");
    gemm(T::ONE, ones, Op::N, zbar, Op::N, T::ONE, bbar);
}

/// L4: `ā ← z̄ w`.
#[inline]
pub fn input_grad<T: Real>(zbar: MatRef<'_, T>, w: MatRef<'_, T>, abar: MatMut<'_, T>) {
    gemm(T::ONE, zbar, Op::N, w, Op::N, T::ZERO, abar);
}

/// The parameter count of dense layers `dim → hidden… → 1`: per layer `w_out × w_in` weights, `w_out`
/// biases and `extra` scalars (1 for the Cayley scale α, else 0). None when it overflows (a hostile
/// model file).
pub fn param_count(dim: usize, hidden: &[usize], extra: usize) -> Option<usize> {
    let mut n = 0usize;
    let mut w_in = dim;
    for &w_out in hidden.iter().chain(core::iter::once(&1)) {
        let layer = w_out
            .checked_mul(w_in)?
            .checked_add(w_out.checked_add(extra)?)?;
        n = n.checked_add(layer)?;
        w_in = w_out;
    }
    Some(n)
}
