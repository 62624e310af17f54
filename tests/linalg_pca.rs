//! PCA (src/linalg/pca.rs): both paths against nalgebra's SVD of the centred matrix in f64, the
//! randomized path's residual check, projection ↔ reconstruction, and a known low-rank structure.

use monge::linalg::pca::{Pca, PcaConfig, PcaMethod};
use monge::linalg::Mat;
use monge::ot::latent::{LatentConfig, LATENT_PCA_TOL};
use monge::random::{streams, Stream};

/// n × d rows `μ + Σ_k s_k z_k q_k` with z standard normal, q_k orthonormal directions (a random
/// rotation), μ_j = 1 + j/d.
fn anisotropic(n: usize, d: usize, scales: &[f64], seed: u64) -> Mat<f64> {
    let mut rng = Stream::new(seed, streams::DATA);
    let q = nalgebra::DMatrix::<f64>::from_fn(d, scales.len(), |_, _| rng.normal_f64())
        .qr()
        .q();
    let mut x = Mat::zeros(n, d);
    for i in 0..n {
        let z: Vec<f64> = scales.iter().map(|s| s * rng.normal_f64()).collect();
        for j in 0..d {
            let v: f64 = (0..scales.len()).map(|k| q[(j, k)] * z[k]).sum();
            x.set(i, j, v + 1.0 + j as f64 / d as f64);
        }
    }
    x
}

/// The reference: column means, and nalgebra's SVD of the centred matrix (σ descending, Vᵀ rows).
fn reference(x: &Mat<f64>) -> (Vec<f64>, Vec<f64>, nalgebra::DMatrix<f64>) {
    let (n, d) = x.shape();
    let mu: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| x.get(i, j)).sum::<f64>() / n as f64)
        .collect();
    let xc = nalgebra::DMatrix::<f64>::from_fn(n, d, |i, j| x.get(i, j) - mu[j]);
    let svd = nalgebra::SVD::new(xc, false, true);
    let sv = svd.singular_values.iter().copied().collect();
    (mu, sv, svd.v_t.unwrap())
}

/// Checks `pca` against the reference: means to `tol_mean`, σ_k to relative `tol_sigma`, axes to
/// `1 − |cos| ≤ tol_axis`, and the sign convention.
fn check(pca: &Pca, x: &Mat<f64>, tol_mean: f64, tol_sigma: f64, tol_axis: f64) {
    let (mu, sv, vt) = reference(x);
    for (a, b) in pca.mean().iter().zip(&mu) {
        assert!((a - b).abs() <= tol_mean, "mean {a} vs {b}");
    }
    let d = x.cols();
    for k in 0..pca.n_components() {
        let rel = (pca.singular_values()[k] - sv[k]).abs() / sv[k];
        assert!(rel <= tol_sigma, "σ_{k}: relative error {rel:e}");
        let axis = pca.components().row(k);
        let cos: f64 = (0..d).map(|j| vt[(k, j)] * axis[j]).sum();
        assert!(
            1.0 - cos.abs() <= tol_axis,
            "axis {k}: 1 − |cos| = {:e}",
            1.0 - cos.abs()
        );
        let big = axis
            .iter()
            .copied()
            .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        assert!(
            big > 0.0,
            "axis {k}: largest entry {big} should be positive"
        );
    }
    let total: f64 = sv.iter().map(|s| s * s).sum::<f64>() / x.rows() as f64;
    assert!((pca.total_variance() - total).abs() <= 1e-12 * total);
}

#[test]
fn exact_pca_matches_the_svd_of_the_centred_matrix() {
    // σ spread over a factor 10, so the Gram path's relative error on σ_k is about ε·(σ_1/σ_k)²·d ≈
    // 2e-16 · 100 · 30 ≈ 7e-13: bound 1e-11; axes with gaps ≥ 20 % of σ_k²: 1e-10.
    let scales = [4.0, 3.0, 2.2, 1.5, 1.0, 0.7, 0.4];
    // Tall (d ≤ EXACT_MAX: Gram eigendecomposition) and wide (n ≤ EXACT_MAX < d: SVD of X_c).
    for (n, d) in [(400, 30), (40, 300)] {
        let x = anisotropic(n, d, &scales, 1 + n as u64);
        let pca = Pca::fit(x.view(), 5, &PcaConfig::default()).unwrap();
        assert_eq!(pca.method(), PcaMethod::Exact);
        assert!(pca.converged());
        check(&pca, &x, 1e-13, 1e-11, 1e-10);
    }
}

/// 600 × 300: min(n, d) > EXACT_MAX, so Auto takes the randomized path. Noise of 0.05 under the
/// structure makes σ_{l+1} > 0, so the iteration really has to converge.
fn noisy_anisotropic() -> Mat<f64> {
    let scales = [6.0, 5.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.6, 0.5];
    let mut x = anisotropic(600, 300, &scales, 5);
    let mut rng = Stream::new(6, streams::DATA_2);
    x.as_mut_slice()
        .iter_mut()
        .for_each(|v| *v += 0.05 * rng.normal_f64());
    x
}

#[test]
fn randomized_pca_matches_the_svd_reference_within_its_residual_check() {
    let x = noisy_anisotropic();
    let cfg = PcaConfig::default();
    let pca = Pca::fit(x.view(), 6, &cfg).unwrap();
    assert_eq!(pca.method(), PcaMethod::Randomized);
    assert!(pca.converged(), "residuals {:?}", pca.residuals());
    assert!(pca.residuals().iter().all(|&r| r <= cfg.tol));
    // |σ_k² − θ_k| ≤ r_k·θ_1 ⇒ relative error on σ_k ≤ r_k·σ_1²/(2σ_k²) ≤ 1e-10·(6/1.5)²/2 < 1e-9;
    // the axes to the residual over the gap (≥ 0.2·σ_k²): 1e-8.
    check(&pca, &x, 1e-13, 1e-9, 1e-8);
    // The exact path (forced) agrees.
    let exact = Pca::fit(
        x.view(),
        6,
        &PcaConfig {
            method: PcaMethod::Exact,
            ..cfg
        },
    )
    .unwrap();
    check(&exact, &x, 1e-13, 1e-11, 1e-10);
}

#[test]
fn randomized_pca_at_the_latent_tolerance_matches_the_svd_reference() {
    // `--latent pca:K` runs the randomized path with tol = LATENT_PCA_TOL = 1e-6 (src/ot/latent.rs).
    // |σ_k² − θ_k| ≤ r_k·θ_1 ⇒ relative error on σ_k ≤ 1e-6·(6/1.5)²/2 = 8e-6: bound 1e-5. Axis k:
    // sin∠ ≤ r_k·θ_1/gap with gap ≥ 0.2·σ_k² (sin ≤ 1e-6·36/(0.2·2.25) = 8e-5), so
    // 1 − |cos| ≤ sin²/2 ≤ 3.2e-9: bound 1e-8.
    let x = noisy_anisotropic();
    let cfg = LatentConfig::pca(6).pca;
    assert_eq!(cfg.tol, LATENT_PCA_TOL);
    let pca = Pca::fit(x.view(), 6, &cfg).unwrap();
    assert_eq!(pca.method(), PcaMethod::Randomized);
    assert!(pca.converged(), "residuals {:?}", pca.residuals());
    assert!(pca.residuals().iter().all(|&r| r <= LATENT_PCA_TOL));
    check(&pca, &x, 1e-13, 1e-5, 1e-8);
}

#[test]
fn randomized_pca_reports_when_its_residual_check_fails() {
    // Isotropic noise: no gap, so one iteration leaves large residuals, and the report says so.
    let mut rng = Stream::new(7, streams::DATA);
    let x = Mat::from_fn(400, 300, |_, _| rng.normal_f64());
    let cfg = PcaConfig {
        method: PcaMethod::Randomized,
        max_iter: 1,
        ..PcaConfig::default()
    };
    let pca = Pca::fit(x.view(), 5, &cfg).unwrap();
    assert!(!pca.converged());
    assert!(
        pca.residuals().iter().any(|&r| r > 1e-3),
        "{:?}",
        pca.residuals()
    );
}

#[test]
fn projection_and_reconstruction_are_inverse_on_the_axes() {
    let x = anisotropic(80, 8, &[3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05], 8);
    // K = d: x = μ + V V_ᵀ(x − μ) exactly up to rounding (a few ε·‖x‖).
    let full = Pca::fit(x.view(), 8, &PcaConfig::default()).unwrap();
    let back = full
        .reconstruct(full.project(x.view()).unwrap().view())
        .unwrap();
    for (a, b) in back.as_slice().iter().zip(x.as_slice()) {
        assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "{a} vs {b}");
    }
    // K < d: z = project(reconstruct(z)) for any coordinates z (orthonormal axes).
    let pca = Pca::fit(x.view(), 3, &PcaConfig::default()).unwrap();
    let mut rng = Stream::new(9, streams::DATA);
    let z = Mat::from_fn(20, 3, |_, _| 3.0 * rng.normal_f64());
    let z2 = pca
        .project(pca.reconstruct(z.view()).unwrap().view())
        .unwrap();
    for (a, b) in z2.as_slice().iter().zip(z.as_slice()) {
        assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "{a} vs {b}");
    }
    // f32 in, f32 out: the same projection rounded.
    let x32 = x.cast::<f32>();
    let z32 = pca.project(x32.view()).unwrap();
    let z64 = pca.project(x32.cast::<f64>().view()).unwrap();
    for (a, b) in z32.as_slice().iter().zip(z64.as_slice()) {
        assert_eq!(*a, *b as f32);
    }
    // Shape errors are values.
    assert!(pca.project(Mat::<f64>::zeros(2, 7).view()).is_err());
    assert!(pca.reconstruct(Mat::<f64>::zeros(2, 4).view()).is_err());
}

#[test]
fn a_known_low_rank_structure_is_recovered() {
    // X = μ + Z A + noise: rank 3 (scores with sd 5, 3, 2 along random loadings A, 3 × 400), noise sd
    // 1e-4, n = 2000 (randomized path). The three axes span the rows of A to the noise level (the
    // perturbation of the subspace is about noise·√d / (2·√n) ≈ 2e-5; bound 1e-3), they explain all
    // but the noise's share (400·1e-8 / 38 ≈ 1e-7) of the variance, and the rank-3 reconstruction
    // leaves residuals of the noise's size.
    let (n, d) = (2000, 400);
    let mut rng = Stream::new(10, streams::DATA);
    let a = Mat::from_fn(3, d, |_, _| rng.normal_f64() / (d as f64).sqrt());
    let sd = [5.0, 3.0, 2.0];
    let scores = Mat::from_fn(n, 3, |_, k| sd[k] * rng.normal_f64());
    let x = Mat::from_fn(n, d, |i, j| {
        let s: f64 = (0..3).map(|k| scores.get(i, k) * a.get(k, j)).sum();
        s + 2.0 - j as f64 * 0.01 + 1e-4 * rng.normal_f64()
    });
    let pca = Pca::fit(x.view(), 3, &PcaConfig::default()).unwrap();
    assert_eq!(pca.method(), PcaMethod::Randomized);
    assert!(pca.converged(), "{:?}", pca.residuals());
    let v = pca.components();
    for k in 0..3 {
        let ak = a.row(k);
        let norm: f64 = ak.iter().map(|x| x * x).sum::<f64>().sqrt();
        let proj: Vec<f64> = (0..3)
            .map(|c| (0..d).map(|j| v.get(c, j) * ak[j]).sum())
            .collect();
        let resid: f64 = (0..d)
            .map(|j| (ak[j] - (0..3).map(|c| proj[c] * v.get(c, j)).sum::<f64>()).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            resid / norm <= 1e-3,
            "loading {k}: {:e} outside the axes",
            resid / norm
        );
    }
    let share = pca.explained_variance().iter().sum::<f64>() / pca.total_variance();
    assert!(share >= 1.0 - 1e-6, "explained share {share}");
    let back = pca
        .reconstruct(pca.project(x.view()).unwrap().view())
        .unwrap();
    let rms = (back
        .as_slice()
        .iter()
        .zip(x.as_slice())
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / (n * d) as f64)
        .sqrt();
    assert!(rms <= 1e-4, "rank-3 reconstruction RMS {rms:e}");
}

#[test]
fn invalid_pca_input_is_an_error() {
    let x = Mat::from_fn(10, 4, |i, j| (i * j) as f64);
    let cfg = PcaConfig::default();
    assert!(Pca::fit(x.view(), 0, &cfg).is_err());
    assert!(Pca::fit(x.view(), 5, &cfg).is_err());
    assert!(Pca::fit(Mat::<f64>::zeros(0, 4).view(), 2, &cfg).is_err());
    let mut bad = x.clone();
    bad.set(3, 2, f64::NAN);
    assert!(Pca::fit(bad.view(), 2, &cfg).is_err());
    let tol0 = PcaConfig { tol: 0.0, ..cfg };
    assert!(Pca::fit(x.view(), 2, &tol0).is_err());
    // Rank below K (one distinct row): the axes are still orthonormal, with σ = 0 past the rank.
    let same = Mat::from_fn(300, 400, |_, j| j as f64);
    let pca = Pca::fit(same.view(), 3, &cfg).unwrap();
    let c = pca.components();
    for p in 0..3 {
        for q in 0..3 {
            let dot: f64 = c.row(p).iter().zip(c.row(q)).map(|(a, b)| a * b).sum();
            assert!(
                (dot - (p == q) as u8 as f64).abs() <= 1e-12,
                "({p}, {q}): {dot}"
            );
        }
    }
    assert!(pca.singular_values().iter().all(|&s| s == 0.0));
}
