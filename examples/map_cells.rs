//! Load a model and map new cells: `cargo run --release --example map_cells -- model.monge cells.npy out.npy`.
use monge::io::{load_model, read_matrix_as, write_matrix, LoadedModel};
use monge::ot::map_from_saved;
use std::path::Path;

fn main() -> monge::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, input, output] = &args[..] else {
        return Err(monge::Error::Usage(
            "usage: map_cells MODEL INPUT OUTPUT".into(),
        ));
    };
    // the model's own precision decides the arithmetic
    match load_model(Path::new(model))? {
        LoadedModel::F32(m) => {
            let map = map_from_saved(&m)?;
            let cells = read_matrix_as::<f32>(Path::new(input))?;
            write_matrix(Path::new(output), &map.transport(&cells))
        }
        LoadedModel::F64(m) => {
            let map = map_from_saved(&m)?;
            let cells = read_matrix_as::<f64>(Path::new(input))?;
            write_matrix(Path::new(output), &map.transport(&cells))
        }
    }
}
