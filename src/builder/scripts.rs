//! The maintainer scripts of a configuration package.
//!
//! What they must get right (the bash postinst of seed 003 did not):
//! - `configure` runs on dpkg's `configure` only, never on `abort-*`;
//! - a failing `confpack` is reported with its exit code and the next step,
//!   not swallowed by `set -e` half-way through;
//! - under `dpkg --root`, `DPKG_ROOT` names the root, so every command gets
//!   `--root "${DPKG_ROOT:-/}"`;
//! - `DEBIAN_FRONTEND` is left to `confpack configure`, which honours it;
//! - prerm/postrm must work when `confpack` is already gone (a forced
//!   removal, a purge after the runtime was purged): they say so and go on.
//!
//! - a shipped file that replaces one the package does not own (Debian's
//!   `/etc/motd`, which base-files' postinst writes and no package owns; a
//!   file of another package) is moved aside in the preinst and given back
//!   by the postrm, or by the postinst of a version that no longer ships
//!   it. This is sh, not confpack: the preinst runs before the runtime may
//!   be configured.
//!
//! The package's own parts (`control/postinst`, …) are POSIX sh fragments;
//! each runs in a subshell, so its `exit 0` cannot skip confpack's part.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::error::Problem;
use crate::output::shell_quote;

use super::source::{self, Links, MAX_FILE_BYTES};

/// Script names dpkg runs.
pub const SCRIPT_NAMES: [&str; 4] = ["preinst", "postinst", "prerm", "postrm"];

/// A package's own script part, with where it came from.
#[derive(Debug, Clone)]
pub struct Part {
    pub source: String,
    pub text: String,
}

/// Reads the script part at `relative` (`packages/<name>/control/postinst`)
/// and checks it; `None` when there is none.
pub fn read_part(repo: &Path, relative: &str) -> Result<Option<Part>, Problem> {
    let path = repo.join(relative);
    let source = path.display().to_string();
    let problem = |message: String| Problem {
        file: source.clone(),
        line: None,
        message,
    };
    // Never followed: a symlink could pull a file of the build machine
    // (/etc/shadow) into the package; a FIFO would block the build.
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => {
            return Err(problem(
                "a script part must be a regular file (not a symlink, FIFO or device)".into(),
            ));
        }
        Err(e) => return Err(problem(e.to_string())),
    }
    let text = source::read_text(repo, relative, Links::Refused, MAX_FILE_BYTES)
        .map_err(|e| problem(format!("cannot read it as text: {e}")))?;
    check_part(&source, &path, &text)?;
    Ok(Some(Part { source, text }))
}

/// Checks a script part: a POSIX sh fragment (`#!/bin/sh` or no `#!`) that
/// `sh -n` accepts. Errors carry the line.
pub fn check_part(source: &str, path: &Path, text: &str) -> Result<(), Problem> {
    let problem = |line: Option<u64>, message: String| Problem {
        file: source.to_string(),
        line,
        message,
    };
    if let Some(first) = text.lines().next()
        && let Some(interpreter) = first.strip_prefix("#!")
    {
        let program = interpreter.split_whitespace().next().unwrap_or_default();
        if program != "/bin/sh" {
            return Err(problem(
                Some(1),
                format!(
                    "{program} script: a maintainer script part is a POSIX sh fragment (#!/bin/sh or no #! line), \
                     because confpack embeds it in the generated script"
                ),
            ));
        }
    }
    if text.contains('\0') {
        return Err(problem(None, "the script contains a NUL byte".into()));
    }
    match Command::new("sh").arg("-n").arg(path).output() {
        Ok(output) if !output.status.success() => {
            let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
            // dash: "<path>: 3: Syntax error: …"; bash: "<path>: line 3: …".
            let after = message
                .strip_prefix(&format!("{}: ", path.display()))
                .unwrap_or(&message);
            let after = after.strip_prefix("line ").unwrap_or(after);
            let line = after
                .split(':')
                .next()
                .and_then(|n| n.trim().parse::<u64>().ok());
            let text = match line {
                Some(_) => after
                    .split_once(':')
                    .map(|(_, m)| m.trim())
                    .unwrap_or(after),
                None => after,
            };
            Err(problem(line, format!("sh -n: {text}")))
        }
        // No sh to ask: dpkg will tell at install time.
        _ => Ok(()),
    }
}

fn header(out: &mut String, name: &str, package: &str) {
    let _ = writeln!(
        out,
        "#!/bin/sh\n# {name} of {package}, generated by `confpack build`.\nset -e\n"
    );
}

fn part(out: &mut String, part: Option<&Part>) {
    if let Some(part) = part {
        let body = match part.text.split_once('\n') {
            Some((first, rest)) if first.starts_with("#!") => rest,
            _ => part.text.as_str(),
        };
        let _ = writeln!(
            out,
            "# The package's own part ({}), in a subshell so that its exit\n# cannot skip confpack's part.\n(\n{}\n)\n",
            part.source,
            body.trim_end()
        );
    }
}

/// Runs `confpack` with the arguments; on failure, says what failed and
/// how to go on, and exits with confpack's code. Under `confpack install`
/// or `upgrade` (which set the run variable) the next step is the one
/// that confpack names at the end, so the script does not give another.
fn call(out: &mut String, package: &str, arguments: &str, next: &str) {
    let run = crate::run::PID_VARIABLE;
    let _ = writeln!(
        out,
        r#"        status=0
        confpack --root "${{DPKG_ROOT:-/}}" {arguments} || status=$?
        if [ "$status" -ne 0 ]; then
            if [ -n "${{{run}:-}}" ]; then
                echo "{package}: 'confpack {arguments}' failed (exit $status)" >&2
            else
                echo "{package}: 'confpack {arguments}' failed (exit $status); {next}" >&2
            fi
            exit "$status"
        fi"#
    );
}

/// Like [`call`], but only when confpack is installed.
fn call_if_installed(out: &mut String, package: &str, arguments: &str, next: &str, gone: &str) {
    out.push_str("        if command -v confpack >/dev/null 2>&1; then\n");
    let mut inner = String::new();
    call(&mut inner, package, arguments, next);
    for line in inner.lines() {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(
        out,
        "        else\n            echo \"{package}: confpack is not installed; {gone}\" >&2\n        fi"
    );
}

/// The paths a package version puts in place: the files dpkg unpacks
/// (`/etc/motd`) and the targets configure renders.
#[derive(Debug, Default, Clone)]
pub struct Placed {
    pub shipped: BTreeSet<String>,
    pub rendered: BTreeSet<String>,
}

/// Where the scripts keep an original that no package owns, and the
/// variables the functions below use.
const SAVED: &str = r#"confpack_saved="${DPKG_ROOT:-}/var/lib/confpack/replaced/$confpack_package"
"#;

/// Preinst: moves an existing file at a shipped path aside unless it is
/// the package's own already (an upgrade). `$1` is the path, `$2` the same
/// as a `dpkg-query --search` pattern (glob characters escaped).
const DISPLACE: &str = r#"# The packages owning path $1 (dpkg-query pattern $2), one a line.
confpack_owners() {
    dpkg-query --search "$2" 2>/dev/null | while IFS= read -r confpack_line; do
        case "$confpack_line" in
            "diversion by "*) ;;
            *": $1") printf '%s\n' "${confpack_line%": $1"}" | tr ',' '\n' | sed 's/^ *//; s/:.*$//' ;;
        esac
    done
}

# Moves what is at $1 aside before dpkg puts the package's file there:
# another package's file is diverted, a file of no package is saved.
confpack_displace() {
    confpack_file="${DPKG_ROOT:-}$1"
    [ -e "$confpack_file" ] || [ -L "$confpack_file" ] || return 0
    if [ -d "$confpack_file" ] && [ ! -L "$confpack_file" ]; then return 0; fi
    [ -z "$(dpkg-divert --listpackage "$1")" ] || return 0
    confpack_by=$(confpack_owners "$1" "$2")
    if [ -n "$confpack_by" ]; then
        if printf '%s\n' "$confpack_by" | grep -qxF -- "$confpack_package"; then return 0; fi
        dpkg-divert --quiet --package "$confpack_package" --add --rename --divert "$1.confpack-orig" "$1"
        echo "$confpack_package: $1 of $(printf '%s' "$confpack_by" | tr '\n' ' ')is kept as $1.confpack-orig"
    elif [ ! -e "$confpack_saved$1" ] && [ ! -L "$confpack_saved$1" ]; then
        mkdir -p "$(dirname "$confpack_saved$1")"
        mv "$confpack_file" "$confpack_saved$1"
        echo "$confpack_package: $1 (of no package) is kept in /var/lib/confpack/replaced/$confpack_package"
    fi
}
"#;

/// Postrm and postinst: gives back what [`DISPLACE`] (or configure, for a
/// template) moved aside from `$1`, once nothing is there any more.
const GIVE_BACK: &str = r#"# Gives back the original of $1 once the package's file there is gone.
confpack_give_back() {
    confpack_file="${DPKG_ROOT:-}$1"
    if [ -e "$confpack_file" ] || [ -L "$confpack_file" ]; then return 0; fi
    if [ "$(dpkg-divert --listpackage "$1")" = "$confpack_package" ]; then
        dpkg-divert --quiet --package "$confpack_package" --remove --rename --divert "$1.confpack-orig" "$1"
        echo "$confpack_package: gave $1 back to its package"
    elif [ -e "$confpack_saved$1" ] || [ -L "$confpack_saved$1" ]; then
        mv "$confpack_saved$1" "$confpack_file"
        echo "$confpack_package: gave $1 back"
        confpack_dir=$(dirname "$confpack_saved$1")
        while [ "$confpack_dir" != "${DPKG_ROOT:-}/var/lib/confpack" ] && rmdir "$confpack_dir" 2>/dev/null; do
            confpack_dir=$(dirname "$confpack_dir")
        done
    fi
}
"#;

/// Postinst: every path the package holds an original of (diverted by it
/// to `<path>.confpack-orig`, or saved), one a line.
const HELD: &str = r#"# The paths whose originals the package holds, one a line.
confpack_held() {
    dpkg-divert --list | while IFS= read -r confpack_line; do
        case "$confpack_line" in
            "diversion of "*" by $confpack_package") ;;
            *) continue ;;
        esac
        confpack_rest=${confpack_line#"diversion of "}
        confpack_rest=${confpack_rest%" by $confpack_package"}
        confpack_head=
        confpack_tail=$confpack_rest
        while :; do
            case "$confpack_tail" in *" to "*) ;; *) break ;; esac
            confpack_path=$confpack_head${confpack_tail%%" to "*}
            if [ "$confpack_rest" = "$confpack_path to $confpack_path.confpack-orig" ]; then
                printf '%s\n' "$confpack_path"
                break
            fi
            confpack_head="$confpack_path to "
            confpack_tail=${confpack_tail#*" to "}
        done
    done
    if [ -d "$confpack_saved" ]; then
        find "$confpack_saved" ! -type d -print | while IFS= read -r confpack_line; do
            printf '%s\n' "${confpack_line#"$confpack_saved"}"
        done
    fi
}
"#;

/// `path` as a `dpkg-query --search` pattern that matches only itself.
fn search_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `confpack_keeps PATH`: whether this version ships or renders PATH.
fn keeps(out: &mut String, placed: &Placed) {
    out.push_str("# Whether this version ships or renders $1.\nconfpack_keeps() {\n");
    let paths: Vec<String> = placed
        .shipped
        .iter()
        .chain(&placed.rendered)
        .map(|p| shell_quote(p))
        .collect();
    if !paths.is_empty() {
        let _ = writeln!(
            out,
            "    case \"$1\" in\n        {}) return 0 ;;\n    esac",
            paths.join("|\\\n        ")
        );
    }
    out.push_str("    return 1\n}\n\n");
}

fn library(out: &mut String, package: &str, functions: &[&str]) {
    let _ = writeln!(out, "confpack_package={}", shell_quote(package));
    out.push_str(SAVED);
    out.push('\n');
    for function in functions {
        out.push_str(function);
        out.push('\n');
    }
}

/// The four scripts of a configuration package. `configured`: the package
/// has an environment document, so its postinst runs `confpack configure`.
///
/// `placed`: what this version ships and renders. An existing file at a
/// shipped path that is not the package's own is moved aside first (the
/// preinst) and given back when the package's file is gone (the postrm;
/// the postinst of a version that no longer ships or renders it).
pub fn generate(
    package: &str,
    configured: bool,
    placed: &Placed,
    parts: &std::collections::BTreeMap<String, Part>,
) -> Vec<(String, String)> {
    let preinst = (parts.contains_key("preinst") || !placed.shipped.is_empty())
        .then(|| preinst(package, placed, parts.get("preinst")));
    preinst
        .map(|script| ("preinst".to_string(), script))
        .into_iter()
        .chain([
            (
                "postinst".to_string(),
                postinst(package, configured, placed, parts.get("postinst")),
            ),
            ("prerm".to_string(), prerm(package, parts.get("prerm"))),
            (
                "postrm".to_string(),
                postrm(package, placed, parts.get("postrm")),
            ),
        ])
        .collect()
}

/// Moves aside what is at each shipped path, then the package's part.
fn preinst(package: &str, placed: &Placed, own: Option<&Part>) -> String {
    let mut out = String::new();
    header(&mut out, "preinst", package);
    if !placed.shipped.is_empty() {
        library(&mut out, package, &[DISPLACE]);
        out.push_str("case \"$1\" in\n    install|upgrade)\n");
        for path in &placed.shipped {
            let _ = writeln!(
                out,
                "        confpack_displace {} {}",
                shell_quote(path),
                shell_quote(&search_pattern(path))
            );
        }
        out.push_str("        ;;\nesac\n\n");
    }
    part(&mut out, own);
    out.push_str("exit 0\n");
    out
}

/// Gives back what this version no longer places, then configures (or
/// removes what an earlier version rendered), then the package's part.
fn postinst(package: &str, configured: bool, placed: &Placed, own: Option<&Part>) -> String {
    let mut out = String::new();
    header(&mut out, "postinst", package);
    library(&mut out, package, &[GIVE_BACK, HELD]);
    keeps(&mut out, placed);
    out.push_str("case \"$1\" in\n    configure)\n");
    // Originals of paths this version no longer ships (dpkg has removed
    // the old file) go back before configure renders anything.
    out.push_str(
        "        confpack_held | while IFS= read -r confpack_path; do\n            \
         confpack_keeps \"$confpack_path\" || confpack_give_back \"$confpack_path\"\n        \
         done\n",
    );
    // Without a document: apply the declarations alone, and drop what an
    // earlier version rendered.
    let arguments = if configured {
        format!("configure --package {package}")
    } else {
        format!("apply {package}")
    };
    call(
        &mut out,
        package,
        &arguments,
        &format!("fix the cause above, then run: dpkg --configure {package}"),
    );
    out.push_str(
        "        ;;\n    abort-upgrade|abort-remove|abort-deconfigure)\n        ;;\nesac\n\n",
    );
    part(&mut out, own);
    out.push_str("exit 0\n");
    out
}

/// The package's part, then removes what configure rendered.
fn prerm(package: &str, own: Option<&Part>) -> String {
    let mut out = String::new();
    header(&mut out, "prerm", package);
    part(&mut out, own);
    out.push_str("case \"$1\" in\n    remove)\n");
    call_if_installed(
        &mut out,
        package,
        &format!("remove-rendered {package}"),
        &format!("fix the cause above, then run: dpkg --remove {package}"),
        "the files it rendered are left in place",
    );
    out.push_str("        ;;\nesac\n\n");
    out.push_str("exit 0\n");
    out
}

/// Gives back the originals of shipped paths, purges the answers, then
/// the package's part.
fn postrm(package: &str, placed: &Placed, own: Option<&Part>) -> String {
    let mut out = String::new();
    header(&mut out, "postrm", package);
    if !placed.shipped.is_empty() {
        // After dpkg removed the package's files (or an aborted unpack
        // took them back): the originals return where nothing is left.
        library(&mut out, package, &[GIVE_BACK]);
        out.push_str("case \"$1\" in\n    remove|purge|abort-install|abort-upgrade)\n");
        for path in &placed.shipped {
            let _ = writeln!(out, "        confpack_give_back {}", shell_quote(path));
        }
        out.push_str("        ;;\nesac\n\n");
    }
    out.push_str("case \"$1\" in\n    purge)\n");
    call_if_installed(
        &mut out,
        package,
        &format!("purge {package}"),
        &format!("fix the cause above, then run: dpkg --purge {package}"),
        "its answers are left in /var/lib/confpack",
    );
    out.push_str("        ;;\nesac\n\n");
    part(&mut out, own);
    out.push_str("exit 0\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sh_accepts(script: &str) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("script");
        std::fs::write(&path, script).expect("write");
        let status = Command::new("sh")
            .arg("-n")
            .arg(&path)
            .status()
            .expect("sh");
        assert!(status.success(), "{script}");
    }

    #[test]
    fn generated_scripts_are_valid_sh_with_and_without_parts() {
        let mut parts = BTreeMap::new();
        for name in SCRIPT_NAMES {
            parts.insert(
                name.to_string(),
                Part {
                    source: format!("control/{name}"),
                    text: "#!/bin/sh\nset -e\necho \"$1\"\nexit 0\n".into(),
                },
            );
        }
        let placed = Placed {
            shipped: ["/etc/motd", "/etc/it's a [file]*"]
                .map(str::to_string)
                .into(),
            rendered: ["/etc/demo.conf"].map(str::to_string).into(),
        };
        for (configured, parts) in [(true, parts), (false, BTreeMap::new())] {
            for (_, script) in generate("demo", configured, &placed, &parts) {
                sh_accepts(&script);
            }
        }
    }

    #[test]
    fn a_failed_configure_gives_dpkgs_next_step_only_outside_a_confpack_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("confpack");
        std::fs::write(&fake, "#!/bin/sh\nexit 3\n").expect("fake");
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let postinst = generate("demo", true, &Placed::default(), &BTreeMap::new())
            .into_iter()
            .find(|(name, _)| name == "postinst")
            .expect("postinst")
            .1;
        let path = format!("{}:/usr/bin:/bin", dir.path().display());
        let run = |under_confpack: bool| {
            let mut command = Command::new("sh");
            command
                .args(["-c", &postinst, "postinst", "configure"])
                .env("PATH", &path)
                .env_remove(crate::run::PID_VARIABLE);
            if under_confpack {
                command.env(crate::run::PID_VARIABLE, "4242");
            }
            let output = command.output().expect("sh");
            assert_eq!(output.status.code(), Some(3));
            String::from_utf8_lossy(&output.stderr).into_owned()
        };
        let alone = run(false);
        assert!(alone.contains("then run: dpkg --configure demo"), "{alone}");
        let under = run(true);
        assert!(
            under.contains("failed (exit 3)") && !under.contains("dpkg --configure"),
            "{under}"
        );
    }

    #[test]
    fn a_part_with_a_syntax_error_names_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("postinst");
        let text = "#!/bin/sh\necho ok\nif then\n";
        std::fs::write(&path, text).expect("write");
        let problem = check_part("control/postinst", &path, text).expect_err("refused");
        assert_eq!(problem.line, Some(3), "{problem}");
    }

    #[test]
    fn a_bash_part_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("postinst");
        let text = "#!/bin/bash\necho ok\n";
        std::fs::write(&path, text).expect("write");
        let problem = check_part("control/postinst", &path, text).expect_err("refused");
        assert_eq!(problem.line, Some(1));
    }
}
