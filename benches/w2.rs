//! W2 outer iteration (10 g steps + 1 f step, batch 256, ICNN [64]×4, f32) at d = 2, 50, 1000, with and
//! without the smoothed-L0 penalty, on 1 and 2 threads (SPEC §8).
//!
//! Criterion's rate ("elem/s") is the gemm FLOP rate: one element = one FLOP of the gemms of an outer
//! iteration, counted by `monge::ot::w2::gemm_flops_per_outer_iteration` (2·m·k·n per product; elementwise work is not counted).
//! Reference (PyTorch, one core): 40 / 52–58 / 238–251 ms at d = 2 / 50 / 1000 (smoothed L0:
//! 40–56 / 63–75 / 282–287 ms).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use monge::linalg::Mat;
use monge::ot::penalty::Penalty;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::random::Stream;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_outer_iteration");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    let threads: Vec<usize> = std::env::var("MONGE_BENCH_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    for d in [2usize, 50, 1000] {
        let mut rng = Stream::new(0, 8);
        let n = 1024;
        let x = Mat::<f32>::from_fn(n, d, |_, _| rng.normal());
        let y = Mat::<f32>::from_fn(n, d, |_, j| {
            rng.normal::<f32>() + if j < 2 { 2.0 } else { 0.0 }
        });
        let flops = monge::ot::w2::gemm_flops_per_outer_iteration(d, 256, &[64; 4], 10);
        eprintln!(
            "d = {d}: {:.3} GFLOP of gemm per outer iteration",
            flops / 1e9
        );
        group.throughput(Throughput::Elements(flops as u64));
        for (pname, pen, lambda) in [
            ("plain", Penalty::None, 0.0),
            ("smoothed-l0", Penalty::SmoothedL0 { sigma: 1.0 }, 1.0),
        ] {
            for &t in &threads {
                let cfg = W2Config {
                    penalty: pen,
                    lambda,
                    eval_every: 0,
                    threads: t,
                    ..W2Config::default()
                };
                let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
                let id = BenchmarkId::new(format!("d{d}/{pname}"), format!("{t}thr"));
                group.bench_function(id, |bch| bch.iter(|| tr.step().unwrap()));
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
