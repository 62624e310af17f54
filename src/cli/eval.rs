//! `monge eval`: every SPEC §4 metric between a mapped set and a target set.

use super::args::check_memory;
use super::args::Args;
use super::common::{fmt_num, load, same_dim};
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
                         needed for the displacement dimensionality
    --mapped FILE        the mapped set T(A)
    --target FILE        the target set
    --true-mapped FILE   T*(A) for a known map: adds L2-UVP
    --features LIST      also report mmd/sw2/r2/pearson/l2_means on these 0-based columns (e.g. 0,3,5-9)
    --threshold T        |Δᵢ| > T counts a coordinate as moved (default 1)
    --projections K      random directions of the sliced W2 (default 200)
    --seed S             seed of the projections and of subsampling (default 0)
    --max-cells N        MMD on at most N rows of each set (default 5000): a seeded uniform subsample of
                         a larger set (MMD costs O(n²): 5000 rows take seconds, 20000 minutes)
    --json               print one JSON object
Files: .npy (f32/f64, C order, 2-D), .csv, .tsv, .txt.
JSON keys: mmd, sw2, w2sq (exact, when both sets have ≤ 2000 rows), r2, pearson, l2_means, dim_mean,
dim_q3, l2_uvp, n_mapped, n_target, d, subset; mmd_max_cells, mmd_subsampled (whether the MMD, also
the subset's, was computed on subsamples), w2sq_subsampled; sliced_w2 (= sw2; with 200 projections and
fit's seed it is the held-out criterion `monge fit` selects on), criterion and mmd_kernel (kernel and
bandwidths of mmd).";

/// Default of `--max-cells`: the rows of each set the MMD is computed on.
pub const DEFAULT_MAX_CELLS: usize = 5000;

/// Parses a feature list such as `0,3,5-9` (0-based, inclusive ranges) and checks it against `d`.
pub fn parse_features(s: &str, d: usize) -> Result<Vec<usize>> {
    let bad = || {
        Error::Usage(format!(
            "--features: cannot parse '{s}' (expected e.g. 0,3,5-9)"
        ))
    };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(Error::Usage(format!(
                "--features: empty item in '{s}' (expected e.g. 0,3,5-9)"
            )));
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad())?,
                b.trim().parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let a = part.parse::<usize>().map_err(|_| bad())?;
                (a, a)
            }
        };
        if a > b {
            return Err(bad());
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
        return Err(bad());
    }
    Ok(out)
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

/// The MMD between `pred` and `target` on the given row subsets (`None` = every row).
fn mmd_on(
    pred: &Mat<f64>,
    target: &Mat<f64>,
    rows: &(Option<Vec<usize>>, Option<Vec<usize>>),
) -> f64 {
    let p = rows.0.as_ref().map(|r| pred.select_rows(r));
    let t = rows.1.as_ref().map(|r| target.select_rows(r));
    metrics::mmd(
        p.as_ref().unwrap_or(pred).view(),
        t.as_ref().unwrap_or(target).view(),
        &metrics::mmd_gammas_eval(),
    )
}

/// Distribution metrics between `pred` and `target` (mmd on the `mmd_rows` subsamples, sw2, r2,
/// pearson, l2_means).
fn distribution_metrics(
    pred: &Mat<f64>,
    target: &Mat<f64>,
    k: usize,
    seed: u64,
    mmd_rows: &(Option<Vec<usize>>, Option<Vec<usize>>),
) -> Json {
    let mut rng = Stream::new(seed, streams::PROJECTIONS);
    Json::obj()
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
        .with("l2_means", metrics::l2_means(pred.view(), target.view()))
}

/// The `sw2` entry of a metrics object.
fn out_sw2(o: &Json) -> Option<f64> {
    match o {
        Json::Obj(kv) => kv.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("sw2", Json::Num(x)) => Some(*x),
            _ => None,
        }),
        _ => None,
    }
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
    let features: Option<String> = a.get("features")?;
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

    let mapped: Mat<f64> = load(&mapped_path)?;
    let target: Mat<f64> = load(&target_path)?;
    same_dim(&mapped_path, mapped.cols(), &target_path, target.cols())?;
    let d = mapped.cols();
    let feature_cols = features
        .as_deref()
        .map(|f| parse_features(f, d))
        .transpose()?;
    let (n, m) = (mapped.rows() as f64, target.rows() as f64);
    check_memory(
        &format!("--projections {k}"),
        8.0 * (k as f64 * (d as f64 + n + m) + (n + m) * d as f64),
    )?;
    let mut sub_rng = Stream::new(seed, streams::SPARE);
    let mmd_rows = (
        subsample_rows(mapped.rows(), max_cells, &mut sub_rng),
        subsample_rows(target.rows(), max_cells, &mut sub_rng),
    );
    let mmd_subsampled = mmd_rows.0.is_some() || mmd_rows.1.is_some();
    if mmd_subsampled {
        say!(
            "monge: note: MMD on a seeded subsample of {} mapped and {} target rows (--max-cells {max_cells})",
            mmd_rows.0.as_ref().map_or(mapped.rows(), Vec::len),
            mmd_rows.1.as_ref().map_or(target.rows(), Vec::len)
        );
    }
    let mut out = distribution_metrics(&mapped, &target, k, seed, &mmd_rows);
    out.set("mmd_max_cells", max_cells)
        .set("mmd_subsampled", mmd_subsampled);
    let w2 = exact_w2sq_any(mapped.view(), target.view(), seed)?;
    out.set("w2sq", w2.map(|w| w.0));
    if let Some((_, true)) = w2 {
        out.set("w2sq_subsampled", true);
    }
    let (mut dim_mean, mut dim_q3) = (None, None);
    if let Some(sp) = &source_path {
        let source: Mat<f64> = load(sp)?;
        if source.shape() != mapped.shape() {
            return Err(Error::Shape(format!(
                "{sp} is {}×{} but {mapped_path} is {}×{} (row i of the mapped set must be the image of \
                 row i of the source)",
                source.rows(),
                source.cols(),
                mapped.rows(),
                mapped.cols()
            )));
        }
        let (m, q) = metrics::displacement_dim(source.view(), mapped.view(), thr);
        dim_mean = Some(m);
        dim_q3 = Some(q);
    }
    out.set("dim_mean", dim_mean).set("dim_q3", dim_q3);
    let mut uvp = None;
    if let Some(tp) = &true_path {
        let t_true: Mat<f64> = load(tp)?;
        if t_true.shape() != mapped.shape() {
            return Err(Error::Shape(format!(
                "{tp} must have the mapped set's shape {}×{}",
                mapped.rows(),
                mapped.cols()
            )));
        }
        uvp = Some(metrics::l2_uvp(mapped.view(), t_true.view(), target.view()));
    }
    out.set("l2_uvp", uvp);
    // the held-out criterion `monge fit` selects on (sliced W2 over 200 directions of stream
    // PROJECTIONS of the seed) is `sw2` with the defaults; the MMD's kernel is named
    out.set("sliced_w2", out_sw2(&out))
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
        .set("n_target", target.rows())
        .set("d", d);
    let subset = match feature_cols {
        Some(cols) => {
            let sub = distribution_metrics(
                &columns(&mapped, &cols),
                &columns(&target, &cols),
                k,
                seed,
                &mmd_rows,
            )
            .with("features", cols.len());
            Some(sub)
        }
        None => None,
    };
    if let Some(s) = &subset {
        out.set("subset", s.clone());
    }
    if json {
        out!("{}", out.render());
    } else if let Json::Obj(kv) = &out {
        for (key, v) in kv {
            match v {
                Json::Num(x) => out!("{key:>16}  {}", fmt_num(*x)),
                Json::Null => out!("{key:>16}  -"),
                Json::Bool(b) => out!("{key:>16}  {b}"),
                Json::Str(t) => out!("{key:>16}  {t}"),
                Json::Obj(sub) => {
                    out!("{key:>16}:");
                    for (k2, v2) in sub {
                        if let Json::Num(x) = v2 {
                            out!("{:>16}  {}", format!("{key}.{k2}"), fmt_num(*x));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}
