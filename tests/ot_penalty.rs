//! Sparsity penalties: gradients against f64 central differences, prox optimality conditions, and the
//! batch-mean convention.

use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::ot::penalty::{lambda_mean_from_sum, Penalty};
use proptest::prelude::*;

fn penalties() -> [Penalty; 4] {
    [
        Penalty::L1,
        Penalty::Stvs { gamma: 0.7 },
        Penalty::SmoothedL0 { sigma: 0.5 },
        Penalty::SmoothedL0 { sigma: 2.0 },
    ]
}

/// Coordinates bounded away from 0 (L1 and STVS have a kink there).
fn away_from_zero() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(prop_oneof![(-4.0f64..-0.01), (0.01f64..4.0)], 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn penalty_gradient_matches_finite_differences(z in away_from_zero()) {
        for p in penalties() {
            let mut g = vec![0.0; z.len()];
            p.grad(&z, &mut g);
            GradCheck::default().check(|v| p.value(v), &z, &g).assert_below(1e-6, p.name());
            // the fused form adds α∇τ and returns τ
            let mut acc = vec![1.0; z.len()];
            let val = p.value_and_add_grad(&z, 0.5, &mut acc);
            prop_assert_eq!(val, p.value(&z));
            for (a, gi) in acc.iter().zip(&g) {
                prop_assert!((a - (1.0 + 0.5 * gi)).abs() <= 1e-15);
            }
        }
    }

    #[test]
    fn l1_prox_satisfies_its_optimality_condition(v in prop::collection::vec(-3.0f64..3.0, 1..8), t in 0.0f64..2.0) {
        let mut z = vec![0.0; v.len()];
        Penalty::L1.prox(&v, t, &mut z).unwrap();
        for (&zi, &vi) in z.iter().zip(&v) {
            if zi != 0.0 {
                // z − v + t·sign(z) = 0
                prop_assert!((zi - vi + t * zi.signum()).abs() <= 1e-12);
            } else {
                // 0 ∈ −v + t·[−1, 1]
                prop_assert!(vi.abs() <= t + 1e-12);
            }
        }
    }

    #[test]
    fn stvs_prox_satisfies_its_optimality_condition(v in prop::collection::vec(-5.0f64..5.0, 1..8), gamma in 0.1f64..2.0) {
        let p = Penalty::Stvs { gamma };
        let mut z = vec![0.0; v.len()];
        p.prox(&v, 1.0, &mut z).unwrap();
        for (&zi, &vi) in z.iter().zip(&v) {
            if zi != 0.0 {
                // z − v + φ'(z) = 0
                let r = zi - vi + p.dphi(zi);
                prop_assert!(r.abs() <= 1e-10 * (1.0 + vi.abs()), "residual {r}");
            } else {
                // 0 ∈ −v + [−γ, γ] (the subdifferential of φ at 0)
                prop_assert!(vi.abs() <= gamma + 1e-12);
            }
            // and z is the global minimiser of ½(z − v)² + φ(z) on a fine grid
            let obj = |y: f64| 0.5 * (y - vi) * (y - vi) + p.phi(y);
            let best = (-6000..=6000).map(|k| obj(k as f64 * 1e-3)).fold(f64::INFINITY, f64::min);
            prop_assert!(obj(zi) <= best + 1e-9);
        }
    }
}

#[test]
fn penalties_vanish_at_zero_displacement() {
    for p in penalties() {
        assert_eq!(p.value(&[0.0f64; 5]), 0.0, "{}", p.name());
        let mut g = [1.0f64; 5];
        p.grad(&[0.0f64; 5], &mut g);
        assert!(g.iter().all(|&v| v == 0.0), "{}", p.name());
    }
}

#[test]
fn smoothed_l0_counts_large_coordinates() {
    // φ → 1 for |z| ≫ σ and → 0 for |z| ≪ σ: τ approaches the count of moved coordinates
    let p = Penalty::SmoothedL0 { sigma: 0.01 };
    let z = [5.0f64, -3.0, 1e-5, 0.0, 2.0];
    assert!((p.value(&z) - 3.0).abs() < 1e-5);
}

#[test]
fn stvs_matches_its_closed_form() {
    let gamma = 0.7f64;
    let p = Penalty::Stvs { gamma };
    for &z in &[-2.0f64, -0.3, 0.05, 1.0, 3.5] {
        let u = (z.abs() / (2.0 * gamma)).asinh();
        let want = gamma * gamma * (u + 0.5 - 0.5 * (-2.0 * u).exp());
        assert!((p.phi(z) - want).abs() <= 1e-15);
    }
}

#[test]
fn prox_without_closed_form_is_an_error() {
    let mut out = [0.0f64; 2];
    assert!(Penalty::SmoothedL0 { sigma: 1.0 }
        .prox(&[1.0, 2.0], 1.0, &mut out)
        .is_err());
    assert!(Penalty::Stvs { gamma: 1.0 }
        .prox(&[1.0, 2.0], 0.5, &mut out)
        .is_err());
}

#[test]
fn batch_mean_is_the_mean_of_per_sample_sums() {
    let d = Mat::from_fn(4, 3, |i, j| (i as f64 - 1.5) * (j as f64 + 1.0));
    let p = Penalty::L1;
    let want: f64 = (0..4).map(|i| p.value(d.row(i))).sum::<f64>() / 4.0;
    assert!((p.batch_mean(d.view()) - want).abs() < 1e-15);
    assert_eq!(lambda_mean_from_sum(5e-4, 256), 5e-4 * 256.0);
}

#[test]
fn invalid_parameters_are_rejected() {
    assert!(Penalty::Stvs { gamma: 0.0 }.validate().is_err());
    assert!(Penalty::SmoothedL0 { sigma: f64::NAN }.validate().is_err());
    assert!(Penalty::L1.validate().is_ok());
}
