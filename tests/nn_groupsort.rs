//! GroupSort: sorted groups, permutation backward (finite differences, f64), norm preservation.

use monge::gradcheck::GradCheck;
use monge::linalg::Mat;
use monge::nn::groupsort::GroupSort;
use monge::random::Stream;

fn random(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = Stream::new(seed, 2);
    Mat::from_fn(rows, cols, |_, _| rng.normal())
}

#[test]
fn groupsort_sorts_each_group_in_the_chosen_direction() {
    let x = random(5, 12, 1);
    for descending in [true, false] {
        let gs = GroupSort {
            group: 4,
            descending,
        };
        let mut y = Mat::zeros(5, 12);
        let mut perm = vec![0u32; 60];
        gs.forward(&x, &mut y, &mut perm);
        for i in 0..5 {
            for g in 0..3 {
                let yr = &y.row(i)[g * 4..g * 4 + 4];
                let mut xr = x.row(i)[g * 4..g * 4 + 4].to_vec();
                xr.sort_by(|a, b| a.partial_cmp(b).unwrap());
                if descending {
                    xr.reverse();
                }
                assert_eq!(yr, &xr[..], "row {i} group {g}");
            }
        }
    }
}

#[test]
fn groupsort_w1ot_default_is_four_groups() {
    let gs = GroupSort::w1ot(64);
    assert_eq!(gs.group, 16);
    assert!(gs.descending);
}

#[test]
fn groupsort_backward_matches_finite_differences() {
    for &k in &[2usize, 3, 6] {
        let (b, w) = (4, 6);
        let x = random(b, w, k as u64);
        let g = random(b, w, 10 + k as u64);
        let gs = GroupSort {
            group: k,
            descending: k % 2 == 0,
        };
        let mut y = Mat::zeros(b, w);
        let mut perm = vec![0u32; b * w];
        gs.forward(&x, &mut y, &mut perm);
        let mut xb = Mat::zeros(b, w);
        gs.backward(&g, &perm, &mut xb);
        let loss = |p: &[f64]| {
            let xm = Mat::from_vec(b, w, p.to_vec()).unwrap();
            let mut y = Mat::zeros(b, w);
            let mut perm = vec![0u32; b * w];
            gs.forward(&xm, &mut y, &mut perm);
            y.as_slice()
                .iter()
                .zip(g.as_slice())
                .map(|(a, c)| a * c)
                .sum()
        };
        GradCheck::default()
            .check(loss, x.as_slice(), xb.as_slice())
            .assert_below(1e-6, &format!("groupsort k={k}"));
    }
}

#[test]
fn groupsort_is_a_permutation_so_it_preserves_norms_and_gradient_norms() {
    let x = random(8, 16, 3);
    let gs = GroupSort::w1ot(16);
    let mut y = Mat::zeros(8, 16);
    let mut perm = vec![0u32; 128];
    gs.forward(&x, &mut y, &mut perm);
    let mut xb = Mat::zeros(8, 16);
    gs.backward(&x, &perm, &mut xb);
    for i in 0..8 {
        let nx: f64 = x.row(i).iter().map(|v| v * v).sum();
        let ny: f64 = y.row(i).iter().map(|v| v * v).sum();
        let nb: f64 = xb.row(i).iter().map(|v| v * v).sum();
        // same terms, summed in another order: equal up to rounding
        assert!((nx - ny).abs() <= 1e-14 * nx, "{nx} vs {ny}");
        assert!((nx - nb).abs() <= 1e-14 * nx, "{nx} vs {nb}");
    }
}
