//! A small, strict command-line parser: `--key value`, `--key=value` and `--flag`, no dependencies.
//!
//! Every option a command reads is consumed; [`Args::finish`] turns anything left over into a usage
//! error, so a misspelt option never passes silently.
//!
//! Values are parsed by [`ArgValue`], the same way for every command: counts accept `10000`, `1e4` or
//! `10_000` (an exact non-negative integer), real numbers must be finite, a flag given a value
//! (`--quiet=no`) is a usage error. [`Args::threads`] and [`check_memory`] bound the options that size
//! threads or allocations, before anything is spawned or allocated.

use monge::ot::options::{OptValue, OptionSource};
use monge::{Error, Result};

/// A type an option value parses into (a usage error naming the option otherwise).
pub trait ArgValue: Sized {
    /// Parses `s`, the value of `--name`.
    fn parse_arg(name: &str, s: &str) -> Result<Self>;
    /// The ways a help text may write this value (`0.0001` is also `1e-4`); read by the help test.
    #[cfg_attr(not(test), allow(dead_code))]
    fn spellings(&self) -> Vec<String>;
}

impl ArgValue for String {
    fn parse_arg(_: &str, s: &str) -> Result<Self> {
        Ok(s.to_string())
    }
    fn spellings(&self) -> Vec<String> {
        vec![self.clone()]
    }
}

#[cfg(test)]
thread_local! {
    /// Every default [`Args::get_or`] fell back to on this thread: (option, spellings) — read by the
    /// test that checks each `--help` against the code's defaults.
    pub static DEFAULTS_USED: std::cell::RefCell<Vec<(String, Vec<String>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl ArgValue for f64 {
    fn parse_arg(name: &str, s: &str) -> Result<Self> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(Error::Usage(format!(
                "option --{name}: {} is not a finite number",
                monge::io::quote(s, 40)
            ))),
            Err(_) => Err(Error::Usage(format!(
                "option --{name}: cannot parse {} as a number",
                monge::io::quote(s, 40)
            ))),
        }
    }
    fn spellings(&self) -> Vec<String> {
        vec![format!("{self}"), format!("{self:e}"), format!("{self:?}")]
    }
}

/// An exact non-negative integer: digits (with optional `_` separators) or a number like `1e4`.
fn parse_count(name: &str, s: &str) -> Result<u64> {
    let t = s.trim().replace('_', "");
    if let Ok(v) = t.parse::<u64>() {
        return Ok(v);
    }
    let bad = |why: &str| {
        Error::Usage(format!(
            "option --{name}: {} {why}",
            monge::io::quote(s, 40)
        ))
    };
    match t.parse::<f64>() {
        Ok(v) if v.is_nan() => Err(bad("is not a number")),
        Ok(v) if v < 0.0 => Err(bad("is negative (a count or size is at least 0)")),
        Ok(v) if v.fract() != 0.0 => Err(bad("is not a whole number")),
        Ok(v) if v >= 18_446_744_073_709_551_616.0 => Err(bad("is too large")),
        Ok(v) => Ok(v as u64),
        Err(_) => Err(bad("is not a whole number")),
    }
}

impl ArgValue for u64 {
    fn spellings(&self) -> Vec<String> {
        vec![self.to_string()]
    }
    fn parse_arg(name: &str, s: &str) -> Result<Self> {
        parse_count(name, s)
    }
}

impl ArgValue for usize {
    fn spellings(&self) -> Vec<String> {
        vec![self.to_string()]
    }
    fn parse_arg(name: &str, s: &str) -> Result<Self> {
        let v = parse_count(name, s)?;
        usize::try_from(v).map_err(|_| Error::Usage(format!("option --{name}: {v} is too large")))
    }
}

impl ArgValue for u32 {
    fn spellings(&self) -> Vec<String> {
        vec![self.to_string()]
    }
    fn parse_arg(name: &str, s: &str) -> Result<Self> {
        let v = parse_count(name, s)?;
        u32::try_from(v).map_err(|_| Error::Usage(format!("option --{name}: {v} is too large")))
    }
}

#[cfg(test)]
pub use monge::ot::options::available_cores;

/// The memory available to this process, in bytes (`MemAvailable` of /proc/meminfo; 8 GiB when it cannot
/// be read).
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb.saturating_mul(1024))
}

/// A byte count in words (`3.2 GB`).
pub fn fmt_bytes(b: f64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", units[0])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Refuses (usage error) a request whose main buffers would need `bytes` (computed in f64 so that it
/// cannot overflow) when that exceeds the memory available: `what` names the options and the buffers.
pub fn check_memory(what: &str, bytes: f64) -> Result<()> {
    let avail = available_memory() as f64;
    if bytes > avail {
        return Err(Error::Usage(format!(
            "{what} would need {} of memory, more than the {} available",
            fmt_bytes(bytes),
            fmt_bytes(avail)
        )));
    }
    Ok(())
}

/// Parsed arguments of one subcommand.
#[derive(Debug, Default)]
pub struct Args {
    /// (name without dashes, value) in order; flags have `None`.
    opts: Vec<(String, Option<String>, bool)>,
    /// Positional arguments in order.
    positional: Vec<(String, bool)>,
}

impl Args {
    /// Parses `argv` (without the program name and subcommand). `flags` lists the options that take no
    /// value.
    pub fn parse(argv: &[String], flags: &[&str]) -> Result<Self> {
        let mut a = Args::default();
        let mut i = 0;
        while i < argv.len() {
            let s = &argv[i];
            if let Some(body) = s.strip_prefix("--") {
                if body.is_empty() {
                    return Err(Error::Usage("unexpected '--'".into()));
                }
                if let Some((k, v)) = body.split_once('=') {
                    if flags.contains(&k) {
                        return Err(Error::Usage(format!(
                            "option --{k} is a flag and takes no value (got '--{k}={v}')"
                        )));
                    }
                    a.opts.push((k.to_string(), Some(v.to_string()), false));
                } else if flags.contains(&body) {
                    a.opts.push((body.to_string(), None, false));
                } else {
                    let v = argv
                        .get(i + 1)
                        .ok_or_else(|| Error::Usage(format!("option --{body} needs a value")))?;
                    a.opts.push((body.to_string(), Some(v.clone()), false));
                    i += 1;
                }
            } else {
                a.positional.push((s.clone(), false));
            }
            i += 1;
        }
        Ok(a)
    }

    /// Whether `--name` was given (as a flag).
    pub fn flag(&mut self, name: &str) -> bool {
        let mut found = false;
        for o in self.opts.iter_mut() {
            if o.0 == name {
                o.2 = true;
                found = true;
            }
        }
        found
    }

    /// The string value of `--name` (the last one if repeated).
    pub fn string(&mut self, name: &str) -> Result<Option<String>> {
        let mut val = None;
        for o in self.opts.iter_mut() {
            if o.0 == name {
                o.2 = true;
                match &o.1 {
                    Some(v) => val = Some(v.clone()),
                    None => return Err(Error::Usage(format!("option --{name} needs a value"))),
                }
            }
        }
        Ok(val)
    }

    /// Every value of `--name`, in the order given (an option that may be repeated).
    pub fn strings(&mut self, name: &str) -> Result<Vec<String>> {
        let mut vals = Vec::new();
        for o in self.opts.iter_mut() {
            if o.0 == name {
                o.2 = true;
                match &o.1 {
                    Some(v) => vals.push(v.clone()),
                    None => return Err(Error::Usage(format!("option --{name} needs a value"))),
                }
            }
        }
        Ok(vals)
    }

    /// The value of `--name` parsed as `V`, or `None`.
    pub fn get<V: ArgValue>(&mut self, name: &str) -> Result<Option<V>> {
        match self.string(name)? {
            None => Ok(None),
            Some(s) => V::parse_arg(name, &s).map(Some),
        }
    }

    /// The value of `--name` parsed as `V`, or `default`.
    pub fn get_or<V: ArgValue>(&mut self, name: &str, default: V) -> Result<V> {
        match self.get(name)? {
            Some(v) => Ok(v),
            None => {
                #[cfg(test)]
                DEFAULTS_USED
                    .with(|d| d.borrow_mut().push((name.to_string(), default.spellings())));
                Ok(default)
            }
        }
    }

    /// Whether `--name` was given at all (with or without a value), without consuming it.
    pub fn given(&self, name: &str) -> bool {
        self.opts.iter().any(|o| o.0 == name)
    }

    /// `--threads N` (default: `default`): at least 1, and capped at the cores available with a warning
    /// on stderr ([`monge::ot::options::threads`]).
    pub fn threads(&mut self, default: usize) -> Result<usize> {
        monge::ot::options::threads(self, default)
    }

    /// The value of `--name`, which must be given.
    pub fn required<V: ArgValue>(&mut self, name: &str) -> Result<V> {
        self.get(name)?
            .ok_or_else(|| Error::Usage(format!("option --{name} is required")))
    }

    /// The next unconsumed positional argument.
    pub fn positional(&mut self) -> Option<String> {
        let p = self.positional.iter_mut().find(|p| !p.1)?;
        p.1 = true;
        Some(p.0.clone())
    }

    /// Fails on any option or positional argument nobody consumed.
    pub fn finish(&self) -> Result<()> {
        if let Some(o) = self.opts.iter().find(|o| !o.2) {
            return Err(Error::Usage(format!("unknown option --{}", o.0)));
        }
        if let Some(p) = self.positional.iter().find(|p| !p.1) {
            return Err(Error::Usage(format!("unexpected argument '{}'", p.0)));
        }
        Ok(())
    }
}

/// The command line as a source of `monge fit`'s options (the library reads them by name).
impl OptionSource for Args {
    fn given(&self, name: &str) -> bool {
        Args::given(self, name)
    }
    fn flag(&mut self, name: &str) -> Result<bool> {
        Ok(Args::flag(self, name))
    }
    fn text(&mut self, name: &str) -> Result<Option<String>> {
        self.get(name)
    }
    fn count(&mut self, name: &str) -> Result<Option<u64>> {
        self.get(name)
    }
    fn real(&mut self, name: &str) -> Result<Option<f64>> {
        self.get(name)
    }
    fn finish(&mut self) -> Result<()> {
        Args::finish(self)
    }
    fn warn(&mut self, message: &str) {
        super::common::say(&format!("monge: warning: {message}"));
    }
    #[cfg_attr(not(test), allow(unused_variables))]
    fn defaulted(&mut self, name: &str, value: OptValue<'_>) {
        #[cfg(test)]
        {
            let spellings = match value {
                OptValue::Count(v) => v.spellings(),
                OptValue::Real(v) => v.spellings(),
                OptValue::Text(v) => v.to_string().spellings(),
            };
            DEFAULTS_USED.with(|d| d.borrow_mut().push((name.to_string(), spellings)));
        }
    }
}
