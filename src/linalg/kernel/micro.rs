//! The micro-kernels: an MR×NR tile of C held in registers (NR = two vectors),
//! `C[i, j] ← α·Σ_p a[i, p]·b[p, j] + β·C[i, j]` with one fused multiply–add per element and depth step
//! (in increasing p), then `α·acc + β·C` (`β = 0` does not read C, `β = 1` skips the multiply); and the
//! one-vector (MR × NR/2) kernels for panels at most half full, with the same arithmetic.
//!
//! One macro for every tile: `pairs.rs` instantiates it per (scalar type, instruction set) with MR,
//! the vector count and the intrinsics as constants, so the MR × NR accumulators stay in registers.

pub(super) type KernelFn<T> =
    unsafe fn(usize, T, *const T, isize, isize, *const T, isize, T, *mut T, isize);

/// The largest MR×NR tile of any kernel (f32 AVX-512: 8×32).
pub(super) const MAX_TILE: usize = 256;

/// `α·acc + β·C` of one vector (or scalar) `$acc` given `$va` = α splat and `$c` the current C, the one
/// formula every kernel writes C with: `β = 0` does not read C (`$c` is not evaluated), `β = 1` skips
/// the multiply, else `fma(α, acc, β·C)`. `$fma(a, b, c)` = a·b + c rounded once, `$mul`, `$splat`
/// (broadcast) the vector (or scalar) operations.
macro_rules! c_update {
    ($fma:ident, $mul:ident, $splat:ident, $va:expr, $acc:expr, $beta:expr, $c:expr) => {
        if $beta == 0.0 {
            $mul($va, $acc)
        } else if $beta == 1.0 {
            $fma($va, $acc, $c)
        } else {
            $fma($va, $acc, $mul($splat($beta), $c))
        }
    };
}

/// Defines a micro-kernel `$name` for `$t` with `$mr` rows and `$nv` `$lanes`-wide vectors per row.
macro_rules! micro_kernel {
    (
        $name:ident, $t:ty, $feat:literal, $mr:literal, $nv:literal, $lanes:literal,
        $zero:ident, $load:ident, $store:ident, $splat:ident, $fma:ident, $mul:ident
    ) => {
        /// # Safety
        /// The CPU must have the instruction set named in `target_feature`; `a` must be valid for
        /// `a[i·rsa + p·csa]` (i < MR, p < kc), `b` for `b[p·rsb + j]` (p < kc, j < NR) and `c` for
        /// `c[i·rsc + j]` (i < MR, j < NR), and `c` must not alias `a` or `b`.
        #[target_feature(enable = $feat)]
        pub(in crate::linalg::kernel) unsafe fn $name(
            kc: usize,
            alpha: $t,
            a: *const $t,
            rsa: isize,
            csa: isize,
            b: *const $t,
            rsb: isize,
            beta: $t,
            c: *mut $t,
            rsc: isize,
        ) {
            use std::arch::x86_64::*;
            let mut acc = [[$zero(); $nv]; $mr];
            let (mut ap, mut bp) = (a, b);
            for _ in 0..kc {
                // safety: p < kc, so these reads are inside the ranges of the contract.
                unsafe {
                    let mut bv = [$zero(); $nv];
                    for (v, x) in bv.iter_mut().enumerate() {
                        *x = $load(bp.add(v * $lanes));
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        let ai = $splat(*ap.offset(i as isize * rsa));
                        for (r, &x) in row.iter_mut().zip(&bv) {
                            *r = $fma(ai, x, *r);
                        }
                    }
                    ap = ap.offset(csa);
                    bp = bp.offset(rsb);
                }
            }
            let va = $splat(alpha);
            for (i, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    // safety: i < MR, v·lanes + lane < NR: inside the tile of the contract.
                    unsafe {
                        let p = c.offset(i as isize * rsc).add(v * $lanes);
                        $store(p, c_update!($fma, $mul, $splat, va, x, beta, $load(p)));
                    }
                }
            }
        }
    };
}

pub(super) use {c_update, micro_kernel};
