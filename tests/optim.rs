//! Optimisers replayed against the PyTorch update rules written out by hand, to 1e-12 in f64.

use monge::nn::{Adam, AdamConfig, LrSchedule, Sgd};

/// PyTorch's Adam written out independently (one scalar parameter), in the order of `torch.optim.Adam`'s
/// single-tensor path.
fn adam_reference(
    theta0: f64,
    grads: &[f64],
    lr: f64,
    b1: f64,
    b2: f64,
    eps: f64,
    wd: f64,
) -> Vec<f64> {
    let (mut th, mut m, mut v) = (theta0, 0.0f64, 0.0f64);
    let mut out = vec![];
    for (t, &g0) in grads.iter().enumerate() {
        let t = (t + 1) as f64;
        let g = g0 + wd * th;
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g * g;
        let bc1 = 1.0 - b1.powf(t);
        let bc2 = 1.0 - b2.powf(t);
        th -= lr / bc1 * m / (v.sqrt() / bc2.sqrt() + eps);
        out.push(th);
    }
    out
}

#[test]
fn adam_matches_pytorch_rule() {
    // the W2 settings (β = (0.5, 0.9)) and PyTorch's defaults, with and without weight decay
    let grads = [0.3, -1.2, 0.05, 2.0, -0.7, 0.0, 1e-3];
    for &(b1, b2, wd) in &[(0.5, 0.9, 0.0), (0.9, 0.999, 0.0), (0.9, 0.999, 0.01)] {
        let cfg = AdamConfig {
            beta1: b1,
            beta2: b2,
            eps: 1e-8,
            weight_decay: wd,
        };
        let mut opt = Adam::<f64>::new(2, cfg);
        let mut p = [0.4, -2.0];
        let want0 = adam_reference(0.4, &grads, 1e-2, b1, b2, 1e-8, wd);
        let want1 = adam_reference(-2.0, &grads.map(|g| -2.0 * g), 1e-2, b1, b2, 1e-8, wd);
        for (t, &g) in grads.iter().enumerate() {
            opt.step(&mut p, &[g, -2.0 * g], 1e-2);
            assert!(
                (p[0] - want0[t]).abs() <= 1e-12,
                "step {t}: {} vs {}",
                p[0],
                want0[t]
            );
            assert!(
                (p[1] - want1[t]).abs() <= 1e-12,
                "step {t}: {} vs {}",
                p[1],
                want1[t]
            );
        }
    }
}

#[test]
fn adam_first_step_moves_by_lr_times_sign() {
    // with bias correction, step 1 is −lr·g/(|g| + ε·…) ≈ −lr·sign(g)
    let mut opt = Adam::<f64>::new(3, AdamConfig::default());
    let mut p = [1.0, 1.0, 1.0];
    opt.step(&mut p, &[5.0, -0.01, 0.0], 0.1);
    assert!((p[0] - 0.9).abs() < 1e-8);
    assert!((p[1] - 1.1).abs() < 1e-5);
    assert_eq!(p[2], 1.0);
}

#[test]
fn sgd_with_momentum_matches_pytorch_rule() {
    let grads = [1.0, 0.5, -0.25, 2.0];
    let (lr, mu, wd) = (0.1, 0.9, 0.05);
    let mut opt = Sgd::<f64>::new(1, mu, wd);
    let mut p = [1.0];
    let (mut th, mut buf) = (1.0f64, 0.0f64);
    for (t, &g0) in grads.iter().enumerate() {
        let g = g0 + wd * th;
        buf = if t == 0 { g } else { mu * buf + g };
        th -= lr * buf;
        opt.step(&mut p, &[g0], lr);
        assert!((p[0] - th).abs() <= 1e-12);
    }
    // plain SGD
    let mut opt = Sgd::<f64>::new(1, 0.0, 0.0);
    let mut p = [3.0];
    opt.step(&mut p, &[2.0], 0.25);
    assert_eq!(p[0], 2.5);
}

#[test]
fn cosine_schedule_hits_its_endpoints_and_midpoint() {
    let s = LrSchedule::Cosine {
        lr0: 1e-2,
        lr_min: 1e-4,
        total: 10_000,
    };
    assert!((s.at(0) - 1e-2).abs() < 1e-15);
    assert!((s.at(5_000) - (1e-4 + 0.5 * (1e-2 - 1e-4))).abs() < 1e-15);
    assert!((s.at(10_000) - 1e-4).abs() < 1e-15);
    assert!((s.at(20_000) - 1e-4).abs() < 1e-15);
    // η_t = η_min + ½(η₀ − η_min)(1 + cos(π t/T)) at t = T/4
    let want = 1e-4 + 0.5 * (1e-2 - 1e-4) * (1.0 + (std::f64::consts::PI / 4.0).cos());
    assert!((s.at(2_500) - want).abs() < 1e-15);
    assert_eq!(LrSchedule::Constant(3e-4).at(123), 3e-4);
}

#[test]
fn adam_parameter_groups_follow_the_rule_with_their_own_rates() {
    // head [0, 3) at lr 1e-2, tail [3, 5) at lr 1e-3: each coordinate replays the PyTorch rule with its
    // group's rate (one shared step count), and lr_tail = lr gives `step`'s bits exactly
    let grads: [[f64; 5]; 3] = [
        [0.3, -1.2, 0.05, 2.0, -0.7],
        [0.1, 0.4, -0.2, -1.0, 0.3],
        [-0.5, 0.2, 0.9, 0.6, -0.1],
    ];
    let cfg = AdamConfig::default();
    let (mut split, mut whole, mut same) =
        (Adam::new(5, cfg), Adam::new(5, cfg), Adam::new(5, cfg));
    let (mut p, mut q, mut r) = ([1.0f64; 5], [1.0f64; 5], [1.0f64; 5]);
    for g in &grads {
        split.step_split(&mut p, g, 1e-2, 3, 1e-3);
        whole.step(&mut q, g, 1e-2);
        same.step_split(&mut r, g, 1e-2, 3, 1e-2);
    }
    assert_eq!(q, r, "lr_tail = lr differs from step");
    for j in 0..5 {
        let lr = if j < 3 { 1e-2 } else { 1e-3 };
        let gj: Vec<f64> = grads.iter().map(|g| g[j]).collect();
        let want = adam_reference(1.0, &gj, lr, cfg.beta1, cfg.beta2, cfg.eps, 0.0);
        assert!(
            (p[j] - want[2]).abs() < 1e-12,
            "coordinate {j}: {} vs {}",
            p[j],
            want[2]
        );
    }
}
