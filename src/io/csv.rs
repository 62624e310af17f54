//! Delimited text matrices (CSV / TSV): a streaming line-by-line reader and an atomic writer.
//!
//! Accepted input:
//! - one sample per line, fields separated by `,` or a tab: given in [`CsvOptions::delimiter`] or
//!   detected from the first content line (a tab there ⇒ tab, otherwise comma);
//! - `#` comment lines (first non-blank character `#`) and blank lines are skipped anywhere;
//! - an optional header line: given in [`CsvOptions::header`] or detected — the first content line is a
//!   header iff *none* of its fields is a number (so `0.1,O.2,0.3` with a letter O is data, rejected at
//!   column 2, and `1,nan` is data, rejected for the NaN); [`read_csv_report`] says which line was taken
//!   as the header so that callers can tell the user;
//! - fields are trimmed of spaces; a pair of surrounding double quotes is removed; `\r\n` line ends and a
//!   leading UTF-8 byte-order mark are accepted; numbers are Rust/C float syntax (`1`, `-2.5e-3`, `.5`).
//!
//! Rejected with [`Error::Data`] naming the file, the 1-based *line number in the file* as the row and the
//! 1-based field as the column: non-numeric or empty fields, NaN/±Inf (or values overflowing the target
//! type), rows with a different field count than the first data row (and than the header), invalid
//! UTF-8, a carriage return inside a line (CR-only line ends), a second byte-order mark, a line longer
//! than [`MAX_LINE`] bytes; with no row: a file with no data rows. A bad field is quoted in the message
//! with control characters escaped and cut after 40 characters.
//!
//! Streaming: lines are read one at a time through a `BufReader` into one reused buffer (at most
//! [`MAX_LINE`] bytes, so a file without line ends cannot grow it without bound) and parsed straight
//! into the output's row-major buffer, in the requested type.
//!
//! The writer prints each value with Rust's shortest round-trip representation (`{:?}`), so reading the
//! file back gives bit-identical values; no header.

use super::atomic::write_atomic;
use super::quote;
use crate::linalg::{Mat, Real};
use crate::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

/// How to read a delimited text file; `None` fields are detected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Field separator (`b','` or `b'\t'`); `None` detects it from the first content line.
    pub delimiter: Option<u8>,
    /// Whether the first content line is a header; `None` detects it.
    pub header: Option<bool>,
}

/// Longest line accepted, in bytes (64 MiB: a row of two million numbers).
pub const MAX_LINE: usize = 1 << 26;

/// What the reader decided on its own, for the caller to tell the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvReport {
    /// The line detected as a header: (1-based line number, its text, quoted and cut).
    pub header: Option<(usize, String)>,
    /// The header's fields (trimmed, one pair of double quotes removed): the feature names.
    pub names: Option<Vec<String>>,
}

/// Parses one field as `T`; `Err` holds the message.
fn parse_field<T: Real>(field: &str) -> std::result::Result<T, String> {
    if field.is_empty() {
        return Err("empty field".into());
    }
    let x = if T::BYTES == 4 {
        field.parse::<f32>().map(|v| T::from_f64(v as f64))
    } else {
        field.parse::<f64>().map(T::from_f64)
    };
    match x {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => {
            // Distinguish a NaN/Inf literal from a finite number overflowing f32.
            match field.parse::<f64>() {
                Ok(w) if w.is_nan() => Err(format!("value {} is NaN", quote(field, 40))),
                Ok(w) if w.is_infinite() => Err(format!("value {} is infinite", quote(field, 40))),
                _ => Err(format!(
                    "value {} is out of the {} range",
                    quote(field, 40),
                    T::NAME
                )),
            }
        }
        Err(_) => Err(format!("{} is not a number", quote(field, 40))),
    }
}

/// Trims spaces and one pair of surrounding double quotes.
fn clean(field: &str) -> &str {
    let f = field.trim();
    if f.len() >= 2 && f.starts_with('"') && f.ends_with('"') {
        f[1..f.len() - 1].trim()
    } else {
        f
    }
}

/// The streaming reader shared by files and byte slices.
fn read_delimited<T: Real, R: BufRead>(
    mut r: R,
    name: &str,
    opts: &CsvOptions,
    io_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<(Mat<T>, CsvReport)> {
    let mut report = CsvReport::default();
    let mut line = Vec::new();
    let mut lineno = 0usize;
    let mut delim = opts.delimiter;
    let mut header = opts.header;
    // Field count of the first data row (and the line it was on), or of the header.
    let mut width: Option<(usize, usize, &'static str)> = None;
    let mut data: Vec<T> = Vec::new();
    let mut rows = 0usize;
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_err)?;
        if n == 0 {
            break;
        }
        lineno += 1;
        if n > MAX_LINE {
            return Err(Error::data(
                name,
                Some(lineno),
                None,
                format!("line is longer than {} MiB (no line ends?)", MAX_LINE >> 20),
            ));
        }
        let mut bytes = line.as_slice();
        if lineno == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes = &bytes[3..];
            if bytes.starts_with(b"\xEF\xBB\xBF") {
                return Err(Error::data(
                    name,
                    Some(lineno),
                    Some(1),
                    "a second byte-order mark (U+FEFF) after the first",
                ));
            }
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::data(name, Some(lineno), None, "line is not valid UTF-8 text"))?;
        let text = text.trim_end_matches('\n');
        let text = text.strip_suffix('\r').unwrap_or(text);
        if let Some(k) = text.find('\r') {
            return Err(Error::data(
                name,
                Some(lineno),
                Some(text[..k].split([',', '\t']).count()),
                "a carriage return inside the line: CR-only (old Mac) line ends are not supported; \
                 convert them to LF or CRLF",
            ));
        }
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let d = *delim.get_or_insert(if text.contains('\t') { b'\t' } else { b',' }) as char;
        let is_header =
            *header.get_or_insert_with(|| !text.split(d).any(|f| clean(f).parse::<f64>().is_ok()));
        if is_header {
            header = Some(false);
            report.header = Some((lineno, quote(text, 80)));
            report.names = Some(text.split(d).map(|f| clean(f).to_string()).collect());
            width = Some((text.split(d).count(), lineno, "the header"));
            continue;
        }
        let mut k = 0usize;
        for field in text.split(d) {
            k += 1;
            let v = parse_field::<T>(clean(field))
                .map_err(|msg| Error::data(name, Some(lineno), Some(k), msg))?;
            data.push(v);
        }
        match width {
            None => width = Some((k, lineno, "the first data row")),
            Some((w, l, what)) if w != k => {
                return Err(Error::data(
                    name,
                    Some(lineno),
                    None,
                    format!("ragged rows: {k} fields, but {w} in {what} (line {l})"),
                ));
            }
            Some(_) => {}
        }
        if rows == 0 {
            width = Some((k, lineno, "the first data row"));
        }
        rows += 1;
    }
    let cols = match width {
        Some((w, _, _)) if rows > 0 => w,
        _ => return Err(Error::data(name, None, None, "no data rows (empty set)")),
    };
    let m = Mat::from_vec(rows, cols, data).expect("every row has `cols` fields");
    Ok((m, report))
}

/// Parses in-memory delimited text into a `Mat<T>`. `name` is used in error messages.
pub fn parse_csv<T: Real>(bytes: &[u8], name: &str, opts: &CsvOptions) -> Result<Mat<T>> {
    read_delimited(bytes, name, opts, &|e| {
        Error::data(name, None, None, e.to_string())
    })
    .map(|(m, _)| m)
}

/// Reads a delimited text file into a `Mat<T>` (see the module doc for what is accepted).
pub fn read_csv<T: Real>(path: &Path, opts: &CsvOptions) -> Result<Mat<T>> {
    read_csv_report(path, opts).map(|(m, _)| m)
}

/// [`read_csv`], also returning what was detected (the header line).
pub fn read_csv_report<T: Real>(path: &Path, opts: &CsvOptions) -> Result<(Mat<T>, CsvReport)> {
    let f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let r = BufReader::with_capacity(1 << 16, f);
    read_delimited(r, &path.display().to_string(), opts, &|e| {
        Error::io(path, "read", e)
    })
}

/// Encodes `m` as delimited text (no header, shortest round-trip representation) into `w`.
pub fn encode_csv<T: Real>(m: &Mat<T>, delimiter: u8, w: &mut dyn Write) -> std::io::Result<()> {
    let mut line = String::new();
    for i in 0..m.rows() {
        line.clear();
        for (j, v) in m.row(i).iter().enumerate() {
            if j > 0 {
                line.push(delimiter as char);
            }
            use std::fmt::Write as _;
            let _ = write!(line, "{v:?}");
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Writes `m` to `path` as comma-separated text, atomically.
pub fn write_csv<T: Real>(path: &Path, m: &Mat<T>) -> Result<()> {
    write_atomic(path, |w| encode_csv(m, b',', w))
}

/// Writes `m` to `path` with the given delimiter (`b','` or `b'\t'`), atomically.
pub fn write_delimited<T: Real>(path: &Path, m: &Mat<T>, delimiter: u8) -> Result<()> {
    write_atomic(path, |w| encode_csv(m, delimiter, w))
}
