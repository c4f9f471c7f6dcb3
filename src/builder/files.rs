//! The files of a package tree (`packages/<name>/…`), each classified and
//! turned into what the `.deb` holds: a directory, a symlink, a template
//! (shipped under `/usr/share/confpack/<pkg>/templates`, rendered by
//! configure), a plain file, or a secret handed on to [`super::secrets`].
//!
//! Classifying is pure ([`by_name`], then [`by_type`] for what is neither
//! in `control/` nor in `secrets/`), so every rule has a table test; only
//! [`plan_files`] touches the file system.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::deb::Entry;
use crate::error::Problem;

use super::planned::{Planned, Problems, problem_at, share_dir};
use super::scripts;
use super::source::read_shipped;

/// What a path of the package tree is, by its name alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByName<'a> {
    /// Nothing to ship: a file of `control/` confpack reads, `secrets/`
    /// itself or a directory marker in it.
    Skipped,
    /// A problem before anything is read.
    Refused(String),
    /// `secrets/<inside>`: encrypted for configure to put at `/<inside>`.
    Secret(&'a str),
    /// An (otherwise empty) directory the package creates (`etc/x/`, or
    /// `etc/x/.keep`), without its leading `/`.
    Directory(&'a str),
    /// A file or symlink: its type decides ([`by_type`]).
    Entry,
}

/// Classifies `relative` (a path inside the package tree, `/`-terminated
/// for an empty directory). `control_files` are the names in `control/`
/// that confpack reads.
pub fn by_name<'a>(relative: &'a str, control_files: &BTreeSet<String>) -> ByName<'a> {
    if let Some(inside) = relative.strip_prefix("control/") {
        return if control_files.contains(inside) {
            ByName::Skipped
        } else {
            ByName::Refused(format!(
                "not a file confpack uses in control/ (control.yml, {}, and the environment document or schema control.yml names)",
                scripts::SCRIPT_NAMES.join(", ")
            ))
        };
    }
    if let Err(message) = check_path(relative) {
        return ByName::Refused(message);
    }
    let marker = |path: &str| {
        path.ends_with('/') || matches!(path.rsplit('/').next(), Some(".keep" | ".gitkeep"))
    };
    if let Some(inside) = relative.strip_prefix("secrets/") {
        return if inside.is_empty() || marker(inside) {
            ByName::Skipped
        } else {
            ByName::Secret(inside)
        };
    }
    if !marker(relative) {
        return ByName::Entry;
    }
    let directory = match relative.rsplit_once('/') {
        Some((parent, _)) if !relative.ends_with('/') => parent,
        _ => relative.trim_end_matches('/'),
    };
    if directory.is_empty() {
        ByName::Skipped
    } else {
        ByName::Directory(directory)
    }
}

/// The type of a file system entry, as far as classifying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    File,
    Symlink,
    Directory,
    /// A FIFO, a socket, a device.
    Other,
}

impl From<std::fs::FileType> for FileType {
    fn from(file_type: std::fs::FileType) -> Self {
        if file_type.is_symlink() {
            FileType::Symlink
        } else if file_type.is_file() {
            FileType::File
        } else if file_type.is_dir() {
            FileType::Directory
        } else {
            FileType::Other
        }
    }
}

/// What an [`ByName::Entry`] becomes, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByType<'a> {
    /// Refused without reading it.
    Refused(&'static str),
    /// Shipped as a symlink (never followed).
    Symlink,
    /// `<stem>.j2`: shipped as a template, rendered to `/<stem>`.
    Template { stem: &'a str },
    /// Shipped at `/<relative>`.
    Plain,
    /// A regular file refused for its name (a problem reading it is
    /// reported first).
    RefusedFile(&'static str),
}

/// Classifies an entry of the package tree by its type.
pub fn by_type(relative: &str, file_type: FileType) -> ByType<'_> {
    let template = relative.strip_suffix(".j2");
    match file_type {
        FileType::Symlink if template.is_some() => {
            ByType::Refused("a template must be a regular file, not a symlink")
        }
        FileType::Symlink => ByType::Symlink,
        FileType::Directory => ByType::Refused(
            "a directory git tracks as one entry (a submodule?); packages hold plain files",
        ),
        FileType::Other => ByType::Refused("not a regular file, directory or symlink"),
        FileType::File => match template {
            Some(stem) if stem.is_empty() || stem.ends_with('/') => {
                ByType::RefusedFile("a template needs a file name before .j2")
            }
            Some(stem) => ByType::Template { stem },
            None if relative.starts_with("usr/share/confpack/") => {
                ByType::RefusedFile("/usr/share/confpack is confpack's own; put the file elsewhere")
            }
            None => ByType::Plain,
        },
    }
}

/// What [`plan_files`] found besides the entries it added.
#[derive(Debug, Default)]
pub struct Found {
    /// Templates (valid or not).
    pub templates: usize,
    /// `secrets/` files: (path inside `secrets/`, full path for messages).
    pub secrets: Vec<(String, String)>,
}

/// One package tree being read.
pub struct Tree<'a> {
    pub repo: &'a Path,
    /// `packages/<name>`, repository-relative.
    pub dir: &'a str,
    /// The names in `control/` that confpack reads.
    pub control_files: &'a BTreeSet<String>,
}

impl Tree<'_> {
    /// `relative` (inside the tree) as shown in messages.
    fn shown(&self, relative: &str) -> String {
        self.repo
            .join(format!("{}/{relative}", self.dir))
            .display()
            .to_string()
    }
}

/// Adds every file of the tree (`files`, relative to it) to `planned`.
pub fn plan_files(
    tree: &Tree<'_>,
    files: &[String],
    planned: &mut Planned,
    problems: &mut Problems,
) -> Found {
    let mut found = Found::default();
    let templates_dir = format!("{}/templates", share_dir(&planned.name));
    let jinja = crate::derive::jinja();
    for relative in files {
        let source = tree.shown(relative);
        let read = match by_name(relative, tree.control_files) {
            ByName::Skipped => continue,
            ByName::Refused(message) => {
                problems.at(source, message);
                continue;
            }
            ByName::Secret(inside) => {
                found.secrets.push((inside.to_string(), source));
                continue;
            }
            ByName::Directory(directory) => {
                planned.add_directory(format!("/{directory}"));
                continue;
            }
            ByName::Entry => read_entry(tree, relative, &source, problems),
        };
        let target = format!("/{relative}");
        match read {
            None => {}
            Some(Read::Link(link)) => {
                problems.note(planned.add(target, Entry::Symlink { target: link }, source));
            }
            Some(Read::Plain(file)) => problems.note(planned.add(target, file, source)),
            Some(Read::RefusedFile(message)) => problems.at(source, message),
            Some(Read::Template { stem, data, mode }) => {
                found.templates += 1;
                problems.extend(check_template(&jinja, &source, &data));
                let file = Entry::File { data, mode };
                add_template(
                    planned,
                    problems,
                    &templates_dir,
                    relative,
                    stem,
                    source,
                    file,
                );
            }
        }
    }
    found
}

/// An entry of the tree as read, by its [`ByType`].
enum Read<'a> {
    /// A symlink and its target.
    Link(String),
    Template {
        stem: &'a str,
        data: Vec<u8>,
        mode: u32,
    },
    /// A plain file's entry.
    Plain(Entry),
    /// A file read, but refused for its name.
    RefusedFile(&'static str),
}

/// Looks at `relative` and reads what is shipped of it; `None` when there
/// is nothing to add (a problem, or a tracked file deleted in the work
/// tree under --allow-dirty).
fn read_entry<'a>(
    tree: &Tree<'_>,
    relative: &'a str,
    source: &str,
    problems: &mut Problems,
) -> Option<Read<'a>> {
    let path = tree
        .repo
        .join(tree.dir)
        .join(relative.trim_end_matches('/'));
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            problems.at(source, e.to_string());
            return None;
        }
    };
    let kind = by_type(relative, metadata.file_type().into());
    let failed = |problems: &mut Problems, message: String| {
        problems.at(source, message);
        None
    };
    match kind {
        ByType::Refused(message) => return failed(problems, message.into()),
        ByType::Symlink => {
            return match symlink_target(&path, relative) {
                Ok(link) => Some(Read::Link(link)),
                Err(message) => failed(problems, message),
            };
        }
        ByType::Template { .. } | ByType::Plain | ByType::RefusedFile(_) => {}
    }
    // Never through a symlinked directory on the way either.
    let data = match read_shipped(tree.repo, &format!("{}/{relative}", tree.dir)) {
        Ok(data) => data,
        Err(message) => return failed(problems, message),
    };
    let mode = if metadata.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    Some(match kind {
        ByType::Template { stem } => Read::Template { stem, data, mode },
        ByType::RefusedFile(message) => Read::RefusedFile(message),
        _ => Read::Plain(Entry::File { data, mode }),
    })
}

/// A template (`file`, at `relative` in the tree), shipped under
/// `templates_dir` and rendered to `/<stem>`.
fn add_template(
    planned: &mut Planned,
    problems: &mut Problems,
    templates_dir: &str,
    relative: &str,
    stem: &str,
    source: String,
    file: Entry,
) {
    let rendered = format!("/{stem}");
    if let Some((parent, _)) = stem.rsplit_once('/') {
        planned.add_directory(format!("/{parent}"));
    }
    if let Some(other) = planned.sources.get(&rendered) {
        problems.at(
            source.clone(),
            format!("renders {rendered}, which {other} already provides"),
        );
    }
    planned.sources.insert(rendered.clone(), source.clone());
    planned.rendered.insert(rendered);
    problems.note(planned.add(format!("{templates_dir}/{relative}"), file, source));
}

/// The problem of a template that configure could not render: not UTF-8,
/// or not parsing (at its line when known).
pub fn check_template(
    jinja: &minijinja::Environment<'_>,
    source: &str,
    data: &[u8],
) -> Option<Problem> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Some(problem_at(source, "a template must be UTF-8 text"));
    };
    if let Err((line, message)) = crate::derive::check_template_tags(text) {
        return Some(Problem {
            file: source.to_string(),
            line: Some(line as u64),
            message: format!("the template does not parse: {message}"),
        });
    }
    let error = jinja.template_from_named_str(source, text).err()?;
    Some(Problem {
        file: source.to_string(),
        line: error.line().map(|l| l as u64),
        message: format!(
            "the template does not parse: {}",
            error.detail().unwrap_or(&error.to_string())
        ),
    })
}

/// A path inside the package must be plain: no `.`/`..`, no control
/// characters (md5sums and dpkg's file lists are line based).
pub fn check_path(relative: &str) -> Result<(), String> {
    if relative.contains('\u{FFFD}') {
        return Err("the file name is not valid UTF-8".into());
    }
    if relative.chars().any(char::is_control) {
        return Err("the file name contains a control character (a newline?)".into());
    }
    let trimmed = relative.trim_end_matches('/');
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("the path has an empty, . or .. component".into());
    }
    Ok(())
}

/// A symlink is shipped as it is (never followed while building). A
/// relative target must stay inside the package tree; an absolute one
/// names a path on the installed system.
pub fn symlink_target(path: &Path, relative: &str) -> Result<String, String> {
    let target = std::fs::read_link(path).map_err(|e| e.to_string())?;
    let target = target
        .to_str()
        .ok_or("the symlink target is not valid UTF-8")?
        .to_string();
    if target.is_empty() || target.chars().any(char::is_control) {
        return Err("the symlink target is empty or has control characters".into());
    }
    if target.starts_with('/') {
        return Ok(target);
    }
    let mut depth: Vec<&str> = relative.split('/').collect();
    depth.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            // The guard pops: `..` that finds nothing to climb out of escapes.
            ".." if depth.pop().is_none() => {
                return Err(format!(
                    "the symlink points to {target}, outside the package tree; \
                     point inside it or use an absolute path on the installed system"
                ));
            }
            ".." => {}
            other => depth.push(other),
        }
    }
    Ok(target)
}

/// Files of a package directory without git: relative paths, empty
/// directories with a trailing `/`, never following symlinks.
pub fn walk(dir: &Path) -> Result<Vec<String>, Problem> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let current = dir.join(&relative);
        let mut entries: Vec<_> = std::fs::read_dir(&current)
            .map_err(|e| problem_at(current.display().to_string(), e.to_string()))?
            .filter_map(std::result::Result::ok)
            .collect();
        entries.sort_by_key(|e| e.file_name());
        if entries.is_empty() && !relative.as_os_str().is_empty() {
            out.push(format!("{}/", relative.display()));
        }
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(problem_at(
                    entry.path().display().to_string(),
                    "the file name is not valid UTF-8",
                ));
            };
            let child = relative.join(name);
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                pending.push(child);
            } else {
                out.push(child.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::manifest::Located;
    use crate::deb::{Control, Deb};

    fn control_files() -> BTreeSet<String> {
        ["control.yml", "postinst", "environment.xml"]
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn paths_are_classified_by_name() {
        let table = [
            ("control/control.yml", ByName::Skipped),
            ("control/environment.xml", ByName::Skipped),
            ("control/postinst", ByName::Skipped),
            ("secrets/", ByName::Skipped),
            ("secrets/etc/", ByName::Skipped),
            ("secrets/etc/.keep", ByName::Skipped),
            ("secrets/etc/p/token", ByName::Secret("etc/p/token")),
            ("secrets/etc/p/token.age", ByName::Secret("etc/p/token.age")),
            ("etc/p/", ByName::Directory("etc/p")),
            ("etc/p/.keep", ByName::Directory("etc/p")),
            ("etc/p/.gitkeep", ByName::Directory("etc/p")),
            ("etc/p/app.conf", ByName::Entry),
            ("etc/p/app.conf.j2", ByName::Entry),
            ("usr/share/confpack/x", ByName::Entry),
        ];
        for (relative, expected) in table {
            assert_eq!(by_name(relative, &control_files()), expected, "{relative}");
        }
    }

    #[test]
    fn paths_refused_by_name_say_why() {
        let table = [
            ("control/notes.txt", "not a file confpack uses in control/"),
            ("etc/../x", "the path has an empty, . or .. component"),
            ("etc//x", "the path has an empty, . or .. component"),
            ("secrets/./x", "the path has an empty, . or .. component"),
            ("etc/a\nb", "the file name contains a control character"),
            ("etc/\u{FFFD}", "the file name is not valid UTF-8"),
        ];
        for (relative, reason) in table {
            match by_name(relative, &control_files()) {
                ByName::Refused(message) => assert!(message.starts_with(reason), "{message}"),
                other => panic!("{relative:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn entries_are_classified_by_type() {
        use FileType::*;
        let table = [
            ("etc/a", File, ByType::Plain),
            ("etc/a.j2", File, ByType::Template { stem: "etc/a" }),
            (
                "etc/a.conf.j2",
                File,
                ByType::Template { stem: "etc/a.conf" },
            ),
            (
                ".j2",
                File,
                ByType::RefusedFile("a template needs a file name before .j2"),
            ),
            (
                "etc/.j2",
                File,
                ByType::RefusedFile("a template needs a file name before .j2"),
            ),
            (
                "usr/share/confpack/x",
                File,
                ByType::RefusedFile(
                    "/usr/share/confpack is confpack's own; put the file elsewhere",
                ),
            ),
            ("etc/link", Symlink, ByType::Symlink),
            (
                "etc/link.j2",
                Symlink,
                ByType::Refused("a template must be a regular file, not a symlink"),
            ),
            (
                "vendor/module",
                Directory,
                ByType::Refused(
                    "a directory git tracks as one entry (a submodule?); packages hold plain files",
                ),
            ),
            (
                "etc/fifo",
                Other,
                ByType::Refused("not a regular file, directory or symlink"),
            ),
        ];
        for (relative, file_type, expected) in table {
            assert_eq!(
                by_type(relative, file_type),
                expected,
                "{relative} {file_type:?}"
            );
        }
    }

    #[test]
    fn templates_that_configure_could_not_render_are_refused() {
        let jinja = crate::derive::jinja();
        /// The problem's line (when it matters) and message start.
        type Expected = Option<(Option<u64>, &'static str)>;
        let table: [(&[u8], Expected); 4] = [
            (b"url = {{ answers[\"p/url\"] }}\n", None),
            (b"\xff\xfe", Some((None, "a template must be UTF-8 text"))),
            (
                b"a\n{{ x\n",
                Some((Some(2), "the template does not parse: ")),
            ),
            (
                b"{% if x %}\nunclosed\n",
                Some((None, "the template does not parse: ")),
            ),
        ];
        for (data, expected) in table {
            let found = check_template(&jinja, "t.j2", data);
            match (found, expected) {
                (None, None) => {}
                (Some(problem), Some((line, message))) => {
                    assert_eq!(problem.file, "t.j2");
                    assert!(problem.message.starts_with(message), "{}", problem.message);
                    if line.is_some() {
                        assert_eq!(problem.line, line, "{}", problem.message);
                    }
                }
                (found, _) => panic!("{:?}: {found:?}", String::from_utf8_lossy(data)),
            }
        }
    }

    #[test]
    fn symlinks_may_not_climb_out_of_the_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("../../x", &link).expect("symlink");
        assert!(symlink_target(&link, "etc/link").is_err());
        assert_eq!(
            symlink_target(&link, "etc/a/link").as_deref(),
            Ok("../../x")
        );
        let absolute = dir.path().join("absolute");
        std::os::unix::fs::symlink("/lib/systemd/system/x.service", &absolute).expect("symlink");
        assert!(symlink_target(&absolute, "etc/absolute").is_ok());
    }

    #[test]
    fn paths_with_dots_or_newlines_are_refused() {
        assert!(check_path("etc/x").is_ok());
        assert!(check_path("etc/../x").is_err());
        assert!(check_path("etc/a\nb").is_err());
    }

    #[test]
    fn a_tree_becomes_entries_templates_and_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path();
        let tree_dir = repo.join("packages/p");
        for (relative, text) in [
            ("etc/p/app.conf", "plain\n"),
            ("etc/p/site.conf.j2", "url = {{ x }}\n"),
            ("etc/p/empty/.keep", ""),
            ("secrets/etc/p/token", "secret\n"),
            ("control/control.yml", "version: \"1\"\n"),
        ] {
            let path = tree_dir.join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
        }
        std::os::unix::fs::symlink("app.conf", tree_dir.join("etc/p/link")).expect("symlink");
        let files = walk(&tree_dir).expect("walk");
        let control_files = control_files();
        let tree = Tree {
            repo,
            dir: "packages/p",
            control_files: &control_files,
        };
        let manifest = Located::control_yml("");
        let mut planned = Planned::new("p", false, manifest, Deb::new(Control::default()));
        let mut problems = Problems::default();
        let found = plan_files(&tree, &files, &mut planned, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(found.templates, 1);
        assert_eq!(
            found.secrets,
            [(
                "etc/p/token".to_string(),
                tree_dir.join("secrets/etc/p/token").display().to_string()
            )]
        );
        let entries: Vec<&str> = planned.deb.entries.keys().map(String::as_str).collect();
        assert_eq!(
            entries,
            [
                "/etc/p",
                "/etc/p/app.conf",
                "/etc/p/empty",
                "/etc/p/link",
                "/usr/share/confpack/p/templates/etc/p/site.conf.j2",
            ]
        );
        assert_eq!(
            planned.rendered.iter().collect::<Vec<_>>(),
            ["/etc/p/site.conf"]
        );
        assert_eq!(
            planned.deb.entries["/etc/p/link"],
            Entry::Symlink {
                target: "app.conf".into()
            }
        );
    }
}
