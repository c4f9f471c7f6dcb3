//! `firewall:` — an nftables table of the package, loaded on change and
//! deleted with the package.
//!
//! ```yaml
//! firewall:
//!   - table: webshop          # the nftables table the package owns
//!     family: inet            # default inet (ip, ip6, inet, arp, bridge, netdev)
//!     rules: |                # the table's body, a template rendered with the answers
//!       chain input {
//!         type filter hook input priority 0; policy accept;
//!         tcp dport {{ answers["webshop/port"] }} accept
//!       }
//! ```
//!
//! Each declaration owns one whole table, so removing it is exact: nothing
//! of the node's own ruleset or of another package's table is touched.
//! The table is written to `/etc/nftables.d/<package>-<table>.nft` as
//!
//! ```text
//! table inet webshop
//! delete table inet webshop
//! table inet webshop { … }
//! ```
//!
//! which replaces the table in one transaction whether it exists or not,
//! so the same file serves loading now (`nft -f FILE`) and at boot (the
//! file is included from `/etc/nftables.conf`, which Debian's
//! `nftables.service` loads, through a line confpack manages there as a
//! block: see [`super::blocks`]).
//!
//! Applied: the rendered file is checked with `nft -c -f` first; a syntax
//! error refuses the change with nft's message, and the previous file and
//! the running rules stay as they were. Then the file is put in place and,
//! on a running node (the root is `/`), loaded with `nft -f`. Where nft
//! cannot talk to the kernel (an image build under `--root`, a container
//! without `CAP_NET_ADMIN`) the file is written and checked as far as nft
//! can without the kernel, and loading is left to the next boot, with one
//! line saying so.
//!
//! Undone: on a running node the table is deleted (`nft delete table`),
//! the file is removed unless a person changed it (then kept, with a
//! warning), and the include line leaves `/etc/nftables.conf` (exactly:
//! the rest of that file is byte for byte what it was). Without
//! `/etc/nftables.conf` (nftables not installed) a table is refused: it
//! would silently vanish at the next boot.
//!
//! Drift: the file missing or changed; on a running node, the table not
//! loaded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Context, Id, Kind, Render, Secrets, Undo};
use crate::error::{Error, Result};
use crate::files::{Removal, sha256_hex};

/// Where the tables' files are.
pub const DIRECTORY: &str = "/etc/nftables.d";
/// What Debian's `nftables.service` loads at boot.
pub const CONF: &str = "/etc/nftables.conf";
/// A table's file: only root reads firewall rules (they may quote an
/// answer).
const MODE: u32 = 0o600;

/// Checks a table's rendered body before nft sees it: it must stay inside
/// its table (every `}` closes a `{` of the body, all are closed), and it
/// may not `include` a file (a path in an answer would make nft read it,
/// and quote it in its error). Strings ("…") and comments (# …) are
/// skipped; a line number names where.
pub fn check_body(body: &str) -> std::result::Result<(), String> {
    let mut depth = 0usize;
    let mut word = String::new();
    let mut in_string = false;
    let mut in_comment = false;
    let mut line = 1;
    let end_word = |word: &mut String, line: usize| {
        let found = word.eq_ignore_ascii_case("include");
        word.clear();
        match found {
            true => Err(format!("line {line}: `include` is not allowed")),
            false => Ok(()),
        }
    };
    for c in body.chars() {
        if c == '\n' {
            line += 1;
            in_comment = false;
        }
        if in_comment {
            continue;
        }
        if in_string {
            in_string = c != '"';
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        end_word(&mut word, line)?;
        match c {
            '"' => in_string = true,
            '#' => in_comment = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    format!("line {line}: this `}}` closes the table itself; the rules must stay inside it")
                })?;
            }
            _ => {}
        }
    }
    end_word(&mut word, line)?;
    if in_string {
        return Err("a string (\"…\") is not closed".into());
    }
    if depth > 0 {
        return Err(format!("{depth} `{{` not closed"));
    }
    Ok(())
}

/// One declared table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub table: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    pub rules: String,
}

/// What was applied for a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub table: String,
    pub family: String,
    pub path: PathBuf,
    /// sha256 of the file as written.
    pub sha256: String,
    /// Loaded into the running kernel by confpack.
    pub loaded: bool,
    /// The line in `/etc/nftables.conf` that loads the file at boot.
    pub include: super::blocks::Record,
}

const FAMILIES: &[&str] = &["inet", "ip", "ip6", "arp", "bridge", "netdev"];

fn valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=64).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Table {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Firewall,
            name: self.table.clone(),
        }
    }

    fn family(&self) -> &str {
        self.family.as_deref().unwrap_or("inet")
    }

    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !valid_table_name(&self.table) {
            out.push(format!(
                "table: {:?} is not an nftables table name confpack accepts \
                 (lower case letters, digits, `_`, `-`, starting with a letter)",
                self.table
            ));
        }
        if !FAMILIES.contains(&self.family()) {
            out.push(format!(
                "family: {:?} is not one of {}",
                self.family(),
                FAMILIES.join(", ")
            ));
        }
        if self.rules.trim().is_empty() {
            out.push("rules: empty; give the table's chains and sets".into());
        }
        if self
            .rules
            .lines()
            .any(|line| line.trim_start().starts_with("include"))
        {
            out.push(
                "rules: `include` is not allowed (the table's whole body is declared here)".into(),
            );
        }
        out
    }

    /// The file's path for `package`.
    fn path(&self, package: &str) -> PathBuf {
        Path::new(DIRECTORY).join(format!("{package}-{}.nft", self.table))
    }

    /// The block in [`CONF`] that includes the table's file at boot.
    pub fn include(&self, package: &str) -> super::blocks::Block {
        super::blocks::Block {
            file: CONF.into(),
            name: Some(format!("firewall-{}", self.table)),
            content: format!("include \"{}\"\n", self.path(package).display()),
            comment: None,
            create: false,
        }
    }

    /// Without [`CONF`] (nftables not installed) the table would vanish
    /// at the next boot: refused before anything changes.
    fn require_conf(&self, cx: &Context<'_>) -> Result<()> {
        if crate::files::resolve(cx.root, Path::new(CONF), false)?
            .and_then(|conf| conf.regular_mode().ok().flatten())
            .is_none()
        {
            return Err(Error::Package {
                package: cx.package.to_string(),
                message: format!(
                    "firewall table {}: {CONF} is missing, so the table would not be loaded \
                     at boot; install nftables (add it to the package's depends)",
                    self.table
                ),
            });
        }
        Ok(())
    }

    /// The include line in [`CONF`], once the table's file is in place.
    fn apply_include(
        &self,
        previous: Option<&Record>,
        cx: &mut Context<'_>,
    ) -> Result<super::blocks::Record> {
        let render = |_: &str, source: &str| Ok(source.to_string());
        let mut plain = Context {
            root: cx.root,
            package: cx.package,
            host: &mut *cx.host,
            listener: &mut *cx.listener,
            render: &render,
            changed: cx.changed,
            secrets: cx.secrets,
        };
        self.include(cx.package)
            .apply(previous.map(|p| &p.include), &mut plain)
    }

    fn content(&self, package: &str, body: &str) -> String {
        let (family, table) = (self.family(), &self.table);
        let mut indented = String::new();
        for line in body.lines() {
            if !line.trim().is_empty() {
                indented.push_str("    ");
                indented.push_str(line);
            }
            indented.push('\n');
        }
        format!(
            "# Generated by confpack for package {package} (firewall table {table}); \
             removed with the package.\n\
             table {family} {table}\n\
             delete table {family} {table}\n\
             table {family} {table} {{\n{indented}}}\n"
        )
    }

    /// How its rules are named in messages: `firewall table webshop`.
    pub fn what(&self) -> String {
        format!("firewall table {}", self.table)
    }

    /// The table's file (its path and content): the rules rendered and
    /// checked to stay inside the table.
    pub fn file(
        &self,
        package: &str,
        render: &Render<'_>,
        secrets: &dyn Secrets,
    ) -> Result<(PathBuf, String)> {
        let body = render(&self.what(), &self.rules)?;
        check_body(&body).map_err(|message| Error::Package {
            package: package.to_string(),
            message: secrets.mask(&format!(
                "the rules of table {} as rendered: {message}; nothing was changed",
                self.table
            )),
        })?;
        Ok((self.path(package), self.content(package, &body)))
    }

    /// The mode of its file.
    pub fn mode(&self) -> u32 {
        MODE
    }

    pub fn apply(&self, previous: Option<&Record>, cx: &mut Context<'_>) -> Result<Record> {
        let (path, content) = self.file(cx.package, cx.render, cx.secrets)?;
        self.require_conf(cx)?;
        let sha256 = sha256_hex(content.as_bytes());
        let rooted = resolve(cx.root, &path)?;
        let current = rooted.read()?;
        let current_sha = current.as_deref().map(sha256_hex);
        if current.is_some() && previous.is_none_or(|p| Some(&p.sha256) != current_sha.as_ref()) {
            match previous {
                None => {
                    return Err(Error::UnsafePath {
                        path: rooted.shown().to_path_buf(),
                        reason: "exists and is not this package's; move it away (or drop the \
                                 table from the other package) and run again"
                            .into(),
                    });
                }
                Some(_) if current_sha.as_deref() != Some(sha256.as_str()) => {
                    cx.listener.warning(&format!(
                        "{}: {} was changed by hand; it is replaced by the declared rules \
                         (change the package's control.yml instead)",
                        cx.package,
                        rooted.shown().display()
                    ));
                }
                Some(_) => {}
            }
        }
        let running = running(cx);
        if current_sha.as_deref() == Some(sha256.as_str()) {
            // The file is right; a table a reboot or a person dropped is
            // loaded again.
            let loaded = running
                && (loaded(cx, self.family(), &self.table)? || {
                    load(cx, rooted.shown())?;
                    true
                });
            let include = self.apply_include(previous, cx)?;
            return Ok(self.record(path, sha256, loaded, include));
        }
        // Checked before it replaces anything.
        let candidate = rooted.sibling(".confpack-new")?;
        candidate.write(content.as_bytes(), MODE)?;
        let checked = check(cx, candidate.shown());
        if let Err(e) = checked {
            candidate.remove()?;
            return Err(e);
        }
        candidate.remove()?;
        rooted.write(content.as_bytes(), MODE)?;
        let loaded = if running {
            if let Err(e) = load(cx, rooted.shown()) {
                // Put the previous rules back as they were on disk.
                match &current {
                    Some(old) => rooted.write(old, MODE)?,
                    None => rooted.remove()?,
                }
                return Err(e);
            }
            true
        } else {
            cx.listener.info(&format!(
                "{}: wrote firewall table {} ({}); not loaded now (no running node here), \
                 it is loaded at the next boot",
                cx.package,
                self.table,
                path.display()
            ));
            false
        };
        if loaded {
            cx.listener.info(&format!(
                "{}: loaded firewall table {} {}",
                cx.package,
                self.family(),
                self.table
            ));
        }
        let include = self.apply_include(previous, cx)?;
        Ok(self.record(path, sha256, loaded, include))
    }

    fn record(
        &self,
        path: PathBuf,
        sha256: String,
        loaded: bool,
        include: super::blocks::Record,
    ) -> Record {
        Record {
            table: self.table.clone(),
            family: self.family().to_string(),
            path,
            sha256,
            loaded,
            include,
        }
    }
}

fn resolve(root: &Path, path: &Path) -> Result<crate::files::RootedPath> {
    crate::files::resolve(root, path, true)?.ok_or_else(|| {
        Error::io(
            crate::files::rooted(root, path),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )
    })
}

/// Whether rules are loaded into the kernel here: a node running systemd
/// at `/`.
fn running(cx: &Context<'_>) -> bool {
    cx.host.systemd_running()
}

fn nft_failed(what: &str, ran: &super::Ran) -> Error {
    Error::Package {
        package: String::new(),
        message: format!("nft {what} failed: {}", ran.said()),
    }
}

/// `nft -c -f FILE`: refuses a file nft cannot parse.
fn check(cx: &mut Context<'_>, file: &Path) -> Result<()> {
    let shown = file.display().to_string();
    let ran = cx
        .host
        .run(&["nft", "-c", "-f", &shown])
        .map_err(|e| Error::Package {
            package: cx.package.to_string(),
            message: format!(
                "cannot check the firewall rules ({e}); install nftables (add it to the \
                 package's depends)"
            ),
        })?;
    if ran.success() {
        return Ok(());
    }
    let said = cx.secrets.mask(ran.said());
    if said.contains("Operation not permitted") || said.contains("Permission denied") {
        cx.listener.warning(&format!(
            "{}: nft could not check {shown} against the kernel ({said}); written unchecked",
            cx.package
        ));
        return Ok(());
    }
    Err(Error::Package {
        package: cx.package.to_string(),
        message: format!(
            "the firewall rules in {shown} are refused by nft, so nothing was changed \
             (the running rules stay):\n{said}"
        ),
    })
}

fn load(cx: &mut Context<'_>, file: &Path) -> Result<()> {
    let shown = file.display().to_string();
    let ran = cx.host.run(&["nft", "-f", &shown])?;
    if ran.success() {
        Ok(())
    } else {
        Err(nft_failed(&format!("-f {shown}"), &ran))
    }
}

fn loaded(cx: &mut Context<'_>, family: &str, table: &str) -> Result<bool> {
    Ok(cx
        .host
        .run(&["nft", "list", "table", family, table])?
        .success())
}

impl Record {
    pub fn id(&self) -> Id {
        Id {
            kind: Kind::Firewall,
            name: self.table.clone(),
        }
    }

    pub fn undo(&self, why: Undo, cx: &mut Context<'_>) -> Result<Option<Record>> {
        if running(cx) {
            let ran = cx
                .host
                .run(&["nft", "delete", "table", &self.family, &self.table])?;
            let absent = ran.said().contains("No such file or directory");
            if !ran.success() && !absent {
                return Err(nft_failed(
                    &format!("delete table {} {}", self.family, self.table),
                    &ran,
                ));
            }
            cx.listener.info(&format!(
                "{}: deleted firewall table {} {}",
                cx.package, self.family, self.table
            ));
        }
        let Some(rooted) = crate::files::resolve(cx.root, &self.path, false)? else {
            return Ok(None);
        };
        match rooted.remove_if_written(&self.sha256)? {
            Removal::Removed | Removal::Absent => {}
            Removal::Changed | Removal::NotAFile => cx.listener.warning(&format!(
                "{}: kept {}: changed since confpack wrote it; delete it yourself if it is \
                 no longer needed",
                cx.package,
                rooted.shown().display()
            )),
        }
        self.include.undo(why, cx)?;
        Ok(None)
    }

    pub fn drift(&self, cx: &mut Context<'_>) -> Vec<String> {
        let mut out = Vec::new();
        match crate::files::file_sha256(&crate::files::rooted(cx.root, &self.path)) {
            Ok(sum) if sum == self.sha256 => {}
            Ok(_) => out.push(format!("{} changed", self.path.display())),
            Err(_) => out.push(format!("{} missing", self.path.display())),
        }
        out.extend(
            self.include
                .drift(cx)
                .into_iter()
                .map(|what| format!("{CONF}: {what}")),
        );
        if running(cx) && matches!(loaded(cx, &self.family, &self.table), Ok(false)) {
            out.push(format!("table {} {} not loaded", self.family, self.table));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::host::FakeHost;
    use super::super::{Context, Declarations, Record as AnyRecord, converge, undo_all};
    use super::*;
    use crate::RecordingListener;

    fn table(rules: &str) -> Table {
        Table {
            table: "webshop".into(),
            family: None,
            rules: rules.into(),
        }
    }

    fn declarations(rules: &str) -> Declarations {
        Declarations {
            firewall: vec![table(rules)],
            ..Declarations::default()
        }
    }

    fn render(_name: &str, source: &str) -> Result<String> {
        Ok(source.replace("{{ port }}", "8080"))
    }

    struct Node {
        dir: tempfile::TempDir,
        host: FakeHost,
        listener: RecordingListener,
    }

    impl Node {
        fn new(running: bool) -> Node {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("etc")).expect("etc");
            std::fs::write(dir.path().join("etc/nftables.conf"), DEBIAN_CONF).expect("conf");
            let mut host = FakeHost::new(dir.path());
            host.systemd = running;
            Node {
                dir,
                host,
                listener: RecordingListener::default(),
            }
        }

        fn converge(
            &mut self,
            declared: &Declarations,
            previous: Vec<AnyRecord>,
        ) -> super::super::Converged {
            let root = self.dir.path().to_path_buf();
            let mut cx = Context {
                root: &root,
                package: "web",
                host: &mut self.host,
                listener: &mut self.listener,
                render: &render,
                changed: &[],
                secrets: &crate::declared::NoSecrets,
            };
            converge(declared, previous, &mut cx)
        }

        fn undo(&mut self, records: Vec<AnyRecord>) -> Vec<AnyRecord> {
            let root = self.dir.path().to_path_buf();
            undo_all(records, Undo::Remove, &mut self.checking(&root)).0
        }

        /// A context that renders nothing (undo, drift).
        fn checking<'a>(&'a mut self, root: &'a Path) -> Context<'a> {
            Context {
                root,
                package: "web",
                host: &mut self.host,
                listener: &mut self.listener,
                render: &super::super::no_render,
                changed: &[],
                secrets: &crate::declared::NoSecrets,
            }
        }

        fn file(&self) -> PathBuf {
            self.dir.path().join("etc/nftables.d/web-webshop.nft")
        }

        fn ran(&mut self) -> Vec<String> {
            let root = self.dir.path().display().to_string();
            std::mem::take(&mut self.host.ran)
                .into_iter()
                .map(|line| line.replace(&root, "ROOT"))
                .collect()
        }
    }

    /// Debian 12's /etc/nftables.conf, as the nftables package ships it.
    const DEBIAN_CONF: &str = "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n}\n";

    fn conf(node: &Node) -> String {
        std::fs::read_to_string(node.dir.path().join("etc/nftables.conf")).expect("conf")
    }

    const RULES: &str = "chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport {{ port }} accept\n}\n";

    #[test]
    fn a_table_is_checked_written_and_loaded_then_deleted_with_the_package() {
        let mut node = Node::new(true);
        let done = node.converge(&declarations(RULES), Vec::new());
        assert!(done.failure.is_none(), "{:?}", done.failure);
        assert_eq!(
            node.ran(),
            [
                "nft -c -f ROOT/etc/nftables.d/web-webshop.nft.confpack-new",
                "nft -f ROOT/etc/nftables.d/web-webshop.nft",
            ]
        );
        let text = std::fs::read_to_string(node.file()).expect("file");
        assert!(
            text.contains(
                "table inet webshop\ndelete table inet webshop\ntable inet webshop {\n    chain input {\n"
            ),
            "{text}"
        );
        assert!(text.contains("      tcp dport 8080 accept\n"), "{text}");
        assert!(
            !node
                .dir
                .path()
                .join("etc/nftables.d/web-webshop.nft.confpack-new")
                .exists()
        );

        assert_eq!(
            conf(&node),
            format!(
                "{DEBIAN_CONF}# BEGIN confpack web firewall-webshop\n\
                 include \"/etc/nftables.d/web-webshop.nft\"\n\
                 # END confpack web firewall-webshop\n"
            )
        );

        // Again: nothing written, only whether the table is loaded.
        let again = node.converge(&declarations(RULES), done.records.clone());
        assert!(again.applied.is_empty());
        assert_eq!(node.ran(), ["nft list table inet webshop"]);

        let kept = node.undo(again.records);
        assert!(kept.is_empty());
        assert_eq!(node.ran(), ["nft delete table inet webshop"]);
        assert!(!node.file().exists());
        assert_eq!(conf(&node), DEBIAN_CONF, "byte for byte");
    }

    #[test]
    fn without_nftables_a_table_is_refused_before_anything_changes() {
        let mut node = Node::new(true);
        std::fs::remove_file(node.dir.path().join("etc/nftables.conf")).expect("rm");
        let refused = node.converge(&declarations(RULES), Vec::new());
        let message = refused.failure.expect("refused").to_string();
        assert!(message.contains("install nftables"), "{message}");
        assert!(node.ran().is_empty());
        assert!(!node.file().exists());
    }

    #[test]
    fn a_syntax_error_refuses_the_change_and_keeps_the_running_rules() {
        let mut node = Node::new(true);
        let done = node.converge(&declarations(RULES), Vec::new());
        let before = std::fs::read(node.file()).expect("file");
        node.ran();
        node.host
            .answer("nft -c", 1, "Error: syntax error, unexpected junk");
        let refused = node.converge(&declarations("chain input { junk }\n"), done.records);
        let message = refused.failure.expect("refused").to_string();
        assert!(
            message.contains("refused by nft") && message.contains("unexpected junk"),
            "{message}"
        );
        assert_eq!(std::fs::read(node.file()).expect("file"), before);
        assert_eq!(refused.records.len(), 1, "the loaded table stays recorded");
        let ran = node.ran();
        assert!(ran.iter().all(|c| !c.starts_with("nft -f")), "{ran:?}");
        assert!(
            !node
                .dir
                .path()
                .join("etc/nftables.d/web-webshop.nft.confpack-new")
                .exists()
        );
    }

    #[test]
    fn without_a_running_node_the_file_waits_for_the_next_boot() {
        let mut node = Node::new(false);
        let done = node.converge(&declarations(RULES), Vec::new());
        assert!(done.failure.is_none());
        assert_eq!(
            node.ran(),
            ["nft -c -f ROOT/etc/nftables.d/web-webshop.nft.confpack-new"]
        );
        assert!(node.file().exists());
        assert!(
            node.listener.infos.iter().any(|i| i.contains("next boot")),
            "{:?}",
            node.listener.infos
        );
        let kept = node.undo(done.records);
        assert!(kept.is_empty());
        assert!(node.ran().is_empty(), "no kernel to delete from");
        assert!(!node.file().exists());
    }

    #[test]
    fn a_file_of_someone_else_is_refused_and_a_changed_one_kept_on_removal() {
        let mut node = Node::new(true);
        std::fs::create_dir_all(node.dir.path().join("etc/nftables.d")).expect("mkdir");
        std::fs::write(node.file(), "table inet webshop {}\n").expect("write");
        let refused = node.converge(&declarations(RULES), Vec::new());
        assert!(
            refused
                .failure
                .expect("refused")
                .to_string()
                .contains("not this package's")
        );
        assert_eq!(
            conf(&node),
            DEBIAN_CONF,
            "nothing added for a refused table"
        );
        std::fs::remove_file(node.file()).expect("rm");
        let done = node.converge(&declarations(RULES), Vec::new());
        std::fs::write(node.file(), "# mine\n").expect("edit");
        node.undo(done.records);
        assert!(node.file().exists());
        assert!(
            node.listener
                .warnings
                .iter()
                .any(|w| w.contains("changed since")),
            "{:?}",
            node.listener.warnings
        );
    }

    #[test]
    fn drift_names_a_changed_file_and_an_unloaded_table() {
        let mut node = Node::new(true);
        let done = node.converge(&declarations(RULES), Vec::new());
        let AnyRecord::Firewall(record) = &done.records[0] else {
            panic!("a firewall record");
        };
        let root = node.dir.path().to_path_buf();
        let drift = |node: &mut Node| record.drift(&mut node.checking(&root));
        assert!(drift(&mut node).is_empty());
        std::fs::write(node.file(), "# mine\n").expect("edit");
        node.host
            .answer("nft list", 1, "Error: No such file or directory");
        assert_eq!(
            drift(&mut node),
            [
                "/etc/nftables.d/web-webshop.nft changed",
                "table inet webshop not loaded"
            ]
        );
    }

    #[test]
    fn rules_that_leave_their_table_or_include_a_file_are_refused_as_rendered() {
        for (body, expected) in [
            (
                "chain x { }\n}\nflush ruleset\ntable inet evil {\n",
                "line 2: this `}` closes the table",
            ),
            ("chain x {\n", "1 `{` not closed"),
            (
                "chain x { }; include \"/etc/shadow\"",
                "line 1: `include` is not allowed",
            ),
            ("chain x { comment \"}\" }", ""),
            ("chain x { } # } include\n", ""),
            ("chain x { comment \"open }", "not closed"),
        ] {
            let found = check_body(body);
            match expected {
                "" => assert_eq!(found, Ok(()), "{body:?}"),
                text => assert!(
                    found.as_ref().is_err_and(|m| m.contains(text)),
                    "{body:?}: {found:?}"
                ),
            }
        }
        // An answer rendered into the rules is checked too, and nothing
        // reaches nft.
        let mut node = Node::new(true);
        let refused = node.converge(
            &declarations("chain x { }\n}\ntable inet y {{ port }} {\n"),
            Vec::new(),
        );
        let message = refused.failure.expect("refused").to_string();
        assert!(message.contains("closes the table itself"), "{message}");
        assert!(node.ran().is_empty());
    }

    #[test]
    fn checks_refuse_bad_names_families_and_includes() {
        let bad = Table {
            table: "Web Shop".into(),
            family: Some("ipx".into()),
            rules: "include \"/etc/shadow\"\n".into(),
        };
        let problems = bad.check();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(table(RULES).check().is_empty());
    }
}
