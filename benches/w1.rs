//! W1 solver iterations at batch 256 (SPEC §8): one phase-1 potential step (Cayley and Björck potentials)
//! and one phase-2 GAN step (discriminator + step size), d ∈ {2, 50, 1000}, f32, one thread (and the
//! Cayley potential step and the GAN step on two threads).
//! Reference (PyTorch, one core): potential 9.4 / 11.4 / 14.3 ms, GAN 3.8 / 4.1 / 9.9 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use monge::linalg::Mat;
use monge::nn::lipschitz::LipschitzConfig;
use monge::ot::w1::{W1Config, W1Trainer};
use monge::random::Stream;
use std::time::Duration;

fn data(n: usize, d: usize, seed: u64, shift: f32) -> Mat<f32> {
    let mut rng = Stream::new(seed, 0);
    Mat::from_fn(n, d, |_, _| rng.normal::<f32>() + shift)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("w1");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for &d in &[2usize, 50, 1000] {
        let x = data(1024, d, 1, 0.0);
        let y = data(1024, d, 2, 1.0);
        for (name, pot, threads) in [
            ("cayley", LipschitzConfig::default(), 1),
            ("cayley_2threads", LipschitzConfig::default(), 2),
            ("bjorck", LipschitzConfig::bjorck(), 1),
        ] {
            let cfg = W1Config {
                potential: pot,
                threads,
                ..W1Config::default()
            };
            let mut tr = W1Trainer::new(&x, &y, &cfg).unwrap();
            g.bench_function(format!("potential_step_{name}_d{d}"), |b| {
                b.iter(|| tr.potential_step().unwrap())
            });
        }
        for threads in [1usize, 2] {
            let cfg = W1Config {
                threads,
                ..W1Config::default()
            };
            let mut tr = W1Trainer::new(&x, &y, &cfg).unwrap();
            tr.start_gan();
            let name = if threads == 1 {
                "gan_step".to_string()
            } else {
                format!("gan_step_{threads}threads")
            };
            g.bench_function(format!("{name}_d{d}"), |b| {
                b.iter(|| tr.gan_step().unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
