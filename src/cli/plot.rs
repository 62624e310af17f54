//! `monge plot`: SVG of source/target/mapped sets (PCA-projected when d > 2) with displacement arrows, or
//! of training curves from a fit history.

use super::args::Args;
use super::common::{check_ext, check_paths, load, same_dim};
use monge::io::svg::{write_curves_svg, write_scatter_svg, CurveOptions, ScatterOptions, Series};
use monge::linalg::Mat;
use monge::{Error, Result};
use std::path::Path;

/// Help text of `monge plot`.
pub const HELP: &str = "\
monge plot — SVG plots

USAGE:
    monge plot --source A --target B [--mapped Y] --out plot.svg [--title T]
    monge plot --history H.csv --out curves.svg [--log] [--title T]

The first form draws source, target and mapped points with a sample of displacement arrows (sets with
more than 2 features are projected on the top-2 principal axes of their union). The second draws the
training curves of a history file written by `monge fit --history H.csv` (one curve per column after the
first, which is the iteration).";

/// Runs `monge plot`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    let out: String = a.required("out")?;
    let title: String = a.get_or("title", String::new())?;
    let history: Option<String> = a.get("history")?;
    check_ext("out", &out, &["svg"], "an SVG image")?;
    if let Some(h) = history {
        let log_y = a.flag("log");
        a.finish()?;
        check_paths(&[("history", &h)], &[("out", &out)])?;
        let series = read_history(&h)?;
        let opts = CurveOptions {
            title,
            log_y,
            ..CurveOptions::default()
        };
        write_curves_svg(Path::new(&out), &series, &opts)?;
        super::common::say(&format!("wrote {out}"));
        return Ok(());
    }
    let source_path: String = a.required("source")?;
    let target_path: String = a.required("target")?;
    let mapped_path: Option<String> = a.get("mapped")?;
    a.finish()?;
    let mut inputs = vec![
        ("source", source_path.as_str()),
        ("target", target_path.as_str()),
    ];
    if let Some(p) = &mapped_path {
        inputs.push(("mapped", p.as_str()));
    }
    check_paths(&inputs, &[("out", &out)])?;
    let source: Mat<f64> = load(&source_path)?;
    let target: Mat<f64> = load(&target_path)?;
    same_dim(&source_path, source.cols(), &target_path, target.cols())?;
    let mapped: Option<Mat<f64>> = match &mapped_path {
        Some(p) => {
            let m: Mat<f64> = load(p)?;
            if m.shape() != source.shape() {
                return Err(Error::Shape(format!(
                    "{p} must have the source's shape {}×{} (row i is the image of source row i)",
                    source.rows(),
                    source.cols()
                )));
            }
            Some(m)
        }
        None => None,
    };
    let opts = ScatterOptions {
        title,
        ..ScatterOptions::default()
    };
    write_scatter_svg(Path::new(&out), &source, &target, mapped.as_ref(), &opts)?;
    super::common::say(&format!("wrote {out}"));
    Ok(())
}

/// Largest history file read (a fit writes a few hundred bytes per progress report).
const MAX_HISTORY_BYTES: u64 = 1 << 30;

/// Reads a history CSV: a header `iteration,name1,name2,…` then numeric rows (empty cells are gaps).
/// Only a regular file of at most 1 GiB is read; a file with a header and no rows is an error.
pub fn read_history(path: &str) -> Result<Vec<Series>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.is_file() || meta.len() > MAX_HISTORY_BYTES {
        return Err(Error::data(
            path,
            None,
            None,
            "not a history file (a regular file of at most 1 GiB written by `monge fit --history`)",
        ));
    }
    let mut text = String::new();
    f.take(MAX_HISTORY_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(path, "read", e))?;
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header = lines
        .next()
        .ok_or_else(|| Error::data(path, None, None, "the history file is empty"))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    if names.len() < 2 {
        return Err(Error::data(
            path,
            Some(1),
            None,
            "expected a header 'iteration,<series>,…'",
        ));
    }
    let mut series: Vec<Series> = names[1..]
        .iter()
        .map(|n| Series {
            name: n.to_string(),
            points: vec![],
        })
        .collect();
    for (r, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != names.len() {
            return Err(Error::data(
                path,
                Some(r + 2),
                None,
                format!("expected {} cells, found {}", names.len(), cells.len()),
            ));
        }
        let x: f64 = cells[0]
            .parse()
            .map_err(|_| Error::data(path, Some(r + 2), Some(1), "not a number"))?;
        for (j, c) in cells[1..].iter().enumerate() {
            if c.is_empty() {
                continue;
            }
            let y: f64 = c
                .parse()
                .map_err(|_| Error::data(path, Some(r + 2), Some(j + 2), "not a number"))?;
            series[j].points.push((x, y));
        }
    }
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(Error::data(
            path,
            None,
            None,
            "the history has a header but no values to plot (was the fit stopped before its first \
             progress report?)",
        ));
    }
    Ok(series)
}
