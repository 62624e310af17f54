//! Baseline maps (SPEC §3.5): identity and mean shift, with their saved form.

use monge::linalg::Mat;
use monge::metrics::l2_means;
use monge::ot::baselines::{Identity, MeanShift};
use monge::ot::TransportMap;
use monge::random::Stream;

fn sample(n: usize, d: usize, shift: f32, seed: u64) -> Mat<f32> {
    let mut s = Stream::new(seed, 8);
    Mat::from_fn(n, d, |_, j| shift * j as f32 + s.normal::<f32>())
}

#[test]
fn mean_shift_matches_the_target_mean() {
    let x = sample(300, 4, 0.0, 1);
    let y = sample(200, 4, 1.5, 2);
    let m = MeanShift::fit(x.view(), y.view()).unwrap();
    let tx = m.transport(&x);
    // Means agree up to f32 rounding of the shifted values.
    assert!(l2_means(tx.view(), y.view()) < 1e-5);
    // The map is the translation by s, the difference of the f64 sample means.
    for j in 0..4 {
        let mean =
            |m: &Mat<f32>| (0..m.rows()).map(|i| m.get(i, j) as f64).sum::<f64>() / m.rows() as f64;
        assert_eq!(m.shift()[j], (mean(&y) - mean(&x)) as f32);
        for i in 0..300 {
            assert_eq!(tx.get(i, j), x.get(i, j) + m.shift()[j]);
        }
    }
    assert!(MeanShift::fit(x.view(), sample(5, 3, 0.0, 3).view()).is_err());
}

#[test]
fn baselines_round_trip_through_saved_models() {
    let x = sample(50, 3, 0.0, 4);
    let y = sample(60, 3, 2.0, 5);
    let m = MeanShift::fit(x.view(), y.view()).unwrap();
    let saved = m.to_saved();
    assert_eq!(saved.method, "mean-shift");
    let back = MeanShift::from_saved(&saved).unwrap();
    assert_eq!(back.transport(&x), m.transport(&x));
    let id = Identity::new(3);
    let saved_id = TransportMap::<f32>::to_saved(&id);
    assert_eq!(saved_id.method, "identity");
    let id2 = Identity::from_saved(&saved_id).unwrap();
    assert_eq!(TransportMap::<f32>::transport(&id2, &x), x);
    // Wrong method or a damaged tensor is a model error.
    assert!(MeanShift::from_saved(&saved_id).is_err());
    assert!(Identity::from_saved(&saved).is_err());
    let mut bad = saved.clone();
    bad.tensors[0].1 = vec![4];
    assert!(MeanShift::from_saved(&bad).is_err());
}
