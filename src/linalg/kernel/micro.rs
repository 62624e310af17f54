//! The micro-kernels: an MR×NR tile of C held in registers (NR = two vectors),
//! `C[i, j] ← α·Σ_p a[i, p]·b[p, j] + β·C[i, j]` with one fused multiply–add per element and depth step
//! (in increasing p), then `α·acc + β·C` (`β = 0` does not read C, `β = 1` skips the multiply); and the
//! one-vector (MR × NR/2) kernels for panels at most half full, with the same arithmetic.

pub(super) type KernelFn<T> =
    unsafe fn(usize, T, *const T, isize, isize, *const T, isize, T, *mut T, isize);

/// The largest MR×NR tile of any kernel (f32 AVX-512: 8×32).
pub(super) const MAX_TILE: usize = 256;

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
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        pub(super) unsafe fn $name(
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
                        let out = if beta == 0.0 {
                            $mul(va, x)
                        } else if beta == 1.0 {
                            $fma(va, x, $load(p))
                        } else {
                            $fma(va, x, $mul($splat(beta), $load(p)))
                        };
                        $store(p, out);
                    }
                }
            }
        }
    };
}

micro_kernel!(
    f32_avx512,
    f32,
    "avx512f",
    8,
    2,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps
);
micro_kernel!(
    f32_avx512_half,
    f32,
    "avx512f",
    8,
    1,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps
);
micro_kernel!(
    f64_avx512,
    f64,
    "avx512f",
    8,
    2,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_set1_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd
);
micro_kernel!(
    f64_avx512_half,
    f64,
    "avx512f",
    8,
    1,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_set1_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd
);
micro_kernel!(
    f32_avx2,
    f32,
    "avx2,fma",
    6,
    2,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps
);
micro_kernel!(
    f32_avx2_half,
    f32,
    "avx2,fma",
    6,
    1,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps
);
micro_kernel!(
    f64_avx2,
    f64,
    "avx2,fma",
    6,
    2,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd
);
micro_kernel!(
    f64_avx2_half,
    f64,
    "avx2,fma",
    6,
    1,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd
);
