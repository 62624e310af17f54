//! `monge experiment scrna`: the synthetic single-cell table of \[C25\] (see `monge::experiments`).

use super::args::Args;
use super::common::ProgressPrinter;
use super::fit::default_threads;
use super::json::Json;
use monge::experiments::{scrna_experiment, ScrnaExperiment};
use monge::ot::Progress;
use monge::{Error, Result};

/// Help text of `monge experiment`.
pub const HELP: &str = "\
monge experiment — reproduce a seed paper's table

USAGE:
    monge experiment scrna [--reduced] [--cells N] [--genes D] [--affected K] [--noise-genes M] [--seed S]
                           [--iters N] [--threads N] [--json] [--quiet]

The synthetic scRNA experiment of 'Displacement-Sparse Neural OT': mean displacement dimensionality (and
Q3, sliced W2 and MMD to the target, error against the hidden counterfactual, precision/recall of moved
genes, run time) for identity, mean shift, ICNN OT, ICNN + smoothed L0 at three λ, Alg. 2 with budgets
1.5k and 1.2k, and the elastic-L1 Sinkhorn map. Default: the paper's size (2000 cells, 3000 genes, k = 100,
2000 noise genes); --reduced: 1000 cells, 500 genes, k = 20, 300 noise genes.";

/// Runs `monge experiment`.
pub fn run(mut a: Args) -> Result<()> {
    let kind = a.positional();
    if a.flag("help") {
        super::common::print_help(HELP);
        return Ok(());
    }
    match kind.as_deref() {
        Some("scrna") => {}
        Some(other) => {
            return Err(Error::Usage(format!(
                "unknown experiment {} (expected scrna)",
                monge::io::quote(other, 60)
            )))
        }
        None => return Err(Error::Usage("monge experiment needs a name: scrna".into())),
    }
    let mut cfg = if a.flag("reduced") {
        ScrnaExperiment::reduced()
    } else {
        ScrnaExperiment::full()
    };
    cfg.data.cells = a.get_or("cells", cfg.data.cells)?;
    cfg.data.genes = a.get_or("genes", cfg.data.genes)?;
    if let Some(k) = a.get::<usize>("affected")? {
        cfg.data.affected = k;
        cfg.budgets = vec![1.5 * k as f64, 1.2 * k as f64];
    }
    cfg.data.noise_genes = a.get_or("noise-genes", cfg.data.noise_genes)?;
    cfg.data.seed = a.get_or("seed", cfg.data.seed)?;
    cfg.iterations = a.get_or("iters", cfg.iterations)?;
    cfg.threads = a.threads(default_threads())?;
    let json = a.flag("json");
    let quiet = a.flag("quiet");
    a.finish()?;
    // the generated sets (control, counterfactual, perturbed) and the maps' outputs, in f64
    super::args::check_memory(
        &format!("--cells {} --genes {}", cfg.data.cells, cfg.data.genes),
        8.0 * cfg.data.cells as f64 * cfg.data.genes as f64 * 8.0,
    )?;
    let mut printer = ProgressPrinter::new(quiet);
    let mut progress = |p: &Progress| printer.report(p);
    let rows = scrna_experiment(&cfg, &mut progress)?;
    if json {
        let arr: Vec<Json> = rows
            .iter()
            .map(|r| {
                Json::obj()
                    .with("name", r.name.as_str())
                    .with("lambda", r.lambda)
                    .with("dim_mean", r.dim_mean)
                    .with("dim_q3", r.dim_q3)
                    .with("sw2", r.sw2)
                    .with("mmd", r.mmd)
                    .with("mse_counterfactual", r.mse_counterfactual)
                    .with("precision", r.precision)
                    .with("recall", r.recall)
                    .with("iterations", r.iterations)
                    .with("seconds", r.seconds)
            })
            .collect();
        let out = Json::obj()
            .with("cells", cfg.data.cells)
            .with("genes", cfg.data.genes)
            .with("affected", cfg.data.affected)
            .with("noise_genes", cfg.data.noise_genes)
            .with("rows", Json::Arr(arr));
        out!("{}", out.render());
    } else {
        out!(
            "synthetic scRNA: {} cells, {} genes, k = {} affected, {} noise genes (threshold 1)",
            cfg.data.cells,
            cfg.data.genes,
            cfg.data.affected,
            cfg.data.noise_genes
        );
        out!(
            "{:<36} {:>9} {:>8} {:>7} {:>9} {:>9} {:>11} {:>6} {:>6} {:>8}",
            "map",
            "λ",
            "dim",
            "Q3",
            "SW2",
            "MMD",
            "MSE(x*)",
            "prec",
            "rec",
            "seconds"
        );
        for r in &rows {
            out!(
                "{:<36} {:>9} {:>8.1} {:>7.1} {:>9.4} {:>9.2e} {:>11.3} {:>6.3} {:>6.3} {:>8.1}",
                r.name,
                r.lambda.map_or("-".to_string(), |l| format!("{l:.3}")),
                r.dim_mean,
                r.dim_q3,
                r.sw2,
                r.mmd,
                r.mse_counterfactual,
                r.precision,
                r.recall,
                r.seconds
            );
        }
    }
    Ok(())
}
