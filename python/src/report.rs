//! A JSON-shaped value built without the GIL and turned into Python objects with it (dicts keep the
//! insertion order, so a report lists its keys as `monge fit --json` prints them; non-finite numbers
//! become None as they become null there).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// A JSON-like value.
#[derive(Clone, Debug)]
pub enum Val {
    Null,
    Bool(bool),
    Int(u64),
    Num(f64),
    Str(String),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
}

impl Val {
    /// An empty object.
    pub fn obj() -> Val {
        Val::Obj(Vec::new())
    }
    /// This object with `key` set to `v` (replacing an earlier value).
    pub fn with(mut self, key: &str, v: impl Into<Val>) -> Val {
        if let Val::Obj(kv) = &mut self {
            let v = v.into();
            match kv.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = v,
                None => kv.push((key.to_string(), v)),
            }
        }
        self
    }
    /// The Python object: None, bool, int, float, str, list or dict.
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Val::Null => py.None().into_bound(py),
            Val::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            Val::Int(i) => i.into_pyobject(py)?.into_any(),
            // as `monge fit --json` writes them: a non-finite number is null
            Val::Num(x) if !x.is_finite() => py.None().into_bound(py),
            Val::Num(x) => x.into_pyobject(py)?.into_any(),
            Val::Str(s) => s.into_pyobject(py)?.into_any(),
            Val::Arr(a) => {
                let l = PyList::empty(py);
                for v in a {
                    l.append(v.to_py(py)?)?;
                }
                l.into_any()
            }
            Val::Obj(kv) => {
                let d = PyDict::new(py);
                for (k, v) in kv {
                    d.set_item(k, v.to_py(py)?)?;
                }
                d.into_any()
            }
        })
    }
}

impl From<bool> for Val {
    fn from(b: bool) -> Val {
        Val::Bool(b)
    }
}
impl From<usize> for Val {
    fn from(i: usize) -> Val {
        Val::Int(i as u64)
    }
}
impl From<f64> for Val {
    fn from(x: f64) -> Val {
        Val::Num(x)
    }
}
impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Str(s.to_string())
    }
}
impl<V: Into<Val>> From<Option<V>> for Val {
    fn from(o: Option<V>) -> Val {
        o.map_or(Val::Null, Into::into)
    }
}
