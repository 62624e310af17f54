//! `monge plot` for slides (issue 16, item 3): several mapped sets as panels on one plane and common
//! axes, a plane fixed by `--basis` and saved by `--save-basis`, training curves one panel per quantity,
//! `--log` saying what it cannot draw, and errors for histories without values.

mod common;
use common::*;
use std::fs;
use std::path::Path;

/// `n` points in d = 4 with variance in every column; `scale` stretches the mapped sets apart.
fn cloud4(n: usize, shift: f64, scale: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let t = i as f64;
            vec![
                scale * (t * 0.37).sin() + shift,
                scale * 0.5 * (t * 0.11).cos(),
                0.3 * ((i % 5) as f64),
                0.1 * ((i % 3) as f64) - shift,
            ]
        })
        .collect()
}

/// (cx, cy) of every `<circle>` inside the `<g class="source" …>` groups, in document order.
fn source_circles(svg: &str) -> Vec<Vec<(f64, f64)>> {
    let attr = |t: &str, k: &str| -> f64 {
        let pat = format!("{k}=\"");
        let i = t.find(&pat).unwrap() + pat.len();
        t[i..i + t[i..].find('"').unwrap()].parse().unwrap()
    };
    svg.split("<g class=\"source\"")
        .skip(1)
        .map(|g| {
            let g = &g[..g.find("</g>").unwrap()];
            g.split("<circle")
                .skip(1)
                .map(|c| (attr(c, "cx"), attr(c, "cy")))
                .collect()
        })
        .collect()
}

fn setup(dir: &Path) {
    write_csv(dir, "a.csv", &cloud4(60, 0.0, 1.0));
    write_csv(dir, "b.csv", &cloud4(60, 2.0, 1.0));
    write_csv(dir, "y1.csv", &cloud4(60, 1.0, 1.0));
    write_csv(dir, "y2.csv", &cloud4(60, 2.0, 6.0));
}

#[test]
fn several_mapped_sets_are_panels_on_one_plane_and_common_axes() {
    let dir = scratch("plot-panels");
    setup(&dir);
    let o = run(
        concat!(
            "plot --source a.csv --target b.csv --mapped y1.csv --mapped ",
            "y2.csv --labels W2,W1 --out p.svg"
        ),
        &dir,
    );
    expect_ok(&o);
    let svg = fs::read_to_string(dir.join("p.svg")).unwrap();
    assert_eq!(svg.matches("<g class=\"panel\">").count(), 2);
    assert!(svg.contains(">W2</text>") && svg.contains(">W1</text>"));
    // the same source cells sit at the same place in both panels: one panel width (480 px) apart,
    // although the two mapped sets have very different spreads
    let s = source_circles(&svg);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].len(), 60);
    for (p, q) in s[0].iter().zip(&s[1]) {
        assert!((q.0 - p.0 - 480.0).abs() < 0.011, "{p:?} {q:?}");
        assert!((q.1 - p.1).abs() < 0.011, "{p:?} {q:?}");
    }
    // one label per --mapped file
    let o = run(
        concat!(
            "plot --source a.csv --target b.csv --mapped y1.csv --mapped ",
            "y2.csv --labels W2 --out q.svg"
        ),
        &dir,
    );
    expect_fail(&o, 2, &["--labels", "1 panels", "2 --mapped"]);
}

#[test]
fn a_saved_basis_gives_the_same_plane_in_the_next_plot() {
    let dir = scratch("plot-basis");
    setup(&dir);
    let o = run(
        "plot --source a.csv --target b.csv --mapped y1.csv --out p1.svg --save-basis basis.npy",
        &dir,
    );
    expect_ok(&o);
    let o = run(
        "plot --source a.csv --target b.csv --mapped y1.csv --out p2.svg --basis basis.npy",
        &dir,
    );
    expect_ok(&o);
    let (p1, p2) = (
        fs::read_to_string(dir.join("p1.svg")).unwrap(),
        fs::read_to_string(dir.join("p2.svg")).unwrap(),
    );
    assert!(p1.contains("PC1 (") && p2.contains("basis axis 1 ("));
    assert_eq!(source_circles(&p1), source_circles(&p2));
    // a hand-made plane: axis 1 = feature 2, axis 2 = feature 0; the labels carry each axis's share of
    // the variance of the union of the sets drawn (here: source and target only)
    let basis = vec![
        vec![0.0, 0.0, 0.0, 0.0],
        vec![0.0, 0.0, 5.0, 0.0],
        vec![1.0, 0.0, 0.0, 0.0],
    ];
    write_csv(&dir, "hand.csv", &basis);
    let o = run(
        "plot --source a.csv --target b.csv --out p3.svg --basis hand.csv",
        &dir,
    );
    expect_ok(&o);
    let p3 = fs::read_to_string(dir.join("p3.svg")).unwrap();
    let rows: Vec<Vec<f64>> = [cloud4(60, 0.0, 1.0), cloud4(60, 2.0, 1.0)].concat();
    let var = |j: usize| {
        let m = rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64;
        rows.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / rows.len() as f64
    };
    let total: f64 = (0..4).map(var).sum();
    let want = format!("basis axis 1 ({:.1}% of variance)", 100.0 * var(2) / total);
    assert!(p3.contains(&want), "{want} not in the plot");
    let want = format!("basis axis 2 ({:.1}% of variance)", 100.0 * var(0) / total);
    assert!(p3.contains(&want), "{want} not in the plot");
    // a basis of the wrong shape is refused, naming the file and the expected shape
    write_csv(&dir, "bad.csv", &basis[..2]);
    let o = run(
        "plot --source a.csv --target b.csv --out p4.svg --basis bad.csv",
        &dir,
    );
    expect_fail(&o, 1, &["bad.csv", "2×4", "3×4"]);
}

#[test]
fn history_curves_get_one_panel_per_quantity() {
    let dir = scratch("plot-history");
    let mut h = String::from("iteration,loss_g,loss_f,lambda,heldout_mmd\n");
    for i in 1..=20 {
        let t = i as f64;
        h.push_str(&format!(
            "{},{},{},{},{}\n",
            i * 100,
            -5.0 / t,
            2.0 / t,
            0.1 * t,
            if i % 2 == 0 {
                format!("{}", 0.5 / t)
            } else {
                String::new()
            }
        ));
    }
    fs::write(dir.join("h.csv"), &h).unwrap();
    let o = run("plot --history h.csv --out c.svg", &dir);
    expect_ok(&o);
    let svg = fs::read_to_string(dir.join("c.svg")).unwrap();
    assert_eq!(svg.matches("<g class=\"panel\">").count(), 3);
    for label in [
        ">loss<",
        ">held-out MMD<",
        ">λ (penalty weight)<",
        ">iteration<",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    assert_eq!(svg.matches("<polyline").count(), 4);
    // --log: loss_g is negative everywhere and cannot be drawn; stderr says so
    let o = run("plot --history h.csv --out l.svg --log", &dir);
    expect_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("'loss_g' (loss): 20 of 20 values are ≤ 0"),
        "{err}"
    );
    assert!(!err.contains("loss_f"), "{err}");
    let svg = fs::read_to_string(dir.join("l.svg")).unwrap();
    assert!(svg.contains("held-out MMD (log scale)"));
    // a history whose λ column is empty has no λ panel
    let no_lambda: String = h
        .lines()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let lam = if c[0] == "iteration" { c[3] } else { "" };
            format!(
                "{},{},{},{},{}\n",
                c[0],
                c[1],
                c[2],
                lam,
                c.get(4).unwrap_or(&"")
            )
        })
        .collect();
    fs::write(dir.join("h2.csv"), no_lambda).unwrap();
    let o = run("plot --history h2.csv --out c2.svg", &dir);
    expect_ok(&o);
    let svg = fs::read_to_string(dir.join("c2.svg")).unwrap();
    assert_eq!(svg.matches("<g class=\"panel\">").count(), 2);
    assert!(!svg.contains("penalty weight"));
}

#[test]
fn histories_without_values_are_errors() {
    let dir = scratch("plot-empty-history");
    // what a Sinkhorn fit writes: no loss column, no row
    fs::write(dir.join("sk.csv"), "iteration,lambda,heldout_mmd\n").unwrap();
    let o = run("plot --history sk.csv --out c.svg", &dir);
    expect_fail(&o, 1, &["sk.csv", "no loss column", "Sinkhorn"]);
    fs::write(
        dir.join("w2.csv"),
        "iteration,loss_g,loss_f,lambda,heldout_mmd\n",
    )
    .unwrap();
    let o = run("plot --history w2.csv --out c.svg", &dir);
    expect_fail(&o, 1, &["w2.csv", "no values to plot"]);
    assert!(!dir.join("c.svg").exists());
}

/// `--basis-model`: the plane is a latent model's own PCA (issue 16 item 3: "or the model's own PCA"),
/// its centre and first two axes as stored in the model file. Mutations that fail it: the plane from
/// `Plane::of_sets` instead of the model, or the model's axes 1 and 2 instead of 0 and 1.
#[test]
fn a_latent_model_gives_its_own_plane() {
    let dir = scratch("plot-basis-model");
    setup(&dir);
    let fit = |latent: &str, model: &str| {
        let line = "fit --method mean-shift --source a.csv --target y2.csv --quiet";
        expect_ok(&run(&format!("{line} --model {model} {latent}"), &dir));
    };
    fit("--latent pca:3", "lat.monge");
    fit("", "plain.monge");
    let o = run(
        concat!(
            "plot --source a.csv --target y2.csv --mapped y1.csv ",
            "--basis-model lat.monge --save-basis used.npy --out p.svg"
        ),
        &dir,
    );
    expect_ok(&o);
    assert!(fs::read_to_string(dir.join("p.svg"))
        .unwrap()
        .contains("PC1 of the model ("));
    let used: monge::linalg::Mat<f64> = monge::io::read_matrix_as(&dir.join("used.npy")).unwrap();
    let saved = match monge::io::load_model(&dir.join("lat.monge")).unwrap() {
        monge::io::LoadedModel::F32(m) => m,
        other => panic!("f32 model expected, got {}", other.dtype()),
    };
    let (mshape, mean) = saved.tensor("mean").unwrap();
    let (bshape, basis) = saved.tensor("basis").unwrap();
    assert_eq!((mshape, bshape), (&[4usize][..], &[3usize, 4][..]));
    for j in 0..4 {
        assert_eq!(used.row(0)[j], mean[j] as f64, "centre, feature {j}");
        for k in 0..2 {
            // the stored axes are orthonormal in f32; the plane renormalises them in f64
            let (u, v) = (used.row(k + 1)[j], basis[k * 4 + j] as f64);
            assert!((u - v).abs() < 1e-6, "axis {k}, feature {j}: {u} vs {v}");
        }
    }
    // a model without a latent space, or both ways of fixing the plane, are refused
    let plot = |extra: &[&str]| {
        let mut args = vec![
            "plot", "--source", "a.csv", "--target", "y2.csv", "--out", "q.svg",
        ];
        args.extend_from_slice(extra);
        monge(&args, &dir)
    };
    expect_fail(
        &plot(&["--basis-model", "plain.monge"]),
        1,
        &["plain.monge", "mean-shift model", "--latent"],
    );
    expect_fail(
        &plot(&["--basis-model", "lat.monge", "--basis", "used.npy"]),
        2,
        &["--basis", "--basis-model"],
    );
}
