//! W2 with quadratic-ICNN potentials at the Gaussian start (issue 13): on known-map pairs the fitted map
//! against the best affine least-squares fit (which sees the exact map's values), its Gaussian start and
//! the plain ICNN; the start is the Gaussian map, the model file keeps the quadratic path, and impossible
//! starts are usage errors.

use monge::data::known_map::known_map_pair;
use monge::experiments::known_map::best_affine;
use monge::linalg::Mat;
use monge::metrics::l2_uvp;
use monge::ot::gaussian::GaussianMap;
use monge::ot::potentials::{MapInit, Potential};
use monge::ot::w2::{W2Config, W2Map, W2Trainer};
use monge::ot::TransportMap;
use monge::random::Stream;
use monge::Error;

/// L2-UVP (%) on 2048 fresh source points of: the best affine fit, the Gaussian start, the map fitted
/// with `cfg` for `cfg.iterations` on `n` points per side, and (optionally) the plain ICNN after the
/// same number of iterations.
fn known_map_figures(
    d: usize,
    n: usize,
    seed: u64,
    cfg: &W2Config,
    plain: bool,
) -> (f64, f64, f64, Option<f64>) {
    let pair = known_map_pair::<f64>(n, n, d, 3, seed).unwrap();
    let fresh: Mat<f64> = pair.map.sample_source(2048, &mut Stream::new(seed, 991));
    let t_fresh = pair.map.map(fresh.view());
    let uvp = |tx: &Mat<f64>| l2_uvp(tx.view(), t_fresh.view(), pair.target.view());
    let affine = uvp(
        &best_affine(&pair.source, &pair.map.map(pair.source.view()), &fresh)
            .expect("the source cloud has full affine rank"),
    );
    let (xs, ys) = (pair.source.cast::<f32>(), pair.target.cast::<f32>());
    let fit = |cfg: &W2Config| {
        let mut tr = W2Trainer::new(&xs, &ys, cfg).unwrap();
        let start = uvp(&tr.map().transport(&fresh.cast::<f32>()).cast::<f64>());
        tr.run(cfg.iterations, &mut |_| {}).unwrap();
        (
            start,
            uvp(&tr.best_map().transport(&fresh.cast::<f32>()).cast::<f64>()),
        )
    };
    let (start, fitted) = fit(cfg);
    let plain = plain.then(|| {
        fit(&W2Config {
            iterations: cfg.iterations,
            threads: cfg.threads,
            ..W2Config::default()
        })
        .1
    });
    eprintln!("D = {d}: L2-UVP best affine {affine:.3}, Gaussian start {start:.3}, fitted {fitted:.3}, plain ICNN {plain:?}");
    (affine, start, fitted, plain)
}

/// monge's default W2 setting cut to 1000 iterations, on one thread (the CI-sized fits below).
fn monge_1000_iterations() -> W2Config {
    W2Config {
        iterations: 1000,
        threads: 1,
        ..W2Config::monge()
    }
}

/// D = 2: the fitted map is below half the best affine fit (measured at n = 4096, 1000 iterations:
/// issue 13 report). At D = 8 on 4096 points the target (beat the best affine fit) is not met
/// reliably — see the next two tests for what is.
#[test]
fn at_d2_the_fitted_map_is_below_half_the_best_affine_fit() {
    let cfg = monge_1000_iterations();
    let (affine, _, fitted, _) = known_map_figures(2, 4096, 0, &cfg, false);
    assert!(
        fitted < 0.5 * affine,
        "fitted {fitted:.3} % vs best affine {affine:.3} %"
    );
}

/// D = 8, 1000 iterations: the fitted map improves on its Gaussian start and on the plain ICNN trained
/// for as many iterations.
#[test]
fn at_d8_the_fitted_map_beats_its_gaussian_start_and_the_plain_icnn() {
    let cfg = monge_1000_iterations();
    let (_, start, fitted, plain) = known_map_figures(8, 4096, 0, &cfg, true);
    let plain = plain.unwrap();
    assert!(
        fitted < start,
        "fitted {fitted:.3} % vs Gaussian start {start:.3} %"
    );
    assert!(
        fitted < plain,
        "fitted {fitted:.3} % vs plain ICNN {plain:.3} %"
    );
}

/// D = 8 on 16 384 points per side, 1000 iterations (the CI test; its sample is 4× the
/// acceptance table's 4096, on which the fitted map does not reliably beat the best affine fit: the
/// limit there is the sample, not the solver). Measured (`MONGE_KM_N=16384 MONGE_KM_DIMS=8
/// MONGE_KM_CONFIGS=default+it=1000`, `known_map_table` in tests/ot_w2_quality.rs), seeds 0 / 1 / 2:
/// fitted 0.291 / 0.375 / 0.528 % against the best affine fit's 0.526 / 0.550 / 0.759 % (Gaussian start
/// 0.736 / 0.620 / 1.167 %), about 7 s each. The unpaired estimator beats the oracle affine map, which
/// sees the exact map's values: the network has learned the map's curvature, not just its moments.
#[test]
fn at_d8_on_16384_points_the_fitted_map_beats_the_best_affine_fit() {
    let cfg = monge_1000_iterations();
    let (affine, start, fitted, _) = known_map_figures(8, 16384, 0, &cfg, false);
    assert!(
        start > affine,
        "the Gaussian start {start:.3} % already beats the best affine fit {affine:.3} %"
    );
    assert!(
        fitted < affine,
        "fitted {fitted:.3} % vs best affine {affine:.3} %"
    );
}

#[test]
fn gaussian_start_is_the_gaussian_map_and_survives_save_and_load() {
    let mut rng = Stream::new(2, 0);
    let d = 3;
    let x = Mat::from_fn(400, d, |_, j| rng.normal_f64() * (1.0 + j as f64));
    let y = Mat::from_fn(400, d, |_, j| 0.5 * rng.normal_f64() + j as f64);
    let cfg = W2Config {
        batch: 64,
        eval_every: 0,
        heldout_fraction: 0.0,
        ..W2Config::monge()
    };
    let tr = W2Trainer::new(&x, &y, &cfg).unwrap();
    let g = GaussianMap::from_samples(x.view(), y.view()).unwrap();
    let probe = Mat::from_fn(9, d, |_, _| rng.normal_f64());
    let (got, want) = (tr.map().transport(&probe), g.transport::<f64>(probe.view()));
    let err = got
        .as_slice()
        .iter()
        .zip(want.as_slice())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        err < 1e-9,
        "∇g at the start differs from the Gaussian map by {err}"
    );
    let saved = tr.map().to_saved();
    assert_eq!(saved.hyper("potential"), Some("quadratic-icnn"));
    let back = W2Map::<f64>::from_saved(&saved).unwrap();
    assert_eq!(back.transport(&probe).as_slice(), got.as_slice());
}

#[test]
fn starts_the_plain_icnn_cannot_carry_are_usage_errors() {
    for init in [MapInit::Identity, MapInit::Gaussian] {
        let cfg = W2Config {
            potential: Potential::Icnn,
            map_init: init,
            ..W2Config::default()
        };
        assert!(
            matches!(cfg.validate(), Err(Error::Usage(_))),
            "{init:?} accepted for the plain ICNN"
        );
    }
    let cfg = W2Config {
        potential: Potential::QuadraticIcnn { rank: 4 },
        map_init: MapInit::Identity,
        ..W2Config::default()
    };
    assert!(cfg.validate().is_ok());
}
