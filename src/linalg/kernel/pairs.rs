//! The kernels of each (scalar type, instruction set) pair: one module per pair, each instantiating the
//! kernel macros of `micro.rs`, `column.rs`, `dot.rs` and `pack.rs` with that pair's vector instructions.
//!
//! What varies between the four pairs is only this table: the vector width in elements, the
//! intrinsics' names, the micro-tile's rows MR (8 of the 32 zmm registers on AVX-512, 6 of the 16 ymm
//! on AVX2: MR × 2 accumulators, 2 B vectors and a broadcast A must fit), and the dot kernel's rows and
//! vectors per row (4 × 1 zmm or 2 × 2 ymm: 16 f32 or 8 f64 lanes on both, so that both instruction
//! sets give the same bits). The arithmetic is the macros', one source for all four. The tile shapes
//! are constants of each instantiation rather than run-time values so that the accumulators live in
//! registers (a tile whose size is known only at run time would spill to memory).

use super::column::{column_kernel, NARROW};
use super::dot::dot_kernel;
use super::gather;
use super::micro::{c_update, micro_kernel};
use super::pack::pack_t_kernel;

// The kernel macros are expanded in the modules below, whose `use super::*` brings `NARROW`,
// `c_update!` and the intrinsics (`std::arch::x86_64`, imported inside each kernel) into scope.

/// `mod $pair` with `MR`, `DOT_ROWS` and the kernels `micro` (MR × 2 vectors), `half` (MR × 1 vector),
/// `column`, `dot` (`$rv` rows × `$nv` vectors) and `pack_t_gather`.
macro_rules! pair {
    (
        $pair:ident: $t:ty, $feat:literal, $lanes:literal lanes, MR $mr:literal,
        dot ($rv:literal, $nv:literal),
        [$zero:ident, $load:ident, $store:ident, $splat:ident, $fma:ident, $mul:ident, $gather:path]
    ) => {
        pub(super) mod $pair {
            #![allow(clippy::too_many_arguments)]
            #[allow(unused_imports)]
            use super::*;
            /// Rows of the micro-tile.
            pub(in crate::linalg::kernel) const MR: usize = $mr;
            /// Rows of C per dot-kernel call.
            pub(in crate::linalg::kernel) const DOT_ROWS: usize = $rv;
            micro_kernel!(
                micro, $t, $feat, $mr, 2, $lanes, $zero, $load, $store, $splat, $fma, $mul
            );
            micro_kernel!(
                half, $t, $feat, $mr, 1, $lanes, $zero, $load, $store, $splat, $fma, $mul
            );
            column_kernel!(
                column, $t, $feat, $lanes, $zero, $load, $store, $splat, $fma, $mul, $gather
            );
            dot_kernel!(dot, $t, $feat, $rv, $nv, $lanes, $zero, $load, $store, $fma);
            pack_t_kernel!(pack_t_gather, $t, $feat, $lanes, $store, $gather);
        }
    };
}

pair!(f32_avx512: f32, "avx512f", 16 lanes, MR 8, dot (4, 1), [
    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
    _mm512_mul_ps, gather::f32_avx512
]);
pair!(f64_avx512: f64, "avx512f", 8 lanes, MR 8, dot (4, 1), [
    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd,
    _mm512_mul_pd, gather::f64_avx512
]);
pair!(f32_avx2: f32, "avx2,fma", 8 lanes, MR 6, dot (2, 2), [
    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps,
    _mm256_mul_ps, gather::f32_avx2
]);
pair!(f64_avx2: f64, "avx2,fma", 4 lanes, MR 6, dot (2, 2), [
    _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd,
    _mm256_mul_pd, gather::f64_avx2
]);
