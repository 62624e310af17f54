//! W2 outer iteration (10 g steps + 1 f step, batch 256, ICNN [64]×4, f32) at d = 2, 50, 1000, with and
//! without the smoothed-L0 penalty, on 1 and 2 threads (SPEC §8).
//!
//! Criterion's rate ("elem/s") is the gemm FLOP rate: one element = one FLOP of the gemms of an outer
//! iteration, counted by [`gemm_flops`] (2·m·k·n per product; elementwise work is not counted).
//! Reference (PyTorch, one core): 40 / 52–58 / 238–251 ms at d = 2 / 50 / 1000 (smoothed L0:
//! 40–56 / 63–75 / 282–287 ms).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use monge::linalg::Mat;
use monge::ot::penalty::Penalty;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::random::Stream;
use std::time::Duration;

/// gemm FLOPs of one outer iteration, mirroring the calls of `ot::w2` / `nn::icnn`.
///
/// With `H1 = Σh + 1` (stacked A rows), `w_l` the widths (w_L = 1), `P = Σ_{l=1..L} 2B w_l w_{l−1}`
/// (all W products on a batch) and `P' = P − 2B w_L w_{L−1}` (without the output row):
/// forward `F = 2BdH1 + P`; backward `Bk = P'`; input gradient `IG = 2BH1d`;
/// map parameter gradient `M = 2BdH1 (U̇) + P' (tangent) + 2H1Bd (∂A) + 2h0Bd (∂A0) + P (∂W)`;
/// value parameter gradient `VP = 2H1Bd + P`.
/// g step = g: F + Bk + IG + M, f: F + Bk + IG. f step = g: F + Bk + IG, f: 2·(F + Bk + VP).
pub fn gemm_flops(d: usize, b: usize, hidden: &[usize], g_iters: usize) -> f64 {
    let (d, b) = (d as f64, b as f64);
    let h1 = hidden.iter().sum::<usize>() as f64 + 1.0;
    let mut widths: Vec<f64> = hidden.iter().map(|&h| h as f64).collect();
    widths.push(1.0);
    let p: f64 = (1..widths.len())
        .map(|l| 2.0 * b * widths[l] * widths[l - 1])
        .sum();
    let last = widths.len() - 1;
    let p_no_out = p - 2.0 * b * widths[last] * widths[last - 1];
    let fwd = 2.0 * b * d * h1 + p;
    let bk = p_no_out;
    let ig = 2.0 * b * h1 * d;
    let m = 2.0 * b * d * h1 + p_no_out + 2.0 * h1 * b * d + 2.0 * widths[0] * b * d + p;
    let vp = 2.0 * h1 * b * d + p;
    let g_step = (fwd + bk + ig + m) + (fwd + bk + ig);
    let f_step = (fwd + bk + ig) + 2.0 * (fwd + bk + vp);
    g_iters as f64 * g_step + f_step
}

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
        let flops = gemm_flops(d, 256, &[64; 4], 10);
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
