//! Wasserstein-2 between point clouds (SPEC §4): sliced W2 by random projections, and exact W2² between
//! equal-size uniform samples by a linear assignment solver.
//!
//! # Sliced W2
//! For unit directions θ_1..θ_K (standard normal draws normalised), the projected samples `⟨x_i, θ_k⟩` and
//! `⟨y_j, θ_k⟩` are sorted and the one-dimensional W2² between the two uniform empirical measures is taken
//! exactly: with quantile functions F⁻¹, G⁻¹ (step functions with steps at i/n and j/m),
//! `W2²₁D = ∫₀¹ (F⁻¹(t) − G⁻¹(t))² dt`, a finite sum over the merged breakpoints (equal sizes: the mean of
//! the squared differences of the sorted values). [`sliced_w2sq`] returns `SW2² = mean_k W2²₁D(θ_k)`;
//! [`sliced_w2`] returns `SW2 = √SW2²`, which is POT's `sliced_wasserstein_distance(p = 2)` used by [C25]'s
//! annealing. The projections are one gemm `X Θᵀ` in f64.
//!
//! # Exact W2²
//! For x, y with n rows each and uniform weights, `W2² = min_σ 1/n Σ_i ‖x_i − y_σ(i)‖²` over permutations
//! (Birkhoff: the optimal plan of the linear program is a permutation). [`assignment`] solves the linear
//! assignment problem by shortest augmenting paths with dual potentials (the Hungarian method in the
//! Jonker–Volgenant form, Dijkstra over columns on reduced costs), O(n³) time, O(n²) memory; potentials
//! start from the column reduction `v_j = min_i c_ij`. The costs are f64 (`‖a‖² + ‖b‖² − 2a·b` by gemm,
//! clamped at 0); the reported value re-sums `‖x_i − y_σ(i)‖²` directly from the coordinates.

use super::to_f64;
use crate::linalg::{gemm, Mat, MatMut, MatRef, Op, Real};
use crate::random::Stream;
use crate::{Error, Result};

/// Largest sample size [`exact_w2sq`] accepts (the solver is O(n³)).
pub const EXACT_W2_MAX_N: usize = 2000;

/// Sliced W2 **squared**: the mean over `n_proj` random unit directions of the exact one-dimensional W2²
/// between the projected samples (see the module doc). Sizes may differ. Directions are drawn from `rng`.
///
/// Panics if a sample is empty, the feature counts differ, or `n_proj == 0`.
pub fn sliced_w2sq<T: Real>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    n_proj: usize,
    rng: &mut Stream,
) -> f64 {
    assert!(x.rows() > 0 && y.rows() > 0, "sliced_w2: empty sample");
    assert_eq!(x.cols(), y.cols(), "sliced_w2: feature counts differ");
    assert!(n_proj > 0, "sliced_w2: no projections");
    let d = x.cols();
    let theta = random_directions(n_proj, d, rng);
    let px = project(&to_f64(x), &theta);
    let py = project(&to_f64(y), &theta);
    let (n, m) = (x.rows(), y.rows());
    let mut a = vec![0.0f64; n];
    let mut b = vec![0.0f64; m];
    let mut total = 0.0;
    for k in 0..n_proj {
        for (i, v) in a.iter_mut().enumerate() {
            *v = px.get(i, k);
        }
        for (j, v) in b.iter_mut().enumerate() {
            *v = py.get(j, k);
        }
        a.sort_unstable_by(f64::total_cmp);
        b.sort_unstable_by(f64::total_cmp);
        total += w2sq_1d_sorted(&a, &b);
    }
    total / n_proj as f64
}

/// Sliced W2 (not squared): `√`[`sliced_w2sq`].
pub fn sliced_w2<T: Real>(
    x: MatRef<'_, T>,
    y: MatRef<'_, T>,
    n_proj: usize,
    rng: &mut Stream,
) -> f64 {
    sliced_w2sq(x, y, n_proj, rng).sqrt()
}

/// `K × d` matrix of independent uniform directions on the unit sphere (normalised Gaussians).
fn random_directions(k: usize, d: usize, rng: &mut Stream) -> Mat<f64> {
    let mut theta = Mat::zeros(k, d);
    for r in 0..k {
        loop {
            let row = theta.row_mut(r);
            for v in row.iter_mut() {
                *v = rng.normal_f64();
            }
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
                break;
            }
        }
    }
    theta
}

/// `X Θᵀ` (n × K).
fn project(x: &Mat<f64>, theta: &Mat<f64>) -> Mat<f64> {
    let mut p = Mat::zeros(x.rows(), theta.rows());
    gemm(1.0, x.view(), Op::N, theta.view(), Op::T, 0.0, p.view_mut());
    p
}

/// Exact W2² between the uniform empirical measures on sorted `a` (n values) and sorted `b` (m values):
/// `∫₀¹ (F⁻¹ − G⁻¹)²`, walking the merged breakpoints i/n, j/m in integer units of 1/(n·m).
pub(crate) fn w2sq_1d_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len(), b.len());
    if n == m {
        return a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>() / n as f64;
    }
    let (mut i, mut j, mut t) = (0usize, 0usize, 0u128);
    let mut acc = 0.0f64;
    let (n128, m128) = (n as u128, m as u128);
    while i < n && j < m {
        let ta = (i as u128 + 1) * m128; // breakpoint (i+1)/n in units of 1/(nm)
        let tb = (j as u128 + 1) * n128; // breakpoint (j+1)/m
        let next = ta.min(tb);
        let diff = a[i] - b[j];
        acc += (next - t) as f64 * diff * diff;
        t = next;
        if ta == next {
            i += 1;
        }
        if tb == next {
            j += 1;
        }
    }
    acc / (n as f64 * m as f64)
}

/// Exact W2² between two equal-size uniform samples: `min_σ 1/n Σ ‖x_i − y_σ(i)‖²` (see the module doc).
///
/// Errors: sizes differ, a sample is empty, feature counts differ, n > [`EXACT_W2_MAX_N`], or a
/// coordinate is not finite.
pub fn exact_w2sq<T: Real>(x: MatRef<'_, T>, y: MatRef<'_, T>) -> Result<f64> {
    let n = x.rows();
    if n != y.rows() {
        return Err(Error::Shape(format!(
            "exact W2 needs equal sample sizes, got {n} and {}",
            y.rows()
        )));
    }
    if n == 0 {
        return Err(Error::Shape("exact W2 of empty samples".into()));
    }
    if x.cols() != y.cols() {
        return Err(Error::Shape(format!(
            "exact W2: {} features vs {}",
            x.cols(),
            y.cols()
        )));
    }
    if n > EXACT_W2_MAX_N {
        return Err(Error::Usage(format!(
            "exact W2 is limited to n ≤ {EXACT_W2_MAX_N} samples (got {n}); use the sliced W2"
        )));
    }
    let (x, y) = (to_f64(x), to_f64(y));
    if !x
        .as_slice()
        .iter()
        .chain(y.as_slice())
        .all(|v| v.is_finite())
    {
        return Err(Error::data(
            "exact W2 input",
            None,
            None,
            "non-finite coordinate",
        ));
    }
    let cost = sq_dist_matrix(&x, &y);
    let sigma = assignment(cost.as_slice(), n);
    let total: f64 = (0..n)
        .map(|i| {
            x.row(i)
                .iter()
                .zip(y.row(sigma[i]))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum();
    Ok(total / n as f64)
}

/// `C_ij = ‖x_i − y_j‖²` by `‖x_i‖² + ‖y_j‖² − 2 x_i·y_j` (one gemm), clamped at 0.
fn sq_dist_matrix(x: &Mat<f64>, y: &Mat<f64>) -> Mat<f64> {
    let (n, m) = (x.rows(), y.rows());
    let mut c = Mat::zeros(n, m);
    gemm(
        -2.0,
        x.view(),
        Op::N,
        y.view(),
        Op::T,
        0.0,
        MatMut::from_slice(c.as_mut_slice(), n, m).expect("cost buffer"),
    );
    let ny: Vec<f64> = (0..m)
        .map(|j| y.row(j).iter().map(|v| v * v).sum())
        .collect();
    for i in 0..n {
        let nx: f64 = x.row(i).iter().map(|v| v * v).sum();
        for (v, &nyj) in c.row_mut(i).iter_mut().zip(&ny) {
            *v = (*v + nx + nyj).max(0.0);
        }
    }
    c
}

/// Minimum-cost perfect assignment of the n × n row-major cost matrix `cost` (finite entries):
/// returns `σ` with row i assigned to column `σ[i]`, minimising `Σ_i cost[i, σ(i)]`.
///
/// Shortest augmenting paths with dual potentials u (rows), v (columns), keeping `c_ij − u_i − v_j ≥ 0`
/// and tight on matched pairs; each phase adds one row by Dijkstra over the columns on reduced costs and
/// then shifts the potentials by the path lengths. O(n³) time, O(n) memory besides `cost`.
///
/// Panics if `cost.len() != n²`.
pub fn assignment(cost: &[f64], n: usize) -> Vec<usize> {
    assert_eq!(cost.len(), n * n, "assignment: cost is not n × n");
    const NONE: usize = usize::MAX;
    // Column potentials from the column reduction (feasible: u = 0, v_j = min_i c_ij).
    let mut v = vec![f64::INFINITY; n];
    for i in 0..n {
        for (vj, &c) in v.iter_mut().zip(&cost[i * n..(i + 1) * n]) {
            *vj = vj.min(c);
        }
    }
    let mut u = vec![0.0f64; n];
    let mut row_of = vec![NONE; n]; // column j → matched row
    let mut minv = vec![0.0f64; n]; // tentative shortest reduced distance to column j
    let mut way = vec![NONE; n]; // predecessor column of j on the path (NONE: the root row)
    let mut used = vec![false; n];
    let mut used_cols: Vec<usize> = Vec::with_capacity(n);
    for root in 0..n {
        minv.fill(f64::INFINITY);
        used.fill(false);
        used_cols.clear();
        // Dijkstra from row `root`; `cur_row` is the row reached through the last settled column.
        let mut cur_row = root;
        let mut cur_col = NONE;
        let mut dist_here = 0.0f64; // distance of cur_row from the root
        let end_col = loop {
            let ui = u[cur_row];
            let row = &cost[cur_row * n..(cur_row + 1) * n];
            let mut delta = f64::INFINITY;
            let mut next = NONE;
            for j in 0..n {
                if used[j] {
                    continue;
                }
                let cand = dist_here + row[j] - ui - v[j];
                if cand < minv[j] {
                    minv[j] = cand;
                    way[j] = cur_col;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    next = j;
                }
            }
            used[next] = true;
            used_cols.push(next);
            if row_of[next] == NONE {
                break next;
            }
            cur_col = next;
            cur_row = row_of[next];
            dist_here = delta;
            // Keep the settled column's reduced edge to its matched row tight: minv is the distance to the
            // column, and reaching its row costs 0 more (matched edges are tight), so dist_here = delta.
        };
        // Potential update (Dijkstra distances D): for settled columns j, v_j −= D_end − minv[j]; for rows
        // on the tree (the root and the rows of settled columns other than the end) u_i += D_end − D_i.
        let d_end = minv[end_col];
        u[root] += d_end;
        for &j in &used_cols {
            if j != end_col {
                let r = row_of[j];
                u[r] += d_end - minv[j];
            }
            v[j] -= d_end - minv[j];
        }
        // Augment along the predecessor chain.
        let mut j = end_col;
        loop {
            let pj = way[j];
            if pj == NONE {
                row_of[j] = root;
                break;
            }
            row_of[j] = row_of[pj];
            j = pj;
        }
    }
    let mut sigma = vec![NONE; n];
    for (j, &i) in row_of.iter().enumerate() {
        sigma[i] = j;
    }
    sigma
}
