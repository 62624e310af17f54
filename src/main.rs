//! The `monge` binary. All logic lives in [`cli`]; this file only hands over the arguments and exits
//! with the code it returns (0 ok, 1 runtime failure, 2 usage error).

mod cli;

fn main() {
    monge::signal::install();
    // Arguments that are not UTF-8 (a path in another encoding) are refused clearly, not a panic.
    let mut argv: Vec<String> = Vec::new();
    for (i, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(s) => argv.push(s),
            Err(raw) => {
                cli::common::say(&format!(
                    "monge: error: argument {} is not valid UTF-8 ({}); monge needs UTF-8 paths and \
                     options (rename the file or use a link with a UTF-8 name)",
                    i + 1,
                    monge::io::quote(&raw.to_string_lossy(), 200)
                ));
                std::process::exit(2);
            }
        }
    }
    std::process::exit(cli::run(&argv));
}
