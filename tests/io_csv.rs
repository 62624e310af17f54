//! Delimited text reader and writer: detection of delimiter and header, comments, and every rejection
//! naming the file, the line number and the field.

mod common;

use common::files::data_err;
use monge::io::csv::{parse_csv, read_csv, CsvOptions};
use monge::io::{read_matrix, read_matrix_as, write_csv, write_matrix, Matrix};
use monge::linalg::Mat;
use monge::Error;
use proptest::prelude::*;

fn tmp(name: &str) -> std::path::PathBuf {
    common::files::tmp("io_csv", name)
}

fn auto() -> CsvOptions {
    CsvOptions::default()
}

#[test]
fn header_comments_blank_lines_and_crlf_are_handled() {
    let text = "\u{feff}# exported by hand\r\ngene_a, gene_b ,\"gene c\"\r\n\r\n1, 2.5,-3e-2\r\n  # mid comment\r\n\"4\",.5,6\r\n\n";
    let m = parse_csv::<f64>(text.as_bytes(), "cells.csv", &auto()).unwrap();
    assert_eq!(m.shape(), (2, 3));
    assert_eq!(m.as_slice(), &[1.0, 2.5, -0.03, 4.0, 0.5, 6.0]);
}

#[test]
fn tab_is_detected_and_delimiter_or_header_can_be_given() {
    let m = parse_csv::<f32>(b"x\ty\n1\t2\n3\t4\n", "t.tsv", &auto()).unwrap();
    assert_eq!(m.as_slice(), &[1.0f32, 2.0, 3.0, 4.0]);
    // Headerless, single column.
    let m = parse_csv::<f64>(b"1\n2\n3", "one.csv", &auto()).unwrap();
    assert_eq!(m.shape(), (3, 1));
    // Header forced on: the numeric first line is skipped.
    let opts = CsvOptions {
        header: Some(true),
        ..auto()
    };
    let m = parse_csv::<f64>(b"0,0\n1,2\n", "h.csv", &opts).unwrap();
    assert_eq!(m.as_slice(), &[1.0, 2.0]);
    // Header forced off: a text first line is an error at its field.
    let opts = CsvOptions {
        header: Some(false),
        ..auto()
    };
    let (_, row, col, msg) = data_err(parse_csv::<f64>(b"a,b\n1,2\n", "h.csv", &opts).unwrap_err());
    assert_eq!((row, col), (Some(1), Some(1)));
    assert!(msg.contains("'a' is not a number"), "{msg}");
    // Delimiter given: a comma file read as tab-separated is one non-numeric field per line.
    let opts = CsvOptions {
        delimiter: Some(b'\t'),
        header: Some(false),
    };
    assert!(parse_csv::<f64>(b"1,2\n", "c.csv", &opts).is_err());
    let opts = CsvOptions {
        delimiter: Some(b';'),
        header: None,
    };
    let m = parse_csv::<f64>(b"1;2\n3;4\n", "s.csv", &opts).unwrap();
    assert_eq!(m.shape(), (2, 2));
}

#[test]
fn nan_inf_and_bad_fields_name_line_and_column() {
    // Line numbers count every line of the file (comments and blanks included).
    let text = "# c\na,b,c\n1,2,3\n\n4,nan,6\n";
    let e = parse_csv::<f64>(text.as_bytes(), "d.csv", &auto()).unwrap_err();
    assert_eq!(e.to_string(), "d.csv, row 5, column 2: value 'nan' is NaN");
    let (_, row, col, msg) =
        data_err(parse_csv::<f64>(b"1,2\n3,-inf\n", "d.csv", &auto()).unwrap_err());
    assert_eq!((row, col), (Some(2), Some(2)));
    assert!(msg.contains("infinite"), "{msg}");
    let (_, row, col, msg) =
        data_err(parse_csv::<f64>(b"1,2\n3,4x\n", "d.csv", &auto()).unwrap_err());
    assert_eq!(
        (row, col, msg.as_str()),
        (Some(2), Some(2), "'4x' is not a number")
    );
    let (_, row, col, msg) =
        data_err(parse_csv::<f64>(b"1,2,3\n4,,6\n", "d.csv", &auto()).unwrap_err());
    assert_eq!((row, col, msg.as_str()), (Some(2), Some(2), "empty field"));
    // A finite f64 that overflows f32 is only an error when reading as f32.
    assert!(parse_csv::<f64>(b"1e39\n", "o.csv", &auto()).is_ok());
    let (_, row, col, msg) =
        data_err(parse_csv::<f32>(b"1\n1e39\n", "o.csv", &auto()).unwrap_err());
    assert_eq!((row, col), (Some(2), Some(1)));
    assert!(msg.contains("out of the f32 range"), "{msg}");
    // Invalid UTF-8.
    let (_, row, _, msg) =
        data_err(parse_csv::<f64>(b"1,2\n\xff,3\n", "u.csv", &auto()).unwrap_err());
    assert_eq!(row, Some(2));
    assert!(msg.contains("UTF-8"), "{msg}");
}

#[test]
fn ragged_rows_and_empty_sets_are_rejected() {
    let e = parse_csv::<f64>(b"1,2,3\n4,5,6\n7,8\n", "r.csv", &auto()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "r.csv, row 3: ragged rows: 2 fields, but 3 in the first data row (line 1)"
    );
    let e = parse_csv::<f64>(b"a,b,c\n1,2\n", "r.csv", &auto()).unwrap_err();
    assert!(
        e.to_string().contains("but 3 in the header (line 1)"),
        "{e}"
    );
    for text in ["", "\n\n", "# only a comment\n", "x,y\n", "x,y\n# c\n\n"] {
        let (file, row, col, msg) =
            data_err(parse_csv::<f64>(text.as_bytes(), "e.csv", &auto()).unwrap_err());
        assert_eq!((file.as_str(), row, col), ("e.csv", None, None), "{text:?}");
        assert!(msg.contains("no data rows"), "{msg}");
    }
}

#[test]
fn written_text_reads_back_bit_exact() {
    let vals64 = [
        0.1,
        -1.0 / 3.0,
        1e-300,
        5e-324,
        f64::MAX,
        -0.0,
        123456789.0,
        2.5e-7,
    ];
    let m = Mat::from_vec(2, 4, vals64.to_vec()).unwrap();
    let p = tmp("rt.csv");
    write_csv(&p, &m).unwrap();
    let back = read_matrix_as::<f64>(&p).unwrap();
    for (x, y) in back.as_slice().iter().zip(m.as_slice()) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
    let m32 = Mat::from_vec(2, 2, vec![0.1f32, f32::MAX, 1e-45, -7.25]).unwrap();
    for ext in ["tsv", "txt"] {
        let p = tmp(&format!("rt32.{ext}"));
        write_matrix(&p, &m32).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.contains('\t'), ext == "tsv", "{text}");
        let back = read_csv::<f32>(&p, &auto()).unwrap();
        for (x, y) in back.as_slice().iter().zip(m32.as_slice()) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
        // Text reads as f64 through the dispatcher (the shortest f32 digits, e.g. 0.1, not the widened
        // f32); rounding those to f32 gives the written values back.
        let wide = read_matrix(&p).unwrap();
        assert!(matches!(wide, Matrix::F64(_)));
        assert_eq!(wide.into_mat::<f32>("t").unwrap(), m32);
    }
}

#[test]
fn file_errors_name_the_path() {
    let p = tmp("bad.csv");
    std::fs::write(&p, "1,2\n3,oops\n").unwrap();
    let e = read_matrix(&p).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("bad.csv, row 2, column 2: 'oops' is not a number"),
        "{text}"
    );
    let missing = tmp("none.csv");
    assert!(matches!(
        read_matrix(&missing).unwrap_err(),
        Error::Io { op: "open", .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn csv_parser_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_csv::<f64>(&bytes, "r.csv", &auto());
        let _ = parse_csv::<f32>(&bytes, "r.csv", &CsvOptions { delimiter: Some(b'\t'), header: Some(true) });
    }

    #[test]
    fn csv_parser_never_panics_on_numeric_looking_text(
        text in "[0-9eE.,+\\-#\t\n naif\"]{0,120}",
    ) {
        if let Ok(m) = parse_csv::<f64>(text.as_bytes(), "t.csv", &auto()) {
            prop_assert!(m.rows() > 0 && m.cols() > 0);
            prop_assert!(m.as_slice().iter().all(|v| v.is_finite()));
        }
    }
}
