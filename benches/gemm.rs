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
    const MM: MmFn<Self>;
}
type MmFn<T> = unsafe fn(
    usize,
    usize,
    usize,
    T,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    *mut T,
    isize,
    isize,
);
impl Mm for f32 {
    const MM: MmFn<f32> = matrixmultiply::sgemm;
}
impl Mm for f64 {
    const MM: MmFn<f64> = matrixmultiply::dgemm;
}

/// The products of one W2 g step at d = 1000 and at the ICNN's width (m, k, n, op(A), op(B)): the
/// stacked A-layer forward x·[A₀;…;A_L]ᵀ, the input gradient through them, their parameter gradient,
/// and the 64-wide W-layer products.
const ICNN_SHAPES: [(usize, usize, usize, Op, Op); 6] = [
    (256, 1000, 257, Op::N, Op::T),
    (256, 257, 1000, Op::N, Op::N),
    (257, 256, 1000, Op::T, Op::N),
    (256, 64, 64, Op::N, Op::T),
    (256, 64, 64, Op::N, Op::N),
    (64, 256, 64, Op::T, Op::N),
];

/// monge's gemm and matrixmultiply on C (m×n) = op(A)·op(B), operands stored row-major as `op` says.
fn pair<T: Mm>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rng: &mut Stream,
    (m, k, n, op_a, op_b): (usize, usize, usize, Op, Op),
) {
    let stored = |r: usize, c: usize, op: Op| if op == Op::N { (r, c) } else { (c, r) };
    let (ar, ac) = stored(m, k, op_a);
    let (br, bc) = stored(k, n, op_b);
    let a = Mat::<T>::from_fn(ar, ac, |_, _| rng.normal());
    let b = Mat::<T>::from_fn(br, bc, |_, _| rng.normal());
    let mut cm = Mat::<T>::zeros(m, n);
    let strides = |op: Op, cols: usize| match op {
        Op::N => (cols as isize, 1),
        Op::T => (1, cols as isize),
    };
    let ((rsa, csa), (rsb, csb)) = (strides(op_a, ac), strides(op_b, bc));
    let tag = |op: Op| if op == Op::N { "" } else { "T" };
    let label = format!("{m}x{k}{}x{n}{}", tag(op_a), tag(op_b));
    group.throughput(Throughput::Elements((2 * m * k * n) as u64));
    group.bench_with_input(BenchmarkId::new("monge", &label), &(), |bch, _| {
        bch.iter(|| {
            gemm(
                T::ONE,
                a.view(),
                op_a,
                b.view(),
                op_b,
                T::ZERO,
                cm.view_mut(),
            );
            black_box(cm.as_slice()[0]);
        })
    });
    group.bench_with_input(BenchmarkId::new("matrixmultiply", &label), &(), |bch, _| {
        bch.iter(|| {
            // safety: a, b, cm are owned row-major buffers; the strides read op(A) (m×k) and op(B)
            // (k×n) inside them, and cm is m×n.
            unsafe {
                (T::MM)(
                    m,
                    k,
                    n,
                    T::ONE,
                    a.as_slice().as_ptr(),
                    rsa,
                    csa,
                    b.as_slice().as_ptr(),
                    rsb,
                    csb,
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

fn bench_type<T: Mm>(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("gemm_{}", T::NAME));
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    let mut rng = Stream::new(0, 0);
    for &(m, k, n) in &SHAPES {
        pair::<T>(&mut group, &mut rng, (m, k, n, Op::N, Op::N));
    }
    group.finish();
}

fn bench_icnn(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_icnn_f32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    let mut rng = Stream::new(0, 1);
    for &shape in &ICNN_SHAPES {
        pair::<f32>(&mut group, &mut rng, shape);
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_type::<f32>(c);
    bench_type::<f64>(c);
    bench_icnn(c);
}

criterion_group!(gemm_benches, benches);
criterion_main!(gemm_benches);
