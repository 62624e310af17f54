//! `monge fit-many`: one map per perturbation — source = the cells labelled `--source-label`, target =
//! the cells of each other label — fitted through the library's front door [`monge::fit`], several
//! groups at once, one model file per group plus a summary table, resumable.
//!
//! Threads: `--threads N` is the whole budget; each group's solver runs on `--group-threads K` threads
//! (default one) and ⌊N/K⌋ groups run at once. A model depends on K (as `monge fit --threads K` does: parallel
//! sums change the last bits) and never on N, so a group fitted alone or among others, at any N, is the
//! same file.
//!
//! Completion is recorded in `DIR/summary.tsv`, rewritten atomically each time a group ends: a group is
//! complete when its row says `ok`, and a resumed run skips it only when that row's fingerprint (FNV-1a
//! of monge's version, the group's fit options, dtype, labels and the bits of its source and target
//! cells) matches the new run's and its model file still hashes to the recorded `model_fnv1a`. Every
//! other group (interrupted, diverged, failed, never started, changed options or data) is fitted again.

mod groups;
mod summary;

use super::args::Args;
use super::common::{check_paths, load, warn_scale};
use groups::{describe, file_hash, fit_group, pending};
use monge::io::labels::read_labels;
use monge::linalg::Real;
use monge::ot::options;
use monge::{Error, Method, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use summary::{Row, Status};

/// Help text of `monge fit-many`.
pub const HELP: &str = "\
monge fit-many — one map per perturbation label, several at once, resumable

USAGE:
    monge fit-many --data X --labels L --source-label control [--targets a,b,…] --out DIR
                   --method METHOD [the options of `monge fit`]

For each target label t: source = the rows of X labelled control, target = the rows labelled t; the
map is fitted exactly as `monge fit --method METHOD … --threads K` fits it on those two sets: every
option of `monge fit --help` (read by the same code), the same held-out split and selection, the same
model file, bit for bit.

OPTIONS:
    --data FILE            all cells, one per row (.npy f32/f64, .csv, .tsv, .txt)
    --labels FILE          one label per row of --data: a text file with one label per line (no
                           header), or with --label-column a CSV/TSV table with a header
    --label-column NAME    the column of --labels holding the labels (e.g. an exported adata.obs)
    --source-label NAME    the control cells' label (required)
    --targets A,B,…        the labels to fit (default: every label but the source, sorted)
    --targets-file FILE    the labels to fit, one per line (for labels holding a comma)
    --out DIR              output directory (created if needed): DIR/<label>.monge per group,
                           DIR/summary.tsv (and DIR/summary.json with --json)
    --threads N            the whole thread budget (default: the machine's cores, at most 2)
    --group-threads K      threads of each group's solver (default 1); ⌊N/K⌋ groups run at once.
                           A model depends on K, never on N
    --json                 also write DIR/summary.json and print it on stdout
    --quiet                no progress on stderr

Labels: leading/trailing blanks are trimmed; empty labels and labels with control characters are
errors naming the line. Model file names escape every byte outside A-Z a-z 0-9 _ - . (and a leading .)
as %XX, so any label is a safe, distinct name (`a/b` → a%2Fb.monge, `..` → %2E..monge).

Summary (one row per group): label, status (ok, interrupted, diverged, failed, pending), cells per
side (all, training, held-out), method, iterations, stopped, the held-out criterion of the map, the
identity and the mean shift, best_iteration, seconds, model, fingerprint, model_fnv1a,
from_earlier_run, note.

Resume: run the same command again. A group is skipped when its summary row says ok with the same
fingerprint (monge's version, the fit options, dtype, labels and the group's cells) and its model file
is unchanged; every other group is fitted again. Rows of labels not in --targets are kept, so one
DIR can be filled by successive runs (not by concurrent ones: give each job its own DIR).

Not taken here: --source/--target/--model (given by the groups), --heldout-source/--heldout-target,
--checkpoint/--resume (a group is the unit of resumption), --history.
SIGINT/SIGTERM: the groups in flight stop at their next iteration and write their best model so far,
the summary records what finished, monge exits 1; the same command then completes the rest.
Exit codes: 0 when every group is ok, 1 otherwise (see the summary), 2 usage error.";

/// The fit-many options (the per-group fit options are in `method` and `heldout_fraction`).
struct Opts {
    data: String,
    labels: String,
    label_column: Option<String>,
    source_label: String,
    /// `--targets` split at commas, or the labels of `--targets-file` (with the option's name).
    targets: Option<(&'static str, Vec<String>)>,
    out: String,
    threads: usize,
    group_threads: usize,
    json: bool,
    quiet: bool,
    dtype: options::Dtype,
    /// The per-group method, its solver on `group_threads` threads.
    method: Method,
    /// Whether the method is iterative (w2, w1: held-out cells, selection).
    iterative: bool,
    heldout_fraction: f64,
}

/// Options of `monge fit` that fit-many takes no value for, and why.
const NOT_HERE: [(&str, &str); 9] = [
    ("source", "the source set is the rows of --source-label"),
    ("target", "each target set is the rows of one label"),
    ("model", "the models are DIR/<label>.monge"),
    (
        "heldout-source",
        "held-out cells come from --heldout-fraction per group",
    ),
    (
        "heldout-target",
        "held-out cells come from --heldout-fraction per group",
    ),
    (
        "checkpoint",
        "a group is the unit of resumption: rerun the command",
    ),
    (
        "checkpoint-every",
        "a group is the unit of resumption: rerun the command",
    ),
    ("resume", "rerun the same command to resume"),
    ("history", "not written per group yet"),
];

/// Runs `monge fit-many`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    for (k, why) in NOT_HERE {
        if a.given(k) {
            return Err(Error::Usage(format!("fit-many takes no --{k} ({why})")));
        }
    }
    // monge fit's own options (one reader: monge::ot::options); --threads is the whole budget here
    let common = options::read_common(&mut a)?;
    let threads = common.threads;
    let group_threads: usize = a.get_or("group-threads", 1)?;
    if group_threads == 0 || group_threads > threads {
        return Err(Error::Usage(format!(
            "--group-threads {group_threads}: must lie in 1..=--threads ({threads})"
        )));
    }
    let data: String = a.required("data")?;
    let labels: String = a.required("labels")?;
    let label_column: Option<String> = a.get("label-column")?;
    let source_label: String = a.required("source-label")?;
    let targets = match (
        a.get::<String>("targets")?,
        a.get::<String>("targets-file")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "--targets and --targets-file: give one of them".into(),
            ))
        }
        (Some(t), None) => Some(("targets", t.split(',').map(String::from).collect())),
        (None, Some(f)) => Some(("targets-file", read_labels(Path::new(&f), None)?)),
        (None, None) => None,
    };
    let out: String = a.required("out")?;
    let (json, quiet) = (a.flag("json"), a.flag("quiet"));
    let iterative = common.iterative();
    let heldout_fraction = match &common.heldout {
        options::HeldoutChoice::Fraction(f) => *f,
        // refused above (NOT_HERE)
        options::HeldoutChoice::Files { .. } => 0.0,
    };
    // the method's own options, then every option left over is refused
    let fit = options::resolve(common, &mut a)?;
    let o = Opts {
        data,
        labels,
        label_column,
        source_label,
        targets,
        out,
        threads,
        group_threads,
        json,
        quiet,
        dtype: fit.dtype,
        method: with_threads(fit.method, group_threads),
        iterative,
        heldout_fraction,
    };
    match o.dtype {
        options::Dtype::F32 => run_typed::<f32>(&o),
        options::Dtype::F64 => run_typed::<f64>(&o),
    }
}

/// `method` with its solver on `k` threads.
fn with_threads(mut method: Method, k: usize) -> Method {
    match &mut method {
        Method::W2(c) => c.threads = k,
        Method::W2Schedule(s) => s.w2.threads = k,
        Method::W1(c) => c.threads = k,
        Method::Sinkhorn(c) => c.threads = k,
        Method::Latent(_, inner) => {
            let m = std::mem::replace(&mut **inner, Method::Identity);
            **inner = with_threads(m, k);
        }
        Method::MeanShift | Method::Identity => {}
    }
    method
}

fn run_typed<T: Real>(o: &Opts) -> Result<()> {
    let t0 = Instant::now();
    let x = load::<T>(&o.data)?;
    warn_scale(&o.data, &x);
    let labels = read_labels(Path::new(&o.labels), o.label_column.as_deref())?;
    if labels.len() != x.rows() {
        return Err(Error::data(
            &o.labels,
            None,
            None,
            format!(
                "{} labels, but --data '{}' has {} rows: one label per row of the data is needed{}",
                labels.len(),
                o.data,
                x.rows(),
                if o.label_column.is_none() && labels.len() == x.rows() + 1 {
                    " (if the first line is a header, give --label-column NAME)"
                } else {
                    ""
                }
            ),
        ));
    }
    let (source_rows, groups, targets) = groups::build(o, &x, &labels)?;
    let source_rows = &source_rows;
    let dir = PathBuf::from(&o.out);
    // outputs: checked (distinct from the inputs, writable) before any fit
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    let tsv_path = dir.join("summary.tsv");
    let json_path = dir.join("summary.json");
    let paths: Vec<String> = [&tsv_path, &json_path]
        .into_iter()
        .chain(groups.iter().map(|g| &g.model))
        .map(|p| p.display().to_string())
        .collect();
    let outputs: Vec<(&str, &str)> = paths.iter().map(|p| ("out", p.as_str())).collect();
    check_paths(&[("data", &o.data), ("labels", &o.labels)], &outputs)?;

    // the record of an earlier run
    let earlier: Vec<Row> = if tsv_path.exists() {
        match summary::read_tsv(&tsv_path) {
            Ok(r) => r,
            Err(e) => {
                say!("monge: warning: {e}: every group is fitted again");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut todo: Vec<usize> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let done = earlier.iter().find(|r| {
            r.label == g.label
                && r.status == Status::Ok
                && r.fingerprint == g.fingerprint
                && r.model_fnv1a.as_deref() == file_hash(&g.model).as_deref()
        });
        match done {
            Some(r) => rows.push(Row {
                from_earlier_run: true,
                ..r.clone()
            }),
            None => {
                todo.push(gi);
                rows.push(pending(o, g));
            }
        }
    }
    // rows of other labels (an earlier run's --targets) are kept
    rows.extend(earlier.into_iter().filter(|r| !targets.contains(&r.label)));
    let source = x.select_rows(source_rows);
    let state = Mutex::new(rows);
    let write_err: Mutex<Option<Error>> = Mutex::new(None);
    let save = |rows: &[Row]| {
        let mut r = write_summary(o, &tsv_path, &json_path, rows);
        if let Err(e) = r.as_mut() {
            let mut w = write_err.lock().unwrap_or_else(|p| p.into_inner());
            if w.is_none() {
                *w = Some(std::mem::replace(e, Error::Usage(String::new())));
            }
        }
    };
    save(&state.lock().unwrap_or_else(|p| p.into_inner()));
    // SIGINT/SIGTERM are recorded while the groups train: the solvers stop at an iteration boundary
    let deferral = monge::signal::Deferral::new();
    let workers = (o.threads / o.group_threads).clamp(1, todo.len().max(1));
    if !o.quiet {
        say!(
            "monge fit-many: {} groups ({} done earlier, {} to fit), {} at once × {} thread(s) each",
            groups.len(),
            groups.len() - todo.len(),
            todo.len(),
            workers,
            o.group_threads
        );
    }
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let work = || loop {
                if monge::signal::interrupted().is_some() {
                    break;
                }
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&gi) = todo.get(k) else { break };
                let g = &groups[gi];
                let row = fit_group(o, &x, &source, g);
                let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
                if !o.quiet {
                    say!("monge fit-many: [{n}/{}] {}", todo.len(), describe(&row));
                }
                let mut rows = state.lock().unwrap_or_else(|p| p.into_inner());
                rows[gi] = row;
                save(&rows);
            };
            // the solvers' own pools and kernels expect a main-thread-sized stack
            let spawned = std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn_scoped(s, work);
            if let Err(e) = spawned {
                say!("monge: warning: could not start a worker thread: {e}");
            }
        }
    });
    let signal = monge::signal::interrupted();
    drop(deferral);
    let rows = state.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = write_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    if o.json {
        out!("{}", summary::json(&rows).render());
    }
    let count = |st: Status| {
        rows.iter()
            .filter(|r| r.status == st && targets.contains(&r.label))
            .count()
    };
    let (ok, bad) = (count(Status::Ok), groups.len() - count(Status::Ok));
    if let Some(sig) = signal {
        say!(
            "monge: interrupted by {}: {ok} of {} groups complete, {} stopped midway (their best \
             models written; a rerun fits them again), {} not started; summary in {}; run the same \
             command again to complete the rest",
            monge::signal::name(sig),
            groups.len(),
            count(Status::Interrupted),
            count(Status::Pending),
            tsv_path.display()
        );
        std::process::exit(1);
    }
    if !o.quiet {
        say!(
            "monge fit-many: {ok} of {} groups ok in {:.1} s; summary in {}",
            groups.len(),
            t0.elapsed().as_secs_f64(),
            tsv_path.display()
        );
    }
    if bad > 0 {
        return Err(Error::data(
            tsv_path.display().to_string(),
            None,
            None,
            format!(
                "{bad} of {} groups are not ok ({} diverged, {} failed): see their rows' status and note",
                groups.len(),
                count(Status::Diverged),
                count(Status::Failed)
            ),
        ));
    }
    Ok(())
}

/// Writes the summary (TSV; JSON too with `--json`), each atomically.
fn write_summary(o: &Opts, tsv: &Path, json: &Path, rows: &[Row]) -> Result<()> {
    monge::io::atomic::write_bytes_atomic(tsv, summary::tsv(rows).as_bytes())?;
    if o.json {
        let mut text = summary::json(rows).render();
        text.push('\n');
        monge::io::atomic::write_bytes_atomic(json, text.as_bytes())?;
    }
    Ok(())
}
