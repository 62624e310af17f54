//! Synthetic scRNA perturbation data, exactly as \[C25\]'s `hd-data-gen.py` (SPEC §7.5).
//!
//! With n cells, d genes, k "drastic" genes and r "noise" genes:
//! 1. control `X ~ U(0, 1)^{n×d}` (drawn row-major);
//! 2. drastic gene set D: k distinct genes drawn uniformly without replacement; for every cell i and
//!    g ∈ D, `X'_ig = X_ig + 100·U(0, 1)`;
//! 3. noise gene set N: r distinct genes drawn without replacement, independently of D (the sets may
//!    overlap); for every cell and g ∈ N, `X'_ig += U(0, 1)`.
//!
//! `X'` row i is the true counterfactual of control cell i. The solver sees the perturbed side unpaired:
//! `perturbed` row r is `X'` row `perm[r]` for a uniformly random permutation. Ground-truth displacement
//! dimensionality at threshold 1 is ≈ k (a drastic increment exceeds 1 with probability 0.99; a noise
//! increment never does).
//!
//! Streams: everything of steps 1–3 from stream `DATA` of the seed, in that order (index sets by a partial
//! Fisher–Yates shuffle of 0..d; each set is returned sorted); the row permutation from stream `DATA_2`.
//!
//! # A low-rank effect ([`DrasticShift::LowRank`], not in \[C25\])
//! Step 2 draws the drastic increments independently per gene, so the effect spans all k directions of
//! D. To model a perturbation acting through R programmes instead (the setting where a latent space
//! helps), step 2 becomes, with R ≥ 1:
//! - loadings: for each g ∈ D (in draw order) `e_g ~ U(0, 1)^R`, `w_g = e_g / Σ_r e_gr` (a point of the
//!   simplex);
//! - for every cell i, factors `u_i ~ U(0, 1)^R`, and for g ∈ D `X'_ig = X_ig + 100 · w_gᵀ u_i`.
//!
//! Each increment still lies in [0, 100) with mean 50, but `X'_i − X_i` restricted to D is
//! `100 · W u_i` (W = k × R): a rank-R effect. Draws in that order from stream `DATA` (the loadings
//! gene-major, then each cell's R factors), step 3 unchanged after them.

use crate::linalg::{Mat, Real};
use crate::random::{streams, Stream};
use crate::{Error, Result};

/// Sizes and seed of a synthetic scRNA instance. `Default` is the paper's setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrnaConfig {
    /// Cells per side (n; default 2000).
    pub cells: usize,
    /// Genes (d; default 3000).
    pub genes: usize,
    /// Drastically affected genes (k; default 100).
    pub affected: usize,
    /// Genes with small noise (default 2000).
    pub noise_genes: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for ScrnaConfig {
    fn default() -> Self {
        ScrnaConfig {
            cells: 2000,
            genes: 3000,
            affected: 100,
            noise_genes: 2000,
            seed: 0,
        }
    }
}

/// A synthetic perturbation instance (module doc).
#[derive(Clone, Debug)]
pub struct ScrnaData<T> {
    /// Control cells (n × d).
    pub control: Mat<T>,
    /// Perturbed cells, rows shuffled: row r is `counterfactual` row `perm[r]`.
    pub perturbed: Mat<T>,
    /// The true counterfactual of each control cell, row-aligned with `control`.
    pub counterfactual: Mat<T>,
    /// The hidden pairing (see `perturbed`).
    pub perm: Vec<usize>,
    /// Drastically affected gene indices, sorted.
    pub affected: Vec<usize>,
    /// Noise gene indices, sorted.
    pub noise: Vec<usize>,
}

/// How step 2 draws the drastic increments (module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DrasticShift {
    /// \[C25\]: `100·U(0, 1)` independently per cell and gene.
    #[default]
    Independent,
    /// `100 · w_gᵀ u_i` with R factors per cell (a rank-R effect).
    LowRank(usize),
}

/// Generates the instance of `cfg` (module doc). Errors if a size is zero or a gene set is larger than d.
pub fn synthetic_scrna<T: Real>(cfg: &ScrnaConfig) -> Result<ScrnaData<T>> {
    synthetic_scrna_with(cfg, DrasticShift::Independent)
}

/// [`synthetic_scrna`] with the drastic increments drawn as `shift` says (module doc). Errors also on a
/// rank of 0.
pub fn synthetic_scrna_with<T: Real>(
    cfg: &ScrnaConfig,
    shift: DrasticShift,
) -> Result<ScrnaData<T>> {
    let (n, d) = (cfg.cells, cfg.genes);
    if shift == DrasticShift::LowRank(0) {
        return Err(Error::Usage(
            "synthetic scRNA: the rank of a low-rank shift must be at least 1".into(),
        ));
    }
    if n == 0 || d == 0 {
        return Err(Error::Usage(format!(
            "synthetic scRNA needs cells > 0 and genes > 0 (got {n} cells, {d} genes)"
        )));
    }
    if cfg.affected > d || cfg.noise_genes > d {
        return Err(Error::Usage(format!(
            "synthetic scRNA: affected ({}) and noise ({}) gene counts must not exceed genes ({d})",
            cfg.affected, cfg.noise_genes
        )));
    }
    let mut rng = Stream::new(cfg.seed, streams::DATA);
    // 1. control ~ U(0, 1)
    let mut control = Mat::<f64>::zeros(n, d);
    rng.fill_uniform(control.as_mut_slice(), 0.0, 1.0);
    let mut cf = control.clone();
    // 2. drastic genes: + 100·U(0, 1), or + 100·w_gᵀu_i
    let affected = choose_without_replacement(d, cfg.affected, &mut rng);
    match shift {
        DrasticShift::Independent => add_uniform(&mut cf, &affected, 100.0, &mut rng),
        DrasticShift::LowRank(r) => add_low_rank(&mut cf, &affected, r, 100.0, &mut rng),
    }
    // 3. noise genes: + U(0, 1)
    let noise = choose_without_replacement(d, cfg.noise_genes, &mut rng);
    add_uniform(&mut cf, &noise, 1.0, &mut rng);
    let mut perm: Vec<usize> = (0..n).collect();
    Stream::new(cfg.seed, streams::DATA_2).shuffle(&mut perm);
    let perturbed = cf.select_rows(&perm);
    let (mut affected, mut noise) = (affected, noise);
    affected.sort_unstable();
    noise.sort_unstable();
    Ok(ScrnaData {
        control: control.cast(),
        perturbed: perturbed.cast(),
        counterfactual: cf.cast(),
        perm,
        affected,
        noise,
    })
}

/// k distinct indices of 0..n, uniformly (partial Fisher–Yates), in draw order.
fn choose_without_replacement(n: usize, k: usize, rng: &mut Stream) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + rng.below(n - i);
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool
}

/// `x[i, g] += scale·U(0, 1)` for every cell i and g in `genes` (cell-major order of draws).
fn add_uniform(x: &mut Mat<f64>, genes: &[usize], scale: f64, rng: &mut Stream) {
    for i in 0..x.rows() {
        let row = x.row_mut(i);
        for &g in genes {
            row[g] += scale * rng.uniform_f64();
        }
    }
}

/// `x[i, g] += scale · w_gᵀ u_i` for g in `genes` (module doc, "A low-rank effect").
fn add_low_rank(x: &mut Mat<f64>, genes: &[usize], r: usize, scale: f64, rng: &mut Stream) {
    let mut w = vec![0.0; genes.len() * r];
    for wg in w.chunks_exact_mut(r) {
        wg.iter_mut().for_each(|e| *e = rng.uniform_f64());
        let sum: f64 = wg.iter().sum();
        if sum > 0.0 {
            wg.iter_mut().for_each(|e| *e /= sum);
        } else {
            wg.fill(1.0 / r as f64);
        }
    }
    let mut u = vec![0.0; r];
    for i in 0..x.rows() {
        u.iter_mut().for_each(|v| *v = rng.uniform_f64());
        let row = x.row_mut(i);
        for (&g, wg) in genes.iter().zip(w.chunks_exact(r)) {
            row[g] += scale * wg.iter().zip(&u).map(|(a, b)| a * b).sum::<f64>();
        }
    }
}
