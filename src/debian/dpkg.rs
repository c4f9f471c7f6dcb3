//! What dpkg's tools print, parsed in one place: `dpkg-query --search`,
//! `dpkg-query --show` of package states, `dpkg-divert --list` and the
//! `md5sums` lists dpkg keeps.
//!
//! Why apart: the renderer (who owns a file before confpack diverts it),
//! the builder (which package ships a library), the node runtime (what is
//! installed, what a run left unfinished) and `status` (drift, diversions)
//! all read the same outputs, and each format has its corners (diversion
//! lines inside `--search`, `pkg:arch` names, status abbreviations) that
//! one parser with tests gets right once. Running the tools is the
//! callers' business; this module only reads text.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One line of `dpkg-query --search`: the packages that ship `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    /// Package names, without their `:architecture`.
    pub packages: Vec<String>,
    pub path: String,
}

/// `dpkg-query --search` output (`pkg1, pkg2:amd64: /path`), diversion
/// lines (`diversion by pkg from: /path`, `local diversion to: /path`)
/// left out.
pub fn parse_search(text: &str) -> Vec<Shipped> {
    text.lines()
        .filter(|line| !line.starts_with("diversion by ") && !line.starts_with("local diversion"))
        .filter_map(|line| line.split_once(": "))
        .map(|(packages, path)| Shipped {
            packages: packages
                .split(", ")
                .map(|package| {
                    let package = package.trim();
                    package.split(':').next().unwrap_or(package).to_string()
                })
                .filter(|package| !package.is_empty())
                .collect(),
            path: path.to_string(),
        })
        .collect()
}

/// The `--showformat` that [`parse_states`] reads.
pub const STATES_FORMAT: &str = "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n";

/// `dpkg-query -W` with [`STATES_FORMAT`]: name → (version, the state
/// letter of `db:Status-Abbrev`: `i` installed, `c` config-files, `U`
/// unpacked, `F` half-configured, `H` half-installed, `W`/`t` triggers,
/// `n` not installed).
pub fn parse_states(text: &str) -> BTreeMap<String, (String, char)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let (name, version, status) = (parts.next()?, parts.next()?, parts.next()?);
            let state = status.chars().nth(1)?;
            Some((name.to_string(), (version.to_string(), state)))
        })
        .collect()
}

/// One line of `dpkg-divert --list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    pub path: PathBuf,
    /// Where the diverted file is.
    pub to: PathBuf,
    /// The package holding the diversion; `None` for a local one.
    pub by: Option<String>,
}

/// `dpkg-divert --list`: `diversion of /etc/x to /etc/x.orig by pkg`, or
/// `local diversion of /etc/x to /etc/x.orig`.
pub fn parse_diversions(text: &str) -> Vec<Diversion> {
    text.lines()
        .filter_map(|line| {
            if let Some(rest) = line.strip_prefix("local diversion of ") {
                let (path, to) = rest.split_once(" to ")?;
                return Some(Diversion {
                    path: PathBuf::from(path),
                    to: PathBuf::from(to),
                    by: None,
                });
            }
            let rest = line.strip_prefix("diversion of ")?;
            let (path, rest) = rest.split_once(" to ")?;
            let (to, by) = rest.rsplit_once(" by ")?;
            Some(Diversion {
                path: PathBuf::from(path),
                to: PathBuf::from(to),
                by: Some(by.to_string()),
            })
        })
        .collect()
}

/// One line of a package's `md5sums` (`<sum>  <path without the leading
/// slash>`): the sum and the absolute path.
pub fn parse_md5sums_line(line: &str) -> Option<(&str, PathBuf)> {
    let (sum, file) = line.split_once("  ")?;
    Some((
        sum.trim(),
        std::path::Path::new("/").join(file.trim_start_matches('/')),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_output_names_the_shipping_packages_without_diversions_or_architectures() {
        let text = "diversion by dash from: /bin/sh\n\
                    diversion by dash to: /bin/sh.distrib\n\
                    local diversion from: /etc/motd\n\
                    local diversion to: /etc/motd.orig\n\
                    dash: /bin/sh\n\
                    libc6:amd64, libc6-dev:amd64: /usr/lib/x86_64-linux-gnu/libc.so.6\n\
                    odd: /etc/a: b\n";
        let shipped = |packages: &[&str], path: &str| Shipped {
            packages: packages.iter().map(|p| p.to_string()).collect(),
            path: path.to_string(),
        };
        assert_eq!(
            parse_search(text),
            [
                shipped(&["dash"], "/bin/sh"),
                shipped(
                    &["libc6", "libc6-dev"],
                    "/usr/lib/x86_64-linux-gnu/libc.so.6"
                ),
                shipped(&["odd"], "/etc/a: b"),
            ]
        );
        assert_eq!(parse_search(""), []);
    }

    #[test]
    fn states_keep_the_version_and_the_state_letter() {
        let text = "app\t2\tii \nold\t1\trc \nhalf\t3\tiF \nbroken line\n";
        let states = parse_states(text);
        assert_eq!(states["app"], ("2".to_string(), 'i'));
        assert_eq!(states["old"], ("1".to_string(), 'c'));
        assert_eq!(states["half"], ("3".to_string(), 'F'));
        assert_eq!(states.len(), 3);
    }

    #[test]
    fn diversions_read_back_with_their_holder() {
        let text = "diversion of /etc/nginx/nginx.conf to /etc/nginx/nginx.conf.confpack-orig by web\n\
                    local diversion of /etc/motd to /etc/motd.local\n\
                    something else\n";
        assert_eq!(
            parse_diversions(text),
            [
                Diversion {
                    path: "/etc/nginx/nginx.conf".into(),
                    to: "/etc/nginx/nginx.conf.confpack-orig".into(),
                    by: Some("web".into()),
                },
                Diversion {
                    path: "/etc/motd".into(),
                    to: "/etc/motd.local".into(),
                    by: None,
                },
            ]
        );
    }

    #[test]
    fn md5sums_lines_give_absolute_paths() {
        assert_eq!(
            parse_md5sums_line("d41d8cd98f00b204e9800998ecf8427e  etc/app.conf"),
            Some((
                "d41d8cd98f00b204e9800998ecf8427e",
                PathBuf::from("/etc/app.conf")
            ))
        );
        assert_eq!(parse_md5sums_line("no separator"), None);
    }
}
