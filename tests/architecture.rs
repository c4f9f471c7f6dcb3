//! The shape of the code, checked so it cannot drift back (issue 13): one
//! stage per module, orchestration short, no import cycle between the
//! crate's top-level modules, and the node side (runtime, publish, deb,
//! remove) independent of the builder and of configure. Read with syn from
//! the sources; test code (`#[cfg(test)]`) does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The longest a function may be; a flat dispatch `match` may be longer.
const MOST_LINES: usize = 150;
/// Flat dispatch functions (one arm per subcommand, key or widget).
const DISPATCH: &[&str] = &["app::run"];

/// Whether `name` is one of the crate's top-level modules (not an item
/// lib.rs defines, like `crate::Listener`).
fn is_module(name: &str) -> bool {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    src.join(format!("{name}.rs")).is_file() || src.join(name).is_dir() || alias(name) != name
}

fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `src/runtime/apt.rs` → ("runtime", "runtime::apt").
fn module_of(path: &Path) -> (String, String) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = path.strip_prefix(&src).expect("under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    (parts[0].clone(), parts.join("::"))
}

fn is_test_only(attributes: &[syn::Attribute]) -> bool {
    attributes.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

#[derive(Default)]
struct Reader {
    /// (function, lines)
    functions: Vec<(String, usize)>,
    /// Top-level modules named as `crate::X`.
    uses: BTreeSet<String>,
}

impl Reader {
    fn use_tree(&mut self, tree: &syn::UseTree, after_crate: bool) {
        match tree {
            syn::UseTree::Path(path) if !after_crate && path.ident == "crate" => {
                self.use_tree(&path.tree, true);
            }
            syn::UseTree::Path(_) if !after_crate => {}
            syn::UseTree::Path(path) => {
                self.uses.insert(path.ident.to_string());
            }
            syn::UseTree::Name(name) if after_crate => {
                self.uses.insert(name.ident.to_string());
            }
            syn::UseTree::Rename(rename) if after_crate => {
                self.uses.insert(rename.ident.to_string());
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, after_crate);
                }
            }
            _ => {}
        }
    }

    fn tokens(&mut self, stream: proc_macro2::TokenStream) {
        use proc_macro2::TokenTree;
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(ident) if ident == "crate" => {
                    if let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                        (tokens.get(i + 1), tokens.get(i + 2))
                        && a.as_char() == ':'
                        && b.as_char() == ':'
                        && let Some(TokenTree::Ident(module)) = tokens.get(i + 3)
                    {
                        self.uses.insert(module.to_string());
                    }
                }
                _ => {}
            }
        }
    }

    fn function(&mut self, name: &syn::Ident, span: proc_macro2::Span) {
        let lines = span.end().line - span.start().line + 1;
        self.functions.push((name.to_string(), lines));
    }
}

impl<'ast> Visit<'ast> for Reader {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if is_test_only(&item.attrs) {
            return;
        }
        self.function(&item.sig.ident, syn::spanned::Spanned::span(item));
        syn::visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if is_test_only(&item.attrs) {
            return;
        }
        self.function(&item.sig.ident, syn::spanned::Spanned::span(item));
        syn::visit::visit_impl_item_fn(self, item);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if !is_test_only(&item.attrs) {
            self.use_tree(&item.tree, false);
        }
    }

    /// Paths inside macro calls (`format!("{}", crate::x::y(z))`) are
    /// tokens to syn: found by their shape, `crate :: module`.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if segments.next().is_some_and(|s| s.ident == "crate")
            && let Some(module) = segments.next()
        {
            self.uses.insert(module.ident.to_string());
        }
        syn::visit::visit_path(self, path);
    }
}

/// Modules lib.rs re-exports under another name (`crate::run` is
/// `crate::process::run`).
fn alias(module: &str) -> &str {
    match module {
        "run" => "process",
        "dpkg" => "debian",
        other => other,
    }
}

struct Crate {
    /// "module::function" → lines
    functions: Vec<(String, usize)>,
    /// top-level module → the top-level modules it uses
    uses: BTreeMap<String, BTreeSet<String>>,
}

fn read_crate() -> Crate {
    let mut functions = Vec::new();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in sources() {
        let text = std::fs::read_to_string(&path).expect("read");
        let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut reader = Reader::default();
        reader.visit_file(&file);
        let (top, module) = module_of(&path);
        for (name, lines) in reader.functions {
            functions.push((format!("{module}::{name}"), lines));
        }
        if top == "lib" || top == "main" || top == "testing" {
            continue;
        }
        reader.uses.retain(|m| is_module(m));
        let used = uses.entry(top.clone()).or_default();
        used.extend(
            reader
                .uses
                .into_iter()
                .map(|m| alias(&m).to_string())
                .filter(|m| *m != top),
        );
    }
    Crate { functions, uses }
}

#[test]
fn no_function_is_longer_than_a_screenful_of_phases() {
    let code = read_crate();
    let mut long: Vec<String> = code
        .functions
        .iter()
        .filter(|(name, lines)| *lines > MOST_LINES && !DISPATCH.contains(&name.as_str()))
        .map(|(name, lines)| format!("{name}: {lines} lines"))
        .collect();
    long.sort();
    assert_eq!(long, Vec::<String>::new(), "longer than {MOST_LINES} lines");
    let configure = code
        .functions
        .iter()
        .find(|(name, _)| name == "configure::configure")
        .expect("configure::configure");
    assert!(
        configure.1 <= 100,
        "configure() is orchestration: {} lines",
        configure.1
    );
}

/// Every cycle of the module graph, each as the path from its smallest
/// module back to it.
fn cycles(uses: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<Vec<String>> {
    fn walk(
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        let last = path.last().expect("non-empty").clone();
        for next in uses.get(&last).into_iter().flatten() {
            if let Some(start) = path.iter().position(|m| m == next) {
                let mut cycle: Vec<String> = path[start..].to_vec();
                let smallest = (0..cycle.len())
                    .min_by_key(|&i| &cycle[i])
                    .expect("non-empty");
                cycle.rotate_left(smallest);
                found.insert(cycle);
            } else if path.len() < 12 {
                path.push(next.clone());
                walk(uses, path, found);
                path.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for module in uses.keys() {
        walk(uses, &mut vec![module.clone()], &mut found);
    }
    found
}

/// The edges inside strongly connected groups of modules: each one is
/// part of a cycle (cut one and the cycle is gone).
fn cyclic_edges(uses: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut edges = BTreeSet::new();
    for cycle in cycles(uses) {
        for (i, from) in cycle.iter().enumerate() {
            let to = &cycle[(i + 1) % cycle.len()];
            edges.insert(format!("{from} -> {to}"));
        }
    }
    edges.into_iter().collect()
}

#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let code = read_crate();
    assert_eq!(cyclic_edges(&code.uses), Vec::<String>::new());
}

#[test]
fn the_node_side_needs_neither_the_builder_nor_configure() {
    let code = read_crate();
    for module in ["runtime", "publish", "deb", "remove"] {
        let used = code.uses.get(module).cloned().unwrap_or_default();
        for forbidden in ["builder", "configure"] {
            assert!(!used.contains(forbidden), "{module} uses {forbidden}");
        }
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let uses: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, used)| (m.to_string(), used.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycles(&uses),
        [vec!["a".to_string(), "b".into(), "c".into()]].into()
    );
}
