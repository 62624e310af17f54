//! `monge fit --checkpoint` / `--resume`: W2, W2 under a λ schedule (`--anneal` / `--max-dim`: the
//! annealer's state goes into the trainer's checkpoint) and W1 trained in segments between checkpoints
//! (each written atomically with the whole training state, the options as typed and the data files'
//! fingerprints), and a resume that re-reads the stored options and continues to the same bits as an
//! uninterrupted run. Without `--checkpoint` a fit is one segment.

use super::args::Args;
use super::common::fmt_num;
use super::fit::{heldout_option, json_head, load_pair, run_with, Ctl, Files, Fitted};
use monge::io::LoadedModel;
use monge::linalg::Real;
use monge::ot::anneal::{Annealer, Flow};
use monge::ot::fit::{report, W2Schedule};
use monge::ot::options::{CommonOptions, HeldoutChoice};
use monge::ot::train::Stopped;
use monge::ot::w1::{W1Config, W1Trainer};
use monge::ot::w2::{W2Config, W2Trainer};
use monge::ot::{SavedModel, TransportMap};
use monge::report::Value;
use monge::{Error, Result};
use std::path::Path;

/// Separator of the stored options in a checkpoint.
const ARG_SEP: char = '\u{1f}';

/// `monge fit --resume FILE [--model M] [--quiet] [--json]`: the options are the checkpoint's.
pub(super) fn resume(ck: String, mut a: Args) -> Result<()> {
    let model: Option<String> = a.get("model")?;
    let (quiet, json) = (a.flag("quiet"), a.flag("json"));
    a.finish().map_err(|e| {
        Error::Usage(format!(
            "{e} (--resume takes only --model, --quiet and --json: the other options are the checkpoint's)"
        ))
    })?;
    let loaded = monge::io::load_model(Path::new(&ck))?;
    let stored = match &loaded {
        LoadedModel::F32(m) => m.hyper("argv").map(str::to_string),
        LoadedModel::F64(m) => m.hyper("argv").map(str::to_string),
    };
    let Some(stored) = stored.filter(|_| CHECKPOINT_KINDS.contains(&loaded.method())) else {
        return Err(Error::Usage(format!(
            "--resume: '{ck}' is not a monge fit checkpoint (method '{}')",
            loaded.method()
        )));
    };
    let mut argv: Vec<String> = stored.split(ARG_SEP).map(str::to_string).collect();
    if let Some(m) = model {
        match argv.iter().position(|s| s == "--model") {
            Some(i) if i + 1 < argv.len() => argv[i + 1] = m,
            _ => argv.extend(["--model".to_string(), m]),
        }
    }
    for (on, f) in [(quiet, "--quiet"), (json, "--json")] {
        if on && !argv.iter().any(|s| s == f) {
            argv.push(f.into());
        }
    }
    let a = Args::parse(&argv, super::FLAGS)?;
    run_with(a, argv, Some((ck, loaded)))
}

/// The checkpoint kinds `monge fit` writes (W2, W1).
const CHECKPOINT_KINDS: [&str; 2] = ["checkpoint-w2", "checkpoint-w1"];

/// Where a checkpointed W2 fit starts ([`w2_start`]).
struct W2Start<T: Real> {
    /// The JSON head.
    out: Value,
    /// The trainer, restored from the checkpoint when resuming.
    tr: W2Trainer<T>,
    /// The checkpoint resumed (the annealer's state is in it too).
    resume: Option<SavedModel<T>>,
    /// The entries every checkpoint carries, and the iterations between checkpoints.
    extra: Vec<(String, String)>,
    every: usize,
}

/// The data, the JSON head and the trainer with `cfg` of a W2 fit, with or without a λ schedule.
fn w2_start<T: Real>(f: &Files, c: &CommonOptions, cfg: &W2Config) -> Result<W2Start<T>> {
    let (x, y) = load_pair::<T>(f)?;
    let heldout = heldout_option::<T>(c)?;
    let out = json_head("w2", &x, &y);
    let mut tr = W2Trainer::with_heldout(&x, &y, &heldout, cfg)?;
    let (resume, extra, every) = segments::<T>(f, c)?;
    if let Some(saved) = &resume {
        tr.restore(saved)?;
    }
    Ok(W2Start {
        out,
        tr,
        resume,
        extra,
        every,
    })
}

/// W2 without a λ schedule, in segments between checkpoints.
pub(super) fn fit_w2<T: Real>(
    f: &Files,
    c: &CommonOptions,
    cfg: &W2Config,
    progress: Ctl<'_>,
) -> Result<Fitted<T>> {
    let W2Start {
        mut out,
        mut tr,
        extra,
        every,
        ..
    } = w2_start::<T>(f, c, cfg)?;
    // segments between checkpoints train exactly as one run (the final evaluation comes last)
    let (stopped, err) = loop {
        let next = cfg.iterations.min(tr.iteration().saturating_add(every));
        let (st, e) = tr.run_segment(next, &mut *progress);
        if let (Some(p), true) = (&f.checkpoint, e.is_none()) {
            monge::io::save_model(Path::new(p), &tr.checkpoint(&extra))?;
        }
        if st == Stopped::Cap && tr.iteration() < cfg.iterations {
            continue;
        }
        break (st, e);
    };
    tr.finalize(stopped);
    let rep = tr.report();
    let saved = (err.is_none() || tr.has_best()).then(|| tr.best_map().to_saved());
    let what = match rep.best_heldout {
        Some(v) => format!(
            "the best model so far (iteration {}, held-out {} {})",
            rep.best_iteration,
            cfg.criterion.name(),
            fmt_num(v)
        ),
        None => format!(
            "the model at iteration {} (no held-out evaluation had run)",
            rep.iterations
        ),
    };
    report::w2_keys(&mut out, &rep);
    Ok(Fitted {
        saved,
        out,
        stopped: Some(stopped),
        iteration: rep.iterations,
        heldout: rep.heldout,
        what,
        error: err,
    })
}

/// W2 under a λ schedule (`--anneal`, `--max-dim`), in segments between checkpoints. The map returned
/// is the one at the final λ; a divergence keeps no model (none is selected across λ).
pub(super) fn fit_w2_schedule<T: Real>(
    f: &Files,
    c: &CommonOptions,
    s: &W2Schedule,
    progress: Ctl<'_>,
) -> Result<Fitted<T>> {
    let W2Start {
        mut out,
        mut tr,
        resume,
        extra,
        every,
    } = w2_start::<T>(f, c, &s.trainer_config())?;
    let mut ann = Annealer::new(&s.schedule);
    if let Some(saved) = resume {
        ann.restore(&saved)?;
    }
    let res = {
        let mut rt = s.trainee(&mut tr, progress).starting_at(ann.done());
        loop {
            let r = ann.run(&mut rt, ann.done().saturating_add(every));
            if let (Some(p), true) = (&f.checkpoint, r.is_ok()) {
                let saved = ann.checkpoint_into(rt.inner().checkpoint(&extra));
                monge::io::save_model(Path::new(p), &saved)?;
            }
            match r {
                Ok(Flow::Paused) => continue,
                other => break other,
            }
        }
    };
    let flow = match res {
        Ok(flow) => flow,
        Err(e) => {
            return Ok(Fitted {
                saved: None,
                out,
                stopped: Some(Stopped::Diverged),
                iteration: tr.iteration(),
                heldout: None,
                what: String::new(),
                error: Some(e),
            })
        }
    };
    let rep = ann.report(tr.lambda(), flow);
    let w2rep = tr.finish();
    report::schedule_keys(&mut out, &s.schedule, tr.iteration(), &w2rep, &rep);
    Ok(Fitted {
        saved: Some(tr.map().to_saved()),
        out,
        stopped: Some(rep.stopped),
        iteration: tr.iteration(),
        heldout: w2rep.heldout,
        what: format!(
            "the model at iteration {} (λ = {})",
            tr.iteration(),
            rep.final_lambda
        ),
        error: None,
    })
}

/// W1, in segments between checkpoints.
pub(super) fn fit_w1<T: Real>(
    f: &Files,
    c: &CommonOptions,
    cfg: &W1Config,
    progress: Ctl<'_>,
) -> Result<Fitted<T>> {
    let (x, y) = load_pair::<T>(f)?;
    let heldout = heldout_option::<T>(c)?;
    let mut tr = W1Trainer::with_heldout(&x, &y, &heldout, cfg)?;
    let (resume, extra, every) = segments::<T>(f, c)?;
    if let Some(saved) = resume {
        tr.restore(&saved)?;
    }
    let total = cfg.potential_iters + cfg.gan_iters;
    let (stopped, err) = loop {
        let next = total.min(tr.iterations().saturating_add(every));
        let (st, e) = tr.run_segment(next, &mut *progress);
        if let (Some(p), true) = (&f.checkpoint, e.is_none()) {
            monge::io::save_model(Path::new(p), &tr.checkpoint(&extra))?;
        }
        if st == Stopped::Cap && tr.iterations() < total {
            continue;
        }
        break (st, e);
    };
    tr.finalize(stopped);
    let rep = tr.report();
    let saved = (err.is_none() || tr.has_best()).then(|| tr.best_map().to_saved());
    let iteration = rep.potential_iters + rep.gan_iters;
    let what = match rep.best_heldout {
        Some((v, it)) => format!(
            "the best model so far (GAN iteration {it}, held-out {} {})",
            cfg.criterion.name(),
            fmt_num(v)
        ),
        None => format!(
            "the model at potential iteration {}, GAN iteration {} (no held-out evaluation had run)",
            rep.potential_iters, rep.gan_iters
        ),
    };
    let mut out = json_head("w1", &x, &y);
    report::w1_keys(&mut out, &rep);
    Ok(Fitted {
        saved,
        out,
        stopped: Some(stopped),
        iteration,
        heldout: rep.heldout,
        what,
        error: err,
    })
}

/// (the checkpoint to resume, the entries of every checkpoint written, the interval)
type Segments<T> = (Option<SavedModel<T>>, Vec<(String, String)>, usize);

/// What every checkpointed fit starts from: the checkpoint to resume (its data fingerprints checked),
/// the entries every checkpoint it writes carries (the fingerprints and the options as typed), and the
/// interval between checkpoints (no checkpoint: one segment).
fn segments<T: Real>(f: &Files, c: &CommonOptions) -> Result<Segments<T>> {
    let fps = fingerprints(f, c)?;
    let resume = checked_resume::<T>(f, &fps)?;
    let mut extra = fps;
    extra.push(("argv".into(), f.argv.join(&ARG_SEP.to_string())));
    let every = f
        .checkpoint
        .as_ref()
        .map_or(usize::MAX, |_| f.checkpoint_every);
    Ok((resume, extra, every))
}

/// The checkpoint to resume from, in the training type, after checking the data files' fingerprints.
fn checked_resume<T: Real>(c: &Files, fps: &[(String, String)]) -> Result<Option<SavedModel<T>>> {
    let Some((ck, loaded)) = &c.resume else {
        return Ok(None);
    };
    let saved = as_type::<T>(loaded);
    for (k, v) in fps {
        if saved.hyper(k) != Some(v.as_str()) {
            return Err(Error::data(
                ck.as_str(),
                None,
                None,
                format!(
                    "{k}: the data file changed since the checkpoint was written (fingerprint {v}, \
                     the checkpoint has {})",
                    saved.hyper(k).unwrap_or("none")
                ),
            ));
        }
    }
    Ok(Some(saved))
}

/// FNV-1a fingerprints of the data files (source, target, held-out files), recorded in a checkpoint.
fn fingerprints(f: &Files, c: &CommonOptions) -> Result<Vec<(String, String)>> {
    let mut files = vec![("source", f.source.as_str()), ("target", f.target.as_str())];
    if let HeldoutChoice::Files {
        source: s,
        target: t,
    } = &c.heldout
    {
        files.push(("heldout-source", s.as_str()));
        files.push(("heldout-target", t.as_str()));
    }
    files
        .into_iter()
        .map(|(k, p)| {
            let bytes = std::fs::read(p).map_err(|e| Error::io(p, "read", e))?;
            Ok((
                format!("fingerprint.{k}"),
                format!("{:016x}", monge::io::model::fnv1a64(&bytes)),
            ))
        })
        .collect()
}

/// A loaded checkpoint in the training type (its own type: the stored options give the same --dtype,
/// and f32 → f64 → f32 is exact).
fn as_type<T: Real>(m: &LoadedModel) -> SavedModel<T> {
    fn conv<A: Real, B: Real>(m: &SavedModel<A>) -> SavedModel<B> {
        SavedModel {
            method: m.method.clone(),
            dim: m.dim,
            hyper: m.hyper.clone(),
            tensors: m
                .tensors
                .iter()
                .map(|(n, s, v)| {
                    (
                        n.clone(),
                        s.clone(),
                        v.iter().map(|x| B::from_f64(x.to_f64())).collect(),
                    )
                })
                .collect(),
        }
    }
    match m {
        LoadedModel::F32(m) => conv(m),
        LoadedModel::F64(m) => conv(m),
    }
}
