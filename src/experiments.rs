//! Reproducible experiments of the seed papers, callable from the library, the CLI
//! (`monge experiment scrna`) and the tests.
//!
//! # The synthetic scRNA experiment of \[C25\] (issue 5)
//! Data: [`crate::data::scrna`] (control → perturbed, k drastically affected genes, noise genes). Each row
//! of the table trains one map from control to perturbed cells (unpaired) and measures, over all control
//! cells x with their images T(x):
//! - displacement dimensionality at threshold 1: the mean and Q3 over cells of `#{g : |T(x)_g − x_g| > 1}`
//!   (the paper's figures: ICNN OT 2480, Sinkhorn-L1 99, displacement-sparse ICNN 153 / 138 / 120 at
//!   d = 3000, k = 100);
//! - sliced W2 and MMD (the evaluation bandwidths of SPEC §7.7, γ = logspace(1, −3, 50); the training set
//!   γ ∈ {2 … 0.005} saturates at d = 3000, where every kernel between distinct cells vanishes) between
//!   T(control) and the perturbed cells;
//! - the mean squared error against the hidden counterfactual, `mean ‖T(x) − x*‖²`;
//! - precision / recall of the moved (cell, gene) pairs against the affected genes;
//! - wall time.
//!
//! Rows: identity and mean shift (context); ICNN OT without penalty; ICNN with the smoothed-L0 penalty
//! (σ = 1) at three λ; Alg. 2 with budgets `l` (default 1.5k and 1.2k, i.e. 150 and 120 at k = 100); the
//! elastic-L1 Sinkhorn map.

pub mod known_map;

use crate::data::scrna::{synthetic_scrna, ScrnaConfig, ScrnaData};
use crate::linalg::Mat;
use crate::metrics;
use crate::ot::anneal::{dim_budget, DimBudgetConfig, ReportingTrainee};
use crate::ot::baselines::MeanShift;
use crate::ot::penalty::Penalty;
use crate::ot::sinkhorn::{ElasticCost, ElasticSinkhornMap, SinkhornConfig};
use crate::ot::train::criterion;
use crate::ot::w2::{W2Config, W2Trainer};
use crate::ot::{ProgressFn, TransportMap};
use crate::parallel::Pool;
use crate::random::{streams, Stream};
use crate::Result;
use std::time::Instant;

/// Settings of [`scrna_experiment`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScrnaExperiment {
    /// The data (sizes and seed).
    pub data: ScrnaConfig,
    /// Outer iterations of each constant-λ ICNN row.
    pub iterations: usize,
    /// Mini-batch size (the paper's high-dimensional code: 128).
    pub batch: usize,
    /// Adam learning rate of both ICNNs.
    pub lr: f64,
    /// The three λ (batch-mean convention) of the smoothed-L0 rows.
    pub lambdas: Vec<f64>,
    /// Smoothed-L0 width σ (the paper: 1 on this data).
    pub sigma: f64,
    /// Alg. 2 budgets l.
    pub budgets: Vec<f64>,
    /// Alg. 2 settings other than the budget (warm-up, block length, λ₀, …).
    pub budget_cfg: DimBudgetConfig,
    /// Elastic-L1 Sinkhorn γ.
    pub sinkhorn_gamma: f64,
    /// Worker threads.
    pub threads: usize,
}

impl ScrnaExperiment {
    /// The paper's data size with a training budget that fits a session on 2 cores.
    pub fn full() -> Self {
        let k = 100.0;
        ScrnaExperiment {
            data: ScrnaConfig::default(),
            iterations: 3000,
            batch: 128,
            lr: 1e-3,
            lambdas: vec![0.1, 0.5, 2.0],
            sigma: 1.0,
            budgets: vec![1.5 * k, 1.2 * k],
            budget_cfg: DimBudgetConfig {
                lambda0: 0.1,
                warmup_iters: 1000,
                block_iters: 200,
                window: 50,
                max_increases: 20,
                t_min: 0.8,
                ..DimBudgetConfig::default()
            },
            sinkhorn_gamma: 1.0,
            threads: 2,
        }
    }

    /// The reduced configuration of issue 5 (n = 1000, d = 500, k = 20, 300 noise genes).
    pub fn reduced() -> Self {
        let k = 20.0;
        ScrnaExperiment {
            data: ScrnaConfig {
                cells: 1000,
                genes: 500,
                affected: 20,
                noise_genes: 300,
                seed: 0,
            },
            iterations: 2000,
            budgets: vec![1.5 * k, 1.2 * k],
            ..Self::full()
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrnaRow {
    /// What was trained.
    pub name: String,
    /// λ at the end (ICNN rows).
    pub lambda: Option<f64>,
    /// Mean displacement dimensionality (threshold 1).
    pub dim_mean: f64,
    /// Its 75% quantile.
    pub dim_q3: f64,
    /// Sliced W2 between T(control) and the perturbed cells.
    pub sw2: f64,
    /// MMD (evaluation γ set, SPEC §7.7) between the same.
    pub mmd: f64,
    /// mean ‖T(x) − x*‖² against the counterfactual.
    pub mse_counterfactual: f64,
    /// Precision of moved (cell, gene) pairs.
    pub precision: f64,
    /// Recall of moved (cell, gene) pairs.
    pub recall: f64,
    /// Outer iterations trained (0 for closed-form rows).
    pub iterations: usize,
    /// Wall seconds of the row (training and mapping).
    pub seconds: f64,
}

/// What the scores of a row are computed with: the projections' seed and the worker threads.
#[derive(Clone, Copy)]
struct Scoring {
    seed: u64,
    threads: usize,
}

fn measure(
    name: &str,
    data: &ScrnaData<f32>,
    mapped: &Mat<f32>,
    lambda: Option<f64>,
    iterations: usize,
    seconds: f64,
    at: Scoring,
) -> ScrnaRow {
    let Scoring { seed, threads } = at;
    let x = data.control.cast::<f64>();
    let tx = mapped.cast::<f64>();
    let y = data.perturbed.cast::<f64>();
    let cf = data.counterfactual.cast::<f64>();
    let (dim_mean, dim_q3) = metrics::displacement_dim(x.view(), tx.view(), 1.0);
    let mut rng = Stream::new(seed, streams::PROJECTIONS);
    let sw2 = metrics::sliced_w2(tx.view(), y.view(), 100, &mut rng);
    let mmd = criterion::mmd(tx.view(), y.view(), &metrics::mmd_gammas_eval(), threads);
    let n = x.rows();
    let mse = (0..n)
        .map(|i| {
            tx.row(i)
                .iter()
                .zip(cf.row(i))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n as f64;
    let pr = metrics::moved_genes_precision_recall(x.view(), tx.view(), &data.affected, 1.0);
    ScrnaRow {
        name: name.to_string(),
        lambda,
        dim_mean,
        dim_q3,
        sw2,
        mmd,
        mse_counterfactual: mse,
        precision: pr.precision,
        recall: pr.recall,
        iterations,
        seconds,
    }
}

/// Trains one constant-λ ICNN row.
fn icnn_row(
    name: &str,
    data: &ScrnaData<f32>,
    base: &W2Config,
    penalty: Penalty,
    lambda: f64,
    progress: ProgressFn<'_>,
) -> Result<ScrnaRow> {
    let t = Instant::now();
    let c = W2Config {
        penalty,
        lambda,
        ..base.clone()
    };
    let mut tr = W2Trainer::new(&data.control, &data.perturbed, &c)?;
    tr.run(c.iterations, progress)?;
    let m = tr
        .map()
        .transport_on(&data.control, &mut Pool::new(base.threads));
    let secs = t.elapsed().as_secs_f64();
    let seed = base.seed;
    Ok(measure(
        name,
        data,
        &m,
        Some(lambda),
        c.iterations,
        secs,
        Scoring {
            seed,
            threads: base.threads,
        },
    ))
}

/// Runs the whole table (see the module doc). `progress` receives the training reports of every row.
pub fn scrna_experiment(cfg: &ScrnaExperiment, progress: ProgressFn<'_>) -> Result<Vec<ScrnaRow>> {
    let data = synthetic_scrna::<f32>(&cfg.data)?;
    let seed = cfg.data.seed;
    let mut rows = Vec::new();
    let x = &data.control;
    let y = &data.perturbed;

    let t = Instant::now();
    rows.push(measure(
        "identity",
        &data,
        x,
        None,
        0,
        t.elapsed().as_secs_f64(),
        Scoring {
            seed,
            threads: cfg.threads,
        },
    ));
    let t = Instant::now();
    let ms = MeanShift::fit(x.view(), y.view())?;
    let m = ms.transport(x);
    rows.push(measure(
        "mean shift",
        &data,
        &m,
        None,
        0,
        t.elapsed().as_secs_f64(),
        Scoring {
            seed,
            threads: cfg.threads,
        },
    ));

    let base = W2Config {
        batch: cfg.batch,
        iterations: cfg.iterations,
        lr_f: cfg.lr,
        lr_g: cfg.lr,
        threads: cfg.threads,
        seed,
        eval_every: 0,
        heldout_fraction: 0.0,
        progress_every: 100,
        ..W2Config::default()
    };
    rows.push(icnn_row(
        "ICNN OT",
        &data,
        &base,
        Penalty::None,
        0.0,
        progress,
    )?);
    for &l in &cfg.lambdas {
        let name = format!("ICNN + smoothed L0 (λ = {l})");
        let pen = Penalty::SmoothedL0 { sigma: cfg.sigma };
        rows.push(icnn_row(&name, &data, &base, pen, l, progress)?);
    }
    for &budget in &cfg.budgets {
        let t = Instant::now();
        let bcfg = DimBudgetConfig {
            budget,
            seed,
            ..cfg.budget_cfg.clone()
        };
        let c = W2Config {
            penalty: Penalty::SmoothedL0 { sigma: cfg.sigma },
            lambda: bcfg.lambda0,
            ..base.clone()
        };
        let mut tr = W2Trainer::new(x, y, &c)?;
        let total = bcfg.warmup_iters + 20 * bcfg.block_iters;
        let rep = dim_budget(
            &mut ReportingTrainee::new(&mut tr, progress, base.progress_every, total),
            &bcfg,
        )?;
        let m = tr.map().transport_on(x, &mut Pool::new(cfg.threads));
        rows.push(measure(
            // (rounded for the label only: 1.2·6 prints as 7.199999999999999)
            &format!("ICNN Alg. 2 (l = {})", (budget * 1e9).round() / 1e9),
            &data,
            &m,
            Some(rep.final_lambda),
            rep.iterations,
            t.elapsed().as_secs_f64(),
            Scoring {
                seed,
                threads: cfg.threads,
            },
        ));
    }
    let t = Instant::now();
    let sk = ElasticSinkhornMap::fit(
        x.view(),
        y.view(),
        &SinkhornConfig {
            cost: ElasticCost::L1 {
                gamma: cfg.sinkhorn_gamma,
            },
            threads: cfg.threads,
            ..SinkhornConfig::default()
        },
    )?;
    let m = sk.transport_on(x, &mut crate::parallel::Pool::new(cfg.threads));
    rows.push(measure(
        &format!("Sinkhorn elastic L1 (γ = {})", cfg.sinkhorn_gamma),
        &data,
        &m,
        None,
        sk.report().map_or(0, |r| r.iterations),
        t.elapsed().as_secs_f64(),
        Scoring {
            seed,
            threads: cfg.threads,
        },
    ));
    Ok(rows)
}
