//! Entropic elastic-cost Sinkhorn map (SPEC §3.5, §7.2): against an independent scaling-form Sinkhorn,
//! the map against finite differences of the entropic potential, the prox closed forms against their
//! optimality conditions, and sparsity of the L1 map.

use monge::gradcheck::{numeric_gradient, GradCheck};
use monge::linalg::Mat;
use monge::metrics::displacement_dim;
use monge::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use monge::ot::TransportMap;
use monge::parallel::Pool;
use monge::random::Stream;
use proptest::prelude::*;

fn gaussian(n: usize, d: usize, shift: &[f64], seed: u64) -> Mat<f64> {
    let mut s = Stream::new(seed, 8);
    Mat::from_fn(n, d, |_, j| {
        shift.get(j).copied().unwrap_or(0.0) + s.normal_f64()
    })
}

/// Independent reference: scaling-form Sinkhorn (u, v) on the Gibbs kernel, f64, many iterations.
/// Returns v (column scalings, with P = diag(u) K diag(v)) and the plan.
fn reference_sinkhorn(
    cost: &ElasticCost,
    x: &Mat<f64>,
    y: &Mat<f64>,
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (n, m) = (x.rows(), y.rows());
    let mut k = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            let z: Vec<f64> = x.row(i).iter().zip(y.row(j)).map(|(a, b)| a - b).collect();
            k[i * m + j] = (-cost.h(&z) / eps).exp();
        }
    }
    let (a, b) = (1.0 / n as f64, 1.0 / m as f64);
    let mut u = vec![1.0; n];
    let mut v = vec![1.0; m];
    for _ in 0..5000 {
        for i in 0..n {
            u[i] = a / (0..m).map(|j| k[i * m + j] * v[j]).sum::<f64>();
        }
        for j in 0..m {
            v[j] = b / (0..n).map(|i| k[i * m + j] * u[i]).sum::<f64>();
        }
    }
    let plan = (0..n * m).map(|ij| u[ij / m] * k[ij] * v[ij % m]).collect();
    (v, plan)
}

fn cfg(cost: ElasticCost, eps: f64) -> SinkhornConfig {
    SinkhornConfig {
        cost,
        epsilon: Some(eps),
        tol: 1e-11,
        max_iter: 20_000,
        ..SinkhornConfig::default()
    }
}

#[test]
fn squared_cost_map_is_the_barycentric_projection() {
    let x = gaussian(30, 3, &[], 1);
    let y = gaussian(40, 3, &[1.0, -0.5], 2);
    let eps = 0.5;
    let map =
        ElasticSinkhornMap::fit(x.view(), y.view(), &cfg(ElasticCost::SqEuclidean, eps)).unwrap();
    assert!(map.report().unwrap().converged);
    let (v, plan) = reference_sinkhorn(&ElasticCost::SqEuclidean, &x, &y, eps);
    // Training points: T(x_i) = Σ_j P_ij y_j / a_i.
    let tx = map.transport(&x);
    for i in 0..30 {
        for c in 0..3 {
            let bary: f64 = (0..40).map(|j| plan[i * 40 + j] * y.get(j, c)).sum::<f64>() * 30.0;
            assert!(
                (tx.get(i, c) - bary).abs() < 1e-8,
                "row {i}: {} vs {bary}",
                tx.get(i, c)
            );
        }
    }
    // New points: T(x) = Σ_j p_j(x) y_j with p_j ∝ v_j exp(−½‖x − y_j‖²/ε).
    let xn = gaussian(10, 3, &[0.3], 3);
    let txn = map.transport(&xn);
    for i in 0..10 {
        let w: Vec<f64> = (0..40)
            .map(|j| {
                let d2: f64 = (0..3).map(|c| (xn.get(i, c) - y.get(j, c)).powi(2)).sum();
                v[j] * (-0.5 * d2 / eps).exp()
            })
            .collect();
        let tot: f64 = w.iter().sum();
        for c in 0..3 {
            let want: f64 = (0..40).map(|j| w[j] * y.get(j, c)).sum::<f64>() / tot;
            assert!((txn.get(i, c) - want).abs() < 1e-8);
        }
    }
}

#[test]
fn sinkhorn_potential_matches_the_reference_for_elastic_costs() {
    // g from the log-domain solver equals ε ln(v_j / b_j) of the scaling form up to one additive constant.
    let x = gaussian(25, 4, &[], 4);
    let y = gaussian(35, 4, &[2.0], 5);
    for cost in [
        ElasticCost::L1 { gamma: 0.7 },
        ElasticCost::Stvs { gamma: 0.5 },
    ] {
        let eps = 1.0;
        let map = ElasticSinkhornMap::fit(x.view(), y.view(), &cfg(cost, eps)).unwrap();
        let (v, _) = reference_sinkhorn(&cost, &x, &y, eps);
        let g = map.potential_g();
        let shift = g[0] - eps * (v[0] * 35.0).ln();
        for j in 0..35 {
            let want = eps * (v[j] * 35.0).ln() + shift;
            assert!(
                (g[j] - want).abs() < 1e-8,
                "{cost:?} j={j}: {} vs {want}",
                g[j]
            );
        }
    }
}

/// f_ε(x) = −ε ln Σ_j b_j exp((g_j − h(x − y_j))/ε), from the fitted potential.
fn entropic_potential(map: &ElasticSinkhornMap<f64>, y: &Mat<f64>, x: &[f64]) -> f64 {
    let (eps, g) = (map.epsilon(), map.potential_g());
    let logits: Vec<f64> = (0..y.rows())
        .map(|j| {
            let z: Vec<f64> = x.iter().zip(y.row(j)).map(|(a, b)| a - b).collect();
            (g[j] - map.cost().h(&z)) / eps
        })
        .collect();
    let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = logits.iter().map(|l| (l - mx).exp()).sum::<f64>() / y.rows() as f64;
    -eps * (mx + s.ln())
}

#[test]
fn elastic_map_inverts_the_gradient_of_the_entropic_potential() {
    // T(x) = x − prox(∇f_ε(x)) ⇔ for every coordinate: ∇h(x − T(x))_k = ∂_k f_ε(x) where the displacement
    // is non-zero, and |∂_k f_ε(x)| ≤ γ where it is zero (the prox's dead zone, both L1 and STVS).
    let x = gaussian(20, 5, &[], 6);
    let y = gaussian(30, 5, &[3.0, 0.0, -2.0], 7);
    for cost in [
        ElasticCost::SqEuclidean,
        ElasticCost::L1 { gamma: 0.8 },
        ElasticCost::Stvs { gamma: 0.6 },
    ] {
        let map = ElasticSinkhornMap::fit(x.view(), y.view(), &cfg(cost, 2.0)).unwrap();
        let xn = gaussian(6, 5, &[0.5, 0.5], 8);
        let txn = map.transport(&xn);
        let mut zeros = 0;
        for i in 0..6 {
            let xi = xn.row(i);
            let fd = numeric_gradient(|p| entropic_potential(&map, &y, p), xi, 1e-5);
            let disp: Vec<f64> = (0..5).map(|k| xi[k] - txn.get(i, k)).collect();
            let mut gh = vec![0.0; 5];
            cost.grad_h(&disp, &mut gh);
            for k in 0..5 {
                if disp[k] == 0.0 {
                    zeros += 1;
                    assert!(
                        fd[k].abs() <= cost.gamma() + 1e-7,
                        "{cost:?}: dead-zone coordinate {}",
                        fd[k]
                    );
                } else {
                    let rel = (gh[k] - fd[k]).abs() / fd[k].abs().max(1e-3);
                    assert!(
                        rel < 1e-6,
                        "{cost:?} point {i} coord {k}: ∇h {} vs FD {}",
                        gh[k],
                        fd[k]
                    );
                }
            }
        }
        if !matches!(cost, ElasticCost::SqEuclidean) {
            assert!(
                zeros > 0,
                "{cost:?}: no coordinate in the dead zone, the test is vacuous"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn l1_prox_satisfies_its_optimality_condition(v in prop::collection::vec(-5.0f64..5.0, 1..8), gamma in 0.0f64..3.0) {
        // z = prox(v) ⇔ v − z ∈ γ ∂|z|: v − z = γ sign(z) if z ≠ 0, |v| ≤ γ if z = 0.
        let cost = ElasticCost::L1 { gamma };
        let mut z = vec![0.0; v.len()];
        cost.prox(&v, &mut z);
        for (&vk, &zk) in v.iter().zip(&z) {
            if zk == 0.0 {
                prop_assert!(vk.abs() <= gamma);
            } else {
                prop_assert!((vk - zk - gamma * zk.signum()).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn stvs_prox_satisfies_its_optimality_condition(v in prop::collection::vec(-5.0f64..5.0, 1..8), gamma in 0.05f64..3.0) {
        // z = prox(v) ⇔ v − z ∈ ∂φ(z): v − z = φ'(z) if z ≠ 0, |v| ≤ γ if z = 0 (∂φ(0) = [−γ, γ]).
        let cost = ElasticCost::Stvs { gamma };
        let mut z = vec![0.0; v.len()];
        cost.prox(&v, &mut z);
        let mut dh = vec![0.0; v.len()];
        cost.grad_h(&z, &mut dh); // z + φ'(z)
        for k in 0..v.len() {
            if z[k] == 0.0 {
                prop_assert!(v[k].abs() <= gamma);
            } else {
                prop_assert!((dh[k] - v[k]).abs() < 1e-12 * v[k].abs().max(1.0), "∇h(prox v) = {} ≠ v = {}", dh[k], v[k]);
            }
        }
        // The prox is the minimiser of ½(z − v)² + φ(z): no grid point does better.
        for k in 0..v.len() {
            let obj = |t: f64| 0.5 * (t - v[k]).powi(2) + cost.h(&[t]) - 0.5 * t * t;
            let best = obj(z[k]);
            for s in 0..=400 {
                let t = -6.0 + 0.03 * s as f64;
                prop_assert!(obj(t) >= best - 1e-12);
            }
        }
    }

    #[test]
    fn prox_inverts_the_cost_gradient(z in prop::collection::vec(-4.0f64..4.0, 1..8), gamma in 0.05f64..2.0) {
        // prox_{γτ} = (∇h)⁻¹: prox(∇h(z)) = z for every z (∇h uses the subgradient 0 at 0).
        for cost in [ElasticCost::L1 { gamma }, ElasticCost::Stvs { gamma }] {
            let mut w = vec![0.0; z.len()];
            cost.grad_h(&z, &mut w);
            let mut back = vec![0.0; z.len()];
            cost.prox(&w, &mut back);
            for k in 0..z.len() {
                prop_assert!((back[k] - z[k]).abs() < 1e-12 * z[k].abs().max(1.0), "{cost:?}: {} vs {}", back[k], z[k]);
            }
        }
    }
}

#[test]
fn elastic_cost_gradient_matches_finite_differences() {
    let z = [0.7, -1.3, 2.5, -0.2, 4.0, 0.05];
    for cost in [
        ElasticCost::SqEuclidean,
        ElasticCost::L1 { gamma: 0.9 },
        ElasticCost::Stvs { gamma: 0.4 },
        ElasticCost::Stvs { gamma: 3.0 },
    ] {
        let mut g = vec![0.0; z.len()];
        cost.grad_h(&z, &mut g);
        GradCheck::default()
            .check(|p| cost.h(p), &z, &g)
            .assert_below(1e-6, &format!("∇h of {cost:?}"));
    }
}

#[test]
fn elastic_l1_map_moves_about_the_shifted_coordinates() {
    // μ = N(0, I₂₀), ν = N(s, I₂₀) with s = 4 on coordinates 0 and 1 only. The population h-optimal map is
    // x ↦ x + s (translations are optimal for any convex translation-invariant cost), which moves 2
    // coordinates; the prox of the L1 elastic map zeroes the entropic finite-sample noise elsewhere when
    // it stays inside the dead zone |∇f_ε(x)_k| ≤ γ, which needs γ large against the noise of E_p[x − y]
    // (measured at this seed and default ε: mean dim 6.2 at γ = 2, 3.5 at γ = 8, 2.6 at γ = 32).
    let shift = [4.0, 4.0];
    let x = gaussian(256, 20, &[], 9).cast::<f32>();
    let y = gaussian(256, 20, &shift, 10).cast::<f32>();
    let conf = SinkhornConfig {
        cost: ElasticCost::L1 { gamma: 32.0 },
        ..SinkhornConfig::default()
    };
    let map = ElasticSinkhornMap::fit(x.view(), y.view(), &conf).unwrap();
    assert!(map.report().unwrap().converged);
    let xn = gaussian(200, 20, &[], 11).cast::<f32>();
    let txn = map.transport(&xn);
    let (mean_dim, _) = displacement_dim(xn.view(), txn.view(), 0.0);
    assert!(
        mean_dim <= 3.0,
        "mean number of moved coordinates {mean_dim}"
    );
    // ... and the two shifted coordinates do move, by about the shift.
    for c in 0..2 {
        let mean_disp: f64 = (0..200)
            .map(|i| (txn.get(i, c) - xn.get(i, c)) as f64)
            .sum::<f64>()
            / 200.0;
        assert!(
            (mean_disp - 4.0).abs() < 1.0,
            "coordinate {c}: mean displacement {mean_disp}"
        );
    }
    // Without the elastic term every coordinate moves.
    let plain = SinkhornConfig {
        cost: ElasticCost::SqEuclidean,
        ..SinkhornConfig::default()
    };
    let map0 = ElasticSinkhornMap::fit(x.view(), y.view(), &plain).unwrap();
    let (dim0, _) = displacement_dim(xn.view(), map0.transport(&xn).view(), 0.0);
    assert!(dim0 > 19.0, "squared-cost map moves {dim0} coordinates");
}

#[test]
fn sinkhorn_map_is_thread_count_invariant_and_round_trips() {
    let x = gaussian(150, 7, &[], 12).cast::<f32>();
    let y = gaussian(130, 7, &[1.0], 13).cast::<f32>();
    let mut c = SinkhornConfig {
        cost: ElasticCost::Stvs { gamma: 0.5 },
        threads: 1,
        ..SinkhornConfig::default()
    };
    let m1 = ElasticSinkhornMap::fit(x.view(), y.view(), &c).unwrap();
    c.threads = 3;
    let m3 = ElasticSinkhornMap::fit(x.view(), y.view(), &c).unwrap();
    assert_eq!(m1.potential_g(), m3.potential_g());
    let t1 = m1.transport(&x);
    assert_eq!(t1, m3.transport_on(&x, &mut Pool::new(3)));
    let saved = m1.to_saved();
    assert_eq!(saved.method, "sinkhorn");
    let back = ElasticSinkhornMap::<f32>::from_saved(&saved).unwrap();
    // The f64 potential is stored exactly (g_bits), so the reloaded map is the same map, bit for bit.
    assert_eq!(back.potential_g(), m1.potential_g());
    assert_eq!(back.transport(&x), t1);
    let mut bad = saved.clone();
    bad.tensors[1].1 = vec![3];
    assert!(ElasticSinkhornMap::<f32>::from_saved(&bad).is_err());
}

#[test]
fn saved_f32_sinkhorn_map_reloads_to_the_same_bits_and_the_rounded_potential_would_not() {
    // Without g_bits the potential is g rounded to f32; the map then moves (this is what the exact
    // encoding prevents, so the equality above is not vacuous).
    let x = gaussian(90, 5, &[], 21).cast::<f32>();
    let y = gaussian(80, 5, &[2.0], 22).cast::<f32>();
    for cost in [ElasticCost::SqEuclidean, ElasticCost::L1 { gamma: 0.3 }] {
        let c = SinkhornConfig {
            cost,
            ..SinkhornConfig::default()
        };
        let map = ElasticSinkhornMap::fit(x.view(), y.view(), &c).unwrap();
        let saved = map.to_saved();
        let back = ElasticSinkhornMap::<f32>::from_saved(&saved).unwrap();
        assert_eq!(back.transport(&x), map.transport(&x), "{cost:?}");
        let mut rounded = saved.clone();
        rounded.tensors.retain(|(n, _, _)| n != "g_bits");
        let lossy = ElasticSinkhornMap::<f32>::from_saved(&rounded).unwrap();
        assert_ne!(lossy.potential_g(), map.potential_g(), "{cost:?}");
        assert_ne!(lossy.transport(&x), map.transport(&x), "{cost:?}");
    }
    // f64 models store g itself.
    let (x, y) = (x.cast::<f64>(), y.cast::<f64>());
    let map = ElasticSinkhornMap::fit(x.view(), y.view(), &SinkhornConfig::default()).unwrap();
    let saved = map.to_saved();
    assert!(saved.tensor("g_bits").is_none());
    let back = ElasticSinkhornMap::<f64>::from_saved(&saved).unwrap();
    assert_eq!(back.transport(&x), map.transport(&x));
}

#[test]
fn sinkhorn_from_saved_rejects_hostile_contents() {
    let x = gaussian(20, 3, &[], 23).cast::<f32>();
    let map = ElasticSinkhornMap::fit(x.view(), x.view(), &SinkhornConfig::default()).unwrap();
    let saved = map.to_saved();
    assert!(ElasticSinkhornMap::<f32>::from_saved(&saved).is_ok());
    let with = |f: &dyn Fn(&mut monge::ot::SavedModel<f32>)| {
        let mut s = saved.clone();
        f(&mut s);
        ElasticSinkhornMap::<f32>::from_saved(&s)
    };
    let set_hyper = |k: &'static str, v: &'static str| {
        move |s: &mut monge::ot::SavedModel<f32>| {
            s.hyper.iter_mut().find(|(key, _)| key == k).unwrap().1 = v.into();
        }
    };
    for (k, v) in [
        ("epsilon", "NaN"),
        ("epsilon", "inf"),
        ("epsilon", "0.0"),
        ("gamma", "inf"),
        ("gamma", "NaN"),
        ("gamma", "-1.0"),
        ("cost", "l2"),
    ] {
        assert!(with(&set_hyper(k, v)).is_err(), "{k} = {v}");
    }
    // A shape whose product overflows, or that claims more values than present: refused before
    // anything is allocated.
    assert!(with(&|s| s.tensors[0].1 = vec![usize::MAX / 2, 3]).is_err());
    assert!(with(&|s| s.tensors[0].1 = vec![21, 3]).is_err());
    assert!(with(&|s| s.tensors[0].1 = vec![60, 1]).is_err());
    assert!(with(&|s| s.dim = 0).is_err());
    assert!(with(&|s| s.tensors[0].2[4] = f32::NAN).is_err());
    assert!(with(&|s| s.tensors[1].2[2] = f32::INFINITY).is_err());
    assert!(with(&|s| s.tensors.retain(|(n, _, _)| n != "g")).is_err());
    // g_bits: wrong shape, not 16-bit integers, or bits that do not round to the stored g.
    assert!(with(&|s| s.tensors[2].1 = vec![20, 3]).is_err());
    assert!(with(&|s| s.tensors[2].2[5] = 0.5).is_err());
    assert!(with(&|s| s.tensors[2].2[5] = 65536.0).is_err());
    assert!(with(&|s| s.tensors[2].2[5] = -1.0).is_err());
    assert!(with(&|s| s.tensors[2].2[0] = (s.tensors[2].2[0] + 1.0) % 65536.0).is_err());
    // all-ones bits: a NaN potential
    assert!(with(&|s| s.tensors[2].2[..4].fill(65535.0)).is_err());
}

#[test]
fn stvs_elastic_cost_is_the_stvs_penalty() {
    // One implementation: h(z) = ½‖z‖² + τ_γ(z) with τ_γ the penalty module's STVS, to the bit.
    let z = [0.3f64, -2.0, 1e-7, 0.0, 40.0];
    for gamma in [0.2, 1.0, 7.0] {
        let tau = monge::ot::penalty::Penalty::Stvs { gamma }.value(&z);
        let sq = 0.5 * z.iter().map(|v| v * v).sum::<f64>();
        assert_eq!(ElasticCost::Stvs { gamma }.h(&z), sq + tau);
    }
}

#[test]
fn sinkhorn_rejects_bad_input() {
    let zero_threads = SinkhornConfig {
        threads: 0,
        ..SinkhornConfig::default()
    };
    let w = gaussian(10, 3, &[], 17);
    assert!(ElasticSinkhornMap::fit(w.view(), w.view(), &zero_threads).is_err());
    let x = gaussian(10, 3, &[], 14);
    let y = gaussian(10, 4, &[], 15);
    assert!(ElasticSinkhornMap::fit(x.view(), y.view(), &SinkhornConfig::default()).is_err());
    let mut z = gaussian(10, 3, &[], 16);
    z.set(3, 1, f64::NAN);
    assert!(ElasticSinkhornMap::fit(x.view(), z.view(), &SinkhornConfig::default()).is_err());
    let neg = SinkhornConfig {
        cost: ElasticCost::Stvs { gamma: 0.0 },
        ..SinkhornConfig::default()
    };
    assert!(ElasticSinkhornMap::fit(x.view(), x.view(), &neg).is_err());
}
