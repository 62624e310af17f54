//! `monge eval`: every SPEC §4 metric between a mapped set and a target set. The report is composed in
//! the library ([`monge::metrics::evaluation`], which Python's `monge.evaluate` returns as a dict); this
//! file reads the files and the options and prints the report as JSON or as text.

use super::args::check_memory;
use super::args::Args;
use super::common::{fmt_num, load, load_named, read_text};
use monge::linalg::Mat;
use monge::metrics::evaluation::{self, EvalOptions, EvalSets, Named};
use monge::report::Value;
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
    let text = read_text(
        path,
        MAX_NAMES_BYTES,
        "a list of feature names (a regular text file of at most 256 MiB, one name per line)",
    )?;
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

/// A table with one line per row (map, baselines) and one column per metric, for the text output.
fn table(title: &str, rows: &[(&str, &Value)], keys: &[&str]) -> String {
    let mut t = format!("{title}\n{:>14}", "");
    for k in keys {
        t.push_str(&format!(" {k:>13}"));
    }
    for (name, o) in rows {
        t.push_str(&format!("\n{name:>14}"));
        for k in keys {
            let v = match o.num(k).filter(|x| x.is_finite()) {
                Some(x) => fmt_num(x),
                None => "-".into(),
            };
            t.push_str(&format!(" {v:>13}"));
        }
    }
    t
}

/// A value of the text output: a number as `fmt_num` writes it, null as `-`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("-".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Str(t) => Some(t.clone()),
        v => v.as_f64().map(fmt_num),
    }
}

/// The report as text: one line per key (a subset's keys as `key.metric`), the top genes, and with
/// baselines a table of every row.
fn print_text(out: &Value) -> Result<()> {
    let Value::Obj(kv) = out else {
        return Ok(());
    };
    for (key, v) in kv {
        match v {
            Value::Obj(sub) if key != "baselines" => {
                out!("{key:>16}:");
                for (k2, v2) in sub {
                    if let (Some(t), Value::Null | Value::Num(_) | Value::Int(_)) = (text(v2), v2) {
                        out!("{:>16}  {t}", format!("{key}.{k2}"));
                    }
                }
            }
            Value::Obj(_) | Value::Arr(_) => {}
            v => out!("{key:>16}  {}", text(v).unwrap_or_default()),
        }
    }
    if let Some(Value::Arr(ns)) = out.get("top_genes").and_then(|t| t.get("names")) {
        let list: Vec<String> = ns
            .iter()
            .map(|v| match v {
                Value::Str(s) => s.clone(),
                Value::Int(j) => j.to_string(),
                _ => String::new(),
            })
            .collect();
        out!(
            "top_genes ({} by |mean(target) − mean(source)|, largest first): {}",
            list.len(),
            list.join(", ")
        );
    }
    let Some(Value::Obj(baselines)) = out.get("baselines") else {
        return Ok(());
    };
    let mut rows: Vec<(&str, &Value)> = vec![("map", out)];
    rows.extend(baselines.iter().map(|(n, r)| (n.as_str(), r)));
    let keys = [
        "mmd", "sw2", "w2sq", "r2", "r2_delta", "l2_means", "dim_mean",
    ];
    let d = out.num("d").map_or(0, |x| x as usize);
    out!("{}", table(&format!("all {d} features:"), &rows, &keys));
    for key in ["subset", "top_genes"] {
        let Some(n) = out
            .get(key)
            .and_then(|s| s.num("features"))
            .map(|x| x as usize)
        else {
            continue;
        };
        let sub_rows: Vec<(&str, &Value)> = rows
            .iter()
            .filter_map(|(n, o)| o.get(key).map(|s| (*n, s)))
            .collect();
        out!(
            "{}",
            table(
                &format!("{key} ({n} features):"),
                &sub_rows,
                &["mmd", "sw2", "r2", "r2_delta", "l2_means"]
            )
        );
    }
    Ok(())
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
    let def = EvalOptions::default();
    let mut opts = EvalOptions {
        features: None,
        top_genes: a.get("top-genes")?,
        baselines: a.flag("baselines"),
        threshold: a.get_or("threshold", def.threshold)?,
        projections: a.get_or("projections", def.projections)?,
        seed: a.get_or("seed", def.seed)?,
        max_cells: a.get_or("max-cells", def.max_cells)?,
    };
    let json = a.flag("json");
    a.finish()?;
    opts.validate(source_path.is_some(), &|o| format!("--{o}"))?;

    let (mapped, mapped_names): (Mat<f64>, _) = load_named(&mapped_path)?;
    let (target, target_names): (Mat<f64>, _) = load_named(&target_path)?;
    super::common::same_dim(&mapped_path, mapped.cols(), &target_path, target.cols())?;
    let d = mapped.cols();
    let (n, m, k) = (
        mapped.rows() as f64,
        target.rows() as f64,
        opts.projections as f64,
    );
    check_memory(
        &format!("--projections {}", opts.projections),
        8.0 * (k * (d as f64 + n + m) + (n + m) * d as f64),
    )?;
    let (source, source_names) = match &source_path {
        Some(sp) => {
            let (s, names): (Mat<f64>, _) = load_named(sp)?;
            (Some(Named::new(s, sp.as_str())), names)
        }
        None => (None, None),
    };
    let load_opt = |p: &Option<String>| -> Result<Option<Named>> {
        p.as_ref()
            .map(|p| Ok(Named::new(load::<f64>(p)?, p.as_str())))
            .transpose()
    };
    let names = match &names_path {
        Some(np) => Some(read_var_names(np, d)?),
        None => target_names.or(source_names).or(mapped_names),
    };
    opts.features = features
        .as_deref()
        .map(|f| parse_features(f, d, names.as_deref()))
        .transpose()?;
    let sets = EvalSets {
        mapped: Named::new(mapped, mapped_path.as_str()),
        target: Named::new(target, target_path.as_str()),
        source,
        true_mapped: load_opt(&true_path)?,
        heldout_target: load_opt(&heldout_path)?,
        var_names: names,
    };
    let cap = opts.max_cells;
    let rows = |s: &Option<Named>| s.as_ref().map_or(0, |s| s.data.rows());
    let (n_mapped, n_target) = (sets.mapped.data.rows(), sets.target.data.rows());
    if n_mapped.max(n_target).max(rows(&sets.heldout_target)) > cap {
        say!(
            "monge: note: MMD on a seeded subsample of {} mapped and {} target rows (--max-cells {cap})",
            n_mapped.min(cap),
            n_target.min(cap)
        );
    }
    if let Some(kk) = opts.top_genes.filter(|&kk| kk > d) {
        say!("monge: note: --top-genes {kk} is more than the {d} features: all are used");
    }
    let out = evaluation::evaluate(sets, &opts)?;
    if json {
        out!("{}", out.render());
    } else {
        print_text(&out)?;
    }
    Ok(())
}
