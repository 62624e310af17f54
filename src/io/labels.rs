//! Per-cell labels (the perturbation of each row of a data file) and file names made from them.
//!
//! Two formats, both UTF-8 text:
//! - **one label per line** (no header): line i labels row i of the data file — what
//!   `adata.obs["condition"].to_csv(index=False, header=False)` or `cut -f3` writes;
//! - **a column of a table** with a header line ([`read_labels`] with a column name): fields separated
//!   by a tab in a `.tsv`/`.tab` file, by a comma otherwise, `"…"` quoting with `""` for a quote (as
//!   `adata.obs.to_csv("obs.csv")` writes; a quoted field may not span lines).
//!
//! Every label has its ASCII blanks (space, tab) and a final CR trimmed; an empty label or one holding a
//! control character is an error naming the file and line, and so is a wrong field count. A final
//! newline ends the last line (it does not make an empty label).
//!
//! [`file_stem`] turns a label into a file name that is safe on every file system and is one-to-one:
//! bytes outside `A–Z a–z 0–9 _ - .` and a leading `.` become `%XX` (upper-case hex, `%` itself
//! included), so `..`, `/`, `a/../b`, NUL or a hidden name cannot escape or alias the output directory,
//! and two labels never share a file. Names differing only in case stay distinct names (on a
//! case-insensitive file system they would share a file: [`stems_collide`] finds such pairs).

use crate::{Error, Result};
use std::path::Path;

/// Largest labels file read (1 GiB): a label per cell of a million-cell set is far below.
pub const MAX_LABELS_FILE: u64 = 1 << 30;

/// Longest file stem [`file_stem`] makes (bytes); a longer label is refused (file names end at 255).
pub const MAX_STEM: usize = 200;

/// Reads the labels of `path`: one per line, or the column `column` of a table with a header (module
/// doc). Returns them in row order.
pub fn read_labels(path: &Path, column: Option<&str>) -> Result<Vec<String>> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "open", e))?;
    if !meta.is_file() {
        return Err(Error::data(&name, None, None, "not a regular file"));
    }
    if meta.len() > MAX_LABELS_FILE {
        return Err(Error::data(
            &name,
            None,
            None,
            format!(
                "{} bytes: larger than the {} bytes a labels file may have",
                meta.len(),
                MAX_LABELS_FILE
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let tab = matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("tsv" | "tab")
    );
    parse_labels(&bytes, &name, column, if tab { b'\t' } else { b',' })
}

/// [`read_labels`] on bytes (`name` for messages, `delimiter` for the table format).
pub fn parse_labels(
    bytes: &[u8],
    name: &str,
    column: Option<&str>,
    delimiter: u8,
) -> Result<Vec<String>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::data(name, Some(line), None, "not valid UTF-8")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return Err(Error::data(
            name,
            None,
            None,
            "no labels (the file is empty)",
        ));
    }
    let lines = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(column) = column else {
        return lines
            .enumerate()
            .map(|(i, l)| checked(l, name, i + 1))
            .collect();
    };
    let mut lines = lines.enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let fields = split_fields(header, delimiter, name, 1)?;
    let Some(at) = fields
        .iter()
        .position(|f| f.trim_matches([' ', '\t']) == column)
    else {
        let shown: Vec<String> = fields
            .iter()
            .take(20)
            .map(|f| super::quote(f, 40))
            .collect();
        return Err(Error::data(
            name,
            Some(1),
            None,
            format!(
                "no column {} in the header (it has {}{})",
                super::quote(column, 40),
                shown.join(", "),
                if fields.len() > 20 { ", …" } else { "" }
            ),
        ));
    };
    let mut out = Vec::new();
    for (i, l) in lines {
        let f = split_fields(l, delimiter, name, i + 1)?;
        if f.len() != fields.len() {
            return Err(Error::data(
                name,
                Some(i + 1),
                None,
                format!("{} fields, the header has {}", f.len(), fields.len()),
            ));
        }
        out.push(checked(&f[at], name, i + 1)?);
    }
    if out.is_empty() {
        return Err(Error::data(name, None, None, "a header but no labels"));
    }
    Ok(out)
}

/// The trimmed label of `line` (1-based) after checking it is non-empty and printable.
fn checked(raw: &str, name: &str, line: usize) -> Result<String> {
    let l = raw.trim_matches([' ', '\t']);
    if l.is_empty() {
        return Err(Error::data(name, Some(line), None, "empty label"));
    }
    check_label(l).map_err(|why| {
        Error::data(
            name,
            Some(line),
            None,
            format!("label {}: {why}", super::quote(l, 40)),
        )
    })?;
    Ok(l.to_string())
}

/// Whether `label` can name a group: non-empty, no control characters, a file stem of at most
/// [`MAX_STEM`] bytes. The error says why not.
pub fn check_label(label: &str) -> std::result::Result<(), String> {
    if label.is_empty() {
        return Err("empty label".into());
    }
    if label.chars().any(|c| c.is_control()) {
        return Err("holds a control character (a tab, a line end, NUL, an escape …)".into());
    }
    let stem = file_stem(label).len();
    if stem > MAX_STEM {
        return Err(format!(
            "too long for a file name ({stem} bytes once escaped, at most {MAX_STEM})"
        ));
    }
    Ok(())
}

/// Splits one table line into fields (`"…"` quoting, `""` inside for a quote).
fn split_fields(line: &str, delimiter: u8, name: &str, lineno: usize) -> Result<Vec<String>> {
    let d = delimiter as char;
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == d {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = at_start && (c == ' ' || c == '\t');
            if at_start {
                cur.clear();
            }
        }
    }
    if quoted {
        return Err(Error::data(
            name,
            Some(lineno),
            None,
            "a quoted field is not closed on its line",
        ));
    }
    out.push(cur);
    Ok(out)
}

/// The file stem of `label`: one-to-one, safe in any directory (module doc).
pub fn file_stem(label: &str) -> String {
    let mut s = String::with_capacity(label.len());
    for (i, b) in label.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if keep {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The first two labels whose file stems differ only in ASCII case (they would share one file on a
/// case-insensitive file system), if any.
pub fn stems_collide<'a>(labels: &[&'a str]) -> Option<(&'a str, &'a str)> {
    let mut seen: std::collections::HashMap<String, &'a str> = Default::default();
    for &l in labels {
        if let Some(other) = seen.insert(file_stem(l).to_ascii_lowercase(), l) {
            if other != l {
                return Some((other, l));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_escape_what_could_leave_the_directory() {
        assert_eq!(file_stem("drug-A_10.5"), "drug-A_10.5");
        assert_eq!(file_stem(".."), "%2E.");
        assert_eq!(file_stem("a/../b"), "a%2F..%2Fb");
        assert_eq!(file_stem("50%"), "50%25");
        assert_eq!(file_stem("é"), "%C3%A9");
        assert_ne!(file_stem("a%2Fb"), file_stem("a/b"));
    }

    #[test]
    fn lines_and_columns() {
        let l = parse_labels(b"control\r\n drugA \ncontrol\n", "l", None, b',').unwrap();
        assert_eq!(l, ["control", "drugA", "control"]);
        let t = b"cell,\"dose, uM\",condition\nc1,1,\"dr\"\"ug\"\nc2,2,control\n";
        let l = parse_labels(t, "obs", Some("condition"), b',').unwrap();
        assert_eq!(l, ["dr\"ug", "control"]);
        let e = parse_labels(b"a\n\nb\n", "l", None, b',')
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") || e.contains("row 2"), "{e}");
        assert!(parse_labels(b"a\nb\x1b[31m\n", "l", None, b',').is_err());
        assert!(parse_labels(t, "obs", Some("nope"), b',').is_err());
        assert!(parse_labels(b"x,y\n1\n", "obs", Some("y"), b',').is_err());
    }
}
