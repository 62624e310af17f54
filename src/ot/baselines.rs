//! Baseline maps (SPEC §3.5): the identity, and the scGen-style mean shift
//! `T(x) = x + mean(ν) − mean(μ)` (means over the training samples, computed in f64).
//!
//! Saved form: method `"identity"` (no tensors) or `"mean-shift"` (tensor `shift`, shape `[d]`).

use crate::linalg::{Mat, MatRef, Real};
use crate::ot::{map_rows, SavedModel, TransportMap};
use crate::parallel::Pool;
use crate::{Error, Result};

/// T(x) = x.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    dim: usize,
}

impl Identity {
    /// The identity on ℝᵈ.
    pub fn new(dim: usize) -> Self {
        Identity { dim }
    }

    /// Rebuilds from a saved model (method `"identity"`).
    pub fn from_saved<T: Real>(saved: &SavedModel<T>) -> Result<Self> {
        expect_method(saved, "identity")?;
        if saved.dim == 0 {
            return Err(SavedModel::<T>::fail("dimension 0"));
        }
        saved.tensor_index()?.finish()?;
        Ok(Identity { dim: saved.dim })
    }
}

impl<T: Real> TransportMap<T> for Identity {
    fn dim(&self) -> usize {
        self.dim
    }
    /// A copy of `x`, on the caller (there is nothing to compute).
    fn transport_on(&self, x: &Mat<T>, _pool: &mut Pool) -> Mat<T> {
        assert_eq!(x.cols(), self.dim, "identity map: input width");
        x.clone()
    }
    fn to_saved(&self) -> SavedModel<T> {
        SavedModel {
            method: "identity".into(),
            dim: self.dim,
            hyper: vec![],
            tensors: vec![],
        }
    }
}

/// T(x) = x + s with s = mean(ν) − mean(μ).
#[derive(Clone, Debug, PartialEq)]
pub struct MeanShift<T> {
    shift: Vec<T>,
}

impl<T: Real> MeanShift<T> {
    /// Fits `s = mean(target) − mean(source)` (f64 sums). Errors if a sample is empty or the widths differ.
    pub fn fit(source: MatRef<'_, T>, target: MatRef<'_, T>) -> Result<Self> {
        if source.rows() == 0 || target.rows() == 0 {
            return Err(Error::Shape("mean shift needs non-empty samples".into()));
        }
        if source.cols() != target.cols() {
            return Err(Error::Shape(format!(
                "mean shift: source has {} features, target {}",
                source.cols(),
                target.cols()
            )));
        }
        let (ms, mt) = (col_means_f64(source), col_means_f64(target));
        let shift: Vec<T> = ms
            .iter()
            .zip(&mt)
            .map(|(a, b)| T::from_f64(b - a))
            .collect();
        if let Some(j) = shift.iter().position(|s| !s.is_finite()) {
            return Err(Error::data(
                "the mean shift",
                None,
                Some(j + 1),
                format!(
                    "mean(target) − mean(source) = {:e} overflows {} (the data's scale is the likely \
                     cause: rescale it or use --dtype f64)",
                    mt[j] - ms[j],
                    T::NAME
                ),
            ));
        }
        Ok(MeanShift { shift })
    }

    /// The shift vector s.
    pub fn shift(&self) -> &[T] {
        &self.shift
    }

    /// Rebuilds from a saved model (method `"mean-shift"`, tensor `shift` of shape `[dim]`).
    pub fn from_saved(saved: &SavedModel<T>) -> Result<Self> {
        expect_method(saved, "mean-shift")?;
        if saved.dim == 0 {
            return Err(SavedModel::<T>::fail("dimension 0"));
        }
        let mut index = saved.tensor_index()?;
        let values = index.shaped("shift", &[saved.dim])?;
        index.finish()?;
        Ok(MeanShift {
            shift: values.to_vec(),
        })
    }
}

impl<T: Real> TransportMap<T> for MeanShift<T> {
    fn dim(&self) -> usize {
        self.shift.len()
    }
    fn transport_on(&self, x: &Mat<T>, pool: &mut Pool) -> Mat<T> {
        assert_eq!(x.cols(), self.shift.len(), "mean-shift map: input width");
        map_rows(
            x,
            pool,
            x.rows(),
            |_| (),
            |_, xr, out| {
                for (i, row) in out.chunks_exact_mut(self.shift.len()).enumerate() {
                    for ((v, &xv), s) in row.iter_mut().zip(xr.row(i)).zip(&self.shift) {
                        *v = xv + *s;
                    }
                }
            },
        )
    }
    fn to_saved(&self) -> SavedModel<T> {
        SavedModel {
            method: "mean-shift".into(),
            dim: self.shift.len(),
            hyper: vec![],
            tensors: vec![("shift".into(), vec![self.shift.len()], self.shift.clone())],
        }
    }
}

fn col_means_f64<T: Real>(x: MatRef<'_, T>) -> Vec<f64> {
    let mut m = vec![0.0f64; x.cols()];
    for i in 0..x.rows() {
        for (a, v) in m.iter_mut().zip(x.row(i)) {
            *a += v.to_f64();
        }
    }
    m.iter_mut().for_each(|a| *a /= x.rows() as f64);
    m
}

pub(crate) fn expect_method<T>(saved: &SavedModel<T>, method: &str) -> Result<()> {
    if saved.method == method {
        Ok(())
    } else {
        Err(Error::Model {
            file: String::new(),
            msg: format!("expected a '{method}' model, found '{}'", saved.method),
        })
    }
}
