//! `monge eval`: every SPEC §4 metric between a mapped set and a target set.

use super::args::check_memory;
use super::args::Args;
use super::common::{fmt_num, load, load_named, same_dim};
use super::json::Json;
use monge::linalg::{Mat, MatRef};
use monge::metrics;
use monge::random::{streams, Stream};
use monge::{Error, Result};

/// Help text of `monge eval`.
pub const HELP: &str = "\
monge eval — compare a mapped set with a target set

USAGE:
    monge eval --mapped Y --target B [--source A] [OPTIONS]

OPTIONS:
    --source FILE        the source set the mapped set came from (row i of Y is the image of row i of A);
                         needed for the displacement dimensionality, r2_delta, --top-genes, --baselines
    --mapped FILE        the mapped set T(A)
    --target FILE        the target set
    --true-mapped FILE   T*(A) for a known map: adds L2-UVP
    --features LIST      also report the distribution metrics on these features: 0-based columns
                         (e.g. 0,3,5-9) or, with feature names, names (e.g. CD3E,GNLY)
    --top-genes K        also report them on the K features with the largest |mean(target) − mean(source)|
                         (the top-K differentially expressed genes; needs --source); lists which
    --baselines          add rows for the identity map (A itself) and the mean shift
                         (A + mean(B) − mean(A), the shift estimated on --heldout-target when given)
    --heldout-target FILE  other cells of the target condition than B (e.g. the training half): adds the
                         'observed' row, these cells scored as if predicted, the floor a perfect map reaches
    --var-names FILE     feature names, one per line (otherwise the CSV header of B, A or Y, if any)
    --threshold T        |Δᵢ| > T counts a coordinate as moved (default 1)
    --projections K      random directions of the sliced W2 (default 200)
    --seed S             seed of the projections and of subsampling (default 0)
    --max-cells N        MMD on at most N rows of each set (default 5000): a seeded uniform subsample of
                         a larger set (MMD costs O(n²): 5000 rows take seconds, 20000 minutes)
    --json               print one JSON object

METRICS (p̄, t̄, s̄: feature means of the mapped, target and source sets):
    mmd            biased MMD² with RBF kernels exp(−γ‖a − b‖²), mean over the 50 bandwidths
                   γ = 10^(1 − 4i/49), i = 0..49 (10 down to 0.001; w1ot eval.py): 0 for equal samples
    sw2            sliced W2 over --projections random directions: lower is closer
    w2sq           exact W2² by an assignment (both sets ≤ 2000 rows; else -)
    r2             ρ(p̄, t̄)², the papers' r² (w1ot; CellOT's r2-means is pearson, unsquared): near 1 as
                   soon as most features do not change, and 1 for the mean shift by construction
    r2_delta       ρ(p̄ − s̄, t̄ − s̄)²: whether the map moves the means the way the perturbation did
                   (pearson_delta unsquared; - for the identity, which moves nothing)
    l2_means       ‖p̄ − t̄‖₂
    dim_mean, dim_q3  mean and 75% quantile over cells of #{i : |T(x)ᵢ − xᵢ| > T}
    l2_uvp         100 · mean ‖T(x) − T*(x)‖² / Var(B)
Files: .npy (f32/f64, C order, 2-D), .csv, .tsv, .txt.
JSON keys: mmd, sw2, w2sq (exact, when both sets have ≤ 2000 rows), r2, pearson, r2_delta,
pearson_delta, l2_means, dim_mean, dim_q3, l2_uvp, n_mapped, n_target, d, subset, top_genes (with
features: the names or columns, largest change first), baselines (identity, mean_shift, observed: the
same keys for each); mmd_max_cells, mmd_subsampled (whether the MMD, also the subset's, was computed on
subsamples), w2sq_subsampled; sliced_w2 (= sw2; with 200 projections and fit's seed it is the held-out
criterion `monge fit` selects on), criterion and mmd_kernel (kernel and bandwidths of mmd).";

/// Default of `--max-cells`: the rows of each set the MMD is computed on.
pub const DEFAULT_MAX_CELLS: usize = 5000;

/// Parses a feature list such as `0,3,5-9` (0-based, inclusive ranges) and checks it against `d`. With
/// `names`, an item that is a feature name stands for that feature (names are looked up first).
pub fn parse_features(s: &str, d: usize, names: Option<&[String]>) -> Result<Vec<usize>> {
    let bad = |part: &str| {
        Error::Usage(match names {
            Some(_) => format!(
                "--features: '{part}' in '{s}' is neither a feature name nor a column (e.g. 0,3,5-9)"
            ),
            None => format!("--features: cannot parse '{s}' (expected e.g. 0,3,5-9)"),
        })
    };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(Error::Usage(format!(
                "--features: empty item in '{s}' (expected e.g. 0,3,5-9)"
            )));
        }
        if let Some(j) = names.and_then(|n| n.iter().position(|x| x == part)) {
            out.push(j);
            continue;
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad(part))?,
                b.trim().parse::<usize>().map_err(|_| bad(part))?,
            ),
            None => {
                let a = part.parse::<usize>().map_err(|_| bad(part))?;
                (a, a)
            }
        };
        if a > b {
            return Err(bad(part));
        }
        for j in a..=b {
            if j >= d {
                return Err(Error::Usage(format!(
                    "--features: column {j} does not exist (the data have {d} columns, 0-based)"
                )));
            }
            out.push(j);
        }
    }
    if out.is_empty() {
        return Err(bad(s));
    }
    Ok(out)
}

/// Largest `--var-names` file read.
const MAX_NAMES_BYTES: u64 = 1 << 28;

/// Reads `--var-names`: one feature name per line (blank lines skipped, names trimmed), exactly `d` of
/// them, no name twice.
pub fn read_var_names(path: &str, d: usize) -> Result<Vec<String>> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.is_file() || meta.len() > MAX_NAMES_BYTES {
        return Err(Error::data(
            path,
            None,
            None,
            "not a list of feature names (a regular text file of at most 256 MiB, one name per line)",
        ));
    }
    let mut text = String::new();
    f.take(MAX_NAMES_BYTES)
        .read_to_string(&mut text)
        .map_err(|_| Error::data(path, None, None, "not valid UTF-8 text"))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if names.len() != d {
        return Err(Error::Shape(format!(
            "{path} names {} features but the data have {d}",
            names.len()
        )));
    }
    let mut seen = std::collections::HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = seen.insert(n.as_str(), i) {
            return Err(Error::data(
                path,
                Some(i + 1),
                None,
                format!(
                    "the name '{n}' is also on line {} (names must be unique)",
                    j + 1
                ),
            ));
        }
    }
    Ok(names)
}

fn columns(m: &Mat<f64>, cols: &[usize]) -> Mat<f64> {
    Mat::from_fn(m.rows(), cols.len(), |i, j| m.get(i, cols[j]))
}

/// Exact W2² between two samples of at most 2000 rows; the larger one is subsampled (seeded) to the size of
/// the smaller when they differ. Returns (value, subsampled?).
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
        let full = a.to_mat();
        full.select_rows(&idx)
    };
    let xs = if n > k { pick(x) } else { x.to_mat() };
    let ys = if m > k { pick(y) } else { y.to_mat() };
    Ok(Some((metrics::exact_w2sq(xs.view(), ys.view())?, true)))
}

/// The rows of a uniform subsample of `n` rows of size at most `cap` (all rows, in order, when
/// `n ≤ cap`; otherwise `cap` rows drawn without replacement from `rng`, kept in file order).
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

/// How a metrics row is computed: directions of the sliced W2, seed, displacement threshold.
#[derive(Clone, Copy)]
struct Knobs {
    projections: usize,
    seed: u64,
    threshold: f64,
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

/// Distribution metrics between `pred` and the reference target (mmd on the row subsamples, sw2, r2,
/// pearson, with a source r2_delta and pearson_delta, l2_means).
fn distribution_metrics(
    pred: &Mat<f64>,
    pred_rows: &Option<Vec<usize>>,
    r: &Reference,
    kn: Knobs,
) -> Json {
    let mut rng = Stream::new(kn.seed, streams::PROJECTIONS);
    let target = &r.target;
    let delta = r.source.as_ref().map(|s| {
        (
            metrics::r2_delta(s.view(), pred.view(), target.view()),
            metrics::pearson_delta(s.view(), pred.view(), target.view()),
        )
    });
    Json::obj()
        .with("mmd", mmd_on(pred, target, pred_rows, &r.target_rows))
        .with(
            "sw2",
            metrics::sliced_w2(pred.view(), target.view(), kn.projections, &mut rng),
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
    out: &mut Json,
    pred: &Mat<f64>,
    r: &Reference,
    aligned: bool,
    kn: Knobs,
) -> Result<()> {
    let w2 = exact_w2sq_any(pred.view(), r.target.view(), kn.seed)?;
    out.set("w2sq", w2.map(|w| w.0));
    if let Some((_, true)) = w2 {
        out.set("w2sq_subsampled", true);
    }
    let dim = match (&r.source, aligned) {
        (Some(s), true) => Some(metrics::displacement_dim(
            s.view(),
            pred.view(),
            kn.threshold,
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

/// The feature sets besides all features: (JSON key, columns, reference on those columns).
type Subsets = Vec<(&'static str, Vec<usize>, Reference)>;

/// One baseline row: the metrics on all features, then on each subset.
fn baseline_row(
    pred: &Mat<f64>,
    pred_rows: &Option<Vec<usize>>,
    all: &Reference,
    subsets: &Subsets,
    aligned: bool,
    kn: Knobs,
) -> Result<Json> {
    let mut row = distribution_metrics(pred, pred_rows, all, kn);
    set_metrics(&mut row, pred, all, aligned, kn)?;
    for (key, cols, r) in subsets {
        row.set(
            key,
            distribution_metrics(&columns(pred, cols), pred_rows, r, kn),
        );
    }
    Ok(row)
}

/// The value of `key` in a metrics object, NaN when absent or null.
fn num(o: &Json, key: &str) -> f64 {
    match o {
        Json::Obj(kv) => kv
            .iter()
            .find_map(|(k, v)| match (k == key, v) {
                (true, Json::Num(x)) => Some(*x),
                _ => None,
            })
            .unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// The sub-object `key` of an object.
fn sub<'a>(o: &'a Json, key: &str) -> Option<&'a Json> {
    match o {
        Json::Obj(kv) => kv.iter().find_map(|(k, v)| (k == key).then_some(v)),
        _ => None,
    }
}

/// A table with one line per row (map, baselines) and one column per metric, for the text output.
fn table(title: &str, rows: &[(&str, &Json)], keys: &[&str]) -> String {
    let mut t = format!("{title}\n{:>14}", "");
    for k in keys {
        t.push_str(&format!(" {k:>13}"));
    }
    for (name, o) in rows {
        t.push_str(&format!("\n{name:>14}"));
        for k in keys {
            let x = num(o, k);
            let v = if x.is_finite() {
                fmt_num(x)
            } else {
                "-".into()
            };
            t.push_str(&format!(" {v:>13}"));
        }
    }
    t
}

/// Runs `monge eval`.
pub fn run(mut a: Args) -> Result<()> {
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    let mapped_path: String = a.required("mapped")?;
    let target_path: String = a.required("target")?;
    let source_path: Option<String> = a.get("source")?;
    let true_path: Option<String> = a.get("true-mapped")?;
    let heldout_path: Option<String> = a.get("heldout-target")?;
    let names_path: Option<String> = a.get("var-names")?;
    let features: Option<String> = a.get("features")?;
    let top_genes: Option<usize> = a.get("top-genes")?;
    let baselines = a.flag("baselines");
    let thr: f64 = a.get_or("threshold", 1.0)?;
    let k: usize = a.get_or("projections", 200)?;
    let seed: u64 = a.get_or("seed", 0)?;
    let max_cells: usize = a.get_or("max-cells", DEFAULT_MAX_CELLS)?;
    let json = a.flag("json");
    a.finish()?;
    if k == 0 {
        return Err(Error::Usage("--projections must be at least 1".into()));
    }
    if thr < 0.0 {
        return Err(Error::Usage(format!(
            "--threshold {thr}: a displacement threshold is at least 0"
        )));
    }
    if max_cells < 2 {
        return Err(Error::Usage("--max-cells must be at least 2".into()));
    }
    if top_genes == Some(0) {
        return Err(Error::Usage("--top-genes must be at least 1".into()));
    }
    if source_path.is_none() {
        for (given, opt) in [
            (top_genes.is_some(), "--top-genes"),
            (baselines, "--baselines"),
        ] {
            if given {
                return Err(Error::Usage(format!(
                    "{opt} needs --source (the cells the mapped set came from)"
                )));
            }
        }
    }

    let (mapped, mapped_names): (Mat<f64>, _) = load_named(&mapped_path)?;
    let (target, target_names): (Mat<f64>, _) = load_named(&target_path)?;
    same_dim(&mapped_path, mapped.cols(), &target_path, target.cols())?;
    let d = mapped.cols();
    let (n, m) = (mapped.rows() as f64, target.rows() as f64);
    check_memory(
        &format!("--projections {k}"),
        8.0 * (k as f64 * (d as f64 + n + m) + (n + m) * d as f64),
    )?;
    let (source, source_names) = match &source_path {
        Some(sp) => {
            let (source, names): (Mat<f64>, _) = load_named(sp)?;
            if source.shape() != mapped.shape() {
                return Err(Error::Shape(format!(
                    "{sp} is {}×{} but {mapped_path} is {}×{} (row i of the mapped set must be the image \
                     of row i of the source)",
                    source.rows(),
                    source.cols(),
                    mapped.rows(),
                    mapped.cols()
                )));
            }
            (Some(source), names)
        }
        None => (None, None),
    };
    let t_true = match &true_path {
        Some(tp) => {
            let t_true: Mat<f64> = load(tp)?;
            if t_true.shape() != mapped.shape() {
                return Err(Error::Shape(format!(
                    "{tp} must have the mapped set's shape {}×{}",
                    mapped.rows(),
                    mapped.cols()
                )));
            }
            Some(t_true)
        }
        None => None,
    };
    let heldout = match &heldout_path {
        Some(hp) => {
            let h: Mat<f64> = load(hp)?;
            same_dim(hp, h.cols(), &target_path, d)?;
            Some(h)
        }
        None => None,
    };
    let names = match &names_path {
        Some(np) => Some(read_var_names(np, d)?),
        None => target_names.or(source_names).or(mapped_names),
    };
    let feature_cols = features
        .as_deref()
        .map(|f| parse_features(f, d, names.as_deref()))
        .transpose()?;
    let label = |j: usize| -> Json {
        match &names {
            Some(n) => Json::Str(n[j].clone()),
            None => Json::Num(j as f64),
        }
    };

    let mut sub_rng = Stream::new(seed, streams::SPARE);
    let mapped_rows = subsample_rows(mapped.rows(), max_cells, &mut sub_rng);
    let target_rows = subsample_rows(target.rows(), max_cells, &mut sub_rng);
    let heldout_rows = heldout
        .as_ref()
        .and_then(|h| subsample_rows(h.rows(), max_cells, &mut sub_rng));
    let mmd_subsampled = mapped_rows.is_some() || target_rows.is_some() || heldout_rows.is_some();
    if mmd_subsampled {
        say!(
            "monge: note: MMD on a seeded subsample of {} mapped and {} target rows (--max-cells {max_cells})",
            mapped_rows.as_ref().map_or(mapped.rows(), Vec::len),
            target_rows.as_ref().map_or(target.rows(), Vec::len)
        );
    }
    let kn = Knobs {
        projections: k,
        seed,
        threshold: thr,
    };
    let all = Reference {
        target,
        source,
        t_true,
        target_rows,
    };
    let top_cols = match (&all.source, top_genes) {
        (Some(s), Some(kk)) => {
            if kk > d {
                say!("monge: note: --top-genes {kk} is more than the {d} features: all are used");
            }
            Some(metrics::top_changed_features(
                s.view(),
                all.target.view(),
                kk,
            ))
        }
        _ => None,
    };
    let mut subsets: Subsets = Vec::new();
    if let Some(cols) = feature_cols {
        let r = all.columns(&cols);
        subsets.push(("subset", cols, r));
    }
    if let Some(cols) = top_cols {
        let r = all.columns(&cols);
        subsets.push(("top_genes", cols, r));
    }

    // the map: all features first (the keys scripts read), then the subsets
    let mut out = distribution_metrics(&mapped, &mapped_rows, &all, kn);
    out.set("mmd_max_cells", max_cells)
        .set("mmd_subsampled", mmd_subsampled);
    set_metrics(&mut out, &mapped, &all, true, kn)?;
    // the held-out criterion `monge fit` selects on (sliced W2 over 200 directions of stream
    // PROJECTIONS of the seed) is `sw2` with the defaults; the MMD's kernel is named
    out.set("sliced_w2", num(&out, "sw2"))
        .set(
            "criterion",
            format!("sliced_w2 = sw2 ({k} directions from --seed {seed}; monge fit's default selection criterion with 200)"),
        )
        .set(
            "mmd_kernel",
            "biased MMD², RBF exp(−γ‖a − b‖²), mean over γ = 10^(1 − 4i/49), i = 0..49 (w1ot eval.py)",
        );
    out.set("threshold", thr)
        .set("n_mapped", mapped.rows())
        .set("n_target", all.target.rows())
        .set("d", d);
    for (key, cols, r) in &subsets {
        let mut o = distribution_metrics(&columns(&mapped, cols), &mapped_rows, r, kn)
            .with("features", cols.len());
        if *key == "top_genes" {
            o.set("by", "|mean(target) − mean(source)|, largest first")
                .set("names", cols.iter().map(|&j| label(j)).collect::<Vec<_>>())
                .set("columns", cols.clone());
        }
        out.set(key, o);
    }

    let mut rows: Vec<(&str, Json)> = Vec::new();
    if let (true, Some(s)) = (baselines, &all.source) {
        rows.push((
            "identity",
            baseline_row(s, &mapped_rows, &all, &subsets, true, kn)?,
        ));
        let (shift_from, from) = match &heldout {
            Some(h) => (h, "heldout-target"),
            None => (&all.target, "target"),
        };
        let shift = metrics::mean_change(s.view(), shift_from.view());
        let shifted = Mat::from_fn(s.rows(), d, |i, j| s.get(i, j) + shift[j]);
        let mut row = baseline_row(&shifted, &mapped_rows, &all, &subsets, true, kn)?;
        row.set("shift_estimated_on", from);
        rows.push(("mean_shift", row));
    }
    if let Some(h) = &heldout {
        rows.push((
            "observed",
            baseline_row(h, &heldout_rows, &all, &subsets, false, kn)?,
        ));
    }
    if !rows.is_empty() {
        let mut b = Json::obj();
        for (name, row) in &rows {
            b.set(name, row.clone());
        }
        out.set("baselines", b);
    }

    if json {
        out!("{}", out.render());
        return Ok(());
    }
    if let Json::Obj(kv) = &out {
        for (key, v) in kv {
            match v {
                Json::Num(x) => out!("{key:>16}  {}", fmt_num(*x)),
                Json::Null => out!("{key:>16}  -"),
                Json::Bool(b) => out!("{key:>16}  {b}"),
                Json::Str(t) => out!("{key:>16}  {t}"),
                Json::Obj(sub) if key != "baselines" => {
                    out!("{key:>16}:");
                    for (k2, v2) in sub {
                        match v2 {
                            Json::Num(x) => out!("{:>16}  {}", format!("{key}.{k2}"), fmt_num(*x)),
                            Json::Null => out!("{:>16}  -", format!("{key}.{k2}")),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(top) = sub(&out, "top_genes") {
        if let Some(Json::Arr(ns)) = sub(top, "names") {
            let list: Vec<String> = ns
                .iter()
                .map(|v| match v {
                    Json::Str(s) => s.clone(),
                    Json::Num(x) => format!("{x}"),
                    _ => String::new(),
                })
                .collect();
            out!(
                "top_genes ({} by |mean(target) − mean(source)|, largest first): {}",
                list.len(),
                list.join(", ")
            );
        }
    }
    if !rows.is_empty() {
        let mut all_rows: Vec<(&str, &Json)> = vec![("map", &out)];
        all_rows.extend(rows.iter().map(|(n, r)| (*n, r)));
        let keys = [
            "mmd", "sw2", "w2sq", "r2", "r2_delta", "l2_means", "dim_mean",
        ];
        out!("{}", table(&format!("all {d} features:"), &all_rows, &keys));
        for (key, cols, _) in &subsets {
            let sub_rows: Vec<(&str, &Json)> = all_rows
                .iter()
                .filter_map(|(n, o)| sub(o, key).map(|s| (*n, s)))
                .collect();
            let title = format!("{key} ({} features):", cols.len());
            out!(
                "{}",
                table(
                    &title,
                    &sub_rows,
                    &["mmd", "sw2", "r2", "r2_delta", "l2_means"]
                )
            );
        }
    }
    Ok(())
}
