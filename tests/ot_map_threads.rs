//! One thread policy for every map (issue 17, item 2): `TransportMap::transport_on` maps on the caller's
//! pool (`ot::map_rows`: one contiguous range of rows per worker, chunks within it), and a saved model of
//! every method maps to the same bits on 1, 2 and 3 workers — with the work really split (the pool's
//! helpers took a job).

use monge::linalg::{Mat, MatRef};
use monge::ot::latent::LatentConfig;
use monge::ot::sinkhorn::SinkhornConfig;
use monge::ot::train::Heldout;
use monge::ot::w1::W1Config;
use monge::ot::w2::W2Config;
use monge::ot::{map_from_saved, map_rows, SavedModel};
use monge::parallel::Pool;
use monge::random::{streams, Stream};
use monge::Method;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Rows mapped: at 2 workers two ranges of 1043 and 1042 rows, each a full 1024-row chunk (the W2, W1
/// and latent chunk) and a short one; at 3 workers three ranges of 695.
const ROWS: usize = 2 * 1024 + 37;

fn cloud(n: usize, d: usize, shift: f64, seed: u64) -> Mat<f32> {
    let mut rng = Stream::new(seed, streams::DATA);
    Mat::from_fn(n, d, |_, j| {
        (rng.normal_f64() * (1.0 + 0.2 * j as f64) + shift) as f32
    })
}

fn w2(cfg: W2Config) -> Method {
    Method::W2(W2Config {
        iterations: 20,
        eval_every: 0,
        ..cfg
    })
}

/// A model of every method the CLI saves (fitted briefly: the maps need not be good, only real).
fn models() -> Vec<SavedModel<f32>> {
    let (x, y) = (cloud(240, 6, 0.0, 1), cloud(200, 6, 0.7, 2));
    let w1 = W1Config {
        potential_iters: 20,
        gan_iters: 20,
        eval_every: 0,
        ..W1Config::default()
    };
    let methods = [
        w2(W2Config::monge()),
        w2(W2Config::default()),
        Method::W1(w1),
        Method::Sinkhorn(SinkhornConfig::default()),
        Method::MeanShift,
        Method::Identity,
        Method::Latent(LatentConfig::pca(3), Box::new(w2(W2Config::monge()))),
        Method::Latent(
            LatentConfig::pca(3),
            Box::new(Method::Sinkhorn(SinkhornConfig::default())),
        ),
    ];
    methods
        .iter()
        .map(|m| {
            let fitted = monge::fit(&x, &y, m, &Heldout::default(), None).expect("fit");
            fitted.map.to_saved()
        })
        .collect()
}

/// The first element where `a` and `b` differ in their bits (None: the same bits everywhere).
fn first_difference(a: &Mat<f32>, b: &Mat<f32>) -> Option<usize> {
    assert_eq!(a.shape(), b.shape());
    let bits = |m: &Mat<f32>| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    bits(a).iter().zip(bits(b)).position(|(x, y)| *x != y)
}

#[test]
fn every_saved_method_maps_the_same_bits_on_any_pool_and_splits_the_rows() {
    let x = cloud(ROWS, 6, 0.1, 3);
    let saved = models();
    let methods: Vec<&str> = saved.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "w2",
            "w2",
            "w1",
            "sinkhorn",
            "mean-shift",
            "identity",
            "latent",
            "latent"
        ]
    );
    for s in &saved {
        let map = map_from_saved(s).expect("reload");
        let one = map.transport(&x);
        assert_eq!(one.shape(), (ROWS, 6));
        assert!(one.as_slice().iter().all(|v| v.is_finite()), "{}", s.method);
        if s.method != "identity" {
            assert!(
                first_difference(&one, &x).is_some(),
                "{} moves the points",
                s.method
            );
        }
        for threads in [2, 3] {
            let mut pool = Pool::new(threads);
            for call in 1..=2u64 {
                let many = map.transport_on(&x, &mut pool);
                let at = first_difference(&many, &one);
                assert_eq!(at, None, "{} on {threads} workers vs 1", s.method);
                // one job per call reached the helpers (the identity copies on the caller)
                let jobs = if s.method == "identity" { 0 } else { call };
                assert_eq!(pool.jobs(), jobs, "{} on {threads} workers", s.method);
            }
        }
    }
}

#[test]
fn map_rows_hands_each_worker_one_range_in_bounded_chunks() {
    let (n, d) = (ROWS, 3);
    let x = Mat::from_fn(n, d, |i, j| (i * d + j) as f32);
    for threads in [1usize, 2, 3] {
        let made = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let mut pool = Pool::new(threads);
        let out = map_rows(
            &x,
            &mut pool,
            1024,
            |rows| {
                made.fetch_add(1, Ordering::Relaxed);
                rows
            },
            |state: &mut usize, xr: MatRef<'_, f32>, dst: &mut [f32]| {
                assert_eq!(*state, xr.rows(), "the state is made for the chunk's rows");
                assert_eq!(dst.len(), xr.rows() * d);
                seen.lock()
                    .unwrap()
                    .push((xr.get(0, 0) as usize / d, xr.rows()));
                for (i, row) in dst.chunks_exact_mut(d).enumerate() {
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = 2.0 * xr.get(i, j) + 1.0;
                    }
                }
            },
        );
        // every row came back from its own input row
        for (o, v) in out.as_slice().iter().zip(x.as_slice()) {
            assert_eq!(*o, 2.0 * v + 1.0);
        }
        let mut chunks = seen.into_inner().unwrap();
        chunks.sort();
        let per = n.div_ceil(threads);
        let (mut expect, mut states) = (Vec::new(), 0);
        for r0 in (0..n).step_by(per) {
            let r1 = (r0 + per).min(n);
            for c0 in (r0..r1).step_by(1024) {
                expect.push((c0, (c0 + 1024).min(r1) - c0));
            }
            // a state for a range's first chunk, and one more for its short last chunk
            states += 1 + usize::from(r1 - r0 > 1024 && (r1 - r0) % 1024 != 0);
        }
        assert_eq!(chunks, expect, "{threads} workers");
        assert_eq!(made.into_inner(), states, "{threads} workers");
        assert_eq!(pool.jobs(), u64::from(threads > 1));
    }
}
