//! The `monge` command line: dispatch to one file per subcommand.

/// `eprintln!` that cannot panic: a line on stderr, a failed write ignored ([`common::say`]).
macro_rules! say {
    ($($t:tt)*) => {
        $crate::cli::common::say(&format!($($t)*))
    };
}

/// `println!` for results: a failed write to stdout returns an `Error::Io` from the enclosing function
/// ([`common::print_out`]).
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::common::print_out(&format!($($t)*))?
    };
}

pub mod args;
pub mod bench;
pub mod common;
pub mod demo;
pub mod eval;
pub mod experiment;
pub mod fit;
pub mod fit_many;
pub mod json;
pub mod map;
pub mod plot;
pub mod resume;
pub mod synth;

use monge::{Error, Result};

/// The top-level help text.
pub const HELP: &str = "\
monge — neural optimal transport maps with hand-derived gradients

USAGE:
    monge <COMMAND> [OPTIONS]

COMMANDS:
    demo     train on a built-in 2-D toy, print metrics, write an SVG plot
    fit      learn a map from a source set to a target set and save the model
    fit-many one map per perturbation label of a labelled data set (resumable, groups in parallel)
    map      apply a saved model to a data file
    eval     compare a mapped set with a target set (MMD, sliced/exact W2, r², …)
    synth    generate data sets (toy, scrna, known-map)
    plot     SVG of point sets with displacement arrows, or of training curves
    bench    time the training iterations of every solver
    experiment  reproduce a seed paper's table (scrna)

OPTIONS:
    -h, --help       print this help
    -V, --version    print the version

Every command also takes --header / --no-header: the first line of each CSV input is (not) a header;
otherwise it is a header only when none of its fields is a number, and stderr says so.
Run `monge <COMMAND> --help` for the options of a command.
Exit codes: 0 success, 1 runtime failure (bad data, I/O, divergence), 2 usage error.
";

/// Longest error message printed, in characters (a 10 MB bad field must not become a 10 MB line).
const MAX_MESSAGE: usize = 2000;

/// Options that never take a value, for every subcommand.
const FLAGS: &[&str] = &[
    "help",
    "json",
    "quiet",
    "anneal",
    "log",
    "baselines",
    "quick",
    "positive",
    "reduced",
    "header",
    "no-header",
];

/// Runs the command line `argv` (without the program name); returns the process exit code.
pub fn run(argv: &[String]) -> i32 {
    match dispatch(argv) {
        Ok(()) => 0,
        Err(e) => {
            // control characters from a file (escape sequences, NUL, CR) are escaped, and the text cut
            let msg = monge::io::quote(&e.to_string(), MAX_MESSAGE);
            common::say(&format!("monge: error: {}", &msg[1..msg.len() - 1]));
            if matches!(e, Error::Usage(_)) {
                common::say("run `monge --help` for usage");
            }
            e.exit_code()
        }
    }
}

fn dispatch(argv: &[String]) -> Result<()> {
    let Some(cmd) = argv.first() else {
        common::print_help(HELP);
        return Err(Error::Usage("no command given".into()));
    };
    let rest = &argv[1..];
    let args = || -> Result<args::Args> {
        let mut a = args::Args::parse(rest, FLAGS)?;
        let (h, nh) = (a.flag("header"), a.flag("no-header"));
        if h && nh {
            return Err(Error::Usage(
                "--header and --no-header contradict each other".into(),
            ));
        }
        common::set_csv_header(if h {
            Some(true)
        } else if nh {
            Some(false)
        } else {
            None
        });
        Ok(a)
    };
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            common::print_help(HELP);
            Ok(())
        }
        "-V" | "--version" => common::print_out(&format!("monge {}", env!("CARGO_PKG_VERSION"))),
        "eval" => eval::run(args()?),
        "synth" => synth::run(args()?),
        "plot" => plot::run(args()?),
        "fit" => fit::run(args()?),
        "fit-many" => fit_many::run(args()?),
        "experiment" => experiment::run(args()?),
        "demo" => demo::run(args()?),
        "map" => map::run(args()?),
        "bench" => bench::run(args()?),
        other => Err(Error::Usage(format!("unknown command '{other}'"))),
    }
}

#[cfg(test)]
mod help_defaults;
