//! Checkpoint and resume: a W2 run stopped after k iterations, written to a file, read back into a new
//! trainer and continued ends with the same bits as the run that was never stopped (1 and 2 threads).

use monge::data::toys::Toy;
use monge::io::{load_model, save_model, LoadedModel};
use monge::linalg::Mat;
use monge::ot::train::Stopped;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::random::{streams, Stream};
use std::ops::ControlFlow;

fn go(_: &monge::ot::Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// 300 source and 300 target points of toy `name`, drawn with `seed`.
fn toy(name: &str, seed: u64) -> (Mat<f32>, Mat<f32>) {
    let t = Toy::from_name(name).unwrap();
    let x = t.sample_source(300, &mut Stream::new(seed, streams::DATA));
    let y = t.sample_target(300, &mut Stream::new(seed, streams::DATA_2));
    (x, y)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn w2_resumed_from_a_checkpoint_file_is_bit_identical_at_1_and_2_threads() {
    let (x, y) = toy("moons", 1);
    for threads in [1, 2] {
        let cfg = W2Config {
            hidden: vec![16, 16],
            batch: 64,
            lr_f: 1e-3,
            lr_g: 1e-3,
            cosine_lr: true,
            iterations: 60,
            eval_every: 10,
            threads,
            ..W2Config::default()
        };
        let mut whole = W2Trainer::new(&x, &y, &cfg).unwrap();
        assert_eq!(whole.run_until(60, &mut go).0, Stopped::Cap);
        // stopped at 25 (between evaluations), written, read back into a fresh trainer, continued
        let mut first = W2Trainer::new(&x, &y, &cfg).unwrap();
        assert_eq!(first.run_segment(25, &mut go).0, Stopped::Cap);
        let path =
            std::env::temp_dir().join(format!("monge-ckpt-{}-{threads}.monge", std::process::id()));
        save_model(&path, &first.checkpoint(&[])).unwrap();
        drop(first);
        let saved = match load_model(&path).unwrap() {
            LoadedModel::F32(m) => m,
            LoadedModel::F64(_) => panic!("f32 checkpoint read as f64"),
        };
        std::fs::remove_file(&path).unwrap();
        let mut resumed = W2Trainer::new(&x, &y, &cfg).unwrap();
        resumed.restore(&saved).unwrap();
        assert_eq!(resumed.iteration(), 25);
        assert_eq!(resumed.run_until(60, &mut go).0, Stopped::Cap);
        assert_eq!(
            bits(whole.best_map().potential().params()),
            bits(resumed.best_map().potential().params()),
            "threads {threads}: the returned map differs"
        );
        assert_eq!(bits(whole.f().params()), bits(resumed.f().params()));
        assert_eq!(whole.report().evals, resumed.report().evals);
        assert_eq!(whole.report().heldout, resumed.report().heldout);
        // a checkpoint of another kind or shape is refused
        let other = W2Config {
            hidden: vec![8],
            ..cfg.clone()
        };
        assert!(W2Trainer::new(&x, &y, &other)
            .unwrap()
            .restore(&saved)
            .is_err());
    }
}

#[test]
fn w1_resumed_in_either_phase_is_bit_identical_at_1_and_2_threads() {
    use monge::ot::w1::{W1Config, W1Trainer};
    let (x, y) = toy("8gaussians", 2);
    for threads in [1, 2] {
        let cfg = W1Config {
            potential_iters: 40,
            gan_iters: 60,
            eval_every: 10,
            threads,
            ..W1Config::default()
        };
        let mut whole = W1Trainer::new(&x, &y, &cfg).unwrap();
        assert_eq!(whole.run_all(&mut go).0, Stopped::Cap);
        let want = whole.best_map();
        // stopped in phase 1 (k = 25) and in phase 2 (k = 40 + 35)
        for k in [25, 75] {
            let mut first = W1Trainer::new(&x, &y, &cfg).unwrap();
            assert_eq!(first.run_segment(k, &mut go).0, Stopped::Cap);
            assert_eq!(first.iterations(), k);
            let saved = first.checkpoint(&[]);
            let mut resumed = W1Trainer::new(&x, &y, &cfg).unwrap();
            resumed.restore(&saved).unwrap();
            assert_eq!(resumed.run_all(&mut go).0, Stopped::Cap);
            let got = resumed.best_map();
            assert_eq!(
                bits(want.potential().params()),
                bits(got.potential().params()),
                "threads {threads}, k {k}: potential"
            );
            assert_eq!(
                bits(want.step_size().params()),
                bits(got.step_size().params()),
                "threads {threads}, k {k}: step size"
            );
            assert_eq!(whole.report().evals, resumed.report().evals);
        }
    }
}

/// A checkpoint is refused by a trainer built on data of another dimension, with a shape error that
/// names both (W2 and W1; 2-D toy data against the same points with a third, zero column). Mutation:
/// the `check_dim` call removed from either `restore` fails it (the parameter-length check then
/// reports something else, or the restore succeeds).
#[test]
fn a_checkpoint_for_other_features_is_refused_by_name() {
    use monge::ot::w1::{W1Config, W1Trainer};
    use monge::Error;
    let (x, y) = toy("moons", 3);
    let widen =
        |m: &Mat<f32>| Mat::from_fn(m.rows(), 3, |i, j| if j < 2 { m.get(i, j) } else { 0.0 });
    let (x3, y3) = (widen(&x), widen(&y));
    let refused = |r: monge::Result<()>, what: &str| match r {
        Err(Error::Shape(msg)) => assert!(
            msg.contains("the checkpoint is for d = 2, the data have 3 features"),
            "{what}: {msg}"
        ),
        other => panic!("{what}: expected a shape error, got {other:?}"),
    };
    let w2 = W2Config {
        hidden: vec![8],
        iterations: 2,
        eval_every: 0,
        ..W2Config::default()
    };
    let mut tr = W2Trainer::new(&x, &y, &w2).unwrap();
    tr.run_until(2, &mut go);
    let saved = tr.checkpoint(&[]);
    refused(W2Trainer::new(&x3, &y3, &w2).unwrap().restore(&saved), "W2");
    let w1 = W1Config {
        potential_iters: 2,
        gan_iters: 2,
        eval_every: 0,
        ..W1Config::default()
    };
    let mut tr = W1Trainer::new(&x, &y, &w1).unwrap();
    tr.run_segment(2, &mut go);
    let saved = tr.checkpoint(&[]);
    refused(W1Trainer::new(&x3, &y3, &w1).unwrap().restore(&saved), "W1");
}
