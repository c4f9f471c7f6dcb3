//! The session fed lines as debconf sends them.

use super::fakes::{Recording, Scripted, Turn, no_preset};
use crate::agent::session::{Session, Unanswered};
use crate::env::model::QuestionType;
use crate::error::Error;
use crate::frontend::Context;

/// The commands of the transcript recorded from debconf 1.5.82.
fn recorded() -> Vec<&'static str> {
    include_str!("../fixtures/passthrough.txt")
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .collect()
}

/// Feeds `lines`, returning the replies.
fn replay(session: &mut Session<'_>, lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .map(|line| session.reply_to(line).expect("no error"))
        .collect()
}

/// Feeds `lines` to a new session on `frontend` (no presets).
fn replay_on(frontend: &mut Scripted, lines: &[&str]) -> Vec<String> {
    let mut progress = Recording::default();
    let mut session = Session::new(frontend, &mut progress, &no_preset, Context::default());
    replay(&mut session, lines)
}

fn reply_to<'a>(replies: &'a [String], lines: &[&str], sent: &str) -> &'a str {
    let index = lines
        .iter()
        .position(|l| *l == sent)
        .unwrap_or_else(|| panic!("{sent} not sent"));
    &replies[index]
}

#[test]
fn a_recorded_transcript_asks_each_question_once_and_gets_the_answers() {
    let mut frontend = Scripted::answering(vec![("demo/name", "Alice"), ("demo/secret", "s3cret")]);
    let mut progress = Recording::default();
    let lines = recorded();
    let replies = {
        let mut session =
            Session::new(&mut frontend, &mut progress, &no_preset, Context::default());
        let replies = replay(&mut session, &lines);
        assert_eq!(session.title(), Some("Demo setup"));
        assert!(session.unanswered().is_empty());
        replies
    };
    assert_eq!(
        frontend.asked_tags(),
        vec![vec![
            "demo/flavour",
            "demo/name",
            "demo/enable",
            "demo/secret",
            "demo/info",
            "demo/tags"
        ]]
    );
    let (context, _) = &frontend.asked[0];
    assert!(context.back, "the confmodule announced CAPB backup");
    assert_eq!(context.package.as_deref(), Some("demo"));

    let flavour = frontend.prompt("demo/flavour");
    assert_eq!(flavour.template.question_type, QuestionType::Select);
    assert_eq!(flavour.template.description, "Which flavour for Bob?");
    assert_eq!(flavour.template.extended, "Pick one.\n\nSecond paragraph.");
    assert_eq!(
        flavour.template.choices,
        ["vanilla", "choc, mint", "strawberry"]
    );
    assert_eq!(flavour.default.as_deref(), Some("vanilla"));
    let secret = frontend.prompt("demo/secret");
    assert!(secret.is_secret());
    assert_eq!(secret.default, None);
    assert_eq!(
        frontend.prompt("demo/info").template.question_type,
        QuestionType::Note
    );
    assert_eq!(
        frontend.prompt("demo/tags").template.question_type,
        QuestionType::Multiselect
    );
    assert_eq!(
        frontend.prompt("demo/enable").template.question_type,
        QuestionType::Boolean
    );

    for (sent, expected) in [
        ("CAPB backup", "0 backup"),
        ("GO", "0"),
        ("GET demo/flavour", "0 vanilla"),
        ("GET demo/name", "0 Alice"),
        ("GET demo/enable", "0 true"),
        ("GET demo/secret", "0 s3cret"),
        ("GET demo/info", "0 "),
        ("GET demo/tags", "0 a, c"),
        ("PROGRESS STOP", "0"),
    ] {
        assert_eq!(reply_to(&replies, &lines, sent), expected, "{sent}");
    }
    assert!(
        replies.iter().all(|r| r.starts_with("0")),
        "no error: {replies:?}"
    );
    assert_eq!(
        progress.events,
        ["start 0..10 A note", "step 3", "info A note", "stop"]
    );
}

#[test]
fn substitutions_apply_to_descriptions_and_choices_sent_unexpanded() {
    let mut frontend = Scripted::answering(vec![]);
    replay_on(
        &mut frontend,
        &[
            "DATA p/q type select",
            "DATA p/q description Where does ${who} live?",
            r"DATA p/q choices ${first}, b\, c, ${unknown}",
            "SUBST p/q who Bob Smith",
            "SUBST p/q first home",
            "INPUT medium p/q",
            "GO",
        ],
    );
    let prompt = frontend.prompt("p/q");
    assert_eq!(prompt.template.description, "Where does Bob Smith live?");
    assert_eq!(prompt.template.choices, ["home", "b, c", "${unknown}"]);
}

#[test]
fn a_preset_question_is_not_shown_and_get_returns_the_preset() {
    let mut frontend = Scripted::answering(vec![]);
    let mut progress = Recording::default();
    let preset = |tag: &str| (tag == "p/known").then(|| "from confpack".to_string());
    let mut session = Session::new(&mut frontend, &mut progress, &preset, Context::default());
    let replies = replay(
        &mut session,
        &[
            "DATA p/known type string",
            "SET p/known debconf's",
            "INPUT high p/known",
            "DATA p/other type string",
            "INPUT high p/other",
            "GO",
            "GET p/known",
        ],
    );
    drop(session);
    assert_eq!(replies.last().map(String::as_str), Some("0 from confpack"));
    assert_eq!(frontend.asked_tags(), vec![vec!["p/other"]]);
}

#[test]
fn reshowing_asks_preset_questions_with_the_preset_as_default_and_a_confirmed_preset_stays_confpacks()
 {
    let mut frontend = Scripted::answering(vec![("p/known", "from confpack"), ("p/mine", "typed")]);
    let mut progress = Recording::default();
    let preset = |tag: &str| (tag != "p/other").then(|| "from confpack".to_string());
    let mut session =
        Session::new(&mut frontend, &mut progress, &preset, Context::default()).reshowing(true);
    let replies = replay(
        &mut session,
        &[
            "TITLE Configuring p",
            "DATA p/known type string",
            "SET p/known debconf's",
            "INPUT low p/known",
            "DATA p/mine type string",
            "INPUT low p/mine",
            "DATA p/other type string",
            "INPUT low p/other",
            "GO",
            "GET p/known",
            "GET p/mine",
        ],
    );
    let answered = session.answered().clone();
    drop(session);
    assert_eq!(replies[replies.len() - 2..], ["0 from confpack", "0 typed"]);
    assert_eq!(
        frontend.asked_tags(),
        vec![vec!["p/known", "p/mine", "p/other"]]
    );
    let known = frontend.prompt("p/known");
    assert_eq!(known.default.as_deref(), Some("from confpack"));
    assert_eq!(known.reason, crate::merge::Reason::Forced);
    assert_eq!(frontend.asked[0].0.title.as_deref(), Some("Configuring p"));
    assert!(!answered["p/known"].by_person, "confirmed, not chosen");
    assert!(answered["p/mine"].by_person, "changed by the person");
    assert!(!answered.contains_key("p/other"), "not answered at all");
}

#[test]
fn reshowing_unattended_applies_the_presets_again() {
    let mut frontend = Scripted::noninteractive();
    let mut progress = Recording::default();
    let preset = |_: &str| Some("from the document".to_string());
    let mut session =
        Session::new(&mut frontend, &mut progress, &preset, Context::default()).reshowing(true);
    let replies = replay(
        &mut session,
        &[
            "DATA p/a type string",
            "SET p/a drifted",
            "INPUT critical p/a",
            "GO",
            "GET p/a",
        ],
    );
    assert!(session.unanswered().is_empty());
    drop(session);
    assert_eq!(
        replies.last().map(String::as_str),
        Some("0 from the document")
    );
    assert!(frontend.asked.is_empty());
}

#[test]
fn unattended_questions_without_a_preset_are_remembered_with_debconfs_value() {
    let mut frontend = Scripted::noninteractive();
    let mut progress = Recording::default();
    let preset = |tag: &str| (tag == "p/known").then(|| "x".to_string());
    let mut session = Session::new(&mut frontend, &mut progress, &preset, Context::default());
    replay(
        &mut session,
        &[
            "DATA p/zone type select",
            "SET p/zone Etc",
            "INPUT high p/zone",
            "DATA p/empty type string",
            "INPUT low p/empty",
            "DATA p/known type string",
            "INPUT high p/known",
            "DATA p/note type note",
            "INPUT high p/note",
            "GO",
        ],
    );
    let defaulted: Vec<(String, Option<String>)> = session
        .defaulted()
        .iter()
        .map(|(tag, value)| (tag.clone(), value.clone()))
        .collect();
    assert_eq!(
        defaulted,
        [
            ("p/empty".to_string(), None),
            ("p/zone".to_string(), Some("Etc".to_string()))
        ]
    );
}

#[test]
fn a_packages_control_characters_never_reach_the_terminal() {
    let mut frontend = Scripted::answering(vec![]);
    let mut progress = Recording::default();
    let mut session = Session::new(&mut frontend, &mut progress, &no_preset, Context::default());
    replay(
        &mut session,
        &[
            "TITLE Evil\u{1b}]0;owned\u{7}",
            "DATA p/a type string",
            "DATA p/a description Name\u{1b}[2J please",
            "DATA p/a extended_description First\\nSecond",
            "INPUT high p/a",
            "GO",
            "PROGRESS START 0 1 p/a",
        ],
    );
    drop(session);
    let (context, prompts) = &frontend.asked[0];
    assert_eq!(context.title.as_deref(), Some("Evil]0;owned"));
    assert_eq!(prompts[0].template.description, "Name[2J please");
    assert_eq!(progress.events[0], "start 0..1 Name[2J please");
}

#[test]
fn only_presets_means_no_frontend_at_all() {
    let mut frontend = Scripted::answering(vec![]);
    let mut progress = Recording::default();
    let preset = |_: &str| Some("x".to_string());
    let mut session = Session::new(&mut frontend, &mut progress, &preset, Context::default());
    replay(
        &mut session,
        &["DATA p/a type string", "INPUT high p/a", "GO"],
    );
    drop(session);
    assert!(frontend.asked.is_empty());
}

#[test]
fn noninteractive_keeps_values_and_reports_important_questions_without_one() {
    let mut frontend = Scripted::noninteractive();
    let mut progress = Recording::default();
    let mut session = Session::new(&mut frontend, &mut progress, &no_preset, Context::default());
    let replies = replay(
        &mut session,
        &[
            "DATA alpha/pass type password",
            "INPUT critical alpha/pass",
            "DATA alpha/host type string",
            "SET alpha/host localhost",
            "INPUT high alpha/host",
            "DATA alpha/low type string",
            "INPUT medium alpha/low",
            "DATA beta/note type note",
            "INPUT high beta/note",
            "DATA beta/name type string",
            "INPUT high beta/name",
            "GO",
            "GET alpha/host",
            "GET alpha/pass",
        ],
    );
    assert_eq!(replies[11], "0", "GO succeeds");
    assert_eq!(replies[12], "0 localhost");
    assert_eq!(replies[13], "0 ");
    // A second connection (another package) asks the same again: one entry.
    session.begin_connection();
    replay(&mut session, &["INPUT critical alpha/pass", "GO"]);
    assert_eq!(
        session.unanswered(),
        [
            Unanswered {
                tag: "alpha/pass".into(),
                package: "alpha".into()
            },
            Unanswered {
                tag: "beta/name".into(),
                package: "beta".into()
            },
        ]
    );
    drop(session);
    assert!(frontend.asked.is_empty(), "nobody is asked");
}

#[test]
fn back_from_the_first_question_replies_30_when_the_confmodule_can_back_up() {
    let mut frontend = Scripted::turns(vec![Turn::Back, Turn::Answer(vec![("p/a", "again")])]);
    let replies = replay_on(
        &mut frontend,
        &[
            "CAPB backup",
            "DATA p/a type string",
            "INPUT high p/a",
            "GO",
            "INPUT high p/a",
            "GO",
            "GET p/a",
        ],
    );
    assert_eq!(replies[3], "30");
    assert_eq!(replies[5], "0");
    assert_eq!(replies[6], "0 again");
}

#[test]
fn without_capb_backup_the_frontend_is_not_offered_back() {
    let mut frontend = Scripted::answering(vec![]);
    replay_on(
        &mut frontend,
        &["CAPB", "DATA p/a type string", "INPUT high p/a", "GO"],
    );
    assert!(!frontend.asked[0].0.back);
}

#[test]
fn a_cancelled_frontend_ends_the_session_with_its_error() {
    let mut frontend = Scripted::turns(vec![Turn::Cancel]);
    let mut progress = Recording::default();
    let mut session = Session::new(&mut frontend, &mut progress, &no_preset, Context::default());
    replay(&mut session, &["DATA p/a type string", "INPUT high p/a"]);
    assert!(matches!(session.reply_to("GO"), Err(Error::Cancelled)));
}

#[test]
fn an_unknown_command_gets_an_error_reply_and_the_session_goes_on() {
    let mut frontend = Scripted::answering(vec![("p/a", "yes")]);
    let replies = replay_on(
        &mut frontend,
        &[
            "X_LOADTEMPLATEFILE /tmp/t",
            "DATA p/a",
            "DATA p/a type string",
            "INPUT high p/a",
            "GO",
            "GET p/a",
            "GET p/never",
        ],
    );
    assert_eq!(replies[0], "20 Unsupported command \"X_LOADTEMPLATEFILE\"");
    assert!(replies[1].starts_with("20 "));
    assert_eq!(&replies[4..], ["0", "0 yes", "0 "]);
}

#[test]
fn go_with_nothing_queued_asks_nobody() {
    let mut frontend = Scripted::answering(vec![]);
    assert_eq!(replay_on(&mut frontend, &["GO"]), ["0"]);
    assert!(frontend.asked.is_empty());
}

#[test]
fn progress_is_said_as_a_bar_each_tenth_with_the_step_and_full_at_stop() {
    let mut said = crate::listener::RecordingListener::default();
    let mut frontend = Scripted::answering(vec![]);
    let mut progress = crate::agent::ListenerProgress::new(&mut said);
    let mut session = Session::new(&mut frontend, &mut progress, &no_preset, Context::default());
    replay(
        &mut session,
        &[
            "DATA p/title type text",
            "DATA p/title description Setting up",
            "DATA p/step type text",
            "DATA p/step description Step one",
            "PROGRESS START 10 20 p/title",
            "PROGRESS STEP 4",
            "PROGRESS INFO p/step",
            "PROGRESS STEP 0",
            "PROGRESS SET 15",
            "PROGRESS SET 15",
            "PROGRESS STOP",
            "PROGRESS STOP",
        ],
    );
    drop(session);
    assert_eq!(
        said.infos,
        [
            "Setting up",
            "[----------]   0%",
            "[####------]  40%",
            "[#####-----]  50% Step one",
            "[##########] 100% Step one",
        ]
    );
}

#[test]
fn a_bar_past_its_end_or_with_no_room_is_full_not_a_panic() {
    let mut said = crate::listener::RecordingListener::default();
    let mut progress = crate::agent::ListenerProgress::new(&mut said);
    use crate::agent::Progress;
    progress.start(5, 5, "");
    progress.set(i64::MAX);
    progress.step(i64::MAX);
    progress.stop();
    progress.start(0, 3, "Three");
    progress.set(-7);
    progress.set(99);
    progress.stop();
    assert_eq!(
        said.infos,
        [
            "[##########] 100%",
            "Three",
            "[----------]   0%",
            "[##########] 100%",
        ]
    );
}

#[test]
fn a_logged_exchange_masks_the_value_of_a_password_question() {
    let mut frontend = Scripted::answering(vec![("p/secret", "hunter2")]);
    let mut progress = Recording::default();
    let mut session = Session::new(&mut frontend, &mut progress, &no_preset, Context::default());
    let mut log = Vec::new();
    for line in [
        "DATA p/secret type password",
        "SET p/secret hunter1",
        "DATA p/name type string",
        "SET p/name Alice",
        "INPUT critical p/secret",
        "GO",
        "GET p/secret",
        "GET p/name",
    ] {
        let reply = session.reply_to(line).expect("reply");
        log.push(session.loggable(line, &reply));
    }
    let log = log.join("\n");
    assert!(!log.contains("hunter"), "{log}");
    assert!(log.contains("SET p/secret ******** → 0"), "{log}");
    assert!(log.contains("GET p/secret → 0 ********"), "{log}");
    assert!(log.contains("GET p/name → 0 Alice"), "{log}");
}
