//! NumPy `.npy` matrices: a streaming reader and an atomic writer.
//!
//! Accepted files (the format of `numpy.lib.format`):
//! - magic `\x93NUMPY`, then the version bytes `1 0`, `2 0` or `3 0`;
//! - the header length: `u16` little-endian for v1.0, `u32` for v2.0/v3.0;
//! - the header: a Python dict literal `{'descr': '<f8', 'fortran_order': False, 'shape': (n, d), }`
//!   padded with spaces and a newline (keys in any order, either quote style, trailing commas allowed);
//! - `descr` `'<f4'` (float32) or `'<f8'` (float64); `fortran_order` `False`; `shape` a 2-tuple with both
//!   entries ≥ 1;
//! - exactly `n·d` little-endian values, row-major, and nothing after them.
//!
//! Everything else is rejected with an [`Error::Data`] saying what was found: big-endian or other dtypes,
//! Fortran order, other ranks, empty arrays, truncated data or trailing bytes, NaN/±Inf (with the 1-based
//! row = sample and column = feature). The data length is checked against the bytes actually present
//! before anything is allocated, so a corrupt shape cannot trigger a huge allocation.
//!
//! Streaming: the data is decoded in 64 KiB chunks straight into the output matrix (converting the type
//! if asked), so a file is read once and never held twice in memory.
//!
//! The writer emits a v1.0 header (v2.0 if the header would not fit, which no 2-D shape reaches) padded
//! so that the data starts at a multiple of 64 bytes, as NumPy does.

use super::atomic::write_atomic;
use super::Matrix;
use crate::linalg::{Mat, Real};
use crate::{Error, Result};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

/// The magic string opening every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Largest header accepted (NumPy's own limit for safe parsing is 10 000 bytes; 1 MiB is generous).
const MAX_HEADER: usize = 1 << 20;
/// Decode chunk in bytes (a multiple of 8).
const CHUNK: usize = 1 << 16;

/// Element type stored in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// `<f4`
    F32,
    /// `<f8`
    F64,
}

impl Dtype {
    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

/// A parsed `.npy` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version (major, minor).
    pub version: (u8, u8),
    /// Element type.
    pub dtype: Dtype,
    /// Rows (samples).
    pub rows: usize,
    /// Columns (features).
    pub cols: usize,
    /// Offset of the first data byte.
    pub data_offset: u64,
}

fn err(name: &str, msg: impl Into<String>) -> Error {
    Error::data(name, None, None, msg)
}

/// Reads `buf.len()` bytes; a short read is a truncation error describing `what`.
fn read_exact_or<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    name: &str,
    what: &str,
    io_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            err(name, format!("truncated file: ended inside the {what}"))
        } else {
            io_err(e)
        }
    })
}

/// Reads and validates the magic, version and header dict.
fn read_header<R: Read>(
    r: &mut R,
    name: &str,
    io_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<NpyHeader> {
    let mut pre = [0u8; 8];
    read_exact_or(r, &mut pre, name, "magic string and version", io_err)?;
    if &pre[..6] != MAGIC {
        return Err(err(name, "not an .npy file (missing the \\x93NUMPY magic)"));
    }
    let version = (pre[6], pre[7]);
    let (header_len, len_bytes) = match version {
        (1, 0) => {
            let mut b = [0u8; 2];
            read_exact_or(r, &mut b, name, "header length", io_err)?;
            (u16::from_le_bytes(b) as usize, 2)
        }
        (2, 0) | (3, 0) => {
            let mut b = [0u8; 4];
            read_exact_or(r, &mut b, name, "header length", io_err)?;
            (u32::from_le_bytes(b) as usize, 4)
        }
        (a, b) => {
            return Err(err(
                name,
                format!("unsupported .npy format version {a}.{b} (supported: 1.0, 2.0, 3.0)"),
            ))
        }
    };
    if header_len > MAX_HEADER {
        return Err(err(
            name,
            format!("header length {header_len} bytes is implausible (limit {MAX_HEADER})"),
        ));
    }
    let mut hdr = vec![0u8; header_len];
    read_exact_or(r, &mut hdr, name, "header", io_err)?;
    let text = std::str::from_utf8(&hdr).map_err(|_| err(name, "header is not valid text"))?;
    let (dtype, rows, cols) = parse_header_dict(text, name)?;
    Ok(NpyHeader {
        version,
        dtype,
        rows,
        cols,
        data_offset: (8 + len_bytes + header_len) as u64,
    })
}

/// A value of the header dict.
enum PyVal {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
    /// A list (a structured dtype's field list), skipped.
    List,
}

/// A minimal parser for the header's Python dict literal.
struct DictParser<'a> {
    s: &'a [u8],
    i: usize,
    name: &'a str,
}

impl DictParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn fail(&self, what: &str) -> Error {
        err(
            self.name,
            format!("malformed header dict at byte {}: {what}", self.i),
        )
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Result<String> {
        self.ws();
        let q = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(self.fail("expected a quoted string")),
        };
        let start = self.i + 1;
        let end = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .map(|p| start + p)
            .ok_or_else(|| self.fail("unterminated string"))?;
        self.i = end + 1;
        // The header was validated as UTF-8 and the quotes are ASCII, so this slice is valid text.
        Ok(String::from_utf8_lossy(&self.s[start..end]).into_owned())
    }
    fn value(&mut self) -> Result<PyVal> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'\'' | b'"') => Ok(PyVal::Str(self.string()?)),
            Some(b'[') => {
                // Skip to the matching ']', minding nested brackets and quoted names.
                let mut depth = 0usize;
                let mut quote: Option<u8> = None;
                while let Some(&c) = self.s.get(self.i) {
                    self.i += 1;
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, b'\'' | b'"') => quote = Some(c),
                        (None, b'[' | b'(') => depth += 1,
                        (None, b']' | b')') => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(PyVal::List);
                            }
                        }
                        _ => {}
                    }
                }
                Err(self.fail("unterminated list"))
            }
            Some(b'(') => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    self.ws();
                    let start = self.i;
                    while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                        self.i += 1;
                    }
                    if start == self.i {
                        return Err(self.fail("expected a non-negative integer in the shape"));
                    }
                    let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                    let n: u64 = digits
                        .parse()
                        .map_err(|_| self.fail("shape entry too large"))?;
                    // Python 2 era files write long integers as `3L`.
                    if self.s.get(self.i) == Some(&b'L') {
                        self.i += 1;
                    }
                    v.push(n);
                    if self.eat(b')') {
                        break;
                    }
                    if !self.eat(b',') {
                        return Err(self.fail("expected ',' or ')' in the shape"));
                    }
                }
                Ok(PyVal::Tuple(v))
            }
            _ => {
                let rest = &self.s[self.i..];
                if rest.starts_with(b"True") {
                    self.i += 4;
                    Ok(PyVal::Bool(true))
                } else if rest.starts_with(b"False") {
                    self.i += 5;
                    Ok(PyVal::Bool(false))
                } else {
                    Err(self.fail("expected a string, True/False or a tuple"))
                }
            }
        }
    }
}

/// Parses the header dict into (dtype, rows, cols), checking every field.
fn parse_header_dict(text: &str, name: &str) -> Result<(Dtype, usize, usize)> {
    let mut p = DictParser {
        s: text.as_bytes(),
        i: 0,
        name,
    };
    if !p.eat(b'{') {
        return Err(p.fail("expected '{'"));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        if !p.eat(b':') {
            return Err(p.fail("expected ':'"));
        }
        let val = p.value()?;
        let slot_taken = match key.as_str() {
            "descr" => descr.replace(val).is_some(),
            "fortran_order" => fortran.replace(val).is_some(),
            "shape" => shape.replace(val).is_some(),
            other => return Err(err(name, format!("unexpected header key '{other}'"))),
        };
        if slot_taken {
            return Err(err(name, format!("header key '{key}' appears twice")));
        }
        if p.eat(b'}') {
            break;
        }
        if !p.eat(b',') {
            return Err(p.fail("expected ',' or '}'"));
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(p.fail("unexpected text after the dict"));
    }
    let dtype = match descr {
        None => return Err(err(name, "header has no 'descr'")),
        Some(PyVal::Str(d)) => match d.as_str() {
            "<f4" => Dtype::F32,
            "<f8" => Dtype::F64,
            ">f4" | ">f8" => {
                return Err(err(
                    name,
                    format!(
                        "big-endian dtype '{d}' is not supported (use little-endian: \
                         arr.astype('<{}'))",
                        &d[1..]
                    ),
                ))
            }
            _ => {
                return Err(err(
                    name,
                    format!("unsupported dtype '{d}' (supported: float32 '<f4' and float64 '<f8')"),
                ))
            }
        },
        Some(_) => {
            return Err(err(
                name,
                "unsupported dtype: structured arrays are not supported \
                 (supported: float32 '<f4' and float64 '<f8')",
            ))
        }
    };
    match fortran {
        None => return Err(err(name, "header has no 'fortran_order'")),
        Some(PyVal::Bool(false)) => {}
        Some(PyVal::Bool(true)) => {
            return Err(err(
                name,
                "Fortran-order arrays are not supported (save a C-order copy: \
                 np.ascontiguousarray(arr))",
            ))
        }
        Some(_) => return Err(err(name, "'fortran_order' must be True or False")),
    }
    let (rows, cols) = match shape {
        None => return Err(err(name, "header has no 'shape'")),
        Some(PyVal::Tuple(s)) => {
            if s.len() != 2 {
                let dims: Vec<String> = s.iter().map(|v| v.to_string()).collect();
                return Err(err(
                    name,
                    format!(
                        "expected a 2-D array (samples × features), found {}-D shape ({})",
                        s.len(),
                        dims.join(", ")
                    ),
                ));
            }
            let to_usize = |v: u64| {
                usize::try_from(v).map_err(|_| err(name, format!("shape entry {v} too large")))
            };
            (to_usize(s[0])?, to_usize(s[1])?)
        }
        Some(_) => return Err(err(name, "'shape' must be a tuple")),
    };
    if rows == 0 || cols == 0 {
        return Err(err(
            name,
            format!("empty array of shape ({rows}, {cols}): need at least one row and one column"),
        ));
    }
    Ok((dtype, rows, cols))
}

/// Reads the data part: exactly `rows·cols` values of `hdr.dtype`, with `remaining` bytes present after
/// the header, decoded chunk by chunk into a `Mat<T>`.
fn read_data<T: Real, R: Read>(
    r: &mut R,
    hdr: &NpyHeader,
    remaining: u64,
    name: &str,
    io_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<Mat<T>> {
    let es = hdr.dtype.bytes();
    let count = hdr.rows.checked_mul(hdr.cols);
    let need = count.and_then(|c| c.checked_mul(es)).map(|b| b as u64);
    let (count, need) = match (count, need) {
        (Some(c), Some(n)) if n <= remaining => (c, n),
        _ => {
            return Err(err(
                name,
                format!(
                    "truncated data: shape ({}, {}) of {} needs {} bytes, the file has {remaining}",
                    hdr.rows,
                    hdr.cols,
                    if es == 4 { "float32" } else { "float64" },
                    need.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                ),
            ))
        }
    };
    if remaining > need {
        return Err(err(
            name,
            format!(
                "{} unexpected bytes after the {} values of shape ({}, {})",
                remaining - need,
                count,
                hdr.rows,
                hdr.cols
            ),
        ));
    }
    let mut data: Vec<T> = Vec::with_capacity(count);
    let mut buf = vec![0u8; CHUNK.min(count * es)];
    let mut done = 0usize;
    while done < count {
        let n = (count - done).min(CHUNK / es);
        let bytes = &mut buf[..n * es];
        read_exact_or(r, bytes, name, "data", io_err)?;
        // Decode the chunk, then check it (two tight loops instead of one branchy one).
        match hdr.dtype {
            Dtype::F32 => data.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| T::from_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)),
            ),
            Dtype::F64 => data.extend(bytes.chunks_exact(8).map(|b| {
                T::from_f64(f64::from_le_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            })),
        }
        if let Some(k) = data[done..].iter().position(|x| !x.is_finite()) {
            let idx = done + k;
            let b = &bytes[k * es..(k + 1) * es];
            let v = match hdr.dtype {
                Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                Dtype::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            };
            let (row, col) = (idx / hdr.cols + 1, idx % hdr.cols + 1);
            let msg = if v.is_nan() {
                "value is NaN".to_string()
            } else if v.is_infinite() {
                "value is infinite".to_string()
            } else {
                format!("value {v:e} is out of the {} range", T::NAME)
            };
            return Err(Error::data(name, Some(row), Some(col), msg));
        }
        done += n;
    }
    Ok(Mat::from_vec(hdr.rows, hdr.cols, data).expect("rows·cols values were decoded"))
}

/// Parses an in-memory `.npy` file in its stored type. `name` is used in error messages.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<Matrix> {
    let mut r = bytes;
    let io_err = |e: std::io::Error| err(name, e.to_string());
    let hdr = read_header(&mut r, name, &io_err)?;
    let remaining = r.len() as u64;
    Ok(match hdr.dtype {
        Dtype::F32 => Matrix::F32(read_data(&mut r, &hdr, remaining, name, &io_err)?),
        Dtype::F64 => Matrix::F64(read_data(&mut r, &hdr, remaining, name, &io_err)?),
    })
}

/// Parses an in-memory `.npy` file converting to `T` (a float64 value outside the float32 range is an
/// error naming its row and column).
pub fn parse_npy_as<T: Real>(bytes: &[u8], name: &str) -> Result<Mat<T>> {
    let mut r = bytes;
    let io_err = |e: std::io::Error| err(name, e.to_string());
    let hdr = read_header(&mut r, name, &io_err)?;
    let remaining = r.len() as u64;
    read_data(&mut r, &hdr, remaining, name, &io_err)
}

/// Opens `path`, reads its header and returns the reader positioned at the data with the data length.
fn open(path: &Path) -> Result<(BufReader<File>, NpyHeader, u64, String)> {
    let name = path.display().to_string();
    let f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.is_file() {
        // the data length is checked against the file's size, which only a regular file has
        return Err(err(
            &name,
            "not a regular file (a .npy file is read from a file of known size)",
        ));
    }
    let len = meta.len();
    let mut r = BufReader::with_capacity(CHUNK, f);
    let io_err = |e: std::io::Error| Error::io(path, "read", e);
    let hdr = read_header(&mut r, &name, &io_err)?;
    let remaining = len.saturating_sub(hdr.data_offset);
    Ok((r, hdr, remaining, name))
}

/// Reads an `.npy` file in its stored type (see the module doc for what is accepted).
pub fn read_npy(path: &Path) -> Result<Matrix> {
    let (mut r, hdr, remaining, name) = open(path)?;
    let io_err = |e: std::io::Error| Error::io(path, "read", e);
    Ok(match hdr.dtype {
        Dtype::F32 => Matrix::F32(read_data(&mut r, &hdr, remaining, &name, &io_err)?),
        Dtype::F64 => Matrix::F64(read_data(&mut r, &hdr, remaining, &name, &io_err)?),
    })
}

/// Reads an `.npy` file converting to `T` on the fly (no intermediate copy in the stored type).
pub fn read_npy_as<T: Real>(path: &Path) -> Result<Mat<T>> {
    let (mut r, hdr, remaining, name) = open(path)?;
    let io_err = |e: std::io::Error| Error::io(path, "read", e);
    read_data(&mut r, &hdr, remaining, &name, &io_err)
}

/// Reads only the header of an `.npy` file (shape and dtype without loading the data).
pub fn read_npy_header(path: &Path) -> Result<NpyHeader> {
    open(path).map(|(_, h, _, _)| h)
}

/// Encodes `m` as a complete `.npy` file (v1.0 header, `<f4` or `<f8`, C order) into `w`.
pub fn encode_npy<T: Real>(m: &Mat<T>, w: &mut dyn Write) -> std::io::Result<()> {
    let descr = if T::BYTES == 4 { "<f4" } else { "<f8" };
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}, {}), }}",
        m.rows(),
        m.cols()
    );
    // Pad with spaces so that magic + version + length + header (ending in '\n') is a multiple of 64.
    let v1 = dict.len() + 1 + 10 <= u16::MAX as usize;
    let pre = if v1 { 10 } else { 12 };
    let total = (pre + dict.len() + 1).div_ceil(64) * 64;
    let hlen = total - pre;
    let mut head = Vec::with_capacity(total);
    head.extend_from_slice(MAGIC);
    if v1 {
        head.extend_from_slice(&[1, 0]);
        head.extend_from_slice(&(hlen as u16).to_le_bytes());
    } else {
        head.extend_from_slice(&[2, 0]);
        head.extend_from_slice(&(hlen as u32).to_le_bytes());
    }
    head.extend_from_slice(dict.as_bytes());
    head.resize(total - 1, b' ');
    head.push(b'\n');
    w.write_all(&head)?;
    let mut buf = Vec::with_capacity(CHUNK);
    for chunk in m.as_slice().chunks(CHUNK / T::BYTES) {
        buf.clear();
        for &v in chunk {
            v.write_le(&mut buf);
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Writes `m` to `path` as `.npy`, atomically.
pub fn write_npy<T: Real>(path: &Path, m: &Mat<T>) -> Result<()> {
    write_atomic(path, |w| encode_npy(m, w))
}
