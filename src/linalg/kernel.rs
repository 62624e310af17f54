//! monge's own packed gemm, `C ← α·A·B + β·C` on strided operands, for the CPUs this crate is tuned for
//! (x86-64 with AVX-512F, or with AVX2 and FMA). Other CPUs use `matrixmultiply` (see [`super::Real`]).
//!
//! # Why a gemm of our own
//! `matrixmultiply` 0.3 allocates its packing buffer inside every call and offers no way to hand one in,
//! so a training step built on it makes one heap allocation per product (179 per W2 outer iteration),
//! against SPEC §0 ("the training loop allocates nothing per iteration"). Here the packing buffer belongs
//! to the calling thread: it is allocated, at its full size, by that thread's first call, and reused by
//! every later one. The solvers run their gemms on the main thread and on the persistent workers of
//! [`crate::parallel::Pool`], so after the first iteration nothing is allocated. The buffer holds
//! 1.25·KC·NC + 1.25·MR·KC elements: about 0.65 MiB per thread and scalar type, freed when the thread
//! ends.
//!
//! # Algorithm (the BLIS loop nest, minus the A packing)
//! ```text
//! for jc in 0..n step NC                      B column block
//!   for pc in 0..k step KC                    depth block; β for pc = 0, then 1
//!     pack B[pc.., jc..] into NR-wide panels  (skipped for full panels: see below)
//!     for ir in 0..m step MR                  A row sliver (MR×KC), read in place, stays in L1
//!       for jr in 0..nc step NR               B panel (KC×NR), from L2
//!         micro-kernel: C[ir.., jc+jr..] ← α·Σ_p a[i,p]·b[p,j] + β·C
//! ```
//! A is read in place through its strides: a micro-kernel broadcasts `a[i, p]` for its MR rows at each
//! step p, so packing A would only copy what is already cheap to reach. At the ICNN's shapes (n = 64) the
//! A packing of a classic gemm costs about a quarter of the product. B (the weights, small) is packed,
//! except full panels of a B whose columns are contiguous and whose row stride is not a multiple of
//! 4 KiB (such rows would all fall into the same few L1 sets): those are read in place. A transposed B
//! (unit row stride, the weights of `X·Wᵀ`) is packed by 16×16 transposes in registers (f32, AVX-512)
//! or by gathers.
//!
//! # Micro-kernel and edges
//! The micro-kernel holds an MR×NR tile of C in registers (NR = 2 vectors), runs the depth loop with one
//! fused multiply–add per element and step, then writes `α·acc + β·C` (one rounding for `β·C`, one for
//! the FMA; `β = 0` does not read C, `β = 1` skips the multiply). A depth block of at most KC/4 left at
//! the end is merged into the block before it (k = 257 is one pass over C, not two).
//!
//! Edges are cut so that no lane computes for nothing where it can be avoided:
//! - a panel at most half full runs a one-vector kernel (MR × NR/2);
//! - the ≤ 4 columns left after the full and half panels (`n mod NR/2`, e.g. the last column of the
//!   ICNN's 257-wide stacked A-layer product), and products with ≤ 4 columns, run the *dot kernel* when
//!   A's rows are contiguous (a dot product per element, in 16 lanes for f32 and 8 for f64, lane l
//!   holding the FMA chain over p ≡ l mod W, the lanes summed by a fixed halving tree), else the *column
//!   kernel* (one vector of rows of C per column, gathered from A when its columns are strided);
//! - the ≤ 4 rows left after the full slivers, and products with ≤ 4 rows, run the column kernel on the
//!   transpose, `Cᵀ = op(B)ᵀ·op(A)ᵀ` (`b·a = a·b` exactly);
//! - what remains partial (5–7 rows, 5–15 columns) goes through a zero-padded sliver of A, a
//!   zero-padded panel of B, and a full tile of C copied in and back.
//!
//! The column kernel and the padded tiles give each element the micro-kernel's arithmetic (the same FMA
//! chain over p in the same depth blocks, then the same `α·acc + β·C`). The dot kernel does not, but
//! which columns take it depends only on n and the strides, never on m or the row range. Hence:
//! - a row range of a product — the solvers split a batch across threads by rows — gives the bits of the
//!   same rows of the whole product;
//! - the AVX-512 and AVX2 kernels agree bit for bit (the dot kernel has the same 16/8 lanes and the same
//!   tree on both).
//!
//! `tests/linalg_kernel.rs` checks both properties, and the result against `matrixmultiply` across the
//! block edges; `tests/linalg_gemm.rs` checks every transpose and stride against the triple loop.

use super::gemm::Product;
use super::{MatMut, MatRef, Op, Real};
use std::cell::RefCell;

/// Block sizes and the micro-kernel of one (scalar type, instruction set) pair.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Micro<T> {
    /// Rows of a micro-tile.
    mr: usize,
    /// Columns of a micro-tile (two vectors).
    nr: usize,
    /// Depth block (256): the MR×KC sliver of A (8 KiB in f32) stays in L1 while the KC×NR panels of
    /// B stream from L2. A last block of at most KC/4 is merged into the one before.
    kc: usize,
    /// Column block: a KC×NC block of packed B fits in L2.
    nc: usize,
    /// `(kc, α, a, rsa, csa, b, rsb, β, c, rsc)`: the MR×NR tile at `c` (row stride `rsc`, unit column
    /// stride) ← α·A·B + β·C with `A` MR×kc at strides (rsa, csa) and `B` kc×NR at row stride `rsb`
    /// (unit column stride).
    kernel: KernelFn<T>,
    /// The same for an MR×NR/2 tile (one vector per row), for panels at most half full.
    half: KernelFn<T>,
    /// Rows of C per column-kernel call (one vector).
    lanes: usize,
    /// The column kernel, for products with at most NARROW columns or rows.
    column: ColumnFn<T>,
    /// Rows of C per dot-kernel call.
    dot_rows: usize,
    /// The dot kernel, for at most NARROW columns of a product whose A has contiguous rows.
    dot: DotFn<T>,
    /// The packer for full panels of a transposed B (in-register transposes for f32 on AVX-512,
    /// gathers otherwise).
    pack_t: PackTFn<T>,
}

type KernelFn<T> = unsafe fn(usize, T, *const T, isize, isize, *const T, isize, T, *mut T, isize);

/// The largest MR×NR tile of any kernel (f32 AVX-512: 8×32).
const MAX_TILE: usize = 256;

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
        unsafe fn $name(
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

/// Products with at most this many columns (or, transposed, rows) take the column kernels.
const NARROW: usize = 4;

/// `(kc, n, α, a, rsa, csa, rows, b, rsb, csb, β, c, rsc, csc)`: C[0..rows, 0..n] ← α·A·B + β·C with
/// n ≤ NARROW, `rows` ≤ the kernel's lane count, all strides arbitrary.
type ColumnFn<T> = unsafe fn(
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
        $zero:ident, $load:ident, $store:ident, $splat:ident, $fma:ident, $mul:ident, $gather:ident
    ) => {
        /// # Safety
        /// The CPU must have the instruction set named in `target_feature`; `a` must be valid for
        /// `a[i·rsa + p·csa]` (i < rows, p < kc), `b` for `b[p·rsb + j·csb]` and `c` for
        /// `c[i·rsc + j·csc]` (j < n ≤ NARROW), `c` must not alias `a` or `b`, 1 ≤ rows ≤ lanes, and
        /// `(lanes − 1)·|rsa|` must fit in an i32.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
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
                    let out = if beta == 0.0 {
                        $mul(va, x)
                    } else if beta == 1.0 {
                        $fma(va, x, cv)
                    } else {
                        $fma(va, x, $mul($splat(beta), cv))
                    };
                    $store(tmp.as_mut_ptr(), out);
                    for (l, &t) in tmp.iter().enumerate().take(rows) {
                        *cj.offset(l as isize * rsc) = t;
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod gather {
    //! A vector of `a[idx[l]]` for the column kernels.
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn f32_avx512(a: *const f32, idx: &[i32; 16]) -> __m512 {
        // safety: the caller guarantees every a[idx[l]] is valid.
        unsafe { _mm512_i32gather_ps::<4>(_mm512_loadu_si512(idx.as_ptr().cast()), a) }
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn f64_avx512(a: *const f64, idx: &[i32; 8]) -> __m512d {
        // safety: as above.
        unsafe { _mm512_i32gather_pd::<8>(_mm256_loadu_si256(idx.as_ptr().cast()), a) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn f32_avx2(a: *const f32, idx: &[i32; 8]) -> __m256 {
        // safety: as above.
        unsafe { _mm256_i32gather_ps::<4>(a, _mm256_loadu_si256(idx.as_ptr().cast())) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn f64_avx2(a: *const f64, idx: &[i32; 4]) -> __m256d {
        // safety: as above.
        unsafe { _mm256_i32gather_pd::<8>(a, _mm_loadu_si128(idx.as_ptr().cast())) }
    }
}
#[cfg(target_arch = "x86_64")]
use gather::{
    f32_avx2 as gather_f32_avx2, f32_avx512 as gather_f32_avx512, f64_avx2 as gather_f64_avx2,
    f64_avx512 as gather_f64_avx512,
};

/// `(panel, src, csb, kc)`: a full NR-wide panel of a transposed B (unit row stride): `panel[p·NR + j] =
/// src[p + j·csb]` for p < kc, j < NR. The caller checks that `(NR − 1)·|csb|` fits in an i32 (the
/// gathers' offsets).
type PackTFn<T> = unsafe fn(*mut T, *const T, isize, usize);

/// The f32 AVX-512 packer: 16×16 blocks transposed in registers (16 row loads, four rounds of 16
/// shuffles, 16 row stores, about four times fewer operations than a gather per panel row), the last
/// kc mod 16 panel rows by gathers.
///
/// # Safety
/// As the gather packers (`pack_t_kernel!`), for f32 and AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn f32_avx512_pack_t(panel: *mut f32, src: *const f32, csb: isize, kc: usize) {
    use std::arch::x86_64::*;
    let full = kc / 16 * 16;
    for p0 in (0..full).step_by(16) {
        for j0 in [0, 16] {
            // r[i] = B[p0 .. p0 + 16, j0 + i] (a stored row of Bᵀ); after the transpose r[q] holds
            // B[p0 + q, j0 .. j0 + 16].
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, x) in r.iter_mut().enumerate() {
                // safety: p0 + 16 ≤ kc and j0 + i < 32 = NR: inside the block by the contract.
                *x = unsafe { _mm512_loadu_ps(src.offset((j0 + i) as isize * csb).add(p0)) };
            }
            let mut t = [_mm512_setzero_ps(); 16];
            // 1. interleave 32-bit elements of row pairs
            for k in 0..8 {
                t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
                t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
            }
            // 2. interleave 64-bit pairs of pair-interleaved rows
            for k in 0..4 {
                let (a, b, c, d) = (t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]);
                let lo = |x: __m512, y: __m512| {
                    _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)))
                };
                let hi = |x: __m512, y: __m512| {
                    _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)))
                };
                r[4 * k] = lo(a, c);
                r[4 * k + 1] = hi(a, c);
                r[4 * k + 2] = lo(b, d);
                r[4 * k + 3] = hi(b, d);
            }
            // 3.–4. exchange 128-bit lanes between quadruples of rows
            for k in 0..4 {
                t[k] = _mm512_shuffle_f32x4::<0x88>(r[k], r[k + 4]);
                t[k + 4] = _mm512_shuffle_f32x4::<0xdd>(r[k], r[k + 4]);
                t[k + 8] = _mm512_shuffle_f32x4::<0x88>(r[k + 8], r[k + 12]);
                t[k + 12] = _mm512_shuffle_f32x4::<0xdd>(r[k + 8], r[k + 12]);
            }
            for k in 0..8 {
                r[k] = _mm512_shuffle_f32x4::<0x88>(t[k], t[k + 8]);
                r[k + 8] = _mm512_shuffle_f32x4::<0xdd>(t[k], t[k + 8]);
            }
            for (q, &x) in r.iter().enumerate() {
                // safety: row p0 + q < kc of the panel, columns j0 .. j0 + 16 ≤ NR.
                unsafe { _mm512_storeu_ps(panel.add((p0 + q) * 32 + j0), x) };
            }
        }
    }
    if full < kc {
        // safety: the remaining rows, same contract.
        unsafe { f32_avx512_pack_t_gather(panel.add(full * 32), src.add(full), csb, kc - full) };
    }
}

/// Defines a gather packer `$name` for panels of two `$lanes`-wide vectors.
macro_rules! pack_t_kernel {
    ($name:ident, $t:ty, $feat:literal, $lanes:literal, $store:ident, $gather:ident) => {
        /// # Safety
        /// The CPU must have the instruction set named in `target_feature`; `src[p + j·csb]` must be
        /// valid for p < kc, j < 2·lanes, with `(2·lanes − 1)·|csb|` within i32; `panel` must hold
        /// kc·2·lanes elements.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        unsafe fn $name(panel: *mut $t, src: *const $t, csb: isize, kc: usize) {
            use std::arch::x86_64::*;
            let mut lo = [0i32; $lanes];
            let mut hi = [0i32; $lanes];
            for l in 0..$lanes {
                lo[l] = (l as isize * csb) as i32;
                hi[l] = ((l + $lanes) as isize * csb) as i32;
            }
            for p in 0..kc {
                // safety: p < kc and j < 2·lanes by the contract.
                unsafe {
                    let s = src.add(p);
                    $store(panel.add(p * 2 * $lanes), $gather(s, &lo));
                    $store(panel.add(p * 2 * $lanes + $lanes), $gather(s, &hi));
                }
            }
        }
    };
}

pack_t_kernel!(
    f32_avx512_pack_t_gather,
    f32,
    "avx512f",
    16,
    _mm512_storeu_ps,
    gather_f32_avx512
);
pack_t_kernel!(
    f64_avx512_pack_t,
    f64,
    "avx512f",
    8,
    _mm512_storeu_pd,
    gather_f64_avx512
);
pack_t_kernel!(
    f32_avx2_pack_t,
    f32,
    "avx2,fma",
    8,
    _mm256_storeu_ps,
    gather_f32_avx2
);
pack_t_kernel!(
    f64_avx2_pack_t,
    f64,
    "avx2,fma",
    4,
    _mm256_storeu_pd,
    gather_f64_avx2
);

column_kernel!(
    f32_avx512_col,
    f32,
    "avx512f",
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    gather_f32_avx512
);
column_kernel!(
    f64_avx512_col,
    f64,
    "avx512f",
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_set1_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    gather_f64_avx512
);
column_kernel!(
    f32_avx2_col,
    f32,
    "avx2,fma",
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    gather_f32_avx2
);
column_kernel!(
    f64_avx2_col,
    f64,
    "avx2,fma",
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_set1_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    gather_f64_avx2
);

/// `(k, n, α, a, rsa, rows, bt, ldb, β, c, rsc, csc)`: C[0..rows, 0..n] ← α·A·B + β·C with n ≤ NARROW,
/// `rows` ≤ the kernel's row count, A's rows contiguous (row stride `rsa`), and Bᵀ packed: column j of B
/// at `bt[j·ldb ..]`, zero-padded to a multiple of the lane width W.
type DotFn<T> =
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
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
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
                        *cp = if beta == 0.0 {
                            alpha * s[0]
                        } else if beta == 1.0 {
                            alpha.mul_add(s[0], *cp)
                        } else {
                            alpha.mul_add(s[0], beta * *cp)
                        };
                    }
                }
            }
        }
    };
}

dot_kernel!(
    f32_avx512_dot,
    f32,
    "avx512f",
    4,
    1,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps
);
dot_kernel!(
    f64_avx512_dot,
    f64,
    "avx512f",
    4,
    1,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd
);
dot_kernel!(
    f32_avx2_dot,
    f32,
    "avx2,fma",
    2,
    2,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps
);
dot_kernel!(
    f64_avx2_dot,
    f64,
    "avx2,fma",
    2,
    2,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd
);

/// An instruction set monge has micro-kernels for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F: 8 rows × 2 zmm (8×32 in f32, 8×16 in f64).
    Avx512,
    /// AVX2 with FMA: 6 rows × 2 ymm (6×16 in f32, 6×8 in f64).
    Avx2,
}

impl Isa {
    /// Whether this CPU can run the kernels of `self`.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
                Isa::Avx2 => {
                    std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// The widest instruction set of this CPU with monge kernels, or `None` (gemm uses matrixmultiply).
    pub fn detected() -> Option<Isa> {
        [Isa::Avx512, Isa::Avx2].into_iter().find(|i| i.available())
    }
}

/// The scalar types with monge micro-kernels (f32, f64): their kernels and this thread's packing buffer.
/// Sealed in effect: [`Micro`] cannot be built outside this module.
pub trait OwnKernel: Real {
    /// Block sizes and kernel for `isa` (the caller has checked [`Isa::available`]).
    #[doc(hidden)]
    fn micro(isa: Isa) -> Micro<Self>;
    /// Runs `f` on this thread's packing buffer.
    #[doc(hidden)]
    fn with_buffer<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R;
}

thread_local! {
    static BUF_F32: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static BUF_F64: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

macro_rules! own_kernel {
    (
        $t:ty, $buf:ident, $nc:literal,
        avx512: ($k5:ident, $h5:ident, $c5:ident, $d5:ident, $p5:ident),
        avx2: ($k2:ident, $h2:ident, $c2:ident, $d2:ident, $p2:ident)
    ) => {
        impl OwnKernel for $t {
            #[cfg(not(target_arch = "x86_64"))]
            fn micro(_: Isa) -> Micro<$t> {
                unreachable!("monge's kernels are x86-64 only, and no Isa is available elsewhere")
            }
            #[cfg(target_arch = "x86_64")]
            #[inline]
            fn micro(isa: Isa) -> Micro<$t> {
                // NR = two vectors: 2 · (64 or 32 bytes) / element size.
                let vector_bytes = if isa == Isa::Avx512 { 64 } else { 32 };
                let nr = 2 * vector_bytes / Self::BYTES;
                let avx512 = Micro {
                    mr: 8,
                    nr,
                    kc: 256,
                    nc: $nc,
                    kernel: $k5,
                    half: $h5,
                    lanes: nr / 2,
                    column: $c5,
                    dot_rows: 4,
                    dot: $d5,
                    pack_t: $p5,
                };
                match isa {
                    Isa::Avx512 => avx512,
                    Isa::Avx2 => Micro {
                        mr: 6,
                        kernel: $k2,
                        half: $h2,
                        column: $c2,
                        dot_rows: 2,
                        dot: $d2,
                        pack_t: $p2,
                        ..avx512
                    },
                }
            }
            #[inline]
            fn with_buffer<R>(f: impl FnOnce(&mut Vec<$t>) -> R) -> R {
                $buf.with(|b| f(&mut b.borrow_mut()))
            }
        }
    };
}

own_kernel!(
    f32, BUF_F32, 512,
    avx512: (f32_avx512, f32_avx512_half, f32_avx512_col, f32_avx512_dot, f32_avx512_pack_t),
    avx2: (f32_avx2, f32_avx2_half, f32_avx2_col, f32_avx2_dot, f32_avx2_pack_t)
);
own_kernel!(
    f64, BUF_F64, 256,
    avx512: (f64_avx512, f64_avx512_half, f64_avx512_col, f64_avx512_dot, f64_avx512_pack_t),
    avx2: (f64_avx2, f64_avx2_half, f64_avx2_col, f64_avx2_dot, f64_avx2_pack_t)
);

/// Whether `linalg::gemm` runs monge's own kernels on this CPU (else it calls matrixmultiply).
pub fn has_own_kernel() -> bool {
    Isa::detected().is_some()
}

/// [`super::gemm`] (same contract) on the kernels of `isa`; `false`, doing nothing, when this CPU
/// cannot run them. For tests that compare the instruction sets.
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

/// `C ← α·A·B + β·C` by monge's kernels; returns `false` (doing nothing) when this CPU has none.
///
/// `A` is m×k with strides (rsa, csa), `B` k×n with (rsb, csb), `C` m×n with (rsc, csc). If β is zero,
/// C is not read.
///
/// # Safety
/// The pointers must be valid for every element addressed by the dimensions and strides, and `C` must
/// not alias `A` or `B`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_own<T: OwnKernel>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) -> bool {
    let Some(isa) = Isa::detected() else {
        return false;
    };
    let p = Product {
        m,
        k,
        n,
        alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta,
        c,
        rsc,
        csc,
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
                    let c = p.c.offset(i * p.rsc + j * p.csc);
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
    if dot && p.csa == 1 && p.rsa != 1 && NARROW * kp <= buffer_len(mk) {
        // safety: forwarded contract; A's rows are contiguous and Bᵀ fits the buffer (checked above).
        unsafe { dots(mk, p, kp) };
        return true;
    }
    if (mk.lanes - 1) * p.rsa.unsigned_abs() > i32::MAX as usize {
        return false;
    }
    // safety: forwarded contract.
    unsafe { columns(mk, p) };
    true
}

/// The dot-kernel loop: Bᵀ packed once (column j at `bt[j·kp ..]`, zero-padded to `kp`, a multiple of
/// the lane width), then `dot_rows` rows of C per call.
///
/// # Safety
/// As [`gemm_own`], with n ≤ NARROW, A's rows contiguous (csa = 1) and NARROW·kp within the buffer.
unsafe fn dots<T: OwnKernel>(mk: &Micro<T>, p: Product<T>, kp: usize) {
    with_sized_buffer(mk, |buf| {
        let bt = &mut buf[..p.n * kp];
        for (j, col) in bt.chunks_exact_mut(kp).enumerate() {
            for (l, x) in col.iter_mut().enumerate() {
                *x = if l < p.k {
                    // safety: (l, j) inside B.
                    unsafe { *p.b.offset(l as isize * p.rsb + j as isize * p.csb) }
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
                    p.a.offset(i0 as isize * p.rsa),
                    p.rsa,
                    rows,
                    bt.as_ptr(),
                    kp,
                    p.beta,
                    p.c.offset(i0 as isize * p.rsc),
                    p.rsc,
                    p.csc,
                )
            };
        }
    });
}

/// Runs `f` on this thread's packing buffer, sized (once: the thread's one allocation) to
/// [`buffer_len`].
fn with_sized_buffer<T: OwnKernel, R>(mk: &Micro<T>, f: impl FnOnce(&mut [T]) -> R) -> R {
    T::with_buffer(|buf| {
        if buf.len() < buffer_len(mk) {
            buf.resize(buffer_len(mk), T::ZERO);
        }
        f(buf)
    })
}

/// Elements of a thread's packing buffer: the B panels (1.25·KC × NC), the A edge sliver
/// (MR × 1.25·KC), and slack to align the panels to 64 bytes.
fn buffer_len<T: Real>(mk: &Micro<T>) -> usize {
    let kc_max = mk.kc + mk.kc / 4;
    kc_max * mk.nc + mk.mr * kc_max + 64 / T::BYTES
}

/// The column-kernel loop: the depth blocks of [`driver`] (same β handling, same merge of a short last
/// block), `lanes` rows of C per call.
///
/// # Safety
/// As [`gemm_own`], with n ≤ NARROW and `(lanes − 1)·|rsa|` within i32.
unsafe fn columns<T: Real>(mk: &Micro<T>, p: Product<T>) {
    let Product {
        m,
        k,
        n,
        alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta,
        c,
        rsc,
        csc,
    } = p;
    let mut pc = 0;
    while pc < k {
        let kc = if k - pc <= mk.kc + mk.kc / 4 {
            k - pc
        } else {
            mk.kc
        };
        let beta = if pc == 0 { beta } else { T::ONE };
        for i0 in (0..m).step_by(mk.lanes) {
            let rows = mk.lanes.min(m - i0);
            // safety: rows i0.. < m and depth pc.. < k inside A, B and C; the kernel's contract holds
            // by this function's.
            unsafe {
                (mk.column)(
                    kc,
                    n,
                    alpha,
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
        pc += kc;
    }
}

/// Copies the kc×w block of B at `src` (strides rsb, csb) into `panel` as kc rows of `nr` (w ≤ nr),
/// zero-padded. Reads follow whichever stride of B is unit, so a transposed operand (rsb = 1: the
/// weights of `X·Wᵀ`) is read row by row of the stored W.
///
/// # Safety
/// `src[p·rsb + j·csb]` must be valid for p < kc, j < w; `panel` holds kc·nr elements.
#[inline]
unsafe fn pack_panel<T: Real>(
    panel: &mut [T],
    src: *const T,
    rsb: isize,
    csb: isize,
    kc: usize,
    w: usize,
    nr: usize,
) {
    let panel = &mut panel[..kc * nr];
    if w < nr {
        panel.fill(T::ZERO);
    }
    if rsb == 1 && csb != 1 {
        // A transpose, in chunks of 16 rows of the panel, so that the 16 panel rows being written and
        // the w source rows being read stay in L1 together.
        for p0 in (0..kc).step_by(16) {
            let len = 16.min(kc - p0);
            let rows = &mut panel[p0 * nr..(p0 + len) * nr];
            for j in 0..w {
                // safety: column j < w, rows p0..p0 + len < kc of the block.
                let col = unsafe {
                    std::slice::from_raw_parts(src.offset(j as isize * csb + p0 as isize), len)
                };
                for (row, &v) in rows.chunks_exact_mut(nr).zip(col) {
                    row[j] = v;
                }
            }
        }
    } else {
        for p in 0..kc {
            let dst = &mut panel[p * nr..p * nr + w];
            for (j, d) in dst.iter_mut().enumerate() {
                // safety: row p < kc, column j < w of the block.
                *d = unsafe { *src.offset(p as isize * rsb + j as isize * csb) };
            }
        }
    }
}

/// The loop nest of the module doc.
///
/// # Safety
/// As [`gemm_own`]; `bpack` holds 1.25·KC·NC and `asliver` 1.25·MR·KC elements.
unsafe fn driver<T: Real>(mk: &Micro<T>, p: Product<T>, bpack: &mut [T], asliver: &mut [T]) {
    let Product {
        m,
        k,
        n,
        alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta,
        c,
        rsc,
        csc,
    } = p;
    let (mr, nr) = (mk.mr, mk.nr);
    let mut tile = [T::ZERO; MAX_TILE];
    for jc in (0..n).step_by(mk.nc) {
        let nc = mk.nc.min(n - jc);
        let mut pc = 0;
        while pc < k {
            let kc = if k - pc <= mk.kc + mk.kc / 4 {
                k - pc
            } else {
                mk.kc
            };
            let beta = if pc == 0 { beta } else { T::ONE };
            // B[pc.., jc..] read in place when its columns are contiguous and its rows do not all fall
            // into the same few L1 sets (a row stride of a multiple of 4 KiB would); else packed panel by
            // panel. The last, partial panel is always packed, zero-padded to NR.
            let direct = csb == 1 && !(rsb.unsigned_abs() * T::BYTES).is_multiple_of(4096);
            for jr in (0..nc).step_by(nr) {
                let w = nr.min(nc - jr);
                if direct && w == nr {
                    continue;
                }
                let panel = &mut bpack[jr * kc..(jr + nr) * kc];
                // safety (pointer arithmetic): row pc < k, column jc + jr < n.
                let src = unsafe { b.offset(pc as isize * rsb + (jc + jr) as isize * csb) };
                if w == nr && rsb == 1 && (nr - 1) * csb.unsigned_abs() <= i32::MAX as usize {
                    // safety: the kc×NR block at `src` lies inside B; offsets checked just above.
                    unsafe { (mk.pack_t)(panel.as_mut_ptr(), src, csb, kc) };
                } else {
                    // safety: the kc×w block at `src` lies inside B.
                    unsafe { pack_panel(panel, src, rsb, csb, kc, w, nr) };
                }
            }
            for ir in (0..m).step_by(mr) {
                let h = mr.min(m - ir);
                // safety (pointer arithmetic): row ir < m, column pc < k.
                let (mut ap, mut ars, mut acs) = (
                    unsafe { a.offset(ir as isize * rsa + pc as isize * csa) },
                    rsa,
                    csa,
                );
                if h < mr {
                    for p in 0..kc {
                        for i in 0..mr {
                            asliver[p * mr + i] = if i < h {
                                // safety: row ir + i < m, column pc + p < k: inside A.
                                unsafe { *ap.offset(i as isize * rsa + p as isize * csa) }
                            } else {
                                T::ZERO
                            };
                        }
                    }
                    (ap, ars, acs) = (asliver.as_ptr(), 1, mr as isize);
                }
                for jr in (0..nc).step_by(nr) {
                    let w = nr.min(nc - jr);
                    let (bp, brs) = if direct && w == nr {
                        // safety (pointer arithmetic): row pc < k, column jc + jr < n.
                        (
                            unsafe { b.offset(pc as isize * rsb + (jc + jr) as isize) },
                            rsb,
                        )
                    } else {
                        (bpack[jr * kc..].as_ptr(), nr as isize)
                    };
                    // A panel at most half full needs only the one-vector kernel.
                    let (kern, kw) = if w <= nr / 2 {
                        (mk.half, nr / 2)
                    } else {
                        (mk.kernel, nr)
                    };
                    // safety (pointer arithmetic): row ir < m, column jc + jr < n.
                    let cp = unsafe { c.offset(ir as isize * rsc + (jc + jr) as isize * csc) };
                    if h == mr && w == kw && csc == 1 {
                        // safety: full tile inside C; A and B slivers inside their operands or buffers.
                        unsafe { kern(kc, alpha, ap, ars, acs, bp, brs, beta, cp, rsc) };
                        continue;
                    }
                    // Partial tile (or strided C): through a full tile, same arithmetic.
                    let t = &mut tile[..mr * kw];
                    if beta != T::ZERO {
                        for i in 0..mr {
                            for j in 0..kw {
                                t[i * kw + j] = if i < h && j < w {
                                    // safety: (ir + i, jc + jr + j) inside C.
                                    unsafe { *cp.offset(i as isize * rsc + j as isize * csc) }
                                } else {
                                    T::ZERO
                                };
                            }
                        }
                    }
                    // safety: `t` is a full MR×kw tile (row stride kw); A and B as above.
                    unsafe {
                        kern(
                            kc,
                            alpha,
                            ap,
                            ars,
                            acs,
                            bp,
                            brs,
                            beta,
                            t.as_mut_ptr(),
                            kw as isize,
                        )
                    };
                    for i in 0..h {
                        for j in 0..w {
                            // safety: (ir + i, jc + jr + j) inside C.
                            unsafe {
                                *cp.offset(i as isize * rsc + j as isize * csc) = t[i * kw + j]
                            };
                        }
                    }
                }
            }
            pc += kc;
        }
    }
}
