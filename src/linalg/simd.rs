//! Run-time selection of a kernel's instruction set.
//!
//! monge builds for the baseline x86-64 target (SSE2), so that the library runs on any x86-64 CPU. The
//! few elementwise kernels whose speed depends on vector width are compiled a second and third time with
//! AVX-512F and AVX2 enabled, and [`simd_dispatch!`] picks the widest one the CPU has, once per call
//! (`is_x86_feature_detected!` caches its answer). Every copy runs the same source: Rust never contracts
//! `a * b + c` into a fused multiply–add on its own, so all copies give the same bits.

/// Defines `fn NAME<GENERICS>(ARGS) -> RET` that calls the `#[inline(always)]` function `BODY` (same
/// signature) compiled for AVX-512F when the CPU has it, else for AVX2, else for the baseline target.
///
/// ```text
/// simd_dispatch! {
///     /// docs
///     fn name[T: Real, const K: usize][T, K](x: &[T], y: &mut [T]) -> () = name_body;
/// }
/// ```
/// The first bracket holds the generic parameters, the second the arguments that name them (both may be
/// empty).
macro_rules! simd_dispatch {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident [$($gen:tt)*] [$($turbo:tt)*]
            ($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty = $body:ident;
    ) => {
        $(#[$meta])*
        $vis fn $name<$($gen)*>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<$($gen)*>($($arg: $ty),*) -> $ret {
                    $body::<$($turbo)*>($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2<$($gen)*>($($arg: $ty),*) -> $ret {
                    $body::<$($turbo)*>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // safety: the CPU supports AVX-512F (checked just above).
                    return unsafe { avx512::<$($turbo)*>($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // safety: the CPU supports AVX2 (checked just above).
                    return unsafe { avx2::<$($turbo)*>($($arg),*) };
                }
            }
            $body::<$($turbo)*>($($arg),*)
        }
    };
}

pub(crate) use simd_dispatch;
