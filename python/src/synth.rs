//! `monge.synth`: the generators of `monge synth`, with the CLI's seeds and streams (so the arrays equal
//! the files `monge synth` writes), as float64 arrays.

use crate::array::to_numpy;
use crate::to_py_err;
use monge::data::known_map::known_map_pair;
use monge::data::scrna::{synthetic_scrna, ScrnaConfig};
use monge::data::toys::Toy;
use monge::linalg::Mat;
use monge::random::{streams, Stream};
use numpy::PyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

type Pair<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);
type Triple<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
);

/// A 2-D toy pair (source, target), n points each.
#[pyfunction]
#[pyo3(signature = (dataset, n=1000, seed=0))]
pub fn toy<'py>(py: Python<'py>, dataset: &str, n: usize, seed: u64) -> PyResult<Pair<'py>> {
    let t = Toy::from_name(dataset).map_err(to_py_err)?;
    if n == 0 {
        return Err(PyValueError::new_err("n must be at least 1"));
    }
    let (x, y) = py.detach(|| {
        let x: Mat<f64> = t.sample_source(n, &mut Stream::new(seed, streams::DATA));
        let y: Mat<f64> = t.sample_target(n, &mut Stream::new(seed, streams::DATA_2));
        (x, y)
    });
    Ok((to_numpy(py, x), to_numpy(py, y)))
}

/// [C25]'s synthetic scRNA perturbation: (control, perturbed, counterfactual).
#[pyfunction]
#[pyo3(signature = (cells=2000, genes=3000, affected=100, noise_genes=2000, seed=0))]
pub fn scrna(
    py: Python<'_>,
    cells: usize,
    genes: usize,
    affected: usize,
    noise_genes: usize,
    seed: u64,
) -> PyResult<Triple<'_>> {
    let cfg = ScrnaConfig {
        cells,
        genes,
        affected,
        noise_genes,
        seed,
    };
    let data = py
        .detach(|| synthetic_scrna::<f64>(&cfg))
        .map_err(to_py_err)?;
    Ok((
        to_numpy(py, data.control),
        to_numpy(py, data.perturbed),
        to_numpy(py, data.counterfactual),
    ))
}

/// A pair with a known optimal map: (source, target, T*(source)).
#[pyfunction]
#[pyo3(signature = (n=1000, dim=2, components=3, seed=0))]
pub fn known_map(
    py: Python<'_>,
    n: usize,
    dim: usize,
    components: usize,
    seed: u64,
) -> PyResult<Triple<'_>> {
    let (s, t, m) = py
        .detach(|| -> monge::Result<_> {
            let pair = known_map_pair::<f64>(n, n, dim, components, seed)?;
            let m = pair.map.map(pair.source.view());
            Ok((pair.source, pair.target, m))
        })
        .map_err(to_py_err)?;
    Ok((to_numpy(py, s), to_numpy(py, t), to_numpy(py, m)))
}
