//! Fit a W2 map on two arrays and save it: `cargo run --release --example fit_w2 [model.monge]`.
use monge::linalg::Mat;
use monge::ot::w2::W2Config;
use monge::{fit, Method};

fn main() -> monge::Result<()> {
    // two point clouds (in practice: `monge::io::read_matrix_as::<f32>(path)?` on .npy/.csv files)
    let x = Mat::<f32>::from_fn(500, 2, |i, j| ((i * 37 + j * 11) % 101) as f32 / 50.0 - 1.0);
    let y = Mat::from_fn(500, 2, |i, j| {
        1.5 * x.get((i * 7) % 500, j) + [3.0, -1.0][j]
    });
    let cfg = W2Config {
        iterations: 2000,
        eval_every: 100,
        ..W2Config::default()
    };
    let fitted = fit(&x, &y, &Method::W2(cfg), &Default::default(), None)?;
    println!(
        "{:?} after {} iterations; held-out {:?}",
        fitted.report.stopped, fitted.report.iterations, fitted.report.heldout
    );
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "model.monge".into());
    monge::io::save_model(std::path::Path::new(&path), &fitted.map.to_saved())
}
