//! The closed-form Gaussian W2 map (`ot::gaussian`, issue 13): the defining identities `AΣ_μA = Σ_ν`,
//! symmetry and A⁻¹, the commuting closed form, the estimate from samples, the rank-deficient case, and
//! the potentials' gradients at the initialisation.

use monge::linalg::Mat;
use monge::nn::icnn::{Icnn, IcnnConfig};
use monge::ot::gaussian::{init_potentials, GaussianMap};
use monge::random::Stream;
use nalgebra::DMatrix;

fn spd(d: usize, rng: &mut Stream, shift: f64) -> DMatrix<f64> {
    let g = DMatrix::from_fn(d, d, |_, _| rng.normal_f64());
    &g * g.transpose() / d as f64 + DMatrix::identity(d, d) * shift
}

fn max_abs(m: &DMatrix<f64>) -> f64 {
    m.iter().fold(0.0f64, |a, &v| a.max(v.abs()))
}

#[test]
fn map_satisfies_a_sigma_a_equals_sigma_target() {
    let mut rng = Stream::new(1, 0);
    let d = 6;
    let (s0, s1) = (spd(d, &mut rng, 0.2), spd(d, &mut rng, 0.1));
    let m = GaussianMap::from_moments(vec![0.0; d], &s0, vec![1.0; d], &s1);
    let resid = &m.a * &s0 * &m.a - &s1;
    assert!(max_abs(&resid) < 1e-10, "AΣ_μA − Σ_ν = {}", max_abs(&resid));
    assert!(
        max_abs(&(&m.a - m.a.transpose())) < 1e-12,
        "A not symmetric"
    );
    let e = nalgebra::SymmetricEigen::new(m.a.clone());
    assert!(
        e.eigenvalues.iter().all(|&v| v > 0.0),
        "A not positive definite"
    );
    let id = &m.a * &m.a_inv - DMatrix::identity(d, d);
    assert!(max_abs(&id) < 1e-10, "A A⁻¹ − I = {}", max_abs(&id));
}

#[test]
fn commuting_covariances_give_the_ratio_of_standard_deviations() {
    // Σ_μ = diag(4, 1, 0.25), Σ_ν = diag(1, 9, 1): A = diag(σ_ν/σ_μ) = diag(0.5, 3, 2)
    let s0 = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![4.0, 1.0, 0.25]));
    let s1 = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![1.0, 9.0, 1.0]));
    let m = GaussianMap::from_moments(vec![1.0, 2.0, 3.0], &s0, vec![0.0, -1.0, 5.0], &s1);
    let want = [0.5, 3.0, 2.0];
    for (i, &wi) in want.iter().enumerate() {
        for j in 0..3 {
            let w = if i == j { wi } else { 0.0 };
            assert!(
                (m.a[(i, j)] - w).abs() < 1e-12,
                "A[{i},{j}] = {}",
                m.a[(i, j)]
            );
        }
    }
    // T(m_μ) = m_ν; T(x) = m_ν + A(x − m_μ)
    let x = Mat::from_vec(2, 3, vec![1.0, 2.0, 3.0, 2.0, 2.0, 2.0]).unwrap();
    let t: Mat<f64> = m.transport(x.view());
    assert_eq!(t.row(0), &[0.0, -1.0, 5.0]);
    assert!((t.get(1, 0) - 0.5).abs() < 1e-12 && (t.get(1, 2) - 3.0).abs() < 1e-12);
}

#[test]
fn estimate_from_samples_converges_to_the_closed_form() {
    let mut rng = Stream::new(3, 0);
    let d = 4;
    let (l0, l1) = (spd(d, &mut rng, 0.3), spd(d, &mut rng, 0.3));
    // samples x = m + L z with covariance L Lᵀ
    let n = 40_000;
    let draw = |l: &DMatrix<f64>, mean: f64, rng: &mut Stream| {
        let mut x = Mat::zeros(n, d);
        for i in 0..n {
            let z: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
            for j in 0..d {
                x.set(i, j, mean + (0..d).map(|k| l[(j, k)] * z[k]).sum::<f64>());
            }
        }
        x
    };
    let x = draw(&l0, 1.0, &mut rng);
    let y = draw(&l1, -2.0, &mut rng);
    let est = GaussianMap::from_samples(x.view(), y.view()).unwrap();
    let exact = GaussianMap::from_moments(
        vec![1.0; d],
        &(&l0 * l0.transpose()),
        vec![-2.0; d],
        &(&l1 * l1.transpose()),
    );
    let err = max_abs(&(&est.a - &exact.a)) / max_abs(&exact.a);
    assert!(err < 0.05, "relative error of A from 40 000 samples: {err}");
    for j in 0..d {
        assert!((est.mean_target[j] + 2.0).abs() < 0.05);
    }
}

#[test]
fn rank_deficient_covariances_stay_finite() {
    // d = 20 > n = 8: S is singular; the ridge keeps A finite and positive definite
    let mut rng = Stream::new(4, 0);
    let x = Mat::from_fn(8, 20, |_, _| rng.normal_f64());
    let y = Mat::from_fn(8, 20, |_, _| 2.0 * rng.normal_f64() + 1.0);
    let m = GaussianMap::from_samples(x.view(), y.view()).unwrap();
    assert!(m.a.iter().all(|v| v.is_finite()) && m.a_inv.iter().all(|v| v.is_finite()));
    let e = nalgebra::SymmetricEigen::new(m.a.clone());
    assert!(e.eigenvalues.iter().all(|&v| v > 0.0));
    // the map still matches the means: T(m_μ) = m_ν
    let t = m.transport(Mat::from_vec(1, 20, m.mean_source.clone()).unwrap().view());
    for j in 0..20 {
        assert!((t.get(0, j) - m.mean_target[j]).abs() < 1e-9);
    }
}

#[test]
fn potentials_at_init_have_the_gaussian_map_and_its_inverse_as_gradients() {
    let mut rng = Stream::new(6, 0);
    let d = 5;
    let x = Mat::from_fn(300, d, |_, j| rng.normal_f64() * (1.0 + j as f64) + 0.5);
    let y = Mat::from_fn(300, d, |i, j| {
        rng.normal_f64() + 0.1 * (i % 7) as f64 - j as f64
    });
    let map = GaussianMap::from_samples(x.view(), y.view()).unwrap();
    let cfg = IcnnConfig::default();
    let mut f = Icnn::<f64>::new(d, &cfg, &mut rng).with_quadratic(d);
    let mut g = Icnn::<f64>::new(d, &cfg, &mut rng).with_quadratic(d);
    let err = init_potentials(&map, &mut f, &mut g).unwrap();
    assert!(err < 1e-9, "representation error {err}");
    let pts = Mat::from_fn(17, d, |_, _| 2.0 * rng.normal_f64());
    let mut ws = g.workspace(17);
    let tg = g.transport(&pts, &mut ws);
    let want = map.transport(pts.view());
    let tf = f.transport(&tg, &mut ws);
    for i in 0..17 {
        for j in 0..d {
            assert!(
                (tg.get(i, j) - want.get(i, j)).abs() < 1e-9,
                "∇g ≠ T at ({i},{j})"
            );
            // ∇f(∇g(x)) = x: f starts at the inverse map
            assert!(
                (tf.get(i, j) - pts.get(i, j)).abs() < 1e-9,
                "∇f∘∇g ≠ id at ({i},{j})"
            );
        }
    }
    // potentials without the path are refused
    let mut plain = Icnn::<f64>::new(d, &cfg, &mut rng);
    assert!(init_potentials(&map, &mut plain.clone(), &mut plain).is_err());
}
