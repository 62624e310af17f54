//! What the file-format tests share: a scratch path per test binary, NumPy's bytes for a header, and
//! the parts of a data error.

use monge::Error;
use std::path::PathBuf;

/// `name` in a directory of the build's temp area for the test binary `binary`.
pub fn tmp(binary: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(binary);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The bytes NumPy's `np.save` writes: magic, version, header length, the dict padded with spaces to a
/// multiple of 64 bytes (including the preamble) and ending in '\n', then the raw data.
pub fn npy_bytes(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    let pre = if version == 1 { 10 } else { 12 };
    let total = (pre + dict.len() + 1).div_ceil(64) * 64;
    let hlen = total - pre;
    let mut b = b"\x93NUMPY".to_vec();
    b.push(version);
    b.push(0);
    if version == 1 {
        b.extend_from_slice(&(hlen as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(hlen as u32).to_le_bytes());
    }
    b.extend_from_slice(dict.as_bytes());
    b.resize(total - 1, b' ');
    b.push(b'\n');
    b.extend_from_slice(data);
    b
}

/// (file, row, column, message) of a data error; panics on any other error.
pub fn data_err(e: Error) -> (String, Option<usize>, Option<usize>, String) {
    match e {
        Error::Data {
            file,
            row,
            col,
            msg,
        } => (file, row, col, msg),
        other => panic!("expected a data error, got {other:?}"),
    }
}
