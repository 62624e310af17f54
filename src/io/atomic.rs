//! Atomic file writes: every file monge writes appears whole or not at all.
//!
//! Protocol of [`write_atomic`]:
//! 0. resolve the destination: a symbolic link is followed to the file it names (the link stays); an
//!    existing destination that is not a regular file (a device, FIFO, socket or directory) is refused
//!    with an [`Error::Io`] saying what it is, so a rename never replaces a device node or a pipe;
//! 1. create a new temp file `.<name>.<pid>.<n>.tmp` in the output's own directory (same file system, so
//!    the final rename is atomic); `create_new` never follows or reuses an existing file; `<name>` is cut
//!    (at a character boundary) so the temp name stays within the 255-byte `NAME_MAX`;
//! 2. run the caller's writer on a buffered handle to it, flush, `fsync`;
//! 3. rename the temp file over the output path, then `fsync` the directory (best effort).
//!
//! On any failure in 1–3 the temp file is removed (a drop guard, so also on a panic in the writer) and an
//! existing output file is left untouched. The temp path is also registered with [`crate::signal`], so
//! SIGINT/SIGTERM outside a training loop removes it before the process ends. Errors are [`Error::Io`] naming the *output* path (the temp
//! name means nothing to a user), with the step that failed (`create`, `write`, `sync`, `rename`).

use crate::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temp files of concurrent writes from one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temp file on drop unless the write completed (the rename consumed it).
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Longest file name (bytes) on the file systems monge writes to (Linux, macOS: 255).
const NAME_MAX: usize = 255;

/// What an existing non-regular file is, in words.
fn kind_of(ft: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Step 0: the path to write (a symbolic link resolved to its target), or an error when the
/// destination exists and is not a regular file.
pub fn resolve_destination(path: &Path) -> Result<PathBuf> {
    let refuse = |what: &str| {
        Error::io(
            path,
            "write",
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("it is {what}; monge writes only regular files"),
            ),
        )
    };
    match fs::symlink_metadata(path) {
        Err(_) => Ok(path.to_path_buf()),
        Ok(m) if m.file_type().is_file() => Ok(path.to_path_buf()),
        Ok(m) if m.file_type().is_symlink() => match fs::metadata(path) {
            Ok(t) if t.file_type().is_file() => {
                fs::canonicalize(path).map_err(|e| Error::io(path, "resolve", e))
            }
            Ok(t) => Err(refuse(&format!("a link to {}", kind_of(&t.file_type())))),
            // a dangling link: the rename replaces the link itself
            Err(_) => Ok(path.to_path_buf()),
        },
        Ok(m) => Err(refuse(kind_of(&m.file_type()))),
    }
}

/// The temp path used for writing `path`: a hidden file beside it.
fn temp_path_for(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            "create",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!(".{}.{n}.tmp", std::process::id());
    let keep = NAME_MAX - 1 - suffix.len();
    let mut tmp_name = std::ffi::OsString::from(".");
    let lossy = name.to_string_lossy();
    if name.len() <= keep {
        tmp_name.push(name);
    } else {
        // cut at a character boundary of the (lossy) UTF-8 form
        let mut end = keep.min(lossy.len());
        while !lossy.is_char_boundary(end) {
            end -= 1;
        }
        tmp_name.push(&lossy[..end]);
    }
    tmp_name.push(suffix);
    Ok(path.with_file_name(tmp_name))
}

/// Writes a file atomically: `write` fills a buffered temp file that replaces `path` only once it is
/// complete and synced. An error returned by `write` (or a panic in it) leaves no temp file and does not
/// touch an existing `path`.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let user_path = path;
    let resolved = resolve_destination(path)?;
    let path = resolved.as_path();
    let tmp = temp_path_for(path)?;
    // Registered before it exists, so a signal at any later moment removes it (crate::signal).
    let _registration = crate::signal::register_temp(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(user_path, "create", e))?;
    let mut guard = TempGuard {
        path: tmp,
        armed: true,
    };
    // Step 2: write, flush, fsync.
    let mut w = BufWriter::with_capacity(1 << 16, file);
    write(&mut w).map_err(|e| Error::io(user_path, "write", e))?;
    let file: File = w
        .into_inner()
        .map_err(|e| Error::io(user_path, "write", e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io(user_path, "sync", e))?;
    drop(file);
    // Step 3: rename over the output, then make the rename durable.
    fs::rename(&guard.path, path).map_err(|e| Error::io(user_path, "rename", e))?;
    guard.armed = false;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_atomic`]).
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}
