//! Latent maps (src/ot/latent.rs): the decoders' algebra (module doc, items 1–3), a known low-rank shift
//! recovered by a W2 map trained in latent space, the gene-space held-out report, the save → load → map
//! round trip bit for bit, and hostile latent model files.

use monge::io::model::{encode_model, parse_model};
use monge::io::LoadedModel;
use monge::linalg::pca::{Pca, PcaConfig};
use monge::linalg::{Mat, Real};
use monge::ot::baselines::{Identity, MeanShift};
use monge::ot::latent::{self, Decode, LatentBasis, LatentConfig, LatentMap};
use monge::ot::train::{Heldout, HeldoutEval, HeldoutSets};
use monge::ot::w2::W2Config;
use monge::ot::{map_from_saved, SavedModel, TransportMap};
use monge::parallel::Pool;
use monge::random::{streams, Stream};
use monge::{Error, Method};

/// A non-linear map on ℝ^K: `T_K(z)_c = z_c + sin(z_{(c+1) mod K}) + 0.3·c`.
struct Wobble(usize);

impl<T: Real> TransportMap<T> for Wobble {
    fn dim(&self) -> usize {
        self.0
    }
    fn transport_on(&self, x: &Mat<T>, _pool: &mut Pool) -> Mat<T> {
        let k = self.0;
        Mat::from_fn(x.rows(), k, |i, c| {
            let v = x.get(i, c).to_f64() + x.get(i, (c + 1) % k).to_f64().sin() + 0.3 * c as f64;
            T::from_f64(v)
        })
    }
    fn to_saved(&self) -> SavedModel<T> {
        unreachable!("not saved")
    }
}

/// n × d cells `m0 + A s + 0.1·noise`: a rank-3 cell state (scores of sd 1, 0.8, 0.6 along random
/// loadings A, 3 × d) over small isotropic noise.
fn cells(n: usize, d: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let mut rng = Stream::new(seed, streams::DATA);
    let a = Mat::from_fn(3, d, |_, _| rng.normal_f64() / (d as f64).sqrt());
    let sd = [1.0, 0.8, 0.6];
    let mut x = Mat::zeros(n, d);
    for i in 0..n {
        let z: Vec<f64> = sd.iter().map(|s| s * rng.normal_f64()).collect();
        for j in 0..d {
            let s: f64 = (0..3).map(|k| z[k] * a.get(k, j)).sum();
            x.set(i, j, 1.0 + 0.02 * j as f64 + s + 0.1 * rng.normal_f64());
        }
    }
    (x, a)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `(I − P) v` for the axes (rows of `axes`, orthonormal).
fn outside(axes: &Mat<f64>, v: &[f64]) -> Vec<f64> {
    let mut r = v.to_vec();
    for c in 0..axes.rows() {
        let p = dot(axes.row(c), v);
        r.iter_mut().zip(axes.row(c)).for_each(|(x, a)| *x -= p * a);
    }
    r
}

fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

fn basis_of(x: &Mat<f64>, k: usize) -> LatentBasis<f64> {
    let pca = Pca::fit(x.view(), k, &PcaConfig::default()).unwrap();
    LatentBasis::from_pca(&pca).unwrap()
}

#[test]
fn keep_decode_moves_only_inside_the_latent_space_and_full_decode_projects_onto_it() {
    let (x, _) = cells(200, 30, 1);
    let k = 4;
    let basis = basis_of(&x, k);
    let axes = basis.axes().clone();
    let keep = LatentMap::new(basis.clone(), Decode::Keep, Box::new(Wobble(k))).unwrap();
    let full = LatentMap::new(basis.clone(), Decode::Full, Box::new(Wobble(k))).unwrap();
    // a direction outside the latent space, added to every cell
    let mut rng = Stream::new(2, streams::DATA_2);
    let w = outside(
        &axes,
        &(0..30).map(|_| rng.normal_f64()).collect::<Vec<_>>(),
    );
    let xw = Mat::from_fn(x.rows(), 30, |i, j| x.get(i, j) + w[j]);
    let (yk, ykw) = (keep.transport(&x), keep.transport(&xw));
    let (yf, yfw) = (full.transport(&x), full.transport(&xw));
    let z = basis.encode(x.view()).unwrap();
    let tz = <Wobble as TransportMap<f64>>::transport(&Wobble(k), &z);
    let ez = basis.encode(yk.view()).unwrap();
    let m = basis.mean();
    // all bounds: rounding of O(10)-sized values through d = 30 sums, 1e-12
    for i in 0..x.rows() {
        let disp: Vec<f64> = (0..30).map(|j| yk.get(i, j) - x.get(i, j)).collect();
        // 1. E(T(x)) = T_K(E(x))
        for c in 0..k {
            assert!(
                (ez.get(i, c) - tz.get(i, c)).abs() <= 1e-12,
                "cell {i} axis {c}"
            );
        }
        // 2. the displacement lies in the latent space …
        assert!(
            norm(&outside(&axes, &disp)) <= 1e-12 * (1.0 + norm(&disp)),
            "cell {i}"
        );
        // … and a component outside it is carried through unchanged
        for (j, wj) in w.iter().enumerate() {
            assert!(
                (ykw.get(i, j) - yk.get(i, j) - wj).abs() <= 1e-12,
                "keep ({i}, {j})"
            );
        }
        // Full: the image is on the affine latent space, and the outside component is dropped
        let off: Vec<f64> = (0..30).map(|j| yf.get(i, j) - m[j]).collect();
        assert!(
            norm(&outside(&axes, &off)) <= 1e-12 * (1.0 + norm(&off)),
            "full {i}"
        );
        for j in 0..30 {
            assert!(
                (yfw.get(i, j) - yf.get(i, j)).abs() <= 1e-12,
                "full ({i}, {j})"
            );
        }
        // the two decoders differ exactly by the part of x outside the latent space
        let r = outside(
            &axes,
            &(0..30).map(|j| x.get(i, j) - m[j]).collect::<Vec<_>>(),
        );
        for (j, rj) in r.iter().enumerate() {
            assert!(
                (yk.get(i, j) - yf.get(i, j) - rj).abs() <= 1e-12,
                "({i}, {j})"
            );
        }
    }
}

#[test]
fn an_identity_inner_map_with_keep_decode_returns_every_cell_bit_for_bit() {
    let (x, _) = cells(300, 20, 3);
    for k in [1, 5, 20] {
        let basis = basis_of(&x, k);
        let id = LatentMap::new(basis.clone(), Decode::Keep, Box::new(Identity::new(k))).unwrap();
        assert_eq!(id.transport(&x), x, "K = {k}");
        let x32 = x.cast::<f32>();
        let b32 = LatentBasis::new(
            basis.mean().iter().map(|&v| v as f32).collect(),
            basis.axes().cast(),
        )
        .unwrap();
        let id32 = LatentMap::new(b32, Decode::Keep, Box::new(Identity::new(k))).unwrap();
        assert_eq!(id32.transport(&x32), x32, "f32, K = {k}");
    }
}

/// Source cells (rank-3 state) and target = other cells of the same state shifted by `s = Aᵀ c`,
/// c = (2, −1.5, 1): s lies in the span of the loadings (‖s‖ ≈ 2.7); a source cell's counterfactual is
/// x + s.
fn shifted_pair(n: usize, d: usize) -> (Mat<f64>, Mat<f64>, Vec<f64>) {
    let (both, a) = cells(2 * n, d, 4);
    let c = [2.0, -1.5, 1.0];
    let s: Vec<f64> = (0..d)
        .map(|j| (0..3).map(|k| c[k] * a.get(k, j)).sum())
        .collect();
    let source = Mat::from_fn(n, d, |i, j| both.get(i, j));
    let target = Mat::from_fn(n, d, |i, j| both.get(n + i, j) + s[j]);
    (source, target, s)
}

#[test]
fn a_w2_map_in_a_latent_space_recovers_a_low_rank_shift_and_leaves_the_rest_untouched() {
    // d = 60, K = 3: the shift lies in the 3-dimensional cell-state space that the pooled PCA finds
    // (variance 9, 4, 2.25 plus the shift's between-group share, over noise of 0.01 per gene).
    let (n, d) = (1000, 60);
    let (source, target, s) = shifted_pair(n, d);
    let cfg = LatentConfig::pca(3);
    let w2 = Method::W2(W2Config {
        iterations: 200,
        eval_every: 50,
        ..W2Config::monge()
    });
    let (fitted, rep) =
        latent::fit(&source, &target, &cfg, &w2, &Heldout::default(), None).unwrap();
    let y = fitted.map.transport(&source);
    let saved = fitted.map.to_saved();
    let back = LatentMap::<f64>::from_saved(&saved).unwrap();
    let axes = back.basis().axes().clone();
    // the PCA saw only the training cells (SPEC §7.7 holds out 500 of 1000 per side)
    assert_eq!(rep.pca_cells, 2 * (n - 500));
    // the noise's share of the pooled variance: 60·0.01 of about 1 + 0.64 + 0.36 + ‖s‖²/4 + 0.6 ≈ 4.2
    assert!(
        rep.explained_variance_ratio > 0.8,
        "{}",
        rep.explained_variance_ratio
    );
    let mut err2 = 0.0;
    for i in 0..n {
        let disp: Vec<f64> = (0..d).map(|j| y.get(i, j) - source.get(i, j)).collect();
        // nothing outside the latent space moved (up to rounding)
        assert!(
            norm(&outside(&axes, &disp)) <= 1e-12 * (1.0 + norm(&disp)),
            "cell {i}"
        );
        err2 += disp
            .iter()
            .zip(&s)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>();
    }
    // L2 error to the counterfactual x + s: the identity's is ‖s‖ for every cell
    let (rmse, ns) = ((err2 / n as f64).sqrt(), norm(&s));
    assert!(rmse <= 0.1 * ns, "RMSE {rmse} vs ‖s‖ = {ns}");
}

#[test]
fn the_heldout_report_is_in_gene_space_and_the_latent_one_is_what_the_selector_saw() {
    let (source, target, _) = shifted_pair(700, 40);
    let cfg = LatentConfig::pca(3);
    let w2cfg = W2Config {
        iterations: 100,
        eval_every: 50,
        seed: 5,
        ..W2Config::monge()
    };
    let how = Heldout::default();
    let (fitted, rep) = latent::fit(
        &source,
        &target,
        &cfg,
        &Method::W2(w2cfg.clone()),
        &how,
        None,
    )
    .unwrap();
    let gene = fitted.report.heldout.expect("gene-space held-out report");
    let lat = rep.heldout.expect("latent-space held-out report");
    // the same split the inner trainer would have made, in gene space …
    let sets = HeldoutSets::new(&source, &target, &how, w2cfg.seed).unwrap();
    let mut pool = Pool::new(1);
    let ev = HeldoutEval::new(&sets, w2cfg.criterion, w2cfg.seed, &mut pool).unwrap();
    let (identity, mean_shift) = ev.baselines(&mut pool);
    assert_eq!((gene.identity, gene.mean_shift), (identity, mean_shift));
    let mapped = fitted.map.transport(ev.source());
    assert_eq!(gene.map, ev.eval(mapped.view(), &mut pool));
    // … and in the latent coordinates for the selector
    let basis = LatentMap::<f64>::from_saved(&fitted.map.to_saved()).unwrap();
    let enc = |m: &Mat<f64>| basis.basis().encode(m.view()).unwrap();
    let lsets = HeldoutSets::given(
        &enc(&sets.train_source),
        &enc(&sets.train_target),
        &enc(&sets.heldout_source),
        &enc(&sets.heldout_target),
    )
    .unwrap();
    let lev = HeldoutEval::new(&lsets, w2cfg.criterion, w2cfg.seed, &mut pool).unwrap();
    assert_eq!(lat.identity, lev.baselines(&mut pool).0);
    assert_eq!(gene.best_iteration, lat.best_iteration);
}

fn round_trip<T: Real>(map: &dyn TransportMap<T>, x: &Mat<T>) {
    let saved = map.to_saved();
    let bytes = encode_model(&saved).unwrap();
    let loaded = parse_model(&bytes, "latent.monge").unwrap();
    let back = match (loaded, T::BYTES) {
        (LoadedModel::F32(m), 4) => encode_model(&m).unwrap(),
        (LoadedModel::F64(m), 8) => encode_model(&m).unwrap(),
        _ => panic!("dtype changed"),
    };
    assert_eq!(back, bytes, "re-encoded bytes");
    let rebuilt = map_from_saved(&saved).unwrap();
    assert_eq!(rebuilt.to_saved(), saved);
    let (a, b) = (map.transport(x), rebuilt.transport(x));
    assert!(
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .all(|(p, q)| p.to_f64().to_bits() == q.to_f64().to_bits()),
        "mapped values differ after the round trip"
    );
}

fn round_trips<T: Real>() {
    let (s64, t64, _) = shifted_pair(600, 25);
    let (source, target) = (s64.cast::<T>(), t64.cast::<T>());
    let w2 = Method::W2(W2Config {
        iterations: 30,
        eval_every: 10,
        ..W2Config::monge()
    });
    for (inner, decode) in [
        (w2, Decode::Keep),
        (Method::MeanShift, Decode::Full),
        (Method::Identity, Decode::Keep),
    ] {
        let cfg = LatentConfig {
            decode,
            ..LatentConfig::pca(4)
        };
        let (fitted, _) =
            latent::fit(&source, &target, &cfg, &inner, &Heldout::default(), None).unwrap();
        assert_eq!(fitted.map.to_saved().method, "latent");
        round_trip(fitted.map.as_ref(), &source);
    }
}

#[test]
fn save_load_map_round_trips_bit_for_bit_in_f32_and_f64() {
    round_trips::<f32>();
    round_trips::<f64>();
}

#[test]
fn a_latent_mean_shift_is_the_gene_space_mean_shift_projected_on_the_latent_space() {
    let (source, target, _) = shifted_pair(400, 30);
    let cfg = LatentConfig::pca(3);
    let (fitted, rep) = latent::fit(
        &source,
        &target,
        &cfg,
        &Method::MeanShift,
        &Heldout::default(),
        None,
    )
    .unwrap();
    // closed form: no held-out cells, the PCA sees every cell
    assert_eq!(rep.pca_cells, 800);
    assert!(fitted.report.heldout.is_none() && rep.heldout.is_none());
    let shift = MeanShift::fit(source.view(), target.view()).unwrap();
    let map = LatentMap::<f64>::from_saved(&fitted.map.to_saved()).unwrap();
    let axes = map.basis().axes();
    let mut ps = vec![0.0; 30];
    for c in 0..3 {
        let p = dot(axes.row(c), shift.shift());
        ps.iter_mut()
            .zip(axes.row(c))
            .for_each(|(x, a)| *x += p * a);
    }
    let y = fitted.map.transport(&source);
    for i in 0..source.rows() {
        for (j, pj) in ps.iter().enumerate() {
            let got = y.get(i, j) - source.get(i, j);
            assert!((got - pj).abs() <= 1e-12, "({i}, {j}): {got} vs {pj}");
        }
    }
}

/// A valid latent model (d = 6, K = 2, inner mean shift) to corrupt.
fn good_model() -> SavedModel<f64> {
    let (x, _) = cells(50, 6, 9);
    let basis = basis_of(&x, 2);
    let inner = MeanShift::fit(
        basis.encode(x.view()).unwrap().view(),
        Mat::from_fn(50, 2, |i, c| (i + c) as f64 * 0.1).view(),
    )
    .unwrap();
    LatentMap::new(basis, Decode::Keep, Box::new(inner))
        .unwrap()
        .to_saved()
}

fn load_error(m: &SavedModel<f64>) -> String {
    let bytes = encode_model(m).expect("encodable");
    let LoadedModel::F64(s) = parse_model(&bytes, "crafted.monge").expect("valid file") else {
        panic!("f64 model")
    };
    match map_from_saved(&s) {
        Ok(_) => panic!("a hostile latent model was accepted"),
        Err(Error::Model { msg, .. }) => msg,
        Err(other) => panic!("not a model error: {other:?}"),
    }
}

fn with_hyper(key: &str, value: &str) -> SavedModel<f64> {
    let mut m = good_model();
    m.hyper.iter_mut().find(|(k, _)| k == key).unwrap().1 = value.into();
    m
}

#[test]
fn hostile_latent_models_are_errors_naming_the_fault() {
    let good = good_model();
    assert!(map_from_saved(&good).is_ok());
    let cases: Vec<(SavedModel<f64>, &str)> = vec![
        (with_hyper("components", "0"), "outside 1..=6"),
        (with_hyper("components", "7"), "outside 1..=6"),
        (with_hyper("decode", "both"), "not keep or full"),
        (with_hyper("inner", "latent"), "cannot itself be latent"),
        (with_hyper("inner", "w3"), "unknown method"),
        // a huge dimension with the same tensors: the shape check fails before any allocation
        (
            SavedModel {
                dim: 1 << 50,
                ..good.clone()
            },
            "tensor 'mean' has shape",
        ),
        (
            {
                let mut m = good.clone();
                m.tensors[1].1 = vec![3, 4];
                m
            },
            "tensor 'basis' has shape",
        ),
        (
            {
                let mut m = good.clone();
                m.tensors[1].2[0] += 0.5;
                m
            },
            "not orthonormal",
        ),
        (
            {
                let mut m = good.clone();
                m.tensors.retain(|t| t.0 != "inner.shift");
                m
            },
            "inner 'mean-shift' model: missing tensor 'shift'",
        ),
        (
            {
                let mut m = good.clone();
                m.tensors.push(("extra".into(), vec![1], vec![0.0]));
                m
            },
            "unexpected tensor",
        ),
        (
            {
                let mut m = good.clone();
                m.hyper.retain(|(k, _)| k != "inner");
                m
            },
            "missing hyper-parameter 'inner'",
        ),
    ];
    for (m, want) in cases {
        let msg = load_error(&m);
        assert!(msg.contains(want), "{msg:?} does not say {want:?}");
    }
}

#[test]
fn invalid_latent_options_are_usage_errors() {
    assert_eq!(LatentConfig::parse("pca:50").unwrap().components, 50);
    for bad in ["pca:0", "pca:", "pca:x", "ica:5", "50"] {
        assert!(
            matches!(LatentConfig::parse(bad), Err(Error::Usage(_))),
            "{bad}"
        );
    }
    let (source, target, _) = shifted_pair(50, 5);
    let cfg = LatentConfig::pca(6);
    let e = latent::fit(
        &source,
        &target,
        &cfg,
        &Method::Identity,
        &Heldout::None,
        None,
    );
    assert!(matches!(e, Err(Error::Usage(_))));
}
