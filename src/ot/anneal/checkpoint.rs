//! The λ annealers' state in a training checkpoint: entries `anneal.*` added to the trainer's own
//! checkpoint ([`crate::ot::w2::W2Trainer::checkpoint`]) — which algorithm and its settings (checked on
//! restore), the phase with its iteration counter and pending proposal, the block in progress (its
//! iteration and the window's sums), T_sa, the step index, the increase count, the last block's
//! measurement, the proposal/acceptance stream and the projection stream (positions, replayed on
//! restore), and the trajectory so far. Floating-point values are stored by their bits, so an annealer
//! restored at outer iteration k continues to the same bits as one that was never stopped.

use super::alg1;
use super::alg2::{self, BlockDim, Purpose};
use super::{AnnealStep, Annealer};
use crate::linalg::Real;
use crate::ot::train::checkpoint::{Reader, Writer};
use crate::ot::SavedModel;
use crate::{Error, Result};

fn bad(msg: String) -> Error {
    Error::Model {
        file: String::new(),
        msg: format!("checkpoint: {msg}"),
    }
}

fn hex(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

fn unhex(s: &str) -> Option<f64> {
    u64::from_str_radix(s, 16).ok().map(f64::from_bits)
}

/// A step as `iteration:λ:λ':accepted:spa:err:eval:T:E₀:u`.
fn step_text(s: &AnnealStep) -> String {
    format!(
        "{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
        s.iteration,
        hex(s.lambda_before),
        hex(s.lambda_proposed),
        u8::from(s.accepted),
        hex(s.spa),
        hex(s.err),
        hex(s.eval),
        hex(s.temperature),
        hex(s.eval_before),
        hex(s.uniform)
    )
}

fn step_parse(t: &str) -> Option<AnnealStep> {
    let p: Vec<&str> = t.split(':').collect();
    if p.len() != 10 {
        return None;
    }
    Some(AnnealStep {
        iteration: p[0].parse().ok()?,
        lambda_before: unhex(p[1])?,
        lambda_proposed: unhex(p[2])?,
        accepted: match p[3] {
            "0" => false,
            "1" => true,
            _ => return None,
        },
        spa: unhex(p[4])?,
        err: unhex(p[5])?,
        eval: unhex(p[6])?,
        temperature: unhex(p[7])?,
        eval_before: unhex(p[8])?,
        uniform: unhex(p[9])?,
    })
}

fn list<V>(text: &str, parse: impl Fn(&str) -> Option<V>) -> Option<Vec<V>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(parse).collect()
}

fn alg1_phase(p: &alg1::Phase) -> String {
    use alg1::Phase::*;
    match p {
        Start => "start".into(),
        Warmup { left } => format!("warmup;{left}"),
        Propose => "propose".into(),
        Adjust {
            left,
            lambda_before,
            proposed,
            e0,
        } => format!(
            "adjust;{left};{};{};{}",
            hex(*lambda_before),
            hex(*proposed),
            hex(*e0)
        ),
        Smooth { left, step } => format!("smooth;{left};{}", step_text(step)),
        Done => "done".into(),
    }
}

fn alg1_phase_parse(t: &str) -> Option<alg1::Phase> {
    use alg1::Phase::*;
    let p: Vec<&str> = t.split(';').collect();
    Some(match (p[0], p.len()) {
        ("start", 1) => Start,
        ("warmup", 2) => Warmup {
            left: p[1].parse().ok()?,
        },
        ("propose", 1) => Propose,
        ("adjust", 5) => Adjust {
            left: p[1].parse().ok()?,
            lambda_before: unhex(p[2])?,
            proposed: unhex(p[3])?,
            e0: unhex(p[4])?,
        },
        ("smooth", 3) => Smooth {
            left: p[1].parse().ok()?,
            step: step_parse(p[2])?,
        },
        ("done", 1) => Done,
        _ => return None,
    })
}

fn alg2_phase(p: &alg2::Phase) -> String {
    use alg2::Phase::*;
    match p {
        Start => "start".into(),
        Warmup { left } => format!("warmup;{left}"),
        Block { purpose, block } => {
            let purpose = match purpose {
                Purpose::Increase => "increase".into(),
                Purpose::Decrease {
                    lambda_before,
                    proposed,
                    uniform,
                } => format!(
                    "decrease:{}:{}:{}",
                    hex(*lambda_before),
                    hex(*proposed),
                    hex(*uniform)
                ),
                Purpose::Settle => "settle".into(),
                Purpose::Repair => "repair".into(),
            };
            format!(
                "block;{purpose};{};{};{};{}",
                block.it,
                hex(block.dim),
                hex(block.sw),
                block.cnt
            )
        }
        Anneal => "anneal".into(),
        Repair => "repair".into(),
        Done => "done".into(),
    }
}

fn alg2_phase_parse(t: &str) -> Option<alg2::Phase> {
    use alg2::Phase::*;
    let p: Vec<&str> = t.split(';').collect();
    Some(match (p[0], p.len()) {
        ("start", 1) => Start,
        ("warmup", 2) => Warmup {
            left: p[1].parse().ok()?,
        },
        ("block", 6) => {
            let q: Vec<&str> = p[1].split(':').collect();
            let purpose = match (q[0], q.len()) {
                ("increase", 1) => Purpose::Increase,
                ("decrease", 4) => Purpose::Decrease {
                    lambda_before: unhex(q[1])?,
                    proposed: unhex(q[2])?,
                    uniform: unhex(q[3])?,
                },
                ("settle", 1) => Purpose::Settle,
                ("repair", 1) => Purpose::Repair,
                _ => return None,
            };
            Block {
                purpose,
                block: alg2::Block {
                    it: p[2].parse().ok()?,
                    dim: unhex(p[3])?,
                    sw: unhex(p[4])?,
                    cnt: p[5].parse().ok()?,
                },
            }
        }
        ("anneal", 1) => Anneal,
        ("repair", 1) => Repair,
        ("done", 1) => Done,
        _ => return None,
    })
}

fn block_dim_text(b: &Option<BlockDim>) -> String {
    match b {
        None => "none".into(),
        Some(b) => format!(
            "{}:{}:{}",
            hex(b.dim),
            b.q3.map_or("none".into(), hex),
            hex(b.sw2)
        ),
    }
}

fn block_dim_parse(t: &str) -> Option<Option<BlockDim>> {
    if t == "none" {
        return Some(None);
    }
    let p: Vec<&str> = t.split(':').collect();
    if p.len() != 3 {
        return None;
    }
    Some(Some(BlockDim {
        dim: unhex(p[0])?,
        q3: if p[1] == "none" {
            None
        } else {
            Some(unhex(p[1])?)
        },
        sw2: unhex(p[2])?,
    }))
}

impl Annealer {
    /// Adds the annealer's state to a trainer's checkpoint (module doc).
    pub fn checkpoint_into<T: Real>(&self, saved: SavedModel<T>) -> SavedModel<T> {
        let mut w = Writer { saved };
        match self {
            Annealer::Alg1(a) => {
                w.text("anneal.kind", "alg1");
                w.text("anneal.config", format!("{:?}", a.cfg));
                w.text("anneal.phase", alg1_phase(&a.phase));
                self.common(&mut w, a.done, a.t_sa, a.k, &a.steps);
                w.stream("anneal.rng", &a.rng);
                w.stream("anneal.proj", &a.proj);
            }
            Annealer::Alg2(a) => {
                w.text("anneal.kind", "alg2");
                w.text("anneal.config", format!("{:?}", a.cfg));
                w.text("anneal.phase", alg2_phase(&a.phase));
                self.common(&mut w, a.done, a.t_sa, a.k, &a.steps);
                w.stream("anneal.rng", &a.rng);
                w.stream("anneal.proj", &a.proj);
                w.text("anneal.n_increases", a.n_inc);
                let inc: Vec<String> = a
                    .increases
                    .iter()
                    .map(|&(i, l, d)| format!("{i}:{}:{}", hex(l), hex(d)))
                    .collect();
                w.text("anneal.increases", inc.join(","));
                w.text("anneal.last_block", block_dim_text(&a.last));
            }
        }
        w.saved
    }

    fn common<T: Real>(
        &self,
        w: &mut Writer<T>,
        done: usize,
        t_sa: f64,
        k: usize,
        st: &[AnnealStep],
    ) {
        w.text("anneal.done", done);
        w.f64("anneal.t_sa", t_sa);
        w.text("anneal.k", k);
        let steps: Vec<String> = st.iter().map(step_text).collect();
        w.text("anneal.steps", steps.join(","));
    }

    /// Restores the state of [`Annealer::checkpoint_into`] into this annealer, built with the same
    /// settings (a checkpoint of the other algorithm, other settings or none is refused).
    pub fn restore<T: Real>(&mut self, saved: &SavedModel<T>) -> Result<()> {
        let r = Reader::new(saved, saved.method.as_str())?;
        let kind = r.text("anneal.kind")?;
        let (want, cfg) = match self {
            Annealer::Alg1(a) => ("alg1", format!("{:?}", a.cfg)),
            Annealer::Alg2(a) => ("alg2", format!("{:?}", a.cfg)),
        };
        if kind != want {
            return Err(bad(format!(
                "the checkpoint holds the λ schedule '{kind}', this fit runs '{want}'"
            )));
        }
        if r.text("anneal.config")? != cfg {
            return Err(bad(
                "the λ schedule's settings differ from the checkpoint's".into(),
            ));
        }
        let field = |key: &str| bad(format!("entry '{key}' does not parse"));
        let done: usize = r.parse("anneal.done")?;
        let t_sa = r.f64("anneal.t_sa")?;
        let k: usize = r.parse("anneal.k")?;
        let steps =
            list(r.text("anneal.steps")?, step_parse).ok_or_else(|| field("anneal.steps"))?;
        let (rng, proj) = (r.stream("anneal.rng")?, r.stream("anneal.proj")?);
        let phase = r.text("anneal.phase")?;
        match self {
            Annealer::Alg1(a) => {
                a.phase = alg1_phase_parse(phase).ok_or_else(|| field("anneal.phase"))?;
                (a.done, a.t_sa, a.k, a.steps, a.rng, a.proj) = (done, t_sa, k, steps, rng, proj);
            }
            Annealer::Alg2(a) => {
                a.phase = alg2_phase_parse(phase).ok_or_else(|| field("anneal.phase"))?;
                (a.done, a.t_sa, a.k, a.steps, a.rng, a.proj) = (done, t_sa, k, steps, rng, proj);
                a.n_inc = r.parse("anneal.n_increases")?;
                a.increases = list(r.text("anneal.increases")?, |t| {
                    let p: Vec<&str> = t.split(':').collect();
                    (p.len() == 3).then_some(())?;
                    Some((p[0].parse().ok()?, unhex(p[1])?, unhex(p[2])?))
                })
                .ok_or_else(|| field("anneal.increases"))?;
                a.last = block_dim_parse(r.text("anneal.last_block")?)
                    .ok_or_else(|| field("anneal.last_block"))?;
            }
        }
        Ok(())
    }
}
