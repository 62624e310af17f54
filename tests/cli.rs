//! The `monge` binary end to end: a happy path through synth → fit → map → eval, and every bad input of
//! issue 6 answered with a precise message and the right exit code (0 ok, 1 runtime failure, 2 usage),
//! never a panic and never a half-written output.

mod common;

use common::files::npy_bytes;
use common::*;
use std::fs;

#[test]
fn help_version_and_usage_errors() {
    let d = scratch("help");
    let o = monge(&["--help"], &d);
    assert_eq!(o.status.code(), Some(0));
    for cmd in ["demo", "fit", "map", "eval", "synth", "bench"] {
        assert!(stdout(&o).contains(cmd), "help lists {cmd}");
    }
    let o = monge(&["--version"], &d);
    assert!(stdout(&o).starts_with("monge "));
    expect_fail(
        &monge(&["frobnicate"], &d),
        2,
        &["unknown command 'frobnicate'"],
    );
    expect_fail(
        &monge(&["eval", "--mapped"], &d),
        2,
        &["--mapped needs a value"],
    );
    expect_fail(
        &run("eval --mapped a.csv --target b.csv --colour red", &d),
        2,
        &["unknown option --colour"],
    );
    expect_fail(
        &monge(&["fit", "--method", "w2"], &d),
        2,
        &["--source is required"],
    );
}

#[test]
fn synth_fit_map_eval_round_trip() {
    let d = scratch("roundtrip");
    synth_toy(&d, "moons", "300", "s.npy", "t.csv");
    let o = run(
        concat!(
            "fit --method w2 --source s.npy --target t.csv --model ",
            "m.monge --iters 30 --batch 64 --eval-every 10 --quiet --json ",
            "--history h.csv"
        ),
        &d,
    );
    expect_ok(&o);
    let js = stdout(&o);
    for key in [
        "\"method\":\"w2\"",
        "\"iterations\":30",
        "\"model\":\"m.monge\"",
    ] {
        assert!(js.contains(key), "{js}");
    }
    assert!(
        stderr(&o).is_empty(),
        "--quiet prints nothing: {}",
        stderr(&o)
    );
    assert!(d.join("h.csv").exists());
    let o = run("map --model m.monge --input s.npy --output y.npy", &d);
    expect_ok(&o);
    let o = run(
        "eval --source s.npy --mapped y.npy --target t.csv --json --threshold 0.5",
        &d,
    );
    expect_ok(&o);
    let js = stdout(&o);
    for key in [
        "mmd", "sw2", "w2sq", "r2", "pearson", "l2_means", "dim_mean", "dim_q3",
    ] {
        assert!(js.contains(&format!("\"{key}\":")), "{key} in {js}");
    }
    // the same model maps the same input to bit-identical output
    let o = run("map --model m.monge --input s.npy --output y2.npy", &d);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fs::read(d.join("y.npy")).unwrap(),
        fs::read(d.join("y2.npy")).unwrap()
    );
    // plot from files and from the history
    let o = run(
        "plot --source s.npy --target t.csv --mapped y.npy --out p.svg",
        &d,
    );
    expect_ok(&o);
    let o = run("plot --history h.csv --out c.svg", &d);
    expect_ok(&o);
    assert!(fs::read_to_string(d.join("c.svg"))
        .unwrap()
        .contains("<polyline"));
}

#[test]
fn bad_csv_values_name_file_row_and_column() {
    let d = scratch("csv");
    fs::write(d.join("good.csv"), "1,2\n3,4\n").unwrap();
    fs::write(d.join("nan.csv"), "a,b\n1,2\n3,nan\n").unwrap();
    fs::write(d.join("ragged.csv"), "1,2\n3,4,5\n").unwrap();
    fs::write(d.join("empty.csv"), "# nothing here\n").unwrap();
    fs::write(d.join("three.csv"), "1,2,3\n4,5,6\n").unwrap();
    let eval = |m: &str, t: &str| monge(&["eval", "--mapped", m, "--target", t], &d);
    expect_fail(
        &eval("nan.csv", "good.csv"),
        1,
        &["nan.csv", "row", "column 2"],
    );
    expect_fail(&eval("ragged.csv", "good.csv"), 1, &["ragged.csv", "row 2"]);
    expect_fail(&eval("empty.csv", "good.csv"), 1, &["empty.csv"]);
    expect_fail(&eval("good.csv", "three.csv"), 1, &["2 features", "3"]);
    expect_fail(&eval("missing.csv", "good.csv"), 1, &["missing.csv"]);
}

#[test]
fn bad_npy_files_are_rejected_with_reasons() {
    let d = scratch("npy");
    fs::write(d.join("good.csv"), "1,2\n3,4\n").unwrap();
    let ints: Vec<u8> = (0..4i32).flat_map(|v| v.to_le_bytes()).collect();
    fs::write(
        d.join("int.npy"),
        npy_bytes(1, "<i4", false, "(2, 2)", &ints),
    )
    .unwrap();
    let f64s: Vec<u8> = [1.0f64, 2.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    fs::write(
        d.join("short.npy"),
        npy_bytes(1, "<f8", false, "(2, 2)", &f64s),
    )
    .unwrap();
    let inf: Vec<u8> = [1.0f32, 2.0, f32::INFINITY, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    fs::write(
        d.join("inf.npy"),
        npy_bytes(1, "<f4", false, "(2, 2)", &inf),
    )
    .unwrap();
    fs::write(d.join("junk.npy"), b"not an npy file at all").unwrap();
    let eval = |m: &str| monge(&["eval", "--mapped", m, "--target", "good.csv"], &d);
    expect_fail(&eval("int.npy"), 1, &["int.npy", "<i4"]);
    expect_fail(&eval("short.npy"), 1, &["short.npy"]);
    expect_fail(&eval("inf.npy"), 1, &["inf.npy", "row 2", "column 1"]);
    expect_fail(&eval("junk.npy"), 1, &["junk.npy"]);
}

#[test]
fn fit_and_map_refuse_mismatches_and_leave_no_partial_files() {
    let d = scratch("fit");
    synth_toy(&d, "8gaussians", "200", "s.csv", "t.csv");
    fs::write(d.join("three.csv"), "1,2,3\n4,5,6\n").unwrap();
    // a zero batch: a usage error, no model written (a batch above the data is cut to it, issue 12)
    let o = run(
        "fit --method w2 --source s.csv --target t.csv --model m.monge --batch 0 --quiet",
        &d,
    );
    expect_fail(&o, 2, &["batch size must be positive"]);
    assert!(!d.join("m.monge").exists());
    // source and target dimensions differ
    let o = run(
        "fit --method w2 --source s.csv --target three.csv --model m.monge --quiet",
        &d,
    );
    expect_fail(&o, 1, &["features"]);
    // a model, then an input of the wrong width
    let o = run(
        concat!(
            "fit --method w2 --source s.csv --target t.csv --model ",
            "m.monge --iters 5 --batch 32 --quiet"
        ),
        &d,
    );
    expect_ok(&o);
    let o = run("map --model m.monge --input three.csv --output y.csv", &d);
    expect_fail(&o, 1, &["three.csv", "3 features", "2"]);
    assert!(!d.join("y.csv").exists());
    // a non-writable output path
    let o = run(
        "map --model m.monge --input s.csv --output no/such/dir/y.csv",
        &d,
    );
    expect_fail(&o, 1, &["no/such/dir"]);
    // a corrupt model file
    let mut bytes = fs::read(d.join("m.monge")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(d.join("bad.monge"), &bytes).unwrap();
    let o = run("map --model bad.monge --input s.csv --output y.csv", &d);
    expect_fail(&o, 1, &["bad.monge"]);
    assert!(!d.join("y.csv").exists());
    // nothing but the expected files in the directory (no temp files left behind)
    let mut names: Vec<String> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["bad.monge", "m.monge", "s.csv", "t.csv", "three.csv"]
    );
}

#[test]
fn penalty_options_are_checked() {
    let d = scratch("penalty");
    synth_toy(&d, "moons", "100", "s.csv", "t.csv");
    let base = words("fit --method w2 --source s.csv --target t.csv --model m.monge --quiet");
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        monge(&v, &d)
    };
    expect_fail(&with(&["--penalty", "l7"]), 2, &["--penalty"]);
    expect_fail(&with(&["--penalty", "l0", "--sigma", "-1"]), 2, &["sigma"]);
    expect_fail(&with(&["--anneal"]), 2, &["--penalty"]);
    expect_fail(
        &with(&["--penalty", "l1", "--anneal", "--max-dim", "3"]),
        2,
        &["choose one"],
    );
    expect_fail(&with(&["--dtype", "f16"]), 2, &["--dtype"]);
    expect_fail(
        &with(&["--activation", "tanh"]),
        2,
        &["--activation", "tanh"],
    );
}

#[test]
fn bench_quick_json_lists_every_workload() {
    let d = scratch("bench");
    let o = run("bench --quick --json --threads 1", &d);
    expect_ok(&o);
    let js = stdout(&o);
    assert!(js.starts_with("{\"machine\":{"), "{js}");
    for name in [
        "w2_outer",
        "w2_outer_l0",
        "w2_outer_quad",
        "w2_outer_quad_elu",
        "w2_outer_quad_ema",
        "w2_outer_lbfgs",
        "w2_outer_adam",
        "w2_outer_regression",
        "w2_outer_demo",
        "w1_potential",
        "w1_gan",
        "sinkhorn_l1_map",
        "gemm",
    ] {
        assert!(
            js.contains(&format!("\"name\":\"{name}\"")),
            "{name} in {js}"
        );
    }
    for key in [
        "\"d\":",
        "\"batch\":",
        "\"threads\":",
        "\"ms_median\":",
        "\"ms_min\":",
        "\"ms_max\":",
        "\"gflops\":",
    ] {
        assert!(js.contains(key), "{key}");
    }
    // 11 solver workloads × 3 dimensions + Sinkhorn + 6 gemm shapes, every median positive
    assert_eq!(js.matches("\"name\":").count(), 40);
    assert!(!js.contains("\"ms_median\":0,"));
}
