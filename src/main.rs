//! The `inference-lab` command line: a thin driver around the library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(err) => {
            cli::print_error(&err);
            ExitCode::from(1)
        }
    }
}
