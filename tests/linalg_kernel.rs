//! monge's own gemm kernels (`linalg::kernel`): the properties its module doc claims beyond correctness
//! (which `linalg_gemm.rs` checks against the triple loop, through `linalg::gemm`).
//!
//! - A product split into row blocks (as the solvers split a batch across threads) gives the same bits
//!   as the whole product, although the blocks' edges send rows through different kernels (micro-kernel,
//!   padded tile, column kernel on the transpose): the shapes below put rows and columns on every path.
//! - The AVX-512 and AVX2 kernels give the same bits (checked where the CPU has both).
//! - Across the block edges (KC = 256 deep, NC = 512 / 256 columns, partial micro-tiles, narrow tails)
//!   the result agrees with matrixmultiply within the summation-order bound.

mod linalg_common;

use linalg_common::{bits, ops, Operands, OPS};
use monge::linalg::kernel::{gemm_on, Isa, OwnKernel};
use monge::linalg::{gemm, Mat, MatMut, Op, Real};
use monge::random::Stream;
use proptest::prelude::*;

/// C ← α·op(A)·op(B) + β·C computed whole and as row blocks split at `cuts`; the bits must agree.
fn row_split_case<T: Real>(
    seed: u64,
    shape: (usize, usize, usize),
    ops: (Op, Op),
    beta: f64,
    cut: usize,
) {
    let x = Operands::<T>::new(&mut Stream::new(seed, 1), shape, ops, [1, 0]);
    let (m, n) = (x.m, x.n);
    let (alpha, beta) = (T::from_f64(0.7), T::from_f64(beta));
    let mut whole = x.c0.clone();
    let out = MatMut::new(&mut whole, m, n, n).unwrap();
    gemm(alpha, x.a(), ops.0, x.b(), ops.1, beta, out);
    let mut split = x.c0.clone();
    let cut = cut.min(m);
    for (r0, r1) in [(0, cut), (cut, m)] {
        if r0 == r1 {
            continue;
        }
        let c_rows = MatMut::new(&mut split[r0 * n..r1 * n], r1 - r0, n, n).unwrap();
        gemm(alpha, x.a_rows(r0, r1), ops.0, x.b(), ops.1, beta, c_rows);
    }
    assert_eq!(
        bits(&whole),
        bits(&split),
        "{shape:?} {ops:?} β={beta:?} cut={cut}"
    );
}

fn beta() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), -1.0f64..1.0]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn row_blocks_give_the_bits_of_the_whole_product_f32(
        seed in any::<u64>(), m in 1usize..40, k in prop_oneof![1usize..20, 250usize..270],
        n in prop_oneof![1usize..70, 500usize..530], ops in ops(), beta in beta(), cut in 0usize..40,
    ) {
        row_split_case::<f32>(seed, (m, k, n), ops, beta, cut);
    }

    #[test]
    fn row_blocks_give_the_bits_of_the_whole_product_f64(
        seed in any::<u64>(), m in 1usize..40, k in prop_oneof![1usize..20, 250usize..270],
        n in prop_oneof![1usize..70, 250usize..270], ops in ops(), beta in beta(), cut in 0usize..40,
    ) {
        row_split_case::<f64>(seed, (m, k, n), ops, beta, cut);
    }
}

/// The same product on the AVX-512 and the AVX2 kernels: identical bits. Returns false when the CPU
/// lacks one of them.
fn isa_case<T: OwnKernel>(
    seed: u64,
    shape: (usize, usize, usize),
    ops: (Op, Op),
    beta: f64,
) -> bool {
    let x = Operands::<T>::new(&mut Stream::new(seed, 2), shape, ops, [0, 2]);
    let (alpha, beta) = (T::from_f64(-1.25), T::from_f64(beta));
    let mut out = [x.c0.clone(), x.c0.clone()];
    for (isa, c) in [Isa::Avx512, Isa::Avx2].into_iter().zip(out.iter_mut()) {
        let c = MatMut::new(c, x.m, x.n, x.n).unwrap();
        if !gemm_on(isa, alpha, x.a(), ops.0, x.b(), ops.1, beta, c) {
            return false;
        }
    }
    assert_eq!(bits(&out[0]), bits(&out[1]), "{shape:?} {ops:?}");
    true
}

#[test]
fn avx512_and_avx2_kernels_give_the_same_bits() {
    let mut ran = 0;
    let mut seed = 0;
    for &(m, k, n) in &[
        (1, 1, 1),
        (7, 3, 33),
        (13, 64, 64),
        (48, 300, 17),
        (25, 257, 600),
        (256, 2, 64),
    ] {
        for ops in OPS {
            for beta in [0.0, 1.0, 0.3] {
                seed += 1;
                ran += isa_case::<f32>(seed, (m, k, n), ops, beta) as usize;
                ran += isa_case::<f64>(seed, (m, k, n), ops, beta) as usize;
            }
        }
    }
    if !(Isa::Avx512.available() && Isa::Avx2.available()) {
        eprintln!("this CPU lacks AVX-512F or AVX2 + FMA: {ran} comparisons run");
    } else {
        assert_eq!(ran, 6 * 4 * 3 * 2);
    }
}

/// Against a direct matrixmultiply call, across the depth and column block edges, both instruction sets:
/// |Δ| ≤ 2·(k + 2)·ε·Σₗ|aᵢₗ bₗⱼ| (+ the β·C term), the bound of two summation orders.
#[test]
fn kernels_agree_with_matrixmultiply_across_block_edges() {
    let mut rng = Stream::new(9, 3);
    for &(m, k, n) in &[(9, 513, 3), (17, 256, 1025), (3, 1, 517), (70, 600, 40)] {
        let a = Mat::<f32>::from_fn(m, k, |_, _| rng.normal());
        let bt = Mat::<f32>::from_fn(n, k, |_, _| rng.normal()); // B = btᵀ, a strided operand
        let c0 = Mat::<f32>::from_fn(m, n, |_, _| rng.normal());
        let mut want = c0.clone();
        // safety: a (m×k), bt (n×k, read as k×n through swapped strides), want (m×n) are owned here.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                0.5,
                a.as_slice().as_ptr(),
                k as isize,
                1,
                bt.as_slice().as_ptr(),
                1,
                k as isize,
                2.0,
                want.as_mut_slice().as_mut_ptr(),
                n as isize,
                1,
            )
        };
        for isa in [Isa::Avx512, Isa::Avx2] {
            let mut got = c0.clone();
            if !gemm_on(
                isa,
                0.5f32,
                a.view(),
                Op::N,
                bt.view(),
                Op::T,
                2.0,
                got.view_mut(),
            ) {
                continue;
            }
            for i in 0..m {
                for j in 0..n {
                    let mag: f64 = (0..k)
                        .map(|l| (a.get(i, l) as f64 * bt.get(j, l) as f64).abs())
                        .sum::<f64>()
                        * 0.5
                        + 2.0 * (c0.get(i, j) as f64).abs();
                    let tol = 2.0 * (k as f64 + 2.0) * f32::EPSILON as f64 * mag;
                    let (x, y) = (got.get(i, j) as f64, want.get(i, j) as f64);
                    assert!(
                        (x - y).abs() <= tol,
                        "{isa:?} ({i},{j}) of {m}×{k}×{n}: {x} vs {y}"
                    );
                }
            }
        }
    }
}
