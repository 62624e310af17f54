//! gemm against the naive triple loop on random shapes, every transpose combination, contiguous and
//! strided views, f32 and f64. Tolerance: the summation-order bound `k · ε · Σ|aᵢₗ bₗⱼ|` scaled by 4.

mod linalg_common;

use linalg_common::{ops, uniform, Operands, OPS};
use monge::linalg::{gemm, Mat, MatMut, MatRef, Op, Real};
use monge::random::Stream;
use proptest::prelude::*;

/// The same product by the textbook triple loop: the reference.
fn gemm_naive<T: Real>(
    alpha: T,
    a: MatRef<'_, T>,
    op_a: Op,
    b: MatRef<'_, T>,
    op_b: Op,
    beta: T,
    mut c: MatMut<'_, T>,
) {
    let at = |i: usize, l: usize| match op_a {
        Op::N => a.get(i, l),
        Op::T => a.get(l, i),
    };
    let bt = |l: usize, j: usize| match op_b {
        Op::N => b.get(l, j),
        Op::T => b.get(j, l),
    };
    let k = match op_a {
        Op::N => a.cols(),
        Op::T => a.rows(),
    };
    for i in 0..c.rows() {
        for j in 0..c.cols() {
            let mut s = T::ZERO;
            for l in 0..k {
                s += at(i, l) * bt(l, j);
            }
            let old = if beta == T::ZERO {
                T::ZERO
            } else {
                beta * c.get(i, j)
            };
            c.set(i, j, alpha * s + old);
        }
    }
}

/// Runs one case: op(A) is m×k, op(B) is k×n; each operand (and C) is stored with `pad` extra columns so
/// views have row stride > cols.
fn case<T: Real>(
    seed: u64,
    (m, k, n): (usize, usize, usize),
    ops: (Op, Op),
    pad: usize,
    beta: f64,
) {
    let mut rng = Stream::new(seed, 0);
    let x = Operands::<T>::new(&mut rng, (m, k, n), ops, [pad, pad]);
    let cbuf: Vec<T> = uniform(&mut rng, m * (n + pad));
    let (alpha, beta) = (T::from_f64(0.75), T::from_f64(beta));
    let (mut c1, mut c2) = (cbuf.clone(), cbuf.clone());
    let v1 = MatMut::new(&mut c1, m, n, n + pad).unwrap();
    gemm(alpha, x.a(), ops.0, x.b(), ops.1, beta, v1);
    let v2 = MatMut::new(&mut c2, m, n, n + pad).unwrap();
    gemm_naive(alpha, x.a(), ops.0, x.b(), ops.1, beta, v2);
    let (op_a, op_b) = ops;
    let tol = 4.0 * (k as f64 + 2.0) * T::EPSILON.to_f64() * (k as f64 + 1.0);
    for i in 0..m {
        for j in 0..n {
            let (x, y) = (
                c1[i * (n + pad) + j].to_f64(),
                c2[i * (n + pad) + j].to_f64(),
            );
            assert!(
                (x - y).abs() <= tol,
                "({i},{j}) {x} vs {y}, m={m} k={k} n={n} {op_a:?}{op_b:?}"
            );
        }
        // padding columns untouched
        for j in n..n + pad {
            assert_eq!(
                c1[i * (n + pad) + j].to_f64(),
                cbuf[i * (n + pad) + j].to_f64()
            );
        }
    }
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), 1usize..12, Just(17), Just(64), 60usize..80]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gemm_matches_triple_loop_f64(seed in any::<u64>(), m in dim(), k in dim(), n in dim(),
                                    (oa, ob) in ops(), pad in 0usize..3, beta in prop_oneof![Just(0.0), Just(1.0), -1.0f64..1.0]) {
        case::<f64>(seed, (m, k, n), (oa, ob), pad, beta);
    }

    #[test]
    fn gemm_matches_triple_loop_f32(seed in any::<u64>(), m in dim(), k in dim(), n in dim(),
                                    (oa, ob) in ops(), pad in 0usize..3, beta in prop_oneof![Just(0.0), Just(1.0), -1.0f64..1.0]) {
        case::<f32>(seed, (m, k, n), (oa, ob), pad, beta);
    }
}

#[test]
fn gemm_awkward_shapes_all_ops() {
    for &(m, k, n) in &[
        (1, 1, 1),
        (1, 7, 1),
        (1, 5, 9),
        (9, 5, 1),
        (17, 257, 3),
        (266, 3, 265),
        (2, 300, 2),
    ] {
        for ops in OPS {
            case::<f64>(7, (m, k, n), ops, 1, 0.5);
            case::<f32>(8, (m, k, n), ops, 0, 0.0);
        }
    }
}

#[test]
fn gemm_beta_zero_does_not_read_c() {
    let a = Mat::<f64>::from_fn(3, 2, |i, j| (i + j) as f64);
    let b = Mat::<f64>::from_fn(2, 4, |i, j| (i * j) as f64 + 1.0);
    let mut c = Mat::<f64>::from_fn(3, 4, |_, _| f64::NAN);
    gemm(1.0, a.view(), Op::N, b.view(), Op::N, 0.0, c.view_mut());
    assert!(c.as_slice().iter().all(|v| v.is_finite()));
    assert_eq!(c.get(2, 3), 2.0 * 1.0 + 3.0 * 4.0); // a₂· = (2, 3), b·₃ = (1, 4)
}

#[test]
fn gemm_on_row_range_and_column_block_views() {
    // C[1..3, 1..3] ← A[2..4, 0..2] · B[0..2, 1..3]ᵀ, everything else in C untouched
    let a = Mat::<f64>::from_fn(5, 3, |i, j| (i * 3 + j) as f64);
    let b = Mat::<f64>::from_fn(4, 4, |i, j| (i as f64) - (j as f64));
    let mut c = Mat::<f64>::zeros(4, 4);
    let av = a.view().block(2, 4, 0, 2);
    let bv = b.view().block(0, 2, 1, 3);
    gemm(
        1.0,
        av,
        Op::N,
        bv,
        Op::T,
        0.0,
        c.view_mut().block(1, 3, 1, 3),
    );
    for i in 0..4 {
        for j in 0..4 {
            let want = if (1..3).contains(&i) && (1..3).contains(&j) {
                let (ii, jj) = (i - 1, j - 1);
                (0..2)
                    .map(|l| a.get(2 + ii, l) * b.get(jj, 1 + l))
                    .sum::<f64>()
            } else {
                0.0
            };
            assert_eq!(c.get(i, j), want, "({i},{j})");
        }
    }
}

#[test]
fn views_reject_short_buffers_and_overlapping_rows() {
    let buf = [0.0f64; 10];
    assert!(MatRef::new(&buf, 2, 5, 5).is_some());
    assert!(MatRef::new(&buf, 3, 4, 4).is_none());
    assert!(MatRef::new(&buf, 2, 4, 3).is_none());
    assert!(Mat::<f64>::from_vec(3, 3, vec![0.0; 8]).is_none());
}
