//! `monge map` / `monge eval` on latent models (src/ot/latent.rs): the CLI maps a latent model file
//! exactly as the library does, and a corrupt one is an error.

mod common;

use common::{monge, scratch, stderr};
use monge::io::{read_matrix_as, save_model, write_matrix};
use monge::linalg::Mat;
use monge::ot::latent::{self, Decode, LatentConfig};
use monge::ot::train::Heldout;
use monge::random::{streams, Stream};
use monge::Method;
use std::path::Path;

/// 300 cells in d = 12 around a rank-2 state, and the target shifted by 3 along the first gene.
fn pair() -> (Mat<f64>, Mat<f64>) {
    let mut rng = Stream::new(11, streams::DATA);
    let mk = |rng: &mut Stream, shift: f64| {
        let mut x = Mat::zeros(300, 12);
        for i in 0..300 {
            let (a, b) = (2.0 * rng.normal_f64(), rng.normal_f64());
            for j in 0..12 {
                let v = a * (j as f64 / 12.0) + b * ((j % 3) as f64 - 1.0) + 0.1 * rng.normal_f64();
                x.set(i, j, v + if j == 0 { shift } else { 0.0 });
            }
        }
        x
    };
    (mk(&mut rng, 0.0), mk(&mut rng, 3.0))
}

#[test]
fn monge_map_applies_a_latent_model_bit_for_bit_and_eval_reads_its_output() {
    let dir = scratch("latent-map");
    let (source, target) = pair();
    write_matrix(&dir.join("a.npy"), &source).unwrap();
    write_matrix(&dir.join("b.npy"), &target).unwrap();
    for (decode, name) in [(Decode::Keep, "keep"), (Decode::Full, "full")] {
        let cfg = LatentConfig {
            decode,
            ..LatentConfig::pca(3)
        };
        let (fitted, _) = latent::fit(
            &source,
            &target,
            &cfg,
            &Method::MeanShift,
            &Heldout::None,
            None,
        )
        .unwrap();
        let model = format!("{name}.monge");
        save_model(&dir.join(&model), &fitted.map.to_saved()).unwrap();
        let out = format!("y-{name}.npy");
        let o = monge(
            &[
                "map", "--model", &model, "--input", "a.npy", "--output", &out,
            ],
            &dir,
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let y: Mat<f64> = read_matrix_as(&dir.join(&out)).unwrap();
        assert_eq!(y, fitted.map.transport(&source), "decode {name}");
        let o = monge(
            &[
                "eval", "--mapped", &out, "--target", "b.npy", "--source", "a.npy", "--json",
            ],
            &dir,
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    // a flipped byte inside the basis: the checksum catches it, exit 1 naming the file
    let mut bytes = std::fs::read(dir.join("keep.monge")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(dir.join("bad.monge"), &bytes).unwrap();
    let o = monge(
        &[
            "map",
            "--model",
            "bad.monge",
            "--input",
            "a.npy",
            "--output",
            "z.npy",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.monge"), "{}", stderr(&o));
    assert!(!Path::new(&dir.join("z.npy")).exists());
}

fn json_num(text: &str, key: &str) -> f64 {
    let i = text
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} in {text}"))
        + key.len()
        + 3;
    text[i..].split([',', '}']).next().unwrap().parse().unwrap()
}

#[test]
fn fit_latent_saves_the_basis_and_map_applies_it_with_the_orthogonal_part_kept() {
    let dir = scratch("latent-fit");
    let (source, target) = pair();
    write_matrix(&dir.join("a.npy"), &source).unwrap();
    write_matrix(&dir.join("b.npy"), &target).unwrap();
    let o = monge(
        &[
            "fit",
            "--method",
            "w2",
            "--latent",
            "pca:3",
            "--source",
            "a.npy",
            "--target",
            "b.npy",
            "--model",
            "m.monge",
            "--iters",
            "60",
            "--eval-every",
            "20",
            "--dtype",
            "f64",
            "--json",
            "--quiet",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = common::stdout(&o);
    assert!(out.contains("\"method\":\"latent\""), "{out}");
    assert!(
        out.contains("\"inner\":\"w2\"") && out.contains("\"decode\":\"keep\""),
        "{out}"
    );
    // SPEC §7.7 on 300 cells: 30 held out per side, so the PCA saw 2 × 270 training cells
    assert_eq!(json_num(&out, "pca_cells"), 540.0);
    let model = monge::io::load_model(&dir.join("m.monge")).unwrap();
    assert_eq!(model.method(), "latent");
    let monge::io::LoadedModel::F64(saved) = model else {
        panic!("f64 model")
    };
    let map = monge::ot::latent::LatentMap::<f64>::from_saved(&saved).unwrap();
    let o = monge(
        &[
            "map", "--model", "m.monge", "--input", "a.npy", "--output", "y.npy",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let y: Mat<f64> = read_matrix_as(&dir.join("y.npy")).unwrap();
    // T(x) − x lies in the span of the 3 saved axes (the default decode keeps the rest)
    let axes = map.basis().axes();
    for i in 0..source.rows() {
        let mut r: Vec<f64> = (0..12).map(|j| y.get(i, j) - source.get(i, j)).collect();
        for c in 0..3 {
            let p: f64 = axes.row(c).iter().zip(&r).map(|(a, b)| a * b).sum();
            r.iter_mut().zip(axes.row(c)).for_each(|(x, a)| *x -= p * a);
        }
        let n: f64 = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(n <= 1e-12, "cell {i}: {n:e} outside the latent space");
    }
}

#[test]
fn latent_options_are_checked() {
    let dir = scratch("latent-opts");
    let (source, target) = pair();
    write_matrix(&dir.join("a.npy"), &source).unwrap();
    write_matrix(&dir.join("b.npy"), &target).unwrap();
    let base = [
        "fit", "--source", "a.npy", "--target", "b.npy", "--model", "m.monge",
    ];
    for (extra, says) in [
        (
            &["--method", "w2", "--decode", "full"][..],
            "without --latent",
        ),
        (&["--method", "w2", "--latent", "pca:0"][..], "pca:K"),
        (&["--method", "w2", "--latent", "ica:3"][..], "pca:K"),
        (
            &[
                "--method",
                "mean-shift",
                "--latent",
                "pca:3",
                "--decode",
                "half",
            ][..],
            "keep or full",
        ),
        (
            &[
                "--method",
                "w2",
                "--latent",
                "pca:3",
                "--penalty",
                "l1",
                "--lambda",
                "1",
            ][..],
            "--penalty",
        ),
        (
            &["--method", "mean-shift", "--latent", "pca:13"][..],
            "1..=12",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let o = monge(&args, &dir);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
        assert!(!dir.join("m.monge").exists());
    }
}
