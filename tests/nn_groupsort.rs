//! GroupSort: sorted groups, permutation backward (finite differences, f64), norm preservation.

use monge::gradcheck::GradCheck;
use monge::linalg::{Mat, Real};
use monge::nn::groupsort::{batcher_network, GroupSort};
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

#[test]
fn batcher_networks_sort_every_zero_one_input() {
    // the 0-1 principle: a comparator network sorts every input iff it sorts every 0-1 input
    for (n, comparators) in [(2usize, 1usize), (4, 5), (8, 19), (16, 63)] {
        let (net, len) = batcher_network(n);
        assert_eq!(len, comparators, "n = {n}");
        for bits in 0u32..(1 << n) {
            let mut v: Vec<u32> = (0..n).map(|i| (bits >> i) & 1).collect();
            for &(a, b) in &net[..len] {
                let (a, b) = (a as usize, b as usize);
                assert!(a < b);
                if v[b] < v[a] {
                    v.swap(a, b);
                }
            }
            assert!(
                v.windows(2).all(|p| p[0] <= p[1]),
                "n = {n}, input {bits:b}"
            );
        }
    }
    assert_eq!(batcher_network(32).1, 191);
}

/// Sorts `x` with group size k both ways and checks values and positions against a stable reference sort
/// (`y[i, ρ_i(j)] = x[i, j]`, equal values in input order).
fn check_sort_and_positions<T: Real>(x: &Mat<T>, k: usize) {
    let (b, w) = x.shape();
    for descending in [true, false] {
        let gs = GroupSort {
            group: k,
            descending,
        };
        let mut y = Mat::zeros(b, w);
        let mut perm = vec![0u32; b * w];
        gs.forward(x, &mut y, &mut perm);
        for i in 0..b {
            for g in (0..w).step_by(k) {
                let mut want = x.row(i)[g..g + k].to_vec();
                want.sort_by(|a, c| a.partial_cmp(c).unwrap());
                if descending {
                    want.reverse();
                }
                assert_eq!(&y.row(i)[g..g + k], &want[..], "{} k {k} row {i}", T::NAME);
                // positions: a stable sort, ties in input order — every kernel gives exactly this
                let mut order: Vec<usize> = (0..k).collect();
                order.sort_by(|&a, &c| {
                    let (va, vc) = (x.get(i, g + a), x.get(i, g + c));
                    if descending {
                        vc.partial_cmp(&va).unwrap()
                    } else {
                        va.partial_cmp(&vc).unwrap()
                    }
                });
                for (p, &j) in order.iter().enumerate() {
                    assert_eq!(
                        perm[i * w + g + j] as usize,
                        g + p,
                        "{} k {k} row {i}",
                        T::NAME
                    );
                    assert_eq!(y.get(i, g + p), x.get(i, g + j));
                }
            }
        }
    }
}

#[test]
fn every_kernel_gives_the_same_sort_and_positions() {
    // 37 rows: two full blocks of 16 rows and a partial one; group sizes 2..32 use the network (f32
    // groups of 16 the AVX-512 bitonic kernel where the CPU has it), 3, 6 and 12 the rank count
    // (16, 16) and (16, 48): 37 and 111 groups, not a multiple of the bitonic kernel's 8 groups per step
    for &(k, w) in &[
        (2usize, 8usize),
        (4, 8),
        (8, 16),
        (16, 16),
        (16, 48),
        (16, 64),
        (32, 64),
        (3, 9),
        (6, 12),
        (12, 24),
    ] {
        let x = random(37, w, k as u64 + 20);
        check_sort_and_positions(&x, k);
        check_sort_and_positions(&x.cast::<f32>(), k);
    }
    // ties: small integers repeat within every group
    let mut rng = Stream::new(5, 2);
    let t = Mat::<f64>::from_fn(40, 64, |_, _| (rng.uniform_f64() * 5.0).floor());
    for k in [4usize, 16] {
        check_sort_and_positions(&t, k);
        check_sort_and_positions(&t.cast::<f32>(), k);
    }
}

#[test]
fn groupsort_keeps_a_nan_in_its_group() {
    for k in [4usize, 16, 6] {
        let mut x = random(3, 2 * k, 40);
        x.set(1, k + 2, f64::NAN);
        keeps_nan(&x, k);
        keeps_nan(&x.cast::<f32>(), k);
    }
}

fn keeps_nan<T: Real>(x: &Mat<T>, k: usize) {
    {
        let gs = GroupSort {
            group: k,
            descending: true,
        };
        let mut y = Mat::zeros(3, 2 * k);
        let mut perm = vec![0u32; 3 * 2 * k];
        gs.forward(x, &mut y, &mut perm);
        let nans = |m: &Mat<T>| m.as_slice().iter().filter(|v| !v.is_finite()).count();
        assert!(nans(&y) >= 1, "k {k}: the NaN vanished");
        assert!(y.row(1)[k..].iter().any(|v| !v.is_finite()), "k {k}");
        assert!(y.row(1)[..k].iter().all(|v| v.is_finite()), "k {k}");
    }
}
