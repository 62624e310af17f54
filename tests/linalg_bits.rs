//! A fingerprint of the output bits of every path through `linalg`, for refactors that must not change
//! one bit: run it before and after the change and compare the printed hash.
//!
//! ```text
//! nice -n 10 cargo test --release --test linalg_bits -- --ignored --nocapture
//! ```
//!
//! It hashes (FNV-1a over each value's bits, in a fixed order), in f32 and f64: `gemm` (the detected
//! kernels) and `gemm_on` for AVX-512 and AVX2 on every transpose pair, strided operands and β ∈ {0, 1,
//! −0.3}, over shapes that put rows and columns on every kernel path (micro-kernel, half panel, dot
//! kernel, column kernel on both sides, padded tiles, merged and unmerged depth blocks, column blocks,
//! the 4 KiB row stride of B); the same products split into row blocks on a pool of 1 and of 2 threads;
//! Björck (every order and scale, forward and backward, tall and wide), Cayley (scaled and not), the
//! elementwise kernels of `ops`, and PCA (exact and randomized).
//!
//! Ignored because it is a tool, not a check: its value depends on the CPU's instruction sets, so no
//! expected hash can be written down. The facts it relies on are tested elsewhere
//! (`linalg_kernel.rs`, `linalg_gemm.rs`, `linalg_bjorck.rs`, `linalg_cayley.rs`).

mod linalg_common;

use linalg_common::{uniform, Operands, OPS};
use monge::linalg::bjorck::{Bjorck, BjorckOrder, BjorckScale, BjorckWork};
use monge::linalg::cayley::{cayley_backward, cayley_forward, CayleyWork};
use monge::linalg::kernel::{gemm_on, Isa, OwnKernel};
use monge::linalg::pca::{Pca, PcaConfig, PcaMethod};
use monge::linalg::{gemm, ops, Mat, MatMut, Op, Real};
use monge::parallel::Pool;
use monge::random::Stream;

/// FNV-1a over 64-bit words.
struct Fnv(u64);

impl Fnv {
    fn word(&mut self, w: u64) {
        for b in w.to_le_bytes() {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
    fn all<T: Real>(&mut self, x: &[T]) {
        self.word(x.len() as u64);
        x.iter().for_each(|v| self.word(v.to_bits_u64()));
    }
}

/// One product's operands (both stored with `pad` spare columns) and its β.
struct Case<T> {
    x: Operands<T>,
    beta: T,
}

impl<T: OwnKernel> Case<T> {
    fn new(
        rng: &mut Stream,
        shape: (usize, usize, usize),
        ops: (Op, Op),
        pad: usize,
        beta: f64,
    ) -> Self {
        let x = Operands::new(rng, shape, ops, [pad, pad]);
        Case {
            x,
            beta: T::from_f64(beta),
        }
    }
    /// C by `gemm` (None) or by the kernels of one instruction set.
    fn run(&self, isa: Option<Isa>, h: &mut Fnv) {
        let (x, alpha) = (&self.x, T::from_f64(0.7));
        let mut c = x.c0.clone();
        let out = MatMut::new(&mut c, x.m, x.n, x.n).unwrap();
        let (a, b) = (x.a(), x.b());
        match isa {
            None => gemm(alpha, a, x.op_a, b, x.op_b, self.beta, out),
            Some(isa) => {
                let ran = gemm_on(isa, alpha, a, x.op_a, b, x.op_b, self.beta, out);
                h.word(ran as u64);
            }
        }
        h.all(&c);
    }
    /// C by `gemm` in row blocks of `block` rows, the blocks spread over `pool`.
    fn run_split(&self, pool: &mut Pool, block: usize, h: &mut Fnv) {
        let x = &self.x;
        let mut c = x.c0.clone();
        let mut blocks: Vec<(usize, &mut [T])> = c
            .chunks_mut(block * x.n)
            .enumerate()
            .map(|(i, s)| (i * block, s))
            .collect();
        pool.for_each_mut(&mut blocks, |_, (r0, s)| {
            let rows = s.len() / x.n;
            let out = MatMut::new(s, rows, x.n, x.n).unwrap();
            let a = x.a_rows(*r0, *r0 + rows);
            gemm(T::from_f64(0.7), a, x.op_a, x.b(), x.op_b, self.beta, out);
        });
        h.all(&c);
    }
}

fn gemm_paths<T: OwnKernel>(h: &mut Fnv, pools: &mut [Pool; 2]) {
    let mut rng = Stream::new(17, 1);
    let mut shapes = Vec::new();
    for m in [1, 3, 4, 5, 6, 7, 8, 9, 17, 40] {
        for n in [1, 2, 4, 5, 7, 8, 9, 15, 16, 17, 20, 31, 33, 64, 65] {
            for k in [1, 7, 256, 321] {
                shapes.push((m, k, n));
            }
        }
    }
    // column blocks (NC = 512 / 256), the ICNN's stacked products, 4 KiB row strides of B
    shapes.extend([
        (70, 600, 40),
        (25, 257, 600),
        (9, 513, 1030),
        (256, 1000, 257),
        (257, 256, 300),
        (20, 30, 1024),
        (20, 30, 512),
    ]);
    let betas = [0.0, 1.0, -0.3];
    for (s, &(m, k, n)) in shapes.iter().enumerate() {
        for (o, &ops) in OPS.iter().enumerate() {
            let pad = (s + o) % 2;
            let case = Case::<T>::new(&mut rng, (m, k, n), ops, pad, betas[(s + o) % 3]);
            case.run(None, h);
            case.run(Some(Isa::Avx512), h);
            case.run(Some(Isa::Avx2), h);
            if m >= 2 && s % 3 == 0 {
                for pool in pools.iter_mut() {
                    case.run_split(pool, m.div_ceil(3), h);
                }
            }
        }
    }
}

fn orthonormalisers<T: Real>(h: &mut Fnv) {
    let mut rng = Stream::new(18, 2);
    for &(r, c) in &[(7, 3), (3, 7), (16, 16), (64, 50), (50, 64), (1, 5)] {
        let w = Mat::<T>::from_vec(r, c, uniform(&mut rng, r * c)).unwrap();
        let q_bar = Mat::<T>::from_vec(r, c, uniform(&mut rng, r * c)).unwrap();
        for order in [BjorckOrder::One, BjorckOrder::Two, BjorckOrder::Four] {
            for scale in [
                BjorckScale::Frobenius,
                BjorckScale::OneInf,
                BjorckScale::Dims,
            ] {
                let cfg = Bjorck {
                    order,
                    iters: 7,
                    scale,
                };
                let mut ws = BjorckWork::new(r, c, cfg);
                let mut q = Mat::<T>::zeros(r, c);
                for record in [false, true] {
                    cfg.forward(w.view(), q.view_mut(), &mut ws, record);
                    h.all(q.as_slice());
                }
                let mut w_bar = vec![T::ZERO; r * c];
                cfg.backward(q_bar.view(), &mut w_bar, &mut ws);
                h.all(&w_bar);
            }
        }
        for alpha in [None, Some(T::from_f64(1.3))] {
            let mut ws = CayleyWork::new(r, c);
            let mut q = Mat::<T>::zeros(r, c);
            cayley_forward(w.view(), alpha, q.view_mut(), &mut ws);
            h.all(q.as_slice());
            let mut w_bar = vec![T::ZERO; r * c];
            let mut a_bar = T::ZERO;
            cayley_backward(q_bar.view(), &mut w_bar, alpha.map(|_| &mut a_bar), &mut ws);
            h.all(&w_bar);
            h.word(a_bar.to_bits_u64());
        }
    }
}

fn elementwise<T: Real>(h: &mut Fnv) {
    let mut rng = Stream::new(19, 3);
    let x: Vec<T> = uniform(&mut rng, 37);
    let y: Vec<T> = uniform(&mut rng, 37);
    let mut z = y.clone();
    ops::axpy(T::from_f64(0.3), &x, &mut z);
    ops::scale(T::from_f64(-1.7), &mut z);
    let mut had = vec![T::ZERO; 37];
    ops::hadamard(&x, &y, &mut had);
    h.all(&z);
    h.all(&had);
    let scalars = [
        ops::dot(&x, &y),
        ops::norm2_sq(&x),
        ops::norm2(&x),
        ops::dist2_sq(&x, &y),
        ops::sum(&x),
        ops::max_abs(&x),
        ops::logsumexp(&x),
    ];
    h.all(&scalars);
    let act: Vec<T> = x
        .iter()
        .flat_map(|&v| {
            let v = v * T::from_f64(40.0);
            [ops::softplus(v), ops::sigmoid(v)]
        })
        .collect();
    h.all(&act);
    let mut m = Mat::<T>::from_vec(5, 7, uniform(&mut rng, 35)).unwrap();
    ops::add_row_vector(&mut m, &x[..7]);
    let mut sums = y[..7].to_vec();
    ops::col_sums_into(T::from_f64(0.5), &m, T::from_f64(2.0), &mut sums);
    h.all(m.as_slice());
    h.all(&sums);
    h.all(&ops::col_means(&m));
}

fn pca<T: Real>(h: &mut Fnv) {
    let mut rng = Stream::new(20, 4);
    let x = Mat::<T>::from_vec(300, 40, uniform(&mut rng, 300 * 40)).unwrap();
    for method in [PcaMethod::Exact, PcaMethod::Randomized] {
        let cfg = PcaConfig {
            method,
            ..PcaConfig::default()
        };
        let p = Pca::fit(x.view(), 5, &cfg).unwrap();
        h.all(p.components().as_slice());
        h.all(p.singular_values());
        h.all(p.project(x.view()).unwrap().as_slice());
    }
}

#[test]
#[ignore = "a tool for refactors: prints a hash of every linalg output, compare before and after"]
fn print_the_hash_of_every_linalg_output() {
    let mut pools = [Pool::new(1), Pool::new(2)];
    let mut total = Fnv(0xcbf2_9ce4_8422_2325);
    for (name, part) in [
        (
            "gemm f32",
            gemm_paths::<f32> as fn(&mut Fnv, &mut [Pool; 2]),
        ),
        ("gemm f64", gemm_paths::<f64>),
    ] {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        part(&mut h, &mut pools);
        println!("{name:12} {:016x}", h.0);
        total.word(h.0);
    }
    for (name, part) in [
        ("orth f32", orthonormalisers::<f32> as fn(&mut Fnv)),
        ("orth f64", orthonormalisers::<f64>),
        ("ops f32", elementwise::<f32>),
        ("ops f64", elementwise::<f64>),
        ("pca f32", pca::<f32>),
        ("pca f64", pca::<f64>),
    ] {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        part(&mut h);
        println!("{name:12} {:016x}", h.0);
        total.word(h.0);
    }
    println!(
        "avx512 {} avx2 {} | all {:016x}",
        Isa::Avx512.available(),
        Isa::Avx2.available(),
        total.0
    );
}
