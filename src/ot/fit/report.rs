//! A fit's report as `monge fit --json` writes it and `monge.fit(...).report` returns it: one
//! composition of the keys for both (the caller adds `model`, `dtype` and `seconds`).
//!
//! The order: [`head`] (`method`, `n_source`, `n_target`, `d`), the method's own keys ([`method_keys`]),
//! then [`close`] (`stopped`, `heldout`, `criterion_description`).

use super::{FitReport, LambdaSchedule, Method};
use crate::linalg::pca::PcaMethod;
use crate::ot::anneal::AnnealReport;
use crate::ot::latent::LatentReport;
use crate::ot::sinkhorn::SinkhornReport;
use crate::ot::train::{HeldoutReport, Stopped};
use crate::ot::w1::W1Report;
use crate::ot::w2::W2Report;
use crate::report::Value;

/// `{"method", "n_source", "n_target", "d"}`: the head of every fit report.
pub fn head(method: &str, n_source: usize, n_target: usize, d: usize) -> Value {
    Value::obj()
        .with("method", method)
        .with("n_source", n_source)
        .with("n_target", n_target)
        .with("d", d)
}

/// The Sinkhorn cost's keys (`cost`, `gamma`), known before the fit.
pub fn cost_keys(out: &mut Value, method: &Method) {
    if let Method::Sinkhorn(cfg) = method {
        out.set("cost", cfg.cost.name())
            .set("gamma", cfg.cost.gamma());
    }
}

/// The method's own keys of `rep`: W2 ([`w2_keys`]), W2 under a λ schedule ([`schedule_keys`]), W1
/// ([`w1_keys`]), Sinkhorn ([`sinkhorn_keys`]), a latent fit (`latent`: [`latent`], and `iterations`).
pub fn method_keys(out: &mut Value, method: &Method, rep: &FitReport) {
    if let Some(l) = &rep.latent {
        out.set("latent", latent(l))
            .set("iterations", rep.iterations);
        return;
    }
    match (method, &rep.w2, &rep.schedule) {
        (Method::W2Schedule(s), Some(w), Some(a)) => {
            schedule_keys(out, &s.schedule, rep.iterations, w, a);
        }
        (_, Some(w), _) => w2_keys(out, w),
        _ => {}
    }
    if let Some(w) = &rep.w1 {
        w1_keys(out, w);
    }
    if let Some(s) = &rep.sinkhorn {
        sinkhorn_keys(out, s);
    }
}

/// W2's keys: `iterations`, `batch`, `best_iteration`, `lambda`, `half_w2sq_estimate`.
pub fn w2_keys(out: &mut Value, w: &W2Report) {
    out.set("iterations", w.iterations)
        .set("batch", w.batch)
        .set("best_iteration", w.best_iteration)
        .set("lambda", w.lambda)
        .set("half_w2sq_estimate", w.last.half_w2sq);
}

/// W2 under a λ schedule after `iterations` trainer iterations: `iterations`, `batch`, `lambda` (the
/// final λ), `half_w2sq_estimate`, and the trajectory under `anneal` or `max_dim` ([`schedule`]).
pub fn schedule_keys(
    out: &mut Value,
    s: &LambdaSchedule,
    iterations: usize,
    w: &W2Report,
    a: &AnnealReport,
) {
    let key = match s {
        LambdaSchedule::Anneal(_) => "anneal",
        LambdaSchedule::MaxDim(_) => "max_dim",
    };
    out.set("iterations", iterations)
        .set("batch", w.batch)
        .set("lambda", a.final_lambda)
        .set("half_w2sq_estimate", w.last.half_w2sq)
        .set(key, schedule(a));
}

/// W1's keys: `iterations` (both phases), `potential_iterations`, `gan_iterations`, `batch`,
/// `w1_estimate`, `grad_norm_fraction`.
pub fn w1_keys(out: &mut Value, w: &W1Report) {
    out.set("iterations", w.potential_iters + w.gan_iters)
        .set("potential_iterations", w.potential_iters)
        .set("gan_iterations", w.gan_iters)
        .set("batch", w.batch)
        .set("w1_estimate", w.w1_estimate)
        .set("grad_norm_fraction", w.grad_norm_fraction);
}

/// Sinkhorn's keys: `epsilon`, `iterations`, `marginal_error`, `converged`.
pub fn sinkhorn_keys(out: &mut Value, s: &SinkhornReport) {
    out.set("epsilon", s.epsilon)
        .set("iterations", s.iterations)
        .set("marginal_error", s.marginal_error)
        .set("converged", s.converged);
}

/// The latent space of a latent fit: `components`, `decode`, `inner`, `pca` (`exact` or
/// `randomized`), `pca_cells`, `explained_variance_ratio`, `max_residual`, `converged`, `pca_seconds`,
/// and `heldout`: the inner trainer's comparison in latent coordinates (the report's top-level
/// `heldout` is in gene space).
pub fn latent(l: &LatentReport) -> Value {
    let pca = match l.pca_method {
        PcaMethod::Randomized => "randomized",
        _ => "exact",
    };
    Value::obj()
        .with("components", l.components)
        .with("decode", l.decode.name())
        .with("inner", l.inner)
        .with("pca", pca)
        .with("pca_cells", l.pca_cells)
        .with("explained_variance_ratio", l.explained_variance_ratio)
        .with("max_residual", l.max_residual)
        .with("converged", l.converged)
        .with("pca_seconds", l.pca_seconds)
        .with("heldout", heldout(l.heldout.as_ref()))
}

/// The closing keys: `stopped` (iterative methods), `heldout`, and `criterion_description` with
/// held-out cells.
pub fn close(out: &mut Value, stopped: Option<Stopped>, h: Option<&HeldoutReport>) {
    if let Some(st) = stopped {
        out.set("stopped", st.name());
    }
    out.set("heldout", heldout(h));
    if let Some(h) = h {
        out.set("criterion_description", h.description.as_str());
    }
}

/// The λ schedule's trajectory.
pub fn schedule(rep: &AnnealReport) -> Value {
    let steps: Vec<Value> = rep
        .steps
        .iter()
        .map(|s| {
            Value::obj()
                .with("iteration", s.iteration)
                .with("lambda_before", s.lambda_before)
                .with("lambda_proposed", s.lambda_proposed)
                .with("accepted", s.accepted)
                .with("spa", s.spa)
                .with("err", s.err)
                .with("eval", s.eval)
                .with("temperature", s.temperature)
        })
        .collect();
    let inc: Vec<Value> = rep
        .increases
        .iter()
        .map(|&(it, l, d)| {
            Value::obj()
                .with("iteration", it)
                .with("lambda", l)
                .with("dim", d)
        })
        .collect();
    Value::obj()
        .with("final_lambda", rep.final_lambda)
        .with("iterations", rep.iterations)
        .with("budget_met", rep.budget_met)
        .with("final_dim", rep.final_dim)
        .with("final_dim_q3", rep.final_dim_q3)
        .with("schedule_stopped", rep.stopped.name())
        .with("cut_short", rep.cut_short)
        .with("increases", Value::Arr(inc))
        .with("steps", Value::Arr(steps))
}

/// The held-out comparison: exactly `{"criterion", "map", "identity", "mean_shift",
/// "best_iteration"}` (null without held-out cells).
pub fn heldout(h: Option<&HeldoutReport>) -> Value {
    match h {
        None => Value::Null,
        Some(h) => Value::obj()
            .with("criterion", h.criterion)
            .with("map", h.map)
            .with("identity", h.identity)
            .with("mean_shift", h.mean_shift)
            .with("best_iteration", h.best_iteration),
    }
}
