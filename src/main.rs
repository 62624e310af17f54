//! The `monge` binary. All logic lives in [`cli`]; this file only hands over the arguments and exits
//! with the code it returns (0 ok, 1 runtime failure, 2 usage error).

mod cli;

fn main() {
    monge::signal::install();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(cli::run(&argv));
}
