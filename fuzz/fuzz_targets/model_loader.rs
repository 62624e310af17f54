//! The model loader must never panic or allocate from a corrupt length; anything it accepts re-encodes
//! to exactly the same bytes, and rebuilding its map (`map_from_saved`, where sizes and
//! hyper-parameters are validated against the tensors present) never panics or allocates more than the
//! file pays for. The input is tried raw and with a freshly computed checksum, so the fuzzer reaches the
//! structural checks behind the checksum and the `from_saved` checks behind those.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monge::io::model::{encode_model, fnv1a64, parse_model};
use monge::io::LoadedModel;
use monge::linalg::{Mat, Real};
use monge::ot::{map_from_saved, SavedModel};

/// Rebuilds the map; when it is accepted and small, maps one point (finite or not, never a panic).
fn rebuild<T: Real>(m: &SavedModel<T>) {
    if let Ok(map) = map_from_saved(m) {
        assert_eq!(map.dim(), m.dim);
        if m.dim <= 64 {
            let x = Mat::from_fn(1, m.dim, |_, j| T::from_f64(0.25 * j as f64));
            let y = map.transport(&x);
            assert_eq!(y.shape(), (1, m.dim));
        }
    }
}

fn check(bytes: &[u8]) {
    if let Ok(m) = parse_model(bytes, "fuzz.monge") {
        let again = match &m {
            LoadedModel::F32(x) => encode_model(x).unwrap(),
            LoadedModel::F64(x) => encode_model(x).unwrap(),
        };
        assert_eq!(again, bytes);
        match &m {
            LoadedModel::F32(x) => rebuild(x),
            LoadedModel::F64(x) => rebuild(x),
        }
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
