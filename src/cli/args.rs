//! A small, strict command-line parser: `--key value`, `--key=value` and `--flag`, no dependencies.
//!
//! Every option a command reads is consumed; [`Args::finish`] turns anything left over into a usage
//! error, so a misspelt option never passes silently.

use monge::{Error, Result};
use std::str::FromStr;

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

    /// The value of `--name` parsed as `V`, or `None`.
    pub fn get<V: FromStr>(&mut self, name: &str) -> Result<Option<V>> {
        match self.string(name)? {
            None => Ok(None),
            Some(s) => s
                .parse::<V>()
                .map(Some)
                .map_err(|_| Error::Usage(format!("option --{name}: cannot parse '{s}'"))),
        }
    }

    /// The value of `--name` parsed as `V`, or `default`.
    pub fn get_or<V: FromStr>(&mut self, name: &str, default: V) -> Result<V> {
        Ok(self.get(name)?.unwrap_or(default))
    }

    /// The value of `--name`, which must be given.
    pub fn required<V: FromStr>(&mut self, name: &str) -> Result<V> {
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
