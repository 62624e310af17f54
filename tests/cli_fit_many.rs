//! `monge fit-many`: one map per label equals `monge fit` on that group (model bytes and summary
//! numbers), does not depend on --threads, writes safe file names for hostile labels, resumes by
//! skipping exactly the complete groups, stops on SIGINT with a summary, and refuses bad inputs.

mod common;

use common::{monge, scratch, stderr, stdout};
use std::fs;
use std::path::Path;

/// The hostile labels of the tiny set (a space, a path escape, a hidden name), and their model files.
const LABELS: [(&str, &str); 3] = [
    ("drug A", "drug%20A.monge"),
    ("../evil", "%2E.%2Fevil.monge"),
    ("..", "%2E..monge"),
];

/// 2-D points: `n` per set, set k shifted by (k, −k/2) and scaled by 1 + k/4; a fixed LCG.
fn points(n: usize, k: usize, seed: &mut u64) -> Vec<String> {
    let mut u = || {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (kf, s) = (k as f64, 1.0 + k as f64 / 4.0);
    (0..n)
        .map(|_| format!("{},{}", s * u() + kf, s * u() - kf / 2.0))
        .collect()
}

/// Writes X.csv / L.txt (control + the three labels, `n` cells each) and each group's own
/// source/target files (control.csv, g0.csv, g1.csv, g2.csv) into `dir`.
fn tiny_set(dir: &Path, n: usize) {
    let mut seed = 7;
    let control = points(n, 0, &mut seed);
    let mut x = control.clone();
    let mut l: Vec<&str> = vec!["control"; n];
    fs::write(dir.join("control.csv"), control.join("\n") + "\n").unwrap();
    for (k, (label, _)) in LABELS.iter().enumerate() {
        let t = points(n, k + 1, &mut seed);
        fs::write(dir.join(format!("g{k}.csv")), t.join("\n") + "\n").unwrap();
        x.extend(t);
        l.extend(std::iter::repeat_n(*label, n));
    }
    fs::write(dir.join("X.csv"), x.join("\n") + "\n").unwrap();
    fs::write(dir.join("L.txt"), l.join("\n") + "\n").unwrap();
}

/// The common fit options of these tests (fast: 60 iterations of a small batch, 3 g steps each;
/// `--g-iters` is one of `monge fit`'s W2 options, read for fit-many by the same options module).
const FIT: [&str; 10] = [
    "--method",
    "w2",
    "--g-iters",
    "3",
    "--iters",
    "60",
    "--eval-every",
    "20",
    "--batch",
    "32",
];

fn fit_many(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "fit-many",
        "--data",
        "X.csv",
        "--labels",
        "L.txt",
        "--source-label",
        "control",
        "--out",
        out,
        "--quiet",
    ];
    args.extend(FIT);
    args.extend(extra);
    monge(&args, dir)
}

/// The summary's rows as maps column → field.
fn summary(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            head.iter()
                .cloned()
                .zip(l.split('\t').map(String::from))
                .collect()
        })
        .collect()
}

/// The number after `"key":` in a JSON text (after `from`, the first occurrence).
fn json_num(text: &str, key: &str, from: usize) -> f64 {
    let pat = format!("\"{key}\":");
    let i = from
        + text[from..]
            .find(&pat)
            .unwrap_or_else(|| panic!("{key} in {text}"))
        + pat.len();
    let v: String = text[i..]
        .chars()
        .take_while(|c| !matches!(c, ',' | '}'))
        .collect();
    v.parse().unwrap_or_else(|_| panic!("{key}: {v}"))
}

fn row<'a>(
    rows: &'a [std::collections::HashMap<String, String>],
    label: &str,
) -> &'a std::collections::HashMap<String, String> {
    rows.iter().find(|r| r["label"] == label).unwrap()
}

#[test]
fn each_group_is_monge_fit_on_that_group() {
    let d = scratch("fit-many-equal");
    tiny_set(&d, 60);
    let o = fit_many(&d, "out", &["--threads", "2", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // the hostile labels stayed inside out/, one file each
    let mut names: Vec<String> = fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = LABELS.iter().map(|(_, f)| f.to_string()).collect();
    want.extend(["summary.json".into(), "summary.tsv".into()]);
    want.sort();
    assert_eq!(names, want);
    assert!(!d.join("evil.monge").exists());
    let json = stdout(&o);
    assert_eq!(
        json.trim(),
        fs::read_to_string(d.join("out/summary.json"))
            .unwrap()
            .trim()
    );
    let rows = summary(&d.join("out/summary.tsv"));
    assert_eq!(rows.len(), 3);
    for (k, (label, file)) in LABELS.iter().enumerate() {
        let mut args = vec!["fit", "--source", "control.csv", "--target"];
        let target = format!("g{k}.csv");
        let model = format!("fit{k}.monge");
        args.extend([
            target.as_str(),
            "--model",
            model.as_str(),
            "--threads",
            "1",
            "--json",
            "--quiet",
        ]);
        args.extend(FIT);
        let f = monge(&args, &d);
        assert_eq!(f.status.code(), Some(0), "{}", stderr(&f));
        let (a, b) = (
            fs::read(d.join(&model)).unwrap(),
            fs::read(d.join("out").join(file)).unwrap(),
        );
        assert!(a == b, "{label}: fit-many's model differs from monge fit's");
        let fj = stdout(&f);
        let r = row(&rows, label);
        assert_eq!(r["status"], "ok");
        assert_eq!(r["stopped"], "cap");
        let h = fj.find("\"heldout\"").unwrap();
        for (col, key) in [
            ("heldout_map", "map"),
            ("heldout_identity", "identity"),
            ("heldout_mean_shift", "mean_shift"),
            ("best_iteration", "best_iteration"),
        ] {
            let v: f64 = r[col].parse().unwrap();
            assert_eq!(v, json_num(&fj, key, h), "{label}: {col}");
        }
        let it: f64 = r["iterations"].parse().unwrap();
        assert_eq!(it, json_num(&fj, "iterations", 0), "{label}: iterations");
        // 60 cells per side: SPEC §7.7's small-set rule holds out ⌊6⌋ = 6
        assert_eq!(
            [
                &r["source_cells"],
                &r["source_train"],
                &r["source_heldout"],
                &r["target_heldout"]
            ],
            ["60", "54", "6", "6"]
        );
        // the JSON's row carries the same numbers
        let at = json
            .find(&format!("\"label\":\"{}\"", label.replace('"', "\\\"")))
            .unwrap();
        let hm = json[at..].find("\"heldout\"").unwrap() + at;
        assert_eq!(
            json_num(&json, "map", hm),
            r["heldout_map"].parse::<f64>().unwrap()
        );
    }
}

#[test]
fn models_do_not_depend_on_the_thread_count() {
    let d = scratch("fit-many-threads");
    tiny_set(&d, 60);
    for (out, t) in [("t1", "1"), ("t2", "2")] {
        let o = fit_many(&d, out, &["--threads", t]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    for (label, file) in LABELS {
        let a = fs::read(d.join("t1").join(file)).unwrap();
        let b = fs::read(d.join("t2").join(file)).unwrap();
        assert!(
            a == b,
            "{label}: the model differs between --threads 1 and 2"
        );
    }
}

#[test]
fn resume_skips_exactly_the_complete_groups() {
    let d = scratch("fit-many-resume");
    tiny_set(&d, 60);
    let o = fit_many(&d, "out", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let tsv = d.join("out/summary.tsv");
    let first = summary(&tsv);
    assert!(first.iter().all(|r| r["from_earlier_run"] == "false"));
    // a group marked interrupted, and a model file changed behind monge's back, are redone
    let text = fs::read_to_string(&tsv).unwrap();
    let text = text.replacen("drug A\tok\t", "drug A\tinterrupted\t", 1);
    fs::write(&tsv, text).unwrap();
    let evil = d.join("out").join(LABELS[1].1);
    let mut bytes = fs::read(&evil).unwrap();
    bytes.push(0);
    fs::write(&evil, &bytes).unwrap();
    let o = fit_many(&d, "out", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = summary(&tsv);
    let carried = |rows: &[std::collections::HashMap<String, String>], l: &str| {
        row(rows, l)["from_earlier_run"].clone()
    };
    assert_eq!(carried(&second, "drug A"), "false");
    assert_eq!(carried(&second, "../evil"), "false");
    assert_eq!(carried(&second, ".."), "true");
    assert_eq!(row(&second, "..")["seconds"], row(&first, "..")["seconds"]);
    assert!(second.iter().all(|r| r["status"] == "ok"));
    assert_eq!(fs::read(&evil).unwrap().len() + 1, bytes.len());
    // other options: every group is fitted again
    let o = fit_many(&d, "out", &["--seed", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(summary(&tsv)
        .iter()
        .all(|r| r["from_earlier_run"] == "false"));
}

#[test]
fn sigint_records_what_finished_and_a_rerun_completes_the_rest() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let d = scratch("fit-many-sigint");
    tiny_set(&d, 60);
    let args = [
        "fit-many",
        "--data",
        "X.csv",
        "--labels",
        "L.txt",
        "--source-label",
        "control",
        "--out",
        "out",
        "--method",
        "w2",
        "--iters",
        "400",
        "--eval-every",
        "20",
        "--batch",
        "32",
        "--patience",
        "0",
        "--threads",
        "1",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_monge"))
        .args(args)
        .current_dir(&d)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    // the first progress line of the first group: it is training
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("[w2]") {
        line.clear();
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(1), "{rest}");
    assert!(rest.contains("interrupted by SIGINT"), "{rest}");
    let rows = summary(&d.join("out/summary.tsv"));
    let status: Vec<&str> = rows.iter().map(|r| r["status"].as_str()).collect();
    assert_eq!(status[0], "interrupted", "{status:?}");
    assert_eq!(&status[1..], ["pending", "pending"]);
    assert!(
        d.join("out").join(LABELS[2].1).exists(),
        "the interrupted group's best model"
    );
    let o = monge(&args, &d);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = summary(&d.join("out/summary.tsv"));
    assert!(rows
        .iter()
        .all(|r| r["status"] == "ok" && r["iterations"] == "400"));
}

#[test]
fn bad_inputs_are_refused_naming_what_is_wrong() {
    let d = scratch("fit-many-bad");
    tiny_set(&d, 60);
    let run = |extra: &[&str], labels: &str| {
        let mut args = vec![
            "fit-many", "--data", "X.csv", "--labels", labels, "--out", "out", "--quiet",
        ];
        args.extend(FIT);
        args.extend(extra);
        let o = monge(&args, &d);
        (o.status.code(), stderr(&o))
    };
    let src = ["--source-label", "control"];
    // one label too many
    let text = fs::read_to_string(d.join("L.txt")).unwrap();
    fs::write(d.join("L1.txt"), format!("condition\n{text}")).unwrap();
    let (c, e) = run(&src, "L1.txt");
    assert_eq!(c, Some(1), "{e}");
    assert!(
        e.contains("L1.txt") && e.contains("X.csv") && e.contains("241 labels"),
        "{e}"
    );
    assert!(e.contains("--label-column"), "{e}");
    let (c, e) = run(&["--source-label", "ctrl"], "L.txt");
    assert_eq!(c, Some(1), "{e}");
    assert!(e.contains("'ctrl'") && e.contains("'control'"), "{e}");
    let (c, e) = run(
        &["--source-label", "control", "--targets", "drug A,drug B"],
        "L.txt",
    );
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("'drug B'") && e.contains("L.txt"), "{e}");
    let (c, e) = run(
        &["--source-label", "control", "--targets", "control"],
        "L.txt",
    );
    assert_eq!(c, Some(2), "{e}");
    // a group of one cell cannot be split
    let one = text.replacen("drug A\n", "lonely\n", 1);
    fs::write(d.join("L2.txt"), one).unwrap();
    let (c, e) = run(&src, "L2.txt");
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("'lonely'") && e.contains("1 cell"), "{e}");
    // a control character in a label, named with its line
    let esc = text.replacen("drug A\n", "drug\u{1b}[31mA\n", 1);
    fs::write(d.join("L3.txt"), esc).unwrap();
    let (c, e) = run(&src, "L3.txt");
    assert_eq!(c, Some(1), "{e}");
    assert!(
        e.contains("L3.txt, row 61") && e.contains("control character"),
        "{e}"
    );
    // options of `monge fit` that have no meaning here
    let (c, e) = run(
        &["--source-label", "control", "--model", "m.monge"],
        "L.txt",
    );
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("--model"), "{e}");
    // no output was written by any of these
    assert!(!d.join("out/summary.tsv").exists());
}
