//! `.npy` reader and writer: round trips through headers written by hand as NumPy writes them, and every
//! rejection with its message (file, row, column).

mod common;

use common::files::{data_err, npy_bytes};
use monge::io::npy::{encode_npy, parse_npy, parse_npy_as, read_npy_header, Dtype};
use monge::io::{read_matrix, read_matrix_as, write_matrix, write_npy, Matrix};
use monge::linalg::Mat;
use monge::Error;
use proptest::prelude::*;

fn tmp(name: &str) -> std::path::PathBuf {
    common::files::tmp("io_npy", name)
}

fn le_f64(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn numpy_headers_v1_v2_v3_read_bit_exact_in_f32_and_f64() {
    let v64 = [1.5, -0.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, -3.25e10];
    let v32 = [1.5f32, -0.0, f32::MAX, f32::MIN_POSITIVE, 1e-45, -3.25e10];
    for version in [1u8, 2, 3] {
        let b = npy_bytes(version, "<f8", false, "(3, 2)", &le_f64(&v64));
        match parse_npy(&b, "a.npy").unwrap() {
            Matrix::F64(m) => {
                assert_eq!(m.shape(), (3, 2));
                for (x, y) in m.as_slice().iter().zip(&v64) {
                    assert_eq!(x.to_bits(), y.to_bits());
                }
            }
            other => panic!("v{version}: expected f64, got {}", other.dtype()),
        }
        let b = npy_bytes(version, "<f4", false, "(2, 3)", &le_f32(&v32));
        match parse_npy(&b, "a.npy").unwrap() {
            Matrix::F32(m) => {
                assert_eq!(m.shape(), (2, 3));
                for (x, y) in m.as_slice().iter().zip(&v32) {
                    assert_eq!(x.to_bits(), y.to_bits());
                }
            }
            other => panic!("v{version}: expected f32, got {}", other.dtype()),
        }
    }
}

#[test]
fn header_variants_numpy_accepts_are_read() {
    // Key order, double quotes, Python-2 long suffix, no trailing comma, no padding.
    let data = le_f64(&[1.0, 2.0]);
    for dict in [
        "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f8'}",
        "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1L, 2L)}\n",
        "{'descr':'<f8','fortran_order':False,'shape':(1,2,),}",
    ] {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.extend_from_slice(&data);
        let m = parse_npy_as::<f64>(&b, "h.npy").unwrap();
        assert_eq!(m.as_slice(), &[1.0, 2.0], "{dict}");
    }
}

#[test]
fn writer_emits_the_header_numpy_writes_and_reads_back_bit_exact() {
    let m = Mat::from_vec(2, 3, vec![0.1f64, -2.0, 1e300, 5e-324, -0.0, 7.0]).unwrap();
    let mut out = Vec::new();
    encode_npy(&m, &mut out).unwrap();
    assert_eq!(
        out,
        npy_bytes(1, "<f8", false, "(2, 3)", &le_f64(m.as_slice()))
    );
    assert_eq!(
        (out.len() - 48) % 64,
        0,
        "data starts on a 64-byte boundary"
    );

    let p = tmp("rt32.npy");
    let m32 = Mat::from_vec(1, 4, vec![f32::MAX, -f32::MIN_POSITIVE, 1e-45, 0.3]).unwrap();
    write_npy(&p, &m32).unwrap();
    let h = read_npy_header(&p).unwrap();
    assert_eq!(
        (h.dtype, h.rows, h.cols, h.version),
        (Dtype::F32, 1, 4, (1, 0))
    );
    let back = read_matrix(&p).unwrap();
    assert_eq!(back, Matrix::F32(m32.clone()));
    // Widening f32 → f64 on read is exact.
    let wide = read_matrix_as::<f64>(&p).unwrap();
    assert_eq!(wide, m32.cast::<f64>());

    let p = tmp("rt64.npy");
    write_matrix(&p, &m).unwrap();
    let back = read_matrix_as::<f64>(&p).unwrap();
    for (x, y) in back.as_slice().iter().zip(m.as_slice()) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
}

#[test]
fn narrowing_to_f32_names_the_value_out_of_range() {
    let b = npy_bytes(1, "<f8", false, "(2, 2)", &le_f64(&[1.0, 2.0, 3.0, 1e300]));
    let (file, row, col, msg) = data_err(parse_npy_as::<f32>(&b, "big.npy").unwrap_err());
    assert_eq!((file.as_str(), row, col), ("big.npy", Some(2), Some(2)));
    assert!(msg.contains("f32 range"), "{msg}");
    // Through the Matrix conversion too.
    let e = parse_npy(&b, "big.npy")
        .unwrap()
        .into_mat::<f32>("big.npy")
        .unwrap_err();
    assert_eq!(data_err(e).1, Some(2));
    let ok = parse_npy_as::<f32>(&b[..b.len() - 8], "x");
    assert!(ok.is_err(), "one value short is a truncation");
}

#[test]
fn every_rejection_has_a_precise_message() {
    let d4 = le_f64(&[1.0, 2.0, 3.0, 4.0]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (npy_bytes(1, "<f8", true, "(2, 2)", &d4), "Fortran-order"),
        (
            npy_bytes(1, "<i8", false, "(2, 2)", &d4),
            "unsupported dtype '<i8'",
        ),
        (npy_bytes(1, ">f8", false, "(2, 2)", &d4), "big-endian"),
        (
            npy_bytes(1, ">f4", false, "(2, 2)", &d4[..16]),
            "big-endian",
        ),
        (
            npy_bytes(1, "<f8", false, "(2, 1, 2)", &d4),
            "found 3-D shape (2, 1, 2)",
        ),
        (
            npy_bytes(1, "<f8", false, "(4,)", &d4),
            "found 1-D shape (4)",
        ),
        (npy_bytes(1, "<f8", false, "()", &d4[..8]), "found 0-D"),
        (
            npy_bytes(1, "<f8", false, "(0, 3)", &[]),
            "empty array of shape (0, 3)",
        ),
        (
            npy_bytes(1, "<f8", false, "(3, 0)", &[]),
            "empty array of shape (3, 0)",
        ),
        (npy_bytes(1, "<f8", false, "(3, 2)", &d4), "truncated data"),
        (
            npy_bytes(1, "<f8", false, "(1, 2)", &d4),
            "16 unexpected bytes",
        ),
        (npy_bytes(4, "<f8", false, "(2, 2)", &d4), "version 4.0"),
        (b"PK\x03\x04 not numpy".to_vec(), "not an .npy file"),
        (b"\x93NUMPY\x01".to_vec(), "truncated file"),
        (
            npy_bytes(1, "<f8", false, "(2, 2)", &d4)[..40].to_vec(),
            "truncated file",
        ),
        (
            npy_bytes(1, "<f8", false, "(99999999999, 99999999999)", &d4),
            "truncated data",
        ),
    ];
    for (bytes, want) in cases {
        let e = parse_npy(&bytes, "in.npy").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("in.npy"), "{text}");
        assert!(text.contains(want), "expected '{want}' in: {text}");
        assert!(matches!(e, Error::Data { row: None, .. }), "{e:?}");
    }
    // A structured dtype (a list, not a string).
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1, 1), }\n";
    b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    b.extend_from_slice(dict.as_bytes());
    let e = parse_npy(&b, "s.npy").unwrap_err().to_string();
    assert!(e.contains("structured arrays are not supported"), "{e}");
}

#[test]
fn nan_and_infinity_are_rejected_with_row_and_column() {
    for (bad, word) in [(f64::NAN, "NaN"), (f64::NEG_INFINITY, "infinite")] {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0, bad, 6.0, 7.0];
        let b = npy_bytes(2, "<f8", false, "(2, 4)", &le_f64(&v));
        let (file, row, col, msg) = data_err(parse_npy(&b, "x.npy").unwrap_err());
        assert_eq!((file.as_str(), row, col), ("x.npy", Some(2), Some(2)));
        assert!(msg.contains(word), "{msg}");
    }
    let b = npy_bytes(
        3,
        "<f4",
        false,
        "(1, 3)",
        &le_f32(&[1.0, 2.0, f32::INFINITY]),
    );
    let e = parse_npy(&b, "y.npy").unwrap_err();
    assert_eq!(e.to_string(), "y.npy, row 1, column 3: value is infinite");
}

#[test]
fn file_errors_name_the_path() {
    let p = tmp("trunc.npy");
    let b = npy_bytes(1, "<f4", false, "(10, 10)", &le_f32(&[1.0; 99]));
    std::fs::write(&p, b).unwrap();
    let e = read_matrix(&p).unwrap_err();
    assert!(e.to_string().contains("trunc.npy"), "{e}");
    assert!(
        e.to_string().contains("needs 400 bytes, the file has 396"),
        "{e}"
    );
    let missing = tmp("does-not-exist.npy");
    match read_matrix(&missing).unwrap_err() {
        Error::Io { path, op, .. } => assert_eq!((path, op), (missing, "open")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read_matrix(&tmp("x.parquet")).unwrap_err(),
        Error::Usage(_)
    ));
}

#[test]
fn large_matrix_streams_through_chunks_exactly() {
    // More than one 64 KiB decode chunk, with a row boundary not aligned to it.
    let (n, d) = (3001, 7);
    let m = Mat::from_fn(n, d, |i, j| (i as f64).sin() * 1e3 + j as f64);
    let p = tmp("big.npy");
    write_npy(&p, &m).unwrap();
    assert_eq!(read_matrix_as::<f64>(&p).unwrap(), m);
    let m32 = read_matrix_as::<f32>(&p).unwrap();
    assert_eq!(m32, m.cast::<f32>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn npy_parser_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_npy(&bytes, "r.npy");
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&bytes);
        let _ = parse_npy(&b, "r.npy");
    }

    #[test]
    fn npy_parser_never_panics_on_mutated_valid_files(
        pos in 0usize..100, val in any::<u8>(), cut in 0usize..100,
    ) {
        let mut b = npy_bytes(1, "<f4", false, "(3, 3)", &le_f32(&[1.0; 9]));
        let p = pos % b.len();
        b[p] = val;
        let _ = parse_npy(&b, "m.npy");
        b.truncate(b.len() - cut.min(b.len()));
        let r = parse_npy(&b, "m.npy");
        if let Ok(m) = r {
            let (rows, cols) = m.shape();
            prop_assert!(rows > 0 && cols > 0);
        }
    }
}
