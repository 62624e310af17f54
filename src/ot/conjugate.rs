//! Conjugate refinement for the W2 minimax (Amos 2023, "On amortizing convex conjugates for optimal
//! transport"; issue 13).
//!
//! # What is refined
//! In monge's minimax ([`crate::ot::w2`]) f is the potential on the target side and g amortises its convex
//! conjugate: the g loss `f(∇g(x)) − ⟨x, ∇g(x)⟩` is minimised by `∇g(x) = y*(x)`, where
//! ```text
//! y*(x) = argmax_y ⟨x, y⟩ − f(y)        (so f*(x) = ⟨x, y*⟩ − f(y*), ∇f*(x) = y*)
//! ```
//! (the issue's `x*(y) = argmax ⟨x, y⟩ − g(x)` with the roles of the names exchanged). When the f step uses
//! the amortised guess `ŷ = ∇g(x)` in `L_f = mean f(y) − mean f(ŷ)`, f is trained against a wrong conjugate
//! whenever g lags behind; Amos refines the guess per sample before the f step. By Danskin's theorem the
//! gradient of `f*(x)` in f's parameters at the exact maximiser is `−∂f(y*)/∂θ` (y* held fixed), so the
//! f step stays the same two value-gradient passes with ŷ replaced by the refined y*.
//!
//! # The solve, per row of a batch
//! Minimise the convex `F(y) = f(y) − ⟨x, y⟩`, gradient `G(y) = ∇f(y) − x`, from `y₀ = ∇g(x)`; a row stops
//! when `‖G‖₂ ≤ tol`, the batch after `steps` iterations (or when every row has stopped). One batched
//! evaluation (f forward, backward, `E A`) gives F and G for every row.
//! - [`ConjugateSolver::Lbfgs`]: limited-memory BFGS with memory `memory` per row (two-loop recursion:
//!   `q = G`; newest to oldest `α_k = ρ_k s_kᵀq`, `q −= α_k t_k`; `r = γ q` with
//!   `γ = s_newᵀt_new / t_newᵀt_new` (1 without memory); oldest to newest `β = ρ_k t_kᵀ r`,
//!   `r += (α_k − β) s_k`; direction `p = −r`, where `s_k = y_{k+1} − y_k`, `t_k = G_{k+1} − G_k`,
//!   `ρ_k = 1/(t_kᵀs_k)`, pairs with `t_kᵀs_k ≤ 1e-10·‖s_k‖‖t_k‖` dropped). If p is not a descent direction
//!   (`Gᵀp ≥ 0`) the row's memory is cleared and `p = −G`. Step length by backtracking from 1 (halving, at
//!   most 10 times) until Armijo's `F(y + a p) ≤ F(y) + 1e-4 · a · Gᵀp`; a row whose search fails keeps y.
//! - [`ConjugateSolver::Adam`]: `steps` Adam steps on F per row (rate `adam_lr`, β = (0.9, 0.999)); the
//!   last iterate is kept only where it lowered F.
//!
//! # Amortisation (the g step)
//! - [`Amortization::Objective`]: g keeps the minimax loss `f(∇g(x)) − ⟨x, ∇g(x)⟩` (no solve in the g step).
//! - [`Amortization::Regression`]: g regresses on the refined maximiser,
//!   `L_g = mean_x ½‖∇g(x) − y*(x)‖²` (y* held fixed), whose gradient is [`crate::nn::icnn::Icnn::map_param_grad`]
//!   with `V_i = (∇g(x_i) − y*_i)/B`; each g step then runs the solve on its batch.
//!
//! Workspaces are sized once per worker ([`ConjugateWorkspace::new`]); a solve allocates nothing.

use crate::linalg::{MatMut, MatRef, Real};
use crate::nn::icnn::{Icnn, IcnnWorkspace};
use crate::{Error, Result};

/// The regression residual of one row: `r ← r − target` in place (r holds ∇g(x) on entry), returning
/// `½‖r‖²` — the loss of [`Amortization::Regression`] before the 1/B scale and its seed V = r/B.
pub fn regression_residual<T: Real>(r: &mut [T], target: &[T]) -> T {
    let mut r2 = T::ZERO;
    for (rj, &tj) in r.iter_mut().zip(target) {
        *rj -= tj;
        r2 += *rj * *rj;
    }
    T::HALF * r2
}

/// How the conjugate is refined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConjugateSolver {
    /// The amortised guess ∇g(x) is used as is (CellOT).
    None,
    /// L-BFGS with backtracking.
    Lbfgs,
    /// Adam steps.
    Adam,
}

/// How g learns the conjugate (module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amortization {
    /// The minimax objective.
    Objective,
    /// Regression on the refined maximiser.
    Regression,
}

/// Options of the refinement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConjugateConfig {
    /// Solver (default none).
    pub solver: ConjugateSolver,
    /// Iterations at most (default 5).
    pub steps: usize,
    /// Per-row stopping tolerance on ‖∇f(y) − x‖₂ (default 1e-3).
    pub tol: f64,
    /// L-BFGS memory (default 5).
    pub memory: usize,
    /// Adam learning rate (default 1e-2).
    pub adam_lr: f64,
    /// The g loss (default objective).
    pub amortization: Amortization,
}

impl Default for ConjugateConfig {
    fn default() -> Self {
        ConjugateConfig {
            solver: ConjugateSolver::None,
            steps: 5,
            tol: 1e-3,
            memory: 5,
            adam_lr: 1e-2,
            amortization: Amortization::Objective,
        }
    }
}

impl ConjugateConfig {
    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(m));
        if self.solver != ConjugateSolver::None && self.steps == 0 {
            return bad("--conjugate-steps must be positive".into());
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return bad(format!(
                "--conjugate-tol must be ≥ 0 and finite, got {}",
                self.tol
            ));
        }
        if self.solver == ConjugateSolver::Lbfgs && self.memory == 0 {
            return bad("the L-BFGS memory must be positive".into());
        }
        if !(self.adam_lr.is_finite() && self.adam_lr > 0.0) {
            return bad(format!(
                "the conjugate Adam rate must be positive, got {}",
                self.adam_lr
            ));
        }
        if self.amortization == Amortization::Regression && self.solver == ConjugateSolver::None {
            return bad(
                "--amortization regression needs a conjugate solver (--conjugate lbfgs or adam)"
                    .into(),
            );
        }
        Ok(())
    }
    /// Whether a solve runs at all.
    pub fn active(&self) -> bool {
        self.solver != ConjugateSolver::None
    }
}

/// Parses `none`, `lbfgs` or `adam`.
pub fn solver_from_name(s: &str) -> Result<ConjugateSolver> {
    match s {
        "none" => Ok(ConjugateSolver::None),
        "lbfgs" => Ok(ConjugateSolver::Lbfgs),
        "adam" => Ok(ConjugateSolver::Adam),
        o => Err(Error::Usage(format!(
            "--conjugate: unknown '{o}' (expected none, lbfgs or adam)"
        ))),
    }
}

/// Parses `objective` or `regression`.
pub fn amortization_from_name(s: &str) -> Result<Amortization> {
    match s {
        "objective" => Ok(Amortization::Objective),
        "regression" => Ok(Amortization::Regression),
        o => Err(Error::Usage(format!(
            "--amortization: unknown '{o}' (expected objective or regression)"
        ))),
    }
}

/// What a solve did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SolveStats {
    /// Iterations run.
    pub iterations: usize,
    /// Batched f evaluations (forward + backward + ∇).
    pub evaluations: usize,
    /// Largest ‖∇f(y) − x‖₂ over the rows at the end.
    pub max_grad: f64,
    /// Mean decrease of F per row (f64).
    pub mean_decrease: f64,
}

/// Scratch of one solve for batches of at most `cap` rows in ℝᵈ.
#[derive(Clone, Debug)]
pub struct ConjugateWorkspace<T> {
    cap: usize,
    d: usize,
    m: usize,
    /// s_k and t_k (Adam: first and second moments), `m × cap × d` each.
    s: Vec<T>,
    t: Vec<T>,
    rho: Vec<T>,
    alpha: Vec<T>,
    /// Per row: pairs stored, index of the newest, converged flag, step.
    len: Vec<usize>,
    head: Vec<usize>,
    done: Vec<bool>,
    step: Vec<T>,
    /// F, G at y; trial point, its F and G; direction p.
    fv: Vec<T>,
    g: Vec<T>,
    y_try: Vec<T>,
    f_try: Vec<T>,
    g_try: Vec<T>,
    p: Vec<T>,
    accepted: Vec<bool>,
    f0: Vec<T>,
}

impl<T: Real> ConjugateWorkspace<T> {
    /// Sized for `cap` rows in dimension `d` with the given options.
    pub fn new(cfg: &ConjugateConfig, cap: usize, d: usize) -> Self {
        let m = match cfg.solver {
            ConjugateSolver::None => 0,
            ConjugateSolver::Lbfgs => cfg.memory,
            ConjugateSolver::Adam => 1,
        };
        let z = |n: usize| vec![T::ZERO; n];
        ConjugateWorkspace {
            cap,
            d,
            m,
            s: z(m * cap * d),
            t: z(m * cap * d),
            rho: z(m * cap),
            alpha: z(m * cap),
            len: vec![0; cap],
            head: vec![0; cap],
            done: vec![false; cap],
            step: z(cap),
            fv: z(cap),
            g: z(cap * d),
            y_try: z(cap * d),
            f_try: z(cap),
            g_try: z(cap * d),
            p: z(cap * d),
            accepted: vec![false; cap],
            f0: z(cap),
        }
    }
}

fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut s = T::ZERO;
    for (&x, &y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// One batch of conjugate problems: f, the batch x, the iterate y (the result) and f's workspace for
/// the batched evaluations.
struct Problem<'a, T: Real> {
    cfg: &'a ConjugateConfig,
    f: &'a Icnn<T>,
    x: MatRef<'a, T>,
    y: MatMut<'a, T>,
    fws: &'a mut IcnnWorkspace<T>,
}

impl<T: Real> Problem<'_, T> {
    /// F(y) = f(y) − ⟨x, y⟩ and G = ∇f(y) − x for every row of `y` (a contiguous `rows × d` buffer).
    fn evaluate(&mut self, y: &[T], fv: &mut [T], g: &mut [T]) {
        let (f, x) = (self.f, self.x);
        let (b, d) = (x.rows(), x.cols());
        let ym = MatRef::from_slice(&y[..b * d], b, d).unwrap();
        f.forward(ym, self.fws);
        f.backward(self.fws, None);
        f.input_grad(self.fws, MatMut::from_slice(&mut g[..b * d], b, d).unwrap());
        let vals = self.fws.values();
        for i in 0..b {
            let (xr, yr) = (x.row(i), &y[i * d..(i + 1) * d]);
            fv[i] = vals[i] - dot(xr, yr);
            for (gv, &xv) in g[i * d..(i + 1) * d].iter_mut().zip(xr) {
                *gv -= xv;
            }
        }
    }

    /// The start of both solvers: the iterate ← y₀ = y (the amortised guess), F(y₀) and G(y₀) for every
    /// row, F(y₀) kept as `f0`.
    fn start(&mut self, w: &mut ConjugateWorkspace<T>) {
        let (b, d) = (self.x.rows(), self.x.cols());
        for i in 0..b {
            w.y_try[i * d..(i + 1) * d].copy_from_slice(self.y.row_mut(i));
        }
        self.evaluate(&w.y_try, &mut w.fv, &mut w.g);
        w.f0[..b].copy_from_slice(&w.fv[..b]);
    }
}

/// Refines `y` (in: the amortised guess ∇g(x), out: the refined maximiser) for every row of `x`
/// (module doc). `fws` is f's workspace (capacity ≥ rows); on return it holds the evaluation at the
/// returned y only for the Adam solver's accepted rows, so callers run their own forward afterwards.
pub fn refine<T: Real>(
    cfg: &ConjugateConfig,
    f: &Icnn<T>,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
    fws: &mut IcnnWorkspace<T>,
    w: &mut ConjugateWorkspace<T>,
) -> SolveStats {
    let (b, d) = (x.rows(), x.cols());
    assert!(b <= w.cap && d == w.d, "conjugate workspace too small");
    assert!(y.rows() == b && y.cols() == d, "conjugate: y shape");
    if cfg.solver == ConjugateSolver::None {
        return SolveStats::default();
    }
    let mut p = Problem { cfg, f, x, y, fws };
    p.start(w);
    if cfg.solver == ConjugateSolver::Lbfgs {
        lbfgs(&mut p, w)
    } else {
        adam(&mut p, w)
    }
}

fn finish<T: Real>(w: &ConjugateWorkspace<T>, b: usize, iters: usize, evals: usize) -> SolveStats {
    let d = w.d;
    let mut mg = 0.0f64;
    let mut dec = 0.0f64;
    for i in 0..b {
        let gr = &w.g[i * d..(i + 1) * d];
        mg = mg.max(dot(gr, gr).to_f64().sqrt());
        dec += (w.f0[i] - w.fv[i]).to_f64();
    }
    SolveStats {
        iterations: iters,
        evaluations: evals,
        max_grad: mg,
        mean_decrease: dec / b.max(1) as f64,
    }
}

fn lbfgs<T: Real>(p: &mut Problem<'_, T>, w: &mut ConjugateWorkspace<T>) -> SolveStats {
    let (cfg, x) = (p.cfg, p.x);
    let (b, d, m) = (x.rows(), x.cols(), w.m);
    let tol = T::from_f64(cfg.tol);
    let c1 = T::from_f64(1e-4);
    let half = T::from_f64(0.5);
    let mut evals = 1; // the start's
    for i in 0..b {
        w.len[i] = 0;
        w.head[i] = 0;
        let gr = &w.g[i * d..(i + 1) * d];
        w.done[i] = dot(gr, gr).sqrt() <= tol;
    }
    let mut iters = 0;
    while iters < cfg.steps && w.done[..b].iter().any(|&c| !c) {
        iters += 1;
        // direction by the two-loop recursion
        for i in 0..b {
            if w.done[i] {
                continue;
            }
            let pr = i * d..(i + 1) * d;
            w.p[pr.clone()].copy_from_slice(&w.g[pr.clone()]);
            let n = w.len[i];
            for j in 0..n {
                let k = (w.head[i] + m - j) % m;
                let off = (k * w.cap + i) * d;
                let a = w.rho[k * w.cap + i] * dot(&w.s[off..off + d], &w.p[pr.clone()]);
                w.alpha[k * w.cap + i] = a;
                for c in 0..d {
                    w.p[i * d + c] -= a * w.t[off + c];
                }
            }
            if n > 0 {
                let off = (w.head[i] * w.cap + i) * d;
                let (s, t) = (&w.s[off..off + d], &w.t[off..off + d]);
                let gamma = dot(s, t) / dot(t, t);
                for v in &mut w.p[pr.clone()] {
                    *v *= gamma;
                }
            }
            for j in (0..n).rev() {
                let k = (w.head[i] + m - j) % m;
                let off = (k * w.cap + i) * d;
                let beta = w.rho[k * w.cap + i] * dot(&w.t[off..off + d], &w.p[pr.clone()]);
                let a = w.alpha[k * w.cap + i];
                for c in 0..d {
                    w.p[i * d + c] += (a - beta) * w.s[off + c];
                }
            }
            for v in &mut w.p[pr.clone()] {
                *v = -*v;
            }
            if dot(&w.g[pr.clone()], &w.p[pr.clone()]) >= T::ZERO {
                w.len[i] = 0;
                for c in 0..d {
                    w.p[i * d + c] = -w.g[i * d + c];
                }
            }
            w.step[i] = T::ONE;
            w.accepted[i] = false;
        }
        // backtracking line search, batched
        for i in 0..b {
            w.accepted[i] = w.done[i];
        }
        let yv = |y: &MatMut<'_, T>, i: usize, c: usize| y.get(i, c);
        for _ in 0..10 {
            for i in 0..b {
                for c in 0..d {
                    let base = yv(&p.y, i, c);
                    w.y_try[i * d + c] = if w.accepted[i] {
                        base
                    } else {
                        base + w.step[i] * w.p[i * d + c]
                    };
                }
            }
            p.evaluate(&w.y_try, &mut w.f_try, &mut w.g_try);
            evals += 1;
            let mut pending = false;
            for i in 0..b {
                if w.accepted[i] {
                    continue;
                }
                let pr = i * d..(i + 1) * d;
                let slope = dot(&w.g[pr.clone()], &w.p[pr.clone()]);
                if w.f_try[i] <= w.fv[i] + c1 * w.step[i] * slope {
                    // accept: store the pair (s, t) if its curvature is positive, move y
                    let (mut st, mut ss, mut tt) = (T::ZERO, T::ZERO, T::ZERO);
                    for c in 0..d {
                        let sv = w.step[i] * w.p[i * d + c];
                        let tv = w.g_try[i * d + c] - w.g[i * d + c];
                        st += sv * tv;
                        ss += sv * sv;
                        tt += tv * tv;
                    }
                    if st > T::from_f64(1e-10) * (ss * tt).sqrt() {
                        let k = if w.len[i] == 0 {
                            0
                        } else {
                            (w.head[i] + 1) % m
                        };
                        let off = (k * w.cap + i) * d;
                        for c in 0..d {
                            w.s[off + c] = w.step[i] * w.p[i * d + c];
                            w.t[off + c] = w.g_try[i * d + c] - w.g[i * d + c];
                        }
                        w.rho[k * w.cap + i] = T::ONE / st;
                        w.head[i] = k;
                        w.len[i] = (w.len[i] + 1).min(m);
                    }
                    for c in 0..d {
                        p.y.set(i, c, w.y_try[i * d + c]);
                    }
                    w.fv[i] = w.f_try[i];
                    w.g[pr.clone()].copy_from_slice(&w.g_try[pr.clone()]);
                    w.accepted[i] = true;
                    let gr = &w.g[pr];
                    w.done[i] = dot(gr, gr).sqrt() <= tol;
                } else {
                    w.step[i] *= half;
                    pending = true;
                }
            }
            if !pending {
                break;
            }
        }
    }
    finish(w, b, iters, evals)
}

fn adam<T: Real>(p: &mut Problem<'_, T>, w: &mut ConjugateWorkspace<T>) -> SolveStats {
    let (cfg, x) = (p.cfg, p.x);
    let (b, d) = (x.rows(), x.cols());
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let lr = cfg.adam_lr;
    let tol = T::from_f64(cfg.tol);
    w.s[..b * d].fill(T::ZERO);
    w.t[..b * d].fill(T::ZERO);
    let mut evals = 1; // the start's
    let mut iters = 0;
    for k in 1..=cfg.steps {
        let mut all_done = true;
        for i in 0..b {
            let gr = &w.g[i * d..(i + 1) * d];
            w.done[i] = dot(gr, gr).sqrt() <= tol;
            all_done &= w.done[i];
        }
        if all_done {
            break;
        }
        iters = k;
        let (c1, c2) = (1.0 - b1.powi(k as i32), 1.0 - b2.powi(k as i32));
        let a = T::from_f64(lr * c2.sqrt() / c1);
        let (tb1, tb2) = (T::from_f64(b1), T::from_f64(b2));
        for i in 0..b {
            if w.done[i] {
                continue;
            }
            for c in i * d..(i + 1) * d {
                let gv = w.g[c];
                w.s[c] = tb1 * w.s[c] + (T::ONE - tb1) * gv;
                w.t[c] = tb2 * w.t[c] + (T::ONE - tb2) * gv * gv;
                w.y_try[c] -= a * w.s[c] / (w.t[c].sqrt() + T::from_f64(eps));
            }
        }
        p.evaluate(&w.y_try, &mut w.f_try, &mut w.g);
        w.fv[..b].copy_from_slice(&w.f_try[..b]);
        evals += 1;
    }
    // keep the iterate only where it lowered F
    for i in 0..b {
        if w.fv[i] < w.f0[i] {
            for c in 0..d {
                p.y.set(i, c, w.y_try[i * d + c]);
            }
        } else {
            w.fv[i] = w.f0[i];
        }
    }
    finish(w, b, iters, evals)
}
