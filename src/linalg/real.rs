//! The scalar trait [`Real`], implemented for `f32` and `f64`.
//!
//! Everything numerical in monge is generic over `T: Real`. The trait carries the arithmetic the kernels
//! need, the few transcendental functions the papers' formulas use, conversions to and from `f64` (for
//! constants and for reporting), and the raw gemm entry point for the type (monge's kernels, or
//! `matrixmultiply` on CPUs without AVX2), so that [`crate::linalg::gemm`] can stay generic.

use super::gemm::Product;
use core::fmt::{Debug, Display};
use core::iter::Sum;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real floating-point scalar: `f32` or `f64`.
pub trait Real:
    Copy
    + Send
    + Sync
    + 'static
    + Default
    + Debug
    + Display
    + PartialOrd
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// 0
    const ZERO: Self;
    /// 1
    const ONE: Self;
    /// 2
    const TWO: Self;
    /// 1/2
    const HALF: Self;
    /// Machine epsilon of the type.
    const EPSILON: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// `"f32"` or `"f64"` (used in file headers and reports).
    const NAME: &'static str;
    /// Size in bytes.
    const BYTES: usize;

    /// Nearest value of this type to `x`.
    fn from_f64(x: f64) -> Self;
    /// Exact widening (f32) or identity (f64).
    fn to_f64(self) -> f64;
    /// `n as Self`.
    fn from_usize(n: usize) -> Self;
    /// eˣ
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// eˣ − 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// √x
    fn sqrt(self) -> Self;
    /// |x|
    fn abs(self) -> Self;
    /// Inverse hyperbolic sine.
    fn asinh(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// xⁿ for integer n.
    fn powi(self, n: i32) -> Self;
    /// 2ᵏ for an integral `k` with 2ᵏ a normal number of the type (k ∈ [−126, 127] for f32,
    /// [−1022, 1023] for f64), by writing the exponent field: no library call, so a loop using it can
    /// vectorise ([`crate::linalg::ops::exp_nonpositive`]).
    fn exp2_int(k: Self) -> Self;
    /// Larger of the two (NaN-ignoring as `f64::max`).
    fn max(self, other: Self) -> Self;
    /// Smaller of the two (NaN-ignoring as `f64::min`).
    fn min(self, other: Self) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// Sign: 1, −1, or 0 at ±0 (unlike `f64::signum`, which gives ±1 at ±0; the L1 subgradient wants 0).
    fn sign(self) -> Self {
        if self > Self::ZERO {
            Self::ONE
        } else if self < Self::ZERO {
            -Self::ONE
        } else {
            Self::ZERO
        }
    }
    /// Raw bits widened to u64 (for bit-identity checks and checksums).
    fn to_bits_u64(self) -> u64;
    /// Little-endian bytes appended to `out`.
    fn write_le(self, out: &mut Vec<u8>);
    /// Read from exactly `Self::BYTES` little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;

    /// The raw gemm entry for this type, `C ← α·A·B + β·C` on the strided operands of `p`: monge's own
    /// kernels ([`super::kernel`]) where the CPU has AVX-512F or AVX2 + FMA, else `matrixmultiply`.
    /// If β is zero, C is not read (it may hold anything, even NaN). `Product` cannot be named outside
    /// `linalg`: [`crate::linalg::gemm`] is the entry point.
    ///
    /// # Safety
    /// The pointers of `p` must be valid for every element addressed by its dimensions and strides, and
    /// `C` must not alias `A` or `B`.
    #[doc(hidden)]
    unsafe fn gemm_raw(p: Product<Self>);
}

/// `Self -> Self` methods that call the inherent method of the same name.
macro_rules! forward_unary {
    ($t:ty: $($f:ident)*) => {
        $(
            #[inline(always)]
            fn $f(self) -> Self {
                <$t>::$f(self)
            }
        )*
    };
}

/// `impl Real for $t`. The f32 and f64 impls differ only in the type, its name (`$name`), its
/// matrixmultiply entry (`$gemm`: `sgemm` or `dgemm`) and its bit layout (`$mantissa` bits of fraction,
/// exponent bias `$bias`); every function forwards to the type's inherent method of the same name, or
/// is an `as` cast, except `exp2_int`, which writes the exponent field.
macro_rules! impl_real {
    ($t:ty, $name:literal, $gemm:ident, $mantissa:literal, $bias:literal) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const HALF: Self = 0.5;
            const EPSILON: Self = <$t>::EPSILON;
            const MAX: Self = <$t>::MAX;
            const INFINITY: Self = <$t>::INFINITY;
            const NAME: &'static str = $name;
            const BYTES: usize = core::mem::size_of::<$t>();

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            forward_unary!($t: exp ln ln_1p exp_m1 sqrt abs asinh tanh cos sin);
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            #[inline(always)]
            fn exp2_int(k: Self) -> Self {
                // k + 1.5/ε is exact, and its bit pattern is that of 1.5/ε plus k (the ulp there is 1):
                // integer arithmetic on the bits, no float-to-int conversion (which would not vectorise).
                let m: $t = 1.5 / <$t>::EPSILON;
                let k_bits = (k + m).to_bits().wrapping_sub(m.to_bits());
                <$t>::from_bits(k_bits.wrapping_add($bias) << $mantissa)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn to_bits_u64(self) -> u64 {
                self.to_bits() as u64
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut b = [0u8; core::mem::size_of::<$t>()];
                b.copy_from_slice(&bytes[..core::mem::size_of::<$t>()]);
                <$t>::from_le_bytes(b)
            }
            #[inline]
            unsafe fn gemm_raw(p: Product<Self>) {
                // safety: forwarded contract of this function.
                unsafe {
                    if !super::kernel::gemm_own(p) {
                        let Product { m, k, n, alpha, beta, .. } = p;
                        let ((a, rsa, csa), (b, rsb, csb)) = (p.a.parts(), p.b.parts());
                        let (c, rsc, csc) = p.c.parts();
                        matrixmultiply::$gemm(
                            m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc,
                        )
                    }
                }
            }
        }
    };
}

impl_real!(f32, "f32", sgemm, 23, 127);
impl_real!(f64, "f64", dgemm, 52, 1023);
