//! The `.npy` reader must never panic, and whatever it accepts is a non-empty, all-finite 2-D matrix
//! that the writer turns back into bytes the reader accepts again, bit for bit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monge::io::npy::{encode_npy, parse_npy, parse_npy_as};
use monge::io::Matrix;

fuzz_target!(|data: &[u8]| {
    let _ = parse_npy_as::<f32>(data, "fuzz.npy");
    if let Ok(m) = parse_npy(data, "fuzz.npy") {
        let (rows, cols) = m.shape();
        assert!(rows > 0 && cols > 0);
        let mut again = Vec::new();
        match &m {
            Matrix::F32(x) => {
                assert!(x.as_slice().iter().all(|v| v.is_finite()));
                encode_npy(x, &mut again).unwrap();
            }
            Matrix::F64(x) => {
                assert!(x.as_slice().iter().all(|v| v.is_finite()));
                encode_npy(x, &mut again).unwrap();
            }
        }
        assert_eq!(parse_npy(&again, "again.npy").unwrap(), m);
    }
});
