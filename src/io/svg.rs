//! Hand-written SVG plots: transport scatter plots and training curves.
//!
//! # Scatter ([`scatter_svg`])
//! Source, target and (optionally) mapped points as `<circle>`s of three colours (blue, orange, green),
//! a sample of displacement arrows source → mapped (`<line class="arrow">` with an arrowhead marker), an
//! axis box with tick labels, equal units on both axes, and a legend (`<rect>` swatches, so the number of
//! `<circle>` elements is exactly the number of plotted points). At most
//! [`ScatterOptions::max_points`] points per set are drawn (evenly spaced rows) and
//! [`ScatterOptions::max_arrows`] arrows (evenly spaced rows of the source).
//!
//! Coordinates: d = 2 is plotted as is; d = 1 at height 0; for d > 2 every set is projected onto the
//! top-2 principal axes of the union of the sets (at most [`PCA_MAX_ROWS`] of its finite rows, evenly
//! spaced; [`crate::linalg::pca::Pca`] with K = 2), and the axis labels give the share of the variance
//! each explains.
//!
//! # Curves ([`curves_svg`])
//! One `<polyline class="series">` per named series (x = iteration, y = value), optional log-scale y
//! (non-positive values are then skipped, as are non-finite ones), axis box with ticks, legend.

use super::atomic::write_bytes_atomic;
use crate::linalg::pca::{Pca, PcaConfig};
use crate::linalg::{Mat, Real};
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Largest number of rows the PCA uses (evenly spaced over the union of the sets).
pub const PCA_MAX_ROWS: usize = 4000;

/// Colours of source, target, mapped (matplotlib's tab10 first three).
const COLOURS: [&str; 3] = ["#1f77b4", "#ff7f0e", "#2ca02c"];
/// Colours of curve series, cycled.
const SERIES_COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];
/// Plot margins in pixels: left, right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (64.0, 16.0, 32.0, 44.0);

/// Options of [`scatter_svg`].
#[derive(Clone, Debug)]
pub struct ScatterOptions {
    /// Title above the plot (may be empty).
    pub title: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Most points drawn per set.
    pub max_points: usize,
    /// Most displacement arrows drawn.
    pub max_arrows: usize,
}

impl Default for ScatterOptions {
    fn default() -> Self {
        ScatterOptions {
            title: String::new(),
            width: 640,
            height: 520,
            max_points: 2000,
            max_arrows: 100,
        }
    }
}

/// One named training curve: (iteration, value) points.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (x, y) points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Options of [`curves_svg`].
#[derive(Clone, Debug)]
pub struct CurveOptions {
    /// Title above the plot (may be empty).
    pub title: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Most points drawn per series (evenly spaced, the last always kept).
    pub max_points: usize,
}

impl Default for CurveOptions {
    fn default() -> Self {
        CurveOptions {
            title: String::new(),
            width: 640,
            height: 400,
            log_y: false,
            x_label: "iteration".into(),
            y_label: String::new(),
            max_points: 4000,
        }
    }
}

/// Escapes text for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => {}
            c => o.push(c),
        }
    }
    o
}

/// `k` evenly spaced indices in `0..n` (all of them when `n ≤ k`).
fn spaced(n: usize, k: usize) -> impl Iterator<Item = usize> {
    let k = k.min(n);
    (0..k).map(move |i| (i as u128 * n as u128 / k as u128) as usize)
}

/// The top-2 principal axes of the union of `sets` (d ≥ 2): (mean, [pc1, pc2], [λ₁, λ₂], total
/// variance), from at most [`PCA_MAX_ROWS`] evenly spaced rows with every value finite.
type Plane = (Vec<f64>, [Vec<f64>; 2], [f64; 2], f64);

fn principal_plane<T: Real>(sets: &[&Mat<T>]) -> Result<Plane> {
    let all: Vec<&[T]> = sets
        .iter()
        .flat_map(|m| (0..m.rows()).map(move |i| m.row(i)))
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    let rows: Vec<&[T]> = spaced(all.len(), PCA_MAX_ROWS).map(|i| all[i]).collect();
    let d = sets[0].cols();
    if rows.is_empty() {
        return Ok((vec![0.0; d], [vec![0.0; d], vec![0.0; d]], [0.0; 2], 0.0));
    }
    let pca = Pca::fit_rows(&rows, d, 2, &PcaConfig::default())?;
    let c = pca.components();
    let ev = pca.explained_variance();
    Ok((
        pca.mean().to_vec(),
        [c.row(0).to_vec(), c.row(1).to_vec()],
        [ev[0], ev[1]],
        pca.total_variance(),
    ))
}

/// "Nice" tick positions covering [lo, hi]: multiples of 1, 2 or 5 × 10ᵏ, about `target` of them.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).max(1e-300);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| span / s <= target as f64 + 0.5)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last.min(first + 100))
        .map(|k| k as f64 * step)
        .collect();
    (ticks, step)
}

/// A tick label with as many decimals as the step needs.
fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 || v.abs() < step * 1e-9 {
        return "0".into();
    }
    if v.abs() >= 1e5 || step < 1e-4 {
        return format!("{v:.1e}");
    }
    let dec = (-step.log10().floor()).max(0.0) as usize;
    format!("{v:.dec$}")
}

/// The pixel frame of the plot area and the data → pixel map.
struct Frame {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    xlo: f64,
    xhi: f64,
    ylo: f64,
    yhi: f64,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        self.x0 + (x - self.xlo) / (self.xhi - self.xlo) * self.w
    }
    fn py(&self, y: f64) -> f64 {
        self.y0 + self.h - (y - self.ylo) / (self.yhi - self.ylo) * self.h
    }
}

/// [lo, hi] widened when degenerate or non-finite, then padded by 4% each side.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    let (lo, hi) = if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

fn header(out: &mut String, w: u32, h: u32, title: &str) {
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        out,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"white\"/>"
    );
    if !title.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"title\" x=\"{:.1}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
            w as f64 / 2.0,
            esc(title)
        );
    }
}

/// Axis box, ticks with labels (y ticks given as (data value, label)), axis labels.
fn axes(
    out: &mut String,
    f: &Frame,
    xt: &[(f64, String)],
    yt: &[(f64, String)],
    xl: &str,
    yl: &str,
) {
    let _ = writeln!(
        out,
        "<rect class=\"axes\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"none\" \
         stroke=\"black\"/>",
        f.x0, f.y0, f.w, f.h
    );
    let yb = f.y0 + f.h;
    for (v, lab) in xt {
        let x = f.px(*v);
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{x:.2}\" y1=\"{yb:.2}\" x2=\"{x:.2}\" y2=\"{:.2}\" stroke=\"black\"/>\
             <text class=\"tick-label\" x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
            yb + 5.0,
            yb + 17.0,
            esc(lab)
        );
    }
    for (v, lab) in yt {
        let y = f.py(*v);
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" stroke=\"black\"/>\
             <text class=\"tick-label\" x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\">{}</text>",
            f.x0 - 5.0,
            f.x0,
            f.x0 - 7.0,
            y + 4.0,
            esc(lab)
        );
    }
    if !xl.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"axis-label\" x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
            f.x0 + f.w / 2.0,
            yb + 34.0,
            esc(xl)
        );
    }
    if !yl.is_empty() {
        let (x, y) = (14.0, f.y0 + f.h / 2.0);
        let _ = writeln!(
            out,
            "<text class=\"axis-label\" x=\"{x:.2}\" y=\"{y:.2}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {x:.2} {y:.2})\">{}</text>",
            esc(yl)
        );
    }
}

/// Legend in the top-right corner of the plot area: (label, colour, is_line).
fn legend(out: &mut String, f: &Frame, items: &[(String, &str, bool)]) {
    if items.is_empty() {
        return;
    }
    let longest = items.iter().map(|i| i.0.chars().count()).max().unwrap_or(0);
    let (bw, bh) = (30.0 + 6.5 * longest as f64, 6.0 + 16.0 * items.len() as f64);
    let (x, y) = (f.x0 + f.w - bw - 6.0, f.y0 + 6.0);
    let _ = writeln!(
        out,
        "<g class=\"legend\"><rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bw:.2}\" height=\"{bh:.2}\" \
         fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>"
    );
    for (k, (label, colour, is_line)) in items.iter().enumerate() {
        let cy = y + 11.0 + 16.0 * k as f64;
        if *is_line {
            let _ = write!(
                out,
                "<rect class=\"legend-swatch\" x=\"{:.2}\" y=\"{:.2}\" width=\"16\" height=\"3\" \
                 fill=\"{colour}\"/>",
                x + 6.0,
                cy - 1.5
            );
        } else {
            let _ = write!(
                out,
                "<rect class=\"legend-swatch\" x=\"{:.2}\" y=\"{:.2}\" width=\"8\" height=\"8\" \
                 fill=\"{colour}\"/>",
                x + 10.0,
                cy - 4.0
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.2}\" y=\"{:.2}\">{}</text>",
            x + 26.0,
            cy + 4.0,
            esc(label)
        );
    }
    let _ = writeln!(out, "</g>");
}

/// SVG scatter plot of source, target and mapped points with displacement arrows (see the module doc).
/// `mapped`, when given, must have the source's shape (row i is the image of source row i). All sets must
/// have the same column count d ≥ 1; otherwise an [`Error::Shape`].
pub fn scatter_svg<T: Real>(
    source: &Mat<T>,
    target: &Mat<T>,
    mapped: Option<&Mat<T>>,
    opts: &ScatterOptions,
) -> Result<String> {
    let d = source.cols();
    if d == 0 {
        return Err(Error::Shape(
            "scatter plot: the sets have no columns".into(),
        ));
    }
    if target.cols() != d {
        return Err(Error::Shape(format!(
            "scatter plot: source has {d} columns, target {}",
            target.cols()
        )));
    }
    if let Some(m) = mapped {
        if m.shape() != source.shape() {
            return Err(Error::Shape(format!(
                "scatter plot: mapped points are {}×{}, source {}×{}",
                m.rows(),
                m.cols(),
                source.rows(),
                d
            )));
        }
    }
    let mut sets: Vec<&Mat<T>> = vec![source, target];
    sets.extend(mapped);
    // Projection to the plane.
    let (mean, pcs, lambdas, total) = if d > 2 {
        principal_plane(&sets)?
    } else {
        (vec![0.0; d], [vec![], vec![]], [0.0; 2], 0.0)
    };
    let project = |r: &[T]| -> (f64, f64) {
        match d {
            1 => (r[0].to_f64(), 0.0),
            2 => (r[0].to_f64(), r[1].to_f64()),
            _ => {
                let (mut a, mut b) = (0.0, 0.0);
                for (j, &v) in r.iter().enumerate() {
                    let c = v.to_f64() - mean[j];
                    a += c * pcs[0][j];
                    b += c * pcs[1][j];
                }
                (a, b)
            }
        }
    };
    let pts: Vec<Vec<(f64, f64)>> = sets
        .iter()
        .map(|m| {
            spaced(m.rows(), opts.max_points)
                .map(|i| project(m.row(i)))
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect()
        })
        .collect();
    let arrows: Vec<((f64, f64), (f64, f64))> = match mapped {
        Some(m) => spaced(source.rows(), opts.max_arrows)
            .map(|i| (project(source.row(i)), project(m.row(i))))
            .filter(|(a, b)| {
                a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()
            })
            .collect(),
        None => vec![],
    };
    // Ranges with equal units on both axes.
    let all = pts.iter().flatten();
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        xlo = xlo.min(x);
        xhi = xhi.max(x);
        ylo = ylo.min(y);
        yhi = yhi.max(y);
    }
    let (xlo, xhi) = padded(xlo, xhi);
    let (ylo, yhi) = padded(ylo, yhi);
    let (w, h) = (opts.width.max(120) as f64, opts.height.max(120) as f64);
    let (pw, ph) = (w - MARGIN.0 - MARGIN.1, h - MARGIN.2 - MARGIN.3);
    let scale = (pw / (xhi - xlo)).min(ph / (yhi - ylo));
    let (xc, yc) = (0.5 * (xlo + xhi), 0.5 * (ylo + yhi));
    let f = Frame {
        x0: MARGIN.0,
        y0: MARGIN.2,
        w: pw,
        h: ph,
        xlo: xc - 0.5 * pw / scale,
        xhi: xc + 0.5 * pw / scale,
        ylo: yc - 0.5 * ph / scale,
        yhi: yc + 0.5 * ph / scale,
    };
    let mut out = String::with_capacity(200 + 90 * pts.iter().map(Vec::len).sum::<usize>());
    header(&mut out, w as u32, h as u32, &opts.title);
    let _ = writeln!(
        out,
        "<defs><marker id=\"arrowhead\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" \
         markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>"
    );
    let ticks = |lo: f64, hi: f64| -> Vec<(f64, String)> {
        let (t, s) = nice_ticks(lo, hi, 6);
        t.into_iter().map(|v| (v, tick_label(v, s))).collect()
    };
    let (xl, yl) = match d {
        1 => ("x₁".to_string(), String::new()),
        2 => ("x₁".to_string(), "x₂".to_string()),
        _ => {
            let share = |l: f64| if total > 0.0 { 100.0 * l / total } else { 0.0 };
            (
                format!("PC1 ({:.1}% of variance)", share(lambdas[0])),
                format!("PC2 ({:.1}% of variance)", share(lambdas[1])),
            )
        }
    };
    axes(
        &mut out,
        &f,
        &ticks(f.xlo, f.xhi),
        &ticks(f.ylo, f.yhi),
        &xl,
        &yl,
    );
    let names = ["source", "target", "mapped"];
    for (k, set) in pts.iter().enumerate() {
        let _ = writeln!(
            out,
            "<g class=\"{}\" fill=\"{}\" fill-opacity=\"0.6\">",
            names[k], COLOURS[k]
        );
        for &(x, y) in set {
            let _ = writeln!(
                out,
                "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"2\"/>",
                f.px(x),
                f.py(y)
            );
        }
        let _ = writeln!(out, "</g>");
    }
    let _ = writeln!(
        out,
        "<g class=\"arrows\" stroke=\"#444\" stroke-opacity=\"0.7\">"
    );
    for &((ax, ay), (bx, by)) in &arrows {
        let _ = writeln!(
            out,
            "<line class=\"arrow\" x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" \
             marker-end=\"url(#arrowhead)\"/>",
            f.px(ax),
            f.py(ay),
            f.px(bx),
            f.py(by)
        );
    }
    let _ = writeln!(out, "</g>");
    let items: Vec<(String, &str, bool)> = (0..pts.len())
        .map(|k| (names[k].to_string(), COLOURS[k], false))
        .collect();
    legend(&mut out, &f, &items);
    out.push_str("</svg>\n");
    Ok(out)
}

/// Writes [`scatter_svg`] to `path` atomically.
pub fn write_scatter_svg<T: Real>(
    path: &Path,
    source: &Mat<T>,
    target: &Mat<T>,
    mapped: Option<&Mat<T>>,
    opts: &ScatterOptions,
) -> Result<()> {
    let s = scatter_svg(source, target, mapped, opts)?;
    write_bytes_atomic(path, s.as_bytes())
}

/// SVG line plot of training curves (see the module doc).
pub fn curves_svg(series: &[Series], opts: &CurveOptions) -> String {
    let ty = |y: f64| if opts.log_y { y.log10() } else { y };
    // The drawable points of each series, decimated, in plot coordinates (x, transformed y).
    let kept: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            let ok: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite() && (!opts.log_y || p.1 > 0.0))
                .map(|&(x, y)| (x, ty(y)))
                .collect();
            let n = ok.len();
            let max = opts.max_points.max(2);
            let mut idx: Vec<usize> = spaced(n, if n > max { max - 1 } else { n }).collect();
            if n > max {
                idx.push(n - 1);
            }
            idx.into_iter().map(|i| ok[i]).collect()
        })
        .collect();
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in kept.iter().flatten() {
        xlo = xlo.min(x);
        xhi = xhi.max(x);
        ylo = ylo.min(y);
        yhi = yhi.max(y);
    }
    let (xlo, xhi) = padded(xlo, xhi);
    let (ylo, yhi) = padded(ylo, yhi);
    let (w, h) = (opts.width.max(120) as f64, opts.height.max(120) as f64);
    let f = Frame {
        x0: MARGIN.0,
        y0: MARGIN.2,
        w: w - MARGIN.0 - MARGIN.1,
        h: h - MARGIN.2 - MARGIN.3,
        xlo,
        xhi,
        ylo,
        yhi,
    };
    let mut out = String::new();
    header(&mut out, w as u32, h as u32, &opts.title);
    let (xt, xs) = nice_ticks(xlo, xhi, 6);
    let xt: Vec<(f64, String)> = xt.into_iter().map(|v| (v, tick_label(v, xs))).collect();
    let yt: Vec<(f64, String)> = if opts.log_y {
        let decades: Vec<f64> = ((ylo.ceil() as i64)
            ..=(yhi.floor() as i64).min(ylo.ceil() as i64 + 60))
            .map(|k| k as f64)
            .collect();
        // 1-2-5 steps within each decade when few decades are in view.
        let steps125: Vec<(f64, String)> = ((ylo.floor() as i64)
            ..=(yhi.ceil() as i64).min(ylo.floor() as i64 + 60))
            .flat_map(|k| [1.0, 2.0, 5.0].map(|m| (m * 10f64.powi(k as i32), 10f64.powi(k as i32))))
            .filter(|&(v, _)| v.log10() >= ylo && v.log10() <= yhi)
            .map(|(v, step)| (v.log10(), tick_label(v, step)))
            .collect();
        if decades.len() >= 4 {
            decades.into_iter().map(|k| (k, format!("1e{k}"))).collect()
        } else if steps125.len() >= 2 {
            steps125
        } else {
            // Less than two decades in view: nice linear ticks of the values, placed on the log axis.
            let (t, s) = nice_ticks(10f64.powf(ylo), 10f64.powf(yhi), 5);
            t.into_iter()
                .filter(|&v| v > 0.0)
                .map(|v| (v.log10(), tick_label(v, s)))
                .collect()
        }
    } else {
        let (t, s) = nice_ticks(ylo, yhi, 6);
        t.into_iter().map(|v| (v, tick_label(v, s))).collect()
    };
    let yl = if opts.log_y && !opts.y_label.is_empty() {
        format!("{} (log scale)", opts.y_label)
    } else {
        opts.y_label.clone()
    };
    axes(&mut out, &f, &xt, &yt, &opts.x_label, &yl);
    for (k, pts) in kept.iter().enumerate() {
        let colour = SERIES_COLOURS[k % SERIES_COLOURS.len()];
        let _ = write!(
            out,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\""
        );
        for (i, &(x, y)) in pts.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{:.2},{:.2}", f.px(x), f.py(y));
        }
        let _ = writeln!(out, "\"/>");
    }
    let items: Vec<(String, &str, bool)> = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            (
                s.name.clone(),
                SERIES_COLOURS[k % SERIES_COLOURS.len()],
                true,
            )
        })
        .collect();
    legend(&mut out, &f, &items);
    out.push_str("</svg>\n");
    out
}

/// Writes [`curves_svg`] to `path` atomically.
pub fn write_curves_svg(path: &Path, series: &[Series], opts: &CurveOptions) -> Result<()> {
    write_bytes_atomic(path, curves_svg(series, opts).as_bytes())
}
