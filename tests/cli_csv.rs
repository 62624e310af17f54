//! Issue 14, items 8 and 9: CSV that would lose data silently (a typo taken as a header, a doubled BOM,
//! CR-only line ends), and error text from a file reaching the terminal unsanitised or unbounded.

mod common;
use common::*;
use monge::io::{parse_csv, CsvOptions};
use monge::linalg::Mat;
use std::fs;

/// `plot` reads two CSVs and writes an SVG: the cheapest command that reads data.
fn plot(dir: &std::path::Path, source: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "plot", "--source", source, "--target", "b.csv", "--out", "p.svg",
    ];
    args.extend_from_slice(extra);
    monge(&args, dir)
}

#[test]
fn a_first_row_with_a_typo_is_data_and_rejected_not_dropped_as_a_header() {
    let dir = scratch("csv-typo");
    write_csv(&dir, "b.csv", &cloud(3, 0.0));
    fs::write(dir.join("a.csv"), "0.1,O.2,0.3\n1,2,3\n4,5,6\n").unwrap();
    let o = plot(&dir, "a.csv", &[]);
    expect_fail(&o, 1, &["a.csv, row 1, column 2", "'O.2' is not a number"]);
    // the library rule: a header only when no field is a number
    let m: Mat<f64> = parse_csv(b"x,y\n1,2\n", "t", &CsvOptions::default()).unwrap();
    assert_eq!(m.shape(), (1, 2));
    assert!(parse_csv::<f64>(b"1,y\n1,2\n", "t", &CsvOptions::default()).is_err());
}

#[test]
fn a_detected_header_is_reported_and_header_flags_override_detection() {
    let dir = scratch("csv-header");
    fs::write(dir.join("b.csv"), "gene_a,gene_b\n1,2\n3,4\n").unwrap();
    fs::write(dir.join("a.csv"), "10,20\n1,2\n3,4\n").unwrap();
    let o = plot(&dir, "a.csv", &[]);
    expect_ok(&o);
    assert!(
        stderr(&o).contains("b.csv: line 1 taken as a header, not data: 'gene_a,gene_b'"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("a.csv: line 1"), "{}", stderr(&o));
    // --no-header: the names are data, and not numbers
    let o = plot(&dir, "a.csv", &["--no-header"]);
    expect_fail(
        &o,
        1,
        &["b.csv, row 1, column 1", "'gene_a' is not a number"],
    );
    // --header: the numeric first line of a.csv is dropped (a.csv then has 2 rows, b.csv 2)
    let o = plot(&dir, "a.csv", &["--header"]);
    expect_ok(&o);
    let o = plot(&dir, "a.csv", &["--header", "--no-header"]);
    expect_fail(&o, 2, &["contradict"]);
}

#[test]
fn a_doubled_bom_and_cr_only_line_ends_are_errors_with_a_hint() {
    let dir = scratch("csv-bom");
    write_csv(&dir, "b.csv", &cloud(3, 0.0));
    fs::write(dir.join("bom.csv"), "\u{feff}\u{feff}1,2\n3,4\n").unwrap();
    let o = plot(&dir, "bom.csv", &[]);
    expect_fail(&o, 1, &["bom.csv, row 1", "second byte-order mark"]);
    fs::write(dir.join("cr.csv"), "1,2\r3,4\r5,6\r").unwrap();
    let o = plot(&dir, "cr.csv", &[]);
    expect_fail(&o, 1, &["cr.csv, row 1", "carriage return", "CR-only"]);
    // CRLF stays accepted
    fs::write(dir.join("crlf.csv"), "1,2\r\n3,4\r\n").unwrap();
    expect_ok(&plot(&dir, "crlf.csv", &[]));
}

#[test]
fn error_text_from_a_file_is_escaped_and_cut() {
    let dir = scratch("csv-sanitise");
    write_csv(&dir, "b.csv", &cloud(3, 0.0));
    fs::write(dir.join("esc.csv"), "1,2\n3,\x1b[31mred\x07\x00\r\n").unwrap();
    let o = plot(&dir, "esc.csv", &[]);
    expect_fail(
        &o,
        1,
        &["esc.csv, row 2, column 2", "\\u{1b}[31mred\\u{7}\\u{0}"],
    );
    let err = o.stderr.clone();
    assert!(
        !err.iter()
            .any(|&b| b == 0x1b || b == 0 || b == 7 || b == b'\r'),
        "raw control bytes reached stderr: {err:?}"
    );
    // a 10 MB bad field becomes a short line
    let mut big = String::from("1,2\n3,");
    big.push_str(&"x".repeat(10 << 20));
    big.push('\n');
    fs::write(dir.join("big.csv"), big).unwrap();
    let o = plot(&dir, "big.csv", &[]);
    expect_fail(
        &o,
        1,
        &["big.csv, row 2, column 2", "xxxx…' is not a number"],
    );
    assert!(o.stderr.len() < 1000, "{} bytes of stderr", o.stderr.len());
}
