//! Styles of the TUI, with and without colour.
//!
//! Nothing may depend on colour alone (a known whiptail complaint on
//! monochrome consoles and for colour-blind users): the selected row is
//! reversed *and* marked, errors are bold *and* prefixed. `NO_COLOR`
//! switches colour off; a locale that is not UTF-8 switches the box
//! drawing to plain ASCII.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

/// The TUI's look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    colour: bool,
    ascii: bool,
}

const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Theme {
    /// This process's [`Theme::from_variables`].
    pub fn from_environment() -> Theme {
        Theme::from_variables(|name| match std::env::var(name) {
            Ok(value) => Some(value),
            // NO_COLOR counts when set to anything; a locale only when readable.
            Err(std::env::VarError::NotUnicode(raw)) if name == "NO_COLOR" => {
                Some(raw.to_string_lossy().into_owned())
            }
            Err(_) => None,
        })
    }

    /// Colour unless `NO_COLOR` is set (and not empty); ASCII unless the
    /// locale (`LC_ALL`, else `LC_CTYPE`, else `LANG`; an empty one is
    /// skipped) is UTF-8. `variable` looks a variable up.
    pub fn from_variables(variable: impl Fn(&str) -> Option<String>) -> Theme {
        let no_colour = variable("NO_COLOR").is_some_and(|v| !v.is_empty());
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|name| variable(name).filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let utf8 = locale.contains("utf-8") || locale.contains("utf8");
        Theme {
            colour: !no_colour,
            ascii: !utf8,
        }
    }

    /// No colour, Unicode borders (snapshot tests).
    pub fn monochrome() -> Theme {
        Theme {
            colour: false,
            ascii: false,
        }
    }

    /// No colour, ASCII only (the Linux console without a UTF-8 locale).
    pub fn plain() -> Theme {
        Theme {
            colour: false,
            ascii: true,
        }
    }

    pub fn ascii(&self) -> bool {
        self.ascii
    }

    pub fn border(&self) -> border::Set<'static> {
        if self.ascii {
            ASCII_BORDER
        } else {
            border::ROUNDED
        }
    }

    /// "…" or "~" where a text is cut.
    pub fn ellipsis(&self) -> &'static str {
        if self.ascii { "~" } else { "…" }
    }

    pub fn bar(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::White).bg(Color::Blue)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn key(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.colour {
            style.fg(Color::Cyan)
        } else {
            style
        }
    }

    /// The focused row or button: reversed (plus a marker drawn by the
    /// caller).
    pub fn selected(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
        if self.colour {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    pub fn error(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.colour {
            style.fg(Color::LightRed)
        } else {
            style
        }
    }

    pub fn warning(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.colour {
            style.fg(Color::Yellow)
        } else {
            style
        }
    }

    pub fn notice(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::Green)
        } else {
            Style::new()
        }
    }

    pub fn search_match(&self) -> Style {
        Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
    }

    /// A field's frame: highlighted when focused.
    pub fn field(&self, focused: bool) -> Style {
        match (focused, self.colour) {
            (true, true) => Style::new().fg(Color::Cyan),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => self.dim(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(variables: &[(&str, &str)]) -> Theme {
        Theme::from_variables(|name| {
            variables
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn no_color_and_the_locale_choose_the_theme() {
        type Variables = &'static [(&'static str, &'static str)];
        let cases: &[(Variables, bool, bool)] = &[
            (&[("LANG", "en_US.UTF-8")], true, false),
            (&[("NO_COLOR", "1"), ("LANG", "de_DE.utf8")], false, false),
            (&[("NO_COLOR", ""), ("LANG", "C.UTF-8")], true, false),
            (&[("LANG", "C")], true, true),
            (&[], true, true),
            (&[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")], true, true),
            (&[("LC_ALL", ""), ("LC_CTYPE", "C.UTF-8")], true, false),
        ];
        for &(variables, colour, ascii) in cases {
            assert_eq!(theme(variables), Theme { colour, ascii }, "{variables:?}");
        }
    }
}
