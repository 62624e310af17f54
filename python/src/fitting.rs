//! The one file that calls monge's fitting API: the options dict as an [`OptionSource`], the fit
//! through the front door [`monge::fit`], and its report.
//!
//! Options arrive under the names of `monge fit` (`iters`, `batch`, `penalty`, `lambda`, `sigma`,
//! `max-dim`, `patience`, `criterion`, …; the Python glue turns `max_dim` / `lambda_` into them) and
//! become a [`Method`] in the library ([`monge::ot::options`]), the same reader `monge fit` uses, so
//! one seed gives the CLI's model bit for bit (`tests/test_cli_parity.py`). Messages spell the options
//! as Python does (`max_dim`, `penalty='l1'`); a wrong type is a `TypeError`, a wrong value a
//! `ValueError`, an option the method does not read a `TypeError` listing the ones it does.

use monge::linalg::{Mat, Real};
use monge::ot::fit::report;
use monge::ot::options::{self, or_list, Dtype, FitOptions, HeldoutChoice, OptionSource};
use monge::ot::train::{Control, Heldout, Stopped};
use monge::ot::SavedModel;
use monge::report::Value;
use monge::{Error, Method, Result};
use pyo3::exceptions::{PyRuntimeWarning, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

pub use monge::ot::options::default_threads;

/// An option's Python spelling: `max_dim`, `lambda_`.
fn py_name(cli: &str) -> String {
    match cli {
        "lambda" => "lambda_".into(),
        other => other.replace('-', "_"),
    }
}

/// The options dict as a source of `monge fit`'s options: typed look-ups by CLI name, every key
/// accounted for. A Python exception raised by a look-up is kept in `raised` (the library sees a
/// placeholder error and stops).
struct DictSource<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
    /// The method, as `fit(method=…)` gave it.
    method: String,
    /// The names looked up (the method's options, for the unknown-option message).
    read: Vec<String>,
    raised: Option<PyErr>,
}

impl<'py> DictSource<'_, 'py> {
    fn raise<V>(&mut self, e: PyErr) -> Result<V> {
        self.raised = Some(e);
        Err(Error::Usage(String::new()))
    }
    fn raw(&mut self, name: &str) -> Result<Option<Bound<'py, PyAny>>> {
        // the held-out sets come as arrays, not as file names
        if name == "heldout-source" || name == "heldout-target" {
            return Ok(None);
        }
        if !self.read.iter().any(|r| r == name) {
            self.read.push(name.to_string());
        }
        match self.dict.get_item(name) {
            Ok(Some(v)) if v.is_none() => Ok(None),
            Ok(v) => Ok(v),
            Err(e) => self.raise(e),
        }
    }
    fn type_err<V>(&mut self, name: &str, want: &str, v: &Bound<'py, PyAny>) -> Result<V> {
        let got = v
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        let e = PyTypeError::new_err(format!(
            "option {}: expected {want}, got {got} {}",
            py_name(name),
            v.repr().map(|r| r.to_string()).unwrap_or_default()
        ));
        self.raise(e)
    }
}

impl OptionSource for DictSource<'_, '_> {
    fn given(&self, name: &str) -> bool {
        matches!(self.dict.get_item(name), Ok(Some(v)) if !v.is_none())
    }
    fn flag(&mut self, name: &str) -> Result<bool> {
        let Some(v) = self.raw(name)? else {
            return Ok(false);
        };
        if !v.is_instance_of::<PyBool>() {
            return self.type_err(name, "True or False", &v);
        }
        Ok(v.is_truthy().unwrap_or(false))
    }
    fn text(&mut self, name: &str) -> Result<Option<String>> {
        if name == "method" {
            return Ok(Some(match self.method.as_str() {
                "mean_shift" => "mean-shift".to_string(),
                m => m.to_string(),
            }));
        }
        let Some(v) = self.raw(name)? else {
            return Ok(None);
        };
        if !v.is_instance_of::<PyString>() {
            return self.type_err(name, "a string", &v);
        }
        let s = v.to_string();
        // NumPy's names of the two precisions
        Ok(Some(match (name, s.as_str()) {
            ("dtype", "float32") => "f32".into(),
            ("dtype", "float64") => "f64".into(),
            _ => s,
        }))
    }
    fn count(&mut self, name: &str) -> Result<Option<u64>> {
        let Some(v) = self.raw(name)? else {
            return Ok(None);
        };
        if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
            return self.type_err(name, "a non-negative integer", &v);
        }
        match v.extract::<u64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) => {
                let e = PyValueError::new_err(format!(
                    "option {}: must be a non-negative integer, got {v}",
                    py_name(name)
                ));
                self.raise(e)
            }
        }
    }
    fn real(&mut self, name: &str) -> Result<Option<f64>> {
        let Some(v) = self.raw(name)? else {
            return Ok(None);
        };
        if !(v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>())
            || v.is_instance_of::<PyBool>()
        {
            return self.type_err(name, "a number", &v);
        }
        match v.extract::<f64>() {
            Ok(x) => Ok(Some(x)),
            Err(e) => self.raise(e),
        }
    }
    fn finish(&mut self) -> Result<()> {
        for k in self.dict.keys() {
            let k = k.to_string();
            if !self.read.contains(&k) {
                let mut known: Vec<String> = self.read.iter().map(|s| py_name(s)).collect();
                known.sort();
                known.dedup();
                let e = PyTypeError::new_err(format!(
                    "fit() got an unknown option '{}' for method '{}' (its options: {})",
                    py_name(&k),
                    self.method,
                    known.join(", ")
                ));
                return self.raise(e);
            }
        }
        Ok(())
    }
    fn warn(&mut self, message: &str) {
        let py = self.dict.py();
        let msg = std::ffi::CString::new(message).unwrap_or_default();
        if let Err(e) = PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &msg, 1) {
            self.raised.get_or_insert(e);
        }
    }
    fn spell(&self, name: &str) -> String {
        py_name(name)
    }
    fn spell_value(&self, name: &str, value: &str) -> String {
        if value.parse::<f64>().is_ok() {
            format!("{}={value}", py_name(name))
        } else {
            format!("{}='{value}'", py_name(name))
        }
    }
    fn spell_values(&self, name: &str, values: &[&str]) -> String {
        format!(
            "{}={}",
            py_name(name),
            or_list(values, |v| format!("'{v}'"))
        )
    }
    fn spell_flag(&self, name: &str) -> String {
        format!("{}=True", py_name(name))
    }
}

/// Resolves `method` and the options dict into [`FitOptions`], with `monge fit`'s defaults and checks.
pub fn resolve(method: &str, dict: &Bound<'_, PyDict>) -> PyResult<FitOptions> {
    let mut src = DictSource {
        dict,
        method: method.to_string(),
        read: Vec::new(),
        raised: None,
    };
    let resolved = options::read_common(&mut src)
        .and_then(|c| options::resolve(c, &mut src))
        .and_then(|o| {
            // checked here, before the arrays are converted (the CLI's trainer checks it after reading)
            match &o.method {
                Method::W2(cfg) => cfg.validate()?,
                Method::W2Schedule(s) => s.w2.validate()?,
                _ => {}
            }
            Ok(o)
        });
    match (src.raised.take(), resolved) {
        (Some(e), _) => Err(e),
        (None, r) => r.map_err(crate::to_py_err),
    }
}

/// The precision of a resolved fit: `"f32"` or `"f64"`.
pub fn dtype_name(o: &FitOptions) -> &'static str {
    match o.dtype {
        Dtype::F32 => "f32",
        Dtype::F64 => "f64",
    }
}

/// What a fit hands back.
pub struct Outcome<T> {
    /// The model (the best so far after a divergence; None when a divergence left none).
    pub saved: Option<SavedModel<T>>,
    /// The report with `monge fit --json`'s keys (without `model`, `dtype`, `seconds`).
    pub report: Value,
    /// The divergence that ended training, if any.
    pub error: Option<Error>,
}

/// Runs the fit (no GIL needed). `heldout` = the caller's own held-out sets, if any.
pub fn run<T: Real>(
    r: &FitOptions,
    x: &Mat<T>,
    y: &Mat<T>,
    heldout: Option<(Mat<T>, Mat<T>)>,
    progress: Control<'_>,
) -> Result<Outcome<T>> {
    if x.cols() != y.cols() {
        return Err(Error::Shape(format!(
            "source has {} features but target has {}",
            x.cols(),
            y.cols()
        )));
    }
    let heldout = match (heldout, &r.common.heldout) {
        (Some((hs, ht)), _) => Heldout::Given(hs, ht),
        (None, HeldoutChoice::Fraction(f)) if *f > 0.0 => Heldout::Fraction(*f),
        _ => Heldout::None,
    };
    let mut out = report::head(r.method.name(), x.rows(), y.rows(), x.cols());
    report::cost_keys(&mut out, &r.method);
    let fitted = match monge::fit(x, y, &r.method, &heldout, Some(progress)) {
        Ok(f) => f,
        // a divergence under a λ schedule: no model is kept across λ
        Err(e @ Error::Diverged { .. }) if matches!(r.method, Method::W2Schedule(_)) => {
            report::close(&mut out, Some(Stopped::Diverged), None);
            return Ok(Outcome {
                saved: None,
                report: out,
                error: Some(e),
            });
        }
        Err(e) => return Err(e),
    };
    let rep = fitted.report;
    report::method_keys(&mut out, &r.method, &rep);
    report::close(&mut out, rep.stopped, rep.heldout.as_ref());
    Ok(Outcome {
        saved: Some(fitted.map.to_saved()),
        report: out,
        error: rep.divergence,
    })
}
