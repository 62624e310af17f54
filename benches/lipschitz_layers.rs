//! Björck, Cayley, GroupSort and LipschitzNet passes at the shapes of the W1 solver (width 64, batch 512 =
//! the stacked source + target batch of 256 each), f32.

use criterion::{criterion_group, criterion_main, Criterion};
use monge::linalg::bjorck::{Bjorck, BjorckWork};
use monge::linalg::cayley::{cayley_backward, cayley_forward, CayleyWork};
use monge::linalg::Mat;
use monge::nn::groupsort::GroupSort;
use monge::nn::lipschitz::{LipschitzConfig, LipschitzNet};
use monge::random::Stream;
use std::hint::black_box;
use std::time::Duration;

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f32> {
    let mut rng = Stream::new(seed, 0);
    Mat::from_fn(rows, cols, |_, _| rng.normal::<f32>() * 0.1)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("lipschitz_layers");
    g.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    for &(r, cl) in &[(64usize, 64usize), (64, 1000)] {
        let w = random(r, cl, 1);
        let qbar = random(r, cl, 2);
        let mut q = Mat::zeros(r, cl);
        let mut wbar = vec![0f32; r * cl];
        let mut cw = CayleyWork::new(r, cl);
        g.bench_function(format!("cayley_fwd_{r}x{cl}"), |b| {
            b.iter(|| cayley_forward(w.view(), Some(2.0), q.view_mut(), &mut cw))
        });
        g.bench_function(format!("cayley_fwd_bwd_{r}x{cl}"), |b| {
            b.iter(|| {
                cayley_forward(w.view(), Some(2.0), q.view_mut(), &mut cw);
                let mut ab = 0.0;
                cayley_backward(qbar.view(), &mut wbar, Some(&mut ab), &mut cw);
                black_box(ab)
            })
        });
        let bj = Bjorck::training();
        let mut bw = BjorckWork::new(r, cl, bj);
        g.bench_function(format!("bjorck2x20_fwd_{r}x{cl}"), |b| {
            b.iter(|| bj.forward(w.view(), q.view_mut(), &mut bw, true))
        });
        g.bench_function(format!("bjorck2x20_fwd_bwd_{r}x{cl}"), |b| {
            b.iter(|| {
                bj.forward(w.view(), q.view_mut(), &mut bw, true);
                bj.backward(qbar.view(), &mut wbar, &mut bw);
            })
        });
    }
    let x = random(512, 64, 3);
    let mut y = Mat::zeros(512, 64);
    let mut perm = vec![0u32; 512 * 64];
    let gs = GroupSort::w1ot(64);
    g.bench_function("groupsort_fwd_512x64", |b| {
        b.iter(|| gs.forward(&x, &mut y, &mut perm))
    });
    let mut xb = Mat::zeros(512, 64);
    g.bench_function("groupsort_bwd_512x64", |b| {
        b.iter(|| gs.backward(&x, &perm, &mut xb))
    });
    for (name, cfg) in [
        ("cayley", LipschitzConfig::default()),
        ("bjorck", LipschitzConfig::bjorck()),
    ] {
        for &d in &[2usize, 50, 1000] {
            let mut net = LipschitzNet::<f32>::new(d, cfg.clone(), &mut Stream::new(0, 0));
            let xb = random(512, d, 4);
            let seeds = vec![1.0f32 / 512.0; 512];
            let mut ws = net.work(512);
            let mut grads = vec![0f32; net.n_params()];
            g.bench_function(format!("net_{name}_orthonormalise_d{d}"), |b| {
                b.iter(|| net.orthonormalise(false))
            });
            net.orthonormalise(false);
            g.bench_function(format!("net_{name}_forward_512_d{d}"), |b| {
                b.iter(|| net.forward(xb.view(), &mut ws))
            });
            g.bench_function(format!("net_{name}_grad_x_512_d{d}"), |b| {
                b.iter(|| net.grad_x(xb.view(), &mut ws))
            });
            g.bench_function(format!("net_{name}_param_grad_512_d{d}"), |b| {
                b.iter(|| {
                    net.orthonormalise(false);
                    net.param_grad_of_value(xb.view(), &seeds, &mut grads, &mut ws)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
