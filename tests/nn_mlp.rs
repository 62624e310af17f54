//! Step-size and discriminator MLPs: parameter and input gradients against finite differences (f64), the
//! logit-form BCE and its derivative, η ≥ 0.

use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::nn::mlp::{bce_fake, bce_fake_grad, bce_real, bce_real_grad, Mlp, MlpConfig};
use monge::random::Stream;

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = Stream::new(seed, 4);
    Mat::from_fn(rows, cols, |_, _| rng.normal())
}

fn small(mut cfg: MlpConfig) -> MlpConfig {
    cfg.hidden = vec![7, 5, 6];
    cfg
}

#[test]
fn mlp_param_and_input_gradients_match_finite_differences() {
    for (k, cfg) in [
        small(MlpConfig::step_size()),
        small(MlpConfig::discriminator()),
    ]
    .into_iter()
    .enumerate()
    {
        let d = 3;
        let mut rng = Stream::new(k as u64, 0);
        let net = Mlp::<f64>::new(d, cfg.clone(), &mut rng);
        let x = random(9, d, 5 + k as u64);
        let seeds: Vec<f64> = (0..9).map(|i| ((i * 7) % 5) as f64 - 2.0).collect();
        let mut ws = net.work(9);
        net.forward(x.view(), &mut ws);
        let mut g = vec![0.0; net.n_params()];
        net.backward(x.view(), &seeds, &mut ws, Some(&mut g), true);
        let gx = ws.grad_x().clone();
        let p0 = net.params().to_vec();
        let f = |p: &[f64]| {
            let mut n = net.clone();
            n.params_mut().copy_from_slice(p);
            n.outputs(&x)
                .iter()
                .zip(&seeds)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        GradCheck::default()
            .check(f, &p0, &g)
            .assert_below(1e-6, &format!("mlp params {:?}", cfg.output));
        let fx = |xs: &[f64]| {
            let xm = Mat::from_vec(9, d, xs.to_vec()).unwrap();
            net.outputs(&xm)
                .iter()
                .zip(&seeds)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        GradCheck::default()
            .check(fx, x.as_slice(), gx.as_slice())
            .assert_below(1e-6, &format!("mlp ∇x {:?}", cfg.output));
    }
}

#[test]
fn step_size_is_nonnegative() {
    let mut rng = Stream::new(1, 0);
    let net = Mlp::<f64>::new(2, MlpConfig::step_size(), &mut rng);
    let mut x = random(200, 2, 2);
    x.as_mut_slice().iter_mut().for_each(|v| *v *= 50.0);
    assert!(net.outputs(&x).iter().all(|&e| e >= 0.0));
}

#[test]
fn logit_bce_matches_its_definition_and_derivative() {
    let s = |l: f64| 1.0 / (1.0 + (-l).exp());
    for &l in &[-8.0, -1.3, -0.1, 0.0, 0.4, 2.5, 9.0] {
        assert!((bce_real(l) - (-s(l).ln())).abs() < 1e-12);
        assert!((bce_fake(l) - (-(1.0 - s(l)).ln())).abs() < 1e-12);
        let r = GradCheck::default().check(|p| bce_real(p[0]), &[l], &[bce_real_grad(l)]);
        r.assert_below(1e-6, "bce_real'");
        let r = GradCheck::default().check(|p| bce_fake(p[0]), &[l], &[bce_fake_grad(l)]);
        r.assert_below(1e-6, "bce_fake'");
    }
    // stable where the naive form overflows or loses everything
    assert!((bce_real(-800.0f64) - 800.0).abs() < 1e-9);
    assert!((bce_fake(800.0f64) - 800.0).abs() < 1e-9);
    assert!(bce_real(800.0f64) >= 0.0 && bce_real(800.0f64) < 1e-300);
    assert!(bce_real(-100.0f32).is_finite());
}

#[test]
fn dense_param_count_is_the_layout_of_the_mlp_and_the_lipschitz_net() {
    use monge::nn::dense::param_count;
    use monge::nn::lipschitz::{LipschitzConfig, LipschitzNet};
    let mut rng = Stream::new(9, 0);
    for (d, hidden) in [
        (1, vec![]),
        (3, vec![7, 5, 6]),
        (50, vec![64; 4]),
        (2, vec![4]),
    ] {
        let mlp = MlpConfig {
            hidden: hidden.clone(),
            ..MlpConfig::step_size()
        };
        let n = Mlp::<f64>::new(d, mlp, &mut rng).n_params();
        assert_eq!(param_count(d, &hidden, 0), Some(n), "MLP {d} {hidden:?}");
        if hidden.is_empty() {
            continue;
        }
        for (cfg, extra) in [
            (LipschitzConfig::default(), 1),
            (LipschitzConfig::bjorck(), 0),
        ] {
            let cfg = LipschitzConfig {
                hidden: hidden.clone(),
                ..cfg
            };
            let n = LipschitzNet::<f64>::new(d, cfg, &mut rng).n_params();
            assert_eq!(
                param_count(d, &hidden, extra),
                Some(n),
                "Lipschitz {d} {hidden:?}"
            );
        }
    }
    // a hostile model file's widths overflow: no count, not a panic
    assert_eq!(param_count(usize::MAX / 2, &[4], 0), None);
    assert_eq!(param_count(3, &[usize::MAX], 1), None);
}
