//! The toys follow their definitions: moments and supports that the formulas of SPEC §5 imply.

use monge::data::toys::{circles_pair_is_inner, Toy};
use monge::linalg::Mat;
use monge::random::Stream;

fn mean_and_second(m: &Mat<f64>) -> ([f64; 2], [f64; 2]) {
    let n = m.rows() as f64;
    let mut mu = [0.0; 2];
    let mut sq = [0.0; 2];
    for i in 0..m.rows() {
        for j in 0..2 {
            mu[j] += m.get(i, j) / n;
            sq[j] += m.get(i, j).powi(2) / n;
        }
    }
    (mu, sq)
}

#[test]
fn names_round_trip_and_unknown_is_a_usage_error() {
    for t in Toy::ALL {
        assert_eq!(Toy::from_name(t.name()).unwrap(), t);
    }
    let e = Toy::from_name("nine-gaussians").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("8gaussians"));
}

#[test]
fn eight_gaussians_radius_and_spread() {
    let mut rng = Stream::new(1, 8);
    let y: Mat<f64> = Toy::EightGaussians.sample_target(20_000, &mut rng);
    // E‖y‖² = (16 + 2·0.25)/1.414² ≈ 8.25
    let (mu, sq) = mean_and_second(&y);
    assert!(mu[0].abs() < 0.08 && mu[1].abs() < 0.08, "{mu:?}");
    let e2 = sq[0] + sq[1];
    assert!((e2 - 16.5 / 1.414f64.powi(2)).abs() < 0.15, "{e2}");
    // every point within 4·0.5/1.414·5 of some centre of radius 4/1.414
    for i in 0..y.rows() {
        let r = (y.get(i, 0).powi(2) + y.get(i, 1).powi(2)).sqrt();
        assert!((r - 4.0 / 1.414).abs() < 2.5 / 1.414 * 2.0, "{r}");
    }
}

#[test]
fn source_is_standard_normal() {
    let mut rng = Stream::new(2, 8);
    let x: Mat<f64> = Toy::Moons.sample_source(20_000, &mut rng);
    let (mu, sq) = mean_and_second(&x);
    for j in 0..2 {
        assert!(mu[j].abs() < 0.03 && (sq[j] - 1.0).abs() < 0.05);
    }
}

#[test]
fn moons_and_circles_have_their_sklearn_geometry() {
    let mut rng = Stream::new(3, 8);
    let y: Mat<f64> = Toy::Circles.sample_target(4000, &mut rng);
    // radii ≈ 3 and 1.5 (noise 0.08·3): each point within 0.24·5 of one of them, half on each
    let mut outer = 0;
    for i in 0..y.rows() {
        let r = (y.get(i, 0).powi(2) + y.get(i, 1).powi(2)).sqrt();
        assert!((r - 3.0).abs() < 1.2 || (r - 1.5).abs() < 1.2);
        if r > 2.25 {
            outer += 1;
        }
    }
    assert!((outer as i64 - 2000).abs() < 60, "{outer}");
    let y: Mat<f64> = Toy::Moons.sample_target(4000, &mut rng);
    // x-range of make_moons is [−1, 2] before ×2 − 1: [−3, 3] (+ noise)
    let (mu, _) = mean_and_second(&y);
    assert!((mu[0] - 0.0).abs() < 0.1, "{mu:?}"); // arcs centred at 0.5·2 − 1 = 0
    assert!((mu[1] - 0.3).abs() < 0.1, "{mu:?}"); // E[y] = 0.25·2 − 0.2 ≈ 0.3 (arcs' mean heights ±2/π)
}

#[test]
fn checkerboard_occupies_alternate_squares() {
    let mut rng = Stream::new(4, 8);
    let y: Mat<f64> = Toy::Checkerboard.sample_target(5000, &mut rng);
    for i in 0..y.rows() {
        let (a, b) = (y.get(i, 0) / 2.0, y.get(i, 1) / 2.0);
        assert!((-2.0..2.0).contains(&a) && (-2.0..2.0).contains(&b));
        // cells (⌊a⌋ + ⌊b⌋) even
        assert_eq!(
            (a.floor() as i64 + b.floor() as i64).rem_euclid(2),
            0,
            "({a}, {b})"
        );
    }
}

#[test]
fn bookshelf_and_circles_pair_supports() {
    let mut rng = Stream::new(5, 8);
    let x: Mat<f64> = Toy::Bookshelf.sample_source(1000, &mut rng);
    let y: Mat<f64> = Toy::Bookshelf.sample_target(1000, &mut rng);
    for i in 0..1000 {
        assert!((0.0..1.0).contains(&x.get(i, 0)) && (2.0..3.0).contains(&y.get(i, 0)));
        assert!(x.get(i, 1).abs() < 0.01 && y.get(i, 1).abs() < 0.01);
    }
    let s: Mat<f64> = Toy::CirclesPair.sample_source(1000, &mut rng);
    for i in 0..1000 {
        let r = (s.get(i, 0).powi(2) + s.get(i, 1).powi(2)).sqrt();
        let want = if circles_pair_is_inner(i, 1000) {
            1.0
        } else {
            3.0
        };
        assert!((r - want).abs() < 0.4, "{i}: {r}");
    }
}

#[test]
fn swissroll_radius_range() {
    let mut rng = Stream::new(6, 8);
    let y: Mat<f64> = Toy::SwissRoll.sample_target(3000, &mut rng);
    // noiseless radius t/5 ∈ [0.3π, 0.9π]; noise N(0, I)/5 widens by ≤ 1 (5σ)
    for i in 0..y.rows() {
        let r = (y.get(i, 0).powi(2) + y.get(i, 1).powi(2)).sqrt();
        assert!(r > 0.3 * std::f64::consts::PI - 1.0 && r < 0.9 * std::f64::consts::PI + 1.0);
    }
}

#[test]
fn same_seed_same_sample() {
    for t in Toy::ALL {
        let a: Mat<f32> = t.sample_target(100, &mut Stream::new(9, 8));
        let b: Mat<f32> = t.sample_target(100, &mut Stream::new(9, 8));
        assert_eq!(a, b);
    }
}
