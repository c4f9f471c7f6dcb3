//! One way to run a tool (git, gpg, dpkg-deb, dpkg-divert, dpkg-query,
//! strip, apt-cache) and say what went wrong: stdin is /dev/null (a tool
//! never waits for a person), the output is captured, and a tool that
//! cannot start or exits non-zero becomes [`Error::Command`] naming the
//! command line and its stderr — or, when it printed nothing, its exit
//! status.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// The command line as a person would type it.
pub fn shown(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(quoted)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quoted(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    match plain {
        true => word.into_owned(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

/// Runs `command` to its end; a non-zero exit is an error.
pub fn output(command: &mut Command) -> Result<Output> {
    output_allowing(command, &[])
}

/// Like [`output`], also accepting the exit codes in `allowed`
/// (`dpkg-query --search` exits 1 for a path no package owns).
pub fn output_allowing(command: &mut Command, allowed: &[i32]) -> Result<Output> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Command {
            command: shown(command),
            message: match e.kind() {
                std::io::ErrorKind::NotFound => "not installed (not found in PATH)".into(),
                _ => format!("cannot start: {e}"),
            },
        })?;
    let code = output.status.code();
    if output.status.success() || code.is_some_and(|c| allowed.contains(&c)) {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(Error::Command {
        command: shown(command),
        message: match stderr.is_empty() {
            false => stderr,
            true => format!("failed ({})", output.status),
        },
    })
}

/// Like [`output`], with `input` written to the command's stdin (from a
/// thread of its own, so a command that writes while it reads never
/// blocks on a full pipe). The command must also print something: an
/// empty stdout counts as a failure (gpg signing nothing).
pub fn output_with_input(command: &mut Command, input: &[u8]) -> Result<Output> {
    let line = shown(command);
    let started = |e: std::io::Error| Error::Command {
        command: line.clone(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => "not installed (not found in PATH)".into(),
            _ => format!("cannot start: {e}"),
        },
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(started)?;
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input))
    });
    let output = child.wait_with_output().map_err(started)?;
    let written = writer.map(|w| w.join());
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let failed = !output.status.success() || output.stdout.is_empty();
    if failed || matches!(written, Some(Ok(Err(_))) | Some(Err(_))) {
        return Err(Error::Command {
            command: line,
            message: match stderr.is_empty() {
                false => stderr,
                true => format!("failed ({})", output.status),
            },
        });
    }
    Ok(output)
}

/// Runs `command` for its exit status only (its stdio as set), which the
/// caller interprets. A program that was just written (a policy-rc.d
/// installed a moment ago) can be "busy" for an instant while another
/// thread's child still holds it open for writing: that is tried again,
/// a few times, before it counts as a failure to start.
pub fn status(command: &mut Command) -> Result<std::process::ExitStatus> {
    let mut tries = 0;
    loop {
        match command.status() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            result => {
                return result.map_err(|e| Error::Command {
                    command: shown(command),
                    message: format!("cannot start: {e}"),
                });
            }
        }
    }
}

/// "Text file busy": the program is open for writing somewhere.
const ETXTBSY: i32 = 26;

/// The output of a query that may simply not be possible here (dpkg not
/// installed, the tool failing): `None` then.
pub fn query(command: &mut Command) -> Option<Output> {
    output(command).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_command_line_and_says_why() {
        for (args, expected) in [
            (
                vec!["-c", "echo oops >&2; exit 3"],
                "sh -c 'echo oops >&2; exit 3': oops",
            ),
            (
                vec!["-c", "exit 4"],
                "sh -c 'exit 4': failed (exit status: 4)",
            ),
        ] {
            let error = output(Command::new("sh").args(&args)).expect_err("fails");
            assert_eq!(error.to_string(), expected);
        }
        let error = output(&mut Command::new("confpack-no-such-tool")).expect_err("missing");
        assert_eq!(
            error.to_string(),
            "confpack-no-such-tool: not installed (not found in PATH)"
        );
    }

    #[test]
    fn allowed_exit_codes_and_stdin_are_those_of_a_query() {
        let out = output_allowing(Command::new("sh").args(["-c", "cat; exit 1"]), &[1])
            .expect("exit 1 allowed");
        assert!(
            out.stdout.is_empty(),
            "stdin is /dev/null, never a terminal"
        );
        assert!(query(Command::new("sh").args(["-c", "exit 2"])).is_none());
        assert_eq!(
            query(Command::new("echo").arg("x y")).map(|o| o.stdout),
            Some(b"x y\n".to_vec())
        );
        assert_eq!(shown(Command::new("echo").arg("it's")), r"echo 'it'\''s'");
        let out = output_with_input(&mut Command::new("cat"), b"signed").expect("cat");
        assert_eq!(out.stdout, b"signed");
        assert!(
            output_with_input(&mut Command::new("true"), b"x").is_err(),
            "nothing printed"
        );
    }
}
