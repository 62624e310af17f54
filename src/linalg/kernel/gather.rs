//! A vector of `a[idx[l]]` (lane l) for the column kernels and the transposed-panel packers.
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
