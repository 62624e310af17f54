//! The summary table of `monge fit-many`: one row per group, as TSV (`summary.tsv`, always) and as JSON
//! (`summary.json` and stdout, with `--json`); the TSV is also the record of what is complete, read back
//! by a resumed run ([`read_tsv`]).
//!
//! Numbers are written in Rust's shortest round-trip form (`{:?}`), so a value read back is the value
//! written, bit for bit; an empty TSV field is JSON `null`.

use super::super::fit::heldout_json;
use super::super::json::Json;
use monge::ot::train::{Criterion, HeldoutReport};
use monge::{Error, Result};
use std::path::Path;

/// What became of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fitted to the end (patience, cap, or a closed-form method): its model is complete.
    Ok,
    /// Stopped by SIGINT/SIGTERM: the best model so far was written; a resumed run redoes the group.
    Interrupted,
    /// Training diverged: the best model before it was written (if any evaluation had run).
    Diverged,
    /// An error (no model written by this run); the message is in `note`.
    Failed,
    /// Not started (the run was interrupted first).
    Pending,
}

impl Status {
    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Interrupted => "interrupted",
            Status::Diverged => "diverged",
            Status::Failed => "failed",
            Status::Pending => "pending",
        }
    }

    fn from_name(s: &str) -> Option<Status> {
        [
            Status::Ok,
            Status::Interrupted,
            Status::Diverged,
            Status::Failed,
            Status::Pending,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
}

/// Cell counts of a group: all, training, held-out, per side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cells {
    pub source: usize,
    pub target: usize,
    pub source_train: usize,
    pub source_heldout: usize,
    pub target_train: usize,
    pub target_heldout: usize,
}

/// One group's row.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub status: Status,
    pub cells: Cells,
    pub method: String,
    pub iterations: Option<usize>,
    /// `patience`, `cap`, `diverged`, `interrupted`; None for the closed-form methods.
    pub stopped: Option<String>,
    pub heldout: Option<HeldoutReport>,
    /// Wall-clock seconds of the group's fit (and its model's save).
    pub seconds: Option<f64>,
    /// The model file written (`DIR/<stem>.monge`), if one was.
    pub model: Option<String>,
    /// FNV-1a of the group's options and data (hex): a resumed run skips the group only when it matches.
    pub fingerprint: String,
    /// FNV-1a of the model file's bytes (hex), checked before a group is skipped.
    pub model_fnv1a: Option<String>,
    /// Carried over from an earlier run (skipped by this one).
    pub from_earlier_run: bool,
    /// An error message, or empty.
    pub note: String,
}

/// The TSV columns, in order.
pub const COLUMNS: [&str; 22] = [
    "label",
    "status",
    "source_cells",
    "target_cells",
    "source_train",
    "source_heldout",
    "target_train",
    "target_heldout",
    "method",
    "iterations",
    "stopped",
    "criterion",
    "heldout_map",
    "heldout_identity",
    "heldout_mean_shift",
    "best_iteration",
    "seconds",
    "model",
    "fingerprint",
    "model_fnv1a",
    "from_earlier_run",
    "note",
];

fn num(x: f64) -> String {
    format!("{x:?}")
}

/// A text field without tabs or line ends (labels cannot hold them; messages might).
fn field(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Row {
    fn tsv_fields(&self) -> Vec<String> {
        let c = &self.cells;
        let opt_n = |v: Option<usize>| v.map_or(String::new(), |v| v.to_string());
        let h = self.heldout.as_ref();
        vec![
            field(&self.label),
            self.status.name().into(),
            c.source.to_string(),
            c.target.to_string(),
            c.source_train.to_string(),
            c.source_heldout.to_string(),
            c.target_train.to_string(),
            c.target_heldout.to_string(),
            self.method.clone(),
            opt_n(self.iterations),
            self.stopped.clone().unwrap_or_default(),
            h.map_or(String::new(), |h| h.criterion.into()),
            h.map_or(String::new(), |h| num(h.map)),
            h.map_or(String::new(), |h| num(h.identity)),
            h.map_or(String::new(), |h| num(h.mean_shift)),
            opt_n(h.map(|h| h.best_iteration)),
            self.seconds.map_or(String::new(), num),
            field(self.model.as_deref().unwrap_or("")),
            self.fingerprint.clone(),
            self.model_fnv1a.clone().unwrap_or_default(),
            self.from_earlier_run.to_string(),
            field(&self.note),
        ]
    }

    /// The row as a JSON object (`cells` and `heldout` nested; the held-out object is `monge fit`'s).
    pub fn json(&self) -> Json {
        let c = &self.cells;
        let opt_n = |v: Option<usize>| v.map_or(Json::Null, Json::from);
        let opt_s = |v: &Option<String>| v.as_ref().map_or(Json::Null, |s| Json::from(s.as_str()));
        Json::obj()
            .with("label", self.label.as_str())
            .with("status", self.status.name())
            .with(
                "cells",
                Json::obj()
                    .with("source", c.source)
                    .with("target", c.target)
                    .with("source_train", c.source_train)
                    .with("source_heldout", c.source_heldout)
                    .with("target_train", c.target_train)
                    .with("target_heldout", c.target_heldout),
            )
            .with("method", self.method.as_str())
            .with("iterations", opt_n(self.iterations))
            .with("stopped", opt_s(&self.stopped))
            .with("heldout", heldout_json(self.heldout.as_ref()))
            .with("seconds", self.seconds.map_or(Json::Null, Json::from))
            .with("model", opt_s(&self.model))
            .with("fingerprint", self.fingerprint.as_str())
            .with("model_fnv1a", opt_s(&self.model_fnv1a))
            .with("from_earlier_run", self.from_earlier_run)
            .with("note", self.note.as_str())
    }
}

/// The table as TSV text (a header line, then one line per row).
pub fn tsv(rows: &[Row]) -> String {
    let mut s = COLUMNS.join("\t");
    s.push('\n');
    for r in rows {
        s.push_str(&r.tsv_fields().join("\t"));
        s.push('\n');
    }
    s
}

/// The table as JSON: `{"groups": [row, …], "counts": {status: n, …}}`.
pub fn json(rows: &[Row]) -> Json {
    let mut counts = Json::obj();
    for st in [
        Status::Ok,
        Status::Interrupted,
        Status::Diverged,
        Status::Failed,
        Status::Pending,
    ] {
        counts.set(st.name(), rows.iter().filter(|r| r.status == st).count());
    }
    Json::obj()
        .with("groups", Json::Arr(rows.iter().map(Row::json).collect()))
        .with("counts", counts)
}

/// Reads a summary written by [`tsv`]. A file that is not one (other columns, a bad number) is an error
/// naming the line; the caller decides what to do with it.
pub fn read_tsv(path: &Path) -> Result<Vec<Row>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    if header != COLUMNS.join("\t") {
        return Err(Error::data(
            &name,
            Some(1),
            None,
            "not a fit-many summary header (other columns)",
        ));
    }
    let mut rows = Vec::new();
    for (i, l) in lines {
        let bad = |what: &str| Error::data(&name, Some(i + 1), None, what.to_string());
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() != COLUMNS.len() {
            return Err(bad("wrong number of fields"));
        }
        let n = |k: usize| -> Result<usize> { f[k].parse().map_err(|_| bad(COLUMNS[k])) };
        let on = |k: usize| -> Result<Option<usize>> {
            if f[k].is_empty() {
                Ok(None)
            } else {
                n(k).map(Some)
            }
        };
        let x = |k: usize| -> Result<f64> { f[k].parse().map_err(|_| bad(COLUMNS[k])) };
        let os = |k: usize| (!f[k].is_empty()).then(|| f[k].to_string());
        let heldout = match f[11] {
            "" => None,
            c => Some(HeldoutReport {
                criterion: Criterion::from_name(c)
                    .ok_or_else(|| bad("criterion"))?
                    .name(),
                description: String::new(),
                map: x(12)?,
                identity: x(13)?,
                mean_shift: x(14)?,
                best_iteration: n(15)?,
            }),
        };
        rows.push(Row {
            label: f[0].to_string(),
            status: Status::from_name(f[1]).ok_or_else(|| bad("status"))?,
            cells: Cells {
                source: n(2)?,
                target: n(3)?,
                source_train: n(4)?,
                source_heldout: n(5)?,
                target_train: n(6)?,
                target_heldout: n(7)?,
            },
            method: f[8].to_string(),
            iterations: on(9)?,
            stopped: os(10),
            heldout,
            seconds: if f[16].is_empty() { None } else { Some(x(16)?) },
            model: os(17),
            fingerprint: f[18].to_string(),
            model_fnv1a: os(19),
            from_earlier_run: f[20] == "true",
            note: f[21].to_string(),
        });
    }
    Ok(rows)
}
