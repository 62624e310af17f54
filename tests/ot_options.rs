//! The library's reader of `monge fit`'s options (`ot::options`), from a source other than the CLI:
//! the same defaults and checks whatever the source, messages in the source's spelling, every option
//! accounted for.

use monge::ot::fit::LambdaSchedule;
use monge::ot::options::{read_common, resolve, Dtype, FitOptions, OptionSource};
use monge::ot::penalty::Penalty;
use monge::ot::w2::W2Config;
use monge::{Error, Method, Result};

/// Options as `name = value` text, spelt `name=value` in messages; records which ones were read.
struct MapSource {
    opts: Vec<(&'static str, &'static str)>,
    read: Vec<String>,
    warnings: Vec<String>,
}

impl MapSource {
    fn new(opts: &[(&'static str, &'static str)]) -> Self {
        MapSource {
            opts: opts.to_vec(),
            read: Vec::new(),
            warnings: Vec::new(),
        }
    }
    fn value(&mut self, name: &str) -> Option<&'static str> {
        self.read.push(name.to_string());
        self.opts.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

impl OptionSource for MapSource {
    fn given(&self, name: &str) -> bool {
        self.opts.iter().any(|(k, _)| *k == name)
    }
    fn flag(&mut self, name: &str) -> Result<bool> {
        Ok(self.value(name) == Some("yes"))
    }
    fn text(&mut self, name: &str) -> Result<Option<String>> {
        Ok(self.value(name).map(str::to_string))
    }
    fn count(&mut self, name: &str) -> Result<Option<u64>> {
        Ok(self.value(name).map(|v| v.parse().unwrap()))
    }
    fn real(&mut self, name: &str) -> Result<Option<f64>> {
        Ok(self.value(name).map(|v| v.parse().unwrap()))
    }
    fn finish(&mut self) -> Result<()> {
        match self
            .opts
            .iter()
            .find(|(k, _)| !self.read.iter().any(|r| r == k))
        {
            Some((k, _)) => Err(Error::Usage(format!("not read: {k}"))),
            None => Ok(()),
        }
    }
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
    fn spell(&self, name: &str) -> String {
        name.to_string()
    }
    fn spell_value(&self, name: &str, value: &str) -> String {
        format!("{name}={value}")
    }
}

fn options(opts: &[(&'static str, &'static str)]) -> Result<FitOptions> {
    let mut src = MapSource::new(opts);
    let common = read_common(&mut src)?;
    resolve(common, &mut src)
}

fn usage(opts: &[(&'static str, &'static str)]) -> String {
    match options(opts) {
        Err(Error::Usage(m)) => m,
        other => panic!("{opts:?}: expected a usage error, got {other:?}"),
    }
}

#[test]
fn w2_defaults_are_monges_setting_with_the_common_options() {
    let o = options(&[("method", "w2"), ("seed", "7"), ("batch", "64")]).unwrap();
    assert_eq!(o.dtype, Dtype::F32);
    let Method::W2(cfg) = &o.method else {
        panic!("{:?}", o.method)
    };
    let monge = W2Config::monge();
    assert_eq!(cfg.iterations, monge.iterations);
    assert_eq!(cfg.lr_f, monge.lr_f);
    assert_eq!(cfg.potential, monge.potential);
    assert_eq!(cfg.map_init, monge.map_init);
    assert!(cfg.cosine_lr);
    assert_eq!((cfg.seed, cfg.batch), (7, 64));
    assert_eq!(cfg.penalty, Penalty::None);
    // the papers' setting on request
    let o = options(&[("method", "w2"), ("preset", "cellot")]).unwrap();
    let Method::W2(cfg) = &o.method else { panic!() };
    assert_eq!(cfg.iterations, W2Config::default().iterations);
    assert_eq!(cfg.lr_f, W2Config::default().lr_f);
}

#[test]
fn a_lambda_schedule_runs_at_the_papers_constant_rate_under_its_cap() {
    let o = options(&[
        ("method", "w2"),
        ("penalty", "l1"),
        ("anneal", "yes"),
        ("iters", "500"),
    ])
    .unwrap();
    let Method::W2Schedule(s) = &o.method else {
        panic!("{:?}", o.method)
    };
    assert!(matches!(s.schedule, LambdaSchedule::Anneal(_)));
    assert_eq!(s.cap, Some(500));
    assert!(!s.w2.cosine_lr);
    assert_eq!(s.w2.lr_f, W2Config::default().lr_f);
    // a given rate is kept
    let o = options(&[
        ("method", "w2"),
        ("penalty", "l1"),
        ("max-dim", "2"),
        ("lr", "0.01"),
    ])
    .unwrap();
    let Method::W2Schedule(s) = &o.method else {
        panic!()
    };
    assert!(matches!(&s.schedule, LambdaSchedule::MaxDim(b) if b.budget == 2.0));
    assert_eq!(s.w2.lr_f, 0.01);
}

#[test]
fn checks_speak_the_sources_spelling_and_every_option_is_read() {
    assert_eq!(
        usage(&[("method", "w2"), ("sigma", "2")]),
        "sigma has no effect with penalty=none (it applies to penalty=l0)"
    );
    assert_eq!(
        usage(&[("method", "sinkhorn"), ("penalty", "l0")]),
        "penalty: the sinkhorn map takes none, l1 or stvs, not 'l0'"
    );
    assert_eq!(
        usage(&[("method", "w1"), ("penalty", "l1")]),
        "not read: penalty"
    );
    assert_eq!(
        usage(&[("method", "w2"), ("heldout-fraction", "1")]),
        "heldout-fraction must lie in [0, 1), got 1"
    );
    assert_eq!(
        usage(&[("method", "w2"), ("threads", "0")]),
        "threads must be at least 1"
    );
    let mut src = MapSource::new(&[("method", "identity"), ("threads", "100000")]);
    let c = read_common(&mut src).unwrap();
    assert_eq!(c.threads, monge::ot::options::available_cores());
    assert_eq!(src.warnings.len(), 1, "{:?}", src.warnings);
    assert!(src.warnings[0].starts_with("threads=100000 capped"));
}
