//! ICNN passes on a batch of 256 (f32, [64]×4) at d = 2, 50, 1000: forward, grad_x (forward + backward +
//! `E A`), param_grad_of_value, param_grad_of_map (double backprop: forward, backward, tangent, gradients).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use monge::linalg::Mat;
use monge::nn::icnn::{Icnn, IcnnConfig};
use monge::random::Stream;
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("icnn");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    let b = 256;
    for d in [2usize, 50, 1000] {
        let mut rng = Stream::new(0, 0);
        let net = Icnn::<f32>::new(d, &IcnnConfig::default(), &mut rng);
        let x = Mat::<f32>::from_fn(b, d, |_, _| rng.normal());
        let v = Mat::<f32>::from_fn(b, d, |_, _| rng.normal());
        let w = vec![1.0f32 / b as f32; b];
        let mut ws = net.workspace(b);
        let mut out = Mat::<f32>::zeros(b, d);
        let mut grads = vec![0.0f32; net.n_params()];
        group.bench_function(BenchmarkId::new("forward", d), |bch| {
            bch.iter(|| {
                net.forward(x.view(), &mut ws);
                black_box(ws.values()[0]);
            })
        });
        group.bench_function(BenchmarkId::new("grad_x", d), |bch| {
            bch.iter(|| {
                net.grad_x(x.view(), &mut ws, out.view_mut());
                black_box(out.as_slice()[0]);
            })
        });
        group.bench_function(BenchmarkId::new("param_grad_of_value", d), |bch| {
            bch.iter(|| {
                net.param_grad_of_value(x.view(), &w, &mut ws, &mut grads);
                black_box(grads[0]);
            })
        });
        group.bench_function(BenchmarkId::new("param_grad_of_map", d), |bch| {
            bch.iter(|| {
                net.param_grad_of_map(x.view(), v.view(), &mut ws, &mut grads);
                black_box(grads[0]);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
