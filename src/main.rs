//! The `inference-lab` command line: a thin driver around the library.

mod cli;

use std::process::ExitCode;

/// See Cargo.toml: the library leaves the choice of allocator to its binaries.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`inference-lab ... | head`), like other Unix tools,
    // instead of panicking on the next print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Whatever print! left in stdout's buffer is written here, where a failure can still be
    // reported (Rust's own flush at exit would drop the error).
    let result = cli::main().and_then(|code| {
        std::io::Write::flush(&mut std::io::stdout()).map_err(cli::stdout_error)?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            cli::print_error(&err);
            ExitCode::from(1)
        }
    }
}
