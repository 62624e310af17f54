//! Files in and out (SPEC §5 "Files", §6): `.npy` and CSV matrices, model files, SVG plots.
//!
//! - [`npy`]: NumPy `.npy` (v1/v2/v3 headers, `<f4`/`<f8`, C order, 2-D), streaming reader + writer;
//! - [`csv`]: comma/tab separated text with optional header and `#` comments, line-by-line reader + writer;
//! - [`model`]: the versioned, checksummed binary model format (byte layout in its module doc);
//! - [`svg`]: hand-written SVG scatter plots (with PCA for d > 2) and training curves;
//! - [`curves`]: training curves, one panel per quantity on a common iteration axis;
//! - [`panels`]: scatter plots of projected sets, one panel per method on common axes, and the plane
//!   they are projected on;
//! - [`labels`]: per-cell labels (one per line, or a table column) and safe file names made of them;
//! - [`atomic`]: every write goes through a temp file in the same directory, fsync, rename.
//!
//! Every reader also has a byte-slice entry point (`parse_…`) sharing its code, used by the fuzz targets.
//! Bad input is an [`Error::Data`] / [`Error::Model`] naming the file (and row/column where there is one)
//! or an [`Error::Io`]; no byte sequence makes a reader panic.

pub mod atomic;
pub mod csv;
pub mod curves;
pub mod labels;
pub mod model;
pub mod npy;
pub mod panels;
pub mod svg;

pub use atomic::write_atomic;
pub use csv::{parse_csv, read_csv, read_csv_report, write_csv, CsvOptions, CsvReport};
pub use model::{load_model, parse_model, save_model, LoadedModel};
pub use npy::{parse_npy, read_npy, write_npy};
pub use svg::{curves_svg, scatter_svg, write_curves_svg, write_scatter_svg};

use crate::linalg::{Mat, Real};
use crate::{Error, Result};
use std::any::Any;
use std::path::Path;

/// A matrix read from a file, in the precision it was stored in (CSV text reads as f64).
#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    /// Stored as float32.
    F32(Mat<f32>),
    /// Stored as float64 (or text).
    F64(Mat<f64>),
}

impl Matrix {
    /// (rows, cols)
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Matrix::F32(m) => m.shape(),
            Matrix::F64(m) => m.shape(),
        }
    }

    /// `"f32"` or `"f64"`.
    pub fn dtype(&self) -> &'static str {
        match self {
            Matrix::F32(_) => "f32",
            Matrix::F64(_) => "f64",
        }
    }

    /// The matrix as `Mat<T>`: moved when the type already matches, converted otherwise. A float64 value
    /// outside the float32 range is an [`Error::Data`] naming `file`, its row and its column.
    pub fn into_mat<T: Real>(self, file: &str) -> Result<Mat<T>> {
        match self {
            Matrix::F32(m) => convert(m, file),
            Matrix::F64(m) => convert(m, file),
        }
    }
}

/// Moves `m` when `U == T`, converts element by element otherwise (checking the range).
fn convert<U: Real, T: Real>(m: Mat<U>, file: &str) -> Result<Mat<T>> {
    let boxed: Box<dyn Any> = Box::new(m);
    match boxed.downcast::<Mat<T>>() {
        Ok(same) => Ok(*same),
        Err(other) => {
            let m = other
                .downcast::<Mat<U>>()
                .expect("the box holds the Mat<U> just put in");
            let cols = m.cols();
            if let Some(i) = m.as_slice().iter().position(|v| {
                let x: T = T::from_f64(v.to_f64());
                !x.is_finite()
            }) {
                return Err(Error::data(
                    file,
                    Some(i / cols + 1),
                    Some(i % cols + 1),
                    format!(
                        "value {:e} is out of the {} range",
                        m.as_slice()[i].to_f64(),
                        T::NAME
                    ),
                ));
            }
            Ok(m.cast::<T>())
        }
    }
}

/// The kind of matrix file, from the extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixFormat {
    /// `.npy`
    Npy,
    /// `.csv`, `.txt` (comma-separated when written)
    Csv,
    /// `.tsv` (tab-separated when written)
    Tsv,
}

impl MatrixFormat {
    /// The format for `path`'s extension (case-insensitive), or a usage error listing the accepted ones.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("npy") => Ok(MatrixFormat::Npy),
            Some("csv") | Some("txt") => Ok(MatrixFormat::Csv),
            Some("tsv") => Ok(MatrixFormat::Tsv),
            _ => Err(Error::Usage(format!(
                "'{}': unknown matrix file extension (use .npy, .csv, .tsv or .txt)",
                path.display()
            ))),
        }
    }
}

/// Reads a matrix file in its stored precision, by extension: `.npy`; `.csv`, `.tsv`, `.txt` as
/// delimited text (delimiter and header detected; see [`csv`]).
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    match MatrixFormat::from_path(path)? {
        MatrixFormat::Npy => npy::read_npy(path),
        MatrixFormat::Csv | MatrixFormat::Tsv => {
            csv::read_csv::<f64>(path, &CsvOptions::default()).map(Matrix::F64)
        }
    }
}

/// Reads a matrix file straight into `Mat<T>` (no intermediate copy in another precision).
pub fn read_matrix_as<T: Real>(path: &Path) -> Result<Mat<T>> {
    match MatrixFormat::from_path(path)? {
        MatrixFormat::Npy => npy::read_npy_as(path),
        MatrixFormat::Csv | MatrixFormat::Tsv => csv::read_csv(path, &CsvOptions::default()),
    }
}

/// Fails with an [`Error::Data`] naming `file` and the first row (and column) holding a NaN or ±Inf.
pub fn check_finite<T: Real>(m: &Mat<T>, file: &str) -> Result<()> {
    let cols = m.cols().max(1);
    match m.as_slice().iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => {
            let v = m.as_slice()[i];
            Err(Error::data(
                file,
                Some(i / cols + 1),
                Some(i % cols + 1),
                format!(
                    "the result is {} there; nothing was written (non-finite values usually mean \
                     the input's scale overflows {}: rescale it or use f64)",
                    if v.to_f64().is_nan() {
                        "NaN"
                    } else {
                        "infinite"
                    },
                    T::NAME
                ),
            ))
        }
    }
}

/// `s` quoted for an error message: control characters (escape sequences, NUL, CR, …) and other
/// non-printing characters escaped (`\u{1b}`), cut to at most `max` characters with `…` after the cut.
pub fn quote(s: &str, max: usize) -> String {
    let mut out = String::from("'");
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() || c == '\u{feff}' || c == '\u{200b}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// [`read_matrix_as`] with explicit CSV options, also returning what the CSV reader detected (the
/// header line; always empty for `.npy`).
pub fn read_matrix_report<T: Real>(path: &Path, csv: &CsvOptions) -> Result<(Mat<T>, CsvReport)> {
    match MatrixFormat::from_path(path)? {
        MatrixFormat::Npy => npy::read_npy_as(path).map(|m| (m, CsvReport::default())),
        MatrixFormat::Csv | MatrixFormat::Tsv => csv::read_csv_report(path, csv),
    }
}

/// Writes a matrix file atomically, by extension: `.npy`; `.csv`/`.txt` comma-separated; `.tsv`
/// tab-separated (text at full round-trip precision). A NaN or ±Inf value is refused before anything is
/// written ([`check_finite`]): every file monge writes can be read back.
pub fn write_matrix<T: Real>(path: &Path, m: &Mat<T>) -> Result<()> {
    check_finite(m, &path.display().to_string())?;
    match MatrixFormat::from_path(path)? {
        MatrixFormat::Npy => npy::write_npy(path, m),
        MatrixFormat::Csv => csv::write_delimited(path, m, b','),
        MatrixFormat::Tsv => csv::write_delimited(path, m, b'\t'),
    }
}
