//! Every default that a `--help` states is the default the code uses (issue 17, item 6).
//!
//! Two sources of truth are compared with the help texts:
//! - the defaults the commands actually fall back to: each command is run in-process with only the
//!   options it requires (pointing at files that do not exist, so it stops at the first read, after
//!   every option was parsed) while [`super::args::DEFAULTS_USED`] records each `get_or` default;
//! - defaults that live in solver configurations rather than in `get_or` calls (iteration counts,
//!   generator sizes), read from those configurations.
//!
//! A stated default is `--opt … (default X…)` on the option's own line, `--opt (X)` right after an
//! option named inside another's line, or `X (default)` in a list of choices. Finally every help line
//! that says "default" must have been checked by one of the two, so a new stated default cannot go
//! unchecked.

use super::args::{Args, DEFAULTS_USED};
use super::{demo, eval, experiment, fit, synth, FLAGS};
use monge::data::scrna::ScrnaConfig;
use monge::experiments::ScrnaExperiment;
use monge::ot::sinkhorn::SinkhornConfig;
use monge::ot::w1::W1Config;
use monge::ot::w2::W2Config;
use std::collections::BTreeSet;

/// Runs `run(argv)` and returns the defaults it fell back to.
fn defaults_used(run: fn(Args) -> monge::Result<()>, argv: &[&str]) -> Vec<(String, Vec<String>)> {
    DEFAULTS_USED.with(|d| d.borrow_mut().clear());
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let result = run(Args::parse(&argv, FLAGS).unwrap());
    assert!(result.is_err(), "{argv:?} should stop at a missing file");
    DEFAULTS_USED.with(|d| d.borrow_mut().drain(..).collect())
}

/// Whether `line` names `--opt` as a whole option.
fn mentions(line: &str, opt: &str) -> Option<usize> {
    let pat = format!("--{opt}");
    let mut from = 0;
    while let Some(i) = line[from..].find(&pat) {
        let end = from + i + pat.len();
        let next = line[end..].chars().next();
        if !matches!(next, Some(c) if c.is_alphanumeric() || c == '-') {
            return Some(end);
        }
        from = end;
    }
    None
}

/// The default stated for `--opt` on `line`, if any.
fn stated(line: &str, opt: &str) -> Option<String> {
    let end = mentions(line, opt)?;
    if let Some(rest) = line[end..].strip_prefix(" (") {
        return Some(rest.split(')').next().unwrap().to_string());
    }
    if line.trim_start().starts_with(&format!("--{opt}")) {
        if let Some(i) = line.find("(default") {
            let rest = &line[i + "(default".len()..];
            if rest.starts_with(':') {
                return Some(":".into());
            }
            let v: String = rest
                .trim_start()
                .chars()
                .take_while(|c| !matches!(c, ')' | ';' | ' '))
                .collect();
            // "NAME (default), …" in a list of choices is checked by the caller
            return (!v.is_empty()).then_some(v);
        }
    }
    None
}

/// The lines of `help` between the header line `from` (inclusive) and the next header ending in
/// "OPTIONS:" (exclusive); `from = ""` starts at the top.
fn section<'a>(help: &'a str, from: &str) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut inside = from.is_empty();
    for (i, l) in help.lines().enumerate() {
        if l.trim_end().ends_with("OPTIONS:") && !from.is_empty() {
            inside = l.starts_with(from);
        }
        if inside {
            out.push((i, l));
        }
    }
    out
}

/// Checks every recorded default against `lines`; returns the indices of the lines checked.
fn check(
    help: &str,
    lines: &[(usize, &str)],
    used: &[(String, Vec<String>)],
    checked: &mut BTreeSet<usize>,
) {
    for (opt, spellings) in used {
        for &(i, l) in lines {
            if let Some(v) = stated(l, opt) {
                if v.starts_with(':') {
                    checked.insert(i); // "(default: the machine's cores …)" is prose, not a value
                    continue;
                }
                assert!(
                    spellings.contains(&v),
                    "help says --{opt} defaults to {v:?}, the code uses {spellings:?}:\n{l}\n---\n{help}"
                );
                checked.insert(i);
            } else if spellings
                .iter()
                .any(|s| l.contains(&format!("{s} (default)")) && mentions(l, opt).is_some())
            {
                checked.insert(i);
            }
        }
    }
}

/// Asserts `help` contains `text` (a default taken from a configuration; line breaks and runs of spaces
/// count as one space) and marks the line where it starts.
fn check_text(help: &str, text: &str, checked: &mut BTreeSet<usize>) {
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(text), "help lacks {text:?}:\n{help}");
    let head: String = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let i = help
        .lines()
        .position(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .contains(&head)
        })
        .unwrap_or_else(|| panic!("no line starts {head:?}"));
    checked.insert(i);
}

/// The `--threads` line says "(default: [the machine's] cores, at most 2)": so does the code.
fn check_threads(help: &str, checked: &mut BTreeSet<usize>) {
    let cores = super::args::available_cores();
    assert_eq!(fit::default_threads(), cores.clamp(1, 2));
    let i = help
        .lines()
        .position(|l| mentions(l, "threads").is_some() && l.contains("cores, at most 2)"))
        .expect("a --threads line");
    checked.insert(i);
}

/// Every line of `help` saying "default" was checked.
fn all_checked(help: &str, checked: &BTreeSet<usize>) {
    for (i, l) in help.lines().enumerate() {
        if l.to_lowercase().contains("default") {
            assert!(
                checked.contains(&i),
                "unchecked default in help line {i}: {l}"
            );
        }
    }
}

#[test]
fn fit_help_states_the_codes_defaults() {
    let dir = std::env::temp_dir().join(format!("monge-help-defaults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("m.monge").display().to_string();
    let base = [
        "--source",
        "/nonexistent/a.csv",
        "--target",
        "/nonexistent/b.csv",
        "--model",
    ];
    let help = fit::HELP;
    let mut checked = BTreeSet::new();
    check_threads(help, &mut checked);
    for (method, sect) in [
        ("w2", "W2 OPTIONS"),
        ("w1", "W1 OPTIONS"),
        ("sinkhorn", "SINKHORN OPTIONS"),
    ] {
        let mut argv = vec!["--method", method];
        argv.extend(base);
        argv.push(&model);
        let used = defaults_used(fit::run, &argv);
        check(help, &section(help, "COMMON OPTIONS"), &used, &mut checked);
        check(help, &section(help, sect), &used, &mut checked);
    }
    check_text(
        help,
        &format!(
            "entropic ε (default {} × mean cost",
            SinkhornConfig::default().rel_epsilon
        ),
        &mut checked,
    );
    check_text(
        help,
        &format!("w2 default {}", W2Config::default().iterations),
        &mut checked,
    );
    let w1 = W1Config::default();
    assert_eq!(w1.potential_iters, w1.gan_iters);
    check_text(
        help,
        &format!("w1: each phase, default {}", w1.potential_iters),
        &mut checked,
    );
    all_checked(help, &checked);
}

#[test]
fn demo_help_states_the_codes_defaults() {
    let help = demo::HELP;
    let mut checked = BTreeSet::new();
    let used = defaults_used(demo::run, &["--threads", "0"]);
    check_threads(help, &mut checked);
    check(help, &section(help, ""), &used, &mut checked);
    check_text(
        help,
        &format!(
            "(w2 default {}; w1 default {} per phase)",
            W2Config::demo().iterations,
            demo::DEMO_W1_ITERS
        ),
        &mut checked,
    );
    // `--out DIR … (default: current directory)`: the code's default is "."
    assert!(DEFAULTS_USED.with(|d| d.borrow().is_empty()));
    let out_line = help.lines().position(|l| l.contains("--out DIR")).unwrap();
    assert!(help
        .lines()
        .nth(out_line)
        .unwrap()
        .contains("(default: current directory)"));
    checked.insert(out_line);
    all_checked(help, &checked);
}

#[test]
fn eval_help_states_the_codes_defaults() {
    let help = eval::HELP;
    let mut checked = BTreeSet::new();
    let used = defaults_used(
        eval::run,
        &[
            "--mapped",
            "/nonexistent/y.csv",
            "--target",
            "/nonexistent/b.csv",
        ],
    );
    assert!(used.iter().any(|(o, _)| o == "max-cells"));
    check(help, &section(help, ""), &used, &mut checked);
    all_checked(help, &checked);
}

#[test]
fn synth_and_experiment_helps_state_the_generators_defaults() {
    let d = ScrnaConfig::default();
    let mut checked = BTreeSet::new();
    check_text(
        synth::HELP,
        &format!(
            "defaults {} cells, {} genes, {} affected, {} noise genes",
            d.cells, d.genes, d.affected, d.noise_genes
        ),
        &mut checked,
    );
    all_checked(synth::HELP, &checked);
    let (f, r) = (
        ScrnaExperiment::full().data,
        ScrnaExperiment::reduced().data,
    );
    let mut checked = BTreeSet::new();
    check_text(
        experiment::HELP,
        &format!(
            "Default: the paper's size ({} cells, {} genes, k = {}, {} noise genes)",
            f.cells, f.genes, f.affected, f.noise_genes
        ),
        &mut checked,
    );
    let flat = experiment::HELP
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains(&format!(
        "--reduced: {} cells, {} genes, k = {}, {} noise genes",
        r.cells, r.genes, r.affected, r.noise_genes
    )));
    all_checked(experiment::HELP, &checked);
}

#[test]
fn map_help_states_the_codes_defaults() {
    let help = super::map::HELP;
    let mut checked = BTreeSet::new();
    check_threads(help, &mut checked);
    let nowhere = [
        "--model",
        "/nonexistent/m.monge",
        "--input",
        "/nonexistent/x.csv",
    ];
    let argv = [&nowhere[..], &["--output", "/nonexistent/y.npy"]].concat();
    let used = defaults_used(super::map::run, &argv);
    assert!(used.iter().any(|(o, _)| o == "threads"), "{used:?}");
    check(help, &section(help, ""), &used, &mut checked);
    all_checked(help, &checked);
}

#[test]
fn the_other_helps_state_no_default() {
    for help in [super::plot::HELP, super::bench::HELP, super::HELP] {
        all_checked(help, &BTreeSet::new());
    }
}

#[test]
fn fit_many_help_states_the_codes_defaults() {
    let help = super::fit_many::HELP;
    let mut checked = BTreeSet::new();
    check_threads(help, &mut checked);
    let used = defaults_used(
        super::fit_many::run,
        &[
            "--method",
            "w2",
            "--data",
            "/nonexistent/x.csv",
            "--labels",
            "/nonexistent/l.txt",
            "--source-label",
            "control",
            "--out",
            "/nonexistent/out",
        ],
    );
    assert!(used.iter().any(|(o, _)| o == "group-threads"));
    check(help, &section(help, ""), &used, &mut checked);
    // "--targets … (default: every label but the source, sorted)" is prose; it is what the code does
    // (tests/cli_fit_many.rs reads the summary's rows in that order)
    let t = help
        .lines()
        .position(|l| l.contains("--targets A,B"))
        .unwrap();
    assert!(help
        .lines()
        .nth(t)
        .unwrap()
        .contains("(default: every label but the source, sorted)"));
    checked.insert(t);
    all_checked(help, &checked);
}
