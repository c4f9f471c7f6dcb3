//! Every sentence the interactive frontends show a person, in one place, so
//! the wording stays consistent between the TUI and the text frontend and
//! can be reviewed (or translated) without reading drawing code.

use crate::env::model::QuestionType;
use crate::merge::Reason;

/// Product name in the header.
pub const PRODUCT: &str = "confpack";

// Question screen.
pub const VALUE_LABEL: &str = "Value";
pub const PASSWORD_LABEL: &str = "Password";
pub const PASSWORD_AGAIN_LABEL: &str = "Again";
pub const KEEP_PASSWORD_PLACEHOLDER: &str = "(leave empty to keep the current password)";
pub const YES: &str = "Yes";
pub const NO: &str = "No";
pub const SEARCH_LABEL: &str = "Search";
pub const MORE_BELOW: &str = "more below (Shift-Down)";
pub const MORE_ABOVE: &str = "more above (Shift-Up)";
pub const CONTINUE_HINT: &str = "Press Enter to continue.";
pub const NOTE_DOCUMENT: &str = "document";
pub const NOTE_YOURS: &str = "your earlier answer";
pub const NOTE_CURRENT: &str = "current";

// Reasons a question is asked.
pub const CONFLICT_TITLE: &str =
    "Conflict: the environment document and your earlier answer differ";
pub const CONFLICT_DOCUMENT: &str = "Document says:";
pub const CONFLICT_YOURS: &str = "You entered:";
pub const CONFLICT_HELP: &str =
    "Keep yours to go on overriding the document, or press Ctrl-D for the document's value.";
pub const CONFLICT_SECRET: &str = "(secret values; they differ)";
pub const FORCED: &str = "Asked again, as every question is (reconfigure, --force-questions).";
pub const NOT_SEEN: &str = "This value was preset but nobody has confirmed it yet.";

// Validation.
pub const ANSWER_REQUIRED: &str = "an answer is required: this question has no default";
pub const PASSWORDS_DIFFER: &str = "the two entries differ; type the password again";
pub const PASSWORD_CONFIRM_NEEDED: &str = "type the password a second time to confirm it";
pub const NO_CHOICE_MATCHES: &str = "no choice matches the search; Backspace or Esc edits it";
pub const FIRST_QUESTION: &str = "this is the first question";
pub const PASTE_FIRST_LINE: &str = "only the first line of the pasted text was inserted";

// Review.
pub const REVIEW_TITLE: &str = "Review your answers";
pub const REVIEW_INTRO: &str = "Nothing is saved until you choose Save.";
pub const REVIEW_SAVE: &str = "Save these answers";
pub const REVIEW_EMPTY_VALUE: &str = "(empty)";
pub const REVIEW_NONE_SELECTED: &str = "(none selected)";
pub const REVIEW_KEPT_PASSWORD: &str = "(unchanged)";
pub const REVIEW_CHANGED: &str = "changed";
pub const REVIEW_NEW: &str = "new";
pub const REVIEW_PROGRESS: &str = "review";
pub const REVIEW_DOCUMENT: &str = "takes the document's value";
pub const REVIEW_YOURS: &str = "keeps your value";

// Quitting.
pub const QUIT_TITLE: &str = "Quit without saving?";
pub const QUIT_BODY: &str = "Nothing you answered is saved; confpack stops with exit code 5 and the package stays unconfigured.";
pub const QUIT_CONFIRM: &str = "Quit";
pub const QUIT_CANCEL: &str = "Continue";
pub const QUIT_KEYS: &str = "y quit · n or Esc continue";

// Terminal size.
pub const TEXT_MODE_OFFER: &str =
    "Enlarge the window, or press Ctrl-T to go on with plain text prompts.";

// Key hints (footer); short on purpose.
pub const HINT_NEXT: &str = "next";
pub const HINT_BACK: &str = "back";
pub const HINT_REVIEW: &str = "review";
pub const HINT_QUIT: &str = "quit";
pub const HINT_CONFLICT: &str = "document/yours";
pub const HINT_SCROLL: &str = "scroll";
pub const HINT_MOVE: &str = "move";
pub const HINT_TOGGLE: &str = "toggle";
pub const HINT_ALL: &str = "all/none";
pub const HINT_SEARCH: &str = "type to search";
pub const HINT_CHOOSE: &str = "choose";
pub const HINT_OTHER_FIELD: &str = "other field";
pub const HINT_EDIT: &str = "edit";
pub const HINT_SAVE: &str = "save";
pub const HINT_TEXT_MODE: &str = "text mode";
pub const HINT_YES_NO: &str = "yes/no";

// Text frontend.
pub const TEXT_REQUIRED_MARK: &str = "(required)";
/// Typed at the first question to go back to the caller's previous step.
pub const TEXT_BACK: &str = "<";
pub const TEXT_BACK_HINT: &str = "(type < to go back to the previous step)";
pub const TEXT_HIDDEN_INPUT: &str = "(typing is not shown)";
pub const TEXT_KEEP_PASSWORD: &str = "(Enter keeps the current password)";
pub const TEXT_PASSWORD_AGAIN: &str = "Again: ";
pub const TEXT_YES_NO_DEFAULT_YES: &str = "[Y/n]";
pub const TEXT_YES_NO_DEFAULT_NO: &str = "[y/N]";
pub const TEXT_YES_NO: &str = "[y/n]";
pub const TEXT_NOT_YES_NO: &str = "answer y or n";
pub const TEXT_SELECT_HELP: &str = "Type a number or a name";
pub const TEXT_MULTISELECT_HELP: &str =
    "Type numbers or names separated by spaces or commas, - for none";
pub const TEXT_REVIEW_PROMPT: &str =
    "Save? [Y = save, n = quit without saving, a number = change that answer]: ";
pub const TEXT_QUIT_PROMPT: &str = "Quit without saving? [y/N]: ";
pub const TEXT_INPUT_ENDED: &str = "input ended before every question was answered";
pub const TEXT_SAVING: &str = "Saving.";

/// The header's progress part.
pub fn progress(current: usize, total: usize) -> String {
    format!("question {current} of {total}")
}

/// A short name for the question's kind, shown beside its key.
pub fn type_label(question_type: QuestionType) -> &'static str {
    match question_type {
        QuestionType::String => "text",
        QuestionType::Password => "password",
        QuestionType::Boolean => "yes/no",
        QuestionType::Select => "choose one",
        QuestionType::Multiselect => "choose any",
        QuestionType::Note | QuestionType::Text | QuestionType::Title => "note",
        QuestionType::Error => "error",
    }
}

/// One line saying why a question is asked (the conflict has its own box).
pub fn reason_line(reason: &Reason) -> Option<&'static str> {
    match reason {
        Reason::Conflict { .. } => Some(CONFLICT_TITLE),
        Reason::Forced => Some(FORCED),
        Reason::NotSeen => Some(NOT_SEEN),
        Reason::Unanswered => None,
    }
}

/// The search line under a filtered list.
pub fn search_status(matches: usize, total: usize) -> String {
    format!("{matches} of {total} match; Esc clears")
}

/// How many items of a multiselect are selected.
pub fn selected_count(selected: usize, total: usize) -> String {
    format!("{selected} of {total} selected")
}

/// Review: questions that still block saving.
pub fn review_blocked(count: usize) -> String {
    if count == 1 {
        "1 answer needs attention before saving".to_string()
    } else {
        format!("{count} answers need attention before saving")
    }
}

/// The message shown instead of the screen when the terminal is too small.
pub fn too_small(width: u16, height: u16, min_width: u16, min_height: u16) -> String {
    format!(
        "The terminal is too small ({width}x{height}); the configurator needs at least \
         {min_width}x{min_height}."
    )
}

/// Startup fallbacks, one line each.
pub fn fallback(reason: &str, frontend: &str) -> String {
    format!("{reason}; using the {frontend} frontend")
}

/// The text frontend's heading before the first question.
pub fn text_heading(count: usize, where_: &str) -> String {
    if count == 1 {
        format!("1 question for {where_}")
    } else {
        format!("{count} questions for {where_}")
    }
}

// A rendered file a person edited.
pub const LOCAL_EDIT_KEEP: &str =
    "  k  keep mine: leave the file as it is; the new rendering is not applied";
pub const LOCAL_EDIT_DIFF: &str = "  d  show the differences (yours → the new rendering)";
pub const LOCAL_EDIT_SECRET: &str = "     (the file holds a secret: no differences are shown)";
pub const LOCAL_EDIT_PROMPT: &str =
    "Keep mine, take the new one, or show the differences? [k/t/d]: ";
pub const LOCAL_EDIT_PROMPT_SECRET: &str = "Keep mine or take the new one? [k/t]: ";
pub const LOCAL_EDIT_REFUSED: &str = "type k, t or d";

/// The heading of the edited-file question.
pub fn local_edit_heading(shown: &std::path::Path) -> String {
    format!(
        "{} was edited since confpack wrote it, and confpack has a new rendering of it.",
        shown.display()
    )
}

/// The "take the new one" line, naming where the person's version goes.
pub fn local_edit_take(saved: &std::path::Path) -> String {
    format!(
        "  t  take the new one: yours is saved as {}",
        saved.display()
    )
}
