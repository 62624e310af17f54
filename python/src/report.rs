//! The library's report value ([`monge::report::Value`], composed without the GIL) turned into Python
//! objects with it: dicts keep the insertion order, so a report lists its keys as `monge fit --json`
//! prints them; a non-finite number becomes None as it becomes null there; a count is an int.

use monge::report::Value;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The Python object: None, bool, int, float, str, list or dict.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Num(x) if !x.is_finite() => py.None().into_bound(py),
        Value::Num(x) => x.into_pyobject(py)?.into_any(),
        Value::Str(s) => s.into_pyobject(py)?.into_any(),
        Value::Arr(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Obj(kv) => {
            let d = PyDict::new(py);
            for (k, x) in kv {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}
