//! The typed error of every fallible operation in monge. Errors are values; panics are reserved for
//! violated internal invariants.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong for a reason outside monge's own code.
#[derive(Debug)]
pub enum Error {
    /// An operating-system I/O failure on a path (open, read, write, rename, …).
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done ("open", "write", …).
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Malformed or unusable input data, located as precisely as the format allows.
    Data {
        /// File name (or a description such as "source set").
        file: String,
        /// 1-based row (data row for CSV, sample index for npy), if known.
        row: Option<usize>,
        /// 1-based column, if known.
        col: Option<usize>,
        /// What is wrong.
        msg: String,
    },
    /// A model file that cannot be loaded (bad magic, version, size, checksum, …).
    Model {
        /// The model file.
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// Shapes that do not fit together (feature counts of source and target, model and input, …).
    Shape(String),
    /// An invalid option value or combination (a usage error: exit code 2).
    Usage(String),
    /// Training produced a non-finite loss or gradient (checked before the update it would drive). The
    /// solver keeps its best model so far in memory; whether one was written is the caller's to say.
    Diverged {
        /// 1-based outer iteration at which the loss stopped being finite.
        iteration: usize,
        /// Which loss or gradient (and, for data of a huge scale, that the scale is the likely cause).
        what: String,
    },
    /// A command or feature that is not built yet (exit code 2).
    NotAvailable(String),
}

/// `Result` with monge's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for a [`Error::Data`] error.
    pub fn data(
        file: impl Into<String>,
        row: Option<usize>,
        col: Option<usize>,
        msg: impl Into<String>,
    ) -> Self {
        Error::Data {
            file: file.into(),
            row,
            col,
            msg: msg.into(),
        }
    }

    /// Shorthand for an [`Error::Io`] error.
    pub fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// The process exit code for this error: 2 for usage errors and unavailable commands, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::NotAvailable(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => {
                write!(f, "cannot {op} '{}': {source}", path.display())
            }
            Error::Data {
                file,
                row,
                col,
                msg,
            } => {
                write!(f, "{file}")?;
                if let Some(r) = row {
                    write!(f, ", row {r}")?;
                }
                if let Some(c) = col {
                    write!(f, ", column {c}")?;
                }
                write!(f, ": {msg}")
            }
            Error::Model { file, msg } => write!(f, "model file '{file}': {msg}"),
            Error::Shape(m) => write!(f, "shape mismatch: {m}"),
            Error::Usage(m) => write!(f, "{m}"),
            Error::Diverged { iteration, what } => write!(
                f,
                "training diverged at iteration {iteration}: {what} is not finite"
            ),
            Error::NotAvailable(what) => write!(f, "{what}: not available yet"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
