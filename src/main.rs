//! The `confpack` binary: parse the command line, run, map the outcome to
//! an exit code (documented in docs/configure.md; postinsts rely on them).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = confpack::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match confpack::app::run(cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(confpack::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            confpack::say(format_args!("confpack: error: {error}"));
            ExitCode::from(error.exit_code() as u8)
        }
    }
}
