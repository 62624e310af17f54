//! Packing B into NR-wide panels: `panel[p·NR + j] = B[pc + p, jc + jr + j]`, zero-padded past the last
//! column. Full panels of a transposed B (unit row stride, the weights of `X·Wᵀ`) by 16×16 in-register
//! transposes (f32, AVX-512) or by gathers; every other panel by the scalar copy [`pack_panel`].

#[cfg(target_arch = "x86_64")]
use super::pairs::f32_avx512::pack_t_gather;
use crate::linalg::Real;

/// `(panel, src, csb, kc)`: a full NR-wide panel of a transposed B (unit row stride): `panel[p·NR + j] =
/// src[p + j·csb]` for p < kc, j < NR. The caller checks that `(NR − 1)·|csb|` fits in an i32 (the
/// gathers' offsets).
pub(super) type PackTFn<T> = unsafe fn(*mut T, *const T, isize, usize);

/// The f32 AVX-512 packer: 16×16 blocks transposed in registers (16 row loads, four rounds of 16
/// shuffles, 16 row stores, about four times fewer operations than a gather per panel row), the last
/// kc mod 16 panel rows by gathers.
///
/// # Safety
/// As the gather packers (`pack_t_kernel!`), for f32 and AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn f32_avx512_pack_t(panel: *mut f32, src: *const f32, csb: isize, kc: usize) {
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
        unsafe { pack_t_gather(panel.add(full * 32), src.add(full), csb, kc - full) };
    }
}

/// Defines a gather packer `$name` for panels of two `$lanes`-wide vectors.
macro_rules! pack_t_kernel {
    ($name:ident, $t:ty, $feat:literal, $lanes:literal, $store:ident, $gather:path) => {
        /// # Safety
        /// The CPU must have the instruction set named in `target_feature`; `src[p + j·csb]` must be
        /// valid for p < kc, j < 2·lanes, with `(2·lanes − 1)·|csb|` within i32; `panel` must hold
        /// kc·2·lanes elements.
        #[target_feature(enable = $feat)]
        pub(in crate::linalg::kernel) unsafe fn $name(
            panel: *mut $t,
            src: *const $t,
            csb: isize,
            kc: usize,
        ) {
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

pub(super) use pack_t_kernel;

/// Copies the kc×w block of B at `src` (strides rsb, csb) into `panel` as kc rows of `nr` (w ≤ nr),
/// zero-padded. Reads follow whichever stride of B is unit, so a transposed operand (rsb = 1: the
/// weights of `X·Wᵀ`) is read row by row of the stored W.
///
/// # Safety
/// `src[p·rsb + j·csb]` must be valid for p < kc, j < w; `panel` holds kc·nr elements.
#[inline]
pub(super) unsafe fn pack_panel<T: Real>(
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
