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

/// φ of STVS in f64 by the textbook form with the cancellation removed by expm1 (an evaluation
/// independent of the one in `src/`): `γ² (u − ½·expm1(−2u))`, `u = asinh(|z|/(2γ))`.
fn stvs_reference(z: f64, gamma: f64) -> f64 {
    let u = (z.abs() / (2.0 * gamma)).asinh();
    gamma * gamma * (u - 0.5 * (-2.0 * u).exp_m1())
}

#[test]
fn stvs_matches_its_closed_form() {
    let gamma = 0.7f64;
    let p = Penalty::Stvs { gamma };
    for &z in &[-2.0f64, -0.3, 0.05, 1.0, 3.5, 1e-9, -1e-300, 1e6] {
        let want = stvs_reference(z, gamma);
        assert!(
            (p.phi(z) - want).abs() <= 4.0 * f64::EPSILON * want,
            "z = {z}: {} vs {want}",
            p.phi(z)
        );
    }
    assert_eq!(p.phi(0.0f64), 0.0);
}

#[test]
fn stvs_is_accurate_in_f32_for_small_displacements() {
    // φ(z) ≈ 2γ²·s for small s = |z|/(2γ): the form γ²(u + ½ − ½e^{−2u}) evaluated in f32 loses the
    // second half of that (½ − ½e^{−2u} has an absolute error of ~3e-8, so a relative error of 3e-4 at
    // s = 1e-4 and 50 % or more below s = 3e-8: measured worst 1.0). The stable form is about six
    // roundings of at most ½ ulp each in f32 (γ², 1/(2γ), s, r, the quotient, ln_1p and the sum): the bound
    // is 4 ε_f32 (measured worst 1.8e-7 = 1.6 ε_f32), against the f64 reference on the f32 inputs.
    let mut worst = (0.0f64, 0.0f64);
    for gamma in [0.7f64, 1.0, 100.0] {
        let p = Penalty::Stvs { gamma };
        for k in -120..=40 {
            let z = (2.0 * gamma * 10f64.powf(k as f64 / 10.0)) as f32;
            for z in [z, -z] {
                let want = stvs_reference(z as f64, gamma);
                let rel = (p.phi(z) as f64 - want).abs() / want;
                if rel > worst.0 {
                    worst = (rel, z as f64);
                }
                // φ' = sign(z)·γ/(r + s) has no cancellation; it is checked at the same shapes.
                let s = (z as f64).abs() / (2.0 * gamma);
                let dwant = (z as f64).signum() * gamma / ((1.0 + s * s).sqrt() + s);
                let drel = (p.dphi(z) as f64 - dwant).abs() / dwant.abs();
                assert!(
                    drel <= 8.0 * f32::EPSILON as f64,
                    "φ'({z}) at γ = {gamma}: {drel}"
                );
            }
        }
    }
    assert!(
        worst.0 <= 4.0 * f32::EPSILON as f64,
        "worst relative error of φ in f32: {:e} at z = {:e}",
        worst.0,
        worst.1
    );
}

#[test]
fn displacement_sum_is_the_sum_of_per_row_penalties_in_f64() {
    let x = Mat::from_fn(5, 3, |i, j| (i as f32 - 2.0) * 0.3 + j as f32);
    let t = Mat::from_fn(5, 3, |i, j| (i as f32) * 0.1 - (j as f32) * 0.7);
    for p in penalties() {
        let want: f64 = (0..5)
            .map(|i| {
                let d: Vec<f64> = (0..3)
                    .map(|j| t.get(i, j) as f64 - x.get(i, j) as f64)
                    .collect();
                p.value(&d)
            })
            .sum();
        let got = p.displacement_sum(x.view(), t.view());
        assert!((got - want).abs() <= 1e-14 * want.abs(), "{}", p.name());
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

#[test]
fn fused_displacement_kernel_matches_value_and_gradient() {
    let x = [0.3f64, -1.2, 2.0, 0.0, 0.7];
    let t = [0.5f64, -1.0, -0.4, 0.05, 0.7];
    let delta: Vec<f64> = t.iter().zip(&x).map(|(a, b)| a - b).collect();
    for p in penalties() {
        let mut out = vec![0.25; 5];
        let tau = p.add_displacement_grad(&x, &t, 0.6, &mut out);
        assert!((tau - p.value(&delta)).abs() <= 1e-14, "{}", p.name());
        let mut g = vec![0.0; 5];
        p.grad(&delta, &mut g);
        for (o, gi) in out.iter().zip(&g) {
            assert!((o - (0.25 + 0.6 * gi)).abs() <= 1e-14, "{}", p.name());
        }
    }
}
