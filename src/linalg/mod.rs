//! Linear algebra: the scalar trait, row-major matrices and views, gemm on strides (monge's own packed
//! kernels in [`kernel`], `matrixmultiply` as the fallback and the benchmarks' reference), elementwise
//! kernels, and (in their own files) the orthonormalisers of SPEC §1.
//!
//! This is the bottom room of the crate: it looks at nothing above it.

mod gemm;
pub mod kernel;
mod mat;
pub mod ops;
mod real;
pub(crate) mod simd;
mod tall;

pub use gemm::{count_flops, gemm, Op};
pub use mat::{gather_rows, Mat, MatMut, MatRef};
pub use real::Real;

pub mod bjorck;
pub mod cayley;
pub mod pca;
