//! Model files: bit-exact round trips, the documented byte layout, and a precise error for every kind of
//! corruption.

use monge::io::model::{encode_model, fnv1a64, FORMAT_VERSION, MAGIC};
use monge::io::{load_model, parse_model, save_model, LoadedModel};
use monge::ot::SavedModel;
use monge::Error;
use proptest::prelude::*;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("io_model");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn model64() -> SavedModel<f64> {
    SavedModel {
        method: "w2".into(),
        dim: 3,
        hyper: vec![
            ("hidden".into(), "64,64".into()),
            ("activation".into(), "leaky_relu(0.2)".into()),
            ("note".into(), "ünïcode ✓".into()),
        ],
        tensors: vec![
            (
                "f.W0".into(),
                vec![2, 3],
                vec![f64::MAX, f64::MIN_POSITIVE, 5e-324, -0.0, -f64::MAX, 0.1],
            ),
            ("f.b0".into(), vec![2], vec![1e-300, -2.5]),
            ("scale".into(), vec![], vec![std::f64::consts::PI]),
            ("empty".into(), vec![0, 3], vec![]),
        ],
    }
}

fn model32() -> SavedModel<f32> {
    SavedModel {
        method: "mean-shift".into(),
        dim: 2,
        hyper: vec![],
        tensors: vec![(
            "shift".into(),
            vec![1, 4],
            vec![f32::MAX, 1e-45, -f32::MIN_POSITIVE, 0.3],
        )],
    }
}

fn model_err(e: Error) -> String {
    match e {
        Error::Model { file, msg } => {
            assert_eq!(file, "m.bin");
            msg
        }
        other => panic!("expected a model error, got {other:?}"),
    }
}

/// Replaces the trailing checksum after an edit, so the structural check under test is reached.
fn reseal(b: &mut [u8]) {
    let n = b.len() - 8;
    let sum = fnv1a64(&b[..n]);
    b[n..].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn fnv1a64_matches_the_reference_test_vectors() {
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn save_load_round_trip_is_bit_exact_in_f32_and_f64() {
    let p = tmp("m64.monge");
    let m = model64();
    save_model(&p, &m).unwrap();
    match load_model(&p).unwrap() {
        LoadedModel::F64(back) => {
            assert_eq!(back.method, m.method);
            assert_eq!((back.dim, &back.hyper), (m.dim, &m.hyper));
            for (a, b) in back.tensors.iter().zip(&m.tensors) {
                assert_eq!((&a.0, &a.1), (&b.0, &b.1));
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a.2), bits(&b.2), "{}", a.0);
            }
        }
        other => panic!("expected f64, got {}", other.dtype()),
    }
    let p = tmp("m32.monge");
    save_model(&p, &model32()).unwrap();
    let back = load_model(&p).unwrap();
    assert_eq!(
        (back.method(), back.dim(), back.dtype()),
        ("mean-shift", 2, "f32")
    );
    match back {
        LoadedModel::F32(b) => {
            let bits: Vec<u32> = b.tensors[0].2.iter().map(|x| x.to_bits()).collect();
            let want: Vec<u32> = model32().tensors[0].2.iter().map(|x| x.to_bits()).collect();
            assert_eq!(bits, want);
            assert!(b.hyper.is_empty());
        }
        other => panic!("expected f32, got {}", other.dtype()),
    }
}

#[test]
fn bytes_follow_the_documented_layout() {
    let b = encode_model(&model32()).unwrap();
    assert_eq!(&b[..8], &MAGIC);
    assert_eq!(&b[..8], b"\x89MONGE\r\n");
    assert_eq!(
        u32::from_le_bytes(b[8..12].try_into().unwrap()),
        FORMAT_VERSION
    );
    assert_eq!(&b[12..16], &[4, 0, 0, 0]);
    // method "mean-shift": u32 length 10 then the bytes.
    assert_eq!(u32::from_le_bytes(b[16..20].try_into().unwrap()), 10);
    assert_eq!(&b[20..30], b"mean-shift");
    assert_eq!(u64::from_le_bytes(b[30..38].try_into().unwrap()), 2); // dim
    assert_eq!(u32::from_le_bytes(b[38..42].try_into().unwrap()), 0); // no hypers
    assert_eq!(u32::from_le_bytes(b[42..46].try_into().unwrap()), 1); // one tensor
    assert_eq!(u32::from_le_bytes(b[46..50].try_into().unwrap()), 5); // name length
    assert_eq!(&b[50..55], b"shift");
    assert_eq!(u32::from_le_bytes(b[55..59].try_into().unwrap()), 2); // ndim
    assert_eq!(u64::from_le_bytes(b[59..67].try_into().unwrap()), 1);
    assert_eq!(u64::from_le_bytes(b[67..75].try_into().unwrap()), 4);
    assert_eq!(u64::from_le_bytes(b[75..83].try_into().unwrap()), 4); // value count
    assert_eq!(&b[83..87], &f32::MAX.to_le_bytes());
    assert_eq!(b.len(), 83 + 16 + 8);
    let n = b.len() - 8;
    assert_eq!(
        u64::from_le_bytes(b[n..].try_into().unwrap()),
        fnv1a64(&b[..n])
    );
}

#[test]
fn every_corruption_has_a_precise_error() {
    let good = encode_model(&model32()).unwrap();
    let e = |b: &[u8]| model_err(parse_model(b, "m.bin").unwrap_err());

    assert!(e(b"").contains("bad magic"));
    assert!(e(b"\x89MONGE\r\r").contains("bad magic"));
    assert!(e(b"{\"json\": true}").contains("bad magic"));
    assert!(e(&good[..20]).contains("truncated"));

    let mut b = good.clone();
    b[8] = 2;
    assert!(e(&b).contains("format version 2 is newer"), "{}", e(&b));
    let mut b = good.clone();
    b[12] = 2;
    assert!(e(&b).contains("unknown dtype code 2"));
    let mut b = good.clone();
    b[14] = 1;
    assert!(e(&b).contains("reserved"));

    // A flipped bit in a value: structure fine, checksum not.
    let mut b = good.clone();
    b[85] ^= 0x10;
    assert!(e(&b).contains("checksum mismatch"), "{}", e(&b));

    // A huge tensor count is refused before allocating.
    let mut b = good.clone();
    b[42..46].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut b);
    assert!(
        e(&b).contains("corrupt tensor count 4294967295"),
        "{}",
        e(&b)
    );
    let mut b = good.clone();
    b[38..42].copy_from_slice(&1_000_000u32.to_le_bytes());
    reseal(&mut b);
    assert!(e(&b).contains("corrupt hyper-parameter count"), "{}", e(&b));

    // A huge string length.
    let mut b = good.clone();
    b[46..50].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    reseal(&mut b);
    assert!(
        e(&b).contains("tensor 1 name needs 4294967280 bytes"),
        "{}",
        e(&b)
    );

    // Shape and value count disagree.
    let mut b = good.clone();
    b[67..75].copy_from_slice(&5u64.to_le_bytes());
    reseal(&mut b);
    assert!(
        e(&b).contains("tensor 'shift' has shape [1, 5] but a value count of 4"),
        "{}",
        e(&b)
    );
    // Consistent shape and count, but more values than bytes.
    let mut b = good.clone();
    b[67..75].copy_from_slice(&(1u64 << 40).to_le_bytes());
    b[75..83].copy_from_slice(&(1u64 << 40).to_le_bytes());
    reseal(&mut b);
    assert!(e(&b).contains("tensor 'shift'"), "{}", e(&b));
    assert!(e(&b).contains("only 16 remain"), "{}", e(&b));

    // Rank above the limit.
    let mut b = good.clone();
    b[55..59].copy_from_slice(&9u32.to_le_bytes());
    reseal(&mut b);
    assert!(e(&b).contains("rank 9"), "{}", e(&b));

    // A NaN value.
    let mut b = good.clone();
    b[83..87].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut b);
    assert!(
        e(&b).contains("tensor 'shift' value 0 is not finite"),
        "{}",
        e(&b)
    );

    // Invalid UTF-8 in the method name.
    let mut b = good.clone();
    b[20] = 0xFF;
    reseal(&mut b);
    assert!(
        e(&b).contains("method name is not valid UTF-8"),
        "{}",
        e(&b)
    );

    // Bytes between the last tensor and the checksum.
    let mut b = good[..good.len() - 8].to_vec();
    b.extend_from_slice(&[0, 0, 0]);
    b.extend_from_slice(&[0; 8]);
    reseal(&mut b);
    assert!(e(&b).contains("3 unexpected bytes"), "{}", e(&b));
}

#[test]
fn every_truncation_of_a_valid_file_is_a_model_error() {
    let good = encode_model(&model64()).unwrap();
    for n in 0..good.len() {
        let msg = model_err(parse_model(&good[..n], "m.bin").unwrap_err());
        assert!(
            msg.contains("truncated")
                || msg.contains("magic")
                || msg.contains("checksum")
                || msg.contains("corrupt")
                || msg.contains("unexpected"),
            "{n}: {msg}"
        );
    }
    assert!(parse_model(&good, "m.bin").is_ok());
}

#[test]
fn unsavable_models_are_refused_and_io_failures_name_the_path() {
    let mut m = model32();
    m.tensors[0].2[1] = f32::NAN;
    let p = tmp("nan.monge");
    match save_model(&p, &m).unwrap_err() {
        Error::Model { msg, .. } => assert!(msg.contains("not finite"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert!(!p.exists());
    let mut m = model32();
    m.tensors[0].1 = vec![2, 4];
    assert!(encode_model(&m)
        .unwrap_err()
        .contains("shape [2, 4] but 4 values"));

    let bad = tmp("no-such-dir").join("m.monge");
    match save_model(&bad, &model32()).unwrap_err() {
        Error::Io { path, op, .. } => assert_eq!((path, op), (bad.clone(), "create")),
        other => panic!("{other:?}"),
    }
    match load_model(&bad).unwrap_err() {
        Error::Io { path, op, .. } => assert_eq!((path, op), (bad, "open")),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn model_parser_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_model(&bytes, "r.bin");
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0, 0, 0, 8, 0, 0, 0]);
        b.extend_from_slice(&bytes);
        let _ = parse_model(&b, "r.bin");
        if b.len() >= 24 {
            reseal(&mut b);
            let _ = parse_model(&b, "r.bin");
        }
    }

    #[test]
    fn model_parser_never_panics_on_mutated_valid_files(pos in 0usize..1000, val in any::<u8>()) {
        let mut b = encode_model(&model64()).unwrap();
        let p = pos % b.len();
        b[p] = val;
        reseal(&mut b);
        if let Ok(LoadedModel::F64(m)) = parse_model(&b, "r.bin") {
            // Anything accepted re-encodes to the same bytes.
            prop_assert_eq!(encode_model(&m).unwrap(), b);
        }
    }
}
