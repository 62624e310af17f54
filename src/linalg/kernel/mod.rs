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
//!
//! # Files (one concern each)
//! - `micro.rs`: the MR×NR and MR×NR/2 micro-kernels (a macro), and `c_update!`, the `α·acc + β·C`
//!   that every kernel writes C with;
//! - `column.rs`: the column kernels (a macro) and their loop over rows and depth blocks;
//! - `dot.rs`: the dot kernels (a macro) and their loop (Bᵀ packed once per product);
//! - `pairs.rs`: the kernel macros instantiated once per (scalar type, instruction set) pair, with
//!   that pair's vector instructions and tile shapes (why the shapes are constants: its module doc);
//! - `gather.rs`: the vector gathers of the column kernels and packers;
//! - `pack.rs`: packing B into panels (transposed full panels in registers or by gathers, the rest
//!   by a scalar copy);
//! - `isa.rs`: instruction-set detection, each scalar type's table of kernels ([`Micro`]) and the
//!   per-thread packing buffer;
//! - `dispatch.rs`: the entry points and the split of a product among the kernels (edges above);
//! - `driver.rs`: the loop nest above, and the depth blocks every kernel loop takes.

mod column;
mod dispatch;
mod dot;
mod driver;
#[cfg(target_arch = "x86_64")]
mod gather;
mod isa;
mod micro;
mod pack;
#[cfg(target_arch = "x86_64")]
mod pairs;

pub(crate) use dispatch::gemm_own;
pub use dispatch::{gemm_on, has_own_kernel};
pub use isa::{Isa, OwnKernel};

use column::ColumnFn;
use dot::DotFn;
use micro::KernelFn;
use pack::PackTFn;

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
