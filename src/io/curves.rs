//! Training curves: one panel per quantity, stacked, on a common x axis (the iteration).
//!
//! Each [`CurvePanel`] is one quantity with its own y axis and label (losses, the held-out selection
//! criterion, λ, …): quantities of different units never share an axis. In a panel, one
//! `<polyline class="series">` per named series (x = iteration, y = value) and a legend; every panel spans
//! the same x range and has x ticks; the x label sits under the last panel.
//!
//! What is not drawn is said: [`curve_panels_svg`] returns, besides the SVG, one note per series with
//! non-finite values (never drawn) and, on a logarithmic y axis, with values ≤ 0 (how many, and the
//! smallest); a panel with no positive value at all is drawn on a linear axis instead (its label says
//! so), and noted. Points are decimated to [`CurveOptions::max_points`] per series (evenly spaced, the
//! last one always kept).

use super::atomic::write_bytes_atomic;
use super::svg::{axes, header, legend, nice_ticks, padded, spaced, tick_label, Frame};
use super::svg::{MARGIN, SERIES_COLOURS};
use crate::Result;
use std::fmt::Write as _;
use std::path::Path;

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
    /// Image height in pixels (of each panel, in [`curve_panels_svg`]).
    pub height: u32,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis ([`curves_svg`]; each [`CurvePanel`] has its own).
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

/// One quantity of a training history: its y-axis label and its series.
#[derive(Clone, Debug, Default)]
pub struct CurvePanel {
    /// Label of the y axis (what the values are, e.g. "loss", "held-out criterion", "λ").
    pub y_label: String,
    /// The curves drawn in this panel.
    pub series: Vec<Series>,
}

/// A panel's drawable points (decimated, y transformed) and whether its axis is logarithmic.
struct Prepared {
    kept: Vec<Vec<(f64, f64)>>,
    log: bool,
}

/// Selects the drawable points of one panel, and notes what is left out.
fn prepare(p: &CurvePanel, opts: &CurveOptions, notes: &mut Vec<String>) -> Prepared {
    let positive = p
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .any(|q| q.0.is_finite() && q.1.is_finite() && q.1 > 0.0);
    let log = opts.log_y && positive;
    let what = if p.y_label.is_empty() {
        String::new()
    } else {
        format!(" ({})", p.y_label)
    };
    if opts.log_y && !log {
        notes.push(format!(
            "panel{what}: no positive value, drawn on a linear axis instead of the log axis"
        ));
    }
    let kept = p
        .series
        .iter()
        .map(|s| {
            let nonfinite = s.points.iter().filter(|q| !(q.0.is_finite() && q.1.is_finite()));
            let nonfinite = nonfinite.count();
            if nonfinite > 0 {
                notes.push(format!(
                    "'{}'{what}: {nonfinite} of {} values are not finite and not drawn",
                    s.name,
                    s.points.len()
                ));
            }
            let finite = s.points.iter().filter(|q| q.0.is_finite() && q.1.is_finite());
            if log {
                let (mut n, mut min) = (0usize, f64::INFINITY);
                for q in finite.clone().filter(|q| q.1 <= 0.0) {
                    n += 1;
                    min = min.min(q.1);
                }
                if n > 0 {
                    notes.push(format!(
                        "'{}'{what}: {n} of {} values are ≤ 0 (smallest {min:.4e}) and not drawn on \
                         the log axis",
                        s.name,
                        s.points.len()
                    ));
                }
            }
            let ok: Vec<(f64, f64)> = finite
                .filter(|q| !log || q.1 > 0.0)
                .map(|&(x, y)| (x, if log { y.log10() } else { y }))
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
    Prepared { kept, log }
}

/// Ticks of a y axis over [ylo, hi] (in log10 units on a log axis): (position, label).
fn y_ticks(ylo: f64, yhi: f64, log: bool) -> Vec<(f64, String)> {
    if !log {
        let (t, s) = nice_ticks(ylo, yhi, 6);
        return t.into_iter().map(|v| (v, tick_label(v, s))).collect();
    }
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
}

/// SVG of `panels` stacked top to bottom on a common x axis (see the module doc), and the notes on what
/// was not drawn. Each panel is `opts.width × opts.height` pixels.
pub fn curve_panels_svg(panels: &[CurvePanel], opts: &CurveOptions) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let prepared: Vec<Prepared> = panels
        .iter()
        .map(|p| prepare(p, opts, &mut notes))
        .collect();
    let (mut xlo, mut xhi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, _) in prepared.iter().flat_map(|p| p.kept.iter().flatten()) {
        xlo = xlo.min(x);
        xhi = xhi.max(x);
    }
    let (xlo, xhi) = padded(xlo, xhi);
    let (w, ph) = (opts.width.max(120) as f64, opts.height.max(120) as f64);
    let mut out = String::new();
    header(
        &mut out,
        w as u32,
        (ph * panels.len().max(1) as f64) as u32,
        &opts.title,
    );
    let (xt, xs) = nice_ticks(xlo, xhi, 6);
    let xt: Vec<(f64, String)> = xt.into_iter().map(|v| (v, tick_label(v, xs))).collect();
    for (k, (p, pre)) in panels.iter().zip(&prepared).enumerate() {
        let (mut ylo, mut yhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(_, y) in pre.kept.iter().flatten() {
            ylo = ylo.min(y);
            yhi = yhi.max(y);
        }
        let (ylo, yhi) = padded(ylo, yhi);
        let f = Frame {
            x0: MARGIN.0,
            y0: k as f64 * ph + MARGIN.2,
            w: w - MARGIN.0 - MARGIN.1,
            h: ph - MARGIN.2 - MARGIN.3,
            xlo,
            xhi,
            ylo,
            yhi,
        };
        let yl = match (pre.log, opts.log_y, p.y_label.is_empty()) {
            (_, _, true) => String::new(),
            (true, _, false) => format!("{} (log scale)", p.y_label),
            (false, true, false) => format!("{} (linear: no value > 0)", p.y_label),
            (false, false, false) => p.y_label.clone(),
        };
        let xl = if k + 1 == panels.len() {
            opts.x_label.as_str()
        } else {
            ""
        };
        let _ = writeln!(out, "<g class=\"panel\">");
        axes(&mut out, &f, &xt, &y_ticks(ylo, yhi, pre.log), xl, &yl);
        for (j, pts) in pre.kept.iter().enumerate() {
            let colour = SERIES_COLOURS[j % SERIES_COLOURS.len()];
            let _ = write!(
                out,
                "<polyline class=\"series\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" \
                 points=\""
            );
            for (i, &(x, y)) in pts.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{:.2},{:.2}", f.px(x), f.py(y));
            }
            let _ = writeln!(out, "\"/>");
        }
        let items: Vec<(String, &str, bool)> = p
            .series
            .iter()
            .enumerate()
            .map(|(j, s)| {
                (
                    s.name.clone(),
                    SERIES_COLOURS[j % SERIES_COLOURS.len()],
                    true,
                )
            })
            .collect();
        legend(&mut out, &f, &items);
        let _ = writeln!(out, "</g>");
    }
    out.push_str("</svg>\n");
    (out, notes)
}

/// Writes [`curve_panels_svg`] to `path` atomically; returns its notes.
pub fn write_curve_panels_svg(
    path: &Path,
    panels: &[CurvePanel],
    opts: &CurveOptions,
) -> Result<Vec<String>> {
    let (s, notes) = curve_panels_svg(panels, opts);
    write_bytes_atomic(path, s.as_bytes())?;
    Ok(notes)
}

/// SVG line plot of `series` in one panel labelled `opts.y_label` ([`curve_panels_svg`] of one panel,
/// without its notes).
pub fn curves_svg(series: &[Series], opts: &CurveOptions) -> String {
    let panel = CurvePanel {
        y_label: opts.y_label.clone(),
        series: series.to_vec(),
    };
    curve_panels_svg(&[panel], opts).0
}

/// Writes [`curves_svg`] to `path` atomically.
pub fn write_curves_svg(path: &Path, series: &[Series], opts: &CurveOptions) -> Result<()> {
    write_bytes_atomic(path, curves_svg(series, opts).as_bytes())
}
