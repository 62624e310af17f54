//! SVG plots: well-formed output, element counts matching the inputs, coordinates inside the viewport,
//! and the PCA projection against nalgebra's dense symmetric eigendecomposition.

use monge::io::svg::{
    curves_svg, scatter_svg, write_scatter_svg, CurveOptions, ScatterOptions, Series,
};
use monge::linalg::pca::{Pca, PcaConfig};
use monge::linalg::Mat;
use monge::random::{streams, Stream};
use monge::Error;
use std::path::PathBuf;

/// Checks that every tag is closed in order; returns the element names in document order.
fn balanced_elements(svg: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').expect("unterminated tag");
        let tag = &after[..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().expect("closing tag without opening");
            assert_eq!(open, name.trim(), "mismatched closing tag");
        } else {
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect();
            names.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        // Text between tags must not contain a raw '&' that is not an entity.
        rest = &after[end + 1..];
        let text_end = rest.find('<').unwrap_or(rest.len());
        for (i, _) in rest[..text_end].match_indices('&') {
            let ent = &rest[i..text_end];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "raw '&' in text"
            );
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(names.first().map(String::as_str), Some("svg"));
    names
}

fn attr(tag: &str, key: &str) -> f64 {
    let k = format!(" {key}=\"");
    let i = tag
        .find(&k)
        .unwrap_or_else(|| panic!("{key} missing in {tag}"))
        + k.len();
    let j = tag[i..].find('"').unwrap() + i;
    tag[i..j].parse().unwrap()
}

/// The opening tags (text up to '>') of every element named `name`.
fn tags<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
    let pat = format!("<{name} ");
    svg.match_indices(&pat)
        .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()])
        .collect()
}

/// The plot area (class="axes" rect): (x0, y0, x1, y1).
fn plot_area(svg: &str) -> (f64, f64, f64, f64) {
    let t = tags(svg, "rect")
        .into_iter()
        .find(|t| t.contains("class=\"axes\""))
        .expect("axis box");
    let (x, y) = (attr(t, "x"), attr(t, "y"));
    (x, y, x + attr(t, "width"), y + attr(t, "height"))
}

fn gaussian(rng: &mut Stream, n: usize, d: usize, shift: f64) -> Mat<f64> {
    Mat::from_fn(n, d, |_, j| {
        rng.normal_f64() + if j == 0 { shift } else { 0.0 }
    })
}

#[test]
fn scatter_has_one_circle_per_point_arrows_legend_and_stays_in_the_plot() {
    let mut rng = Stream::new(1, streams::DATA);
    let (src, tgt) = (
        gaussian(&mut rng, 50, 2, 0.0),
        gaussian(&mut rng, 40, 2, 5.0),
    );
    let mapped = Mat::from_fn(50, 2, |i, j| src.get(i, j) + if j == 0 { 5.0 } else { 0.0 });
    let opts = ScatterOptions {
        title: "moons <W2> & co".into(),
        max_arrows: 20,
        ..Default::default()
    };
    let svg = scatter_svg(&src, &tgt, Some(&mapped), &opts).unwrap();
    let names = balanced_elements(&svg);
    assert_eq!(
        names.iter().filter(|n| *n == "circle").count(),
        50 + 40 + 50
    );
    let arrows: Vec<&str> = tags(&svg, "line")
        .into_iter()
        .filter(|t| t.contains("class=\"arrow\""))
        .collect();
    assert_eq!(arrows.len(), 20);
    assert!(svg.contains("moons &lt;W2&gt; &amp; co"));
    for label in ["source", "target", "mapped"] {
        assert!(svg.contains(&format!(">{label}</text>")), "legend {label}");
    }
    let (x0, y0, x1, y1) = plot_area(&svg);
    assert!(x0 > 0.0 && y0 > 0.0 && x1 < 640.0 && y1 < 520.0);
    for c in tags(&svg, "circle") {
        let (cx, cy) = (attr(c, "cx"), attr(c, "cy"));
        assert!((x0..=x1).contains(&cx) && (y0..=y1).contains(&cy), "{c}");
    }
    // Every arrow goes right by 5 data units, and the axes have equal units: all arrows have the same
    // pixel length along x and none along y.
    let dx: Vec<f64> = arrows
        .iter()
        .map(|t| attr(t, "x2") - attr(t, "x1"))
        .collect();
    for (t, &d) in arrows.iter().zip(&dx) {
        assert!(d > 0.0 && (d - dx[0]).abs() < 0.02, "{t}");
        assert!((attr(t, "y2") - attr(t, "y1")).abs() < 0.02, "{t}");
    }
    // No mapped set: two legend entries, no arrows, fewer points than max_points drawn exactly.
    let opts = ScatterOptions {
        max_points: 30,
        ..Default::default()
    };
    let svg = scatter_svg(&src, &tgt, None, &opts).unwrap();
    balanced_elements(&svg);
    assert_eq!(tags(&svg, "circle").len(), 60);
    assert!(!svg.contains("class=\"arrow\""));
    assert!(!svg.contains(">mapped</text>"));
}

#[test]
fn scatter_shape_errors() {
    let a = Mat::<f32>::zeros(3, 2);
    let b = Mat::<f32>::zeros(3, 3);
    assert!(matches!(
        scatter_svg(&a, &b, None, &Default::default()),
        Err(Error::Shape(_))
    ));
    let m = Mat::<f32>::zeros(2, 2);
    assert!(matches!(
        scatter_svg(&a, &a, Some(&m), &Default::default()),
        Err(Error::Shape(_))
    ));
    // Empty sets in d = 5 plot an empty frame.
    let e = Mat::<f64>::zeros(0, 5);
    let svg = scatter_svg(&e, &e, Some(&e), &Default::default()).unwrap();
    balanced_elements(&svg);
    assert!(tags(&svg, "circle").is_empty());
    // Degenerate data (all points equal, one dimension) still plots inside the frame.
    let one = Mat::<f32>::zeros(4, 1);
    let svg = scatter_svg(&one, &one, Some(&one), &Default::default()).unwrap();
    balanced_elements(&svg);
    let (x0, y0, x1, y1) = plot_area(&svg);
    for c in tags(&svg, "circle") {
        assert!((x0..=x1).contains(&attr(c, "cx")) && (y0..=y1).contains(&attr(c, "cy")));
    }
}

#[test]
fn plot_pca_finds_the_top_two_eigenvectors_of_the_covariance() {
    // d = 7, anisotropic Gaussian in a rotated basis: variances 9, 4, 1, 0.5, … .
    let d = 7;
    let mut rng = Stream::new(7, streams::DATA);
    let scales = [3.0, 2.0, 1.0, 0.7, 0.5, 0.3, 0.2];
    let q = nalgebra::DMatrix::<f64>::from_fn(d, d, |_, _| rng.normal_f64())
        .qr()
        .q();
    let sample = |rng: &mut Stream, n: usize| {
        let mut m = Mat::<f64>::zeros(n, d);
        for i in 0..n {
            let z: Vec<f64> = scales.iter().map(|s| s * rng.normal_f64()).collect();
            for j in 0..d {
                m.set(i, j, (0..d).map(|k| q[(j, k)] * z[k]).sum::<f64>() + 1.0);
            }
        }
        m
    };
    let (a, b) = (sample(&mut rng, 300), sample(&mut rng, 200));
    // The plot's PCA (monge::linalg::pca) of the union of the two sets.
    let union = Mat::from_fn(500, d, |i, j| {
        if i < 300 {
            a.get(i, j)
        } else {
            b.get(i - 300, j)
        }
    });
    let pca = Pca::fit(union.view(), 2, &PcaConfig::default()).unwrap();
    let (mean, lambdas, total) = (pca.mean(), pca.explained_variance(), pca.total_variance());
    let axes: Vec<&[f64]> = (0..2).map(|k| pca.components().row(k)).collect();
    // Reference: explicit covariance of the union, dense symmetric eigendecomposition.
    let rows: Vec<&[f64]> = (0..300)
        .map(|i| a.row(i))
        .chain((0..200).map(|i| b.row(i)))
        .collect();
    let n = rows.len() as f64;
    let mu: Vec<f64> = (0..d)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let cov = nalgebra::DMatrix::<f64>::from_fn(d, d, |j, k| {
        rows.iter()
            .map(|r| (r[j] - mu[j]) * (r[k] - mu[k]))
            .sum::<f64>()
            / n
    });
    let eig = nalgebra::SymmetricEigen::new(cov.clone());
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&x, &y| eig.eigenvalues[y].total_cmp(&eig.eigenvalues[x]));
    for (k, axis) in axes.iter().enumerate() {
        let v = eig.eigenvectors.column(order[k]);
        let dot: f64 = (0..d).map(|j| v[j] * axis[j]).sum();
        assert!(
            (dot.abs() - 1.0).abs() < 1e-9,
            "axis {k}: |cos| = {}",
            dot.abs()
        );
        let rel = (lambdas[k] - eig.eigenvalues[order[k]]).abs() / eig.eigenvalues[order[k]];
        assert!(rel < 1e-9, "eigenvalue {k}: rel. error {rel}");
    }
    for j in 0..d {
        assert!((mean[j] - mu[j]).abs() < 1e-12);
    }
    assert!((total - cov.trace()).abs() < 1e-9 * cov.trace());
    // The plot of the same sets uses these axes and labels their variance shares.
    let svg = scatter_svg(&a, &b, None, &Default::default()).unwrap();
    balanced_elements(&svg);
    assert!(svg.contains(&format!(
        "PC1 ({:.1}% of variance)",
        100.0 * lambdas[0] / total
    )));
}

#[test]
fn curves_have_one_polyline_per_series_inside_the_plot() {
    let loss = Series {
        name: "L_f".into(),
        points: (0..200)
            .map(|i| (i as f64, 10.0 * (-0.02 * i as f64).exp()))
            .collect(),
    };
    let w2 = Series {
        name: "W2 <estimate>".into(),
        points: vec![(0.0, 1.0), (50.0, f64::NAN), (100.0, -0.5), (150.0, 0.25)],
    };
    for log_y in [false, true] {
        let opts = CurveOptions {
            log_y,
            y_label: "loss".into(),
            ..Default::default()
        };
        let svg = curves_svg(&[loss.clone(), w2.clone()], &opts);
        balanced_elements(&svg);
        let lines = tags(&svg, "polyline");
        assert_eq!(lines.len(), 2);
        assert!(svg.contains("W2 &lt;estimate&gt;"));
        let (x0, y0, x1, y1) = plot_area(&svg);
        let pts = |t: &str| -> Vec<(f64, f64)> {
            let i = t.find("points=\"").unwrap() + 8;
            let s = &t[i..i + t[i..].find('"').unwrap()];
            s.split(' ')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (a, b) = p.split_once(',').unwrap();
                    (a.parse().unwrap(), b.parse().unwrap())
                })
                .collect()
        };
        let p0 = pts(lines[0]);
        assert_eq!(p0.len(), 200);
        // A decreasing loss goes down the page (SVG y grows downwards), x increases.
        for w in p0.windows(2) {
            assert!(w[1].0 > w[0].0 && w[1].1 > w[0].1);
        }
        // NaN skipped always; the negative value skipped only on the log scale.
        assert_eq!(pts(lines[1]).len(), if log_y { 2 } else { 3 });
        for (x, y) in p0.iter().chain(pts(lines[1]).iter()) {
            assert!((x0..=x1).contains(x) && (y0..=y1).contains(y));
        }
        if log_y {
            // Exponential decay is a straight line on a log axis: equal pixel steps.
            let d: Vec<f64> = p0.windows(2).map(|w| w[1].1 - w[0].1).collect();
            assert!(d.iter().all(|s| (s - d[0]).abs() < 0.02));
            assert!(svg.contains("loss (log scale)"));
        }
    }
    // Decimation keeps the last point.
    let opts = CurveOptions {
        max_points: 50,
        ..Default::default()
    };
    let svg = curves_svg(&[loss], &opts);
    let lines = tags(&svg, "polyline");
    assert_eq!(lines[0].matches(',').count(), 50);
}

#[test]
fn write_scatter_svg_writes_exactly_the_returned_text() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("io_svg");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("plot.svg");
    let a = Mat::from_fn(5, 2, |i, j| (i + j) as f32);
    write_scatter_svg(&p, &a, &a, Some(&a), &Default::default()).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(
        text,
        scatter_svg(&a, &a, Some(&a), &Default::default()).unwrap()
    );
}
