//! The interactive frontends.
//!
//! Screens are drawn into ratatui's `TestBackend` and compared with insta
//! snapshots (monochrome theme: the snapshots hold the text, and a few
//! tests check that selection is visible without colour). Keys are fed to
//! the app as the terminal would send them. The text frontend runs on
//! scripted input. The end-to-end tests drive the real binary in tmux,
//! the way a person at a terminal would, including the `dpkg -i` case
//! where stdin and stdout are not the terminal.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use confpack::env::model::{Priority, QuestionType, Source, Template};
use confpack::frontend::tui::app::{App, Input, Outcome};
use confpack::frontend::tui::theme::Theme;
use confpack::frontend::tui::ui;
use confpack::frontend::{Context, Prompt};
use confpack::merge::Reason;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn template(key: &str, question_type: QuestionType, description: &str) -> Template {
    Template {
        key: key.to_string(),
        question_type,
        priority: Priority::High,
        source: Source::Configured,
        description: description.to_string(),
        extended: String::new(),
        choices: Vec::new(),
        default: None,
        expression: None,
        line: 1,
        vouched: false,
        translations: Default::default(),
    }
}

fn prompt(template: Template, default: Option<&str>, reason: Reason) -> Prompt {
    Prompt {
        template,
        default: default.map(str::to_string),
        reason,
        secret: false,
        labels: Vec::new(),
    }
}

fn context() -> Context {
    Context {
        package: Some("webshop".to_string()),
        environment: "production".to_string(),
        machine: Some("10.10.0.21 (app1.prod.example.com)".to_string()),
        back: false,
        title: None,
    }
}

fn with_extended(mut template: Template, extended: &str) -> Template {
    template.extended = extended.to_string();
    template
}

fn with_choices(mut template: Template, choices: &[&str]) -> Template {
    template.choices = choices.iter().map(|c| c.to_string()).collect();
    template
}

fn host() -> Prompt {
    prompt(
        with_extended(
            template("webshop/db.host", QuestionType::String, "Database server"),
            "Host name or address of the PostgreSQL server.",
        ),
        None,
        Reason::Unanswered,
    )
}

fn password(stored: Option<&str>) -> Prompt {
    prompt(
        with_extended(
            template(
                "webshop/db.password",
                QuestionType::Password,
                "Database password",
            ),
            "Stored readable by root only and never printed.",
        ),
        stored,
        Reason::Unanswered,
    )
}

fn role(reason: Reason, default: &str) -> Prompt {
    prompt(
        with_choices(
            template("webshop/role", QuestionType::Select, "Role of this machine"),
            &["loadbalancer", "app", "database"],
        ),
        Some(default),
        reason,
    )
}

fn zones() -> Prompt {
    let names = [
        "Africa/Cairo",
        "America/Chicago",
        "America/New_York",
        "America/Sao_Paulo",
        "Asia/Kolkata",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Europe/Amsterdam",
        "Europe/Berlin",
        "Europe/London",
        "Europe/Paris",
        "Europe/Vienna",
        "Pacific/Auckland",
        "UTC",
    ];
    prompt(
        with_choices(
            template("webshop/timezone", QuestionType::Select, "Time zone"),
            &names,
        ),
        Some("UTC"),
        Reason::Unanswered,
    )
}

fn features() -> Prompt {
    prompt(
        with_choices(
            template(
                "webshop/features",
                QuestionType::Multiselect,
                "Optional features to enable",
            ),
            &["search", "recommendations", "gift-cards", "reviews"],
        ),
        Some("search, reviews"),
        Reason::Unanswered,
    )
}

fn tls() -> Prompt {
    prompt(
        template(
            "webshop/tls.enable",
            QuestionType::Boolean,
            "Serve the shop over HTTPS?",
        ),
        Some("true"),
        Reason::Unanswered,
    )
}

fn welcome(extended: &str) -> Prompt {
    prompt(
        with_extended(
            template(
                "webshop/welcome",
                QuestionType::Note,
                "Web shop configuration",
            ),
            extended,
        ),
        None,
        Reason::NotSeen,
    )
}

fn conflict() -> Prompt {
    prompt(
        template("webshop/db.host", QuestionType::String, "Database server"),
        Some("mydb"),
        Reason::Conflict {
            document: "db1.prod.example.com".to_string(),
            user: "mydb".to_string(),
        },
    )
}

/// tzdata's area question with its German and French texts.
fn area() -> Template {
    let mut area = with_extended(
        with_choices(
            template("tzdata/Areas", QuestionType::Select, "Geographic area:"),
            &["Africa", "America", "Asia", "Europe", "Etc"],
        ),
        "Please select the geographic area in which you live.",
    );
    area.translations.insert(
        "de".to_string(),
        confpack::env::model::Texts {
            description: Some("Geographisches Gebiet:".to_string()),
            extended: Some(
                "Bitte wählen Sie das geographische Gebiet aus, in dem Sie leben.".to_string(),
            ),
            choices: ["Afrika", "Amerika", "Asien", "Europa", "Sonstige"]
                .map(String::from)
                .to_vec(),
        },
    );
    area.translations.insert(
        "fr".to_string(),
        confpack::env::model::Texts {
            description: Some("Lieu géographique :".to_string()),
            extended: None,
            choices: ["Afrique", "Amérique", "Asie", "Europe", "Autre"]
                .map(String::from)
                .to_vec(),
        },
    );
    area
}

fn app(prompts: Vec<Prompt>) -> App {
    App::new(context(), prompts, Theme::monochrome())
}

fn key(app: &mut App, code: KeyCode) {
    app.handle(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn ctrl(app: &mut App, c: char) {
    app.handle(Input::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn terminal(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    app.handle(Input::Resize(width, height));
    Terminal::new(TestBackend::new(width, height)).expect("test terminal")
}

/// The screen as text, `width`×`height`.
fn screen(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = terminal(app, width, height);
    terminal.draw(|frame| ui::draw(frame, app)).expect("draw");
    terminal.backend().to_string()
}

fn saved(app: &mut App) -> BTreeMap<String, String> {
    match app.take_outcome() {
        Some(Outcome::Save(answers)) => answers,
        other => panic!("expected saved answers, got {other:?}"),
    }
}

mod screens {
    use super::*;

    #[test]
    fn a_string_question_edits_in_place_with_cursor_moves() {
        let mut app = app(vec![host()]);
        type_text(&mut app, "db1.example.org");
        key(&mut app, KeyCode::Home);
        type_text(&mut app, "pg-");
        key(&mut app, KeyCode::End);
        key(&mut app, KeyCode::Backspace);
        type_text(&mut app, "g");
        insta::assert_snapshot!(screen(&mut app, 70, 16));
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/db.host"], "pg-db1.example.org");
    }

    #[test]
    fn a_debconf_title_replaces_the_package_in_the_header() {
        let context = Context {
            title: Some("Configuring postfix".to_string()),
            ..context()
        };
        let mut app = App::new(context, vec![host()], Theme::monochrome());
        let shown = screen(&mut app, 70, 16);
        let header = shown.lines().next().unwrap_or_default();
        assert!(
            header.contains("Configuring postfix · production"),
            "{shown}"
        );
        assert!(!header.contains("webshop"), "{shown}");
    }

    #[test]
    fn a_long_value_scrolls_sideways_to_keep_the_cursor_visible() {
        let mut app = app(vec![host()]);
        type_text(&mut app, &"abcdefghij".repeat(8));
        let shown = screen(&mut app, 50, 14);
        assert!(shown.contains("ghijabcdefghij"), "{shown}");
        assert!(!shown.contains("│abcdefghijabc"), "{shown}");
    }

    #[test]
    fn a_password_is_masked_in_both_fields() {
        let mut app = app(vec![password(None)]);
        type_text(&mut app, "s3cret!");
        key(&mut app, KeyCode::Enter);
        type_text(&mut app, "s3cret!");
        let shown = screen(&mut app, 70, 16);
        assert!(!shown.contains("s3cret"), "{shown}");
        insta::assert_snapshot!(shown);
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/db.password"], "s3cret!");
    }

    #[test]
    fn a_stored_password_is_kept_by_leaving_the_field_empty_and_never_shown() {
        let mut app = app(vec![password(Some("old-secret"))]);
        let shown = screen(&mut app, 70, 16);
        assert!(!shown.contains("old-secret"), "{shown}");
        insta::assert_snapshot!(shown);
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/db.password"], "old-secret");
    }

    #[test]
    fn mismatched_passwords_are_refused_and_both_entries_kept() {
        let mut app = app(vec![password(None)]);
        type_text(&mut app, "one");
        key(&mut app, KeyCode::Enter);
        type_text(&mut app, "two");
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!(screen(&mut app, 70, 16));
        assert!(app.take_outcome().is_none());
        // The focus is on the confirmation: fix it there.
        ctrl(&mut app, 'u');
        type_text(&mut app, "one");
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/db.password"], "one");
    }

    #[test]
    fn a_boolean_is_chosen_with_y_and_n() {
        let mut app = app(vec![tls()]);
        insta::assert_snapshot!(screen(&mut app, 60, 14));
        key(&mut app, KeyCode::Char('n'));
        insta::assert_snapshot!("boolean_after_n", screen(&mut app, 60, 14));
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/tls.enable"], "false");
    }

    #[test]
    fn a_select_filters_as_you_type_and_enter_takes_the_highlighted_choice() {
        let mut app = app(vec![zones()]);
        insta::assert_snapshot!("select_before_search", screen(&mut app, 60, 16));
        type_text(&mut app, "eur");
        insta::assert_snapshot!("select_searching_eur", screen(&mut app, 60, 16));
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/timezone"], "Europe/Berlin");
    }

    #[test]
    fn a_translated_select_shows_german_labels_and_saves_the_untranslated_choice() {
        let area = area();
        let languages = ["de_AT".to_string(), "de".to_string(), "en".to_string()];
        let german = prompt(area, Some("Etc"), Reason::Unanswered).in_languages(&languages);
        let mut app = app(vec![german]);
        insta::assert_snapshot!(screen(&mut app, 70, 16));
        type_text(&mut app, "asi");
        key(&mut app, KeyCode::Enter);
        let review = screen(&mut app, 70, 16);
        assert!(review.contains("Asien"), "{review}");
        insta::assert_snapshot!("translated_select_review", review);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["tzdata/Areas"], "Asia");
    }

    #[test]
    fn a_long_select_list_scrolls_with_the_cursor() {
        let mut app = app(vec![zones()]);
        key(&mut app, KeyCode::Home);
        for _ in 0..9 {
            key(&mut app, KeyCode::Down);
        }
        insta::assert_snapshot!(screen(&mut app, 60, 14));
    }

    #[test]
    fn a_search_that_matches_nothing_refuses_enter_and_esc_clears_it_before_quitting() {
        let mut app = app(vec![zones()]);
        type_text(&mut app, "mars");
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!(screen(&mut app, 60, 16));
        assert!(app.take_outcome().is_none());
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.quitting, None, "the first Esc clears the search");
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/timezone"], "UTC");
    }

    #[test]
    fn a_multiselect_ticks_with_space_and_counts_the_selection() {
        let mut app = app(vec![features()]);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Char(' '));
        key(&mut app, KeyCode::Down);
        insta::assert_snapshot!(screen(&mut app, 60, 14));
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(
            saved(&mut app)["webshop/features"],
            "search, recommendations, reviews"
        );
    }

    #[test]
    fn a_multiselect_can_be_emptied_with_ctrl_a() {
        let mut app = app(vec![features()]);
        ctrl(&mut app, 'a');
        ctrl(&mut app, 'a');
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/features"], "");
    }

    #[test]
    fn a_note_is_shown_and_a_long_one_scrolls() {
        let text = (1..=30)
            .map(|i| format!("Paragraph {i} of the release notes."))
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut app = app(vec![welcome(&text), host()]);
        insta::assert_snapshot!("note_top", screen(&mut app, 60, 16));
        for _ in 0..3 {
            key(&mut app, KeyCode::Down);
        }
        insta::assert_snapshot!("note_scrolled", screen(&mut app, 60, 16));
    }

    #[test]
    fn a_conflict_shows_both_values_and_ctrl_d_switches_between_them() {
        let mut app = app(vec![conflict()]);
        insta::assert_snapshot!("conflict_keeps_yours", screen(&mut app, 80, 18));
        ctrl(&mut app, 'd');
        insta::assert_snapshot!("conflict_takes_document", screen(&mut app, 80, 18));
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!("conflict_review", screen(&mut app, 80, 14));
        key(&mut app, KeyCode::Enter);
        assert_eq!(saved(&mut app)["webshop/db.host"], "db1.prod.example.com");
    }

    #[test]
    fn a_conflict_on_a_secret_never_shows_either_value() {
        let mut secret = password(Some("mine"));
        secret.reason = Reason::Conflict {
            document: "theirs".to_string(),
            user: "mine".to_string(),
        };
        let mut app = app(vec![secret]);
        let shown = screen(&mut app, 80, 18);
        assert!(
            !shown.contains("mine") && !shown.contains("theirs"),
            "{shown}"
        );
        insta::assert_snapshot!(shown);
    }

    #[test]
    fn a_conflicting_select_marks_the_documents_choice_and_yours() {
        let mut app = app(vec![role(
            Reason::Conflict {
                document: "app".to_string(),
                user: "database".to_string(),
            },
            "database",
        )]);
        insta::assert_snapshot!(screen(&mut app, 80, 18));
    }

    #[test]
    fn a_forced_question_says_why_and_marks_the_current_value() {
        let mut app = app(vec![role(Reason::Forced, "app")]);
        insta::assert_snapshot!(screen(&mut app, 70, 16));
    }

    #[test]
    fn an_empty_answer_without_default_is_refused_in_place_and_typing_clears_the_error() {
        let mut app = app(vec![host(), tls()]);
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!("refused_empty", screen(&mut app, 70, 16));
        assert_eq!(app.current, 0, "still on the same question");
        type_text(&mut app, "db");
        let shown = screen(&mut app, 70, 16);
        assert!(!shown.contains("required"), "{shown}");
        assert!(shown.contains("│db"), "{shown}");
    }

    #[test]
    fn a_boolean_computed_from_a_secret_is_masked_in_the_conflict_and_the_review() {
        let mut secret_tls = tls();
        secret_tls.secret = true;
        secret_tls.reason = Reason::Conflict {
            document: "true".to_string(),
            user: "false".to_string(),
        };
        let mut app = app(vec![secret_tls]);
        let conflict = screen(&mut app, 80, 18);
        // The widget must offer the choices; the explanation names no value.
        assert!(
            conflict.contains("(secret values; they differ)"),
            "a conflict on a secret names neither value:\n{conflict}"
        );
        key(&mut app, KeyCode::Enter);
        let review = screen(&mut app, 80, 14);
        let row = review
            .lines()
            .find(|l| l.contains("HTTPS?"))
            .unwrap_or_default();
        assert!(
            row.contains("(unchanged)") && !row.contains("Yes") && !row.contains("No"),
            "the review shows a secret like a password, never its value:\n{review}"
        );
    }

    #[test]
    fn the_review_lists_every_answer_with_secrets_masked() {
        let mut app = app(vec![
            welcome("Hello."),
            conflict(),
            password(None),
            tls(),
            features(),
        ]);
        key(&mut app, KeyCode::Enter); // note
        key(&mut app, KeyCode::Enter); // keep mydb
        type_text(&mut app, "hunter2");
        key(&mut app, KeyCode::Enter);
        type_text(&mut app, "hunter2");
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Char('n'));
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        let shown = screen(&mut app, 80, 16);
        assert!(!shown.contains("hunter2"), "{shown}");
        insta::assert_snapshot!(shown);
        key(&mut app, KeyCode::Char('s'));
        let answers = saved(&mut app);
        assert_eq!(
            answers["webshop/welcome"], "",
            "a shown note is answered empty"
        );
        assert_eq!(answers["webshop/db.host"], "mydb");
        assert_eq!(answers["webshop/db.password"], "hunter2");
        assert_eq!(answers["webshop/tls.enable"], "false");
        assert_eq!(answers["webshop/features"], "search, reviews");
    }

    #[test]
    fn enter_on_a_review_row_edits_it_and_returns_to_the_review() {
        let mut app = app(vec![host(), tls()]);
        type_text(&mut app, "db1");
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Home);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.current, 0);
        type_text(&mut app, "-new");
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.view, confpack::frontend::tui::app::View::Review);
        key(&mut app, KeyCode::Char('s'));
        assert_eq!(saved(&mut app)["webshop/db.host"], "db1-new");
    }

    #[test]
    fn back_returns_to_the_previous_question_with_its_answer_kept() {
        let mut app = app(vec![host(), tls()]);
        type_text(&mut app, "db1");
        key(&mut app, KeyCode::Enter);
        app.handle(Input::Key(KeyEvent::new(
            KeyCode::BackTab,
            KeyModifiers::SHIFT,
        )));
        assert_eq!(app.current, 0);
        assert!(screen(&mut app, 60, 14).contains("│db1"));
    }

    #[test]
    fn ctrl_r_skips_to_the_review_and_saving_stops_at_a_missing_answer() {
        let mut app = app(vec![tls(), host()]);
        ctrl(&mut app, 'r');
        key(&mut app, KeyCode::Char('s'));
        assert!(app.take_outcome().is_none());
        assert_eq!(app.current, 1, "taken to the question that needs an answer");
        insta::assert_snapshot!(screen(&mut app, 70, 16));
    }

    #[test]
    fn ctrl_c_asks_before_quitting_and_n_continues() {
        let mut app = app(vec![host()]);
        type_text(&mut app, "typed");
        ctrl(&mut app, 'c');
        insta::assert_snapshot!(screen(&mut app, 70, 16));
        key(&mut app, KeyCode::Char('n'));
        assert_eq!(app.quitting, None);
        assert!(app.take_outcome().is_none());
        assert!(
            screen(&mut app, 70, 16).contains("│typed"),
            "nothing typed is lost"
        );
    }

    #[test]
    fn ctrl_c_twice_or_esc_then_y_cancels() {
        let mut app = app(vec![host()]);
        ctrl(&mut app, 'c');
        ctrl(&mut app, 'c');
        assert_eq!(app.take_outcome(), Some(Outcome::Cancel));
        let mut app = super::app(vec![host()]);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('y'));
        assert_eq!(app.take_outcome(), Some(Outcome::Cancel));
    }

    #[test]
    fn back_from_the_first_question_ends_with_back_only_when_the_caller_has_a_step_before() {
        let mut app = app(vec![host(), tls()]);
        key(&mut app, KeyCode::BackTab);
        assert!(app.take_outcome().is_none(), "nowhere to go back to");
        let context = Context {
            back: true,
            ..context()
        };
        let mut app = App::new(context, vec![host(), tls()], Theme::monochrome());
        type_text(&mut app, "db1");
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::BackTab);
        assert_eq!(app.current, 0);
        assert!(app.take_outcome().is_none(), "back to the first question");
        key(&mut app, KeyCode::BackTab);
        assert_eq!(app.take_outcome(), Some(Outcome::Back));
    }

    #[test]
    fn enter_in_the_quit_dialog_continues_by_default() {
        let mut app = app(vec![host()]);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.quitting, None);
        assert!(app.take_outcome().is_none());
    }

    #[test]
    fn a_small_terminal_gets_a_message_and_ctrl_t_hands_over_to_text_mode() {
        let mut app = app(vec![host()]);
        insta::assert_snapshot!(screen(&mut app, 40, 10));
        ctrl(&mut app, 't');
        assert_eq!(app.take_outcome(), Some(Outcome::TextMode));
    }

    #[test]
    fn growing_the_terminal_again_brings_the_question_back() {
        let mut app = app(vec![host()]);
        type_text(&mut app, "kept");
        assert!(screen(&mut app, 40, 10).contains("too small"));
        assert!(screen(&mut app, 60, 14).contains("│kept"));
    }

    #[test]
    fn a_paste_of_several_lines_inserts_the_first_and_says_so() {
        let mut app = app(vec![host()]);
        app.handle(Input::Paste("db1.example.org\nsecond line\n".to_string()));
        let shown = screen(&mut app, 70, 16);
        assert!(shown.contains("│db1.example.org"), "{shown}");
        assert!(shown.contains("first line"), "{shown}");
    }

    #[test]
    fn the_selected_row_is_visible_without_colour() {
        let mut app = app(vec![role(Reason::Unanswered, "app")]);
        let mut terminal = terminal(&mut app, 60, 14);
        terminal.draw(|frame| ui::draw(frame, &app)).expect("draw");
        let buffer = terminal.backend().buffer();
        let row = (0..buffer.area.height)
            .find(|&y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .contains("> app")
            })
            .expect("a marked row");
        let x = (0..buffer.area.width)
            .find(|&x| buffer[(x, row)].symbol() == "a")
            .expect("the choice");
        assert!(
            buffer[(x, row)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED),
            "the selected row is reversed, not only coloured"
        );
    }

    #[test]
    fn without_a_utf8_locale_the_frames_are_plain_ascii() {
        let mut app = App::new(context(), vec![host()], Theme::plain());
        let shown = screen(&mut app, 60, 14);
        assert!(shown.contains("+ Value -"), "{shown}");
        assert!(!shown.contains('╭'), "{shown}");
    }

    #[test]
    fn the_footer_names_only_keys_that_work_here() {
        let mut app = app(vec![host(), tls()]);
        let first = screen(&mut app, 100, 14);
        assert!(first.contains("Enter next"), "{first}");
        assert!(
            !first.contains("back"),
            "no back on the first question: {first}"
        );
        assert!(!first.contains("document/yours"), "{first}");
        key(&mut app, KeyCode::Char('x'));
        key(&mut app, KeyCode::Enter);
        let second = screen(&mut app, 100, 14);
        assert!(second.contains("S-Tab back"), "{second}");
        assert!(second.contains("y/n yes/no"), "{second}");
    }
}

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("buffer")).into_owned()
    }
}

mod text {
    use super::*;
    use confpack::Error;
    use confpack::frontend::Frontend;
    use confpack::frontend::text::{Script, Text};

    fn run(
        prompts: &[Prompt],
        input: &str,
    ) -> (confpack::Result<BTreeMap<String, String>>, String) {
        let output = Shared::default();
        let mut text = Text::new(
            Box::new(Script(std::io::Cursor::new(input.to_string()))),
            Box::new(output.clone()),
            72,
        );
        let result = text.ask(&context(), prompts);
        (result, output.text())
    }

    #[test]
    fn a_lone_less_than_at_the_first_question_goes_back_when_the_caller_has_a_step_before() {
        let output = Shared::default();
        let mut text = Text::new(
            Box::new(Script(std::io::Cursor::new("<\n".to_string()))),
            Box::new(output.clone()),
            72,
        );
        let context = Context {
            back: true,
            ..context()
        };
        let result = text.ask(&context, &[host(), tls()]);
        assert!(matches!(result, Err(Error::Back)), "{result:?}");
        assert!(
            output.text().contains("type < to go back"),
            "{}",
            output.text()
        );
        // Without a step before, `<` is an answer like any other.
        let (result, _) = run(&[host()], "<\ny\n");
        assert_eq!(result.expect("answers")["webshop/db.host"], "<");
    }

    #[test]
    fn the_text_frontend_shows_the_locales_translation_and_saves_the_choice() {
        let output = Shared::default();
        let languages = ["fr_FR".to_string(), "fr".to_string(), "en".to_string()];
        let mut text = Text::new(
            Box::new(Script(std::io::Cursor::new("amé\n\n".to_string()))),
            Box::new(output.clone()),
            72,
        )
        .in_languages(&languages);
        let prompts = [prompt(area(), Some("Etc"), Reason::Unanswered)];
        let answers = text.ask(&context(), &prompts).expect("answers");
        let output = output.text();
        assert_eq!(answers["tzdata/Areas"], "America");
        assert!(output.contains("Lieu géographique :"), "{output}");
        assert!(
            output.contains("Please select the geographic area"),
            "untranslated extended: {output}"
        );
        assert!(output.contains(" 2) Amérique"), "{output}");
        assert!(
            output.contains("[Autre]"),
            "the default by its label: {output}"
        );
    }

    #[test]
    fn the_text_frontend_asks_validates_and_saves_after_the_review() {
        let prompts = [
            welcome("Hello."),
            conflict(),
            password(None),
            zones(),
            features(),
            tls(),
        ];
        let input = "\n\nsecret\nsecret\neurope/b\n2 gift\nn\ny\n";
        let (result, output) = run(&prompts, input);
        let answers = result.expect("answers");
        assert_eq!(answers["webshop/welcome"], "");
        assert_eq!(
            answers["webshop/db.host"], "mydb",
            "Enter keeps the default"
        );
        assert_eq!(answers["webshop/db.password"], "secret");
        assert_eq!(answers["webshop/timezone"], "Europe/Berlin");
        assert_eq!(answers["webshop/features"], "recommendations, gift-cards");
        assert_eq!(answers["webshop/tls.enable"], "false");
        assert!(
            output.contains("Document says: db1.prod.example.com"),
            "{output}"
        );
        assert!(output.contains("You entered: mydb"), "{output}");
        assert!(!output.contains("secret\n"), "{output}");
        assert!(
            output.contains("********"),
            "the review masks secrets: {output}"
        );
    }

    #[test]
    fn an_invalid_answer_is_refused_with_the_reason_and_asked_again() {
        let (result, output) = run(&[host(), zones()], "\ndb1\nmars\nUTC\n\n");
        let answers = result.expect("answers");
        assert_eq!(answers["webshop/db.host"], "db1");
        assert_eq!(answers["webshop/timezone"], "UTC");
        assert!(output.contains("! an answer is required"), "{output}");
        assert!(
            output.contains("! `mars` is not one of the choices"),
            "{output}"
        );
    }

    #[test]
    fn an_ambiguous_prefix_names_the_candidates() {
        let (_, output) = run(&[zones()], "europe\n\n\n");
        assert!(output.contains("could be Europe/Amsterdam or"), "{output}");
    }

    #[test]
    fn a_number_in_the_review_asks_that_question_again() {
        let (result, _) = run(&[host(), tls()], "db1\n\n1\ndb2\n\n");
        assert_eq!(result.expect("answers")["webshop/db.host"], "db2");
    }

    #[test]
    fn ctrl_c_asks_and_yes_cancels() {
        let (result, output) = run(&[host()], "\u{3}\ny\n");
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(output.contains("Quit without saving?"), "{output}");
    }

    #[test]
    fn ctrl_c_then_no_asks_the_same_question_again() {
        let (result, _) = run(&[host()], "\u{3}\nn\ndb1\n\n");
        assert_eq!(result.expect("answers")["webshop/db.host"], "db1");
    }

    #[test]
    fn input_that_ends_early_cancels_instead_of_hanging() {
        let (result, output) = run(&[host(), tls()], "db1\n");
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
        assert!(output.contains("input ended"), "{output}");
    }

    #[test]
    fn n_at_the_review_cancels() {
        let (result, _) = run(&[host()], "db1\nn\n");
        assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    }
}

/// The real binary in tmux: a terminal a person would use.
mod terminal {
    use super::*;
    use crate::common::{Tmux, answers, confpack, install_webshop, ok, sample};
    use std::process::Command;

    fn shell_quote(path: &Path) -> String {
        confpack::output::shell_quote(&path.display().to_string())
    }

    /// The configure command line, with stdin and stdout redirected the way
    /// dpkg runs a postinst (the TUI must use /dev/tty).
    fn configure_line(root: &Path, extra: &str) -> String {
        format!(
            "{} --root {} configure --package webshop --machine 10.10.0.21 --frontend tui {extra} \
             </dev/null >{} 2>&1",
            shell_quote(Path::new(env!("CARGO_BIN_EXE_confpack"))),
            shell_quote(root),
            shell_quote(&root.join("configure.log")),
        )
    }

    #[test]
    fn the_tui_under_dpkg_style_redirection_resolves_a_conflict_and_stores_a_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_webshop(root);
        ok(confpack(root).args(["set", "webshop/db.host", "mydb"]));
        let Some(tmux) = Tmux::start("conflict", &configure_line(root, "")) else {
            return;
        };
        tmux.wait_for("question 1 of 4");
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for("Document says:");
        assert!(
            screen.contains("db1.prod.example.com") && screen.contains("mydb"),
            "{screen}"
        );
        tmux.keys(&["C-u"]);
        tmux.type_text("db2.example.net");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Database password");
        tmux.type_text("pa ss'wörd");
        tmux.keys(&["Enter"]);
        tmux.type_text("pa ss'wörd");
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for("Administrator e-mail");
        assert!(
            !screen.contains("pa ss"),
            "a password is never echoed:\n{screen}"
        );
        tmux.keys(&["Enter"]);
        let review = tmux.wait_for("Save these answers");
        assert!(
            review.contains("********") && !review.contains("wörd"),
            "{review}"
        );
        tmux.keys(&["s"]);
        tmux.wait_for("EXIT=0");

        let stored = answers(root);
        assert_eq!(stored["webshop/db.host"]["value"], "db2.example.net");
        assert_eq!(stored["webshop/db.host"]["source"], "user");
        assert_eq!(stored["webshop/db.password"]["value"], "pa ss'wörd");
        assert_eq!(stored["webshop/admin.email"]["value"], "ops@example.com");
        assert_eq!(stored["webshop/welcome"]["seen"], true);
        let database =
            std::fs::read_to_string(root.join("etc/webshop/database.conf")).expect("rendered");
        assert!(database.contains("host=db2.example.net\n"), "{database}");
        assert!(database.contains("password=pa ss'wörd\n"), "{database}");
    }

    #[test]
    fn ctrl_c_and_y_exit_5_with_the_store_unchanged_and_the_terminal_restored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_webshop(root);
        ok(confpack(root).args(["set", "webshop/db.host", "mydb"]));
        let before = answers(root);
        let Some(tmux) = Tmux::start("cancel", &configure_line(root, "")) else {
            return;
        };
        tmux.wait_for("question 1 of 4");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Document says:");
        tmux.keys(&["C-d", "Enter"]);
        tmux.wait_for("Database password");
        tmux.keys(&["C-c"]);
        tmux.wait_for("Quit without saving?");
        tmux.keys(&["y"]);
        let screen = tmux.wait_for("EXIT=5");
        assert!(
            !screen.contains("Quit without saving"),
            "the alternate screen is left:\n{screen}"
        );
        assert_eq!(answers(root), before);
        assert!(!root.join("etc/webshop/database.conf").exists());
        let log = std::fs::read_to_string(root.join("configure.log")).expect("log");
        assert!(
            log.contains("cancelled by the user; nothing was saved"),
            "{log}"
        );
    }

    #[test]
    fn the_text_frontend_prompts_line_by_line_in_a_terminal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let line = sample_line(root, "--frontend text");
        let Some(tmux) = Tmux::start("text", &line) else {
            return;
        };
        tmux.wait_for("Password (typing is not shown)");
        tmux.type_text("hidden-pw");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Again:");
        tmux.type_text("hidden-pw");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Value [ops@example.com]:");
        tmux.keys(&["Enter"]);
        tmux.wait_for("Save?");
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for("EXIT=0");
        assert!(!screen.contains("hidden-pw"), "echo was off:\n{screen}");
        assert_eq!(answers(root)["webshop/db.password"]["value"], "hidden-pw");
    }

    #[test]
    fn without_a_terminal_tui_falls_back_to_noninteractive_with_one_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        ok(confpack(root).args(["set", "--secret", "webshop/db.password", "x"]));
        let (code, stderr) = detached(root, &["--frontend", "tui"], &[], "");
        assert_eq!(code, 0, "{stderr}");
        let fallbacks: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("using the noninteractive frontend"))
            .collect();
        assert_eq!(fallbacks.len(), 1, "{stderr}");
    }

    fn sample_line(root: &Path, frontend: &str) -> String {
        format!(
            "{} --root {} configure --env-file {} --machine 10.10.0.21 {frontend}",
            shell_quote(Path::new(env!("CARGO_BIN_EXE_confpack"))),
            shell_quote(root),
            shell_quote(&sample()),
        )
    }

    #[test]
    fn a_dumb_terminal_gets_the_text_frontend_with_one_line_saying_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = format!("TERM=dumb {}", sample_line(dir.path(), ""));
        let Some(tmux) = Tmux::start("dumb", &line) else {
            return;
        };
        let screen = tmux.wait_for("Password (typing is not shown)");
        assert!(
            screen.contains("TERM=dumb); using the text frontend"),
            "{screen}"
        );
    }

    #[test]
    fn a_terminal_too_small_at_start_gets_the_text_frontend() {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = sample_line(dir.path(), "--frontend tui");
        let Some(tmux) = Tmux::start_sized("small", &line, 44, 12) else {
            return;
        };
        tmux.wait_for("Password (typing");
        let history = tmux.history();
        assert!(
            history.contains("smaller than the 50x14 the TUI needs; using the text frontend"),
            "{history}"
        );
    }

    fn detached(
        root: &Path,
        frontend: &[&str],
        env: &[(&str, &str)],
        input: &str,
    ) -> (i32, String) {
        let mut command = Command::new("setsid");
        command
            .arg("-w")
            .arg(env!("CARGO_BIN_EXE_confpack"))
            .arg("--root")
            .arg(root)
            .args(["configure", "--machine", "10.10.0.21", "--env-file"])
            .arg(sample())
            .args(frontend)
            .env_remove("DEBIAN_FRONTEND")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("setsid");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("wait");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    #[test]
    fn debian_frontend_readline_without_a_terminal_falls_back_instead_of_reading_stdin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, stderr) = detached(dir.path(), &[], &[("DEBIAN_FRONTEND", "readline")], "");
        assert_eq!(
            code, 3,
            "noninteractive, with the password unanswered: {stderr}"
        );
        assert!(
            stderr.contains("using the noninteractive frontend"),
            "{stderr}"
        );
    }

    #[test]
    fn frontend_text_without_a_terminal_reads_the_answers_from_stdin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, stderr) = detached(
            dir.path(),
            &["--frontend", "text"],
            &[],
            "piped-pw\npiped-pw\n\ny\n",
        );
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            answers(dir.path())["webshop/db.password"]["value"],
            "piped-pw"
        );
    }

    /// The pid of the confpack running on `root` (5 s at most to appear).
    fn confpack_pid(root: &Path) -> i32 {
        use std::time::{Duration, Instant};
        let binary = env!("CARGO_BIN_EXE_confpack").as_bytes();
        let root = root.as_os_str().as_encoded_bytes();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                    continue;
                };
                let mut args = cmdline.split(|b| *b == 0);
                if args.next() == Some(binary) && args.any(|a| a == root) {
                    return pid;
                }
            }
            assert!(Instant::now() < deadline, "confpack never started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The terminal `pid`'s parent (the window's shell) reads from.
    fn parent_terminal(pid: i32) -> String {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
        let parent = after_name.split(' ').nth(1).expect("ppid");
        let tty = std::fs::read_link(format!("/proc/{parent}/fd/0")).expect("fd 0");
        tty.display().to_string()
    }

    /// `stty -a` of `tty`: how confpack left it.
    fn terminal_modes(tty: &str) -> String {
        let out = Command::new("stty")
            .args(["-F", tty, "-a"])
            .output()
            .expect("stty");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends `signal` to a configure waiting at the prompt showing `ready`
    /// (reached by pressing Enter at each of `before_ready`) and checks
    /// that it stops within two seconds with exit 5, asking nothing, saving
    /// nothing, and leaving the terminal as it was.
    fn signal_cancels_at_once(
        name: &str,
        frontend: &str,
        before_ready: &[&str],
        ready: &str,
        signal: &str,
    ) {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        install_webshop(root);
        ok(confpack(root).args(["set", "webshop/db.host", "mydb"]));
        let before = answers(root);
        let line = configure_line(root, "").replace("--frontend tui", frontend);
        let Some(tmux) = Tmux::start(name, &line) else {
            return;
        };
        for prompt in before_ready {
            tmux.wait_for(prompt);
            tmux.keys(&["Enter"]);
        }
        tmux.wait_for(ready);
        let pid = confpack_pid(root);
        let tty = parent_terminal(pid);
        let sent = Instant::now();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = sent + Duration::from_secs(2);
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                Instant::now() < deadline,
                "still running 2 s after SIG{signal}:\n{}",
                tmux.screen()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!("SIG{signal} in {frontend}: gone after {:?}", sent.elapsed());
        let screen = tmux.wait_for("EXIT=");
        assert!(screen.contains("EXIT=5"), "{screen}");
        assert!(
            !tmux.history().contains("Quit without saving"),
            "nobody is asked:\n{}",
            tmux.history()
        );
        assert!(
            !screen.contains("question 1 of"),
            "the alternate screen is left:\n{screen}"
        );
        let modes = terminal_modes(&tty);
        for mode in [" icanon ", " echo ", " icrnl "] {
            assert!(modes.contains(mode), "{mode:?} is off:\n{modes}");
        }
        let log = std::fs::read_to_string(root.join("configure.log")).expect("log");
        assert!(
            log.contains(&format!("ended by SIG{signal}")) && log.contains("nothing was saved"),
            "the message names the signal, not the user: {log}"
        );
        assert_eq!(answers(root), before);
        assert!(!root.join("etc/webshop/database.conf").exists());
    }

    #[test]
    fn sigterm_in_the_tui_cancels_at_once_without_asking() {
        signal_cancels_at_once("tui-term", "--frontend tui", &[], "question 1 of 4", "TERM");
    }

    #[test]
    fn sighup_in_the_tui_cancels_at_once_without_asking() {
        signal_cancels_at_once("tui-hup", "--frontend tui", &[], "question 1 of 4", "HUP");
    }

    #[test]
    fn sigterm_at_a_hidden_text_prompt_cancels_at_once_with_echo_back_on() {
        signal_cancels_at_once(
            "text-term",
            "--frontend text",
            &["Value [mydb]"],
            "Password (typing is not shown)",
            "TERM",
        );
    }

    #[test]
    fn sighup_at_a_text_prompt_cancels_at_once_without_asking() {
        signal_cancels_at_once("text-hup", "--frontend text", &[], "Value [mydb]", "HUP");
    }
}

/// The real binary on a pseudo-terminal nobody gave a size, as apt runs
/// dpkg (`Dpkg::Use-Pty`): `script` makes one (0x0, since its own stdin is
/// not a terminal) and runs confpack as a session leader with it as the
/// controlling terminal. Nothing is ever typed there: confpack must not
/// wait for an answer.
mod unsized_pseudo_terminal {
    use std::io::Read;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use crate::common::{install_webshop, preseed_password};

    const NOBODY: &str = "the terminal is a pseudo-terminal without a size (apt's \
                          Dpkg::Use-Pty?); nobody can answer there; using the noninteractive \
                          frontend";

    fn quote(path: &Path) -> String {
        confpack::output::shell_quote(&path.display().to_string())
    }

    /// Runs `configure --package webshop` with `extra` (arguments and
    /// redirections) on a fresh 0x0 pseudo-terminal; its exit code and what
    /// the terminal showed. Fails if it is still running after 20 s.
    fn configure_on_unsized_pty(root: &Path, extra: &str) -> Option<(i32, String, Duration)> {
        if Command::new("script").arg("--version").output().is_err() {
            eprintln!("skipped: script (util-linux) is not installed");
            return None;
        }
        let line = format!(
            "stty size; {} --root {} configure --package webshop --machine 10.10.0.21 {extra}",
            quote(Path::new(env!("CARGO_BIN_EXE_confpack"))),
            quote(root),
        );
        let started = Instant::now();
        let mut child = Command::new("script")
            .args(["--quiet", "--return", "--command", &line, "/dev/null"])
            .env_remove("DEBIAN_FRONTEND")
            .env("TERM", "xterm-256color")
            // Kept open and silent: nobody types.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script");
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut shown = Vec::new();
            let _ = stdout.read_to_end(&mut shown);
            String::from_utf8_lossy(&shown).replace('\r', "")
        });
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "confpack waited for an answer on a pseudo-terminal nobody uses:\n{}",
                    reader.join().expect("reader")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = started.elapsed();
        let shown = reader.join().expect("reader");
        assert!(shown.starts_with("0 0\n"), "not a 0x0 terminal: {shown}");
        Some((status.code().unwrap_or(-1), shown, took))
    }

    #[test]
    fn with_the_terminal_as_stdin_and_stdout_it_goes_noninteractive_saying_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        let Some((code, shown, took)) = configure_on_unsized_pty(dir.path(), "") else {
            return;
        };
        eprintln!("finished in {took:?}");
        assert_eq!(code, 3, "the password needs an answer:\n{shown}");
        assert_eq!(shown.matches(NOBODY).count(), 1, "{shown}");
        assert!(shown.contains("webshop/db.password"), "{shown}");
    }

    #[test]
    fn under_dpkg_style_redirection_it_finishes_with_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        preseed_password(dir.path(), "x");
        let log = dir.path().join("configure.log");
        let extra = format!("</dev/null >{} 2>&1", quote(&log));
        let Some((code, shown, _)) = configure_on_unsized_pty(dir.path(), &extra) else {
            return;
        };
        let log = std::fs::read_to_string(&log).expect("log");
        assert_eq!(code, 0, "{log}{shown}");
        assert_eq!(log.matches(NOBODY).count(), 1, "{log}");
        assert!(dir.path().join("etc/webshop/app.conf").exists());
    }

    #[test]
    fn the_text_frontend_asked_for_goes_noninteractive_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        install_webshop(dir.path());
        let Some((code, shown, _)) = configure_on_unsized_pty(dir.path(), "--frontend text") else {
            return;
        };
        assert_eq!(code, 3, "{shown}");
        assert!(
            shown.contains(&format!("warning: {NOBODY}")),
            "a warning: the user chose text\n{shown}"
        );
    }
}

/// A rendered file a person edited, on a terminal (issue 14, item 5): the
/// real binary in tmux asks keep mine / take the new one, and shows the
/// diff on request.
mod local_edit {
    use super::*;
    use crate::common::{Tmux, confpack, install_webshop, ok, preseed_password};

    /// The webshop package configured noninteractively, then app.conf
    /// edited by hand; the path of app.conf and its rendering.
    fn edited(root: &Path) -> (std::path::PathBuf, String) {
        install_webshop(root);
        preseed_password(root, "x");
        ok(confpack(root).args([
            "configure",
            "--frontend",
            "noninteractive",
            "--package",
            "webshop",
            "--machine",
            "10.10.0.21",
        ]));
        let app = root.join("etc/webshop/app.conf");
        let rendered = std::fs::read_to_string(&app).expect("rendered");
        std::fs::write(&app, "edited = by hand\n").expect("edit");
        (app, rendered)
    }

    /// `configure` in the TUI frontend, stdin and stdout redirected the
    /// way dpkg runs a postinst; nothing but the edited file to ask.
    fn configure_line(root: &Path) -> String {
        let quote = |p: &Path| confpack::output::shell_quote(&p.display().to_string());
        format!(
            "{} --root {} configure --package webshop --machine 10.10.0.21 --frontend tui \
             --priority critical </dev/null >{} 2>&1",
            quote(Path::new(env!("CARGO_BIN_EXE_confpack"))),
            quote(root),
            quote(&root.join("configure.log")),
        )
    }

    fn saved(app: &Path) -> std::path::PathBuf {
        let mut name = app.as_os_str().to_os_string();
        name.push(".confpack-old");
        name.into()
    }

    #[test]
    fn the_diff_is_shown_and_taking_the_new_one_saves_the_persons_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let (app, rendered) = edited(root);
        let Some(tmux) = Tmux::start("edit-take", &configure_line(root)) else {
            return;
        };
        tmux.wait_for("was edited since confpack wrote it");
        tmux.wait_for("[k/t/d]:");
        tmux.type_text("d");
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for("(new rendering)");
        assert!(screen.contains("-edited = by hand"), "{screen}");
        assert!(screen.contains("(yours)"), "{screen}");
        tmux.type_text("t");
        tmux.keys(&["Enter"]);
        tmux.wait_for("EXIT=0");
        assert_eq!(std::fs::read_to_string(&app).expect("read"), rendered);
        assert_eq!(
            std::fs::read_to_string(saved(&app)).expect("saved"),
            "edited = by hand\n"
        );
        let log = std::fs::read_to_string(root.join("configure.log")).expect("log");
        assert!(log.contains("as you chose"), "{log}");
    }

    #[test]
    fn input_ending_at_the_question_cancels_with_every_file_as_it_was() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let (app, _) = edited(root);
        let database = root.join("etc/webshop/database.conf");
        std::fs::write(&database, "also edited\n").expect("edit");
        // `--frontend text` without a terminal reads its answers from stdin.
        let mut child = confpack(root)
            .args(["configure", "--frontend", "text", "--priority", "critical"])
            .args(["--package", "webshop", "--machine", "10.10.0.21"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"t\n")
            .expect("write");
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(5), "{stderr}");
        assert!(stderr.contains("no file was written"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&app).expect("read"),
            "edited = by hand\n"
        );
        assert_eq!(
            std::fs::read_to_string(&database).expect("read"),
            "also edited\n"
        );
        assert!(!saved(&app).exists() && !saved(&database).exists());
    }

    #[test]
    fn keeping_mine_leaves_the_file_as_the_person_wrote_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let (app, _) = edited(root);
        let Some(tmux) = Tmux::start("edit-keep", &configure_line(root)) else {
            return;
        };
        tmux.wait_for("[k/t/d]:");
        tmux.type_text("x");
        tmux.keys(&["Enter"]);
        tmux.wait_for("type k, t or d");
        tmux.type_text("k");
        tmux.keys(&["Enter"]);
        tmux.wait_for("EXIT=0");
        assert_eq!(
            std::fs::read_to_string(&app).expect("read"),
            "edited = by hand\n"
        );
        assert!(!saved(&app).exists());
        let log = std::fs::read_to_string(root.join("configure.log")).expect("log");
        assert!(log.contains("not applied"), "{log}");
    }
}
