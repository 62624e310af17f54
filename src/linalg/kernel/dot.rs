//! The dot kernels, for the ≤ NARROW columns of a product whose A has contiguous rows:
//! `C[r, j] ← α·⟨a_r, b_j⟩ + β·C[r, j]`, the dot product in W lanes (16 in f32, 8 in f64, on every
//! instruction set), lane l holding the FMA chain over p ≡ l (mod W), the lanes summed by a fixed
//! halving tree; Bᵀ packed once per product into the thread's buffer.

use super::isa::{with_sized_buffer, OwnKernel};
use super::Micro;
use crate::linalg::gemm::Product;

/// `(k, n, α, a, rsa, rows, bt, ldb, β, c, rsc, csc)`: C[0..rows, 0..n] ← α·A·B + β·C with n ≤ NARROW,
/// `rows` ≤ the kernel's row count, A's rows contiguous (row stride `rsa`), and Bᵀ packed: column j of B
/// at `bt[j·ldb ..]`, zero-padded to a multiple of the lane width W.
pub(super) type DotFn<T> =
    unsafe fn(usize, usize, T, *const T, isize, usize, *const T, usize, T, *mut T, isize, isize);

/// Defines a dot kernel `$name`: for each of up to `$rv` rows of A and n ≤ NARROW columns of B, the dot
/// product in W = `$nv`·`$lanes` lanes (16 in f32, 8 in f64, on every instruction set): lane l holds the
/// FMA chain over p ≡ l (mod W) in increasing p, then the lanes are summed by a fixed halving tree
/// (l + W/2 into l, then l + W/4, …), and C ← α·dot + β·C as in the micro-kernels.
macro_rules! dot_kernel {
    (
        $name:ident, $t:ty, $feat:literal, $rv:literal, $nv:literal, $lanes:literal,
        $zero:ident, $load:ident, $store:ident, $fma:ident
    ) => {
        /// # Safety
        /// The CPU must have the instruction set named in `target_feature`; `a[r·rsa + p]` must be
        /// valid for r < rows ≤ RV, p < k; `bt[j·ldb + p]` for j < n ≤ NARROW, p < k rounded up to W;
        /// `c[r·rsc + j·csc]` for r < rows, j < n, and `c` must not alias `a` or `bt`.
        #[target_feature(enable = $feat)]
        pub(in crate::linalg::kernel) unsafe fn $name(
            k: usize,
            n: usize,
            alpha: $t,
            a: *const $t,
            rsa: isize,
            rows: usize,
            bt: *const $t,
            ldb: usize,
            beta: $t,
            c: *mut $t,
            rsc: isize,
            csc: isize,
        ) {
            use std::arch::x86_64::*;
            const W: usize = $nv * $lanes;
            let mut acc = [[[$zero(); $nv]; NARROW]; $rv];
            // One W-wide step at depth p, A's rows read through `row(r)`.
            macro_rules! step {
                ($p:expr, $row:expr) => {{
                    let mut bv = [[$zero(); $nv]; NARROW];
                    for (j, bj) in bv.iter_mut().enumerate().take(n) {
                        for (v, x) in bj.iter_mut().enumerate() {
                            *x = $load(bt.add(j * ldb + $p + v * $lanes));
                        }
                    }
                    for (r, acc_r) in acc.iter_mut().enumerate().take(rows) {
                        let ar: *const $t = $row(r);
                        for v in 0..$nv {
                            let av = $load(ar.add(v * $lanes));
                            for (x, bj) in acc_r.iter_mut().zip(&bv).take(n) {
                                x[v] = $fma(av, bj[v], x[v]);
                            }
                        }
                    }
                }};
            }
            let kf = k / W * W;
            // safety: p + W ≤ kf ≤ k inside A's rows; B is padded to a multiple of W.
            unsafe {
                for p in (0..kf).step_by(W) {
                    step!(p, |r: usize| a.offset(r as isize * rsa).add(p));
                }
                if kf < k {
                    // The last, partial step: A's tails copied into zero-padded rows.
                    let mut tail = [[0.0 as $t; W]; $rv];
                    for (r, t) in tail.iter_mut().enumerate().take(rows) {
                        for (q, x) in t.iter_mut().enumerate().take(k - kf) {
                            *x = *a.offset(r as isize * rsa).add(kf + q);
                        }
                    }
                    step!(kf, |r: usize| tail[r].as_ptr());
                }
            }
            // C ← α·dot + β·C in scalars, by the micro-kernels' formula.
            let fma = |a: $t, b: $t, c: $t| a.mul_add(b, c);
            let mul = |a: $t, b: $t| a * b;
            let splat = |x: $t| x;
            for (r, acc_r) in acc.iter().enumerate().take(rows) {
                for (j, x) in acc_r.iter().enumerate().take(n) {
                    let mut s = [0.0 as $t; W];
                    for (v, &xv) in x.iter().enumerate() {
                        // safety: v·lanes + lanes ≤ W.
                        unsafe { $store(s.as_mut_ptr().add(v * $lanes), xv) };
                    }
                    let mut h = W / 2;
                    while h >= 1 {
                        for l in 0..h {
                            s[l] += s[l + h];
                        }
                        h /= 2;
                    }
                    // safety: (r, j) inside C by the contract.
                    unsafe {
                        let cp = c.offset(r as isize * rsc + j as isize * csc);
                        *cp = c_update!(fma, mul, splat, alpha, s[0], beta, *cp);
                    }
                }
            }
        }
    };
}

pub(super) use dot_kernel;

/// The dot-kernel loop: Bᵀ packed once (column j at `bt[j·kp ..]`, zero-padded to `kp`, a multiple of
/// the lane width), then `dot_rows` rows of C per call.
///
/// # Safety
/// As [`gemm_own`](super::gemm_own), with n ≤ NARROW, A's rows contiguous (csa = 1) and NARROW·kp
/// within the buffer.
pub(super) unsafe fn dots<T: OwnKernel>(mk: &Micro<T>, p: Product<T>, kp: usize) {
    let ((a, rsa, _), (b, rsb, csb), (c, rsc, csc)) = (p.a.parts(), p.b.parts(), p.c.parts());
    with_sized_buffer(mk, |buf| {
        let bt = &mut buf[..p.n * kp];
        for (j, col) in bt.chunks_exact_mut(kp).enumerate() {
            for (l, x) in col.iter_mut().enumerate() {
                *x = if l < p.k {
                    // safety: (l, j) inside B.
                    unsafe { *b.offset(l as isize * rsb + j as isize * csb) }
                } else {
                    T::ZERO
                };
            }
        }
        for i0 in (0..p.m).step_by(mk.dot_rows) {
            let rows = mk.dot_rows.min(p.m - i0);
            // safety: rows i0.. < m of A (contiguous, k long) and C; Bᵀ packed above.
            unsafe {
                (mk.dot)(
                    p.k,
                    p.n,
                    p.alpha,
                    a.offset(i0 as isize * rsa),
                    rsa,
                    rows,
                    bt.as_ptr(),
                    kp,
                    p.beta,
                    c.offset(i0 as isize * rsc),
                    rsc,
                    csc,
                )
            };
        }
    });
}
