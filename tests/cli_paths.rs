//! Issue 14, items 1, 4, 7 and the NAME_MAX part of 13: outputs that are not regular files, colliding
//! paths, unbounded inputs, long output names. Device nodes and FIFOs are made in the test's own
//! scratch directory (never the system's), so a regression cannot damage the machine.

mod common;
use common::*;
use std::fs;

#[test]
fn device_and_fifo_outputs_are_refused_and_left_in_place() {
    let dir = scratch_with_clouds("paths-dev", 20);
    // a node like /dev/full (1, 7), named as an SVG
    if !mknod_char(&dir.join("full.svg"), 1, 7) {
        return;
    }
    let o = run("plot --source a.csv --target b.csv --out full.svg", &dir);
    expect_fail(&o, 1, &["full.svg", "character device"]);
    assert!(
        is_char_device(&dir.join("full.svg")),
        "the device node was replaced"
    );

    // a FIFO as the output of map and as a model: refused before anything is opened (no hang)
    assert!(mkfifo(&dir.join("pipe.csv")));
    assert!(mkfifo(&dir.join("pipe.monge")));
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model pipe.monge",
        &dir,
    );
    expect_fail(&o, 1, &["pipe.monge", "FIFO"]);
    assert!(is_fifo(&dir.join("pipe.monge")));
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model m.monge",
        &dir,
    );
    expect_ok(&o);
    let o = run("map --model m.monge --input a.csv --output pipe.csv", &dir);
    expect_fail(&o, 1, &["pipe.csv", "FIFO"]);
    assert!(is_fifo(&dir.join("pipe.csv")));
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
}

#[test]
fn an_output_through_a_symlink_replaces_the_target_not_the_link() {
    let dir = scratch("paths-link");
    write_csv(&dir, "a.csv", &cloud(10, 0.0));
    write_csv(&dir, "b.csv", &cloud(10, 2.0));
    fs::write(dir.join("real.monge"), b"old").unwrap();
    std::os::unix::fs::symlink("real.monge", dir.join("link.monge")).unwrap();
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model link.monge",
        &dir,
    );
    expect_ok(&o);
    assert!(fs::symlink_metadata(dir.join("link.monge"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read(dir.join("real.monge"))
        .unwrap()
        .starts_with(b"\x89MONGE"));
}

#[test]
fn colliding_input_and_output_paths_are_usage_errors_and_nothing_is_overwritten() {
    let dir = scratch_with_clouds("paths-collide", 10);
    let a_before = fs::read(dir.join("a.csv")).unwrap();
    // --model equal to --source (spelt differently)
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model ./a.csv",
        &dir,
    );
    expect_fail(&o, 2, &["--model", "--source"]);
    assert_eq!(fs::read(dir.join("a.csv")).unwrap(), a_before);
    // a hard link to the source is the same file
    fs::hard_link(dir.join("a.csv"), dir.join("alias.monge")).unwrap();
    let o = run(
        "fit --method identity --source a.csv --target b.csv --model alias.monge",
        &dir,
    );
    expect_fail(&o, 2, &["--model", "--source"]);
    assert_eq!(fs::read(dir.join("a.csv")).unwrap(), a_before);
    // --history equal to --model
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model m.csv --history m.csv",
        &dir,
    );
    expect_fail(&o, 2, &["--history", "--model"]);
    assert!(!dir.join("m.csv").exists());
    // map --output equal to --input
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model m.monge",
        &dir,
    );
    expect_ok(&o);
    let o = run("map --model m.monge --input a.csv --output a.csv", &dir);
    expect_fail(&o, 2, &["--output", "--input"]);
    assert_eq!(fs::read(dir.join("a.csv")).unwrap(), a_before);
    // synth with the same path twice
    let o = run(
        "synth toy --dataset moons --n 10 --out-source s.csv --out-target s.csv",
        &dir,
    );
    expect_fail(&o, 2, &["--out-target", "--out-source"]);
    assert!(!dir.join("s.csv").exists());
}

#[test]
fn an_output_in_a_missing_directory_fails_before_training() {
    let dir = scratch_with_clouds("paths-missing", 40);
    // checked before training, so no model is saved (a check after training would save the model
    // and then fail on the history)
    let o = run(
        concat!(
            "fit --method w2 --batch 16 --iters 200 --source a.csv ",
            "--target b.csv --model m.monge --history no/such/dir/h.csv ",
            "--quiet"
        ),
        &dir,
    );
    expect_fail(&o, 1, &["no/such/dir/h.csv"]);
    assert!(!dir.join("m.monge").exists());
}

#[test]
fn a_model_or_data_file_that_is_a_device_is_refused_without_reading_it() {
    let dir = scratch("paths-zero");
    write_csv(&dir, "a.csv", &cloud(10, 0.0));
    // nodes like /dev/zero (1, 5): endless zero bytes
    if !mknod_char(&dir.join("zero.monge"), 1, 5) || !mknod_char(&dir.join("zero.npy"), 1, 5) {
        return;
    }
    let o = run("map --model zero.monge --input a.csv --output y.csv", &dir);
    expect_fail(&o, 1, &["zero.monge", "not a regular file"]);
    let o = run("plot --source zero.npy --target a.csv --out p.svg", &dir);
    expect_fail(&o, 1, &["zero.npy", "not a regular file"]);
}

#[test]
fn a_csv_without_line_ends_is_refused_at_a_bounded_line_length() {
    let dir = scratch("paths-longline");
    // 65 MiB of digits and commas and no newline
    let chunk = "1,".repeat(1 << 20);
    let mut s = String::with_capacity(65 << 20);
    for _ in 0..33 {
        s.push_str(&chunk);
    }
    s.push('1');
    fs::write(dir.join("long.csv"), s).unwrap();
    write_csv(&dir, "b.csv", &cloud(10, 0.0));
    let o = run("plot --source long.csv --target b.csv --out p.svg", &dir);
    expect_fail(&o, 1, &["long.csv", "row 1", "longer than 64 MiB"]);
}

#[test]
fn an_output_name_of_244_characters_is_written() {
    let dir = scratch("paths-namemax");
    let name = format!("{}.csv", "n".repeat(240));
    assert_eq!(name.len(), 244);
    let o = monge(
        &[
            "synth",
            "toy",
            "--dataset",
            "moons",
            "--n",
            "10",
            "--out-source",
            &name,
            "--out-target",
            "t.csv",
        ],
        &dir,
    );
    expect_ok(&o);
    assert_eq!(
        fs::read_to_string(dir.join(&name)).unwrap().lines().count(),
        10
    );
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
}
