//! Issue 14, item 3 and the overflow part of 13: non-finite results are never written with exit 0; a
//! fit whose result overflows, or data whose scale will overflow training, says that the scale is the
//! likely cause.

mod common;
use common::*;
use monge::io::{save_model, write_matrix};
use monge::linalg::Mat;
use monge::ot::SavedModel;
use monge::Error;
use std::fs;

#[test]
fn map_refuses_to_write_an_overflowed_result_and_names_the_first_bad_row() {
    let dir = scratch("finite-map");
    let m = SavedModel::<f32> {
        method: "mean-shift".into(),
        dim: 2,
        hyper: vec![],
        tensors: vec![("shift".into(), vec![2], vec![3e38, 0.0])],
    };
    save_model(&dir.join("shift.monge"), &m).unwrap();
    fs::write(dir.join("x.csv"), "0,0\n1,1\n3e38,2\n-3e38,3\n").unwrap();
    for out in ["y.csv", "y.npy"] {
        let o = monge(
            &[
                "map",
                "--model",
                "shift.monge",
                "--input",
                "x.csv",
                "--output",
                out,
            ],
            &dir,
        );
        expect_fail(
            &o,
            1,
            &[out, "row 3", "column 1", "infinite", "nothing was written"],
        );
        assert!(!dir.join(out).exists());
    }
    assert_eq!(hidden_entries(&dir), Vec::<String>::new());
}

#[test]
fn write_matrix_checks_every_value_before_writing() {
    let dir = scratch("finite-write");
    let mut m = Mat::from_fn(4, 3, |i, j| (i * 3 + j) as f64);
    m.set(2, 1, f64::NAN);
    let p = dir.join("m.tsv");
    match write_matrix(&p, &m).unwrap_err() {
        Error::Data { row, col, msg, .. } => {
            assert_eq!((row, col), (Some(3), Some(2)));
            assert!(msg.contains("NaN"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!p.exists());
}

#[test]
fn an_overflowing_mean_shift_fit_blames_the_scale_not_the_save() {
    let dir = scratch("finite-shift");
    fs::write(dir.join("a.csv"), "-3e38,0\n-3e38,1\n").unwrap();
    fs::write(dir.join("b.csv"), "3e38,0\n3e38,1\n").unwrap();
    let o = run(
        "fit --method mean-shift --source a.csv --target b.csv --model m.monge",
        &dir,
    );
    expect_fail(&o, 1, &["overflows f32", "scale"]);
    assert!(!stderr(&o).contains("cannot save"), "{}", stderr(&o));
    assert!(!dir.join("m.monge").exists());
    // a Sinkhorn fit whose f32 dual potential overflows
    fs::write(dir.join("c.csv"), "1e19,0\n2e19,1\n3e19,2\n").unwrap();
    fs::write(dir.join("d.csv"), "-1e19,0\n-2e19,1\n-3e19,2\n").unwrap();
    let o = run(
        "fit --method sinkhorn --source c.csv --target d.csv --model s.monge",
        &dir,
    );
    expect_fail(
        &o,
        1,
        &[
            "not finite",
            "overflowed f32",
            "scale",
            "nothing was written",
        ],
    );
    assert!(!stderr(&o).contains("cannot save"), "{}", stderr(&o));
    assert!(!dir.join("s.monge").exists());
}

#[test]
fn training_on_data_at_1e30_warns_that_the_scale_will_overflow() {
    let dir = scratch("finite-scale");
    let rows = |s: f64| {
        (0..64)
            .map(|i| vec![s * (1.0 + i as f64 / 64.0), s])
            .collect::<Vec<_>>()
    };
    write_csv(&dir, "a.csv", &rows(1e30));
    write_csv(&dir, "b.csv", &rows(-1e30));
    let o = run(
        concat!(
            "fit --method w2 --iters 2 --batch 16 --source a.csv --target ",
            "b.csv --model m.monge --quiet"
        ),
        &dir,
    );
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("a.csv has values up to"), "{err}");
    assert!(
        err.contains("overflow f32") && err.contains("rescale"),
        "{err}"
    );
    // data at an ordinary scale: no warning
    write_csv(&dir, "c.csv", &rows(1.0));
    let o = run(
        "fit --method identity --source c.csv --target c.csv --model i.monge",
        &dir,
    );
    expect_ok(&o);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}
