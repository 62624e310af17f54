//! What the `linalg_*` tests share: random product operands stored as their `op` says, the four
//! transpose pairs, bit patterns, and the orthonormality error of the orthonormalisers.
#![allow(dead_code)]

use monge::linalg::{gemm, Mat, MatRef, Op, Real};
use monge::random::Stream;
use proptest::prelude::*;

/// `n` values uniform in [−1, 1).
pub fn uniform<T: Real>(rng: &mut Stream, n: usize) -> Vec<T> {
    (0..n)
        .map(|_| rng.uniform_range(T::from_f64(-1.0), T::ONE))
        .collect()
}

/// The operands of C (m×n) = op(A)·op(B): A and B stored row-major as their `op` says, each with
/// `pad` spare columns (row stride > cols), and a starting C (m×n, contiguous); all uniform in [−1, 1),
/// drawn in that order.
pub struct Operands<T> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub op_a: Op,
    pub op_b: Op,
    a: (Vec<T>, usize, usize, usize),
    b: (Vec<T>, usize, usize, usize),
    pub c0: Vec<T>,
}

impl<T: Real> Operands<T> {
    pub fn new(
        rng: &mut Stream,
        (m, k, n): (usize, usize, usize),
        ops: (Op, Op),
        pad: [usize; 2],
    ) -> Self {
        let mut stored = |r: usize, c: usize, op: Op, pad: usize| {
            let (sr, sc) = if op == Op::N { (r, c) } else { (c, r) };
            (uniform(rng, sr * (sc + pad)), sr, sc, sc + pad)
        };
        let a = stored(m, k, ops.0, pad[0]);
        let b = stored(k, n, ops.1, pad[1]);
        Operands {
            m,
            k,
            n,
            op_a: ops.0,
            op_b: ops.1,
            a,
            b,
            c0: uniform(rng, m * n),
        }
    }
    /// A as stored (op(A) is m×k).
    pub fn a(&self) -> MatRef<'_, T> {
        MatRef::new(&self.a.0, self.a.1, self.a.2, self.a.3).unwrap()
    }
    /// B as stored (op(B) is k×n).
    pub fn b(&self) -> MatRef<'_, T> {
        MatRef::new(&self.b.0, self.b.1, self.b.2, self.b.3).unwrap()
    }
    /// The stored A of rows `r0..r1` of op(A): a row block of A, or a column block of the stored Aᵀ.
    pub fn a_rows(&self, r0: usize, r1: usize) -> MatRef<'_, T> {
        match self.op_a {
            Op::N => self.a().block(r0, r1, 0, self.k),
            Op::T => self.a().block(0, self.k, r0, r1),
        }
    }
}

/// The four transpose pairs.
pub const OPS: [(Op, Op); 4] = [
    (Op::N, Op::N),
    (Op::N, Op::T),
    (Op::T, Op::N),
    (Op::T, Op::T),
];

/// One of the four transpose pairs.
pub fn ops() -> impl Strategy<Value = (Op, Op)> {
    proptest::sample::select(OPS.to_vec())
}

/// The bit patterns of `x`.
pub fn bits<T: Real>(x: &[T]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits_u64()).collect()
}

/// max |QᵀQ − I| (tall) or |QQᵀ − I| (wide).
pub fn ortho_err(q: &Mat<f64>) -> f64 {
    let (r, c) = q.shape();
    let k = r.min(c);
    let mut g = Mat::zeros(k, k);
    let (op_l, op_r) = if r >= c {
        (Op::T, Op::N)
    } else {
        (Op::N, Op::T)
    };
    gemm(1.0, q.view(), op_l, q.view(), op_r, 0.0, g.view_mut());
    let mut e: f64 = 0.0;
    for i in 0..k {
        for j in 0..k {
            let d = if i == j { 1.0 } else { 0.0 };
            e = e.max((g.get(i, j) - d).abs());
        }
    }
    e
}

/// A `rows × cols` matrix of standard normals from stream (seed, id).
pub fn normal_mat(rows: usize, cols: usize, seed: u64, id: u64) -> Mat<f64> {
    let mut rng = Stream::new(seed, id);
    Mat::from_fn(rows, cols, |_, _| rng.normal())
}
