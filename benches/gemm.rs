//! gemm throughput at the shapes of SPEC §8, f32 and f64: monge's `linalg::gemm` (its own kernels on
//! AVX-512 / AVX2 CPUs) and a direct `matrixmultiply` call side by side (criterion reports the rate as "elem/s": read it as FLOP/s, one
//! element = one floating-point operation, 2·m·k·n per product).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use monge::linalg::{gemm, Mat, Op, Real};
use monge::random::Stream;
use std::hint::black_box;
use std::time::Duration;

/// (m, k, n): C (m×n) = A (m×k) · B (k×n)
const SHAPES: [(usize, usize, usize); 6] = [
    (256, 2, 64),
    (256, 50, 64),
    (256, 1000, 64),
    (256, 64, 64),
    (256, 64, 1000),
    (1024, 1024, 1024),
];

/// `matrixmultiply`'s entry for each scalar type.
trait Mm: Real {
    #[allow(clippy::too_many_arguments)]
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! mm {
    ($t:ty, $f:ident) => {
        impl Mm for $t {
            unsafe fn mm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // safety: forwarded contract.
                unsafe {
                    matrixmultiply::$f(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
                }
            }
        }
    };
}
mm!(f32, sgemm);
mm!(f64, dgemm);

fn bench_type<T: Mm>(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("gemm_{}", T::NAME));
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    let mut rng = Stream::new(0, 0);
    for &(m, k, n) in &SHAPES {
        let a = Mat::<T>::from_fn(m, k, |_, _| rng.normal());
        let b = Mat::<T>::from_fn(k, n, |_, _| rng.normal());
        let mut cm = Mat::<T>::zeros(m, n);
        let label = format!("{m}x{k}x{n}");
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_with_input(BenchmarkId::new("monge", &label), &(), |bch, _| {
            bch.iter(|| {
                gemm(
                    T::ONE,
                    a.view(),
                    Op::N,
                    b.view(),
                    Op::N,
                    T::ZERO,
                    cm.view_mut(),
                );
                black_box(cm.as_slice()[0]);
            })
        });
        group.bench_with_input(BenchmarkId::new("matrixmultiply", &label), &(), |bch, _| {
            bch.iter(|| {
                // safety: a, b, cm are contiguous row-major m×k, k×n, m×n buffers owned here.
                unsafe {
                    T::mm(
                        m,
                        k,
                        n,
                        T::ONE,
                        a.as_slice().as_ptr(),
                        k as isize,
                        1,
                        b.as_slice().as_ptr(),
                        n as isize,
                        1,
                        T::ZERO,
                        cm.as_mut_slice().as_mut_ptr(),
                        n as isize,
                        1,
                    )
                };
                black_box(cm.as_slice()[0]);
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_type::<f32>(c);
    bench_type::<f64>(c);
}

criterion_group!(gemm_benches, benches);
criterion_main!(gemm_benches);
