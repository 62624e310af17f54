//! `monge._monge`: the native half of the `monge` Python package (PyO3). The pure-Python half
//! (`python/monge/`) turns array-likes into NumPy arrays, spells the options as the CLI does and adds
//! the AnnData glue; everything numerical happens here, in the same Rust kernels as the `monge` binary.
//!
//! - [`fitting`]: the options dict → the library's options reader → the fit (the only file that calls
//!   monge's fitting API);
//! - [`array`]: NumPy ↔ `Mat` in one pass;
//! - [`eval`]: the metrics of `monge eval`;
//! - [`synth`]: the generators of `monge synth`;
//! - [`report`]: JSON-shaped values turned into Python dicts.
//!
//! Training runs with the GIL released. Its progress reports (every `progress_every` iterations of the
//! solver) re-acquire the GIL, run Python's signal handlers (`py.check_signals()`, so Ctrl-C raises
//! `KeyboardInterrupt`) and call the user's callback; an exception there, or the callback returning
//! True, asks the solver to stop (`ControlFlow::Break`) at that iteration boundary. The exception is
//! then re-raised; a clean stop returns the best model so far with `stopped = "interrupted"`.

mod array;
mod eval;
mod fitting;
mod report;
mod synth;

use monge::io::LoadedModel;
use monge::linalg::{Mat, Real};
use monge::ot::{map_from_saved, Progress, SavedModel};
use monge::parallel::Pool;
use numpy::Element;
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyNotImplementedError, PyOSError, PyPermissionError, PyRuntimeError,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

create_exception!(
    _monge,
    DivergedError,
    PyRuntimeError,
    "Training produced a non-finite loss or gradient."
);

/// monge's typed error as the Python exception a user expects, with monge's message (which names the
/// file, row, column or option).
pub(crate) fn to_py_err(e: monge::Error) -> PyErr {
    use monge::Error as E;
    let msg = e.to_string();
    match &e {
        E::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        E::Diverged { .. } => DivergedError::new_err(msg),
        E::NotAvailable(_) => PyNotImplementedError::new_err(msg),
        E::Data { .. } | E::Model { .. } | E::Shape(_) | E::Usage(_) => PyValueError::new_err(msg),
    }
}

/// A model's content in its stored precision (the same content as a model file).
#[derive(Clone)]
enum Saved {
    F32(SavedModel<f32>),
    F64(SavedModel<f64>),
}

trait Typed: Real + Element {
    fn wrap(m: SavedModel<Self>) -> Saved;
}
impl Typed for f32 {
    fn wrap(m: SavedModel<f32>) -> Saved {
        Saved::F32(m)
    }
}
impl Typed for f64 {
    fn wrap(m: SavedModel<f64>) -> Saved {
        Saved::F64(m)
    }
}

/// A fitted or loaded map (the Python `monge.Model` wraps it).
#[pyclass(module = "monge._monge", name = "RawModel", frozen)]
struct RawModel {
    saved: Saved,
    report: Option<Py<PyAny>>,
    /// The worker pool of the last `transport`, kept for the next one with the same thread count:
    /// starting a pool costs a thread spawn per helper (measured 0.5 ms per call at 2 threads, 18× the
    /// whole 10-row map at 1 thread). Locked only while the GIL is released.
    pool: Mutex<Option<Pool>>,
}

fn transport_typed<'py, T: Typed>(
    py: Python<'py>,
    m: &SavedModel<T>,
    pool: &Mutex<Option<Pool>>,
    x: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let x: Mat<T> = array::to_mat(x, "x")?;
    if x.cols() != m.dim {
        return Err(PyValueError::new_err(format!(
            "x has {} features but the model maps {} (a {} model)",
            x.cols(),
            m.dim,
            m.method
        )));
    }
    let out = py.detach(|| -> monge::Result<Mat<T>> {
        let map = map_from_saved(m)?;
        // a poisoned lock only means an earlier call panicked; the pool itself is still whole
        let mut slot = pool.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|p| p.threads() != threads) {
            *slot = None;
        }
        let pool = slot.get_or_insert_with(|| Pool::new(threads));
        Ok(map.transport_on(&x, pool))
    });
    Ok(array::to_numpy(py, out.map_err(to_py_err)?).into_any())
}

#[pymethods]
impl RawModel {
    /// `"w2"`, `"w1"`, `"sinkhorn"`, `"mean-shift"` or `"identity"`.
    #[getter]
    fn method(&self) -> &str {
        match &self.saved {
            Saved::F32(m) => &m.method,
            Saved::F64(m) => &m.method,
        }
    }
    /// Input (and output) dimension.
    #[getter]
    fn dim(&self) -> usize {
        match &self.saved {
            Saved::F32(m) => m.dim,
            Saved::F64(m) => m.dim,
        }
    }
    /// `"f32"` or `"f64"`: the precision the model was trained and is stored in.
    #[getter]
    fn dtype(&self) -> &'static str {
        match &self.saved {
            Saved::F32(_) => "f32",
            Saved::F64(_) => "f64",
        }
    }
    /// The fit's report (the keys of `monge fit --json`), or None for a loaded model.
    #[getter]
    fn report(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.report.as_ref().map(|r| r.clone_ref(py))
    }
    /// T applied to every row of `x` (a 2-D float32/float64 array), in the model's precision, on
    /// `threads` workers (the result does not depend on it; `monge map --threads`).
    #[pyo3(signature = (x, threads = None))]
    fn transport<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let threads = match threads {
            Some(0) => return Err(PyValueError::new_err("threads must be at least 1")),
            Some(n) => n,
            None => fitting::default_threads(),
        };
        match &self.saved {
            Saved::F32(m) => transport_typed(py, m, &self.pool, x, threads),
            Saved::F64(m) => transport_typed(py, m, &self.pool, x, threads),
        }
    }
    /// Writes the model file (the CLI's format, atomically).
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let res = py.detach(|| match &self.saved {
            Saved::F32(m) => monge::io::save_model(&path, m),
            Saved::F64(m) => monge::io::save_model(&path, m),
        });
        res.map_err(to_py_err)
    }
}

/// Reads a model file written by `monge fit` or `Model.save`.
#[pyfunction]
fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<RawModel> {
    let loaded = py
        .detach(|| monge::io::load_model(Path::new(&path)))
        .map_err(to_py_err)?;
    let saved = match loaded {
        LoadedModel::F32(m) => Saved::F32(m),
        LoadedModel::F64(m) => Saved::F64(m),
    };
    Ok(RawModel {
        saved,
        report: None,
        pool: Mutex::new(None),
    })
}

fn progress_dict<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("phase", p.phase)?;
    d.set_item("iteration", p.iteration)?;
    d.set_item("total", p.total)?;
    let losses = PyDict::new(py);
    for (k, v) in &p.losses {
        losses.set_item(*k, *v)?;
    }
    d.set_item("losses", losses)?;
    d.set_item("lambda", p.lambda)?;
    d.set_item("criterion", p.criterion)?;
    d.set_item("heldout", p.heldout)?;
    d.set_item("heldout_best", p.heldout_best)?;
    Ok(d)
}

fn raw_model<T: Typed>(
    py: Python<'_>,
    saved: SavedModel<T>,
    report: Option<&monge::report::Value>,
) -> PyResult<RawModel> {
    Ok(RawModel {
        saved: T::wrap(saved),
        report: report
            .map(|r| report::to_py(py, r).map(Bound::unbind))
            .transpose()?,
        pool: Mutex::new(None),
    })
}

#[allow(clippy::too_many_arguments)]
fn fit_typed<T: Typed>(
    py: Python<'_>,
    resolved: &monge::ot::options::FitOptions,
    source: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    heldout_source: Option<&Bound<'_, PyAny>>,
    heldout_target: Option<&Bound<'_, PyAny>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<RawModel> {
    let x: Mat<T> = array::to_mat(source, "source")?;
    let y: Mat<T> = array::to_mat(target, "target")?;
    let heldout = match (heldout_source, heldout_target) {
        (Some(s), Some(t)) => {
            let hs: Mat<T> = array::to_mat(s, "heldout_source")?;
            let ht: Mat<T> = array::to_mat(t, "heldout_target")?;
            Some((hs, ht))
        }
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "heldout_source and heldout_target go together: give both or neither",
            ))
        }
    };
    let t0 = Instant::now();
    // the Python exception (KeyboardInterrupt from Ctrl-C, or the callback's own) that stopped training
    let mut raised: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut on_progress = |p: &Progress| -> ControlFlow<()> {
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    raised = Some(e);
                    return ControlFlow::Break(());
                }
                let Some(cb) = progress.as_ref() else {
                    return ControlFlow::Continue(());
                };
                match progress_dict(py, p).and_then(|d| cb.call1(py, (d,))) {
                    Err(e) => {
                        raised = Some(e);
                        ControlFlow::Break(())
                    }
                    // a callback returning True asks for a clean stop (the best model so far is returned)
                    Ok(v) if v.bind(py).is_truthy().unwrap_or(false) => ControlFlow::Break(()),
                    Ok(_) => ControlFlow::Continue(()),
                }
            })
        };
        fitting::run::<T>(resolved, &x, &y, heldout, &mut on_progress)
    });
    if let Some(e) = raised {
        return Err(e);
    }
    let out = result.map_err(to_py_err)?;
    let rep = out
        .report
        .with("model", monge::report::Value::Null)
        .with("dtype", T::NAME)
        .with("seconds", t0.elapsed().as_secs_f64());
    if let Some(e) = out.error {
        // a divergence: the best model before it (if any) rides on the exception as `.model`
        let err = to_py_err(e);
        if let Some(saved) = out.saved {
            let m = Py::new(py, raw_model(py, saved, Some(&rep))?)?;
            err.value(py).setattr("model", m)?;
        }
        return Err(err);
    }
    let saved = out
        .saved
        .ok_or_else(|| PyRuntimeError::new_err("the fit returned no model"))?;
    raw_model(py, saved, Some(&rep))
}

/// Fits a map from `source` to `target` (2-D float32/float64 arrays) with `options` under the CLI's
/// names; `progress(dict)` is called at the solver's progress interval (returning True stops the fit).
#[pyfunction]
#[pyo3(signature = (source, target, method, options, progress=None, heldout_source=None, heldout_target=None))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    method: &str,
    options: &Bound<'_, PyDict>,
    progress: Option<Py<PyAny>>,
    heldout_source: Option<&Bound<'_, PyAny>>,
    heldout_target: Option<&Bound<'_, PyAny>>,
) -> PyResult<RawModel> {
    let resolved = fitting::resolve(method, options)?;
    let typed = match fitting::dtype_name(&resolved) {
        "f32" => fit_typed::<f32>,
        _ => fit_typed::<f64>,
    };
    typed(
        py,
        &resolved,
        source,
        target,
        heldout_source,
        heldout_target,
        progress,
    )
}

/// The CLI's default thread count.
#[pyfunction]
fn default_threads() -> usize {
    fitting::default_threads()
}

#[pymodule]
fn _monge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DivergedError", m.py().get_type::<DivergedError>())?;
    m.add_class::<RawModel>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(eval::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(synth::toy, m)?)?;
    m.add_function(wrap_pyfunction!(synth::scrna, m)?)?;
    m.add_function(wrap_pyfunction!(synth::known_map, m)?)?;
    Ok(())
}
