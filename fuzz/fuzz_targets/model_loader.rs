//! The model loader must never panic or allocate from a corrupt length; anything it accepts re-encodes
//! to exactly the same bytes. The input is tried raw and with a freshly computed checksum (so the fuzzer
//! reaches the structural checks behind it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use monge::io::model::{encode_model, fnv1a64, parse_model};
use monge::io::LoadedModel;

fn check(bytes: &[u8]) {
    if let Ok(m) = parse_model(bytes, "fuzz.monge") {
        let again = match &m {
            LoadedModel::F32(x) => encode_model(x).unwrap(),
            LoadedModel::F64(x) => encode_model(x).unwrap(),
        };
        assert_eq!(again, bytes);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 24 {
        let mut b = data.to_vec();
        let n = b.len() - 8;
        let sum = fnv1a64(&b[..n]);
        b[n..].copy_from_slice(&sum.to_le_bytes());
        check(&b);
    }
});
