//! The λ annealers (Alg. 1 and 2) driving a real, small W2 trainer: the recorded steps follow their rules
//! on the trainer's own batches and map, and a schedule stopped at any outer iteration, checkpointed to a
//! file with the trainer and resumed ends with the same bits as one never stopped (1 and 2 threads).

mod anneal_common;

use anneal_common::metropolis;
use monge::io::{load_model, save_model, LoadedModel};
use monge::linalg::Mat;
use monge::ot::anneal::{
    displacement_dim, Alg1, Alg2, AnnealConfig, Annealer, DimBudgetConfig, Flow,
};
use monge::ot::penalty::Penalty;
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::TransportMap;
use monge::random::{streams, Stream};

/// d = 4: the target is the source moved by 2 along the first two coordinates (a sparse displacement).
fn data(n: usize, seed: u64) -> (Mat<f32>, Mat<f32>) {
    let mut a = Stream::new(seed, streams::DATA);
    let mut b = Stream::new(seed, streams::DATA_2);
    let x = Mat::from_fn(n, 4, |_, _| a.normal::<f32>());
    let y = Mat::from_fn(n, 4, |_, j| {
        b.normal::<f32>() + if j < 2 { 2.0 } else { 0.0 }
    });
    (x, y)
}

fn w2(threads: usize) -> W2Config {
    W2Config {
        hidden: vec![16, 16],
        batch: 64,
        lr_f: 1e-3,
        lr_g: 1e-3,
        penalty: Penalty::Stvs { gamma: 1.0 },
        eval_every: 0,
        threads,
        ..W2Config::default()
    }
}

fn alg1() -> AnnealConfig {
    AnnealConfig {
        initial_iters: 20,
        adjust_iters: 6,
        smooth_iters: 3,
        lambda0: 0.5,
        alpha: 0.01,
        balance: 1.0,
        n_projections: 16,
        ..AnnealConfig::default()
    }
}

fn alg2() -> DimBudgetConfig {
    DimBudgetConfig {
        budget: 3.5,
        threshold: 1.0,
        lambda0: 0.05,
        warmup_iters: 30,
        block_iters: 8,
        window: 3,
        max_increases: 8,
        n_projections: 8,
        max_steps: 6,
        ..DimBudgetConfig::default()
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn alg1_drives_a_w2_trainer_by_the_metropolis_rule() {
    let (x, y) = data(300, 1);
    // smooth_iters 0: the trainer's last batch is the one the last step was measured on
    // α and the balance scaled so that |ΔE| is comparable to T (with [C25]'s it is in the hundreds here
    // and the draw never decides)
    let cfg = AnnealConfig {
        smooth_iters: 0,
        alpha: 1e-5,
        balance: 1e-2,
        ..alg1()
    };
    let mut tr = W2Trainer::new(&x, &y, &w2(1)).unwrap();
    let rep = monge::ot::anneal::anneal_lambda(&mut tr, &cfg).unwrap();
    assert_eq!(rep.steps.len(), 37);
    let (_, accepted_worse) = metropolis(&rep);
    let mut lam = cfg.lambda0;
    for (k, st) in rep.steps.iter().enumerate() {
        assert_eq!(st.lambda_before, lam, "step {k}");
        if st.accepted {
            lam = st.lambda_proposed;
        }
    }
    println!("alg1 on W2: final λ {lam}, {accepted_worse} worse proposals accepted");
    assert!(accepted_worse > 0, "the draw never decided");
    assert_eq!((rep.final_lambda, tr.lambda()), (lam, lam));
    assert_eq!(rep.iterations, tr.iteration());
    assert_eq!(
        rep.iterations,
        cfg.initial_iters + rep.steps.len() * cfg.adjust_iters
    );
    // the last step's Spa is the STVS sum over the trainer's last batch (Alg. 1's metric, γ = 100)
    let pen = Penalty::Stvs {
        gamma: cfg.stvs_gamma,
    };
    let spa = pen.displacement_sum(tr.last_source().view(), tr.last_mapped().view());
    assert_eq!(rep.steps.last().unwrap().spa, spa);
}

#[test]
fn alg2_reports_the_dimensionality_of_the_w2_map_it_returns() {
    let (x, y) = data(300, 2);
    let cfg = alg2();
    let mut tr = W2Trainer::new(&x, &y, &w2(1)).unwrap();
    let rep = monge::ot::anneal::dim_budget(&mut tr, &cfg).unwrap();
    println!(
        "alg2 on W2: increases {:?}, {} steps, final λ {}, dim {:?}",
        rep.increases,
        rep.steps.len(),
        rep.final_lambda,
        rep.final_dim
    );
    // λ grows by 1.5 per block in the increase phase and in the repair blocks after the last proposal
    let first = rep.steps.first().map_or(usize::MAX, |s| s.iteration);
    let last = rep.steps.last().map_or(0, |s| s.iteration);
    let (inc, rest): (Vec<&(usize, f64, f64)>, Vec<_>) =
        rep.increases.iter().partition(|r| r.0 < first);
    for group in [inc, rest] {
        for w in group.windows(2) {
            assert!(w[1].0 > last || w[0].0 < first);
            assert_eq!(w[1].1, w[0].1 * cfg.increase, "{:?}", rep.increases);
        }
    }
    // the proposals follow λ' = λ·(1 − u·r) with the recorded draw
    for st in &rep.steps {
        assert!(st.lambda_proposed <= st.lambda_before && (0.0..1.0).contains(&st.uniform));
        assert_eq!(st.accepted, st.eval <= cfg.budget);
    }
    assert_eq!(rep.final_lambda, tr.lambda());
    assert_eq!(rep.iterations, tr.iteration());
    // the final dim is the returned map's (∇g now) on the evaluation sample, measured here again
    let (xs, _) = tr.mapped_training_sample();
    let xs = Mat::from_fn(xs.rows(), xs.cols(), |i, j| xs.get(i, j));
    let moved = tr.map().transport(&xs);
    let (dim, q3) = displacement_dim(xs.view(), moved.view(), cfg.threshold);
    assert_eq!(rep.final_dim, Some(dim));
    assert_eq!(rep.final_dim_q3, Some(q3));
    assert_eq!(rep.budget_met, Some(dim <= cfg.budget));
}

/// The phase of a checkpointed annealer (its `anneal.phase` entry, up to the first field).
fn phase_of(saved: &monge::ot::SavedModel<f32>) -> String {
    let p = saved.hyper("anneal.phase").expect("an annealer entry");
    let mut parts = p.split(';');
    let head = parts.next().unwrap().to_string();
    if head == "block" {
        format!("block:{}", parts.next().unwrap().split(':').next().unwrap())
    } else {
        head
    }
}

#[test]
fn annealers_resumed_from_a_checkpoint_file_are_bit_identical_at_1_and_2_threads() {
    let (x, y) = data(300, 3);
    let fresh = |alg: usize| match alg {
        1 => Annealer::Alg1(Alg1::new(&alg1())),
        _ => Annealer::Alg2(Alg2::new(&alg2())),
    };
    for alg in [1, 2] {
        for threads in [1, 2] {
            let cfg = w2(threads);
            let mut whole = W2Trainer::new(&x, &y, &cfg).unwrap();
            let mut a = fresh(alg);
            assert_eq!(a.run(&mut whole, usize::MAX).unwrap(), Flow::Finished);
            let want = format!("{:?}", a.report(whole.lambda(), Flow::Finished));
            let total = a.done();
            let mut phases = Vec::new();
            // stopped in the warm-up, and at several points of the schedule after it
            for k in [7, 33, 47, 61, 90, total - 1] {
                let mut first = W2Trainer::new(&x, &y, &cfg).unwrap();
                let mut a = fresh(alg);
                assert_eq!(a.run(&mut first, k).unwrap(), Flow::Paused);
                assert_eq!((a.done(), first.iteration()), (k, k));
                let path = std::env::temp_dir().join(format!(
                    "monge-anneal-{}-{alg}-{threads}-{k}.monge",
                    std::process::id()
                ));
                save_model(&path, &a.checkpoint_into(first.checkpoint(&[]))).unwrap();
                drop((first, a));
                let saved = match load_model(&path).unwrap() {
                    LoadedModel::F32(m) => m,
                    LoadedModel::F64(_) => panic!("f32 checkpoint read as f64"),
                };
                std::fs::remove_file(&path).unwrap();
                phases.push(phase_of(&saved));
                let mut resumed = W2Trainer::new(&x, &y, &cfg).unwrap();
                resumed.restore(&saved).unwrap();
                let mut a = fresh(alg);
                a.restore(&saved).unwrap();
                assert_eq!(a.run(&mut resumed, usize::MAX).unwrap(), Flow::Finished);
                let what = format!("alg {alg}, threads {threads}, k {k}");
                assert_eq!(
                    bits(whole.g().params()),
                    bits(resumed.g().params()),
                    "{what}: g"
                );
                assert_eq!(
                    bits(whole.f().params()),
                    bits(resumed.f().params()),
                    "{what}: f"
                );
                let got = format!("{:?}", a.report(resumed.lambda(), Flow::Finished));
                assert_eq!(want, got, "{what}: the schedule");
                // the other algorithm's state is refused
                assert!(fresh(3 - alg).restore(&saved).is_err());
            }
            println!("alg {alg}, threads {threads}: {total} iterations, stopped in {phases:?}");
            let need: &[&str] = if alg == 1 {
                &["warmup", "adjust", "smooth"]
            } else {
                &["warmup", "block:increase", "block:decrease"]
            };
            for p in need {
                assert!(phases.iter().any(|q| q == p), "{phases:?} lacks {p}");
            }
        }
    }
}
