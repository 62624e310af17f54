//! Pieces every subcommand shares: the standard streams (writes that cannot panic), checking output
//! paths before any work, reading data files, the progress printer, number formatting.
//!
//! Standard streams: [`say`] writes a line to stderr and ignores a failure (progress, notes and warnings
//! must never stop a run — `2>/dev/full` included); [`print_out`] writes a result to stdout and turns a
//! failure (a closed pipe, a full disk) into an [`Error::Io`] on "standard output", so the command exits
//! 1 after everything it had to save is saved; [`print_help`] ignores failures (`monge --help | true`).

use monge::linalg::{Mat, Real};
use monge::ot::Progress;
use monge::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

/// Writes `line` and a newline to stderr; a failed write is ignored.
pub fn say(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(line.as_bytes());
    let _ = e.write_all(b"\n");
}

/// Writes `text` and a newline to stdout and flushes; a failure is an error (exit 1).
pub fn print_out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|_| o.write_all(b"\n"))
        .and_then(|_| o.flush())
        .map_err(|e| Error::io("standard output", "write", e))
}

/// Writes a help text to stdout; a failure (the reader went away) is ignored.
pub fn print_help(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = o.write_all(b"\n");
    }
    let _ = o.flush();
}

/// `--header` / `--no-header` of the command line: 0 = detect, 1 = header, 2 = no header.
static CSV_HEADER: AtomicU8 = AtomicU8::new(0);

/// Sets how the first line of every CSV input is taken (`None` = detected).
pub fn set_csv_header(h: Option<bool>) {
    CSV_HEADER.store(
        match h {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        },
        Ordering::Relaxed,
    );
}

fn csv_header() -> Option<bool> {
    match CSV_HEADER.load(Ordering::Relaxed) {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

/// Reads a data file (`.npy`, `.csv`, `.tsv`, `.txt`) as `T`, checking it is non-empty. When the first
/// line of a CSV was detected as a header, says so on stderr (it is not data).
pub fn load<T: Real>(path: &str) -> Result<Mat<T>> {
    load_named(path).map(|(m, _)| m)
}

/// [`load`], also returning the feature names of a CSV header (`None` without a header).
pub fn load_named<T: Real>(path: &str) -> Result<(Mat<T>, Option<Vec<String>>)> {
    let opts = monge::io::CsvOptions {
        header: csv_header(),
        ..Default::default()
    };
    let (m, rep) = monge::io::read_matrix_report::<T>(Path::new(path), &opts)?;
    if let (Some((line, text)), None) = (&rep.header, opts.header) {
        say(&format!(
            "monge: note: {path}: line {line} taken as a header, not data: {text} \
             (--no-header reads it as data)"
        ));
    }
    if m.rows() == 0 || m.cols() == 0 {
        return Err(Error::data(path, None, None, "the data set is empty"));
    }
    Ok((m, rep.names))
}

/// Warns on stderr when `m`'s values are so large that training in `T` will likely overflow (squared
/// distances and the potentials' quadratic terms exceed `T::MAX` from about √MAX on; the warning starts
/// a factor 10⁷ below, where batch sums and gradients already overflow).
pub fn warn_scale<T: Real>(path: &str, m: &Mat<T>) {
    let big = m
        .as_slice()
        .iter()
        .fold(0.0f64, |a, v| a.max(v.to_f64().abs()));
    let limit = T::MAX.to_f64().sqrt() * 1e-7;
    if big > limit {
        say(&format!(
            "monge: warning: {path} has values up to {big:.1e}: at this scale squared distances \
             overflow {} (max {:.1e}), so training will likely diverge or give non-finite results; \
             rescale the data (e.g. standardise each feature) or use --dtype f64",
            T::NAME,
            T::MAX.to_f64()
        ));
    }
}

/// A path as it will be written: canonical directory + file name (the file need not exist).
fn resolved(path: &str) -> PathBuf {
    let p = Path::new(path);
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(dir), p.file_name()) {
        (Ok(d), Some(n)) => d.join(n),
        _ => p.to_path_buf(),
    }
}

/// (device, inode) of an existing file.
fn file_id(path: &str) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn same_file(a: &str, b: &str) -> bool {
    resolved(a) == resolved(b) || matches!((file_id(a), file_id(b)), (Some(x), Some(y)) if x == y)
}

/// Checks, before any work, the paths of one command (each an (option, path) pair): every output
/// differs from every input and from the other outputs (same path once resolved, or the same file by
/// hard link) — a usage error naming both options —, is a regular file or does not exist yet, and its
/// directory exists and accepts a new file (probed by creating and removing a hidden empty file).
pub fn check_paths(inputs: &[(&str, &str)], outputs: &[(&str, &str)]) -> Result<()> {
    for (k, (oname, opath)) in outputs.iter().enumerate() {
        for (iname, ipath) in inputs {
            if same_file(opath, ipath) {
                return Err(Error::Usage(format!(
                    "--{oname} '{opath}' is the same file as --{iname} '{ipath}': writing it would \
                     destroy the input"
                )));
            }
        }
        for (pname, ppath) in &outputs[..k] {
            if same_file(opath, ppath) {
                return Err(Error::Usage(format!(
                    "--{oname} and --{pname} are the same file '{opath}': one would overwrite the other"
                )));
            }
        }
        let dest = monge::io::atomic::resolve_destination(Path::new(opath))?;
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let probe = dir.join(format!(".monge-probe.{}.{k}", std::process::id()));
        // registered like a temp file, so a signal between create and remove removes it too
        let _registration = monge::signal::register_temp(&probe);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => return Err(Error::io(opath, "write", e)),
        }
    }
    Ok(())
}

/// Refuses (usage error) an output path of `--name` whose extension is not one of `exts`: monge writes
/// the format the name promises or nothing.
pub fn check_ext(name: &str, path: &str, exts: &[&str], what: &str) -> Result<()> {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if ext.as_deref().is_some_and(|e| exts.contains(&e)) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--{name} '{path}': monge writes {what} there, so the name must end in .{}",
        exts.join(" or .")
    )))
}

/// Checks that two sets have the same number of features.
pub fn same_dim(a_name: &str, a: usize, b_name: &str, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::Shape(format!(
            "{a_name} has {a} features but {b_name} has {b}"
        )));
    }
    Ok(())
}

/// Prints training progress to stderr, at most once per `interval_s` seconds (and always for the final
/// iteration of a phase), with elapsed time and an ETA from the phase's rate so far.
pub struct ProgressPrinter {
    quiet: bool,
    start: Instant,
    phase_start: Instant,
    phase: &'static str,
    /// Iteration of the last report (a smaller one starts a new run of the same phase).
    iteration: usize,
    last: f64,
    interval_s: f64,
    /// Put before every line (`monge fit-many`: the group's label).
    prefix: String,
}

impl ProgressPrinter {
    /// A printer; `quiet` silences it.
    pub fn new(quiet: bool) -> Self {
        let now = Instant::now();
        ProgressPrinter {
            quiet,
            start: now,
            phase_start: now,
            phase: "",
            iteration: 0,
            last: -1e9,
            interval_s: 1.0,
            prefix: String::new(),
        }
    }

    /// A printer whose lines start with `prefix`, at most one per `interval_s` seconds.
    pub fn labelled(quiet: bool, prefix: String, interval_s: f64) -> Self {
        ProgressPrinter {
            prefix,
            interval_s,
            ..Self::new(quiet)
        }
    }

    /// Handles one report from a solver.
    pub fn report(&mut self, p: &Progress) {
        if self.quiet {
            return;
        }
        if p.phase != self.phase || p.iteration < self.iteration {
            // the first phase started with the printer; later ones (or later runs of the same phase, as
            // the rows of an experiment) when their first report arrives
            if !self.phase.is_empty() {
                self.phase_start = Instant::now();
            }
            self.phase = p.phase;
        }
        self.iteration = p.iteration;
        let now = self.start.elapsed().as_secs_f64();
        let done = p.iteration >= p.total;
        if !done && now - self.last < self.interval_s {
            return;
        }
        self.last = now;
        let phase_elapsed = self.phase_start.elapsed().as_secs_f64();
        let eta = if p.iteration > 0 && p.total > p.iteration {
            phase_elapsed / p.iteration as f64 * (p.total - p.iteration) as f64
        } else {
            0.0
        };
        let pct = if p.total > 0 {
            100.0 * p.iteration as f64 / p.total as f64
        } else {
            100.0
        };
        let mut line = format!(
            "{}[{}] {}/{} ({pct:.0}%)",
            self.prefix, p.phase, p.iteration, p.total
        );
        for (k, v) in &p.losses {
            line.push_str(&format!(" {k}={}", fmt_num(*v)));
        }
        if let Some(l) = p.lambda {
            line.push_str(&format!(" λ={}", fmt_num(l)));
        }
        if let (Some(c), Some(m)) = (p.criterion, p.heldout) {
            line.push_str(&format!(" heldout_{c}={}", fmt_num(m)));
            if let Some(b) = p.heldout_best {
                line.push_str(&format!(" (best {})", fmt_num(b)));
            }
        }
        line.push_str(&format!(" elapsed={now:.1}s eta={eta:.1}s"));
        // a closed or full stderr must not stop (or panic) the training
        say(&line);
    }
}

/// Four significant digits, scientific outside [1e-3, 1e5).
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x:.0}")
    } else if x.abs() >= 1e-3 && x.abs() < 1e5 || (x.abs() >= 1e-3 && x.abs() < 1e5) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// One history row: (iteration, named losses, λ, held-out criterion).
type HistoryRow = (f64, Vec<(&'static str, f64)>, Option<f64>, Option<f64>);

/// Training history collected from progress reports, written as the CSV that `monge plot --history` reads:
/// `iteration,<loss names…>,lambda,heldout` (empty cells where a value is missing; `heldout` is the
/// selection criterion's latest value).
#[derive(Default)]
pub struct History {
    names: Vec<&'static str>,
    rows: Vec<HistoryRow>,
    offset: usize,
    last_phase: &'static str,
    last_iter: usize,
}

impl History {
    /// Records one report; iterations of successive phases are laid end to end.
    pub fn record(&mut self, p: &Progress) {
        if p.phase != self.last_phase && !self.last_phase.is_empty() {
            self.offset += self.last_iter;
        }
        self.last_phase = p.phase;
        self.last_iter = p.iteration;
        for (k, _) in &p.losses {
            if !self.names.contains(k) {
                self.names.push(k);
            }
        }
        self.rows.push((
            (self.offset + p.iteration) as f64,
            p.losses.clone(),
            p.lambda,
            p.heldout,
        ));
    }

    /// Writes the CSV atomically.
    pub fn write_csv(&self, path: &str) -> Result<()> {
        let mut s = String::from("iteration");
        for n in &self.names {
            s.push(',');
            s.push_str(n);
        }
        s.push_str(",lambda,heldout\n");
        for (it, losses, lam, mmd) in &self.rows {
            s.push_str(&format!("{it}"));
            for n in &self.names {
                s.push(',');
                if let Some((_, v)) = losses.iter().find(|(k, _)| k == n) {
                    if v.is_finite() {
                        s.push_str(&format!("{v:e}"));
                    }
                }
            }
            s.push(',');
            if let Some(l) = lam {
                s.push_str(&format!("{l:e}"));
            }
            s.push(',');
            if let Some(m) = mmd {
                s.push_str(&format!("{m:e}"));
            }
            s.push('\n');
        }
        monge::io::atomic::write_bytes_atomic(Path::new(path), s.as_bytes())
    }
}

/// Reads a text file of at most `max_bytes` bytes that must be a regular file; `what` says what it
/// should have been ("not {what}") when it is not one or is larger.
pub fn read_text(path: &str, max_bytes: u64, what: &str) -> Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.is_file() || meta.len() > max_bytes {
        return Err(Error::data(path, None, None, format!("not {what}")));
    }
    let mut text = String::new();
    f.take(max_bytes)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => {
                Error::data(path, None, None, "not valid UTF-8 text")
            }
            _ => Error::io(path, "read", e),
        })?;
    Ok(text)
}
