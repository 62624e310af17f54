//! `ops::exp_nonpositive` (ELU's eˣ and eˣ − 1 without a library call) against the standard library's
//! `exp` and `exp_m1`, in f64 and f32.

use monge::linalg::ops::exp_nonpositive;
use monge::linalg::Real;

/// The points checked: a uniform grid over [x_min, 0], a geometric one towards 0 (where eˣ − 1 must
/// keep its relative accuracy), and the half-integer multiples of ln 2 (where the reduction's k steps).
fn points(x_min: f64) -> Vec<f64> {
    let mut xs: Vec<f64> = (0..=100_000)
        .map(|i| x_min * i as f64 / 100_000.0)
        .collect();
    xs.extend((0..400).map(|i| -(10f64).powf(-12.0 + i as f64 * 0.03)));
    let ln2 = std::f64::consts::LN_2;
    xs.extend((1..(2.0 * -x_min / ln2) as usize).map(|j| -(j as f64) * ln2 / 2.0));
    xs
}

/// The largest relative errors of eˣ and of eˣ − 1 in units of the type's ε, against the f64 library
/// functions of the same (type-rounded) x.
fn worst_errors<T: Real>(x_min: f64) -> (f64, f64) {
    let (mut e_worst, mut m_worst) = (0f64, 0f64);
    for x in points(x_min) {
        let xt = T::from_f64(x);
        let (e, m) = exp_nonpositive(xt);
        let x = xt.to_f64();
        let (re, rm) = (x.exp(), x.exp_m1());
        e_worst = e_worst.max(((e.to_f64() - re) / re).abs());
        if rm != 0.0 {
            m_worst = m_worst.max(((m.to_f64() - rm) / rm).abs());
        }
    }
    let eps = T::EPSILON.to_f64();
    (e_worst / eps, m_worst / eps)
}

#[test]
fn exp_nonpositive_is_within_one_and_a_half_ulps_of_the_library_in_f64_and_f32() {
    let (e64, m64) = worst_errors::<f64>(-708.0);
    let (e32, m32) = worst_errors::<f32>(-87.0);
    println!("worst relative error / ε: f64 exp {e64:.2}, expm1 {m64:.2}; f32 exp {e32:.2}, expm1 {m32:.2}");
    for (what, err) in [
        ("f64 exp", e64),
        ("f64 expm1", m64),
        ("f32 exp", e32),
        ("f32 expm1", m32),
    ] {
        assert!(err <= 1.5, "{what}: {err} ε");
    }
}

#[test]
fn exp_nonpositive_clamps_outside_its_domain_and_keeps_nan() {
    assert_eq!(exp_nonpositive(0.5f64), (1.0, 0.0));
    assert_eq!(exp_nonpositive(f32::INFINITY), (1.0, 0.0));
    let (tiny, m) = exp_nonpositive(-1e4f64);
    assert_eq!((tiny, m), exp_nonpositive(-708.0f64));
    assert!(tiny > 0.0 && tiny < 1e-307 && m == -1.0);
    let (tiny, _) = exp_nonpositive(f32::NEG_INFINITY);
    assert!(tiny > 0.0 && tiny < 2e-38);
    let (e, m) = exp_nonpositive(f64::NAN);
    assert!(e.is_nan() && m.is_nan());
    let (e, m) = exp_nonpositive(f32::NAN);
    assert!(e.is_nan() && m.is_nan());
}
