//! Scatter plots of already projected point sets, one panel per method side by side on common axes.
//!
//! Each [`ScatterPanel`] holds the 2-D coordinates of a source, a target and optionally a mapped set
//! (row i of the mapped set is the image of source row i). Every panel is drawn on the same data ranges
//! (the union of all panels' points, padded 4%) with equal units on both axes, so the same cloud sits at
//! the same place in every panel and panels of different methods can be compared by eye. Per panel:
//! source, target, mapped points as `<circle>`s of three colours (blue, orange, green), at most
//! [`PanelOptions::max_points`] per set (evenly spaced rows), a sample of [`PanelOptions::max_arrows`]
//! displacement arrows source → mapped (`<line class="arrow">`, evenly spaced source rows), an axis box with
//! ticks and the panel's title above it; the legend (`<rect>` swatches, so the number of `<circle>`s is the
//! number of points drawn) sits in the last panel. Non-finite coordinates are not drawn.

use super::atomic::write_bytes_atomic;
use super::svg::{axes, esc, header, legend, nice_ticks, padded, spaced, tick_label, Frame};
use super::svg::{COLOURS, MARGIN};
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// One panel: projected source, target and (optionally) mapped points.
#[derive(Clone, Debug, Default)]
pub struct ScatterPanel {
    /// Title above the panel (e.g. the method; may be empty).
    pub title: String,
    /// Source points (x, y).
    pub source: Vec<(f64, f64)>,
    /// Target points.
    pub target: Vec<(f64, f64)>,
    /// Mapped points, row i the image of source row i.
    pub mapped: Option<Vec<(f64, f64)>>,
}

/// Options of [`scatter_panels_svg`].
#[derive(Clone, Debug)]
pub struct PanelOptions {
    /// Title above the whole figure (may be empty).
    pub title: String,
    /// Width of one panel in pixels.
    pub panel_width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Most points drawn per set and panel.
    pub max_points: usize,
    /// Most displacement arrows drawn per panel.
    pub max_arrows: usize,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis (drawn left of the first panel).
    pub y_label: String,
}

impl Default for PanelOptions {
    fn default() -> Self {
        PanelOptions {
            title: String::new(),
            panel_width: 640,
            height: 520,
            max_points: 2000,
            max_arrows: 100,
            x_label: String::new(),
            y_label: String::new(),
        }
    }
}

fn finite(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

/// SVG of `panels` side by side on common axes (see the module doc). An [`Error::Shape`] when there is no
/// panel or a mapped set does not have one point per source point.
pub fn scatter_panels_svg(panels: &[ScatterPanel], opts: &PanelOptions) -> Result<String> {
    if panels.is_empty() {
        return Err(Error::Shape("scatter plot: no panel to draw".into()));
    }
    for p in panels {
        if let Some(m) = &p.mapped {
            if m.len() != p.source.len() {
                return Err(Error::Shape(format!(
                    "scatter plot{}: {} mapped points for {} source points",
                    if p.title.is_empty() {
                        String::new()
                    } else {
                        format!(" '{}'", p.title)
                    },
                    m.len(),
                    p.source.len()
                )));
            }
        }
    }
    // Common ranges over every point of every panel, equal units on both axes.
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for p in panels {
        let sets = [Some(&p.source), Some(&p.target), p.mapped.as_ref()];
        for &(x, y) in sets
            .iter()
            .flatten()
            .flat_map(|s| s.iter())
            .filter(|q| finite(q))
        {
            xlo = xlo.min(x);
            xhi = xhi.max(x);
            ylo = ylo.min(y);
            yhi = yhi.max(y);
        }
    }
    let (xlo, xhi) = padded(xlo, xhi);
    let (ylo, yhi) = padded(ylo, yhi);
    let titled = panels.iter().any(|p| !p.title.is_empty());
    let top = MARGIN.2 + if titled { 18.0 } else { 0.0 };
    let (pw_px, h) = (
        opts.panel_width.max(120) as f64,
        opts.height.max(120) as f64,
    );
    let (pw, ph) = (pw_px - MARGIN.0 - MARGIN.1, h - top - MARGIN.3);
    let scale = (pw / (xhi - xlo)).min(ph / (yhi - ylo));
    let (xc, yc) = (0.5 * (xlo + xhi), 0.5 * (ylo + yhi));
    let n_points: usize = panels
        .iter()
        .map(|p| p.source.len() + p.target.len() + p.mapped.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = String::with_capacity(200 + 60 * n_points.min(6 * opts.max_points));
    let w = pw_px * panels.len() as f64;
    header(&mut out, w as u32, h as u32, &opts.title);
    let _ = writeln!(
        out,
        "<defs><marker id=\"arrowhead\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" \
         markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>"
    );
    let names = ["source", "target", "mapped"];
    for (k, p) in panels.iter().enumerate() {
        let f = Frame {
            x0: k as f64 * pw_px + MARGIN.0,
            y0: top,
            w: pw,
            h: ph,
            xlo: xc - 0.5 * pw / scale,
            xhi: xc + 0.5 * pw / scale,
            ylo: yc - 0.5 * ph / scale,
            yhi: yc + 0.5 * ph / scale,
        };
        let ticks = |lo: f64, hi: f64| -> Vec<(f64, String)> {
            let (t, s) = nice_ticks(lo, hi, 6);
            t.into_iter().map(|v| (v, tick_label(v, s))).collect()
        };
        let yl = if k == 0 { opts.y_label.as_str() } else { "" };
        let _ = writeln!(out, "<g class=\"panel\">");
        if !p.title.is_empty() {
            let _ = writeln!(
                out,
                "<text class=\"panel-title\" x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\" \
                 font-size=\"12\">{}</text>",
                f.x0 + 0.5 * f.w,
                top - 6.0,
                esc(&p.title)
            );
        }
        axes(
            &mut out,
            &f,
            &ticks(f.xlo, f.xhi),
            &ticks(f.ylo, f.yhi),
            &opts.x_label,
            yl,
        );
        let sets = [Some(&p.source), Some(&p.target), p.mapped.as_ref()];
        for (s, set) in sets.iter().enumerate() {
            let Some(set) = set else { continue };
            let _ = writeln!(
                out,
                "<g class=\"{}\" fill=\"{}\" fill-opacity=\"0.6\">",
                names[s], COLOURS[s]
            );
            for q in spaced(set.len(), opts.max_points)
                .map(|i| set[i])
                .filter(finite)
            {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"2\"/>",
                    f.px(q.0),
                    f.py(q.1)
                );
            }
            let _ = writeln!(out, "</g>");
        }
        let _ = writeln!(
            out,
            "<g class=\"arrows\" stroke=\"#444\" stroke-opacity=\"0.7\">"
        );
        if let Some(m) = &p.mapped {
            for i in spaced(p.source.len(), opts.max_arrows) {
                let (a, b) = (p.source[i], m[i]);
                if !(finite(&a) && finite(&b)) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "<line class=\"arrow\" x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" \
                     marker-end=\"url(#arrowhead)\"/>",
                    f.px(a.0),
                    f.py(a.1),
                    f.px(b.0),
                    f.py(b.1)
                );
            }
        }
        let _ = writeln!(out, "</g>");
        if k + 1 == panels.len() {
            let any_mapped = panels.iter().any(|p| p.mapped.is_some());
            let items: Vec<(String, &str, bool)> = (0..if any_mapped { 3 } else { 2 })
                .map(|s| (names[s].to_string(), COLOURS[s], false))
                .collect();
            legend(&mut out, &f, &items);
        }
        let _ = writeln!(out, "</g>");
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// Writes [`scatter_panels_svg`] to `path` atomically.
pub fn write_scatter_panels_svg(
    path: &Path,
    panels: &[ScatterPanel],
    opts: &PanelOptions,
) -> Result<()> {
    let s = scatter_panels_svg(panels, opts)?;
    write_bytes_atomic(path, s.as_bytes())
}

/// A plane to draw d-dimensional points on: a centre and two axes (unit length, or zero for a 1-D set),
/// with their axis labels.
#[derive(Clone, Debug)]
pub struct Plane {
    /// Subtracted before projecting (d entries).
    pub centre: Vec<f64>,
    /// The two axes (d entries each).
    pub axes: [Vec<f64>; 2],
    /// What the axes are called ("PC1", "x₁", "axis 1").
    pub names: [String; 2],
}

impl Plane {
    /// The coordinates themselves for d ≤ 2 (x₁, and x₂ when d = 2); the top-2 principal axes of the
    /// union of `sets` ([`crate::linalg::pca::Pca`] of at most [`super::svg::PCA_MAX_ROWS`] finite rows)
    /// for d > 2. All sets have the same column count d ≥ 1.
    pub fn of_sets<T: crate::linalg::Real>(sets: &[&crate::linalg::Mat<T>]) -> Result<Plane> {
        let d = sets.first().map_or(0, |m| m.cols());
        if d <= 2 {
            let e = |k: usize| (0..d).map(|j| (j == k) as u8 as f64).collect::<Vec<f64>>();
            return Ok(Plane {
                centre: vec![0.0; d],
                axes: [e(0), e(1)],
                names: [
                    "x₁".into(),
                    if d == 2 { "x₂".into() } else { String::new() },
                ],
            });
        }
        let (mean, pcs, _, _) = super::svg::principal_plane(sets)?;
        Ok(Plane {
            centre: mean,
            axes: pcs,
            names: ["PC1".into(), "PC2".into()],
        })
    }

    /// A given basis: `centre` and two axes of the same length d (normalised here), called `names`. An
    /// [`Error::Shape`] when the lengths differ or an axis is zero or not finite.
    pub fn from_basis(centre: Vec<f64>, axes: [Vec<f64>; 2], names: [String; 2]) -> Result<Plane> {
        let d = centre.len();
        let mut axes = axes;
        for (k, a) in axes.iter_mut().enumerate() {
            if a.len() != d {
                return Err(Error::Shape(format!(
                    "plot basis: axis {} has {} entries, the centre {d}",
                    k + 1,
                    a.len()
                )));
            }
            let n = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            if !(n.is_finite() && n > 0.0) || centre.iter().any(|c| !c.is_finite()) {
                return Err(Error::Shape(format!(
                    "plot basis: axis {} is zero or not finite",
                    k + 1
                )));
            }
            a.iter_mut().for_each(|x| *x /= n);
        }
        Ok(Plane {
            centre,
            axes,
            names,
        })
    }

    /// The dimension d of the points this plane projects.
    pub fn dim(&self) -> usize {
        self.centre.len()
    }

    /// `(⟨x − c, a₁⟩, ⟨x − c, a₂⟩)` for every row x of `m` (which must have d columns).
    pub fn project<T: crate::linalg::Real>(&self, m: &crate::linalg::Mat<T>) -> Vec<(f64, f64)> {
        debug_assert_eq!(m.cols(), self.dim());
        (0..m.rows())
            .map(|i| {
                let (mut a, mut b) = (0.0, 0.0);
                for (j, &v) in m.row(i).iter().enumerate() {
                    let c = v.to_f64() - self.centre[j];
                    a += c * self.axes[0][j];
                    b += c * self.axes[1][j];
                }
                (a, b)
            })
            .collect()
    }

    /// Axis labels: the names, with the share of the total variance of the union of `sets` (its rows
    /// with every value finite) that each axis carries (the variance of the projections over
    /// Σ_j var(x_j), population form), except for the raw coordinates of d ≤ 2.
    pub fn labels<T: crate::linalg::Real>(&self, sets: &[&crate::linalg::Mat<T>]) -> [String; 2] {
        let d = self.dim();
        if d <= 2 && self.centre.iter().all(|&c| c == 0.0) {
            return self.names.clone();
        }
        let rows: Vec<&[T]> = sets
            .iter()
            .flat_map(|m| (0..m.rows()).map(move |i| m.row(i)))
            .filter(|r| r.iter().all(|v| v.is_finite()))
            .collect();
        if rows.is_empty() {
            return self.names.clone();
        }
        let mut mean = vec![0.0; d];
        for r in &rows {
            mean.iter_mut()
                .zip(r.iter())
                .for_each(|(a, v)| *a += v.to_f64());
        }
        mean.iter_mut().for_each(|a| *a /= rows.len() as f64);
        let (mut total, mut var) = (0.0, [0.0; 2]);
        for r in &rows {
            let mut p = [0.0; 2];
            for (j, &v) in r.iter().enumerate() {
                let c = v.to_f64() - mean[j];
                total += c * c;
                p[0] += c * self.axes[0][j];
                p[1] += c * self.axes[1][j];
            }
            var[0] += p[0] * p[0];
            var[1] += p[1] * p[1];
        }
        let share = |v: f64| if total > 0.0 { 100.0 * v / total } else { 0.0 };
        [0, 1].map(|k| {
            if self.names[k].is_empty() {
                String::new()
            } else {
                format!("{} ({:.1}% of variance)", self.names[k], share(var[k]))
            }
        })
    }
}
