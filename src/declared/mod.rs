//! What a package declares besides its files (control.yml): system groups
//! and users, directories with an owner and mode, managed blocks in files
//! others own, downloads, firewall rules, services. Each declaration has a
//! "down": it is applied by `configure` (or `confpack apply` for a package
//! without an environment document), recorded in the store, undone when
//! the package is removed or a new version no longer declares it, and
//! checked by `confpack status`.
//!
//! One module per kind of declaration; this one holds what they share:
//! - [`Declarations`]: what `package.yml` carries (control.yml's keys);
//! - [`Record`]: what was applied, enough to undo it and to tell drift;
//! - [`converge`]: undo what was dropped, apply what is declared, in a
//!   fixed order (groups before the users in them, directories before the
//!   files and blocks in them, services last, so they start on finished
//!   configuration), keeping every record that was applied even when a
//!   later one fails;
//! - [`undo_all`]: removal and purge, in reverse order;
//! - [`Host`]: the side effects besides files under the root (system
//!   commands, systemd), faked in tests.

pub mod blocks;
pub mod directories;
pub mod downloads;
pub mod firewall;
pub mod host;
pub mod services;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::Listener;
use crate::error::{Error, Result};
pub use host::{Host, Ran, SystemHost};

/// A package's declarations, in the order they are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declarations {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<users::Group>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<users::User>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<directories::Directory>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downloads: Vec<downloads::Download>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewall: Vec<firewall::Table>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<services::Service>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<blocks::Block>,
}

/// The control.yml (and package.yml) keys of [`Declarations`], for the
/// builder's checks.
pub const KEYS: &[&str] = &[
    "groups",
    "users",
    "directories",
    "downloads",
    "blocks",
    "firewall",
    "services",
];

impl Declarations {
    pub fn is_empty(&self) -> bool {
        self.declared().is_empty()
    }

    /// The template texts of the declarations (blocks' content, firewall
    /// tables' rules), for what they read of the answers.
    pub fn templates(&self) -> Vec<&str> {
        let blocks = self.blocks.iter().map(|b| b.content.as_str());
        blocks
            .chain(self.firewall.iter().map(|t| t.rules.as_str()))
            .collect()
    }

    /// What applying them would make of a node, in the order they are
    /// applied, computed by the functions applying uses (the same
    /// rendering, the same checks of what is rendered) without touching
    /// anything: for `confpack plan`.
    pub fn intended(&self, package: &str, render: &Render<'_>) -> Result<Vec<Intended>> {
        let mut out = Vec::new();
        for declared in self.declared() {
            out.extend(declared.intended(package, render)?);
        }
        Ok(out)
    }

    /// Every declaration, in the order it is applied.
    fn declared(&self) -> Vec<Declared<'_>> {
        let mut out = Vec::new();
        out.extend(self.groups.iter().map(Declared::Group));
        out.extend(self.users.iter().map(Declared::User));
        out.extend(self.directories.iter().map(Declared::Directory));
        out.extend(self.downloads.iter().map(Declared::Download));
        out.extend(self.blocks.iter().map(Declared::Block));
        // After blocks: a table's include line is a block.
        out.extend(self.firewall.iter().map(Declared::Firewall));
        // Last: services start on finished configuration.
        out.extend(self.services.iter().map(Declared::Service));
        out
    }

    /// Problems beyond the types, each with the key (`directories`) and
    /// the declaration's id, so the builder can find its line.
    pub fn check(&self) -> Vec<Invalid> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for declared in self.declared() {
            let id = declared.id();
            let needle = declared.needle().to_string();
            if !seen.insert(id.clone()) {
                out.push(Invalid {
                    key: id.kind.key(),
                    id: id.name.clone(),
                    needle: needle.clone(),
                    message: format!("{} {} is declared twice", id.kind.noun(), id.name),
                });
            }
            out.extend(declared.check().into_iter().map(|message| Invalid {
                key: id.kind.key(),
                id: id.name.clone(),
                needle: needle.clone(),
                message,
            }));
        }
        out
    }
}

/// What one declaration would make of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intended {
    /// A text it writes: a block with its markers, by `FILE block NAME`;
    /// a firewall table's file, by its path, with its mode.
    Text {
        name: String,
        content: String,
        mode: Option<u32>,
    },
    /// Anything else, in one line: `directory /var/lib/webshop` is
    /// `0750 webshop:webshop`.
    State { id: Id, state: String },
}

/// A declaration the builder refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The control.yml key it is under.
    pub key: &'static str,
    /// Its name or path, for the message.
    pub id: String,
    /// What its first line in control.yml holds, to find that line.
    pub needle: String,
    pub message: String,
}

/// The kinds of declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Group,
    User,
    Directory,
    Download,
    Firewall,
    Service,
    Block,
}

impl Kind {
    /// The control.yml key.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Group => "groups",
            Kind::User => "users",
            Kind::Directory => "directories",
            Kind::Download => "downloads",
            Kind::Firewall => "firewall",
            Kind::Service => "services",
            Kind::Block => "blocks",
        }
    }

    /// How messages name one.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::User => "user",
            Kind::Directory => "directory",
            Kind::Download => "download",
            Kind::Firewall => "firewall table",
            Kind::Service => "service",
            Kind::Block => "block",
        }
    }
}

/// What identifies a declaration across versions: a new version declaring
/// the same id changes it in place; a missing id is undone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Id {
    pub kind: Kind,
    pub name: String,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.noun(), self.name)
    }
}

/// One declaration, borrowed from [`Declarations`].
#[derive(Debug, Clone, Copy)]
enum Declared<'a> {
    Group(&'a users::Group),
    User(&'a users::User),
    Directory(&'a directories::Directory),
    Download(&'a downloads::Download),
    Firewall(&'a firewall::Table),
    Service(&'a services::Service),
    Block(&'a blocks::Block),
}

impl Declared<'_> {
    /// The text control.yml has on the declaration's line (its name,
    /// path, unit or file).
    fn needle(&self) -> &str {
        match self {
            Declared::Group(g) => &g.name,
            Declared::User(u) => &u.name,
            Declared::Directory(d) => &d.path,
            Declared::Download(d) => &d.path,
            Declared::Block(b) => &b.file,
            Declared::Firewall(t) => &t.table,
            Declared::Service(s) => &s.unit,
        }
    }

    fn id(&self) -> Id {
        match self {
            Declared::Group(g) => g.id(),
            Declared::User(u) => u.id(),
            Declared::Directory(d) => d.id(),
            Declared::Download(d) => d.id(),
            Declared::Firewall(t) => t.id(),
            Declared::Service(s) => s.id(),
            Declared::Block(b) => b.id(),
        }
    }

    fn intended(&self, package: &str, render: &Render<'_>) -> Result<Vec<Intended>> {
        let state = |state: String| {
            vec![Intended::State {
                id: self.id(),
                state,
            }]
        };
        let block = |block: &blocks::Block, render: &Render<'_>| -> Result<Intended> {
            Ok(Intended::Text {
                name: block.what(),
                content: block.written(package, render)?,
                mode: None,
            })
        };
        Ok(match self {
            Declared::Group(_) => state("system group".into()),
            Declared::User(u) => state(u.intended()),
            Declared::Directory(d) => state(d.intended()),
            Declared::Download(d) => state(d.intended()),
            Declared::Service(s) => state(s.intended()),
            Declared::Block(b) => vec![block(b, render)?],
            Declared::Firewall(t) => {
                let (path, content) = t.file(package, render, &NoSecrets)?;
                let file = Intended::Text {
                    name: path.display().to_string(),
                    content,
                    mode: Some(t.mode()),
                };
                // Its include line is written as is, not rendered.
                let plain = |_: &str, source: &str| Ok(source.to_string());
                vec![file, block(&t.include(package), &plain)?]
            }
        })
    }

    fn check(&self) -> Vec<String> {
        match self {
            Declared::Group(g) => g.check(),
            Declared::User(u) => u.check(),
            Declared::Directory(d) => d.check(),
            Declared::Download(d) => d.check(),
            Declared::Firewall(t) => t.check(),
            Declared::Service(s) => s.check(),
            Declared::Block(b) => b.check(),
        }
    }

    /// Applies it, given its earlier record of the same kind.
    fn apply(&self, previous: Option<&Record>, cx: &mut Context<'_>) -> Result<Record> {
        /// The earlier record when it is of `$kind`, the new one wrapped.
        macro_rules! apply {
            ($declared:expr, $kind:ident) => {{
                let previous = match previous {
                    Some(Record::$kind(r)) => Some(r),
                    _ => None,
                };
                $declared.apply(previous, cx).map(Record::$kind)
            }};
        }
        match self {
            Declared::Group(g) => apply!(g, Group),
            Declared::User(u) => apply!(u, User),
            Declared::Directory(d) => apply!(d, Directory),
            Declared::Download(d) => apply!(d, Download),
            Declared::Firewall(t) => apply!(t, Firewall),
            Declared::Service(s) => apply!(s, Service),
            Declared::Block(b) => apply!(b, Block),
        }
    }
}

/// What was applied for one declaration: enough to undo it and to tell
/// whether the node still matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Record {
    Group(users::GroupRecord),
    User(users::UserRecord),
    Directory(directories::Record),
    Download(downloads::Record),
    Firewall(firewall::Record),
    Service(services::Record),
    Block(blocks::Record),
}

/// Why a declaration is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    /// The package is removed (its configuration files stay until purge).
    Remove,
    /// The package is purged.
    Purge,
    /// A new version of the package no longer declares it.
    Dropped,
}

impl Record {
    pub fn id(&self) -> Id {
        match self {
            Record::Group(r) => r.id(),
            Record::User(r) => r.id(),
            Record::Directory(r) => r.id(),
            Record::Download(r) => r.id(),
            Record::Firewall(r) => r.id(),
            Record::Service(r) => r.id(),
            Record::Block(r) => r.id(),
        }
    }

    /// Undoes it. `Some(record)`: something was kept on purpose (said
    /// with a warning) and is remembered, to be undone later (a purge).
    pub fn undo(&self, why: Undo, cx: &mut Context<'_>) -> Result<Option<Record>> {
        match self {
            Record::Group(r) => Ok(r.undo(why, cx)?.map(Record::Group)),
            Record::User(r) => Ok(r.undo(why, cx)?.map(Record::User)),
            Record::Directory(r) => Ok(r.undo(why, cx)?.map(Record::Directory)),
            Record::Download(r) => Ok(r.undo(why, cx)?.map(Record::Download)),
            Record::Firewall(r) => Ok(r.undo(why, cx)?.map(Record::Firewall)),
            Record::Service(r) => Ok(r.undo(why, cx)?.map(Record::Service)),
            Record::Block(r) => Ok(r.undo(why, cx)?.map(Record::Block)),
        }
    }

    /// How the node differs from what was applied (empty: it matches).
    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        match self {
            Record::Group(r) => r.drift(cx),
            Record::User(r) => r.drift(cx),
            Record::Directory(r) => r.drift(cx),
            Record::Download(r) => r.drift(cx),
            Record::Firewall(r) => r.drift(cx),
            Record::Service(r) => r.drift(cx),
            Record::Block(r) => r.drift(cx),
        }
    }
}

/// Renders a declaration's template text (a managed block, a firewall
/// rule file) with the package's answers: `(name for messages, source)`.
pub type Render<'a> = dyn Fn(&str, &str) -> Result<String> + 'a;

/// What applying, undoing and checking work with.
pub struct Context<'a> {
    /// The root everything is under (`--root`, `/` on a node).
    pub root: &'a std::path::Path,
    pub package: &'a str,
    pub host: &'a mut dyn Host,
    pub listener: &'a mut dyn Listener,
    pub render: &'a Render<'a>,
    /// Files this run wrote or removed for the package (rendered
    /// templates), so a service can restart on a change.
    pub changed: &'a [std::path::PathBuf],
    /// The package's secret answers: masked in what is shown, and known
    /// by the templates that read them.
    pub secrets: &'a dyn Secrets,
}

/// The secret answers as declarations meet them.
pub trait Secrets {
    /// `text` with every secret answer masked (a tool's message quoting
    /// rendered rules).
    fn mask(&self, text: &str) -> String;
    /// Whether the template text reads a secret answer (its output then
    /// holds one).
    fn read_by(&self, source: &str) -> bool;
}

/// No secrets (undoing, checking, tests).
pub struct NoSecrets;

impl Secrets for NoSecrets {
    fn mask(&self, text: &str) -> String {
        text.to_string()
    }

    fn read_by(&self, _source: &str) -> bool {
        false
    }
}

/// A render function for undoing and checking, which never render.
pub fn no_render(name: &str, _source: &str) -> Result<String> {
    Err(Error::Package {
        package: String::new(),
        message: format!("{name}: nothing is rendered while undoing or checking"),
    })
}

/// What [`converge`] did, and what to store (even when it failed part of
/// the way: every record of something applied is kept).
#[derive(Debug, Default)]
pub struct Converged {
    pub records: Vec<Record>,
    pub applied: Vec<Id>,
    pub undone: Vec<Id>,
    /// The first failure; the declarations after it were not applied.
    pub failure: Option<Error>,
}

/// What [`converge_recording`] needs besides the context: where the
/// records go after each step, so a run killed half-way (kill -9, a power
/// cut during a download) forgets nothing it did; and which declarations
/// other packages own, so two packages never undo each other's.
pub struct Bookkeeping<'a> {
    /// Saves the package's records as they are now.
    pub save: &'a mut dyn FnMut(&[Record]) -> Result<()>,
    /// The other package that declares `id`, if any.
    pub owner: &'a dyn Fn(&Id) -> Option<String>,
}

/// [`converge_recording`] without saving between steps and without other
/// packages (tests of one kind).
pub fn converge(
    declarations: &Declarations,
    previous: Vec<Record>,
    cx: &mut Context<'_>,
) -> Converged {
    let mut save = |_: &[Record]| Ok(());
    let mut books = Bookkeeping {
        save: &mut save,
        owner: &|_| None,
    };
    converge_recording(declarations, previous, cx, &mut books)
}

/// Undoes what `previous` holds and `declarations` no longer declares
/// (the last applied first), then applies every declaration in order,
/// saving the records after each step. A declaration another package
/// owns is refused: one package's removal would undo the other's.
pub fn converge_recording(
    declarations: &Declarations,
    previous: Vec<Record>,
    cx: &mut Context<'_>,
    books: &mut Bookkeeping<'_>,
) -> Converged {
    let declared = declarations.declared();
    let wanted: std::collections::BTreeSet<Id> = declared.iter().map(Declared::id).collect();
    let mut out = Converged::default();
    let mut state = previous;
    let fail = |out: &mut Converged, state: Vec<Record>, id: &Id, e: Error, cx: &Context<'_>| {
        // Said once: "package P: directory /x: …", not "package P: … package P: …".
        let message = match e {
            Error::Package { package, message } if package.is_empty() || package == cx.package => {
                message
            }
            other => other.to_string(),
        };
        out.records = state;
        out.failure = Some(Error::Package {
            package: cx.package.to_string(),
            message: format!("{id}: {message}"),
        });
    };
    while let Some(at) = state
        .iter()
        .rposition(|r| !wanted.contains(&r.id()) && !out.undone.contains(&r.id()))
    {
        let record = state[at].clone();
        let id = record.id();
        match record.undo(Undo::Dropped, cx) {
            Ok(still) => {
                match still {
                    Some(kept) => state[at] = kept,
                    None => {
                        state.remove(at);
                    }
                }
                out.undone.push(id.clone());
                if let Err(e) = (books.save)(&state) {
                    fail(&mut out, state, &id, e, cx);
                    return out;
                }
            }
            Err(e) => {
                fail(&mut out, state, &id, e, cx);
                return out;
            }
        }
    }
    for item in &declared {
        let id = item.id();
        if let Some(owner) = (books.owner)(&id) {
            let e = Error::Package {
                package: cx.package.to_string(),
                message: format!(
                    "package {owner} declares it too; one package must own it (the other's \
                     removal would undo it): drop it from one of them, or move it to a \
                     package both depend on"
                ),
            };
            fail(&mut out, state, &id, e, cx);
            return out;
        }
        let position = state.iter().position(|r| r.id() == id);
        let earlier = position.map(|i| state[i].clone());
        match item.apply(earlier.as_ref(), cx) {
            Ok(record) => {
                if earlier.as_ref() != Some(&record) {
                    out.applied.push(id.clone());
                }
                match position {
                    Some(i) => state[i] = record,
                    None => state.push(record),
                }
                if let Err(e) = (books.save)(&state) {
                    fail(&mut out, state, &id, e, cx);
                    return out;
                }
            }
            Err(e) => {
                fail(&mut out, state, &id, e, cx);
                return out;
            }
        }
    }
    // The declared order, so an undo goes in reverse; what was kept of a
    // dropped declaration after them.
    let mut ordered: Vec<Record> = Vec::with_capacity(state.len());
    for id in declared.iter().map(Declared::id) {
        if let Some(i) = state.iter().position(|r| r.id() == id) {
            ordered.push(state.remove(i));
        }
    }
    ordered.extend(state);
    out.records = ordered;
    out
}

/// Undoes every record, the last applied first. Returns the records kept
/// (undone only in part, or failed), to store again.
pub fn undo_all(
    records: Vec<Record>,
    why: Undo,
    cx: &mut Context<'_>,
) -> (Vec<Record>, Vec<Error>) {
    let mut kept = Vec::new();
    let mut errors = Vec::new();
    for record in records.into_iter().rev() {
        match record.undo(why, cx) {
            Ok(still) => kept.extend(still),
            Err(e) => {
                errors.push(Error::Package {
                    package: cx.package.to_string(),
                    message: format!("{}: {e}", record.id()),
                });
                kept.push(record);
            }
        }
    }
    kept.reverse();
    (kept, errors)
}

#[cfg(test)]
mod tests;
