//! Hand-written SVG plots: transport scatter plots and training curves, and the drawing primitives
//! (axes, ticks, legend) that [`super::panels`] and [`super::curves`] share.
//!
//! # Scatter ([`scatter_svg`])
//! One panel of [`super::panels::scatter_panels_svg`]: source, target and (optionally) mapped points as `<circle>`s of three colours (blue, orange, green),
//! a sample of displacement arrows source → mapped (`<line class="arrow">` with an arrowhead marker), an
//! axis box with tick labels, equal units on both axes, and a legend (`<rect>` swatches, so the number of
//! `<circle>` elements is exactly the number of plotted points). At most
//! [`ScatterOptions::max_points`] points per set are drawn (evenly spaced rows) and
//! [`ScatterOptions::max_arrows`] arrows (evenly spaced rows of the source).
//!
//! Coordinates: d = 2 is plotted as is; d = 1 at height 0; for d > 2 every set is projected onto the
//! top-2 principal axes of the union of the sets (at most [`PCA_MAX_ROWS`] of its finite rows, evenly
//! spaced; [`crate::linalg::pca::Pca`] with K = 2, through [`super::panels::Plane`]), and the axis
//! labels give the share of the variance each carries.
//!
//! # Curves
//! Training curves are drawn in [`super::curves`] (re-exported here) with the primitives of this file.

use super::atomic::write_bytes_atomic;
pub use super::curves::{
    curve_panels_svg, curves_svg, write_curve_panels_svg, write_curves_svg, CurveOptions,
    CurvePanel, Series,
};
use super::panels::{scatter_panels_svg, PanelOptions, Plane, ScatterPanel};
use crate::linalg::pca::{Pca, PcaConfig};
use crate::linalg::{Mat, Real};
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// Largest number of rows the PCA uses (evenly spaced over the union of the sets).
pub const PCA_MAX_ROWS: usize = 4000;

/// Colours of source, target, mapped (matplotlib's tab10 first three).
pub(super) const COLOURS: [&str; 3] = ["#1f77b4", "#ff7f0e", "#2ca02c"];
/// Colours of curve series, cycled.
pub(super) const SERIES_COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];
/// Plot margins in pixels: left, right, top, bottom.
pub(super) const MARGIN: (f64, f64, f64, f64) = (64.0, 16.0, 32.0, 44.0);

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

/// Escapes text for XML content and attribute values.
pub(super) fn esc(s: &str) -> String {
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
pub(super) fn spaced(n: usize, k: usize) -> impl Iterator<Item = usize> {
    let k = k.min(n);
    (0..k).map(move |i| (i as u128 * n as u128 / k as u128) as usize)
}

/// The top-2 principal axes of the union of `sets` (d ≥ 2): (mean, [pc1, pc2], [λ₁, λ₂], total
/// variance), from at most [`PCA_MAX_ROWS`] evenly spaced rows with every value finite.
pub(super) type PrincipalPlane = (Vec<f64>, [Vec<f64>; 2], [f64; 2], f64);

pub(super) fn principal_plane<T: Real>(sets: &[&Mat<T>]) -> Result<PrincipalPlane> {
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
pub(super) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
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
pub(super) fn tick_label(v: f64, step: f64) -> String {
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
pub(super) struct Frame {
    pub(super) x0: f64,
    pub(super) y0: f64,
    pub(super) w: f64,
    pub(super) h: f64,
    pub(super) xlo: f64,
    pub(super) xhi: f64,
    pub(super) ylo: f64,
    pub(super) yhi: f64,
}

impl Frame {
    pub(super) fn px(&self, x: f64) -> f64 {
        self.x0 + (x - self.xlo) / (self.xhi - self.xlo) * self.w
    }
    pub(super) fn py(&self, y: f64) -> f64 {
        self.y0 + self.h - (y - self.ylo) / (self.yhi - self.ylo) * self.h
    }
}

/// [lo, hi] widened when degenerate or non-finite, then padded by 4% each side.
pub(super) fn padded(lo: f64, hi: f64) -> (f64, f64) {
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

pub(super) fn header(out: &mut String, w: u32, h: u32, title: &str) {
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
pub(super) fn axes(
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
pub(super) fn legend(out: &mut String, f: &Frame, items: &[(String, &str, bool)]) {
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
        // a curve's swatch is a 16 × 3 bar, a point set's an 8 × 8 square, both centred on the row
        let (sw, sh) = if *is_line { (16, 3) } else { (8, 8) };
        let _ = write!(
            out,
            "<rect class=\"legend-swatch\" x=\"{:.2}\" y=\"{:.2}\" width=\"{sw}\" height=\"{sh}\" \
             fill=\"{colour}\"/>",
            x + 14.0 - f64::from(sw) / 2.0,
            cy - f64::from(sh) / 2.0
        );
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
    let plane = Plane::of_sets(&sets)?;
    let [x_label, y_label] = plane.labels(&sets);
    let panel = ScatterPanel {
        title: String::new(),
        source: plane.project(source),
        target: plane.project(target),
        mapped: mapped.map(|m| plane.project(m)),
    };
    let popts = PanelOptions {
        title: opts.title.clone(),
        panel_width: opts.width,
        height: opts.height,
        max_points: opts.max_points,
        max_arrows: opts.max_arrows,
        x_label,
        y_label,
    };
    scatter_panels_svg(&[panel], &popts)
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
