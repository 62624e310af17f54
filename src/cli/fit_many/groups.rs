//! The groups of `monge fit-many`: the rows of each label, the cell counts of the split, the fingerprint
//! a resumed run compares, and the fit of one group through [`monge::fit`].

use super::summary::{Cells, Row, Status};
use super::Opts;
use crate::cli::common::{fmt_num, ProgressPrinter};
use monge::io::labels::{file_stem, stems_collide};
use monge::io::model::{encode_model, fnv1a64};
use monge::linalg::{Mat, Real};
use monge::ot::train::split::heldout_size;
use monge::ot::train::{Heldout, Stopped};
use monge::{Error, Result};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One group to fit.
pub(super) struct Group {
    pub label: String,
    /// Rows of `--data` (ascending).
    pub rows: Vec<usize>,
    pub model: PathBuf,
    pub fingerprint: String,
    pub cells: Cells,
}

/// The source rows, the groups (in `--targets` order, or sorted) and the target labels, after every
/// check: the source label exists, each `--targets` label exists once and is not the source, every set
/// can be split.
pub(super) fn build<T: Real>(
    o: &Opts,
    x: &Mat<T>,
    labels: &[String],
) -> Result<(Vec<usize>, Vec<Group>, Vec<String>)> {
    // rows per label
    let mut by_label: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, l) in labels.iter().enumerate() {
        by_label.entry(l.as_str()).or_default().push(i);
    }
    let known = || {
        let mut s: Vec<String> = by_label
            .keys()
            .take(12)
            .map(|l| monge::io::quote(l, 40))
            .collect();
        if by_label.len() > 12 {
            s.push(format!("… {} in all", by_label.len()));
        }
        s.join(", ")
    };
    let Some(source_rows) = by_label.get(o.source_label.as_str()) else {
        return Err(Error::data(
            &o.labels,
            None,
            None,
            format!(
                "no cell has the source label {} (labels: {})",
                monge::io::quote(&o.source_label, 40),
                known()
            ),
        ));
    };
    let targets: Vec<String> = match &o.targets {
        None => by_label
            .keys()
            .filter(|l| **l != o.source_label)
            .map(|l| l.to_string())
            .collect(),
        Some((opt, list)) => {
            let mut v: Vec<String> = Vec::new();
            for t in list.iter().map(|t| t.trim_matches([' ', '\t'])) {
                let q = monge::io::quote(t, 40);
                if t.is_empty() {
                    return Err(Error::Usage(format!("--{opt}: an empty label in the list")));
                }
                if t == o.source_label {
                    return Err(Error::Usage(format!("--{opt}: {q} is the source label")));
                }
                if !by_label.contains_key(t) {
                    return Err(Error::Usage(format!(
                        "--{opt}: no cell in '{}' has the label {q} (labels: {})",
                        o.labels,
                        known()
                    )));
                }
                if v.iter().any(|s| s == t) {
                    return Err(Error::Usage(format!("--{opt}: {q} is given twice")));
                }
                v.push(t.to_string());
            }
            v
        }
    };
    if targets.is_empty() {
        return Err(Error::data(
            &o.labels,
            None,
            None,
            format!(
                "no label besides the source {}",
                monge::io::quote(&o.source_label, 40)
            ),
        ));
    }
    let iterative = o.iterative;
    let (s_train, s_held) = split_counts(
        source_rows.len(),
        o.heldout_fraction,
        &o.source_label,
        iterative,
    )?;
    let dir = PathBuf::from(&o.out);
    let mut groups = Vec::with_capacity(targets.len());
    for t in &targets {
        let rows = by_label[t.as_str()].clone();
        let (t_train, t_held) = split_counts(rows.len(), o.heldout_fraction, t, iterative)?;
        groups.push(Group {
            model: dir.join(format!("{}.monge", file_stem(t))),
            fingerprint: fingerprint(o, x, source_rows, t, &rows),
            cells: Cells {
                source: source_rows.len(),
                target: rows.len(),
                source_train: s_train,
                source_heldout: s_held,
                target_train: t_train,
                target_heldout: t_held,
            },
            label: t.clone(),
            rows,
        });
    }
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    if let Some((a, b)) = stems_collide(&refs) {
        say!(
            "monge: warning: labels {} and {} differ only in case: on a case-insensitive file system \
             their models would share one file",
            monge::io::quote(a, 40),
            monge::io::quote(b, 40)
        );
    }
    Ok((source_rows.clone(), groups, targets))
}

/// The held-out cell counts of a set of n cells.
fn split_counts(n: usize, frac: f64, label: &str, iterative: bool) -> Result<(usize, usize)> {
    if frac == 0.0 || !iterative {
        return Ok((n, 0));
    }
    let h = heldout_size(n, frac).map_err(|_| {
        Error::Usage(format!(
            "group {}: {n} cell(s), too few to split into training and held-out cells \
             (at least 2; or --heldout-fraction 0, or leave the label out of --targets)",
            monge::io::quote(label, 40)
        ))
    })?;
    Ok((n - h, h))
}

/// FNV-1a of what determines a group's model (module doc).
fn fingerprint<T: Real>(
    o: &Opts,
    x: &Mat<T>,
    source: &[usize],
    label: &str,
    rows: &[usize],
) -> String {
    let mut buf = format!(
        "monge {}\n{:?}\nheldout_fraction {:?}\ndtype {}\nsource {}\ntarget {}\n",
        env!("CARGO_PKG_VERSION"),
        o.method,
        o.heldout_fraction,
        T::NAME,
        o.source_label,
        label
    )
    .into_bytes();
    let mut row = Vec::with_capacity(8 * x.cols());
    for set in [source, rows] {
        for &i in set {
            row.clear();
            for v in x.row(i) {
                row.extend_from_slice(&v.to_f64().to_bits().to_le_bytes());
            }
            buf.extend_from_slice(&fnv1a64(&row).to_le_bytes());
        }
        buf.push(b'|');
    }
    format!("{:016x}", fnv1a64(&buf))
}

/// The row of a group not fitted yet.
pub(super) fn pending(o: &Opts, g: &Group) -> Row {
    Row {
        label: g.label.clone(),
        status: Status::Pending,
        cells: g.cells,
        method: o.method.name().into(),
        iterations: None,
        stopped: None,
        heldout: None,
        seconds: None,
        model: None,
        fingerprint: g.fingerprint.clone(),
        model_fnv1a: None,
        from_earlier_run: false,
        note: String::new(),
    }
}

/// FNV-1a (hex) of a file's bytes, None when it cannot be read.
pub(super) fn file_hash(p: &Path) -> Option<String> {
    std::fs::read(p)
        .ok()
        .map(|b| format!("{:016x}", fnv1a64(&b)))
}

/// Fits one group and writes its model; every failure becomes the row's status and note.
pub(super) fn fit_group<T: Real>(o: &Opts, x: &Mat<T>, source: &Mat<T>, g: &Group) -> Row {
    let t0 = Instant::now();
    let mut row = pending(o, g);
    let target = x.select_rows(&g.rows);
    let heldout: Heldout<T> = Heldout::fraction(o.heldout_fraction);
    let mut printer = ProgressPrinter::labelled(o.quiet, format!("{}: ", g.label), 10.0);
    let mut progress = |p: &monge::ot::Progress| {
        printer.report(p);
        ControlFlow::Continue(())
    };
    let res = monge::fit(source, &target, &o.method, &heldout, Some(&mut progress));
    let fitted = match res {
        Ok(f) => f,
        Err(e) => {
            row.status = Status::Failed;
            row.note = e.to_string();
            row.seconds = Some(t0.elapsed().as_secs_f64());
            return row;
        }
    };
    let rep = &fitted.report;
    row.iterations = Some(rep.iterations);
    row.stopped = rep.stopped.map(|s| s.name().to_string());
    row.heldout = rep.heldout.clone();
    row.status = match (&rep.divergence, rep.stopped) {
        (Some(e), _) => {
            row.note = e.to_string();
            Status::Diverged
        }
        (None, Some(Stopped::Interrupted)) => Status::Interrupted,
        _ => Status::Ok,
    };
    let saved = fitted.map.to_saved();
    let written = monge::io::save_model(&g.model, &saved).and_then(|()| {
        encode_model(&saved).map_err(|msg| Error::Model {
            file: g.model.display().to_string(),
            msg,
        })
    });
    match written {
        Ok(bytes) => {
            row.model = Some(g.model.display().to_string());
            row.model_fnv1a = Some(format!("{:016x}", fnv1a64(&bytes)));
        }
        Err(e) => {
            row.status = Status::Failed;
            row.note = e.to_string();
        }
    }
    row.seconds = Some(t0.elapsed().as_secs_f64());
    row
}

/// One line about a finished group.
pub(super) fn describe(r: &Row) -> String {
    let mut s = format!("{}: {}", r.label, r.status.name());
    if let Some(sec) = r.seconds {
        s.push_str(&format!(" in {sec:.1} s"));
    }
    if let (Some(it), Some(st)) = (r.iterations, &r.stopped) {
        s.push_str(&format!(", {it} iterations (stopped: {st})"));
    }
    if let Some(h) = &r.heldout {
        s.push_str(&format!(
            ", held-out {}: map {}, identity {}, mean shift {}",
            h.criterion,
            fmt_num(h.map),
            fmt_num(h.identity),
            fmt_num(h.mean_shift)
        ));
    }
    if !r.note.is_empty() {
        s.push_str(&format!(" — {}", r.note));
    }
    s
}
