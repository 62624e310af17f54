//! The held-out W2 semi-dual ([`monge::ot::w2::dual`]) against closed forms on Gaussians: the conjugate
//! of a quadratic potential is solved to its closed form from a wrong warm start, the optimal potential
//! reads −W2² (the Gaussian closed form), the identity reads exactly 0, and a worse map reads higher.

use monge::linalg::Mat;
use monge::nn::icnn::{Icnn, IcnnConfig};
use monge::ot::gaussian::{init_potentials, GaussianMap};
use monge::ot::potentials::{build, MapInit, Potential};
use monge::ot::w2::dual::DualEvaluator;
use monge::random::Stream;
use nalgebra::{DMatrix, DVector};

/// A random symmetric positive-definite d × d matrix `B Bᵀ/d + ½ I`.
fn spd(d: usize, rng: &mut Stream) -> DMatrix<f64> {
    let b = DMatrix::from_fn(d, d, |_, _| rng.normal_f64());
    &b * b.transpose() / d as f64 + DMatrix::identity(d, d) * 0.5
}

/// n draws of N(m, Σ) (rows), by the Cholesky factor.
fn gaussian(n: usize, m: &[f64], cov: &DMatrix<f64>, rng: &mut Stream) -> Mat<f64> {
    let l = cov.clone().cholesky().unwrap().l();
    let d = m.len();
    let mut out = Mat::zeros(n, d);
    for i in 0..n {
        let z = DVector::from_fn(d, |_, _| rng.normal_f64());
        let x = &l * z;
        for j in 0..d {
            out.set(i, j, m[j] + x[j]);
        }
    }
    out
}

/// Potentials of full rank at ∇g = `map`, with f at the identity (so the warm start ∇f(y) = y is wrong).
fn potentials(map: &GaussianMap, x: &Mat<f64>) -> (Icnn<f64>, Icnn<f64>) {
    let d = map.dim();
    let cfg = IcnnConfig {
        hidden: vec![8, 8],
        ..IcnnConfig::default()
    };
    let q = Potential::QuadraticIcnn { rank: d };
    let (f, mut g) = build(&cfg, q, MapInit::Identity, 3, x, x).unwrap();
    let mut f_scratch = f.clone();
    init_potentials(map, &mut f_scratch, &mut g).unwrap();
    (f, g)
}

struct Pair {
    x: Mat<f64>,
    y: Mat<f64>,
    map: GaussianMap,
    w2sq: f64,
    cov_t: DMatrix<f64>,
    mean_t: Vec<f64>,
    mean_s: Vec<f64>,
    cov_s: DMatrix<f64>,
}

fn pair(d: usize, n: usize, seed: u64) -> Pair {
    let mut rng = Stream::new(seed, 100);
    let (cov_s, cov_t) = (spd(d, &mut rng), spd(d, &mut rng));
    let mean_s: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
    let mean_t: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
    let map = GaussianMap::from_moments(mean_s.clone(), &cov_s, mean_t.clone(), &cov_t);
    // W2² between the Gaussians: ‖m_μ − m_ν‖² + tr Σ_μ + tr Σ_ν − 2 tr (Σ_μ^½ Σ_ν Σ_μ^½)^½, and
    // tr (Σ_μ^½ Σ_ν Σ_μ^½)^½ = tr(A Σ_μ) for the map's A
    let dm: f64 = mean_s
        .iter()
        .zip(&mean_t)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let w2sq = dm + cov_s.trace() + cov_t.trace() - 2.0 * (&map.a * &cov_s).trace();
    Pair {
        x: gaussian(n, &mean_s, &cov_s, &mut rng),
        y: gaussian(n, &mean_t, &cov_t, &mut rng),
        map,
        w2sq,
        cov_t,
        mean_t,
        mean_s,
        cov_s,
    }
}

/// g(x) = ½xᵀAx + bᵀx with b = m_ν − A m_μ has g*(y) = ½(y − b)ᵀA⁻¹(y − b): the solve from the wrong
/// warm start ∇f(y) = y reaches it to 1e-9 relative, and the mean of g is the closed form too.
#[test]
fn the_conjugate_of_a_quadratic_potential_is_solved_to_its_closed_form() {
    let d = 6;
    let p = pair(d, 400, 1);
    let (f, g) = potentials(&p.map, &p.x);
    let mut ev = DualEvaluator::new(p.x.view(), p.y.view(), &g, &f);
    let v = ev.eval(&g, &f);
    let a = &p.map.a;
    let a_inv = a.clone().try_inverse().unwrap();
    let b = DVector::from_column_slice(&p.mean_t) - a * DVector::from_column_slice(&p.mean_s);
    let row = |m: &Mat<f64>, i: usize| DVector::from_column_slice(m.row(i));
    let mean_g = (0..p.x.rows())
        .map(|i| {
            let x = row(&p.x, i);
            0.5 * x.dot(&(a * &x)) + b.dot(&x)
        })
        .sum::<f64>()
        / p.x.rows() as f64;
    let mean_conj = (0..p.y.rows())
        .map(|j| {
            let r = row(&p.y, j) - &b;
            0.5 * r.dot(&(&a_inv * &r))
        })
        .sum::<f64>()
        / p.y.rows() as f64;
    assert!(
        (v.mean_g - mean_g).abs() <= 1e-9 * mean_g.abs().max(1.0),
        "{} vs {mean_g}",
        v.mean_g
    );
    assert!(
        (v.mean_conjugate - mean_conj).abs() <= 1e-9 * mean_conj.abs().max(1.0),
        "conjugate {} vs closed form {mean_conj} (max residual {})",
        v.mean_conjugate,
        v.max_grad
    );
}

/// On samples of two Gaussians: the optimal potential reads −W2² (to the sampling error), the identity
/// potential ½‖x‖² reads exactly 0, and potentials of worse maps — a 10 % larger A, the target's mean
/// missed by half a standard deviation — read higher: lower is better.
#[test]
fn the_optimum_reads_minus_w2sq_and_worse_maps_read_higher() {
    let d = 4;
    let p = pair(d, 3000, 2);
    let value = |map: &GaussianMap| {
        let (f, g) = potentials(map, &p.x);
        DualEvaluator::new(p.x.view(), p.y.view(), &g, &f).eval(&g, &f)
    };
    let best = value(&p.map).value;
    assert!(
        (best + p.w2sq).abs() <= 0.05 * p.w2sq,
        "optimum reads {best}, −W2² = {}",
        -p.w2sq
    );
    let id = GaussianMap::from_moments(p.mean_s.clone(), &p.cov_s, p.mean_s.clone(), &p.cov_s);
    let v_id = value(&id).value;
    assert!(v_id.abs() <= 1e-9 * p.w2sq, "identity reads {v_id}");
    let mut wider = p.map.clone();
    wider.a *= 1.1;
    let v_wider = value(&wider).value;
    let shift: Vec<f64> = (0..d)
        .map(|j| p.mean_t[j] + 0.5 * p.cov_t[(j, j)].sqrt())
        .collect();
    let shifted = GaussianMap::from_moments(p.mean_s.clone(), &p.cov_s, shift, &p.cov_t);
    let v_shifted = value(&shifted).value;
    assert!(
        best < v_wider && best < v_shifted && v_wider < v_id && v_shifted < v_id,
        "optimum {best}, 10 % wider {v_wider}, shifted {v_shifted}, identity {v_id}"
    );
}
