//! The gemm FLOP counter ([`monge::linalg::count_flops`]) against hand counts: one gemm, and the W2
//! outer iteration's closed-form count ([`monge::ot::w2::gemm_flops_per_outer_iteration`]).
//! One `#[test]`, so that no other test's gemm calls run while counting.

use monge::linalg::{count_flops, gemm, Mat, Op};
use monge::ot::penalty::Penalty;
use monge::ot::w2::{gemm_flops_per_outer_iteration, W2Config, W2Trainer};
use monge::random::Stream;

fn data(n: usize, d: usize, seed: u64, shift: f32) -> Mat<f32> {
    let mut r = Stream::new(seed, 1);
    Mat::from_fn(n, d, |_, _| r.normal::<f32>() + shift)
}

#[test]
fn counted_gemm_flops_match_the_hand_counts() {
    // one product: 2·m·k·n, transposes included
    let (a, b) = (data(7, 5, 1, 0.0), data(3, 5, 2, 0.0));
    let mut c = Mat::<f32>::zeros(7, 3);
    let ((), f) = count_flops(|| gemm(1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut()));
    assert_eq!(f, 2 * 7 * 5 * 3);
    // nothing is counted outside a session
    gemm(1.0, a.view(), Op::N, b.view(), Op::T, 0.0, c.view_mut());
    let ((), f) = count_flops(|| ());
    assert_eq!(f, 0);

    // the W2 outer iteration: every gemm of G1–G4 (×g_iters) and F1–F2, on any thread
    for &(d, batch, ref hidden, g_iters, threads, penalty) in &[
        (
            3usize,
            32usize,
            vec![8usize, 8],
            2usize,
            1usize,
            Penalty::None,
        ),
        (
            7,
            48,
            vec![16, 8, 4],
            3,
            2,
            Penalty::SmoothedL0 { sigma: 1.0 },
        ),
        (2, 64, vec![64; 4], 10, 2, Penalty::None),
    ] {
        let cfg = W2Config {
            hidden: hidden.clone(),
            batch,
            g_iters,
            threads,
            penalty,
            lambda: 0.5,
            eval_every: 0,
            heldout_fraction: 0.0,
            ..W2Config::default()
        };
        let (x, y) = (data(200, d, 3, 0.0), data(200, d, 4, 1.0));
        let mut tr = W2Trainer::new(&x, &y, &cfg).unwrap();
        tr.step().unwrap();
        let (r, f) = count_flops(|| tr.step());
        r.unwrap();
        let want = gemm_flops_per_outer_iteration(d, batch, hidden, g_iters);
        assert_eq!(
            f as f64, want,
            "d {d}, batch {batch}, hidden {hidden:?}, {threads} threads"
        );
    }
}
