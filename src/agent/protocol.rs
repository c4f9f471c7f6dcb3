//! The lines of debconf's passthrough protocol, read and written.
//!
//! debconf's Passthrough frontend (`Debconf/FrontEnd/Passthrough.pm`) sends
//! one command per line and waits for one reply line for every command,
//! `<code>[ <value>]`. Only descriptions, extended descriptions and choices
//! are escaped, and only their newlines (as the two characters `\n`);
//! choices keep debconf's own `\,` for a comma inside a choice. Everything
//! else (SET and SUBST values) is sent as it is. Parsing is total: a line
//! this module does not know becomes [`Command::Unknown`], whose reply
//! says so without ending the session.

/// A `PROGRESS` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressCommand {
    /// `PROGRESS START <min> <max> <tag>`: the bar's range and its title
    /// (the template `tag`, whose DATA came just before).
    Start { min: i64, max: i64, tag: String },
    /// `PROGRESS SET <value>`.
    Set(i64),
    /// `PROGRESS STEP <increment>`.
    Step(i64),
    /// `PROGRESS INFO <tag>`: the template whose description is the
    /// current step.
    Info { tag: String },
    /// `PROGRESS STOP`.
    Stop,
}

/// One line debconf sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `DATA <tag> <item> <value>`: a template field (`type`,
    /// `description`, `extended_description`, `choices`, …), newlines
    /// already unescaped.
    Data {
        tag: String,
        item: String,
        value: String,
    },
    /// `SET <tag> <value>`: the question's current value.
    Set { tag: String, value: String },
    /// `SUBST <tag> <variable> <value>`.
    Subst {
        tag: String,
        variable: String,
        value: String,
    },
    /// `INPUT <priority> <tag>`: show this question at the next GO.
    Input { priority: String, tag: String },
    /// `GO`: ask the questions queued since the last one.
    Go,
    /// `GET <tag>`: the answer.
    Get { tag: String },
    /// `CAPB [capabilities…]`: the confmodule's capabilities (`backup`);
    /// a bare `CAPB` asks for the agent's.
    Capb(Vec<String>),
    /// `TITLE <text>`.
    Title(String),
    /// `SETTITLE <tag>`: the title is that template's description.
    SetTitle { tag: String },
    /// `INFO <tag>`: a line of information.
    Info { tag: String },
    /// `PROGRESS …`.
    Progress(ProgressCommand),
    /// `STOP`: the confmodule is done.
    Stop,
    /// Anything else, or a known command with missing arguments: the
    /// command word, for the reply.
    Unknown(String),
}

/// Reply codes (debconf's `doc/passthrough.txt` and confmodule spec).
pub mod code {
    pub const SUCCESS: u16 = 0;
    pub const BAD_PARAMETERS: u16 = 10;
    pub const SYNTAX_ERROR: u16 = 20;
    pub const GO_BACK: u16 = 30;
}

/// The reply to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `0`.
    Ok,
    /// `0 <value>`.
    Value(String),
    /// `30`: the person went back (GO) or cancelled (PROGRESS).
    Back,
    /// `<code> <message>`.
    Error(u16, String),
}

impl Reply {
    /// The reply line, without its newline. A value cannot hold a newline
    /// (debconf reads one line): newlines become spaces.
    pub fn line(&self) -> String {
        match self {
            Reply::Ok => code::SUCCESS.to_string(),
            Reply::Value(value) => format!("{} {}", code::SUCCESS, value.replace('\n', " ")),
            Reply::Back => code::GO_BACK.to_string(),
            Reply::Error(code, message) => format!("{code} {message}"),
        }
    }
}

/// Reads one line (without its newline; a trailing `\r` is dropped too).
pub fn parse(line: &str) -> Command {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (word, rest) = split_word(line);
    let unknown = || Command::Unknown(word.to_string());
    match word.to_ascii_uppercase().as_str() {
        "DATA" => {
            let (tag, rest) = split_word(rest);
            let (item, value) = split_word(rest);
            if tag.is_empty() || item.is_empty() {
                return unknown();
            }
            Command::Data {
                tag: tag.to_string(),
                item: item.to_string(),
                value: unescape(value),
            }
        }
        "SET" => match split_word(rest) {
            ("", _) => unknown(),
            (tag, value) => Command::Set {
                tag: tag.to_string(),
                value: value.to_string(),
            },
        },
        "SUBST" => {
            let (tag, rest) = split_word(rest);
            let (variable, value) = split_word(rest);
            if tag.is_empty() || variable.is_empty() {
                return unknown();
            }
            Command::Subst {
                tag: tag.to_string(),
                variable: variable.to_string(),
                value: value.to_string(),
            }
        }
        "INPUT" => match split_word(rest) {
            (priority, tag) if !priority.is_empty() && !tag.trim().is_empty() => Command::Input {
                priority: priority.to_string(),
                tag: tag.trim().to_string(),
            },
            _ => unknown(),
        },
        "GO" => Command::Go,
        "GET" => match rest.trim() {
            "" => unknown(),
            tag => Command::Get {
                tag: tag.to_string(),
            },
        },
        "CAPB" => Command::Capb(rest.split_whitespace().map(str::to_string).collect()),
        "TITLE" => Command::Title(rest.to_string()),
        "SETTITLE" => match rest.trim() {
            "" => unknown(),
            tag => Command::SetTitle {
                tag: tag.to_string(),
            },
        },
        "INFO" => Command::Info {
            tag: rest.trim().to_string(),
        },
        "PROGRESS" => parse_progress(rest).map_or_else(unknown, Command::Progress),
        "STOP" => Command::Stop,
        _ => unknown(),
    }
}

fn parse_progress(rest: &str) -> Option<ProgressCommand> {
    let mut words = rest.split_whitespace();
    let number = |word: Option<&str>| word.and_then(|w| w.parse::<i64>().ok());
    match words.next()?.to_ascii_uppercase().as_str() {
        "START" => {
            let min = number(words.next())?;
            let max = number(words.next())?;
            let tag = words.next()?.to_string();
            Some(ProgressCommand::Start { min, max, tag })
        }
        "SET" => number(words.next()).map(ProgressCommand::Set),
        "STEP" => number(words.next()).map(ProgressCommand::Step),
        "INFO" => Some(ProgressCommand::Info {
            tag: words.next()?.to_string(),
        }),
        "STOP" => Some(ProgressCommand::Stop),
        _ => None,
    }
}

/// The reply to a command nobody knows: a syntax error, which
/// Passthrough.pm reads and goes on.
pub fn unknown(word: &str) -> Reply {
    Reply::Error(
        code::SYNTAX_ERROR,
        format!("Unsupported command \"{word}\""),
    )
}

/// The first space-separated word and the rest after that one space.
fn split_word(text: &str) -> (&str, &str) {
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest),
        None => (text, ""),
    }
}

/// Undoes Passthrough.pm's `s/\n/\\n/g`. A `\` before anything else (the
/// `\,` of choices) is left alone.
fn unescape(value: &str) -> String {
    value.replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(tag: &str, item: &str, value: &str) -> Command {
        Command::Data {
            tag: tag.into(),
            item: item.into(),
            value: value.into(),
        }
    }

    #[test]
    fn every_line_debconf_sends_parses() {
        let cases: Vec<(&str, Command)> = vec![
            (
                "DATA demo/flavour type select",
                data("demo/flavour", "type", "select"),
            ),
            (
                "DATA demo/flavour description Which flavour for Bob?",
                data("demo/flavour", "description", "Which flavour for Bob?"),
            ),
            (
                r"DATA demo/flavour extended_description Pick one.\n\nSecond paragraph.",
                data(
                    "demo/flavour",
                    "extended_description",
                    "Pick one.\n\nSecond paragraph.",
                ),
            ),
            (
                r"DATA demo/flavour choices vanilla, choc\, mint, strawberry",
                data(
                    "demo/flavour",
                    "choices",
                    r"vanilla, choc\, mint, strawberry",
                ),
            ),
            (
                "SET demo/tags a, c",
                Command::Set {
                    tag: "demo/tags".into(),
                    value: "a, c".into(),
                },
            ),
            (
                "SET demo/name ",
                Command::Set {
                    tag: "demo/name".into(),
                    value: "".into(),
                },
            ),
            (
                "SUBST demo/flavour who Bob Smith",
                Command::Subst {
                    tag: "demo/flavour".into(),
                    variable: "who".into(),
                    value: "Bob Smith".into(),
                },
            ),
            (
                "INPUT critical demo/secret",
                Command::Input {
                    priority: "critical".into(),
                    tag: "demo/secret".into(),
                },
            ),
            ("GO", Command::Go),
            (
                "GET demo/flavour",
                Command::Get {
                    tag: "demo/flavour".into(),
                },
            ),
            ("CAPB backup", Command::Capb(vec!["backup".into()])),
            ("CAPB", Command::Capb(vec![])),
            ("TITLE Demo setup", Command::Title("Demo setup".into())),
            (
                "SETTITLE demo/title",
                Command::SetTitle {
                    tag: "demo/title".into(),
                },
            ),
            (
                "INFO demo/info",
                Command::Info {
                    tag: "demo/info".into(),
                },
            ),
            (
                "PROGRESS START 0 10 demo/info",
                Command::Progress(ProgressCommand::Start {
                    min: 0,
                    max: 10,
                    tag: "demo/info".into(),
                }),
            ),
            ("PROGRESS SET 4", Command::Progress(ProgressCommand::Set(4))),
            (
                "PROGRESS STEP 3",
                Command::Progress(ProgressCommand::Step(3)),
            ),
            (
                "PROGRESS INFO demo/info",
                Command::Progress(ProgressCommand::Info {
                    tag: "demo/info".into(),
                }),
            ),
            ("PROGRESS STOP", Command::Progress(ProgressCommand::Stop)),
            ("STOP", Command::Stop),
            ("GO\r\n", Command::Go),
            (
                "X_LOADTEMPLATEFILE /tmp/t",
                Command::Unknown("X_LOADTEMPLATEFILE".into()),
            ),
            ("DATA demo/x", Command::Unknown("DATA".into())),
            (
                "PROGRESS START ten 10 t",
                Command::Unknown("PROGRESS".into()),
            ),
            ("GET", Command::Unknown("GET".into())),
            ("", Command::Unknown("".into())),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), expected, "{line:?}");
        }
    }

    #[test]
    fn replies_are_one_line_with_their_code() {
        let cases = [
            (Reply::Ok, "0"),
            (Reply::Value("a, c".into()), "0 a, c"),
            (Reply::Value("".into()), "0 "),
            (Reply::Value("two\nlines".into()), "0 two lines"),
            (Reply::Back, "30"),
            (unknown("FOO"), "20 Unsupported command \"FOO\""),
        ];
        for (reply, line) in cases {
            assert_eq!(reply.line(), line);
        }
    }

    /// Every command of a transcript recorded from debconf 1.5.82's
    /// Passthrough.pm (a confmodule using CAPB backup, TITLE, SUBST, six
    /// question types and PROGRESS) is known.
    #[test]
    fn a_recorded_debconf_transcript_has_no_unknown_command() {
        let transcript = include_str!("fixtures/passthrough.txt");
        let sent: Vec<&str> = transcript
            .lines()
            .filter_map(|l| l.strip_prefix("> "))
            .collect();
        assert!(sent.len() > 40, "{}", sent.len());
        for line in sent {
            assert!(
                !matches!(parse(line), Command::Unknown(_)),
                "unknown: {line}"
            );
        }
    }
}
