//! Known-map pairs (SPEC §5): T* is the gradient of a strongly convex potential, and the target sample is
//! its push-forward.

use monge::data::{known_map_pair, KnownMap};
use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::metrics::l2_uvp;
use monge::random::Stream;
use proptest::prelude::*;

#[test]
fn known_map_is_the_gradient_of_the_potential() {
    let map = KnownMap::random(6, 3, &mut Stream::new(1, 8));
    let x = map.sample_source::<f64>(5, &mut Stream::new(2, 8));
    let tx = map.map(x.view());
    for i in 0..5 {
        GradCheck::default()
            .check(|p| map.potential(p), x.row(i), tx.row(i))
            .assert_below(1e-6, "∇ψ* vs T*");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn known_map_is_half_strongly_monotone(seed in any::<u64>(), d in 1usize..12) {
        // ψ* is ½-strongly convex ⇒ ⟨T*(x) − T*(x'), x − x'⟩ ≥ ½‖x − x'‖².
        let map = KnownMap::random(d, 2, &mut Stream::new(seed, 8));
        let x = map.sample_source::<f64>(8, &mut Stream::new(seed, 9));
        let tx = map.map(x.view());
        for i in 0..4 {
            let j = i + 4;
            let (mut inner, mut dist2) = (0.0, 0.0);
            for c in 0..d {
                let dx = x.get(i, c) - x.get(j, c);
                inner += (tx.get(i, c) - tx.get(j, c)) * dx;
                dist2 += dx * dx;
            }
            prop_assert!(inner >= 0.5 * dist2 * (1.0 - 1e-12), "{inner} < ½·{dist2}");
        }
    }
}

#[test]
fn known_map_target_is_the_push_forward_of_the_source() {
    // Mean of T*(μ) estimated two independent ways: the target sample and T* of the source sample.
    // n = 4000 each; the per-coordinate std of the mean is ≤ sd/√4000; compare at 5 standard errors.
    let pair = known_map_pair::<f64>(4000, 4000, 3, 2, 7).unwrap();
    let mapped = pair.map.map(pair.source.view());
    for c in 0..3 {
        let col = |m: &Mat<f64>| (0..m.rows()).map(|i| m.get(i, c)).collect::<Vec<_>>();
        let (a, b) = (col(&mapped), col(&pair.target));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64
        };
        let se = ((var(&a) + var(&b)) / 4000.0).sqrt();
        assert!((mean(&a) - mean(&b)).abs() < 5.0 * se, "coordinate {c}");
    }
    // T* scores L2-UVP 0; the identity does not.
    assert_eq!(
        l2_uvp(mapped.view(), mapped.view(), pair.target.view()),
        0.0
    );
    assert!(l2_uvp(pair.source.view(), mapped.view(), pair.target.view()) > 1.0);
}

#[test]
fn known_map_pair_is_deterministic_and_typed() {
    let a = known_map_pair::<f32>(50, 40, 4, 3, 11).unwrap();
    let b = known_map_pair::<f32>(50, 40, 4, 3, 11).unwrap();
    assert_eq!(a.source, b.source);
    assert_eq!(a.target, b.target);
    assert_eq!((a.target.rows(), a.target.cols()), (40, 4));
    assert_ne!(
        a.source,
        known_map_pair::<f32>(50, 40, 4, 3, 12).unwrap().source
    );
    assert!(known_map_pair::<f32>(0, 40, 4, 3, 11).is_err());
}
