//! Elastic-L1 entropic Sinkhorn map at n = m = 1000, d = 1000 (SPEC §8): the Sinkhorn fit (cost matrix +
//! log-domain iterations) and the map evaluation on the 1000 source points, with 1 and 2 threads.
//! Reference (ott-jax on this machine type): 154 s Sinkhorn + 37 s map, 12.5 GB; target ≥ 10× faster with
//! O(n²) memory.
//!
//! Before criterion runs, one timed pass per thread count prints the Sinkhorn report, the wall times, the
//! process's peak resident memory (`VmHWM` from /proc, Linux) and the analytic working-set estimate
//! (cost matrix n·m f64 + data copies in T and f64 + per-thread map blocks).

use criterion::{criterion_group, criterion_main, Criterion};
use monge::linalg::Mat;
use monge::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use monge::ot::TransportMap;
use monge::parallel::Pool;
use monge::random::Stream;
use std::hint::black_box;
use std::time::{Duration, Instant};

const N: usize = 1000;
const D: usize = 1000;

/// μ = N(0, I), ν = N(s, I) with s = 4 on the first 10 coordinates (f32, seed 0).
fn data() -> (Mat<f32>, Mat<f32>) {
    let mut s = Stream::new(0, 8);
    let x = Mat::<f32>::from_fn(N, D, |_, _| s.normal());
    let y = Mat::<f32>::from_fn(N, D, |_, j| {
        s.normal::<f32>() + if j < 10 { 4.0 } else { 0.0 }
    });
    (x, y)
}

fn config(threads: usize) -> SinkhornConfig {
    SinkhornConfig {
        cost: ElasticCost::L1 { gamma: 1.0 },
        threads,
        ..SinkhornConfig::default()
    }
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn estimate_mb(threads: usize) -> f64 {
    let cost = (N * N * 8) as f64;
    let data = (2 * N * D * (4 + 8)) as f64;
    let per_thread_map = (2 * 64 * N * 8 + 64 * D * (8 + 4 + 8)) as f64;
    (cost + data + threads as f64 * per_thread_map) / (1024.0 * 1024.0)
}

fn one_shot(x: &Mat<f32>, y: &Mat<f32>) {
    for threads in [1, 2] {
        let t = Instant::now();
        let map = ElasticSinkhornMap::fit(x.view(), y.view(), &config(threads)).expect("fit");
        let fit = t.elapsed();
        let t = Instant::now();
        let tx = map.transport_on(x, &mut Pool::new(threads));
        let eval = t.elapsed();
        black_box(tx.as_slice()[0]);
        let r = map.report().expect("report");
        eprintln!(
            "sinkhorn elastic-L1 n={N} d={D} threads={threads}: fit {:.3} s ({} iterations, ε = {:.2}, \
             marginal error {:.1e}), map {:.3} s; peak RSS {:.0} MB, working-set estimate {:.0} MB",
            fit.as_secs_f64(),
            r.iterations,
            r.epsilon,
            r.marginal_error,
            eval.as_secs_f64(),
            peak_rss_mb().unwrap_or(f64::NAN),
            estimate_mb(threads)
        );
    }
}

fn bench(c: &mut Criterion) {
    let (x, y) = data();
    one_shot(&x, &y);
    let mut group = c.benchmark_group("sinkhorn_l1_n1000_d1000");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for threads in [1, 2] {
        group.bench_function(format!("fit_t{threads}"), |b| {
            b.iter(|| {
                let m = ElasticSinkhornMap::fit(x.view(), y.view(), &config(threads)).expect("fit");
                black_box(m.potential_g()[0]);
            })
        });
        let map = ElasticSinkhornMap::fit(x.view(), y.view(), &config(threads)).expect("fit");
        let mut pool = Pool::new(threads);
        group.bench_function(format!("map_t{threads}"), |b| {
            b.iter(|| black_box(map.transport_on(&x, &mut pool).as_slice()[0]))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
