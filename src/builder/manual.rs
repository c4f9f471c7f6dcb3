//! The runtime's manual pages and shell completions, generated from the
//! clap definitions ([`crate::cli`]) when `confpack build --runtime`
//! builds the package.
//!
//! Why here and not in a build script: `cargo build` pays nothing for
//! them, and the pages describe the confpack whose version the package
//! carries. Their date is the package's file time (`SOURCE_DATE_EPOCH`,
//! else the binary's), and gzip writes no name or time (`gzip -9n`), so
//! one binary gives the same bytes from any commit.
//!
//! One page per subcommand (`confpack-configure(1)`, as git and apt do)
//! besides `confpack(1)`. clap knows the synopsis, description and
//! options; the sections it cannot know are written here: EXAMPLES,
//! EXIT STATUS (from [`ExitCode::ALL`], the README's table), ENVIRONMENT,
//! FILES and SEE ALSO.

use std::collections::BTreeMap;

use clap::CommandFactory;
use clap_mangen::roff::{Inline, Roff, bold, roman};

use crate::deb::{Deb, Entry};
use crate::error::{Error, ExitCode, Result};
use crate::runtime::timer;

/// Where Debian keeps section 1 pages.
pub const MAN_DIR: &str = "/usr/share/man/man1";
/// The name every page is filed under.
const PROGRAM: &str = "confpack";

/// Each shell's completion file, where its vendor directory is on Debian.
pub const COMPLETIONS: [(clap_complete::Shell, &str); 3] = [
    (
        clap_complete::Shell::Bash,
        "/usr/share/bash-completion/completions/confpack",
    ),
    (
        clap_complete::Shell::Zsh,
        "/usr/share/zsh/vendor-completions/_confpack",
    ),
    (
        clap_complete::Shell::Fish,
        "/usr/share/fish/vendor_completions.d/confpack.fish",
    ),
];

/// The variables confpack reads, and what for.
pub const ENVIRONMENT: [(&str, &str); 11] = [
    (
        "CONFPACK_FRONTEND",
        "How confpack asks its questions (tui, text or noninteractive); wins over DEBIAN_FRONTEND. \
         A postinst's confpack run unattended by confpack install or upgrade gets noninteractive.",
    ),
    (
        "DEBIAN_FRONTEND",
        "As for debconf: noninteractive never asks (install and upgrade then run apt and dpkg \
         unattended, stdin /dev/null); text and tui choose the frontend. passthrough is \
         debconf's link to an agent, not a choice: confpack then uses the terminal it has.",
    ),
    (
        "DEBIAN_PRIORITY",
        "The lowest priority of question asked when it has a usable value (low, medium, high, \
         critical; default high, low with --force-questions).",
    ),
    (
        "SOURCE_DATE_EPOCH",
        "confpack build: the time of every file in the packages (reproducible builds).",
    ),
    (
        "LANGUAGE",
        "The languages of the questions' texts, in order (colon-separated), before LC_ALL, \
         LC_MESSAGES and LANG.",
    ),
    (
        "LC_ALL",
        "The language of the questions' texts; UTF-8 borders in the TUI.",
    ),
    ("LC_MESSAGES", "The language of the questions' texts."),
    (
        "LC_CTYPE",
        "UTF-8 borders in the TUI (after LC_ALL, before LANG).",
    ),
    (
        "LANG",
        "The language of the questions' texts; UTF-8 borders in the TUI.",
    ),
    (
        "NO_COLOR",
        "Set and not empty: the TUI draws without colour.",
    ),
    (
        "TERM",
        "The terminal type: unset or dumb, the questions are asked line by line instead of in \
         the TUI.",
    ),
];

/// Typical command lines, by subcommand ("" is confpack(1)'s own).
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "",
        "confpack configure --package webshop-app",
        "Configure one installed package.",
    ),
    (
        "",
        "confpack set-environment production",
        "Switch this node to another environment.",
    ),
    (
        "",
        "confpack update && confpack upgrade",
        "Converge the node to its environment.",
    ),
    (
        "configure",
        "confpack configure --package webshop-app",
        "Merge, ask what needs asking, render.",
    ),
    (
        "configure",
        "confpack configure --env-file env.xml --dry-run",
        "Show the plan and change nothing.",
    ),
    (
        "configure",
        "confpack configure -p webshop-app --take-document webshop/workers",
        "Decide a conflict for the document.",
    ),
    (
        "reconfigure",
        "confpack reconfigure webshop-app",
        "Ask every question again.",
    ),
    (
        "reconfigure",
        "confpack reconfigure postfix",
        "Ask a Debian package's debconf questions again, in confpack's frontend.",
    ),
    (
        "reconfigure",
        "confpack reconfigure webshop-app --unseen-only",
        "Ask only what was never asked.",
    ),
    (
        "apt",
        "confpack apt -- install -y postfix",
        "apt-get with confpack answering or asking every debconf question.",
    ),
    (
        "validate",
        "confpack validate environments/*.xml",
        "Check documents against the built-in schema.",
    ),
    (
        "get",
        "confpack get webshop/db.host",
        "Print one stored answer.",
    ),
    (
        "set",
        "confpack set webshop/hostname \"$(hostname -f)\"",
        "Preseed an answer for unattended runs.",
    ),
    (
        "set",
        "printf %s \"$PASSWORD\" | confpack set --secret webshop/db.password -",
        "Store a secret read from stdin.",
    ),
    (
        "convert",
        "confpack convert dataone.xml -o env.xml",
        "Convert a DataONE v1 document.",
    ),
    (
        "convert",
        "confpack convert --from-debconf-templates debian/templates --po debian/po",
        "Convert a package's debconf templates.",
    ),
    (
        "import-debconf",
        "debconf-get-selections | confpack import-debconf",
        "Import debconf's answers.",
    ),
    (
        "export",
        "confpack export | debconf-set-selections",
        "Hand the answers to debconf.",
    ),
    (
        "answers",
        "confpack answers --format json",
        "Every stored answer as JSON.",
    ),
    (
        "status",
        "confpack status || echo drift",
        "Exit 9 when the node does not match its environment.",
    ),
    (
        "build",
        "confpack build . --out debs --runtime",
        "Build every package and confpack-runtime.",
    ),
    (
        "plan",
        "confpack plan --since HEAD~1",
        "What the last commit changes on every machine.",
    ),
    (
        "publish",
        "confpack publish --repo repo --environment production --sign-key KEYID debs",
        "Publish into an apt repository.",
    ),
    (
        "upload",
        "confpack upload --repo repo apt.example.com:/srv/confpack",
        "Copy the repository to its web server.",
    ),
    (
        "set-environment",
        "confpack set-environment production --repo-url https://apt.example.com/confpack --key confpack.asc",
        "Choose the environment of a new node.",
    ),
    (
        "set-environment",
        "confpack set-environment production --converge-every 15min",
        "Converge every 15 minutes.",
    ),
    (
        "set-environment",
        "confpack set-environment production --no-converge",
        "Converge only by hand.",
    ),
    (
        "update",
        "confpack update",
        "Fetch the environment's index.",
    ),
    ("install", "confpack install webserver", "Install a role."),
    (
        "upgrade",
        "confpack upgrade",
        "Converge to the environment's newest versions.",
    ),
    (
        "upgrade",
        "confpack upgrade --version 2 webserver",
        "Roll the role back (or forward) to version 2.",
    ),
    (
        "keygen",
        "confpack keygen",
        "Create the node key and print its recipient.",
    ),
    (
        "encrypt",
        "confpack encrypt --recipients recipients.txt < secret",
        "Encrypt a secret for a document.",
    ),
];

/// The files confpack keeps and writes on a node.
fn files() -> Vec<(String, &'static str)> {
    vec![
        (
            "/var/lib/confpack/db".into(),
            "The answer database (--db), locked while a confpack writes it.",
        ),
        (
            "/var/cache/confpack".into(),
            "Copies of online environment documents, used when the server is unreachable.",
        ),
        (
            "/etc/confpack/key".into(),
            "The node key (0600) that decrypts the packages' secrets.",
        ),
        (
            crate::runtime::SOURCES_LIST.into(),
            "The confpack apt source that set-environment writes.",
        ),
        (
            format!("{}/confpack.asc", crate::runtime::KEYRING_DIR),
            "The repository's signing key (confpack.gpg when binary).",
        ),
        (
            crate::runtime::ROLLBACK_PIN.into(),
            "The pin that holds a rollback (upgrade --version) until a plain upgrade.",
        ),
        (
            format!("{}/{}", timer::UNIT_DIR, timer::TIMER),
            "Runs confpack-converge.service (update, then upgrade) once per interval; \
             set-environment enables it.",
        ),
        (
            format!("{}/{}", timer::drop_in_dir(), timer::DROP_IN_NAME),
            "The interval that set-environment --converge-every chose.",
        ),
        (
            "/usr/share/confpack".into(),
            "The packages' environment documents, templates and hooks.",
        ),
    ]
}

/// The pages and completions, as entries of the runtime package.
pub fn add_to(deb: &mut Deb, time: i64) -> Result<()> {
    for (name, text) in pages(time)? {
        let path = format!("{MAN_DIR}/{name}.gz");
        let data = crate::deb::gzip_best(text.as_bytes()).map_err(|e| Error::io(&path, e))?;
        deb.entries.insert(path, Entry::File { data, mode: 0o644 });
    }
    for (path, data) in completions() {
        deb.entries
            .insert(path.to_string(), Entry::File { data, mode: 0o644 });
    }
    Ok(())
}

/// The command with every subcommand built (they are deferred) and no
/// `help` subcommand (`--help` is every command's own).
fn command() -> clap::Command {
    let mut command = crate::cli::Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// Page file name (`confpack-configure.1`) → roff, `confpack.1` first.
pub fn pages(time: i64) -> Result<BTreeMap<String, String>> {
    let command = command();
    let date = iso_date(time);
    let subcommands: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .collect();
    let mut pages = BTreeMap::new();
    let all: Vec<String> = subcommands
        .iter()
        .map(|s| format!("{PROGRAM}-{}", s.get_name()))
        .collect();
    pages.insert(format!("{PROGRAM}.1"), page(&command, "", &date, &all)?);
    for subcommand in subcommands {
        let name = subcommand.get_name();
        pages.insert(
            format!("{PROGRAM}-{name}.1"),
            page(subcommand, name, &date, &[PROGRAM.to_string()])?,
        );
    }
    Ok(pages)
}

/// One page: clap's sections, then confpack's.
fn page(command: &clap::Command, name: &str, date: &str, see_also: &[String]) -> Result<String> {
    let man = clap_mangen::Man::new(command.clone())
        .date(date)
        .source(format!("{PROGRAM} {}", env!("CARGO_PKG_VERSION")))
        .manual("confpack manual");
    let mut out = Vec::new();
    let written = (|| -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        if command.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if command.has_subcommands() {
            man.render_subcommands_section(&mut out)?;
        }
        Ok(())
    })();
    written.map_err(|e| Error::io(format!("{PROGRAM}-{name}.1"), e))?;
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push_str(&sections(name, see_also).render());
    Ok(once_preamble(&text))
}

/// Each of clap_mangen's sections and roff's renders starts with the
/// same two lines (apostrophes as `\(aq`); a page needs them once.
fn once_preamble(text: &str) -> String {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    match text.strip_prefix(PREAMBLE) {
        Some(rest) => format!("{PREAMBLE}{}", rest.replace(PREAMBLE, "")),
        None => text.to_string(),
    }
}

/// EXAMPLES, EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO.
fn sections(name: &str, see_also: &[String]) -> Roff {
    let mut roff = Roff::new();
    let examples: Vec<_> = EXAMPLES.iter().filter(|(of, ..)| *of == name).collect();
    if !examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        for (_, line, what) in examples {
            roff.control("TP", [])
                .text([bold(*line)])
                .text([roman(*what)]);
        }
    }
    roff.control("SH", ["EXIT STATUS"]);
    for code in ExitCode::ALL {
        roff.control("TP", [])
            .text([bold((code as u8).to_string())])
            .text(markdown(code.meaning()));
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (variable, what) in ENVIRONMENT {
        roff.control("TP", [])
            .text([bold(variable)])
            .text([roman(what)]);
    }
    roff.control("SH", ["FILES"]);
    for (path, what) in files() {
        roff.control("TP", [])
            .text([bold(path)])
            .text([roman(what)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut references: Vec<Inline> = Vec::new();
    for (i, page) in see_also.iter().enumerate() {
        if i > 0 {
            references.push(roman(", "));
        }
        references.extend([bold(page.as_str()), roman("(1)")]);
    }
    references.push(roman(", apt-get(8), debconf(7), dpkg(1)"));
    roff.text(references);
    roff
}

/// Markdown `code` spans in bold, the rest roman.
fn markdown(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { bold(part) } else { roman(part) })
        .collect()
}

/// `2026-12-03` (UTC), the date of a page.
fn iso_date(time: i64) -> String {
    crate::debian::date::iso_date(time)
}

/// Each shell's completion script, at its Debian path.
pub fn completions() -> Vec<(&'static str, Vec<u8>)> {
    COMPLETIONS
        .iter()
        .map(|(shell, path)| {
            let mut command = command();
            let mut data = Vec::new();
            clap_complete::generate(*shell, &mut command, PROGRAM, &mut data);
            (*path, data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section<'a>(page: &'a str, heading: &str) -> &'a str {
        let start = page
            .find(&format!(".SH \"{heading}\""))
            .or_else(|| page.find(&format!(".SH {heading}\n")))
            .unwrap_or_else(|| panic!("no {heading} in:\n{page}"));
        let rest = &page[start + 4..];
        &rest[..rest.find("\n.SH ").map_or(rest.len(), |end| end + 1)]
    }

    #[test]
    fn every_subcommand_has_its_page_with_its_options() {
        let pages = pages(0).expect("pages");
        let command = command();
        for subcommand in command.get_subcommands() {
            let name = format!("confpack-{}.1", subcommand.get_name());
            let page = pages.get(&name).unwrap_or_else(|| panic!("no {name}"));
            assert!(page.contains("\n.TH confpack-"), "{page}");
            assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble:\n{page}");
            for argument in subcommand.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(long) = argument.get_long() {
                    assert!(
                        page.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                        "{name} lacks --{long}:\n{page}"
                    );
                }
            }
        }
        assert!(pages.contains_key("confpack.1"));
        let configure = &pages["confpack-configure.1"];
        assert!(configure.contains("take\\-document"));
        assert!(
            configure.contains("confpack\\-configure \\- Merge the environment"),
            "{configure}"
        );
        assert_eq!(pages.len(), command.get_subcommands().count() + 1);
    }

    #[test]
    fn the_exit_status_section_is_the_exit_code_table() {
        let pages = pages(0).expect("pages");
        for (name, page) in &pages {
            let exit = section(page, "EXIT STATUS");
            let codes: Vec<&str> = exit
                .lines()
                .skip_while(|l| *l != ".TP")
                .skip(1)
                .step_by(3)
                .collect();
            let expected: Vec<String> = ExitCode::ALL
                .iter()
                .map(|c| format!("\\fB{}\\fR", *c as u8))
                .collect();
            assert_eq!(codes, expected, "{name}:\n{exit}");
        }
        let numbers: Vec<u8> = ExitCode::ALL.iter().map(|c| *c as u8).collect();
        assert_eq!(
            numbers,
            (0..=9).collect::<Vec<u8>>(),
            "every code, in order"
        );
    }

    #[test]
    fn the_exit_code_table_is_the_documented_one() {
        let documented = include_str!("../../docs/configure.md");
        let start = documented
            .find("## Exit codes")
            .expect("docs/configure.md has the exit codes");
        let rows: Vec<String> = documented[start..]
            .lines()
            .skip_while(|l| !l.starts_with("|---"))
            .skip(1)
            .take_while(|l| l.starts_with('|'))
            .map(str::to_string)
            .collect();
        let expected: Vec<String> = ExitCode::ALL
            .iter()
            .map(|c| format!("| {} | {} |", *c as u8, c.meaning()))
            .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn every_variable_settings_reads_is_documented() {
        let documented: Vec<&str> = ENVIRONMENT.iter().map(|(name, _)| *name).collect();
        for name in crate::settings::Env::NAMES
            .iter()
            .chain(&["NO_COLOR", "TERM"])
        {
            assert!(documented.contains(name), "{name} is not in ENVIRONMENT");
        }
    }

    #[test]
    fn every_example_names_a_subcommand() {
        let command = command();
        for (of, line, _) in EXAMPLES {
            if !of.is_empty() {
                assert!(command.find_subcommand(of).is_some(), "{of}");
                assert!(line.contains(&format!("confpack {of}")), "{line}");
            }
        }
    }

    #[test]
    fn the_same_time_gives_the_same_pages_and_its_date() {
        let time = 1_764_720_000; // 2025-12-03
        let first = pages(time).expect("pages");
        assert_eq!(first, pages(time).expect("pages"));
        assert!(
            first["confpack.1"].contains("\n.TH confpack 1 2025-12-03 "),
            "{}",
            &first["confpack.1"][..120]
        );
    }

    #[test]
    fn completions_know_every_subcommand() {
        let completions = completions();
        assert_eq!(completions.len(), 3);
        for (path, data) in completions {
            let text = String::from_utf8(data).expect("utf-8");
            for name in ["configure", "set-environment", "remove-rendered"] {
                assert!(text.contains(name), "{path} lacks {name}");
            }
            assert!(
                text.contains("take-document"),
                "{path}: a deferred subcommand's flag"
            );
        }
    }
}
