//! The instruction sets monge has kernels for (detected at run time), the scalar types' tables of
//! kernels and block sizes, and each thread's packing buffer (allocated at its full size by the
//! thread's first product, reused by every later one).

#[cfg(target_arch = "x86_64")]
use super::pack::f32_avx512_pack_t;
#[cfg(target_arch = "x86_64")]
use super::pairs::{f32_avx2, f32_avx512, f64_avx2, f64_avx512};
use super::Micro;
use crate::linalg::Real;
use std::cell::RefCell;

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
/// Sealed in effect: [`Micro`] cannot be built outside `linalg::kernel`.
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

/// `impl OwnKernel for $t`: its packing buffer `$buf`, column block `$nc`, and the kernels of its two
/// pairs (modules of [`super::pairs`]) with the full-panel packer of each.
macro_rules! own_kernel {
    ($t:ty, $buf:ident, $nc:literal, avx512: ($m5:ident, $p5:path), avx2: ($m2:ident, $p2:path)) => {
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
                    mr: $m5::MR,
                    nr,
                    kc: 256,
                    nc: $nc,
                    kernel: $m5::micro,
                    half: $m5::half,
                    lanes: nr / 2,
                    column: $m5::column,
                    dot_rows: $m5::DOT_ROWS,
                    dot: $m5::dot,
                    pack_t: $p5,
                };
                match isa {
                    Isa::Avx512 => avx512,
                    Isa::Avx2 => Micro {
                        mr: $m2::MR,
                        kernel: $m2::micro,
                        half: $m2::half,
                        column: $m2::column,
                        dot_rows: $m2::DOT_ROWS,
                        dot: $m2::dot,
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
    avx512: (f32_avx512, f32_avx512_pack_t),
    avx2: (f32_avx2, f32_avx2::pack_t_gather)
);
own_kernel!(
    f64, BUF_F64, 256,
    avx512: (f64_avx512, f64_avx512::pack_t_gather),
    avx2: (f64_avx2, f64_avx2::pack_t_gather)
);

/// Runs `f` on this thread's packing buffer, sized (once: the thread's one allocation) to
/// [`buffer_len`].
pub(super) fn with_sized_buffer<T: OwnKernel, R>(
    mk: &Micro<T>,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    T::with_buffer(|buf| {
        if buf.len() < buffer_len(mk) {
            buf.resize(buffer_len(mk), T::ZERO);
        }
        f(buf)
    })
}

/// Elements of a thread's packing buffer: the B panels (1.25·KC × NC), the A edge sliver
/// (MR × 1.25·KC), and slack to align the panels to 64 bytes.
pub(super) fn buffer_len<T: Real>(mk: &Micro<T>) -> usize {
    let kc_max = mk.kc + mk.kc / 4;
    kc_max * mk.nc + mk.mr * kc_max + 64 / T::BYTES
}
