//! Issue 14, items 6, 12 and 13: options out of range, sizes refused before allocating, number syntax,
//! knobs without their penalty, the MMD subsample of `eval`, and the smaller ones (history/plot names,
//! an empty history, an unknown experiment).

mod common;
use common::*;
use std::fs;

#[test]
fn counts_parse_in_scientific_notation_and_bad_numbers_are_usage_errors() {
    let dir = scratch("opt-numbers");
    let o = run(
        "synth toy --dataset moons --n 1e2 --out-source s.csv --out-target t.csv",
        &dir,
    );
    expect_ok(&o);
    assert_eq!(
        fs::read_to_string(dir.join("s.csv"))
            .unwrap()
            .lines()
            .count(),
        100
    );
    for (n, why) in [
        ("-5", "negative"),
        ("2.5", "whole"),
        ("NaN", "not a number"),
    ] {
        let line =
            format!("synth toy --dataset moons --n {n} --out-source x.csv --out-target y.csv");
        let o = run(&line, &dir);
        expect_fail(&o, 2, &["--n", why]);
    }
    write_csv(&dir, "a.csv", &cloud(20, 0.0));
    write_csv(&dir, "b.csv", &cloud(20, 1.0));
    for (extra, needles) in [
        ("--threshold NaN", ["--threshold", "not a finite number"]),
        ("--features 0,,1", ["--features", "empty item"]),
        ("--json=no", ["--json", "takes no value"]),
        ("--quiet=no", ["--quiet", "takes no value"]),
    ] {
        let o = run(&format!("eval --mapped a.csv --target b.csv {extra}"), &dir);
        expect_fail(&o, 2, &needles);
    }
}

#[test]
fn size_options_are_refused_with_the_memory_they_would_need() {
    let dir = scratch("opt-sizes");
    let cases: [&[&str]; 3] = [
        &words("synth toy --dataset moons --n 1e12"),
        &["synth", "scrna", "--cells", "1e11"],
        &["synth", "known-map", "--dim", "1e8"],
    ];
    for c in cases {
        let mut args = c.to_vec();
        args.extend(["--out-source", "s.npy", "--out-target", "t.npy"]);
        let o = monge(&args, &dir);
        expect_fail(
            &o,
            2,
            &["would need", "of memory, more than the", "available"],
        );
    }
    write_csv(&dir, "a.csv", &cloud(20, 0.0));
    write_csv(&dir, "b.csv", &cloud(20, 1.0));
    let o = run(
        "eval --mapped a.csv --target b.csv --projections 1e10",
        &dir,
    );
    expect_fail(&o, 2, &["--projections 10000000000", "would need"]);
    // a Sinkhorn cost matrix of 4·10⁵ × 4·10⁵ f64 values (1.3 TB)
    let rows: String = (0..400_000).map(|i| format!("{}\n", i % 97)).collect();
    fs::write(dir.join("big.csv"), &rows).unwrap();
    let o = run(
        "fit --method sinkhorn --source big.csv --target big.csv --model m.monge --quiet",
        &dir,
    );
    expect_fail(
        &o,
        2,
        &["Sinkhorn cost matrix", "400000", "would need", "TB"],
    );
    assert!(!dir.join("m.monge").exists());
}

#[test]
fn threads_beyond_the_cores_are_capped_with_a_warning() {
    let dir = scratch_with_clouds("opt-threads", 64);
    let o = run(
        concat!(
            "fit --method w2 --iters 3 --batch 32 --threads 4000 --source ",
            "a.csv --target b.csv --model m.monge --quiet"
        ),
        &dir,
    );
    expect_ok(&o);
    let err = stderr(&o);
    assert!(err.contains("--threads 4000 capped at the"), "{err}");
    let o = run(
        "fit --method identity --threads 0 --source a.csv --target b.csv --model m.monge",
        &dir,
    );
    expect_fail(&o, 2, &["--threads"]);
}

#[test]
fn knobs_without_their_penalty_or_schedule_are_usage_errors() {
    let dir = scratch_with_clouds("opt-knobs", 64);
    let base = words(concat!(
        "fit --method w2 --iters 2 --batch 16 --source a.csv --target ",
        "b.csv --model m.monge --quiet --budget-warmup 1 ",
        "--budget-block 1"
    ));
    let cases: [(&[&str], &[&str]); 7] = [
        (&["--sigma", "2"], &["--sigma", "--penalty l0"]),
        (
            &["--penalty", "l1", "--gamma", "3"],
            &["--gamma", "--penalty stvs"],
        ),
        (&["--lambda", "0.5"], &["--lambda", "--penalty none"]),
        (
            &["--anneal-warmup", "5"],
            &["--anneal-warmup", "without --anneal"],
        ),
        (
            &["--penalty", "l1", "--max-dim", "-1"],
            &["--max-dim -1", "at least 0"],
        ),
        (
            &["--penalty", "l1", "--max-dim", "NaN"],
            &["--max-dim", "not a finite number"],
        ),
        (
            &["--penalty", "l1", "--anneal", "--lambda", "1"],
            &["--lambda", "the schedule sets"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args = base.to_vec();
        // the budget knobs are only allowed with --max-dim
        if !extra.contains(&"--max-dim") {
            args.truncate(args.len() - 4);
        }
        args.extend_from_slice(extra);
        let o = monge(&args, &dir);
        expect_fail(&o, 2, needles);
    }
    let o = run(
        concat!(
            "fit --method sinkhorn --penalty none --gamma 2 --source ",
            "a.csv --target b.csv --model m.monge"
        ),
        &dir,
    );
    expect_fail(&o, 2, &["--gamma", "--penalty none"]);
    let mut args = base.to_vec();
    args.truncate(args.len() - 4);
    args.extend(["--threshold", "0.5"]);
    expect_fail(
        &monge(&args, &dir),
        2,
        &["--threshold", "without --max-dim"],
    );
    assert!(!dir.join("m.monge").exists());
}

/// `eval --json` parsed just enough to read one numeric or boolean key.
fn key(json: &str, k: &str) -> String {
    let pat = format!("\"{k}\":");
    let i = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {k} in {json}"))
        + pat.len();
    json[i..]
        .chars()
        .take_while(|c| *c != ',' && *c != '}')
        .collect()
}

#[test]
fn eval_computes_the_mmd_on_a_seeded_subsample_and_says_so() {
    let dir = scratch("opt-mmd");
    write_csv(&dir, "a.csv", &cloud(3000, 0.0));
    write_csv(&dir, "b.csv", &cloud(2500, 0.3));
    let run = |extra: &[&str]| {
        let mut args = vec!["eval", "--mapped", "a.csv", "--target", "b.csv", "--json"];
        args.extend_from_slice(extra);
        let o = monge(&args, &dir);
        expect_ok(&o);
        (stdout(&o), stderr(&o))
    };
    let (full, full_err) = run(&[]);
    assert_eq!(key(&full, "mmd_subsampled"), "false");
    assert_eq!(key(&full, "mmd_max_cells"), "5000");
    assert!(!full_err.contains("subsample"), "{full_err}");
    let (sub, sub_err) = run(&["--max-cells", "500"]);
    assert_eq!(key(&sub, "mmd_subsampled"), "true");
    assert_eq!(key(&sub, "mmd_max_cells"), "500");
    assert!(
        sub_err.contains("seeded subsample of 500 mapped and 500 target rows"),
        "{sub_err}"
    );
    // seeded: the same seed gives the same value, another seed another one; both near the full MMD
    let (again, _) = run(&["--max-cells", "500"]);
    let (other, _) = run(&["--max-cells", "500", "--seed", "7"]);
    let v = |s: &str| key(s, "mmd").parse::<f64>().unwrap();
    assert_eq!(v(&sub), v(&again));
    assert_ne!(v(&sub), v(&other));
    assert_ne!(v(&sub), v(&full));
    let rel = (v(&sub) - v(&full)).abs() / v(&full);
    assert!(rel < 0.5, "subsampled MMD {} vs full {}", v(&sub), v(&full));
}

#[test]
fn history_and_plot_names_must_match_what_is_written() {
    let dir = scratch_with_clouds("opt-names", 20);
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model m.monge --history h.npy",
        &dir,
    );
    expect_fail(&o, 2, &["--history 'h.npy'", ".csv"]);
    let o = run("plot --source a.csv --target b.csv --out p.png", &dir);
    expect_fail(&o, 2, &["--out 'p.png'", ".svg"]);
    assert!(!dir.join("p.png").exists() && !dir.join("m.monge").exists());
}

#[test]
fn a_header_only_history_is_an_error_not_an_empty_chart() {
    let dir = scratch("opt-history");
    fs::write(
        dir.join("h.csv"),
        "iteration,loss_f,loss_g,lambda,heldout_mmd\n",
    )
    .unwrap();
    let o = run("plot --history h.csv --out c.svg", &dir);
    expect_fail(&o, 1, &["h.csv", "no values to plot"]);
    assert!(!dir.join("c.svg").exists());
}

#[test]
fn an_unknown_experiment_is_named() {
    let dir = scratch("opt-experiment");
    let o = monge(&["experiment", "foo"], &dir);
    expect_fail(&o, 2, &["unknown experiment 'foo'", "scrna"]);
}
