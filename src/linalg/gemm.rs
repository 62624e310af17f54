//! General matrix multiply on views: `C ← α·op(A)·op(B) + β·C`.
//!
//! `op(X)` is `X` ([`Op::N`]) or `Xᵀ` ([`Op::T`]). A transpose is a swap of the row and column strides
//! handed to the kernels ([`super::kernel`], or `matrixmultiply` on CPUs without AVX2) — never a copy.
//! Contract: if `β` is zero, `C` is not read, so it may hold anything (even NaN) on entry.
//!
//! Shapes: `op(A)` is m×k, `op(B)` is k×n, `C` is m×n; a mismatch is a violated internal invariant and
//! panics (callers size their workspaces once; shapes never come from user data unchecked).

use super::{MatMut, MatRef, Real};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Whether [`count_flops`] is running (one relaxed load per gemm call otherwise).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// FLOPs issued while counting.
static FLOPS: AtomicU64 = AtomicU64::new(0);
/// Serialises [`count_flops`] sessions.
static SESSION: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the gemm FLOPs (`2·m·k·n` per product) that every thread issued
/// through [`gemm`] while it ran — the FLOP count of a training iteration, measured rather than derived.
/// For benchmarks and tests: sessions are serialised, but gemm calls made meanwhile by unrelated threads
/// are counted too, so count in a process that runs nothing else.
pub fn count_flops<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let _session = SESSION.lock().unwrap_or_else(|e| e.into_inner());
    FLOPS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            COUNTING.store(false, Ordering::SeqCst);
        }
    }
    let stop = Stop;
    let r = f();
    drop(stop);
    (r, FLOPS.load(Ordering::SeqCst))
}

/// Whether a gemm operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

impl Op {
    /// (rows, cols, row stride, col stride) of `op(X)` for a row-major view X.
    #[inline]
    pub(crate) fn apply<T: Real>(self, x: &MatRef<'_, T>) -> (usize, usize, isize, isize) {
        let rs = x.row_stride() as isize;
        match self {
            Op::N => (x.rows(), x.cols(), rs, 1),
            Op::T => (x.cols(), x.rows(), 1, rs),
        }
    }
}

/// One strided operand: element (i, j) at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct Strided<P> {
    pub(crate) ptr: P,
    pub(crate) rs: isize,
    pub(crate) cs: isize,
}

impl<P: Copy> Strided<P> {
    /// (pointer, row stride, column stride)
    #[inline]
    pub(crate) fn parts(self) -> (P, isize, isize) {
        (self.ptr, self.rs, self.cs)
    }
    /// The transpose: the same elements with the strides swapped.
    #[inline]
    fn t(self) -> Self {
        Strided {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// One product `C ← α·A·B + β·C` on raw strided operands: `A` m×k, `B` k×n, `C` m×n. If β is zero, C
/// is not read. (`pub` in this private module: named only inside `linalg`, yet allowed in
/// [`Real::gemm_raw`].)
#[derive(Clone, Copy)]
pub struct Product<T> {
    pub(crate) m: usize,
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) alpha: T,
    pub(crate) a: Strided<*const T>,
    pub(crate) b: Strided<*const T>,
    pub(crate) beta: T,
    pub(crate) c: Strided<*mut T>,
}

impl<T> Product<T> {
    /// `Cᵀ ← α·op(B)ᵀ·op(A)ᵀ + β·Cᵀ`: the same elements with rows and columns swapped (and `b·a = a·b`
    /// exactly, so the same bits).
    pub(crate) fn transposed(self) -> Self {
        Product {
            m: self.n,
            n: self.m,
            a: self.b.t(),
            b: self.a.t(),
            c: self.c.t(),
            ..self
        }
    }

    /// Columns `j0..` of the product.
    ///
    /// # Safety
    /// `j0 ≤ n` (pointer arithmetic inside B and C).
    pub(crate) unsafe fn columns_from(self, j0: usize) -> Self {
        // safety: j0 ≤ n, by the contract.
        let (b, c) = unsafe {
            (
                self.b.ptr.offset(j0 as isize * self.b.cs),
                self.c.ptr.offset(j0 as isize * self.c.cs),
            )
        };
        Product {
            n: self.n - j0,
            b: Strided { ptr: b, ..self.b },
            c: Strided { ptr: c, ..self.c },
            ..self
        }
    }

    /// Rows `i0..` of the product: the columns `i0..` of its transpose.
    ///
    /// # Safety
    /// `i0 ≤ m` (pointer arithmetic inside A and C).
    pub(crate) unsafe fn rows_from(self, i0: usize) -> Self {
        // safety: i0 ≤ m, the transpose's n.
        unsafe { self.transposed().columns_from(i0) }.transposed()
    }
}

impl<T: Real> Product<T> {
    /// The raw operands of `C ← α·op(A)·op(B) + β·C` on views (C has unit column stride). Panics if the
    /// shapes do not match. Every element the result addresses lies inside the views.
    pub(crate) fn of_views(
        alpha: T,
        a: MatRef<'_, T>,
        op_a: Op,
        b: MatRef<'_, T>,
        op_b: Op,
        beta: T,
        c: &mut MatMut<'_, T>,
    ) -> Self {
        let (m, k, rsa, csa) = op_a.apply(&a);
        let (k2, n, rsb, csb) = op_b.apply(&b);
        assert_eq!(k, k2, "gemm: inner dimensions differ ({k} vs {k2})");
        assert_eq!(
            (c.rows(), c.cols()),
            (m, n),
            "gemm: output is {}×{}, product is {m}×{n}",
            c.rows(),
            c.cols()
        );
        let (ptr, rs) = (a.as_slice().as_ptr(), rsa);
        let a = Strided { ptr, rs, cs: csa };
        let (ptr, rs) = (b.as_slice().as_ptr(), rsb);
        let b = Strided { ptr, rs, cs: csb };
        let (ptr, rs) = (c.as_mut_ptr(), c.row_stride() as isize);
        let c = Strided { ptr, rs, cs: 1 };
        Product {
            m,
            k,
            n,
            alpha,
            a,
            b,
            beta,
            c,
        }
    }
}

/// `C ← α·op(A)·op(B) + β·C` (see the module doc for the contract).
pub fn gemm<T: Real>(
    alpha: T,
    a: MatRef<'_, T>,
    op_a: Op,
    b: MatRef<'_, T>,
    op_b: Op,
    beta: T,
    mut c: MatMut<'_, T>,
) {
    let p = Product::of_views(alpha, a, op_a, b, op_b, beta, &mut c);
    if p.m == 0 || p.n == 0 {
        return;
    }
    if COUNTING.load(Ordering::Relaxed) {
        FLOPS.fetch_add(2 * (p.m * p.k * p.n) as u64, Ordering::Relaxed);
    }
    // safety: MatRef/MatMut constructors guarantee every (i, j) with i < rows, j < cols lies inside the
    // borrowed slices at i*rs + j; `op` only swaps which of the two strides walks which index. C is a
    // unique borrow, so it cannot alias A or B. (k = 0 is C ← β·C in both backends.)
    unsafe { T::gemm_raw(p) };
}
