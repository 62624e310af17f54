//! LipschitzNet: parameter and input gradients against finite differences (f64) with Björck and Cayley,
//! and the 1-Lipschitz property for random parameters.

#[path = "common/cases.rs"]
mod cases;

use monge::gradcheck::GradCheck;
use monge::linalg::bjorck::{Bjorck, BjorckOrder, BjorckScale};
use monge::linalg::Mat;
use monge::nn::lipschitz::{LipschitzConfig, LipschitzNet, Orthonormaliser};
use monge::parallel::Pool;
use monge::random::Stream;
use proptest::prelude::*;

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = Stream::new(seed, 3);
    Mat::from_fn(rows, cols, |_, _| rng.normal())
}

fn small_cfg(ortho: Orthonormaliser) -> LipschitzConfig {
    LipschitzConfig {
        hidden: vec![8, 8],
        group_size: Some(4),
        descending: true,
        ortho,
        ortho_export: ortho,
    }
}

fn bjorck_small() -> Orthonormaliser {
    Orthonormaliser::Bjorck(Bjorck {
        order: BjorckOrder::Two,
        iters: 6,
        scale: BjorckScale::Frobenius,
    })
}

fn value_sum(net: &LipschitzNet<f64>, p: &[f64], x: &Mat<f64>, s: &[f64]) -> f64 {
    let mut n = net.clone();
    n.params_mut().copy_from_slice(p);
    n.orthonormalise(false);
    n.values(x).iter().zip(s).map(|(a, b)| a * b).sum()
}

#[test]
fn lipschitz_param_gradient_matches_finite_differences() {
    for ortho in [Orthonormaliser::Cayley, bjorck_small()] {
        for d in [3usize, 10] {
            let mut rng = Stream::new(d as u64, 0);
            let mut net = LipschitzNet::<f64>::new(d, small_cfg(ortho), &mut rng);
            let x = random(6, d, 1 + d as u64);
            let s: Vec<f64> = (0..6).map(|i| (i as f64 - 2.5) / 6.0).collect();
            let mut ws = net.work(6);
            net.orthonormalise(false);
            let mut g = vec![0.0; net.n_params()];
            net.param_grad_of_value(x.view(), &s, &mut g, &mut ws);
            let p0 = net.params().to_vec();
            GradCheck::default()
                .check(|p| value_sum(&net, p, &x, &s), &p0, &g)
                .assert_below(1e-6, &format!("LipschitzNet params {ortho:?} d={d}"));
        }
    }
}

#[test]
fn lipschitz_sharded_gradient_equals_unsharded() {
    for ortho in [Orthonormaliser::Cayley, bjorck_small()] {
        let d = 3;
        let mut net = LipschitzNet::<f64>::new(d, small_cfg(ortho), &mut Stream::new(11, 0));
        let x = random(10, d, 12);
        let s: Vec<f64> = (0..10).map(|i| i as f64 / 10.0 - 0.3).collect();
        net.orthonormalise(false);
        let mut g1 = vec![0.0; net.n_params()];
        let mut ws = net.work(10);
        net.param_grad_of_value(x.view(), &s, &mut g1, &mut ws);
        let direct: f64 = ws.values().iter().zip(&s).map(|(a, b)| a * b).sum();
        for threads in [1usize, 2, 3] {
            let mut sh = net.shards(10, threads);
            assert_eq!(sh.len(), threads);
            let mut pool = Pool::new(threads);
            let mut g2 = vec![0.0; net.n_params()];
            let v = net.param_grad_of_value_sharded(x.view(), &s, &mut g2, &mut sh, &mut pool);
            assert!((v - direct).abs() <= 1e-12, "{v} vs {direct}");
            for (a, b) in g1.iter().zip(&g2) {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + a.abs()),
                    "{threads} threads: {a} vs {b}"
                );
            }
            if threads == 1 {
                assert_eq!(g1, g2, "one shard is the unsharded computation");
            }
            // deterministic for a given shard count
            let mut g3 = vec![0.0; net.n_params()];
            net.param_grad_of_value_sharded(x.view(), &s, &mut g3, &mut sh, &mut pool);
            assert_eq!(g2, g3);
            // ... and bit-identical whatever the pool size (the shard count fixes the arithmetic)
            for pool_threads in [1usize, 2] {
                let mut other = Pool::new(pool_threads);
                let mut g4 = vec![0.0; net.n_params()];
                net.param_grad_of_value_sharded(x.view(), &s, &mut g4, &mut sh, &mut other);
                assert_eq!(g2, g4, "{threads} shards on {pool_threads} workers");
            }
        }
        // the per-layer orthonormalisation gives the same Q's on any pool
        let q1: Vec<Mat<f64>> = net.q().to_vec();
        for pool_threads in [1usize, 2, 3] {
            let mut n2 = net.clone();
            n2.orthonormalise_on(false, Some(&mut Pool::new(pool_threads)));
            assert_eq!(n2.q(), &q1[..], "{pool_threads} workers");
        }
    }
}

#[test]
fn lipschitz_input_gradient_matches_finite_differences() {
    for ortho in [Orthonormaliser::Cayley, bjorck_small()] {
        let d = 4;
        let mut rng = Stream::new(7, 0);
        let mut net = LipschitzNet::<f64>::new(d, small_cfg(ortho), &mut rng);
        net.orthonormalise(false);
        let x = random(5, d, 9);
        let gx = net.gradients(&x);
        for i in 0..5 {
            let row = x.row(i).to_vec();
            let f = |p: &[f64]| net.values(&Mat::from_vec(1, d, p.to_vec()).unwrap())[0];
            GradCheck::default()
                .check(f, &row, gx.row(i))
                .assert_below(1e-6, &format!("LipschitzNet ∇x {ortho:?} row {i}"));
        }
    }
}

#[test]
fn lipschitz_default_architecture_gradient_norms_are_at_most_one() {
    let mut rng = Stream::new(3, 0);
    let mut net = LipschitzNet::<f64>::new(5, LipschitzConfig::default(), &mut rng);
    net.validate().unwrap();
    net.orthonormalise(false);
    let g = net.gradients(&random(64, 5, 4));
    for i in 0..64 {
        let n: f64 = g.row(i).iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(n <= 1.0 + 1e-12 && n > 0.0, "‖∇f‖ = {n}");
    }
}

#[test]
fn lipschitz_validate_rejects_a_group_size_that_does_not_divide() {
    let mut rng = Stream::new(3, 0);
    let cfg = LipschitzConfig {
        hidden: vec![10],
        group_size: Some(4),
        ..LipschitzConfig::default()
    };
    let net = LipschitzNet::<f64>::new(2, cfg, &mut rng);
    assert!(net.validate().is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases::cases(1000)))]
    #[test]
    fn lipschitz_net_is_one_lipschitz(seed in 0u64..10_000, d in 1usize..8, cayley in any::<bool>()) {
        let ortho = if cayley { Orthonormaliser::Cayley } else {
            Orthonormaliser::Bjorck(Bjorck { order: BjorckOrder::One, iters: 10, scale: BjorckScale::OneInf })
        };
        let cfg = LipschitzConfig { hidden: vec![16, 16, 16], group_size: Some(4), descending: true, ortho, ortho_export: ortho };
        let mut rng = Stream::new(seed, 0);
        let mut net = LipschitzNet::<f64>::new(d, cfg, &mut rng);
        // random, larger-than-init parameters
        for p in net.params_mut() { *p *= 3.0; }
        net.orthonormalise(false);
        let x = random(50, d, seed + 1);
        let y = random(50, d, seed + 2);
        let fx = net.values(&x);
        let fy = net.values(&y);
        for i in 0..50 {
            let dist: f64 = x.row(i).iter().zip(y.row(i)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            prop_assert!((fx[i] - fy[i]).abs() <= dist * (1.0 + 1e-9), "|Δf| = {} > ‖Δx‖ = {}", (fx[i] - fy[i]).abs(), dist);
        }
    }
}
