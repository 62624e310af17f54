//! Model files: a versioned, checksummed binary format for [`SavedModel`].
//!
//! # Byte layout (format version 1)
//! All integers are little-endian; `str` is a `u32` byte length followed by that many UTF-8 bytes.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `89 4D 4F 4E 47 45 0D 0A` (`"\x89MONGE\r\n"`) |
//! | 8 | 4 | format version, `u32` = 1 |
//! | 12 | 1 | dtype: `4` = f32, `8` = f64 (bytes per value) |
//! | 13 | 3 | reserved, zero |
//! | 16 | … | method: `str` (`"w2"`, `"w1"`, `"sinkhorn"`, …) |
//! | | 8 | dim: `u64` |
//! | | 4 | hyper-parameter count H: `u32`, then H × (key `str`, value `str`) |
//! | | 4 | tensor count K: `u32`, then K × tensor |
//! | end − 8 | 8 | checksum: FNV-1a 64 of every byte before it, `u64` |
//!
//! tensor = name `str`, ndim `u32` (≤ 8), ndim × `u64` dims, `u64` value count (= product of the dims),
//! then the values, row-major, 4 or 8 bytes each (IEEE 754, little-endian).
//!
//! The magic's first byte is non-ASCII and its `\r\n` catches text-mode transfers (as PNG's does).
//! Values are stored bit for bit, so save → load is bit-exact. Tensor values must be finite (a model with
//! NaN/Inf parameters cannot map anything; saving one is refused).
//!
//! # Loading checks
//! Magic, version (a newer version is reported as such), dtype code, reserved bytes, every length and
//! count against the bytes that remain before the checksum (so a corrupt length never causes a large
//! allocation or a read out of bounds), UTF-8 of every string, ndim ≤ 8, value count = product of the
//! shape (overflow-checked), finite values, no bytes between the last tensor and the checksum, and finally
//! the checksum. Each failure is an [`Error::Model`] saying which field of which tensor is wrong.

use super::atomic::write_bytes_atomic;
use crate::linalg::Real;
use crate::ot::SavedModel;
use crate::{Error, Result};
use std::path::Path;

/// The 8 magic bytes opening a model file.
pub const MAGIC: [u8; 8] = *b"\x89MONGE\r\n";
/// The format version written by this build (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
/// Largest tensor rank accepted.
pub const MAX_NDIM: usize = 8;

/// A loaded model in its stored precision.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadedModel {
    /// Saved from an f32 model.
    F32(SavedModel<f32>),
    /// Saved from an f64 model.
    F64(SavedModel<f64>),
}

impl LoadedModel {
    /// The method string.
    pub fn method(&self) -> &str {
        match self {
            LoadedModel::F32(m) => &m.method,
            LoadedModel::F64(m) => &m.method,
        }
    }
    /// The input dimension.
    pub fn dim(&self) -> usize {
        match self {
            LoadedModel::F32(m) => m.dim,
            LoadedModel::F64(m) => m.dim,
        }
    }
    /// `"f32"` or `"f64"`.
    pub fn dtype(&self) -> &'static str {
        match self {
            LoadedModel::F32(_) => "f32",
            LoadedModel::F64(_) => "f64",
        }
    }
}

/// FNV-1a, 64-bit: `h ← 0xcbf29ce484222325; for each byte b: h ← (h ⊕ b) · 0x100000001b3 (mod 2⁶⁴)`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn put_str(out: &mut Vec<u8>, s: &str, what: &str) -> std::result::Result<(), String> {
    let n = u32::try_from(s.len()).map_err(|_| format!("{what} is longer than 4 GiB"))?;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Encodes `m` into the bytes of a model file. Fails (with the message) on a tensor whose shape does not
/// match its value count, a rank above [`MAX_NDIM`], a non-finite value, or an oversized string/count.
pub fn encode_model<T: Real>(m: &SavedModel<T>) -> std::result::Result<Vec<u8>, String> {
    let payload: usize = m.tensors.iter().map(|t| t.2.len() * T::BYTES).sum();
    let mut out = Vec::with_capacity(64 + payload);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&[T::BYTES as u8, 0, 0, 0]);
    put_str(&mut out, &m.method, "method")?;
    out.extend_from_slice(&(m.dim as u64).to_le_bytes());
    let h = u32::try_from(m.hyper.len()).map_err(|_| "too many hyper-parameters".to_string())?;
    out.extend_from_slice(&h.to_le_bytes());
    for (k, v) in &m.hyper {
        put_str(&mut out, k, "hyper-parameter key")?;
        put_str(&mut out, v, "hyper-parameter value")?;
    }
    let k = u32::try_from(m.tensors.len()).map_err(|_| "too many tensors".to_string())?;
    out.extend_from_slice(&k.to_le_bytes());
    for (name, shape, vals) in &m.tensors {
        if shape.len() > MAX_NDIM {
            return Err(format!(
                "tensor '{name}' has rank {} (at most {MAX_NDIM})",
                shape.len()
            ));
        }
        let prod = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if prod != Some(vals.len()) {
            return Err(format!(
                "tensor '{name}' has shape {shape:?} but {} values",
                vals.len()
            ));
        }
        if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
            return Err(format!("tensor '{name}' value {i} is not finite"));
        }
        put_str(&mut out, name, "tensor name")?;
        out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for &d in shape {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out.extend_from_slice(&(vals.len() as u64).to_le_bytes());
        for &v in vals {
            v.write_le(&mut out);
        }
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// Saves `m` to `path` atomically (temp file + fsync + rename). A non-finite parameter (an overflowed
/// fit) is refused with a message saying so, and nothing is written.
pub fn save_model<T: Real>(path: &Path, m: &SavedModel<T>) -> Result<()> {
    for (name, _, vals) in &m.tensors {
        if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
            return Err(Error::Model {
                file: path.display().to_string(),
                msg: format!(
                    "the fitted '{}' model is not finite (tensor '{name}' value {i} is {}): the fit \
                     overflowed {}, most likely because of the data's scale (rescale the data or use \
                     --dtype f64); nothing was written",
                    m.method,
                    if vals[i].to_f64().is_nan() { "NaN" } else { "infinite" },
                    T::NAME
                ),
            });
        }
    }
    let bytes = encode_model(m).map_err(|msg| Error::Model {
        file: path.display().to_string(),
        msg: format!("cannot save: {msg}"),
    })?;
    write_bytes_atomic(path, &bytes)
}

/// A bounds-checked reader over the body (everything before the checksum).
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    name: &'a str,
}

impl<'a> Cursor<'a> {
    fn fail(&self, msg: impl Into<String>) -> Error {
        Error::Model {
            file: self.name.to_string(),
            msg: msg.into(),
        }
    }
    fn remaining(&self) -> usize {
        self.b.len() - self.i
    }
    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.fail(format!(
                "truncated or corrupt: {} needs {n} bytes at offset {}, only {} remain before the \
                 checksum",
                what(),
                self.i,
                self.remaining()
            )));
        }
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        Ok(s)
    }
    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        let s = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    /// The count of a list of `what`s, each at least `min_bytes` long: a count the rest of the file
    /// cannot hold is refused before anything is allocated for it.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let n = self.u32(&|| format!("the {what} count"))? as usize;
        if n > self.remaining() / min_bytes {
            return Err(self.fail(format!(
                "corrupt {what} count {n}: cannot fit in the {} remaining bytes",
                self.remaining()
            )));
        }
        Ok(n)
    }
    fn str(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let n = self.u32(&|| format!("the length of {}", what()))? as usize;
        let s = self.take(n, what)?;
        std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| self.fail(format!("{} is not valid UTF-8", what())))
    }
    fn usize(&mut self, what: &dyn Fn() -> String) -> Result<usize> {
        let v = self.u64(what)?;
        usize::try_from(v).map_err(|_| self.fail(format!("{} = {v} is too large", what())))
    }
}

/// Parses the body after the 16-byte preamble into a model of type `T`.
fn parse_body<T: Real>(c: &mut Cursor<'_>) -> Result<SavedModel<T>> {
    let method = c.str(&|| "the method name".into())?;
    if method.is_empty() {
        return Err(c.fail("empty method name"));
    }
    let dim = c.usize(&|| "the dimension".into())?;
    // Every hyper-parameter takes at least 8 bytes (two empty strings).
    let h = c.count("hyper-parameter", 8)?;
    let mut hyper = Vec::with_capacity(h);
    for i in 0..h {
        let k = c.str(&|| format!("hyper-parameter {} key", i + 1))?;
        let v = c.str(&|| format!("hyper-parameter '{k}' value"))?;
        hyper.push((k, v));
    }
    // Every tensor takes at least 16 bytes (empty name, rank 0, count).
    let kt = c.count("tensor", 16)?;
    let mut tensors = Vec::with_capacity(kt);
    for t in 0..kt {
        let name = c.str(&|| format!("tensor {} name", t + 1))?;
        let ndim = c.u32(&|| format!("tensor '{name}' rank"))? as usize;
        if ndim > MAX_NDIM {
            return Err(c.fail(format!(
                "tensor '{name}' has rank {ndim} (at most {MAX_NDIM})"
            )));
        }
        let mut shape = Vec::with_capacity(ndim);
        for a in 0..ndim {
            shape.push(c.usize(&|| format!("tensor '{name}' dimension {}", a + 1))?);
        }
        let count = c.usize(&|| format!("tensor '{name}' value count"))?;
        let prod = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if prod != Some(count) {
            return Err(c.fail(format!(
                "tensor '{name}' has shape {shape:?} but a value count of {count}"
            )));
        }
        let nbytes = count.saturating_mul(T::BYTES);
        let raw = c.take(nbytes, &|| format!("tensor '{name}' ({count} values)"))?;
        let mut vals = Vec::with_capacity(count);
        for (i, b) in raw.chunks_exact(T::BYTES).enumerate() {
            let v = T::read_le(b);
            if !v.is_finite() {
                return Err(c.fail(format!("tensor '{name}' value {i} is not finite")));
            }
            vals.push(v);
        }
        tensors.push((name, shape, vals));
    }
    if c.remaining() != 0 {
        return Err(c.fail(format!(
            "corrupt: {} unexpected bytes between the last tensor and the checksum",
            c.remaining()
        )));
    }
    Ok(SavedModel {
        method,
        dim,
        hyper,
        tensors,
    })
}

/// Parses the bytes of a model file (see the module doc for the checks). `name` is used in errors.
pub fn parse_model(bytes: &[u8], name: &str) -> Result<LoadedModel> {
    let fail = |msg: String| Error::Model {
        file: name.to_string(),
        msg,
    };
    let head = &bytes[..bytes.len().min(8)];
    if head != &MAGIC[..head.len()] || bytes.is_empty() {
        return Err(fail("not a monge model file (bad magic bytes)".into()));
    }
    if bytes.len() < 16 + 8 {
        return Err(fail(format!(
            "truncated: {} bytes, a model file has at least 24",
            bytes.len()
        )));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return Err(fail(if version > FORMAT_VERSION {
            format!(
                "format version {version} is newer than this build reads ({FORMAT_VERSION}); \
                 upgrade monge"
            )
        } else {
            format!("unknown format version {version}")
        }));
    }
    if bytes[13..16] != [0, 0, 0] {
        return Err(fail("corrupt: reserved header bytes are not zero".into()));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    let mut c = Cursor {
        b: body,
        i: 16,
        name,
    };
    let model = match bytes[12] {
        4 => LoadedModel::F32(parse_body(&mut c)?),
        8 => LoadedModel::F64(parse_body(&mut c)?),
        d => return Err(fail(format!("unknown dtype code {d} (4 = f32, 8 = f64)"))),
    };
    let mut a = [0u8; 8];
    a.copy_from_slice(tail);
    let stored = u64::from_le_bytes(a);
    let actual = fnv1a64(body);
    if stored != actual {
        return Err(fail(format!(
            "checksum mismatch (stored {stored:016x}, computed {actual:016x}): the file is corrupt"
        )));
    }
    Ok(model)
}

/// Loads a model file. Only a regular file is read (a device or pipe has no size to check lengths
/// against), its magic bytes are checked before the rest is read, and no more than its size is read.
pub fn load_model(path: &Path) -> Result<LoadedModel> {
    use std::io::Read;
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.is_file() {
        return Err(Error::Model {
            file: name,
            msg: "not a regular file (a model is read from a file of known size)".into(),
        });
    }
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    let mut r = f.take(meta.len());
    let mut head = [0u8; 8];
    let n = len.min(head.len());
    r.read_exact(&mut head[..n])
        .map_err(|e| Error::io(path, "read", e))?;
    if n < head.len() || head != MAGIC {
        return parse_model(&head[..n], &name);
    }
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&head[..n]);
    r.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    parse_model(&bytes, &name)
}
