//! Issue 14, items 5, 10, 11: broken pipes and full standard streams, non-UTF-8 arguments, signals
//! during a write. The "full" stream is a node like /dev/full (1, 7) made in the test's own scratch
//! directory.

mod common;
use common::*;
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_monge"))
}

#[test]
fn help_into_a_closed_pipe_does_not_panic() {
    for args in [&["--help"][..], &["fit", "--help"][..], &["--version"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write now fails with EPIPE
        let o = bin()
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // help ignores the failed write; the version is a result: exit 1 with a message
        if args == ["--version"] {
            expect_fail(&o, 1, &["standard output"]);
        } else {
            assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_full_stderr_does_not_stop_training_and_a_full_stdout_is_exit_1_with_the_model_saved() {
    let dir = scratch_with_clouds("streams-full", 64);
    if !mknod_char(&dir.join("full"), 1, 7) {
        return;
    }
    let full = || {
        fs::OpenOptions::new()
            .write(true)
            .open(dir.join("full"))
            .unwrap()
    };
    // progress lines (and the final note) all fail to write: training still completes
    let o = bin()
        .args(words(concat!(
            "fit --method w2 --iters 30 --batch 32 --source a.csv ",
            "--target b.csv --model m.monge"
        )))
        .current_dir(&dir)
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(dir.join("m.monge").exists());
    // the JSON result cannot be written: exit 1, the model is saved all the same
    let o = bin()
        .args(words(concat!(
            "fit --method mean-shift --source a.csv --target b.csv ",
            "--model m2.monge --json"
        )))
        .current_dir(&dir)
        .stdout(full())
        .output()
        .unwrap();
    expect_fail(&o, 1, &["standard output"]);
    assert!(dir.join("m2.monge").exists());
    let o = bin()
        .args(words("eval --mapped a.csv --target b.csv --json"))
        .current_dir(&dir)
        .stdout(full())
        .output()
        .unwrap();
    expect_fail(&o, 1, &["standard output"]);
}

#[test]
fn a_non_utf8_argument_is_refused_clearly() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("streams-utf8");
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.csv");
    let o = bin()
        .args(["plot", "--source"])
        .arg(bad)
        .args(["--target", "b.csv", "--out", "p.svg"])
        .current_dir(&dir)
        .output()
        .unwrap();
    expect_fail(&o, 2, &["argument 3", "not valid UTF-8", "caf"]);
}

#[test]
fn sigterm_during_a_write_leaves_no_temp_file() {
    let dir = scratch("streams-signal");
    // a CSV of 3000 × 2000 values takes a second or more to write
    let mut child = bin()
        .args(words(concat!(
            "synth scrna --cells 3000 --genes 2000 --affected 10 ",
            "--noise-genes 10 --out-source s.csv --out-target t.csv"
        )))
        .current_dir(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut seen = false;
    while t0.elapsed() < Duration::from_secs(120) {
        if !hidden_entries(&dir).is_empty() {
            seen = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        seen,
        "no temp file was ever seen: the write is too fast for this test"
    );
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
}
