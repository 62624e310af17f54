//! `monge.evaluate`: the report of `monge eval` (SPEC §4), composed by the library
//! ([`monge::metrics::evaluation`], the same composition the CLI prints) and returned as a dict with
//! its JSON keys. This file only converts the arrays and the options.

use crate::array::to_mat;
use crate::to_py_err;
use monge::linalg::Mat;
use monge::metrics::evaluation::{self, EvalOptions, EvalSets, Named, DEFAULT_MAX_CELLS};
use pyo3::prelude::*;

/// An optional array as a named f64 set.
fn named(a: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Named>> {
    a.map(|a| Ok(Named::new(to_mat::<f64>(a, name)?, name)))
        .transpose()
}

/// Every metric of `monge eval` between `mapped` and `target` (dict with its JSON keys).
#[pyfunction]
#[pyo3(signature = (source, mapped, target, features=None, threshold=1.0, true_mapped=None, projections=200, seed=0, max_cells=DEFAULT_MAX_CELLS, top_genes=None, baselines=false, heldout_target=None, var_names=None))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate<'py>(
    py: Python<'py>,
    source: Option<&Bound<'py, PyAny>>,
    mapped: &Bound<'py, PyAny>,
    target: &Bound<'py, PyAny>,
    features: Option<Vec<usize>>,
    threshold: f64,
    true_mapped: Option<&Bound<'py, PyAny>>,
    projections: usize,
    seed: u64,
    max_cells: usize,
    top_genes: Option<usize>,
    baselines: bool,
    heldout_target: Option<&Bound<'py, PyAny>>,
    var_names: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = EvalOptions {
        features,
        top_genes,
        baselines,
        threshold,
        projections,
        seed,
        max_cells,
    };
    opts.validate(source.is_some(), &|o| o.replace('-', "_"))
        .map_err(to_py_err)?;
    let mapped: Mat<f64> = to_mat(mapped, "mapped")?;
    let sets = EvalSets {
        mapped: Named::new(mapped, "mapped"),
        target: Named::new(to_mat(target, "target")?, "target"),
        source: named(source, "source")?,
        true_mapped: named(true_mapped, "true_mapped")?,
        heldout_target: named(heldout_target, "heldout_target")?,
        var_names,
    };
    let out = py.detach(|| evaluation::evaluate(sets, &opts));
    crate::report::to_py(py, &out.map_err(to_py_err)?)
}
