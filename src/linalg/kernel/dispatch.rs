//! The entry points of monge's gemm and the split of a product among the kernels: the ≤ NARROW
//! columns (dot or column kernels), then the ≤ NARROW rows (column kernels on the transpose), the rest
//! through the loop driver on the micro-kernels.

use super::column::{columns, NARROW};
use super::dot::dots;
use super::driver::driver;
use super::isa::{buffer_len, with_sized_buffer, Isa, OwnKernel};
use super::Micro;
use crate::linalg::gemm::Product;
use crate::linalg::{MatMut, MatRef, Op};

/// Whether `linalg::gemm` runs monge's own kernels on this CPU (else it calls matrixmultiply).
pub fn has_own_kernel() -> bool {
    Isa::detected().is_some()
}

/// [`crate::linalg::gemm`] (same contract) on the kernels of `isa`; `false`, doing nothing, when this CPU
/// cannot run them. For tests that compare the instruction sets. (Its argument list is `gemm`'s on
/// purpose, so `duplicates` pairs the two signatures; the bodies share `Product::of_views`.)
#[allow(clippy::too_many_arguments)]
pub fn gemm_on<T: OwnKernel>(
    isa: Isa,
    alpha: T,
    a: MatRef<'_, T>,
    op_a: Op,
    b: MatRef<'_, T>,
    op_b: Op,
    beta: T,
    mut c: MatMut<'_, T>,
) -> bool {
    if !isa.available() {
        return false;
    }
    let p = Product::of_views(alpha, a, op_a, b, op_b, beta, &mut c);
    // safety: `of_views` addresses only elements inside the views, and C is a unique borrow.
    unsafe { gemm_isa(isa, p) };
    true
}

/// `C ← α·A·B + β·C` on the raw operands of `p` by monge's kernels; returns `false` (doing nothing)
/// when this CPU has none. If β is zero, C is not read.
///
/// # Safety
/// The pointers of `p` must be valid for every element addressed by its dimensions and strides, and
/// `C` must not alias `A` or `B`.
pub(crate) unsafe fn gemm_own<T: OwnKernel>(p: Product<T>) -> bool {
    let Some(isa) = Isa::detected() else {
        return false;
    };
    // safety: forwarded contract; `isa` is available.
    unsafe { gemm_isa(isa, p) };
    true
}

/// [`gemm_own`] on the kernels of `isa`.
///
/// # Safety
/// As [`gemm_own`], and `isa` must be available on this CPU.
unsafe fn gemm_isa<T: OwnKernel>(isa: Isa, p: Product<T>) {
    let mk = T::micro(isa);
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.k == 0 {
        for i in 0..p.m as isize {
            for j in 0..p.n as isize {
                // safety: (i, j) inside C by the contract.
                unsafe {
                    let c = p.c.ptr.offset(i * p.c.rs + j * p.c.cs);
                    *c = if p.beta == T::ZERO {
                        T::ZERO
                    } else {
                        p.beta * *c
                    };
                }
            }
        }
        return;
    }
    // A few columns, then a few rows, go to the narrow kernels, the rest to the micro-kernels. Which
    // columns take the dot kernels depends on n and the strides only, never on m, and every other path
    // gives each element the micro-kernels' arithmetic (module doc): a row range of a product has the
    // bits of the same rows of the whole product.
    if p.n <= NARROW && narrow(&mk, true, p) {
        return;
    }
    let mut p = p;
    // Columns left over after the full and half panels.
    let t = p.n % (mk.nr / 2);
    // safety (pointer arithmetic): t ≤ n.
    if t <= NARROW && narrow(&mk, true, unsafe { p.columns_from(p.n - t) }) {
        p.n -= t;
    }
    // Few rows become few columns of the transpose.
    if p.m <= NARROW && narrow(&mk, false, p.transposed()) {
        return;
    }
    // Rows left over after the full slivers (their columns 0..n; the corner went with the columns).
    let u = p.m % mk.mr;
    // safety (pointer arithmetic): u ≤ m.
    if u <= NARROW && narrow(&mk, false, unsafe { p.rows_from(p.m - u) }.transposed()) {
        p.m -= u;
    }
    with_sized_buffer(&mk, |buf| {
        let kc_max = mk.kc + mk.kc / 4;
        let skip = buf.as_ptr().align_offset(64).min(64 / T::BYTES);
        let (bpack, asliver) = buf[skip..].split_at_mut(kc_max * mk.nc);
        // safety: forwarded contract; the buffers are this thread's and sized for the block sizes.
        unsafe { driver(&mk, p, bpack, asliver) };
    });
}

/// Fewer than NARROW + 1 columns: the dot kernels when `dot` is allowed (the choice must depend on n
/// and the strides only — see the module doc) and A's rows are contiguous, else the column kernels when
/// their gather offsets fit in an i32; returns whether either ran.
///
/// # Safety
/// As [`gemm_own`].
unsafe fn narrow<T: OwnKernel>(mk: &Micro<T>, dot: bool, p: Product<T>) -> bool {
    if p.n == 0 || p.n > NARROW {
        return false;
    }
    let width = 64 / T::BYTES;
    let kp = p.k.div_ceil(width) * width;
    if dot && p.a.cs == 1 && p.a.rs != 1 && NARROW * kp <= buffer_len(mk) {
        // safety: forwarded contract; A's rows are contiguous and Bᵀ fits the buffer (checked above).
        unsafe { dots(mk, p, kp) };
        return true;
    }
    if (mk.lanes - 1) * p.a.rs.unsigned_abs() > i32::MAX as usize {
        return false;
    }
    // safety: forwarded contract.
    unsafe { columns(mk, p) };
    true
}
