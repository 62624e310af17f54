//! What the CLI integration tests share: run the built `monge` binary in a scratch directory, read what
//! it printed, check its exit, and make the files and special nodes (devices, FIFOs) a test needs.
#![allow(dead_code)] // each test binary uses its own subset

pub mod files;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `monge args…` in `dir` (stdin closed) and waits for it.
pub fn monge(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monge"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// The arguments of `line`, split at white space (for arguments without spaces).
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Runs `monge` with the arguments of `line` ([`words`]).
pub fn run(line: &str, dir: &Path) -> Output {
    monge(&words(line), dir)
}

/// A fresh, empty directory for one test (named by process and test, so parallel runs do not meet).
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("monge-cli-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// [`scratch`] holding `a.csv` and `b.csv`: [`cloud`]s of `n` rows shifted by 0 and 1.
pub fn scratch_with_clouds(name: &str, n: usize) -> PathBuf {
    let d = scratch(name);
    write_csv(&d, "a.csv", &cloud(n, 0.0));
    write_csv(&d, "b.csv", &cloud(n, 1.0));
    d
}

/// What the process wrote on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the process wrote on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts exit code `code`, that stderr mentions every needle, and that nothing panicked.
#[track_caller]
pub fn expect_fail(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

/// Asserts exit code 0 (and no panic).
#[track_caller]
pub fn expect_ok(o: &Output) {
    expect_fail(o, 0, &[]);
}

/// `monge synth toy` into `dir`, asserting success.
#[track_caller]
pub fn synth_toy(dir: &Path, dataset: &str, n: &str, source: &str, target: &str) {
    let line = format!(
        "synth toy --dataset {dataset} --n {n} --out-source {source} --out-target {target}"
    );
    expect_ok(&run(&line, dir));
}

/// Writes a CSV of `rows` (each a slice of numbers) to `dir/name`.
pub fn write_csv(dir: &Path, name: &str, rows: &[Vec<f64>]) {
    let mut s = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    fs::write(dir.join(name), s).unwrap();
}

/// A small 2-D point cloud: row i is (i·0.01 + shift, (i mod 7)·0.1).
pub fn cloud(n: usize, shift: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| vec![i as f64 * 0.01 + shift, (i % 7) as f64 * 0.1])
        .collect()
}

/// Makes a character device node `path` (major, minor) with `mknod`; false when not permitted (not
/// root), in which case the calling test skips. Only nodes inside the test's own scratch directory
/// are ever made or written: the system's devices are never touched.
pub fn mknod_char(path: &Path, major: u32, minor: u32) -> bool {
    let ok = Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: cannot mknod {} (not root?)", path.display());
    }
    ok
}

/// Makes a FIFO with `mkfifo`.
pub fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether `path` is still a character device.
pub fn is_char_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(path)
        .map(|m| m.file_type().is_char_device())
        .unwrap_or(false)
}

/// Whether `path` is still a FIFO.
pub fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

/// Names in `dir` that start with a dot (temp files of atomic writes).
pub fn hidden_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    v.sort();
    v
}
