//! The column kernels, for products with at most NARROW columns (or, on the transpose, rows): one
//! vector of rows of C per column, `C[i, j] ← α·Σ_p a[i, p]·b[p, j] + β·C[i, j]` with each element's
//! arithmetic that of the micro-kernels (the same FMA chain over p in the same depth blocks, then the
//! same `α·acc + β·C`), so the bits of an element do not depend on the path that computed it.

use super::driver::depth_blocks;
use super::Micro;
use crate::linalg::gemm::Product;
use crate::linalg::Real;

/// Products with at most this many columns (or, transposed, rows) take the column kernels.
pub(super) const NARROW: usize = 4;

/// `(kc, n, α, a, rsa, csa, rows, b, rsb, csb, β, c, rsc, csc)`: C[0..rows, 0..n] ← α·A·B + β·C with
/// n ≤ NARROW, `rows` ≤ the kernel's lane count, all strides arbitrary.
pub(super) type ColumnFn<T> = unsafe fn(
    usize,
    usize,
    T,
    *const T,
    isize,
    isize,
    usize,
    *const T,
    isize,
    isize,
    T,
    *mut T,
    isize,
    isize,
);

/// Defines a column kernel `$name`: one vector of `$lanes` rows of C per column, n ≤ NARROW columns,
/// with each element's arithmetic that of the micro-kernels (an FMA chain over p, then α·acc + β·C).
/// A's rows come from one vector load when they are contiguous (rsa = 1), else from a gather.
macro_rules! column_kernel {
    (
        $name:ident, $t:ty, $feat:literal, $lanes:literal,
        $zero:ident, $load:ident, $store:ident, $splat:ident, $fma:ident, $mul:ident, $gather:path
    ) => {
        /// # Safety
        /// The CPU must have the instruction set named in `target_feature`; `a` must be valid for
        /// `a[i·rsa + p·csa]` (i < rows, p < kc), `b` for `b[p·rsb + j·csb]` and `c` for
        /// `c[i·rsc + j·csc]` (j < n ≤ NARROW), `c` must not alias `a` or `b`, 1 ≤ rows ≤ lanes, and
        /// `(lanes − 1)·|rsa|` must fit in an i32.
        #[target_feature(enable = $feat)]
        pub(in crate::linalg::kernel) unsafe fn $name(
            kc: usize,
            n: usize,
            alpha: $t,
            a: *const $t,
            rsa: isize,
            csa: isize,
            rows: usize,
            b: *const $t,
            rsb: isize,
            csb: isize,
            beta: $t,
            c: *mut $t,
            rsc: isize,
            csc: isize,
        ) {
            use std::arch::x86_64::*;
            // Lanes past `rows` read the last row again; they are never stored.
            let mut idx = [0i32; $lanes];
            for (l, x) in idx.iter_mut().enumerate() {
                *x = (l.min(rows - 1) as isize * rsa) as i32;
            }
            let contiguous = rsa == 1 && rows == $lanes;
            let mut acc = [$zero(); NARROW];
            let mut ap = a;
            for p in 0..kc as isize {
                // safety: p < kc, lanes < rows (or repeating row rows − 1): inside the contract.
                unsafe {
                    let av = if contiguous {
                        $load(ap)
                    } else {
                        $gather(ap, &idx)
                    };
                    for (j, x) in acc.iter_mut().enumerate() {
                        if j < n {
                            let bv = $splat(*b.offset(p * rsb + j as isize * csb));
                            *x = $fma(av, bv, *x);
                        }
                    }
                    ap = ap.offset(csa);
                }
            }
            let va = $splat(alpha);
            let mut tmp = [0.0 as $t; $lanes];
            for (j, &x) in acc.iter().enumerate().take(n) {
                // safety: column j < n, rows l < rows: inside C.
                unsafe {
                    let cj = c.offset(j as isize * csc);
                    if beta != 0.0 {
                        for (l, t) in tmp.iter_mut().enumerate().take(rows) {
                            *t = *cj.offset(l as isize * rsc);
                        }
                    }
                    let cv = $load(tmp.as_ptr());
                    $store(
                        tmp.as_mut_ptr(),
                        c_update!($fma, $mul, $splat, va, x, beta, cv),
                    );
                    for (l, &t) in tmp.iter().enumerate().take(rows) {
                        *cj.offset(l as isize * rsc) = t;
                    }
                }
            }
        }
    };
}

pub(super) use column_kernel;

/// The column-kernel loop: the depth blocks of [`depth_blocks`], `lanes` rows of C per call.
///
/// # Safety
/// As [`gemm_own`](super::gemm_own), with n ≤ NARROW and `(lanes − 1)·|rsa|` within i32.
pub(super) unsafe fn columns<T: Real>(mk: &Micro<T>, p: Product<T>) {
    let ((a, rsa, csa), (b, rsb, csb), (c, rsc, csc)) = (p.a.parts(), p.b.parts(), p.c.parts());
    for (pc, kc, beta) in depth_blocks(mk, p.k, p.beta) {
        for i0 in (0..p.m).step_by(mk.lanes) {
            let rows = mk.lanes.min(p.m - i0);
            // safety: rows i0.. < m and depth pc.. < k inside A, B and C; the kernel's contract holds
            // by this function's.
            unsafe {
                (mk.column)(
                    kc,
                    p.n,
                    p.alpha,
                    a.offset(i0 as isize * rsa + pc as isize * csa),
                    rsa,
                    csa,
                    rows,
                    b.offset(pc as isize * rsb),
                    rsb,
                    csb,
                    beta,
                    c.offset(i0 as isize * rsc),
                    rsc,
                    csc,
                )
            };
        }
    }
}
