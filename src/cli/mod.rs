//! The `monge` command line: dispatch to one file per subcommand.

pub mod args;
pub mod bench;
pub mod common;
pub mod demo;
pub mod eval;
pub mod experiment;
pub mod fit;
pub mod json;
pub mod map;
pub mod plot;
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
    map      apply a saved model to a data file
    eval     compare a mapped set with a target set (MMD, sliced/exact W2, r², …)
    synth    generate data sets (toy, scrna, known-map)
    plot     SVG of point sets with displacement arrows, or of training curves
    bench    time the training iterations of every solver
    experiment  reproduce a seed paper's table (scrna)

OPTIONS:
    -h, --help       print this help
    -V, --version    print the version

Run `monge <COMMAND> --help` for the options of a command.
Exit codes: 0 success, 1 runtime failure (bad data, I/O, divergence), 2 usage error.
";

/// Options that never take a value, for every subcommand.
const FLAGS: &[&str] = &[
    "help", "json", "quiet", "anneal", "log", "quick", "positive", "reduced",
];

/// Runs the command line `argv` (without the program name); returns the process exit code.
pub fn run(argv: &[String]) -> i32 {
    match dispatch(argv) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("monge: error: {e}");
            if matches!(e, Error::Usage(_)) {
                eprintln!("run `monge --help` for usage");
            }
            e.exit_code()
        }
    }
}

fn dispatch(argv: &[String]) -> Result<()> {
    let Some(cmd) = argv.first() else {
        print!("{HELP}");
        return Err(Error::Usage("no command given".into()));
    };
    let rest = &argv[1..];
    let args = || args::Args::parse(rest, FLAGS);
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            print!("{HELP}");
            Ok(())
        }
        "-V" | "--version" => {
            println!("monge {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "eval" => eval::run(args()?),
        "synth" => synth::run(args()?),
        "plot" => plot::run(args()?),
        "fit" => fit::run(args()?),
        "experiment" => experiment::run(args()?),
        "demo" => demo::run(args()?),
        "map" => map::run(args()?),
        "bench" => bench::run(args()?),
        other => Err(Error::Usage(format!("unknown command '{other}'"))),
    }
}
