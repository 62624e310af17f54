//! The delimited-text reader must never panic, whatever the options; what it accepts is a non-empty,
//! all-finite matrix that survives a write/read round trip bit for bit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monge::io::csv::{encode_csv, parse_csv, CsvOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the options, the rest is the file.
    let Some((&sel, text)) = data.split_first() else {
        return;
    };
    let opts = CsvOptions {
        delimiter: [None, Some(b','), Some(b'\t'), Some(b';')][(sel & 3) as usize],
        header: [None, Some(true), Some(false), None][((sel >> 2) & 3) as usize],
    };
    let _ = parse_csv::<f32>(text, "fuzz.csv", &opts);
    if let Ok(m) = parse_csv::<f64>(text, "fuzz.csv", &opts) {
        assert!(m.rows() > 0 && m.cols() > 0);
        assert!(m.as_slice().iter().all(|v| v.is_finite()));
        let mut again = Vec::new();
        encode_csv(&m, b',', &mut again).unwrap();
        let back = parse_csv::<f64>(&again, "again.csv", &CsvOptions::default()).unwrap();
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(back.shape(), m.shape());
        assert_eq!(bits(back.as_slice()), bits(m.as_slice()));
    }
});
