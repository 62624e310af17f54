//! The report of `monge eval` and `monge.evaluate(...)`, composed once: every SPEC §4 metric between a
//! mapped set and a target set, in f64, as one [`Value`] with the keys of `monge eval --json` (the CLI
//! prints it as JSON or as text, the Python package returns it as a dict).
//!
//! The keys, in order:
//! - the distribution metrics on all features (`distribution`): `mmd` (on a seeded subsample of at
//!   most `max_cells` rows of each set), `sw2`, `r2`, `pearson`, `r2_delta`, `pearson_delta` (with the
//!   source), `l2_means`; then `mmd_max_cells`, `mmd_subsampled`;
//! - `w2sq` (exact, both sets ≤ [`metrics::EXACT_W2_MAX_N`] rows; the larger set subsampled, seeded, to
//!   the smaller's size, then `w2sq_subsampled`), `dim_mean`, `dim_q3` (with the source), `l2_uvp`
//!   (with the true map);
//! - `sliced_w2` (= `sw2`: with 200 projections and fit's seed the held-out criterion `monge fit`
//!   selects on), `criterion`, `mmd_kernel`, `threshold`, `n_mapped`, `n_target`, `d`;
//! - `subset` (the distribution metrics on the given features, and `features`), `top_genes` (the same on
//!   the K features with the largest |mean(target) − mean(source)|, with `by`, `names`, `columns`);
//! - `baselines` (with `baselines` and the source: `identity`, the source itself, and `mean_shift`,
//!   source + mean(target) − mean(source) with the shift estimated on the held-out target when given,
//!   and `shift_estimated_on`; with a held-out target: `observed`, those cells scored as if predicted,
//!   the floor a perfect map reaches): each row with the map's metric keys and subsets.
//!
//! The random draws: the subsample rows of the MMD come from stream `SPARE` of the seed (mapped, target,
//! held-out target, in that order), the projections of every sliced W2 from a fresh stream
//! `PROJECTIONS` of the seed, the exact W2² subsample from a fresh stream `SPARE`.

use crate::linalg::{Mat, MatRef};
use crate::metrics;
use crate::random::{streams, Stream};
use crate::report::Value;
use crate::{Error, Result};

/// Default of `max_cells`: the rows of each set the MMD is computed on.
pub const DEFAULT_MAX_CELLS: usize = 5000;

/// A set and the name messages call it by (a file for the CLI, an argument for Python).
pub struct Named {
    /// One sample per row.
    pub data: Mat<f64>,
    /// Its name in messages.
    pub name: String,
}

impl Named {
    /// `data` called `name`.
    pub fn new(data: Mat<f64>, name: impl Into<String>) -> Self {
        Named {
            data,
            name: name.into(),
        }
    }
}

/// The sets an evaluation reads.
pub struct EvalSets {
    /// T(source): row i is the image of source row i.
    pub mapped: Named,
    /// The target set.
    pub target: Named,
    /// The source set (the displacement dimensionality, the mean-change metrics, top genes, baselines).
    pub source: Option<Named>,
    /// T*(source) for a known map (L2-UVP).
    pub true_mapped: Option<Named>,
    /// Other cells of the target condition (the `observed` baseline; the mean shift's estimate).
    pub heldout_target: Option<Named>,
    /// Feature names (the `names` of `top_genes`; otherwise the columns).
    pub var_names: Option<Vec<String>>,
}

/// How an evaluation is computed.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Also the distribution metrics on these columns (`subset`).
    pub features: Option<Vec<usize>>,
    /// Also on the K features that changed most (`top_genes`; needs the source).
    pub top_genes: Option<usize>,
    /// The identity and mean-shift rows (needs the source).
    pub baselines: bool,
    /// |Δᵢ| > threshold counts a coordinate as moved.
    pub threshold: f64,
    /// Random directions of the sliced W2.
    pub projections: usize,
    /// Seed of the projections and the subsamples.
    pub seed: u64,
    /// MMD on at most this many rows of each set.
    pub max_cells: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            features: None,
            top_genes: None,
            baselines: false,
            threshold: 1.0,
            projections: 200,
            seed: 0,
            max_cells: DEFAULT_MAX_CELLS,
        }
    }
}

impl EvalOptions {
    /// Checks the options (`has_source`: whether a source set is given), naming each option as
    /// `spell` does (`--max-cells` for the CLI, `max_cells` for Python).
    pub fn validate(&self, has_source: bool, spell: &dyn Fn(&str) -> String) -> Result<()> {
        let usage = |s: String| Err(Error::Usage(s));
        if self.projections == 0 {
            return usage(format!("{} must be at least 1", spell("projections")));
        }
        if self.threshold.is_nan() || self.threshold < 0.0 {
            return usage(format!(
                "{} {}: a displacement threshold is at least 0",
                spell("threshold"),
                self.threshold
            ));
        }
        if self.max_cells < 2 {
            return usage(format!("{} must be at least 2", spell("max-cells")));
        }
        if self.top_genes == Some(0) {
            return usage(format!("{} must be at least 1", spell("top-genes")));
        }
        if !has_source {
            for (given, opt) in [
                (self.top_genes.is_some(), "top-genes"),
                (self.baselines, "baselines"),
            ] {
                if given {
                    return usage(format!(
                        "{} needs {} (the cells the mapped set came from)",
                        spell(opt),
                        spell("source")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Checks that the sets fit together: each set non-empty with every value finite (the error names the
/// set, row and column: [`check_set`](crate::ot::train::split::check_set)), the same features
/// everywhere, and the source and the true map row-aligned with the mapped set.
fn check(s: &EvalSets, d: usize) -> Result<()> {
    let (mapped, target) = (&s.mapped, &s.target);
    for set in [mapped, target].into_iter().chain(
        [&s.source, &s.true_mapped, &s.heldout_target]
            .into_iter()
            .flatten(),
    ) {
        crate::ot::train::split::check_set(&set.data, &set.name)?;
    }
    if target.data.cols() != d {
        return Err(Error::Shape(format!(
            "{} has {d} features but {} has {}",
            mapped.name,
            target.name,
            target.data.cols()
        )));
    }
    let shape = mapped.data.shape();
    if let Some(src) = s.source.as_ref().filter(|x| x.data.shape() != shape) {
        return Err(Error::Shape(format!(
            "{} is {}×{} but {} is {}×{} (row i of the mapped set must be the image of row i of the \
             source)",
            src.name,
            src.data.rows(),
            src.data.cols(),
            mapped.name,
            shape.0,
            shape.1
        )));
    }
    if let Some(t) = s.true_mapped.as_ref().filter(|x| x.data.shape() != shape) {
        return Err(Error::Shape(format!(
            "{} must have the mapped set's shape {}×{}",
            t.name, shape.0, shape.1
        )));
    }
    if let Some(h) = s.heldout_target.as_ref().filter(|h| h.data.cols() != d) {
        return Err(Error::Shape(format!(
            "{} has {} features but {} has {d}",
            h.name,
            h.data.cols(),
            target.name
        )));
    }
    if let Some(n) = s.var_names.as_ref().filter(|n| n.len() != d) {
        return Err(Error::Shape(format!(
            "{} feature names for data with {d} features",
            n.len()
        )));
    }
    Ok(())
}

/// The columns `cols` of `m`.
fn columns(m: &Mat<f64>, cols: &[usize]) -> Mat<f64> {
    Mat::from_fn(m.rows(), cols.len(), |i, j| m.get(i, cols[j]))
}

/// Exact W2² between two samples of at most [`metrics::EXACT_W2_MAX_N`] rows; the larger one is
/// subsampled (seeded) to the size of the smaller when they differ. Returns (value, subsampled?).
pub fn exact_w2sq_any(
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    seed: u64,
) -> Result<Option<(f64, bool)>> {
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

/// The rows of a uniform subsample of `n` rows of size at most `cap` (None: all rows, when `n ≤ cap`;
/// otherwise `cap` rows drawn without replacement from `rng`, kept in order).
pub fn subsample_rows(n: usize, cap: usize, rng: &mut Stream) -> Option<Vec<usize>> {
    if n <= cap {
        return None;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    idx.truncate(cap);
    idx.sort_unstable();
    Some(idx)
}

/// The sets a prediction is scored against, restricted to some features: the target, and the source
/// and true map when given; with the rows of the target the MMD uses.
struct Reference {
    target: Mat<f64>,
    source: Option<Mat<f64>>,
    t_true: Option<Mat<f64>>,
    target_rows: Option<Vec<usize>>,
}

impl Reference {
    /// The same sets on the columns `cols` only.
    fn columns(&self, cols: &[usize]) -> Reference {
        Reference {
            target: columns(&self.target, cols),
            source: self.source.as_ref().map(|m| columns(m, cols)),
            t_true: self.t_true.as_ref().map(|m| columns(m, cols)),
            target_rows: self.target_rows.clone(),
        }
    }
}

/// The MMD between `pred` and `target` on the given row subsets (`None` = every row).
fn mmd_on(
    pred: &Mat<f64>,
    target: &Mat<f64>,
    pred_rows: &Option<Vec<usize>>,
    target_rows: &Option<Vec<usize>>,
) -> f64 {
    let p = pred_rows.as_ref().map(|r| pred.select_rows(r));
    let t = target_rows.as_ref().map(|r| target.select_rows(r));
    metrics::mmd(
        p.as_ref().unwrap_or(pred).view(),
        t.as_ref().unwrap_or(target).view(),
        &metrics::mmd_gammas_eval(),
    )
}

/// Distribution metrics between `pred` and the reference target: `mmd` on the row subsamples, `sw2`,
/// `r2`, `pearson`, with a source `r2_delta` and `pearson_delta`, `l2_means`.
fn distribution(
    pred: &Mat<f64>,
    pred_rows: &Option<Vec<usize>>,
    r: &Reference,
    o: &EvalOptions,
) -> Value {
    let mut rng = Stream::new(o.seed, streams::PROJECTIONS);
    let target = &r.target;
    let delta = r.source.as_ref().map(|s| {
        (
            metrics::r2_delta(s.view(), pred.view(), target.view()),
            metrics::pearson_delta(s.view(), pred.view(), target.view()),
        )
    });
    Value::obj()
        .with("mmd", mmd_on(pred, target, pred_rows, &r.target_rows))
        .with(
            "sw2",
            metrics::sliced_w2(pred.view(), target.view(), o.projections, &mut rng),
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

/// The metrics on all features that need more than the feature means (w2sq; with `aligned`, i.e. row i
/// of `pred` the image of source row i: the displacement dimensionality and L2-UVP).
fn set_metrics(
    out: &mut Value,
    pred: &Mat<f64>,
    r: &Reference,
    aligned: bool,
    o: &EvalOptions,
) -> Result<()> {
    let w2 = exact_w2sq_any(pred.view(), r.target.view(), o.seed)?;
    out.set("w2sq", w2.map(|w| w.0));
    if let Some((_, true)) = w2 {
        out.set("w2sq_subsampled", true);
    }
    let dim = match (&r.source, aligned) {
        (Some(s), true) => Some(metrics::displacement_dim(
            s.view(),
            pred.view(),
            o.threshold,
        )),
        _ => None,
    };
    out.set("dim_mean", dim.map(|d| d.0))
        .set("dim_q3", dim.map(|d| d.1));
    let uvp = match (&r.t_true, aligned) {
        (Some(t), true) => Some(metrics::l2_uvp(pred.view(), t.view(), r.target.view())),
        _ => None,
    };
    out.set("l2_uvp", uvp);
    Ok(())
}

/// The feature sets besides all features: (key, columns, reference on those columns).
type Subsets = Vec<(&'static str, Vec<usize>, Reference)>;

/// One baseline row: the metrics on all features, then on each subset.
fn baseline_row(
    pred: &Mat<f64>,
    pred_rows: &Option<Vec<usize>>,
    all: &Reference,
    subsets: &Subsets,
    aligned: bool,
    o: &EvalOptions,
) -> Result<Value> {
    let mut row = distribution(pred, pred_rows, all, o);
    set_metrics(&mut row, pred, all, aligned, o)?;
    for (key, cols, r) in subsets {
        row.set(key, distribution(&columns(pred, cols), pred_rows, r, o));
    }
    Ok(row)
}

/// Every metric of `monge eval` between `sets.mapped` and `sets.target` (module doc: the keys).
pub fn evaluate(sets: EvalSets, o: &EvalOptions) -> Result<Value> {
    let spell = |s: &str| s.to_string();
    o.validate(sets.source.is_some(), &spell)?;
    let d = sets.mapped.data.cols();
    check(&sets, d)?;
    if let Some(f) = &o.features {
        if f.is_empty() {
            return Err(Error::Usage("features: the list is empty".into()));
        }
        if let Some(&j) = f.iter().find(|&&j| j >= d) {
            return Err(Error::Usage(format!(
                "features: column {j} does not exist (the data have {d} columns, 0-based)"
            )));
        }
    }
    let EvalSets {
        mapped,
        target,
        source,
        true_mapped,
        heldout_target,
        var_names,
    } = sets;
    let mapped = mapped.data;
    let heldout = heldout_target.map(|h| h.data);
    let mut sub_rng = Stream::new(o.seed, streams::SPARE);
    let mapped_rows = subsample_rows(mapped.rows(), o.max_cells, &mut sub_rng);
    let target_rows = subsample_rows(target.data.rows(), o.max_cells, &mut sub_rng);
    let heldout_rows = heldout
        .as_ref()
        .and_then(|h| subsample_rows(h.rows(), o.max_cells, &mut sub_rng));
    let mmd_subsampled = mapped_rows.is_some() || target_rows.is_some() || heldout_rows.is_some();
    let all = Reference {
        target: target.data,
        source: source.map(|s| s.data),
        t_true: true_mapped.map(|t| t.data),
        target_rows,
    };
    let mut subsets: Subsets = Vec::new();
    if let Some(cols) = &o.features {
        subsets.push(("subset", cols.clone(), all.columns(cols)));
    }
    if let (Some(s), Some(k)) = (&all.source, o.top_genes) {
        let cols = metrics::top_changed_features(s.view(), all.target.view(), k);
        let r = all.columns(&cols);
        subsets.push(("top_genes", cols, r));
    }

    // the map: all features first (the keys scripts read), then the subsets
    let mut out = distribution(&mapped, &mapped_rows, &all, o);
    out.set("mmd_max_cells", o.max_cells)
        .set("mmd_subsampled", mmd_subsampled);
    set_metrics(&mut out, &mapped, &all, true, o)?;
    // the held-out criterion `monge fit` selects on (sliced W2 over 200 directions of stream
    // PROJECTIONS of the seed) is `sw2` with the defaults; the MMD's kernel is named
    let sw2 = out.get("sw2").cloned().unwrap_or(Value::Null);
    out.set("sliced_w2", sw2)
        .set(
            "criterion",
            format!(
                "sliced_w2 = sw2 ({} directions from --seed {}; monge fit's default selection \
                 criterion with 200)",
                o.projections, o.seed
            ),
        )
        .set(
            "mmd_kernel",
            "biased MMD², RBF exp(−γ‖a − b‖²), mean over γ = 10^(1 − 4i/49), i = 0..49 (w1ot eval.py)",
        );
    out.set("threshold", o.threshold)
        .set("n_mapped", mapped.rows())
        .set("n_target", all.target.rows())
        .set("d", d);
    let label = |j: usize| -> Value {
        match &var_names {
            Some(n) => Value::Str(n[j].clone()),
            None => Value::from(j),
        }
    };
    for (key, cols, r) in &subsets {
        let mut s =
            distribution(&columns(&mapped, cols), &mapped_rows, r, o).with("features", cols.len());
        if *key == "top_genes" {
            s.set("by", "|mean(target) − mean(source)|, largest first")
                .set(
                    "names",
                    Value::Arr(cols.iter().map(|&j| label(j)).collect()),
                )
                .set("columns", cols.clone());
        }
        out.set(key, s);
    }

    let mut rows = Value::obj();
    if let (true, Some(s)) = (o.baselines, &all.source) {
        rows.set(
            "identity",
            baseline_row(s, &mapped_rows, &all, &subsets, true, o)?,
        );
        let (shift_from, from) = match &heldout {
            Some(h) => (h, "heldout-target"),
            None => (&all.target, "target"),
        };
        let shift = metrics::mean_change(s.view(), shift_from.view());
        let shifted = Mat::from_fn(s.rows(), d, |i, j| s.get(i, j) + shift[j]);
        let row = baseline_row(&shifted, &mapped_rows, &all, &subsets, true, o)?
            .with("shift_estimated_on", from);
        rows.set("mean_shift", row);
    }
    if let Some(h) = &heldout {
        rows.set(
            "observed",
            baseline_row(h, &heldout_rows, &all, &subsets, false, o)?,
        );
    }
    if rows != Value::obj() {
        out.set("baselines", rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(n: usize, d: usize, shift: f64) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| {
            ((i * 7 + j * 3) % 11) as f64 / 11.0 + shift * (j + 1) as f64
        })
    }

    #[test]
    fn the_baselines_are_the_rows_they_name() {
        let (s, t) = (cloud(40, 3, 0.0), cloud(40, 3, 0.5));
        let sets = EvalSets {
            mapped: Named::new(s.clone(), "mapped"),
            target: Named::new(t.clone(), "target"),
            source: Some(Named::new(s, "source")),
            true_mapped: None,
            heldout_target: Some(Named::new(t, "heldout")),
            var_names: None,
        };
        let o = EvalOptions {
            baselines: true,
            top_genes: Some(2),
            threshold: 0.1,
            ..EvalOptions::default()
        };
        let out = evaluate(sets, &o).unwrap();
        let b = out.get("baselines").unwrap();
        // the mapped set is the source: the identity row is the map's row
        let (map, id) = (&out, b.get("identity").unwrap());
        for k in ["mmd", "sw2", "w2sq", "l2_means", "dim_mean"] {
            assert_eq!(map.num(k), id.num(k), "{k}");
        }
        assert_eq!(id.num("dim_mean"), Some(0.0));
        // the mean shift lands on the target's means; it moves every coordinate by (j+1)/2 > 0.1
        let ms = b.get("mean_shift").unwrap();
        assert!(ms.num("l2_means").unwrap() < 1e-12);
        assert_eq!(ms.num("dim_mean"), Some(3.0));
        // the observed cells are the target itself: distance 0, no displacement (not row-aligned)
        let obs = b.get("observed").unwrap();
        assert_eq!(obs.num("w2sq"), Some(0.0));
        assert!(obs.num("mmd").unwrap().abs() < 1e-12);
        assert_eq!(obs.get("dim_mean"), Some(&Value::Null));
        // the top genes: the largest mean change first (column 2 moved by 1.5, column 1 by 1.0)
        let top = out.get("top_genes").unwrap();
        assert_eq!(top.get("columns"), Some(&Value::from(vec![2usize, 1])));
    }

    #[test]
    fn options_are_named_as_the_caller_spells_them() {
        let o = EvalOptions {
            max_cells: 1,
            ..EvalOptions::default()
        };
        let e = o.validate(true, &|n| format!("--{n}")).unwrap_err();
        assert!(
            e.to_string().contains("--max-cells must be at least 2"),
            "{e}"
        );
        let o = EvalOptions {
            baselines: true,
            ..EvalOptions::default()
        };
        let e = o.validate(false, &|n| n.replace('-', "_")).unwrap_err();
        assert!(e.to_string().contains("baselines needs source"), "{e}");
    }

    /// A NaN or ±Inf in any set is refused with the set, row and column named (1-based), before any
    /// metric runs. Mutation: the finiteness loop of `check` removed → the exact W2 fails later
    /// without a row, or the held-out set is never checked.
    #[test]
    fn a_non_finite_value_is_named_by_set_row_and_column() {
        let (s, t) = (cloud(20, 3, 0.0), cloud(20, 3, 0.5));
        for (who, row, col) in [("mapped", 4, 2), ("heldout", 20, 3)] {
            let mut bad = t.clone();
            bad.set(
                row - 1,
                col - 1,
                if who == "mapped" {
                    f64::NAN
                } else {
                    f64::INFINITY
                },
            );
            let named = |m: &Mat<f64>, n: &str| {
                Named::new(if n == who { bad.clone() } else { m.clone() }, n)
            };
            let sets = EvalSets {
                mapped: named(&s, "mapped"),
                target: named(&t, "target"),
                source: Some(named(&s, "source")),
                true_mapped: None,
                heldout_target: Some(named(&t, "heldout")),
                var_names: None,
            };
            let o = EvalOptions {
                baselines: true,
                ..EvalOptions::default()
            };
            match evaluate(sets, &o) {
                Err(Error::Data {
                    file,
                    row: r,
                    col: c,
                    ..
                }) => {
                    assert_eq!((file.as_str(), r, c), (who, Some(row), Some(col)))
                }
                other => panic!("{who}: expected a data error, got {other:?}"),
            }
        }
    }
}
