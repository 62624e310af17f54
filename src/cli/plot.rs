//! `monge plot`: SVG of source/target/mapped sets on one plane shared by every panel (with displacement
//! arrows), or of training curves from a fit history, one panel per quantity.

use super::args::Args;
use super::common::{check_ext, check_paths, load, read_text, same_dim};
use monge::io::panels::{write_scatter_panels_svg, PanelOptions, Plane, ScatterPanel};
use monge::io::svg::{write_curve_panels_svg, CurveOptions, CurvePanel, Series};
use monge::linalg::{Mat, Real};
use monge::ot::latent::LatentMap;
use monge::ot::SavedModel;
use monge::{Error, Result};
use std::path::Path;

/// Help text of `monge plot`.
pub const HELP: &str = "\
monge plot — SVG plots

USAGE:
    monge plot --source A --target B [--mapped Y]… --out plot.svg [OPTIONS]
    monge plot --history H.csv --out curves.svg [--log] [--title T]

The first form draws source, target and mapped points with a sample of displacement arrows. Each
--mapped file (repeat the option) gets its own panel, side by side, all on the same plane and the same
axes, so the methods can be compared by eye. Sets with more than 2 features are projected on the top-2
principal axes of the union of every set drawn, or on a plane you fix:
    --basis FILE         the plane: a 3 × d matrix (.npy/.csv): row 1 the centre, rows 2 and 3 the axes
                         (normalised here); e.g. the mean and PCs of the control cells, the same for
                         every figure of a paper
    --basis-model M      the plane of a latent model (`monge fit --latent pca:K`, K ≥ 2): its PCA's
                         centre and first two axes, the plane the map was trained in
    --save-basis FILE    write the plane used in that form (give it to --basis in the next plots)
    --labels L1,L2,…     panel titles, one per --mapped file (otherwise the file names)
    --title T            title of the figure
The second form draws the curves of a history file written by `monge fit --history H.csv`, one panel per
quantity on a common iteration axis: the losses, the held-out selection criterion (columns heldout…) and
λ (column lambda); columns without values are left out, a history without any value is an error.
--log draws the values on log axes and says on stderr what it could not draw (values ≤ 0; a panel with
no positive value stays linear).
Output: SVG only (the name must end in .svg).";

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
        let panels = history_panels(read_history(&h)?);
        let opts = CurveOptions {
            title,
            log_y,
            height: if panels.len() > 1 { 260 } else { 400 },
            ..CurveOptions::default()
        };
        let notes = write_curve_panels_svg(Path::new(&out), &panels, &opts)?;
        for n in notes {
            say!("monge: note: --log: {n}");
        }
        super::common::say(&format!("wrote {out}"));
        return Ok(());
    }
    let source_path: String = a.required("source")?;
    let target_path: String = a.required("target")?;
    let mapped_paths = a.strings("mapped")?;
    let labels: Option<String> = a.get("labels")?;
    let basis_path: Option<String> = a.get("basis")?;
    let basis_model: Option<String> = a.get("basis-model")?;
    let save_basis: Option<String> = a.get("save-basis")?;
    a.finish()?;
    if basis_path.is_some() && basis_model.is_some() {
        return Err(Error::Usage(
            "--basis and --basis-model both fix the plane: give one".into(),
        ));
    }
    let labels: Vec<String> = match labels {
        Some(l) => {
            let l: Vec<String> = l.split(',').map(|s| s.trim().to_string()).collect();
            if l.len() != mapped_paths.len() {
                return Err(Error::Usage(format!(
                    "--labels names {} panels but {} --mapped files are given",
                    l.len(),
                    mapped_paths.len()
                )));
            }
            l
        }
        None => mapped_paths
            .iter()
            .map(|p| {
                Path::new(p)
                    .file_stem()
                    .map_or(p.clone(), |s| s.to_string_lossy().into_owned())
            })
            .collect(),
    };
    let mut inputs = vec![
        ("source", source_path.as_str()),
        ("target", target_path.as_str()),
    ];
    inputs.extend(mapped_paths.iter().map(|p| ("mapped", p.as_str())));
    if let Some(b) = &basis_path {
        inputs.push(("basis", b.as_str()));
    }
    if let Some(m) = &basis_model {
        inputs.push(("basis-model", m.as_str()));
    }
    let mut outputs = vec![("out", out.as_str())];
    if let Some(s) = &save_basis {
        monge::io::MatrixFormat::from_path(Path::new(s))?;
        outputs.push(("save-basis", s.as_str()));
    }
    check_paths(&inputs, &outputs)?;
    let source: Mat<f64> = load(&source_path)?;
    let target: Mat<f64> = load(&target_path)?;
    same_dim(&source_path, source.cols(), &target_path, target.cols())?;
    let mut mapped = Vec::with_capacity(mapped_paths.len());
    for p in &mapped_paths {
        let m: Mat<f64> = load(p)?;
        if m.shape() != source.shape() {
            return Err(Error::Shape(format!(
                "{p} must have the source's shape {}×{} (row i is the image of source row i)",
                source.rows(),
                source.cols()
            )));
        }
        mapped.push(m);
    }
    let mut sets: Vec<&Mat<f64>> = vec![&source, &target];
    sets.extend(mapped.iter());
    let plane = match (&basis_path, &basis_model) {
        (Some(b), _) => read_basis(b, source.cols())?,
        (None, Some(m)) => model_plane(m, source.cols())?,
        (None, None) => Plane::of_sets(&sets)?,
    };
    let [x_label, y_label] = plane.labels(&sets);
    let (ps, pt) = (plane.project(&source), plane.project(&target));
    let panels: Vec<ScatterPanel> = if mapped.is_empty() {
        vec![ScatterPanel {
            title: String::new(),
            source: ps,
            target: pt,
            mapped: None,
        }]
    } else {
        mapped
            .iter()
            .zip(&labels)
            .map(|(m, l)| ScatterPanel {
                title: if mapped.len() > 1 || !l.is_empty() {
                    l.clone()
                } else {
                    String::new()
                },
                source: ps.clone(),
                target: pt.clone(),
                mapped: Some(plane.project(m)),
            })
            .collect()
    };
    let opts = PanelOptions {
        title,
        panel_width: if panels.len() > 1 { 480 } else { 640 },
        height: if panels.len() > 1 { 440 } else { 520 },
        x_label,
        y_label,
        ..PanelOptions::default()
    };
    if let Some(s) = &save_basis {
        let d = plane.dim();
        let m = Mat::from_fn(3, d, |i, j| match i {
            0 => plane.centre[j],
            k => plane.axes[k - 1][j],
        });
        monge::io::write_matrix(Path::new(s), &m)?;
        say!("wrote {s} (the plane: centre, axis 1, axis 2 as 3 rows of {d})");
    }
    write_scatter_panels_svg(Path::new(&out), &panels, &opts)?;
    super::common::say(&format!("wrote {out}"));
    Ok(())
}

/// Reads a `--basis` file: 3 rows of `d` values (centre, axis 1, axis 2).
fn read_basis(path: &str, d: usize) -> Result<Plane> {
    let b: Mat<f64> = load(path)?;
    if b.shape() != (3, d) {
        return Err(Error::Shape(format!(
            "{path} is {}×{}: a plot basis is 3×{d} (row 1 the centre, rows 2 and 3 the axes, one column \
             per feature of the data)",
            b.rows(),
            b.cols()
        )));
    }
    Plane::from_basis(
        b.row(0).to_vec(),
        [b.row(1).to_vec(), b.row(2).to_vec()],
        ["basis axis 1".into(), "basis axis 2".into()],
    )
    .map_err(|e| Error::data(path, None, None, e.to_string()))
}

/// The plane of a `--basis-model`: the centre m and the first two axes of a latent model's basis V_K
/// (checked orthonormal when the model is rebuilt), so the plot shows the coordinates the map was
/// trained in.
fn model_plane(path: &str, d: usize) -> Result<Plane> {
    let (mean, axes) = match monge::io::load_model(Path::new(path))? {
        monge::io::LoadedModel::F32(m) => latent_plane(path, &m)?,
        monge::io::LoadedModel::F64(m) => latent_plane(path, &m)?,
    };
    if mean.len() != d {
        return Err(Error::Shape(format!(
            "{path} maps {} features, the data have {d}",
            mean.len()
        )));
    }
    Plane::from_basis(
        mean,
        axes,
        ["PC1 of the model".into(), "PC2 of the model".into()],
    )
    .map_err(|e| Error::data(path, None, None, e.to_string()))
}

/// (centre, [axis 1, axis 2]) of a saved latent model, in f64.
fn latent_plane<T: Real>(path: &str, m: &SavedModel<T>) -> Result<(Vec<f64>, [Vec<f64>; 2])> {
    if m.method != "latent" {
        return Err(Error::data(
            path,
            None,
            None,
            format!(
                "is a {} model; --basis-model takes a latent model (monge fit --latent pca:K)",
                m.method
            ),
        ));
    }
    let map = LatentMap::<T>::from_saved(m)?;
    let basis = map.basis();
    if basis.components() < 2 {
        return Err(Error::data(
            path,
            None,
            None,
            "has 1 latent component; a plot plane needs 2 (fit with --latent pca:K, K ≥ 2)",
        ));
    }
    let f64s = |r: &[T]| r.iter().map(|v| v.to_f64()).collect::<Vec<f64>>();
    let axes = basis.axes();
    Ok((f64s(basis.mean()), [f64s(axes.row(0)), f64s(axes.row(1))]))
}

/// Groups the columns of a history into one panel per quantity: the losses, the held-out selection
/// criterion (columns whose name starts with `heldout`), λ (`lambda`); panels without any value are left
/// out.
pub fn history_panels(series: Vec<Series>) -> Vec<CurvePanel> {
    let mut losses = CurvePanel {
        y_label: "loss".into(),
        series: vec![],
    };
    let mut heldout = CurvePanel {
        y_label: "held-out criterion".into(),
        series: vec![],
    };
    let mut lambda = CurvePanel {
        y_label: "λ (penalty weight)".into(),
        series: vec![],
    };
    for s in series.into_iter().filter(|s| !s.points.is_empty()) {
        if s.name == "lambda" {
            lambda.series.push(s);
        } else if s.name.starts_with("heldout") {
            if s.name == "heldout_mmd" {
                heldout.y_label = "held-out MMD".into();
            }
            heldout.series.push(s);
        } else {
            losses.series.push(s);
        }
    }
    [losses, heldout, lambda]
        .into_iter()
        .filter(|p| !p.series.is_empty())
        .collect()
}

/// Largest history file read (a fit writes a few hundred bytes per progress report).
const MAX_HISTORY_BYTES: u64 = 1 << 30;

/// Reads a history CSV: a header `iteration,name1,name2,…` then numeric rows (empty cells are gaps).
/// Only a regular file of at most 1 GiB is read; a file with a header and no rows is an error.
pub fn read_history(path: &str) -> Result<Vec<Series>> {
    let text = read_text(
        path,
        MAX_HISTORY_BYTES,
        "a history file (a regular file of at most 1 GiB written by `monge fit --history`)",
    )?;
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
        let no_losses = series
            .iter()
            .all(|s| s.name == "lambda" || s.name.starts_with("heldout"));
        return Err(Error::data(
            path,
            None,
            None,
            if no_losses && !series.is_empty() {
                "the history has no values to plot: it has no loss column (a Sinkhorn fit solves for \
                 its potential without training iterations, so it records no curve)"
            } else {
                "the history has a header but no values to plot (was the fit stopped before its first \
                 progress report?)"
            },
        ));
    }
    Ok(series)
}
