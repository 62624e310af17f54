//! What the CLI integration tests share: run the built `monge` binary in a scratch directory and read
//! what it printed.
#![allow(dead_code)] // each test binary uses its own subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `monge args…` in `dir` and waits for it.
pub fn monge(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monge"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// A fresh, empty directory for one test (named by process and test, so parallel runs do not meet).
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("monge-cli-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
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

/// `monge synth toy` into `dir`, asserting success.
#[track_caller]
pub fn synth_toy(dir: &Path, dataset: &str, n: &str, source: &str, target: &str) {
    let args = [
        "synth",
        "toy",
        "--dataset",
        dataset,
        "--n",
        n,
        "--out-source",
        source,
        "--out-target",
        target,
    ];
    let o = monge(&args, dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
