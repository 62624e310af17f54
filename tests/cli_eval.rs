//! `monge eval` as the papers evaluate (issue 16, item 2): the top-K changed genes named from a CSV
//! header or `--var-names`, `--features` by name, r2_delta beside r2, and the identity / mean-shift /
//! observed rows of `--baselines` and `--heldout-target`.

mod common;
use common::*;
use std::fs;
use std::path::Path;

/// A parsed JSON value (enough of JSON for `eval --json`).
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, k: &str) -> &J {
        match self {
            J::Obj(kv) => {
                &kv.iter()
                    .find(|(a, _)| a == k)
                    .unwrap_or_else(|| panic!("no {k}"))
                    .1
            }
            _ => panic!("not an object at {k}"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            J::Num(x) => *x,
            other => panic!("not a number: {other:?}"),
        }
    }
}

fn parse(s: &str) -> J {
    let b = s.trim().as_bytes();
    let mut i = 0;
    let v = value(b, &mut i);
    assert_eq!(i, b.len(), "trailing text in {s}");
    v
}

fn value(b: &[u8], i: &mut usize) -> J {
    match b[*i] {
        b'{' => {
            *i += 1;
            let mut kv = Vec::new();
            while b[*i] != b'}' {
                let J::Str(k) = value(b, i) else {
                    panic!("key")
                };
                assert_eq!(b[*i], b':');
                *i += 1;
                kv.push((k, value(b, i)));
                if b[*i] == b',' {
                    *i += 1;
                }
            }
            *i += 1;
            J::Obj(kv)
        }
        b'[' => {
            *i += 1;
            let mut v = Vec::new();
            while b[*i] != b']' {
                v.push(value(b, i));
                if b[*i] == b',' {
                    *i += 1;
                }
            }
            *i += 1;
            J::Arr(v)
        }
        b'"' => {
            let start = *i + 1;
            *i = start + b[start..].iter().position(|&c| c == b'"').unwrap();
            *i += 1;
            J::Str(String::from_utf8(b[start..*i - 1].to_vec()).unwrap())
        }
        b'n' => {
            *i += 4;
            J::Null
        }
        b't' => {
            *i += 4;
            J::Bool(true)
        }
        b'f' => {
            *i += 5;
            J::Bool(false)
        }
        _ => {
            let start = *i;
            while *i < b.len() && !matches!(b[*i], b',' | b'}' | b']') {
                *i += 1;
            }
            J::Num(std::str::from_utf8(&b[start..*i]).unwrap().parse().unwrap())
        }
    }
}

/// The observed mean change of the data below: B up by 4, D down by 3, F up by 0.5.
const DELTA: [f64; 6] = [0.0, 4.0, 0.0, -3.0, 0.0, 0.5];
const NAMES: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// 40 cells × 6 genes of spread-out values, shifted by `shift` (per gene) plus `extra` on gene A.
fn cells(n: usize, phase: usize, shift: &[f64; 6], extra: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            (0..6)
                .map(|j| {
                    let v = ((i * 7 + j * 3 + phase) % 11) as f64 * 0.1 + j as f64 * 10.0;
                    v + shift[j] + if j == 0 { extra } else { 0.0 }
                })
                .collect()
        })
        .collect()
}

fn write_named(dir: &Path, name: &str, rows: &[Vec<f64>]) {
    write_csv(dir, name, rows);
    let body = fs::read_to_string(dir.join(name)).unwrap();
    fs::write(dir.join(name), format!("{}\n{body}", NAMES.join(","))).unwrap();
}

fn eval_json(dir: &Path, args: &[&str]) -> J {
    let mut a = vec!["eval", "--json"];
    a.extend_from_slice(args);
    let o = monge(&a, dir);
    expect_ok(&o);
    parse(&stdout(&o))
}

#[test]
fn top_genes_are_the_largest_absolute_mean_changes_named_from_the_header() {
    let dir = scratch("eval-top");
    let zero = [0.0; 6];
    // the target cells are other cells than the source's (another phase): unpaired, as in an experiment
    write_named(&dir, "s.csv", &cells(44, 0, &zero, 0.0));
    write_named(&dir, "t.csv", &cells(44, 0, &DELTA, 0.0));
    write_named(&dir, "y.csv", &cells(44, 0, &DELTA, 0.0));
    let common = words("--source s.csv --mapped y.csv --target t.csv");
    let mut args = common.to_vec();
    args.extend(["--top-genes", "2", "--features", "D,0"]);
    let j = eval_json(&dir, &args);
    let top = j.get("top_genes");
    // D's change (−3) outranks F's (+0.5): the ranking is by |change|
    assert_eq!(
        top.get("names"),
        &J::Arr(vec![J::Str("B".into()), J::Str("D".into())])
    );
    assert_eq!(top.get("columns"), &J::Arr(vec![J::Num(1.0), J::Num(3.0)]));
    assert_eq!(top.get("features").num(), 2.0);
    assert_eq!(j.get("subset").get("features").num(), 2.0);
    // the same names from --var-names when the files have no header
    write_csv(&dir, "s0.csv", &cells(44, 0, &zero, 0.0));
    write_csv(&dir, "t0.csv", &cells(44, 0, &DELTA, 0.0));
    fs::write(dir.join("names.txt"), NAMES.join("\n")).unwrap();
    let j0 = eval_json(
        &dir,
        &words(concat!(
            "--source s0.csv --mapped t0.csv --target t0.csv --top-genes ",
            "2 --var-names names.txt --features D,0"
        )),
    );
    assert_eq!(j0.get("top_genes").get("names"), top.get("names"));
    // the subset D,0 is columns 3 and 0: its l2_means is the map's error there (0 for this map)
    assert!(j0.get("subset").get("l2_means").num().abs() < 1e-12);
    // without names the columns are reported as numbers
    let j1 = eval_json(
        &dir,
        &words("--source s0.csv --mapped t0.csv --target t0.csv --top-genes 1"),
    );
    assert_eq!(j1.get("top_genes").get("names"), &J::Arr(vec![J::Num(1.0)]));
    // the text output says which genes
    let o = monge(
        &[&["eval"][..], &common, &["--top-genes", "2"]].concat(),
        &dir,
    );
    expect_ok(&o);
    assert!(
        stdout(&o).contains("largest first): B, D"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn baselines_give_identity_mean_shift_and_observed_rows() {
    let dir = scratch("eval-baselines");
    let zero = [0.0; 6];
    write_csv(&dir, "s.csv", &cells(44, 0, &zero, 0.0));
    write_csv(&dir, "t.csv", &cells(44, 3, &DELTA, 0.0));
    // a perfect prediction of the change, the source cells' own spread kept
    write_csv(&dir, "y.csv", &cells(44, 0, &DELTA, 0.0));
    // other cells of the target condition, 0.1 higher on gene A than t.csv
    write_csv(&dir, "h.csv", &cells(44, 3, &DELTA, 0.1));
    let base = words("--source s.csv --mapped y.csv --target t.csv --baselines");
    let j = eval_json(&dir, &base);
    assert!((j.get("r2_delta").num() - 1.0).abs() < 1e-12);
    let b = j.get("baselines");
    let id = b.get("identity");
    assert_eq!(id.get("r2_delta"), &J::Null, "identity predicts no change");
    assert_eq!(id.get("dim_mean").num(), 0.0);
    assert!(
        id.get("r2").num() > 0.5,
        "the papers' r² rewards doing nothing"
    );
    // the mean shift estimated on the target itself matches its means by construction
    let ms = b.get("mean_shift");
    assert_eq!(ms.get("shift_estimated_on"), &J::Str("target".into()));
    assert!(ms.get("l2_means").num() < 1e-12);
    assert!((ms.get("r2").num() - 1.0).abs() < 1e-12);
    assert_eq!(ms.get("dim_mean").num(), 2.0, "B and D move by more than 1");
    assert!(!matches!(b, J::Obj(kv) if kv.iter().any(|(k, _)| k == "observed")));
    // with held-out target cells: the shift is estimated on them (0.1 off on gene A), and they are scored
    let mut args = base.to_vec();
    args.extend(["--heldout-target", "h.csv", "--top-genes", "2"]);
    let j = eval_json(&dir, &args);
    let b = j.get("baselines");
    let ms = b.get("mean_shift");
    assert_eq!(
        ms.get("shift_estimated_on"),
        &J::Str("heldout-target".into())
    );
    assert!((ms.get("l2_means").num() - 0.1).abs() < 1e-12);
    let obs = b.get("observed");
    assert!((obs.get("l2_means").num() - 0.1).abs() < 1e-12);
    assert_eq!(
        obs.get("dim_mean"),
        &J::Null,
        "held-out cells are not images of the source"
    );
    // every row carries the same subsets; on the top genes (B, D) gene A's offset is gone
    for row in ["identity", "mean_shift", "observed"] {
        let t = b.get(row).get("top_genes");
        assert!(t.get("mmd").num().is_finite(), "{row}");
    }
    assert!(obs.get("top_genes").get("l2_means").num() < 1e-12);
    // the text form is a table with one line per row
    let o = monge(&[&["eval"][..], &args].concat(), &dir);
    expect_ok(&o);
    let text = stdout(&o);
    for row in ["map", "identity", "mean_shift", "observed"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(row)),
            "{row}: {text}"
        );
    }
}

#[test]
fn gene_options_are_checked() {
    let dir = scratch("eval-gene-errors");
    let zero = [0.0; 6];
    write_named(&dir, "s.csv", &cells(10, 0, &zero, 0.0));
    write_named(&dir, "t.csv", &cells(10, 0, &DELTA, 0.0));
    fs::write(dir.join("five.txt"), "a\nb\nc\nd\ne\n").unwrap();
    fs::write(dir.join("dup.txt"), "a\nb\nc\nb\ne\nf\n").unwrap();
    let cases: [(&str, i32, &[&str]); 5] = [
        ("--top-genes 3", 2, &["--top-genes", "--source"]),
        ("--baselines", 2, &["--baselines", "--source"]),
        ("--features B,Q", 2, &["'Q'", "neither a feature name"]),
        ("--var-names five.txt", 1, &["five.txt", "5 features", "6"]),
        ("--var-names dup.txt", 1, &["dup.txt", "'b'", "line 2"]),
    ];
    for (extra, code, needles) in cases {
        let o = run(&format!("eval --mapped s.csv --target t.csv {extra}"), &dir);
        expect_fail(&o, code, needles);
    }
}
