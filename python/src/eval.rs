//! `monge.evaluate`: the metrics of `monge eval` (SPEC §4) with its keys, computed in f64 as the CLI
//! reads its files. Mirrors `src/cli/eval.rs` (which lives in the binary): the distribution metrics on
//! all features and on a feature subset (the MMD on at most `max_cells` rows of each set, a seeded
//! subsample), exact W2² up to 2000 rows (the larger set subsampled, seeded),
//! the displacement dimensionality when the source is given, L2-UVP when the true map is.

use crate::array::to_mat;
use crate::to_py_err;
use monge::linalg::{Mat, MatRef};
use monge::metrics;
use monge::random::{streams, Stream};
use monge::report::Value as Val;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The CLI's default `--max-cells`: the rows of each set the MMD is computed on.
pub const DEFAULT_MAX_CELLS: usize = 5000;

/// Rows of a uniform subsample of size `cap` of `n` rows, kept in order (None when `n ≤ cap`).
fn subsample_rows(n: usize, cap: usize, rng: &mut Stream) -> Option<Vec<usize>> {
    if n <= cap {
        return None;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    idx.truncate(cap);
    idx.sort_unstable();
    Some(idx)
}

type Rows = (Option<Vec<usize>>, Option<Vec<usize>>);

fn mmd_on(pred: &Mat<f64>, target: &Mat<f64>, rows: &Rows) -> f64 {
    let p = rows.0.as_ref().map(|r| pred.select_rows(r));
    let t = rows.1.as_ref().map(|r| target.select_rows(r));
    metrics::mmd(
        p.as_ref().unwrap_or(pred).view(),
        t.as_ref().unwrap_or(target).view(),
        &metrics::mmd_gammas_eval(),
    )
}

fn distribution_metrics(
    pred: &Mat<f64>,
    target: &Mat<f64>,
    source: Option<&Mat<f64>>,
    k: usize,
    seed: u64,
    mmd_rows: &Rows,
) -> Val {
    let mut rng = Stream::new(seed, streams::PROJECTIONS);
    // with the source: do the predicted mean changes follow the observed ones across features
    let delta = source.map(|s| {
        (
            metrics::r2_delta(s.view(), pred.view(), target.view()),
            metrics::pearson_delta(s.view(), pred.view(), target.view()),
        )
    });
    Val::obj()
        .with("mmd", mmd_on(pred, target, mmd_rows))
        .with(
            "sw2",
            metrics::sliced_w2(pred.view(), target.view(), k, &mut rng),
        )
        .with("r2", metrics::r2_means(pred.view(), target.view()))
        .with(
            "pearson",
            metrics::pearson_means(pred.view(), target.view()),
        )
        .with("r2_delta", delta.map(|d| d.0))
        .with("pearson_delta", delta.map(|d| d.1))
        .with("l2_means", metrics::l2_means(pred.view(), target.view()))
}

fn exact_w2sq_any(
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    seed: u64,
) -> monge::Result<Option<(f64, bool)>> {
    let (n, m) = (x.rows(), y.rows());
    if n > metrics::EXACT_W2_MAX_N || m > metrics::EXACT_W2_MAX_N {
        return Ok(None);
    }
    if n == m {
        return Ok(Some((metrics::exact_w2sq(x, y)?, false)));
    }
    let k = n.min(m);
    let mut rng = Stream::new(seed, streams::SPARE);
    let mut pick = |a: MatRef<'_, f64>| {
        let mut idx: Vec<usize> = (0..a.rows()).collect();
        rng.shuffle(&mut idx);
        idx.truncate(k);
        a.to_mat().select_rows(&idx)
    };
    let xs = if n > k { pick(x) } else { x.to_mat() };
    let ys = if m > k { pick(y) } else { y.to_mat() };
    Ok(Some((metrics::exact_w2sq(xs.view(), ys.view())?, true)))
}

fn shape_err(a: &str, b: &str, am: &Mat<f64>, bm: &Mat<f64>, why: &str) -> PyErr {
    PyValueError::new_err(format!(
        "{a} is {}×{} but {b} is {}×{} ({why})",
        am.rows(),
        am.cols(),
        bm.rows(),
        bm.cols()
    ))
}

/// Every metric of `monge eval` between `mapped` and `target` (dict with its JSON keys).
#[pyfunction]
#[pyo3(signature = (source, mapped, target, features=None, threshold=1.0, true_mapped=None, projections=200, seed=0, max_cells=DEFAULT_MAX_CELLS))]
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
) -> PyResult<Bound<'py, PyAny>> {
    if projections == 0 {
        return Err(PyValueError::new_err("projections must be at least 1"));
    }
    if threshold.is_nan() || threshold < 0.0 {
        return Err(PyValueError::new_err(format!(
            "threshold {threshold}: a displacement threshold is at least 0"
        )));
    }
    if max_cells < 2 {
        return Err(PyValueError::new_err("max_cells must be at least 2"));
    }
    let mapped: Mat<f64> = to_mat(mapped, "mapped")?;
    let target: Mat<f64> = to_mat(target, "target")?;
    if mapped.cols() != target.cols() {
        return Err(PyValueError::new_err(format!(
            "mapped has {} features but target has {}",
            mapped.cols(),
            target.cols()
        )));
    }
    let source: Option<Mat<f64>> = source.map(|s| to_mat(s, "source")).transpose()?;
    if let Some(s) = &source {
        if s.shape() != mapped.shape() {
            return Err(shape_err(
                "source",
                "mapped",
                s,
                &mapped,
                "row i of the mapped set must be the image of row i of the source",
            ));
        }
    }
    let t_true: Option<Mat<f64>> = true_mapped.map(|s| to_mat(s, "true_mapped")).transpose()?;
    if let Some(t) = &t_true {
        if t.shape() != mapped.shape() {
            return Err(shape_err(
                "true_mapped",
                "mapped",
                t,
                &mapped,
                "it must have the mapped set's shape",
            ));
        }
    }
    let d = mapped.cols();
    if let Some(f) = &features {
        if f.is_empty() {
            return Err(PyValueError::new_err("features: the list is empty"));
        }
        if let Some(&j) = f.iter().find(|&&j| j >= d) {
            return Err(PyValueError::new_err(format!(
                "features: column {j} does not exist (the data have {d} columns, 0-based)"
            )));
        }
    }
    let out = py.detach(|| -> monge::Result<Val> {
        let k = projections;
        let mut sub_rng = Stream::new(seed, streams::SPARE);
        let mmd_rows = (
            subsample_rows(mapped.rows(), max_cells, &mut sub_rng),
            subsample_rows(target.rows(), max_cells, &mut sub_rng),
        );
        let mmd_subsampled = mmd_rows.0.is_some() || mmd_rows.1.is_some();
        let mut out = distribution_metrics(&mapped, &target, source.as_ref(), k, seed, &mmd_rows)
            .with("mmd_max_cells", max_cells)
            .with("mmd_subsampled", mmd_subsampled);
        let w2 = exact_w2sq_any(mapped.view(), target.view(), seed)?;
        out = out.with("w2sq", w2.map(|w| w.0));
        if let Some((_, true)) = w2 {
            out = out.with("w2sq_subsampled", true);
        }
        let dims = source
            .as_ref()
            .map(|s| metrics::displacement_dim(s.view(), mapped.view(), threshold));
        out = out
            .with("dim_mean", dims.map(|d| d.0))
            .with("dim_q3", dims.map(|d| d.1));
        let uvp = t_true
            .as_ref()
            .map(|t| metrics::l2_uvp(mapped.view(), t.view(), target.view()));
        // the held-out criterion `monge fit` selects on is `sw2` with the defaults; the MMD's kernel named
        let sw2 = out.num("sw2");
        out = out
            .with("l2_uvp", uvp)
            .with("sliced_w2", sw2)
            .with(
                "criterion",
                format!("sliced_w2 = sw2 ({k} directions from --seed {seed}; monge fit's default selection criterion with 200)").as_str(),
            )
            .with(
                "mmd_kernel",
                "biased MMD², RBF exp(−γ‖a − b‖²), mean over γ = 10^(1 − 4i/49), i = 0..49 (w1ot eval.py)",
            )
            .with("threshold", threshold)
            .with("n_mapped", mapped.rows())
            .with("n_target", target.rows())
            .with("d", d);
        if let Some(cols) = &features {
            let sub = |m: &Mat<f64>| Mat::from_fn(m.rows(), cols.len(), |i, j| m.get(i, cols[j]));
            let src = source.as_ref().map(sub);
            let s = distribution_metrics(&sub(&mapped), &sub(&target), src.as_ref(), k, seed, &mmd_rows)
                .with("features", cols.len());
            out = out.with("subset", s);
        }
        Ok(out)
    });
    crate::report::to_py(py, &out.map_err(to_py_err)?)
}
