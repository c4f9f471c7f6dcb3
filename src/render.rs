//! Renders a package's minijinja templates with the answers and writes the
//! results atomically.
//!
//! All templates are rendered in memory first: one that fails (a syntax
//! error, an undefined answer — undefined is strict, and the error names
//! it with the template's file and line) stops the run before any file is
//! touched. A file whose content and mode are already right is
//! not rewritten, so a no-op configure changes nothing on disk. A file
//! whose template read a secret is written 0600.

use std::collections::BTreeSet;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::value::Value;

use crate::derive::{Answers, OUTPUT_LIMIT};
use crate::error::{Error, Result};
use crate::files::{Removal, sha256_hex};
use crate::package::rooted;
use crate::store::{RenderedFile, SavedEdit};

/// One rendered template, not yet written.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub file: RenderedFile,
    pub content: Vec<u8>,
    pub mode: u32,
    /// Answers the template read.
    pub reads: BTreeSet<String>,
    /// The content carries a secret (it read one, or it is a decrypted
    /// file): never shown, not even in a diff.
    pub secret: bool,
}

impl Rendered {
    /// A file to write at `path` (system path), made from `template`.
    pub fn new(
        path: PathBuf,
        template: PathBuf,
        content: Vec<u8>,
        mode: u32,
        reads: BTreeSet<String>,
    ) -> Rendered {
        Rendered {
            file: RenderedFile {
                path,
                template,
                sha256: sha256_hex(&content),
                diverted: false,
            },
            content,
            mode,
            reads,
            secret: false,
        }
    }
}

/// A rendered file a person changed since confpack wrote it: its current
/// content's sha256 is not the recorded one.
#[derive(Debug, Clone)]
pub struct LocalEdit {
    /// The system path (`/etc/webshop/app.conf`).
    pub path: PathBuf,
    /// `<root>/<path>`, for messages.
    pub shown: PathBuf,
    /// The person's version.
    pub mine: Vec<u8>,
    /// The new rendering.
    pub new: Vec<u8>,
    /// Either version may hold a secret: no diff is shown.
    pub secret: bool,
}

impl LocalEdit {
    /// Where the person's version is saved when the new rendering
    /// replaces it: `<path>.confpack-old`.
    pub fn saved_as(&self) -> PathBuf {
        crate::files::old_path(&self.shown)
    }

    /// The unified diff from the person's version to the new rendering.
    /// Never call it for a secret (see [`LocalEdit::secret`]).
    pub fn diff(&self) -> String {
        let mine = String::from_utf8_lossy(&self.mine);
        let new = String::from_utf8_lossy(&self.new);
        let shown = self.shown.display();
        similar::TextDiff::from_lines(mine.as_ref(), new.as_ref())
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("{shown} (yours)"),
                &format!("{shown} (new rendering)"),
            )
            .to_string()
    }
}

/// What becomes of a [`LocalEdit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditChoice {
    /// Leave the person's version; the new rendering is not applied.
    KeepMine,
    /// Write the new rendering; the person's version is saved beside it
    /// as `<path>.confpack-old`.
    TakeNew,
}

/// What [`write_changed`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    /// Target paths written.
    pub written: Vec<PathBuf>,
    /// Locally edited files left as the person wrote them.
    pub kept: Vec<PathBuf>,
    /// Locally edited files replaced; the person's version saved as
    /// `<path>.confpack-old`.
    pub saved: Vec<SavedEdit>,
}

/// How [`write_changed`] settles a local edit: `keep` lists the paths the
/// package keeps (control.yml `keep-local-edits:`); any other edit is
/// `ask`ed (a person on a terminal), `None` meaning nobody can answer, so
/// the new rendering replaces it.
pub struct EditPolicy<'a> {
    pub keep: &'a [String],
    pub ask: &'a mut EditQuestion<'a>,
}

/// Asks a person about a local edit; `None`: nobody can answer.
pub type EditQuestion<'a> = dyn FnMut(&LocalEdit) -> Result<Option<EditChoice>> + 'a;

impl EditPolicy<'_> {
    fn decide(&mut self, edit: &LocalEdit) -> Result<(EditChoice, &'static str)> {
        if edit
            .path
            .to_str()
            .is_some_and(|p| self.keep.iter().any(|k| k == p))
        {
            return Ok((EditChoice::KeepMine, "the package keeps local edits of it"));
        }
        Ok(match (self.ask)(edit)? {
            Some(choice) => (choice, "as you chose"),
            None => (EditChoice::TakeNew, "nobody could be asked"),
        })
    }
}

/// The mode of a rendered file, from `current` (an existing file's mode,
/// else the shipped template's, which is the package's `modes:` when it
/// declares one). A file rendered from a secret is never readable by
/// others: without a declared mode it is 0600; a declared mode keeps its
/// owner and group bits (`0640`: the file's group may read it) and loses
/// the others' bits and any special bits.
pub fn file_mode(current: u32, declared: bool, secret: bool) -> u32 {
    match (secret, declared) {
        (false, _) => current,
        (true, true) => (current & 0o770) | 0o600,
        (true, false) => (current & 0o700) | 0o600,
    }
}

/// The default limit on the size of one rendered file: 64 MiB.
pub const DEFAULT_MAX_RENDER_BYTES: usize = 64 * 1024 * 1024;

/// Collects rendered output, refusing more than `limit` bytes: the
/// render stops at the first write past it, so a template loop cannot
/// fill the memory (minijinja's fuel bounds time, not output).
struct Bounded {
    out: Vec<u8>,
    /// Bytes written, shared with the formatter (see
    /// [`crate::derive::jinja_with_output`]).
    written: Arc<AtomicUsize>,
    limit: usize,
    /// The text whose write passed the limit (template text, when the
    /// formatter did not catch it first).
    refused: Option<String>,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len().saturating_add(buf.len()) > self.limit {
            self.refused = Some(String::from_utf8_lossy(buf).into_owned());
            return Err(std::io::Error::other(crate::derive::OUTPUT_LIMIT));
        }
        self.out.extend_from_slice(buf);
        self.written.store(self.out.len(), Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What [`apply`] changed on disk.
#[derive(Debug, Default)]
pub struct Applied {
    pub written: Vec<PathBuf>,
    /// Rendered earlier, template gone: removed.
    pub removed: Vec<PathBuf>,
}

/// A package's rendering stage: renders its templates with `known` (its
/// `decrypted` secret files join them), diverts other packages' files
/// aside, settles local edits (`ask`ing a person, see [`EditPolicy`]),
/// writes what changed, removes what a dropped template rendered, and
/// records the files (and any person's version it saved) in the store.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    root: &Path,
    package: &crate::package::Package,
    store: &crate::store::Store,
    known: &std::collections::BTreeMap<String, crate::derive::KnownAnswer>,
    scope: &crate::derive::values::Bindings,
    max_bytes: usize,
    (decrypted, ask): (Vec<Rendered>, &mut EditQuestion<'_>),
    listener: &mut dyn crate::Listener,
) -> Result<Applied> {
    let mut rendered = render_package(root, package, known, scope, max_bytes)?;
    rendered.extend(decrypted);
    let previous = store.files(&package.name)?;
    // A file another package owns is diverted aside before the first write.
    for item in rendered.iter_mut() {
        item.file.diverted = match previous.iter().find(|p| p.path == item.file.path) {
            Some(earlier) => earlier.diverted,
            None => crate::divert::divert_if_foreign(root, &package.name, &item.file.path)?,
        };
    }
    let mut policy = EditPolicy {
        keep: &package.config.keep_local_edits,
        ask,
    };
    let written = write_changed(root, &rendered, &previous, &mut policy, listener)?;
    let removed = remove_dropped(root, &package.name, &previous, &rendered)?;
    for path in &written.written {
        listener.info(&format!("wrote {}", path.display()));
    }
    for path in &removed {
        listener.info(&format!(
            "removed {} (its template is gone)",
            path.display()
        ));
    }
    record(store, &package.name, &rendered, &previous, &written)?;
    Ok(Applied {
        written: written.written,
        removed,
    })
}

/// A package's templates rendered in memory with `known` answers in
/// `scope` (configure writes them; `confpack plan` shows them).
pub fn render_package(
    root: &Path,
    package: &crate::package::Package,
    known: &std::collections::BTreeMap<String, crate::derive::KnownAnswer>,
    scope: &crate::derive::values::Bindings,
    max_bytes: usize,
) -> Result<Vec<Rendered>> {
    let answers = Answers::new(known.clone(), Vec::new());
    let context =
        crate::derive::context(&answers, scope.environment.clone(), scope.machine.clone());
    render_all(
        root,
        &package.templates_dir(),
        &package.config.modes,
        &answers,
        &context,
        max_bytes,
    )
}

/// Remembers what was rendered, so removal can delete it. A kept local
/// edit stays recorded as what confpack last wrote, so it is still known
/// as an edit at the next run and at removal.
fn record(
    store: &crate::store::Store,
    package: &str,
    rendered: &[Rendered],
    previous: &[RenderedFile],
    written: &Written,
) -> Result<()> {
    let files: Vec<_> = rendered
        .iter()
        .map(|r| match previous.iter().find(|p| p.path == r.file.path) {
            Some(earlier) if written.kept.contains(&r.file.path) => earlier.clone(),
            _ => r.file.clone(),
        })
        .collect();
    let mut batch = crate::store::Batch::new();
    if previous != files {
        batch.set_files(package, &files)?;
    }
    if !written.saved.is_empty() {
        let mut saved = store.saved_edits(package)?;
        saved.retain(|s| !written.saved.iter().any(|new| new.path == s.path));
        saved.extend(written.saved.iter().cloned());
        batch.set_saved_edits(package, &saved)?;
    }
    store.commit(batch)
}

/// Renders every template of `templates_dir` in memory; a file larger
/// than `max_bytes` is an error naming the template and the line that
/// passed the limit.
pub fn render_all(
    root: &Path,
    templates_dir: &Path,
    declared_modes: &std::collections::BTreeMap<String, String>,
    answers: &Arc<Answers>,
    context: &Value,
    max_bytes: usize,
) -> Result<Vec<Rendered>> {
    let written = Arc::new(AtomicUsize::new(0));
    let jinja = crate::derive::jinja_with_output(Some((written.clone(), max_bytes)));
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for (relative, target) in crate::package::list_templates(templates_dir)? {
        let source_path = templates_dir.join(&relative);
        let source =
            std::fs::read_to_string(&source_path).map_err(|e| Error::io(&source_path, e))?;
        if let Err((line, message)) = crate::derive::check_template_tags(&source) {
            failures.push(format!("{}:{line}: {message}", source_path.display()));
            continue;
        }
        answers.take_reads();
        answers.take_missing();
        written.store(0, Ordering::Relaxed);
        let mut output = Bounded {
            out: Vec::new(),
            written: written.clone(),
            limit: max_bytes,
            refused: None,
        };
        let rendered = jinja
            .template_from_named_str(&source_path.display().to_string(), &source)
            .and_then(|template| {
                template
                    .render_captured_to(context.clone(), &mut output)
                    .map(drop)
            });
        let reads = answers.take_reads();
        let missing = answers.take_missing();
        match rendered {
            Ok(()) => {
                let content = output.out;
                let secret = answers.any_secret(&reads);
                let template_mode = std::fs::metadata(&source_path)
                    .map(|m| m.permissions().mode() & 0o7777)
                    .unwrap_or(0o644);
                let mode = crate::files::existing_mode(root, &target).unwrap_or(template_mode);
                let declared = target
                    .to_str()
                    .is_some_and(|t| declared_modes.contains_key(t));
                let mode = file_mode(mode, declared, secret);
                let mut item = Rendered::new(target, relative, content, mode, reads);
                item.secret = secret;
                out.push(item);
            }
            Err(error) if output.refused.is_some() || error.detail() == Some(OUTPUT_LIMIT) => {
                // Text of the template itself passed the limit: its line.
                let line = error.line().or_else(|| {
                    let text = output.refused.as_deref().filter(|t| !t.is_empty())?;
                    let at = source.find(text)?;
                    Some(source[..at].matches('\n').count() + 1)
                });
                failures.push(format!(
                    "{}{}: the rendered file passes the limit of {max_bytes} bytes; \
                     raise it with `configure --max-render-size BYTES` if it is meant",
                    source_path.display(),
                    line.map(|l| format!(":{l}")).unwrap_or_default(),
                ));
            }
            Err(error) => failures.push(format!(
                "{}{}: {}",
                source_path.display(),
                error.line().map(|l| format!(":{l}")).unwrap_or_default(),
                // An error must never show a secret value.
                answers.mask_secrets(&crate::derive::explain(&error, &source, missing.as_deref()))
            )),
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(Error::Template {
            path: templates_dir.to_path_buf(),
            message: format!("nothing was written:\n{}", failures.join("\n")),
        })
    }
}

/// The secret answers among `known`, for declarations' templates.
pub struct KnownSecrets<'a>(pub &'a std::collections::BTreeMap<String, crate::derive::KnownAnswer>);

impl crate::declared::Secrets for KnownSecrets<'_> {
    /// Every secret value replaced by `***` (the longest first, so a
    /// secret containing another is masked whole).
    fn mask(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = self
            .0
            .values()
            .filter(|answer| answer.secret && !answer.value.is_empty())
            .map(|answer| answer.value.as_str())
            .collect();
        secrets.sort_by_key(|value| std::cmp::Reverse(value.len()));
        let mut masked = text.to_string();
        for secret in secrets {
            masked = masked.replace(secret, crate::output::MASK);
        }
        masked
    }

    /// What the template reads (found as [`crate::questions`] does): a
    /// secret key, or any key when it reads them dynamically and a secret
    /// exists.
    fn read_by(&self, source: &str) -> bool {
        let secret = |key: &str| self.0.get(key).is_some_and(|answer| answer.secret);
        match crate::questions::template_reads(source) {
            crate::questions::Reads::Keys(keys) => keys.iter().any(|key| secret(key)),
            crate::questions::Reads::Any => self.0.values().any(|answer| answer.secret),
        }
    }
}

/// Renders one template text (a declaration's managed block or rule
/// file) with `known` answers in `scope`, like a template file: strict
/// undefined, output bounded by `max_bytes`, secrets masked in errors.
/// `name` says where the text comes from in messages.
pub fn render_text(
    name: &str,
    source: &str,
    known: &std::collections::BTreeMap<String, crate::derive::KnownAnswer>,
    scope: &crate::derive::values::Bindings,
    max_bytes: usize,
) -> Result<String> {
    let failed = |message: String| Error::Template {
        path: PathBuf::from(name),
        message,
    };
    crate::derive::check_template_tags(source)
        .map_err(|(line, message)| failed(format!("line {line}: {message}")))?;
    let answers = Answers::new(known.clone(), Vec::new());
    let context =
        crate::derive::context(&answers, scope.environment.clone(), scope.machine.clone());
    let written = Arc::new(AtomicUsize::new(0));
    let jinja = crate::derive::jinja_with_output(Some((written.clone(), max_bytes)));
    let mut output = Bounded {
        out: Vec::new(),
        written,
        limit: max_bytes,
        refused: None,
    };
    let rendered = jinja
        .template_from_named_str(name, source)
        .and_then(|template| template.render_captured_to(context, &mut output).map(drop));
    let missing = answers.take_missing();
    match rendered {
        Ok(()) => String::from_utf8(output.out)
            .map_err(|_| failed("the rendered text is not UTF-8".into())),
        Err(_) if output.refused.is_some() => Err(failed(format!(
            "the rendered text passes the limit of {max_bytes} bytes"
        ))),
        Err(error) => Err(failed(format!(
            "{}{}",
            error
                .line()
                .map(|l| format!("line {l}: "))
                .unwrap_or_default(),
            answers.mask_secrets(&crate::derive::explain(&error, source, missing.as_deref()))
        ))),
    }
}

/// Writes the rendered files that differ from what is on disk. Each path
/// is resolved under `root` without following a link out of it, and a
/// symlink (or any non-regular file) at a target is refused, never written
/// through (see [`crate::files::RootedPath`]). Temp files a killed run
/// left beside the targets are removed first.
///
/// A file whose content is neither what confpack recorded in `previous`
/// nor the new rendering was edited by a person: `policy` decides whether
/// it is kept (the rendering not applied) or replaced, its version then
/// saved as `<path>.confpack-old` with the same mode and owner; either way
/// one warning names it. Never silently lost. Every such decision is made
/// before the first file is written.
pub fn write_changed(
    root: &Path,
    rendered: &[Rendered],
    previous: &[RenderedFile],
    policy: &mut EditPolicy<'_>,
    listener: &mut dyn crate::Listener,
) -> Result<Written> {
    let started = crate::files::run_started();
    let mut cleaned: BTreeSet<&Path> = BTreeSet::new();
    // Every edit is settled before the first write: a person who quits
    // at a question leaves every file as it was.
    let mut planned = Vec::new();
    for item in rendered {
        let target = crate::files::resolve(root, &item.file.path, true)?.ok_or_else(|| {
            Error::io(
                rooted(root, &item.file.path),
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
        if let Some(parent) = item.file.path.parent()
            && cleaned.insert(parent)
        {
            target.remove_stale_temp_files(started);
        }
        let current = target.read()?;
        let unchanged = target.regular_mode()? == Some(item.mode)
            && current.as_ref().is_some_and(|c| *c == item.content);
        if unchanged {
            continue;
        }
        let recorded = previous.iter().find(|p| p.path == item.file.path);
        let decision = match (recorded, current) {
            (Some(recorded), Some(mine))
                if mine != item.content && sha256_hex(&mine) != recorded.sha256 =>
            {
                let edit = LocalEdit {
                    path: item.file.path.clone(),
                    shown: target.shown().to_path_buf(),
                    mine,
                    new: item.content.clone(),
                    secret: item.secret,
                };
                Some(policy.decide(&edit)?)
            }
            _ => None,
        };
        planned.push((item, target, decision));
    }
    let mut out = Written::default();
    for (item, target, decision) in planned {
        let shown = target.shown().display();
        match decision {
            Some((EditChoice::KeepMine, why)) => {
                listener.warning(&format!(
                    "{shown} was edited since confpack wrote it: kept as it is ({why}); \
                     the new rendering was not applied",
                ));
                out.kept.push(item.file.path.clone());
                continue;
            }
            Some((EditChoice::TakeNew, why)) => {
                let saved = target.save_old()?;
                listener.warning(&format!(
                    "{shown} was edited since confpack wrote it: replaced by the new rendering \
                     ({why}); your version is saved as {}",
                    saved
                        .as_ref()
                        .map_or(target.shown(), |s| &s.shown)
                        .display()
                ));
                if let Some(saved) = saved {
                    out.saved.push(SavedEdit::of(&item.file.path, saved));
                }
            }
            None => {}
        }
        target.write(&item.content, item.mode)?;
        out.written.push(item.file.path.clone());
    }
    Ok(out)
}

/// Removes files rendered earlier whose template is gone; returns them.
/// Only what confpack wrote (the recorded sha256): a new package version
/// may ship a plain file at the same path (dpkg has just unpacked it).
pub fn remove_dropped(
    root: &Path,
    package: &str,
    previous: &[RenderedFile],
    current: &[Rendered],
) -> Result<Vec<PathBuf>> {
    let kept: BTreeSet<&Path> = current.iter().map(|r| r.file.path.as_path()).collect();
    let mut removed = Vec::new();
    for file in previous {
        if kept.contains(file.path.as_path()) {
            continue;
        }
        let removal = match crate::files::resolve(root, &file.path, false)? {
            Some(target) => target.remove_if_written(&file.sha256)?,
            None => Removal::Absent,
        };
        match removal {
            Removal::Removed => removed.push(file.path.clone()),
            Removal::Absent => {}
            Removal::Changed | Removal::NotAFile => continue,
        }
        if file.diverted {
            crate::divert::undivert(root, package, &file.path)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_secrets_are_masked_and_found_in_what_a_template_reads() {
        use crate::declared::Secrets;
        use crate::derive::KnownAnswer;
        use crate::env::model::QuestionType;
        let answer = |value: &str, secret: bool| KnownAnswer {
            question_type: QuestionType::String,
            secret,
            value: value.into(),
        };
        let known = std::collections::BTreeMap::from([
            ("w/password".to_string(), answer("x", true)),
            ("w/host".to_string(), answer("example.com", false)),
        ]);
        let secrets = super::KnownSecrets(&known);
        assert!(secrets.read_by("{{ answers[\"w/password\"] }}"));
        assert!(
            !secrets.read_by("{{ answers[\"w/host\"] }} x"),
            "a short secret is no match"
        );
        assert!(
            secrets.read_by("{{ answers[name] }}"),
            "dynamic reads may read it"
        );
        assert_eq!(secrets.mask("pw=x"), format!("pw={}", crate::output::MASK));
    }

    use super::{LocalEdit, file_mode};

    #[test]
    fn a_local_edit_diffs_from_the_persons_version_to_the_new_rendering() {
        let edit = LocalEdit {
            path: "/etc/a.conf".into(),
            shown: "/root/etc/a.conf".into(),
            mine: b"one\ntwo = mine\nthree\n".to_vec(),
            new: b"one\ntwo = 2\nthree\n".to_vec(),
            secret: false,
        };
        assert_eq!(
            edit.diff(),
            "--- /root/etc/a.conf (yours)\n+++ /root/etc/a.conf (new rendering)\n\
             @@ -1,3 +1,3 @@\n one\n-two = mine\n+two = 2\n three\n"
        );
        assert_eq!(
            edit.saved_as(),
            std::path::Path::new("/root/etc/a.conf.confpack-old")
        );
    }

    #[test]
    fn a_file_rendered_from_a_secret_is_never_readable_by_others() {
        // (current, declared, secret) → mode
        for (current, declared, secret, expected) in [
            (0o644, false, false, 0o644),
            (0o640, true, false, 0o640),
            (0o644, false, true, 0o600),
            (0o640, false, true, 0o600),
            (0o640, true, true, 0o640),
            (0o644, true, true, 0o640),
            (0o4755, true, true, 0o750),
            (0o400, false, true, 0o600),
        ] {
            assert_eq!(
                file_mode(current, declared, secret),
                expected,
                "{current:o} declared={declared} secret={secret}"
            );
        }
    }
}
