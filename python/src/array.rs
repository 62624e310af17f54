//! NumPy ↔ monge matrices.
//!
//! monge's solvers take an owned row-major [`Mat`]. An input array becomes one at the cost of exactly one
//! pass over its elements: a C-contiguous array of the requested precision is copied with one `memcpy`;
//! any other layout (Fortran order, strided views) or the other precision (f32 ↔ f64, `Real::from_f64`,
//! the conversion the CLI applies to a `.npy` file) is converted element by element in that same pass, so
//! NumPy never makes an intermediate copy. Outputs are moved into NumPy without a copy.

use monge::linalg::{Mat, Real};
use numpy::ndarray::{Array2, ArrayView2};
use numpy::{Element, IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Copies a 2-D view into a row-major `Mat<T>` (one pass).
fn view_to_mat<U, T>(v: ArrayView2<'_, U>) -> Mat<T>
where
    U: Real,
    T: Real,
{
    let (n, d) = v.dim();
    if let Some(s) = v.as_slice() {
        // C-contiguous: the same type is one memcpy, the other precision one converting pass
        let data: Vec<T> = if std::any::TypeId::of::<U>() == std::any::TypeId::of::<T>() {
            // safety: U and T are the same type (equal TypeIds), so the slice is a `&[T]`
            unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len()) }.to_vec()
        } else {
            s.iter().map(|&x| T::from_f64(x.to_f64())).collect()
        };
        Mat::from_vec(n, d, data).expect("shape matches the slice")
    } else {
        Mat::from_fn(n, d, |i, j| T::from_f64(v[[i, j]].to_f64()))
    }
}

fn typed<'py, U: Real + Element, T: Real>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Option<Mat<T>>> {
    match obj.extract::<PyReadonlyArray2<'py, U>>() {
        Ok(a) => {
            let m = view_to_mat::<U, T>(a.as_array());
            if m.rows() == 0 || m.cols() == 0 {
                return Err(PyValueError::new_err(format!(
                    "{name}: the data set is empty ({}×{})",
                    m.rows(),
                    m.cols()
                )));
            }
            Ok(Some(m))
        }
        Err(_) => Ok(None),
    }
}

/// Reads `obj` (a 2-D float32 or float64 NumPy array, any layout) as `Mat<T>`; `name` goes into errors.
/// The Python glue has already turned other array-likes and integer dtypes into one of the two.
pub fn to_mat<T: Real>(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Mat<T>> {
    if let Some(m) = typed::<f32, T>(obj, name)? {
        return Ok(m);
    }
    if let Some(m) = typed::<f64, T>(obj, name)? {
        return Ok(m);
    }
    let desc = match obj.getattr("ndim").and_then(|n| n.extract::<usize>()) {
        Ok(nd) if nd != 2 => format!("a {nd}-D array"),
        _ => match obj.getattr("dtype") {
            Ok(dt) => format!("an array of dtype {dt}"),
            Err(_) => format!("a {}", obj.get_type().name()?),
        },
    };
    Err(PyTypeError::new_err(format!(
        "{name}: expected a 2-D float32 or float64 array (samples × features), got {desc}"
    )))
}

/// Moves a `Mat<T>` into a new C-ordered NumPy array (no copy).
pub fn to_numpy<'py, T: Real + Element>(py: Python<'py>, m: Mat<T>) -> Bound<'py, PyArray2<T>> {
    let (n, d) = m.shape();
    Array2::from_shape_vec((n, d), m.into_vec())
        .expect("shape matches the buffer")
        .into_pyarray(py)
}
