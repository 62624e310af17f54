//! What the 8gaussians demo's figure can tell (issue 13's "W2²(T#μ, ν) ≤ 1.3 × the sampling floor"), as
//! an ignored test that prints it:
//!
//! ```text
//! cargo test --release --test demo_reference -- --ignored --nocapture
//! ```
//!
//! `monge demo` scores its map by one exact W2² between n = 1000 mapped test points and n = 1000 test
//! targets, beside the floor W2²(ν', ν) of a second target sample against the same test targets. Per seed
//! (`MONGE_DEMO_SEEDS`, default 0–4; `MONGE_DEMO_NTRAIN` sets the training and held-out sizes, default
//! the demo's 1000, the test sets stay at 1000) this prints
//! 1. **the perfect map on the demo's own statistic**: T*#μ' is a fresh draw from ν, so the ratio a
//!    perfect map would print is W2²(ν'', ν)/W2²(ν', ν), with ν'' a third target sample and ν, ν' the
//!    demo's own test and floor samples. Over `MONGE_DEMO_DRAWS` (default 50) draws of ν'': the median
//!    ratio and the fraction at most 1.3 (the chance that the exact map passes the issue's test on that
//!    seed), and at the end their product over the seeds (the chance that it passes on all of them);
//! 2. **mean ratios over as many fresh test pairs**, Σ_k W2²(·, ν_k) / Σ_k W2²(ν'_k, ν_k), for the
//!    demo's own map (`W2Config::demo()`, the demo's samples, streams and held-out pair, 1 thread: the
//!    map `monge demo --seed S --threads 1` returns) and for two references that know the target only
//!    through the training sample, as every estimator does: *resample*, a draw with replacement from
//!    the n training targets (what a map onto the training sample's empirical measure, T̂#μ = ν̂_n,
//!    pushes fresh source points to), and *smoothed*, the same plus N(0, 0.1² I) (a kernel estimate of
//!    ν; the toy's clusters have std 0.35).
//!
//! Measured (2026-12-06, seeds 0 / 1 / 2 / 3 / 4, 50 draws, 500 s; the first five rows with the demo
//! setting of that morning, 10 g steps and no conjugate refinement):
//!
//! | | seed 0 | 1 | 2 | 3 | 4 |
//! |---|---|---|---|---|---|
//! | perfect map on the demo's pair: median | 1.617 | 0.441 | 0.825 | 1.384 | 1.274 |
//! | … ≤ 1.3 in | 26 % | 100 % | 94 % | 40 % | 54 % |
//! | mean over 50 pairs: demo map | 1.808 | 2.139 | 1.960 | 1.750 | 1.527 |
//! | … resample | 1.656 | 1.757 | 1.594 | 1.279 | 1.475 |
//! | … smoothed | 1.600 | 1.689 | 1.532 | 1.218 | 1.407 |
//! | mean over 20 pairs: demo map, L-BFGS conjugate and 2 g steps (`W2Config::demo()` since 2026-12-06) | 1.207 | 1.402 | 1.321 | 1.459 | 1.150 |
//! | … resample (20 pairs) | 1.553 | 1.963 | 1.672 | 1.332 | 1.321 |
//!
//! (Session of 2026-12-06, first reading, superseded below: "the exact map passes ≤ 1.3 × floor on seeds
//! 0–4 with probability 5.3 %".) Row 1 treats the demo's μ_test as random, but it is fixed by the seed,
//! and its wedge counts decide most of the figure: [`the_exact_map_on_the_demo_pair`] computes the
//! exact map's own figure on each seed's pair, and it is 0.88 / 0.27 / 0.54 / 1.35 / 1.08 (seeds 0–4,
//! medians over 100 draws of the within-wedge positions, 10–90 % ranges about ±0.05; seeds 5–9: 1.26 /
//! 0.77 / 1.04 / 0.69 / 1.78). Only seed 3 sits above 1.3 (≤ 1.3 in 25 % of the draws); on the others
//! the gap between the demo map and the target is the map's. Averaged over fresh pairs, the demo
//! map of that session was 0.05–0.38 × floor above what the training sample itself supports; trained
//! on 4000 points instead (`MONGE_DEMO_NTRAIN=4000 MONGE_DEMO_DRAWS=20`, the same 1500 iterations), it
//! averaged 1.115 / 1.441 / 1.174 / 1.439 / 1.320. At 20 pairs a mean ratio still moves by about ±0.15
//! (resample on 4000 points, seed 4: 0.849).
//!
//! The denominator is one draw: the demo's floor W2²(ν_floor, ν_test) on seeds 0–11 reads 0.082 0.185
//! 0.102 0.075 0.074 0.062 0.082 0.310 0.177 0.044 0.172 0.174 (mean 0.128; SPEC §5 gives 0.111 at
//! n = 1000), so the ratio moves with the floor's luck as much as with the map. Against the SPEC's
//! 0.111 the demo map's W2² (`monge demo --seed S --json`, 2 threads) is 1.02 / 0.96 / 0.98 / 0.92 /
//! 1.02 × on seeds 0–4 and 1.16 / 1.02 / 2.78 / 1.48 / 1.19 × on seeds 5–9 (seed 7's ν_test is far from
//! every sample: its own floor is 0.310).
//!
//! Maps fitted on 32 768 points per side (batch 1024, 6000 iterations, the demo's setting otherwise;
//! a scratch run) are no exact reference: two independent fits scored 3.63 and 1.88 on seed 0, 1.23
//! and 1.94 on seed 3, and lay 3.5 and 1.9 floors apart — the wedge argument is what gives the exact
//! figure.

use monge::data::toys::Toy;
use monge::linalg::Mat;
use monge::metrics::exact_w2sq;
use monge::ot::train::Heldout;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::TransportMap;
use monge::random::{streams, Stream};
use std::ops::ControlFlow;

/// The demo's sample size.
const N: usize = 1000;
/// First stream of the fresh draws (the demo uses streams below 16).
const FRESH: u64 = 2000;

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().parse().expect("a list of numbers"))
        .collect()
}

fn target(toy: Toy, seed: u64, stream: u64, n: usize) -> Mat<f64> {
    toy.sample_target::<f32>(n, &mut Stream::new(seed, stream))
        .cast()
}

/// The demo's test targets ν_test and its floor W2²(ν_floor, ν_test) for `seed` (streams DATA_4, DATA_5).
fn test_targets(toy: Toy, seed: u64) -> (Mat<f64>, f64) {
    let y_test = target(toy, seed, streams::DATA_4, N);
    let floor = exact_w2sq(target(toy, seed, streams::DATA_5, N).view(), y_test.view()).unwrap();
    (y_test, floor)
}

/// The map `monge demo --seed S --threads 1` fits (its samples, streams and held-out pair), with
/// `n` points in each training and held-out set (the demo: N).
fn demo_map(toy: Toy, seed: u64, n: usize) -> impl TransportMap<f32> {
    let x: Mat<f32> = toy.sample_source(n, &mut Stream::new(seed, streams::DATA));
    let y: Mat<f32> = toy.sample_target(n, &mut Stream::new(seed, streams::DATA_2));
    let heldout = Heldout::Given(
        toy.sample_source(n, &mut Stream::new(seed, streams::DATA_6)),
        toy.sample_target(n, &mut Stream::new(seed, streams::DATA_7)),
    );
    let cfg = W2Config {
        threads: 1,
        seed,
        progress_every: 0,
        ..W2Config::demo()
    };
    let mut tr = W2Trainer::with_heldout(&x, &y, &heldout, &cfg).unwrap();
    let (_, err) = tr.run_until(cfg.iterations, &mut |_| ControlFlow::Continue(()));
    assert!(err.is_none(), "{err:?}");
    tr.best_map()
}

#[test]
#[ignore = "minutes: the demo figure's sampling noise and sample-limited references (--ignored --nocapture)"]
fn demo_statistical_reference() {
    let toy = Toy::EightGaussians;
    let seeds = env_list("MONGE_DEMO_SEEDS", "0,1,2,3,4");
    let draws = env_list("MONGE_DEMO_DRAWS", "50")[0];
    let n_train = env_list("MONGE_DEMO_NTRAIN", &N.to_string())[0] as usize;
    println!("8gaussians, n = {N} ({n_train} training points): ratios to the sampling floor");
    let mut all_pass = 1.0;
    for seed in seeds {
        // 1. the demo's own statistic for a perfect map
        let (y_test, floor) = test_targets(toy, seed);
        let mut perfect: Vec<f64> = (0..draws)
            .map(|k| {
                let nu2 = target(toy, seed, FRESH + 3 * draws + k, N);
                exact_w2sq(nu2.view(), y_test.view()).unwrap() / floor
            })
            .collect();
        perfect.sort_by(f64::total_cmp);
        let pass = perfect.iter().filter(|&&r| r <= 1.3).count() as f64 / draws as f64;
        all_pass *= pass;
        // 2. mean ratios over fresh test pairs
        let map = demo_map(toy, seed, n_train);
        let y_train = target(toy, seed, streams::DATA_2, n_train);
        let mut rng = Stream::new(seed, FRESH - 2);
        let mut sums = [0.0f64; 4]; // demo map, resample, smoothed, floor
        for k in 0..draws {
            let s = FRESH + 3 * k;
            let x: Mat<f32> = toy.sample_source(N, &mut Stream::new(seed, s));
            let nu = target(toy, seed, s + 1, N);
            let idx: Vec<usize> = (0..N)
                .map(|_| ((rng.uniform_f64() * n_train as f64) as usize).min(n_train - 1))
                .collect();
            let resample = Mat::from_fn(N, 2, |i, j| y_train.get(idx[i], j));
            let smoothed = Mat::from_fn(N, 2, |i, j| resample.get(i, j) + 0.1 * rng.normal_f64());
            let mapped: Mat<f64> = map.transport(&x).cast();
            for (sum, y) in
                sums.iter_mut()
                    .zip([&mapped, &resample, &smoothed, &target(toy, seed, s + 2, N)])
            {
                *sum += exact_w2sq(y.view(), nu.view()).unwrap();
            }
        }
        let r = |i: usize| sums[i] / sums[3];
        println!(
            "seed {seed}: perfect map on the demo's pair: median {:.3}, ≤ 1.3 in {:.0} % (floor \
             {floor:.4}); mean over {draws} pairs: demo map {:.3}, resample {:.3}, smoothed {:.3} \
             (floor {:.4})",
            perfect[perfect.len() / 2],
            100.0 * pass,
            r(0),
            r(1),
            r(2),
            sums[3] / draws as f64
        );
    }
    println!(
        "the exact map passes ≤ 1.3 × floor on every seed with probability {:.1} %",
        100.0 * all_pass
    );
}

/// The 45° wedge around centre k of 8gaussians (k = round(angle / 45°) mod 8) that `p` lies in.
fn wedge(p: &[f64]) -> usize {
    let a = p[1].atan2(p[0]) / std::f64::consts::FRAC_PI_4;
    (a.round() as i64).rem_euclid(8) as usize
}

/// How many rows of `m` lie in each wedge.
fn wedge_counts(m: &Mat<f64>) -> [usize; 8] {
    let mut c = [0usize; 8];
    (0..m.rows()).for_each(|i| c[wedge(m.row(i))] += 1);
    c
}

/// Σ_k |a_k − b_k| / 2: the points that must change wedge to turn counts `a` into `b`.
fn moved(a: &[usize; 8], b: &[usize; 8]) -> usize {
    a.iter().zip(b).map(|(p, q)| p.abs_diff(*q)).sum::<usize>() / 2
}

/// Σ_k counts_k points, counts_k of them independent draws from ν restricted to wedge k (ν drawn and
/// sorted into wedges until every count is filled).
fn wedge_sample(toy: Toy, counts: [usize; 8], rng: &mut Stream) -> Mat<f64> {
    let n: usize = counts.iter().sum();
    let mut left = counts;
    let mut pushed = Mat::zeros(n, 2);
    let mut row = 0;
    while row < n {
        let y: Mat<f64> = toy.sample_target::<f64>(256, rng);
        for i in 0..y.rows() {
            let k = wedge(y.row(i));
            if left[k] > 0 && row < n {
                left[k] -= 1;
                pushed.row_mut(row).copy_from_slice(y.row(i));
                row += 1;
            }
        }
    }
    pushed
}

/// `draws` figures W2²(·, ν_test)/floor of [`wedge_sample`]s with these counts, sorted.
fn wedge_ratios(
    toy: Toy,
    counts: [usize; 8],
    y_test: &Mat<f64>,
    floor: f64,
    draws: usize,
    rng: &mut Stream,
) -> Vec<f64> {
    let mut r: Vec<f64> = (0..draws)
        .map(|_| exact_w2sq(wedge_sample(toy, counts, rng).view(), y_test.view()).unwrap() / floor)
        .collect();
    r.sort_by(f64::total_cmp);
    r
}

/// **The exact map's own figure on each seed's demo pair.** μ = N(0, I) and 8gaussians are both
/// invariant under the 16 rotations and reflections of the octagon, and the optimal map is unique, so
/// T* commutes with them: a point on a reflection axis maps onto that axis, and T* carries each 45°
/// wedge around a centre onto the same wedge (μ and ν give each wedge mass ⅛). Hence T*#μ_test puts
/// exactly a_k points in wedge k, a_k the count of the demo's μ_test in that wedge, and given those
/// counts the points are independent draws from ν restricted to the wedge. The exact map's figure
/// W2²(T*#μ_test, ν_test)/W2²(ν_floor, ν_test) is therefore one draw of the same ratio with T*#μ_test
/// replaced by such a sample (ν drawn and sorted into wedges until every a_k is filled). Per seed
/// (`MONGE_DEMO_SEEDS`, default 0–4) over `MONGE_DEMO_DRAWS` (default 100) draws: the median, the
/// 10–90 % range, the chance of ≤ 1.3, and the wedge counts' imbalance Σ|a_k − b_k|/2 against ν_test's.
///
/// Measured (2026-12-06, `MONGE_DEMO_SEEDS=0,1,2,3,4,5,6,7,8,9`, 100 draws, 6 minutes), median
/// (10–90 %), and the points that must change wedge:
///
/// | seed | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
/// |---|---|---|---|---|---|---|---|---|---|---|
/// | exact map / floor | 0.876 | 0.266 | 0.535 | 1.349 | 1.082 | 1.262 | 0.771 | 1.039 | 0.686 | 1.781 |
/// | 10–90 % | 0.83–0.93 | 0.25–0.29 | 0.50–0.58 | 1.27–1.42 | 1.04–1.15 | 1.17–1.35 | 0.72–0.82 | 1.00–1.09 | 0.65–0.73 | 1.69–1.90 |
/// | ≤ 1.3 in | 100 % | 100 % | 100 % | 25 % | 100 % | 66 % | 100 % | 100 % | 100 % | 0 % |
/// | wedge changes | 51 | 28 | 31 | 36 | 47 | 40 | 32 | 69 | 41 | 48 |
#[test]
#[ignore = "minutes: the exact map's figure on the demo's own pairs (--ignored --nocapture)"]
fn the_exact_map_on_the_demo_pair() {
    let toy = Toy::EightGaussians;
    let seeds = env_list("MONGE_DEMO_SEEDS", "0,1,2,3,4");
    let draws = env_list("MONGE_DEMO_DRAWS", "100")[0] as usize;
    println!(
        "8gaussians, n = {N}: the exact map's W2²(T*#μ_test, ν_test) / floor on the demo's pair"
    );
    let mut all_pass = 1.0;
    for seed in seeds {
        let x_test: Mat<f64> = toy
            .sample_source::<f32>(N, &mut Stream::new(seed, streams::DATA_3))
            .cast();
        let (y_test, floor) = test_targets(toy, seed);
        let (a, b) = (wedge_counts(&x_test), wedge_counts(&y_test));
        let imbalance = moved(&a, &b);
        let mut rng = Stream::new(seed, FRESH + 7000);
        let ratios = wedge_ratios(toy, a, &y_test, floor, draws, &mut rng);
        let q = |p: f64| ratios[((draws as f64 - 1.0) * p).round() as usize];
        let pass = ratios.iter().filter(|&&r| r <= 1.3).count() as f64 / draws as f64;
        all_pass *= pass;
        println!(
            "seed {seed}: median {:.3} (10–90 %: {:.3}–{:.3}), ≤ 1.3 in {:.0} %; wedge counts μ_test \
             {a:?}, ν_test {b:?}, {imbalance} points must change wedge (floor {floor:.4})",
            q(0.5),
            q(0.1),
            q(0.9),
            100.0 * pass
        );
    }
    println!(
        "the exact map passes ≤ 1.3 × floor on every seed with probability {:.1} %",
        100.0 * all_pass
    );
}

/// **Where the demo map's excess comes from: its wedge allocation.** Per seed (`MONGE_DEMO_SEEDS`,
/// default 0–4): the demo's map (`monge demo --seed S --threads 1`), and
/// - its allocation of μ: the share of 50 000 fresh source points it sends into each wedge, per 1000,
///   beside the exact ⅛ (125), the training targets' wedge counts t_k, and the allocation 125 + t_k − s_k
///   of a map that fits the training pair exactly (s_k the training sources' counts: its boundaries give
///   s_k source points the t_k targets): the points that must change wedge between each two (Σ|·|/2);
/// - on the demo's pair: its wedge counts c_k on T̂#μ_test against the exact map's a_k (μ_test's own) and
///   ν_test's b_k, its figure W2²(T̂#μ_test, ν_test)/floor, and references with the exact shape within
///   each wedge (counts drawn from ν restricted to each wedge, medians of `MONGE_DEMO_DRAWS`, default
///   30, as in [`the_exact_map_on_the_demo_pair`]): with the map's counts c_k; with the counts of a map
///   that learned its training targets' allocation exactly, a_k + t_k − 125; and with those of a map
///   that fits its training pair's exactly, a_k + t_k − s_k.
///
/// Measured (2026-12-06, `W2Config::demo()` with 3 L-BFGS conjugate steps and 2 g steps, 100 s):
///
/// | seed | 0 | 1 | 2 | 3 | 4 |
/// |---|---|---|---|---|---|
/// | wedge changes: allocation–⅛ / training targets–⅛ | 25 / 34 | 39 / 43 | 45 / 38 | 23 / 29 | 52 / 29 |
/// | … allocation–training targets / allocation–training pair | 26 / 33 | 46 / 55 | 48 / 41 | 26 / 32 | 54 / 28 |
/// | figure: the demo map | 1.413 | 0.561 | 1.021 | 1.374 | 1.534 |
/// | … its allocation, the exact shape | 1.157 | 0.462 | 0.901 | 1.236 | 1.857 |
/// | … the training targets' allocation, the exact shape | 1.646 | 0.848 | 0.986 | 0.711 | 1.221 |
/// | … the training pair's allocation, the exact shape | 1.808 | 0.943 | 1.638 | 0.861 | 2.053 |
/// | … the exact map (above) | 0.876 | 0.266 | 0.535 | 1.349 | 1.082 |
///
/// - Within the wedges the map is about as good as exact: with its own allocation and the exact shape
///   the figure moves by −0.26 to +0.32, and averages 1.12 against the map's 1.18. The excess over the
///   exact map is where the map puts its wedge boundaries.
/// - Its allocation is off ⅛ by about as much as the training targets' (37 against 35 points per 1000
///   on average), and follows neither the training targets (40 apart) nor the training pair (38): the
///   ICNN's smoothness keeps it from fitting the pair, which would score worse (1.81 / 0.94 / 1.64 /
///   0.86 / 2.05). Longer training, more exact conjugates, larger batches and g's parameter average
///   did not bring it nearer either (`W2Config::demo`'s doc; 2500 iterations with 5 L-BFGS steps
///   improved the mean in 1.7× the demo's time, seed 4 staying at 1.72).
/// - No error-free reference meets the issue's ≤ 1.3 on all five seeds: the exact map fails seed 3
///   (1.35), a map that learns its 1000 training targets' allocation without error fails seed 0
///   (1.65), and one that fits its training pair's fails seeds 0, 2 and 4. Seed 0's training targets
///   have 147 points in wedge 0 where ν_test has 114; an estimator that sees only its sample cannot
///   know the wedge is over-full. Meeting the target on seeds 0 and 3 at once takes an allocation
///   closer to exact than the training sample on one and closer to the training sample than exact on
///   the other: luck, not accuracy.
#[test]
#[ignore = "minutes: the demo map's wedge allocation against the training sample's (--ignored --nocapture)"]
fn the_demo_maps_wedge_allocation() {
    let toy = Toy::EightGaussians;
    let seeds = env_list("MONGE_DEMO_SEEDS", "0,1,2,3,4");
    let draws = env_list("MONGE_DEMO_DRAWS", "30")[0] as usize;
    const BIG: usize = 50_000;
    println!("8gaussians, n = {N}: the demo map's wedge allocation (points per 1000)");
    for seed in seeds {
        let map = demo_map(toy, seed, N);
        let x_test: Mat<f32> = toy.sample_source(N, &mut Stream::new(seed, streams::DATA_3));
        let (y_test, floor) = test_targets(toy, seed);
        let mapped: Mat<f64> = map.transport(&x_test).cast();
        let figure = exact_w2sq(mapped.view(), y_test.view()).unwrap() / floor;
        // the allocation of μ, per 1000, rounded so that it sums to about 1000
        let big: Mat<f32> = toy.sample_source(BIG, &mut Stream::new(seed, FRESH + 8000));
        let q = wedge_counts(&map.transport(&big).cast()).map(|c| (c * N + BIG / 2) / BIG);
        let t = wedge_counts(&target(toy, seed, streams::DATA_2, N));
        let src: Mat<f32> = toy.sample_source(N, &mut Stream::new(seed, streams::DATA));
        let s = wedge_counts(&src.cast());
        let even = [N / 8; 8];
        // what fitting the training pair exactly allocates: boundaries that give the training source's
        // s_k points the training targets' t_k, so μ's wedge k moves by t_k − s_k (per 1000)
        let shift = |base: &[usize; 8], minus: &[usize; 8]| -> [usize; 8] {
            let v: [usize; 8] = std::array::from_fn(|k| (base[k] + t[k]).saturating_sub(minus[k]));
            assert_eq!(v.iter().sum::<usize>(), N, "a wedge count went below 0");
            v
        };
        let pair_alloc = shift(&even, &s);
        let (a, b) = (wedge_counts(&x_test.cast()), wedge_counts(&y_test));
        let c = wedge_counts(&mapped);
        let mut rng = Stream::new(seed, FRESH + 9000);
        let shaped = wedge_ratios(toy, c, &y_test, floor, draws, &mut rng);
        // maps that learn the training targets' allocation exactly (μ_test's counts moved by t_k − ⅛),
        // and the training pair's (moved by t_k − s_k)
        let follow = shift(&a, &even);
        let trained = wedge_ratios(toy, follow, &y_test, floor, draws, &mut rng);
        let follow_pair = shift(&a, &s);
        let paired = wedge_ratios(toy, follow_pair, &y_test, floor, draws, &mut rng);
        println!(
            "seed {seed}: allocation of μ {q:?}, training targets {t:?}, training source {s:?}; \
             changes: allocation–training targets {}, allocation–⅛ {}, training targets–⅛ {}, \
             allocation–training pair's {pair_alloc:?} {}",
            moved(&q, &t),
            moved(&q, &even),
            moved(&t, &even),
            moved(&q, &pair_alloc)
        );
        println!(
            "        on the pair: map {c:?}, exact {a:?}, ν_test {b:?}; changes map–exact {}, map–ν_test \
             {}, exact–ν_test {}; figure {figure:.3}; with the exact shape and the allocation of the \
             map {:.3}, of the training targets {follow:?} {:.3}, of the training pair \
             {follow_pair:?} {:.3} (medians of {draws})",
            moved(&c, &a),
            moved(&c, &b),
            moved(&a, &b),
            shaped[draws / 2],
            trained[draws / 2],
            paired[draws / 2]
        );
    }
}
