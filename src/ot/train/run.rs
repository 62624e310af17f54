//! The run loop every solver phase goes through: steps up to a cap, held-out evaluations, early stopping,
//! progress, interrupts, and the reason training ended.
//!
//! Before the first iteration of a phase with held-out evaluations (iteration 0, nothing evaluated
//! yet) the starting model is evaluated and offered to the selector: `best_iteration` 0 is a legal
//! answer (the fit returns its start when no iterate beats it). Per iteration of a [`Phase`]: (1) stop if a SIGINT/SIGTERM was recorded ([`crate::signal::interrupted`],
//! polled at the iteration boundary); (2) one step — the [`super::guard::Guard`] inside it returns
//! `Error::Diverged` before any update a non-finite loss or gradient would drive; (3) every `eval_every`
//! iterations a held-out evaluation ([`Phase::evaluate`], which offers the value to the phase's
//! [`super::select::Selector`]); (4) progress every `progress_every` iterations, after an evaluation's
//! verdict and at the end; the callback may return `ControlFlow::Break(())` to stop the fit (ending
//! like an interrupt); (5) stop when the patience is exhausted. After its last segment, when the run
//! ended at the cap or by patience, the trainer evaluates the final iterate if it was not evaluated
//! ([`evaluate_final`]). The loop counts the phase's own iteration counter, so a phase resumed from a
//! checkpoint continues to the same cap.

use std::ops::ControlFlow;

use super::select::Selector;
use crate::ot::{Progress, ProgressFn};
use crate::{Error, Result};

/// Why training ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stopped {
    /// The held-out criterion did not improve for `patience` evaluations.
    Patience,
    /// The iteration cap was reached.
    #[default]
    Cap,
    /// A loss or gradient was not finite.
    Diverged,
    /// SIGINT/SIGTERM, or the progress callback asked to stop.
    Interrupted,
}

impl Stopped {
    /// `"patience"`, `"cap"`, `"diverged"` or `"interrupted"` (the JSON value).
    pub fn name(self) -> &'static str {
        match self {
            Stopped::Patience => "patience",
            Stopped::Cap => "cap",
            Stopped::Diverged => "diverged",
            Stopped::Interrupted => "interrupted",
        }
    }

    /// A sentence for the human summary.
    pub fn describe(self) -> &'static str {
        match self {
            Stopped::Patience => "early stopping: the held-out criterion stopped improving",
            Stopped::Cap => "the iteration cap was reached",
            Stopped::Diverged => "training diverged",
            Stopped::Interrupted => "interrupted",
        }
    }
}

/// The held-out criterion of the returned map and of the two baselines, on the same held-out cells.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldoutReport {
    /// The criterion's name ([`super::criterion::Criterion::name`]).
    pub criterion: &'static str,
    /// Its description (kernel and bandwidths for an MMD).
    pub description: String,
    /// The returned map.
    pub map: f64,
    /// The identity `T(x) = x`.
    pub identity: f64,
    /// The mean shift `T(x) = x + mean(ν_train) − mean(μ_train)`.
    pub mean_shift: f64,
    /// The iteration the returned map is from.
    pub best_iteration: usize,
}

impl HeldoutReport {
    /// Whether the map does better than the mean shift (and the identity).
    pub fn beats_baselines(&self) -> bool {
        self.map < self.mean_shift && self.map < self.identity
    }
}

/// A progress callback that may stop the fit.
pub type Control<'a> = &'a mut dyn FnMut(&Progress) -> ControlFlow<()>;

/// The losses one step reports (no allocation per step).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Losses {
    /// Their names.
    pub names: &'static [&'static str],
    /// Their values (the first `names.len()`).
    pub values: [f64; 4],
}

impl Losses {
    /// The (name, value) pairs.
    pub fn pairs(&self) -> Vec<(&'static str, f64)> {
        self.names.iter().copied().zip(self.values).collect()
    }
}

/// The schedule of one phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Iteration cap of the phase.
    pub cap: usize,
    /// Held-out evaluation interval (0 = none in this phase).
    pub eval_every: usize,
    /// Progress interval (0 = only at the end).
    pub progress_every: usize,
}

impl Schedule {
    /// A phase (or a segment of one, e.g. between checkpoints) up to `cap` iterations.
    pub fn new(cap: usize, eval_every: usize, progress_every: usize) -> Self {
        Schedule {
            cap,
            eval_every,
            progress_every,
        }
    }
}

/// What the run loop needs from a solver phase.
pub trait Phase {
    /// Phase name for progress ("w2", "potential", "gan").
    fn name(&self) -> &'static str;
    /// Iterations of this phase done so far.
    fn iteration(&self) -> usize;
    /// One iteration.
    fn step(&mut self) -> Result<Losses>;
    /// Held-out evaluation of the current model, offered to the selector (None without held-out cells).
    fn evaluate(&mut self) -> Option<f64>;
    /// The selector of the phase.
    fn selector(&self) -> &Selector;
    /// The criterion's name.
    fn criterion(&self) -> Option<&'static str>;
    /// The current λ, if the solver has one.
    fn lambda(&self) -> Option<f64> {
        None
    }
}

/// Runs `phase` to its cap or until it stops (module doc). Returns why it stopped and, after a
/// divergence, the error.
pub fn run_phase<P: Phase + ?Sized>(
    phase: &mut P,
    sched: &Schedule,
    progress: Control<'_>,
) -> (Stopped, Option<Error>) {
    let mut stopped = Stopped::Cap;
    let mut err = None;
    let mut last;
    let mut last_eval_at = None;
    // (0) the start — W2's initial map (e.g. the Gaussian start), W1's step size at the start of its
    // step-size phase — is a candidate like every later iterate, so a fit never returns a map worse on
    // the held-out cells than the one it started from. Evaluating draws from no training stream.
    if sched.eval_every > 0
        && phase.iteration() == 0
        && phase.selector().evals().is_empty()
        && phase.evaluate().is_some()
    {
        last_eval_at = Some(0);
        if progress(&progress_of(phase, Losses::default(), sched.cap)).is_break() {
            return (Stopped::Interrupted, None);
        }
    }
    while phase.iteration() < sched.cap {
        if crate::signal::interrupted().is_some() {
            stopped = Stopped::Interrupted;
            break;
        }
        match phase.step() {
            Ok(l) => last = l,
            Err(e) => {
                stopped = Stopped::Diverged;
                err = Some(e);
                break;
            }
        }
        let it = phase.iteration();
        if sched.eval_every > 0 && it.is_multiple_of(sched.eval_every) && phase.evaluate().is_some()
        {
            last_eval_at = Some(it);
        }
        let exhausted = phase.selector().patience_exhausted();
        let report = (sched.progress_every > 0 && it.is_multiple_of(sched.progress_every))
            || it == sched.cap
            || exhausted
            || last_eval_at == Some(it);
        if report && progress(&progress_of(phase, last, sched.cap)).is_break() {
            stopped = Stopped::Interrupted;
            break;
        }
        if exhausted {
            stopped = Stopped::Patience;
            break;
        }
    }
    (stopped, err)
}

/// The end of a run that stopped with `stopped` (after its last segment): at the cap or by patience the
/// final iterate is evaluated and offered to the selector, unless it already was or the run has no
/// evaluations (`eval_every` 0) or no iterations.
pub fn evaluate_final<P: Phase + ?Sized>(phase: &mut P, stopped: Stopped, eval_every: usize) {
    let it = phase.iteration();
    if matches!(stopped, Stopped::Cap | Stopped::Patience)
        && eval_every > 0
        && it > 0
        && phase.selector().last().map(|e| e.0) != Some(it)
    {
        phase.evaluate();
    }
}

/// A [`Control`] that only reports progress (never stops the run).
pub fn observe<'a>(progress: ProgressFn<'a>) -> impl FnMut(&Progress) -> ControlFlow<()> + 'a {
    move |p: &Progress| {
        progress(p);
        ControlFlow::Continue(())
    }
}

/// The progress report of a phase now.
pub fn progress_of<P: Phase + ?Sized>(phase: &P, last: Losses, total: usize) -> Progress {
    let sel = phase.selector();
    Progress {
        phase: phase.name(),
        iteration: phase.iteration(),
        total,
        losses: last.pairs(),
        lambda: phase.lambda(),
        criterion: phase.criterion(),
        heldout: sel.last().map(|e| e.1),
        heldout_best: sel.best().map(|b| b.1),
    }
}
