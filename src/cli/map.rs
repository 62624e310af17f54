//! `monge map`: apply a saved model to a data file.

use super::args::Args;
use super::common::{check_paths, load};
use super::fit::default_threads;
use monge::io::LoadedModel;
use monge::linalg::Real;
use monge::ot::{map_from_saved, SavedModel};
use monge::parallel::Pool;
use monge::{Error, Result};
use std::path::Path;

/// Help text of `monge map`.
pub const HELP: &str = "\
monge map — apply a saved model

USAGE:
    monge map --model M --input X --output Y [--threads N]

OPTIONS:
    --threads N    worker threads (default: the machine's cores, at most 2); the output has the same
                   bits on any number

The input is read in the model's precision; the output (.npy, .csv or .tsv by extension) is written
atomically, one mapped sample per row, in the input's row order. A latent model (fit --latent) holds
its PCA basis: the input is in gene space, projected, mapped and decoded in one step.";

/// Runs `monge map`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    let model: String = a.required("model")?;
    let input: String = a.required("input")?;
    let output: String = a.required("output")?;
    let threads = a.threads(default_threads())?;
    a.finish()?;
    // check the output's extension and path before any work
    monge::io::MatrixFormat::from_path(Path::new(&output))?;
    check_paths(
        &[("model", &model), ("input", &input)],
        &[("output", &output)],
    )?;
    match monge::io::load_model(Path::new(&model))? {
        LoadedModel::F32(m) => map_typed::<f32>(&model, &m, &input, &output, threads),
        LoadedModel::F64(m) => map_typed::<f64>(&model, &m, &input, &output, threads),
    }
}

fn map_typed<T: Real>(
    model_path: &str,
    m: &SavedModel<T>,
    input: &str,
    output: &str,
    threads: usize,
) -> Result<()> {
    let map = map_from_saved(m).map_err(|e| match e {
        Error::Model { msg, .. } => Error::Model {
            file: model_path.to_string(),
            msg,
        },
        other => other,
    })?;
    let x = load::<T>(input)?;
    if x.cols() != map.dim() {
        return Err(Error::Shape(format!(
            "{input} has {} features but the model {model_path} maps {}",
            x.cols(),
            map.dim()
        )));
    }
    let mut pool = Pool::new(threads);
    let y = map.transport_on(&x, &mut pool);
    monge::io::write_matrix(Path::new(output), &y)?;
    // the workers that really ran (the pool counts the jobs its helper threads took)
    let used = if pool.jobs() > 0 { pool.threads() } else { 1 };
    let s = if used == 1 { "" } else { "s" };
    say!(
        "wrote {output} ({}×{}, mapped on {used} thread{s})",
        y.rows(),
        y.cols()
    );
    Ok(())
}
