//! Pieces every subcommand shares: reading data files, the progress printer, number formatting.

use monge::linalg::{Mat, Real};
use monge::ot::Progress;
use monge::{Error, Result};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Reads a data file (`.npy`, `.csv`, `.tsv`, `.txt`) as `T`, checking it is non-empty.
pub fn load<T: Real>(path: &str) -> Result<Mat<T>> {
    let m = monge::io::read_matrix_as::<T>(Path::new(path))?;
    if m.rows() == 0 || m.cols() == 0 {
        return Err(Error::data(path, None, None, "the data set is empty"));
    }
    Ok(m)
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
        let mut line = format!("[{}] {}/{} ({pct:.0}%)", p.phase, p.iteration, p.total);
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
        let _ = writeln!(std::io::stderr(), "{line}");
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
