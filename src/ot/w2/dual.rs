//! The held-out **W2 semi-dual** selection criterion (issue 13): how good a potential g is, measured by
//! the Kantorovich dual objective of g on held-out cells, with g's convex conjugate solved per cell.
//!
//! # The objective and why lower is better
//! For probability measures μ, ν with finite second moments (Brenier; Villani 2003, Thm 2.9),
//! ```text
//! ½ W2²(μ, ν) = ½ E_μ‖x‖² + ½ E_ν‖y‖² − min_{g convex} J(g),    J(g) = E_μ[g(x)] + E_ν[g*(y)],
//! ```
//! where `g*(y) = sup_x ⟨x, y⟩ − g(x)` is the convex conjugate, and the minimiser φ is the Brenier
//! potential, `∇φ = T*` (the optimal map). Fenchel–Young (`g(x) + g*(y) ≥ ⟨x, y⟩`) makes every convex g a
//! feasible dual point, so `J(g) ≥ J(φ)` for all g (for any g, in fact: integrate Fenchel–Young under the
//! optimal coupling): **the smaller J(g), the closer g is to the optimum**. With `g = φ + εh` and
//! `H = ∇²φ`, the sup defining `g*(y)` moves from `x_y = ∇φ*(y)` to `x_y + δ`; maximising
//! `φ*(y) − ½δᵀHδ − εh(x_y) − ε∇h(x_y)ᵀδ` over δ gives `δ = −εH⁻¹∇h` and
//! `g*(y) = φ*(y) − εh(x_y) + ½ε²∇hᵀH⁻¹∇h + O(ε³)`. Since `x_y ~ μ` when `y ~ ν`, the first-order terms
//! cancel in `J(g) = E_μ[φ + εh] + E_ν g*`, and
//! ```text
//! J(g) − J(φ) = ½ E_μ ⟨∇g − T*, (∇²φ)⁻¹ (∇g − T*)⟩ + O(ε³):
//! ```
//! J sees the map's squared L2 error itself, **weighted by the inverse Hessian of the Brenier potential**
//! (errors along directions the optimal map contracts count more), where L2-UVP weights every direction
//! alike and the sliced W2 between `∇g#μ` and ν sees only 1-D marginals of the image.
//!
//! # The estimator
//! On held-out cells `x_1..x_n` (source) and `y_1..y_m` (target), the same cells for every candidate:
//! ```text
//! Ĵ(g)  = 1/n Σ_i g(x_i) + 1/m Σ_j [⟨x̂_j, y_j⟩ − g(x̂_j)],   x̂_j ≈ argmax_x ⟨x, y_j⟩ − g(x),
//! value = 2 Ĵ(g) − 1/n Σ_i ‖x_i‖² − 1/m Σ_j ‖y_j‖²   ( = −Ŵ2², an estimate of −W2²(μ, ν) from below )
//! ```
//! The value is what [`crate::ot::train::Selector`] minimises. An additive constant in g cancels exactly
//! between the two means (`(g + c)* = g* − c`), so it needs no normalisation. The moment terms are the
//! same for every candidate: they only make the value readable (minus a W2² estimate, in the data's
//! units²) and give the selector's relative threshold a meaningful scale. Between two candidates on the
//! same cells the sampling noise is first order in their difference, `(Ê_μ − Ê_{∇φ*#ν})[g₁ − g₂]`, while
//! the signal is the second-order gap difference.
//!
//! The conjugate is solved in f64 on a copy of g (so the f32 training precision does not enter the
//! comparison), from the warm start `∇f(y_j)` (f is trained towards g*, so ∇f approximates the inverse
//! map), by the L-BFGS of [`crate::ot::conjugate`] on `F(x) = g(x) − ⟨x, y_j⟩` with memory
//! [`DUAL_MEMORY`], at most [`DUAL_STEPS`] iterations, per-row tolerance `‖∇g(x) − y_j‖ ≤`
//! [`DUAL_TOL`]`· √(Var ν)`. Any x̂ gives `⟨x̂, y⟩ − g(x̂) ≤ g*(y)`, so an inexact solve biases Ĵ **down**
//! (towards looking better); the solve runs from the warm start and only accepts steps that lower F, so
//! it never ends above its start, and [`DualValue::max_grad`] reports the worst residual. For a convex g
//! a residual r leaves an error of at most `½ r²/α` in g*(y).
//!
//! # Measured (issue 13; not the default)
//! Traces of `W2Config::monge()` at lr 1e-3 without the dimension scaling, known-map pairs seed 0,
//! n = 4096 per side (500 held out), the current iterate scored every 250 iterations (13 points):
//! Spearman correlation of each criterion with the iterate's L2-UVP, and the L2-UVP of the point it
//! would pick (`MONGE_KM_TRACE=1`, `tests/ot_w2_quality.rs`):
//!
//! | D | sliced W2, 200 dir. | sliced W2, 2000 dir. | semi-dual, 500 + 500 held out | semi-dual, all 4096 + 4096 | best point |
//! |---|---|---|---|---|---|
//! | 8 | −0.14 (0.528) | −0.17 (0.528) | 0.17 (0.528) | — | 0.489 |
//! | 32 | 0.78 (0.514) | 0.73 (0.514) | 0.54 (0.529) | 0.52 (0.529) | 0.490 (start) |
//! | 64 | 0.67 (0.582) | 0.63 (0.582) | 0.68 (0.582) | **0.97 (0.434, the start)** | 0.434 (start) |
//!
//! More directions do not help (the sliced criterion is limited by the 500 held-out cells, not by the
//! projections); the held-out semi-dual is as noisy as the sliced W2; on all cells it ranks the D = 64
//! trace almost exactly but at D = 32 it prefers the trained iterates (its inverse-Hessian weighting,
//! above, is not L2-UVP's), and its L-BFGS solve on 4096 cells ran to the 100-step cap with residuals up
//! to 0.7 (σ ≈ 19), costing ~23 s per evaluation. So the selection stays the sliced W2; this module is
//! the measuring instrument (and the semi-dual for callers who want it).
//!
//! Cost per evaluation: one forward pass of g over the n source cells, ∇f over the m target cells, and
//! the L-BFGS solve (≤ 1 + DUAL_STEPS·(1 + backtracking) batched evaluations of g and ∇g over m cells),
//! all in f64 on one thread; the buffers are sized once in [`DualEvaluator::new`].

use crate::linalg::{Mat, MatRef, Real};
use crate::nn::icnn::{Icnn, IcnnWorkspace};
use crate::ot::conjugate::{refine, ConjugateConfig, ConjugateSolver, ConjugateWorkspace};

/// L-BFGS memory of the conjugate solve.
pub const DUAL_MEMORY: usize = 10;
/// L-BFGS iterations at most.
pub const DUAL_STEPS: usize = 100;
/// Per-row tolerance on `‖∇g(x) − y‖₂` as a fraction of the held-out target's standard deviation
/// `√(Var ν)` (total variance).
pub const DUAL_TOL: f64 = 1e-6;

/// One evaluation of the semi-dual (module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DualValue {
    /// `2Ĵ(g) − mean‖x‖² − mean‖y‖²` (lower is better; = −Ŵ2²).
    pub value: f64,
    /// `mean_i g(x_i)`.
    pub mean_g: f64,
    /// `mean_j g*(y_j)` as solved.
    pub mean_conjugate: f64,
    /// Largest `‖∇g(x̂_j) − y_j‖₂` at the end of the solve.
    pub max_grad: f64,
    /// L-BFGS iterations of the solve.
    pub iterations: usize,
}

/// The semi-dual bound to held-out cells, with f64 copies of the potentials and every buffer.
#[derive(Clone, Debug)]
pub struct DualEvaluator {
    source: Mat<f64>,
    target: Mat<f64>,
    /// `mean‖x‖² + mean‖y‖²`.
    moments: f64,
    g: Icnn<f64>,
    f: Icnn<f64>,
    ws_src: IcnnWorkspace<f64>,
    ws_tgt: IcnnWorkspace<f64>,
    ws_f: IcnnWorkspace<f64>,
    conj_cfg: ConjugateConfig,
    conj: ConjugateWorkspace<f64>,
    xhat: Mat<f64>,
    vals: Vec<f64>,
}

/// An f64 network of `net`'s architecture (parameters copied by [`copy_params`]).
fn f64_like<T: Real>(net: &Icnn<T>) -> Icnn<f64> {
    let mut c = Icnn::<f64>::zeros(net.dim(), net.hidden(), net.output_activation())
        .with_activation(net.activation());
    if let Some(q) = net.quadratic() {
        c = c.with_quadratic(q.rank);
    }
    debug_assert_eq!(c.n_params(), net.n_params());
    c
}

fn copy_params<T: Real>(from: &Icnn<T>, to: &mut Icnn<f64>) {
    for (t, &v) in to.params_mut().iter_mut().zip(from.params()) {
        *t = v.to_f64();
    }
}

fn mean_sq_norm(m: &Mat<f64>) -> f64 {
    let s: f64 = m.as_slice().iter().map(|v| v * v).sum();
    s / m.rows().max(1) as f64
}

impl DualEvaluator {
    /// Binds the criterion to the held-out `source` and `target` (non-empty, same width) for potentials
    /// of the architecture of `g` (the map) and `f` (the target-side potential, for the warm start).
    pub fn new<T: Real>(
        source: MatRef<'_, T>,
        target: MatRef<'_, T>,
        g: &Icnn<T>,
        f: &Icnn<T>,
    ) -> Self {
        assert!(source.rows() > 0 && target.rows() > 0, "dual: empty cells");
        let source = crate::ot::train::criterion::to_f64(source);
        let target = crate::ot::train::criterion::to_f64(target);
        let d = target.cols();
        let m = target.rows();
        let mut mean = vec![0.0f64; d];
        for i in 0..m {
            for (a, v) in mean.iter_mut().zip(target.row(i)) {
                *a += v / m as f64;
            }
        }
        let var: f64 = (0..m)
            .map(|i| {
                target
                    .row(i)
                    .iter()
                    .zip(&mean)
                    .map(|(v, c)| (v - c) * (v - c))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / m as f64;
        let conj_cfg = ConjugateConfig {
            solver: ConjugateSolver::Lbfgs,
            steps: DUAL_STEPS,
            tol: DUAL_TOL * var.sqrt().max(f64::MIN_POSITIVE),
            memory: DUAL_MEMORY,
            ..ConjugateConfig::default()
        };
        let (g64, f64net) = (f64_like(g), f64_like(f));
        DualEvaluator {
            moments: mean_sq_norm(&source) + mean_sq_norm(&target),
            ws_src: g64.workspace(source.rows()),
            ws_tgt: g64.workspace(m),
            ws_f: f64net.workspace(m),
            conj: ConjugateWorkspace::new(&conj_cfg, m, d),
            conj_cfg,
            xhat: Mat::zeros(m, d),
            vals: vec![0.0; source.rows().max(m)],
            g: g64,
            f: f64net,
            source,
            target,
        }
    }

    /// The semi-dual of `g`, warm-started from `∇f` (module doc).
    pub fn eval<T: Real>(&mut self, g: &Icnn<T>, f: &Icnn<T>) -> DualValue {
        copy_params(g, &mut self.g);
        copy_params(f, &mut self.f);
        let (n, m) = (self.source.rows(), self.target.rows());
        // mean_i g(x_i)
        self.g
            .value(self.source.view(), &mut self.ws_src, &mut self.vals[..n]);
        let mean_g = self.vals[..n].iter().sum::<f64>() / n as f64;
        // warm start x̂ = ∇f(y), then L-BFGS on g(x) − ⟨x, y⟩
        self.f
            .grad_x(self.target.view(), &mut self.ws_f, self.xhat.view_mut());
        let stats = refine(
            &self.conj_cfg,
            &self.g,
            self.target.view(),
            self.xhat.view_mut(),
            &mut self.ws_tgt,
            &mut self.conj,
        );
        self.g
            .value(self.xhat.view(), &mut self.ws_tgt, &mut self.vals[..m]);
        let mut conj = 0.0f64;
        for j in 0..m {
            let xy: f64 = self
                .xhat
                .row(j)
                .iter()
                .zip(self.target.row(j))
                .map(|(a, b)| a * b)
                .sum();
            conj += xy - self.vals[j];
        }
        let mean_conjugate = conj / m as f64;
        DualValue {
            value: 2.0 * (mean_g + mean_conjugate) - self.moments,
            mean_g,
            mean_conjugate,
            max_grad: stats.max_grad,
            iterations: stats.iterations,
        }
    }
}
