//! Every key the configurator understands, in one table.
//!
//! Components never look at raw keys: the table turns a key into an
//! [`KeyAction`] for the scopes that are active (the focused widget's first,
//! then the question screen's, then the global ones), and the footer's
//! hints are read from the same table, so what the footer says is what the
//! keys do.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::frontend::strings;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any screen except the quit dialog.
    Everywhere,
    /// Any question screen.
    Question,
    /// A line editor (string, password).
    Editor,
    /// The password widget's two fields.
    Password,
    Boolean,
    /// A list of choices (select, multiselect).
    List,
    Multiselect,
    /// A read-only message (note, text, error).
    Message,
    Review,
    /// The "quit without saving?" dialog.
    Confirm,
    /// The window is below the minimum size.
    TooSmall,
}

/// What a key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Ask whether to quit (Ctrl-C).
    Quit,
    /// Clear a search, else ask whether to quit.
    Escape,
    Next,
    Back,
    Review,
    /// Switch a conflict's value between the document's and the user's.
    ToggleConflict,
    ScrollUp,
    ScrollDown,
    Left,
    Right,
    WordLeft,
    WordRight,
    Home,
    End,
    DeleteBack,
    DeleteForward,
    DeleteWordBack,
    DeleteToStart,
    DeleteToEnd,
    Insert(char),
    SwitchField,
    Up,
    Down,
    PageUp,
    PageDown,
    Toggle,
    ToggleAll,
    Yes,
    No,
    Flip,
    /// Enter on the review list or a dialog button.
    Choose,
    Save,
    ConfirmQuit,
    Resume,
    OtherButton,
    TextMode,
}

/// When a hint is worth showing in the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The question is a conflict.
    Conflict,
    /// The description does not fit its area.
    Overflow,
    /// Not on the first question.
    NotFirst,
    /// There is something to review.
    Answerable,
}

/// A key, what it does where, and how the footer names it.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub scope: Scope,
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    pub action: KeyAction,
    /// (key label, what it does) for the footer.
    pub hint: Option<(&'static str, &'static str)>,
    pub when: When,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

const fn bind(scope: Scope, code: KeyCode, modifiers: KeyModifiers, action: KeyAction) -> Binding {
    Binding {
        scope,
        code,
        modifiers,
        action,
        hint: None,
        when: When::Always,
    }
}

const fn hinted(
    scope: Scope,
    code: KeyCode,
    modifiers: KeyModifiers,
    action: KeyAction,
    hint: (&'static str, &'static str),
    when: When,
) -> Binding {
    Binding {
        scope,
        code,
        modifiers,
        action,
        hint: Some(hint),
        when,
    }
}

use KeyAction as A;
use KeyCode as K;
use Scope as S;

/// The table. Earlier rows win within a scope; the footer shows hints in
/// table order.
pub const BINDINGS: &[Binding] = &[
    // Lists and the boolean widget come first so their hints lead.
    hinted(
        S::List,
        K::Up,
        NONE,
        A::Up,
        ("↑↓", strings::HINT_MOVE),
        When::Always,
    ),
    bind(S::List, K::Down, NONE, A::Down),
    bind(S::List, K::PageUp, NONE, A::PageUp),
    bind(S::List, K::PageDown, NONE, A::PageDown),
    bind(S::List, K::Home, NONE, A::Home),
    bind(S::List, K::End, NONE, A::End),
    bind(S::List, K::Backspace, NONE, A::DeleteBack),
    bind(S::List, K::Char('u'), CTRL, A::DeleteToStart),
    hinted(
        S::Multiselect,
        K::Char(' '),
        NONE,
        A::Toggle,
        ("Space", strings::HINT_TOGGLE),
        When::Always,
    ),
    hinted(
        S::Multiselect,
        K::Char('a'),
        CTRL,
        A::ToggleAll,
        ("^A", strings::HINT_ALL),
        When::Always,
    ),
    hinted(
        S::Boolean,
        K::Char('y'),
        NONE,
        A::Yes,
        ("y/n", strings::HINT_YES_NO),
        When::Always,
    ),
    bind(S::Boolean, K::Char('Y'), NONE, A::Yes),
    bind(S::Boolean, K::Char('n'), NONE, A::No),
    bind(S::Boolean, K::Char('N'), NONE, A::No),
    bind(S::Boolean, K::Left, NONE, A::Flip),
    bind(S::Boolean, K::Right, NONE, A::Flip),
    bind(S::Boolean, K::Up, NONE, A::Flip),
    bind(S::Boolean, K::Down, NONE, A::Flip),
    bind(S::Boolean, K::Char(' '), NONE, A::Flip),
    bind(S::Boolean, K::Tab, NONE, A::Flip),
    // Line editing, readline-style.
    bind(S::Editor, K::Left, NONE, A::Left),
    bind(S::Editor, K::Right, NONE, A::Right),
    bind(S::Editor, K::Char('b'), CTRL, A::Left),
    bind(S::Editor, K::Char('f'), CTRL, A::Right),
    bind(S::Editor, K::Left, CTRL, A::WordLeft),
    bind(S::Editor, K::Right, CTRL, A::WordRight),
    bind(S::Editor, K::Char('b'), ALT, A::WordLeft),
    bind(S::Editor, K::Char('f'), ALT, A::WordRight),
    bind(S::Editor, K::Home, NONE, A::Home),
    bind(S::Editor, K::Char('a'), CTRL, A::Home),
    bind(S::Editor, K::End, NONE, A::End),
    bind(S::Editor, K::Char('e'), CTRL, A::End),
    bind(S::Editor, K::Backspace, NONE, A::DeleteBack),
    bind(S::Editor, K::Char('h'), CTRL, A::DeleteBack),
    bind(S::Editor, K::Delete, NONE, A::DeleteForward),
    bind(S::Editor, K::Char('w'), CTRL, A::DeleteWordBack),
    bind(S::Editor, K::Backspace, ALT, A::DeleteWordBack),
    bind(S::Editor, K::Char('u'), CTRL, A::DeleteToStart),
    bind(S::Editor, K::Char('k'), CTRL, A::DeleteToEnd),
    hinted(
        S::Password,
        K::Tab,
        NONE,
        A::SwitchField,
        ("Tab", strings::HINT_OTHER_FIELD),
        When::Always,
    ),
    bind(S::Password, K::Up, NONE, A::SwitchField),
    bind(S::Password, K::Down, NONE, A::SwitchField),
    // Read-only messages scroll with the plain arrows.
    hinted(
        S::Message,
        K::Up,
        NONE,
        A::ScrollUp,
        ("↑↓", strings::HINT_SCROLL),
        When::Overflow,
    ),
    bind(S::Message, K::Down, NONE, A::ScrollDown),
    bind(S::Message, K::PageUp, NONE, A::PageUp),
    bind(S::Message, K::PageDown, NONE, A::PageDown),
    // Every question.
    hinted(
        S::Question,
        K::Enter,
        NONE,
        A::Next,
        ("Enter", strings::HINT_NEXT),
        When::Always,
    ),
    hinted(
        S::Question,
        K::BackTab,
        NONE,
        A::Back,
        ("S-Tab", strings::HINT_BACK),
        When::NotFirst,
    ),
    bind(S::Question, K::Left, ALT, A::Back),
    hinted(
        S::Question,
        K::Char('d'),
        CTRL,
        A::ToggleConflict,
        ("^D", strings::HINT_CONFLICT),
        When::Conflict,
    ),
    hinted(
        S::Question,
        K::Up,
        SHIFT,
        A::ScrollUp,
        ("S-↑↓", strings::HINT_SCROLL),
        When::Overflow,
    ),
    bind(S::Question, K::Down, SHIFT, A::ScrollDown),
    bind(S::Question, K::Up, ALT, A::ScrollUp),
    bind(S::Question, K::Down, ALT, A::ScrollDown),
    hinted(
        S::Question,
        K::Char('r'),
        CTRL,
        A::Review,
        ("^R", strings::HINT_REVIEW),
        When::Answerable,
    ),
    // The review screen.
    hinted(
        S::Review,
        K::Up,
        NONE,
        A::Up,
        ("↑↓", strings::HINT_MOVE),
        When::Always,
    ),
    bind(S::Review, K::Down, NONE, A::Down),
    bind(S::Review, K::PageUp, NONE, A::PageUp),
    bind(S::Review, K::PageDown, NONE, A::PageDown),
    bind(S::Review, K::Home, NONE, A::Home),
    bind(S::Review, K::End, NONE, A::End),
    hinted(
        S::Review,
        K::Enter,
        NONE,
        A::Choose,
        ("Enter", strings::HINT_EDIT),
        When::Always,
    ),
    hinted(
        S::Review,
        K::Char('s'),
        NONE,
        A::Save,
        ("s", strings::HINT_SAVE),
        When::Always,
    ),
    bind(S::Review, K::Char('S'), NONE, A::Save),
    bind(S::Review, K::Char('s'), CTRL, A::Save),
    hinted(
        S::Review,
        K::BackTab,
        NONE,
        A::Back,
        ("S-Tab", strings::HINT_BACK),
        When::Always,
    ),
    // The quit dialog: Ctrl-C twice quits.
    bind(S::Confirm, K::Char('y'), NONE, A::ConfirmQuit),
    bind(S::Confirm, K::Char('Y'), NONE, A::ConfirmQuit),
    bind(S::Confirm, K::Char('q'), NONE, A::ConfirmQuit),
    bind(S::Confirm, K::Char('c'), CTRL, A::ConfirmQuit),
    bind(S::Confirm, K::Char('n'), NONE, A::Resume),
    bind(S::Confirm, K::Char('N'), NONE, A::Resume),
    bind(S::Confirm, K::Esc, NONE, A::Resume),
    bind(S::Confirm, K::Enter, NONE, A::Choose),
    bind(S::Confirm, K::Left, NONE, A::OtherButton),
    bind(S::Confirm, K::Right, NONE, A::OtherButton),
    bind(S::Confirm, K::Tab, NONE, A::OtherButton),
    bind(S::Confirm, K::BackTab, NONE, A::OtherButton),
    hinted(
        S::TooSmall,
        K::Char('t'),
        CTRL,
        A::TextMode,
        ("^T", strings::HINT_TEXT_MODE),
        When::Always,
    ),
    // Anywhere.
    bind(S::Everywhere, K::Char('c'), CTRL, A::Quit),
    hinted(
        S::Everywhere,
        K::Esc,
        NONE,
        A::Escape,
        ("Esc", strings::HINT_QUIT),
        When::Always,
    ),
];

/// Scopes where unbound printable keys are typed text.
fn takes_text(scope: Scope) -> bool {
    matches!(scope, Scope::Editor | Scope::List)
}

/// The action of `key` in the first of `scopes` that binds it.
pub fn lookup(scopes: &[Scope], key: KeyEvent) -> Option<KeyAction> {
    let mut modifiers = key.modifiers;
    // Shift is part of the character (or of BackTab) already.
    if matches!(key.code, KeyCode::Char(_) | KeyCode::BackTab) {
        modifiers.remove(KeyModifiers::SHIFT);
    }
    for &scope in scopes {
        if let Some(binding) = BINDINGS
            .iter()
            .find(|b| b.scope == scope && b.code == key.code && b.modifiers == modifiers)
        {
            return Some(binding.action);
        }
        if takes_text(scope)
            && let KeyCode::Char(c) = key.code
            && !modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            && !c.is_control()
        {
            return Some(KeyAction::Insert(c));
        }
    }
    None
}

/// The footer's hints for `scopes`, in table order, one per label.
pub fn hints(scopes: &[Scope]) -> Vec<(&'static str, &'static str, When)> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for &scope in scopes {
        for binding in BINDINGS.iter().filter(|b| b.scope == scope) {
            if let Some((keys, label)) = binding.hint
                && !seen.contains(&label)
            {
                seen.push(label);
                out.push((keys, label, binding.when));
            }
        }
        if scope == Scope::List && !seen.contains(&strings::HINT_SEARCH) {
            seen.push(strings::HINT_SEARCH);
            out.push(("abc", strings::HINT_SEARCH, When::Always));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                assert!(
                    !(a.scope == b.scope && a.code == b.code && a.modifiers == b.modifiers),
                    "{:?} {:?} {:?} bound twice",
                    a.scope,
                    a.code,
                    a.modifiers
                );
            }
        }
    }

    #[test]
    fn the_widget_scope_wins_over_the_screen_scope() {
        let scopes = [Scope::Editor, Scope::Question, Scope::Everywhere];
        assert_eq!(
            lookup(&scopes, key(KeyCode::Char('a'), CTRL)),
            Some(KeyAction::Home)
        );
        assert_eq!(
            lookup(&scopes, key(KeyCode::Char('x'), NONE)),
            Some(KeyAction::Insert('x'))
        );
        assert_eq!(
            lookup(&scopes, key(KeyCode::Char('X'), SHIFT)),
            Some(KeyAction::Insert('X'))
        );
        assert_eq!(
            lookup(&scopes, key(KeyCode::Char('c'), CTRL)),
            Some(KeyAction::Quit)
        );
    }

    #[test]
    fn back_tab_is_back_whatever_the_terminal_says_about_shift() {
        let scopes = [Scope::Question];
        assert_eq!(lookup(&scopes, key(KeyCode::BackTab, SHIFT)), Some(A::Back));
        assert_eq!(lookup(&scopes, key(KeyCode::BackTab, NONE)), Some(A::Back));
    }

    #[test]
    fn control_keys_are_never_typed_text() {
        let scopes = [Scope::Editor];
        assert_eq!(lookup(&scopes, key(KeyCode::Char('z'), CTRL)), None);
    }
}
