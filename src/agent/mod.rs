//! confpack as debconf's UI agent.
//!
//! When confpack runs apt-get or dpkg, the maintainer scripts of other
//! packages ask their questions through debconf. Left alone, debconf opens
//! its own dialog on the terminal beside confpack's, or answers nothing
//! without one. With `DEBIAN_FRONTEND=passthrough` debconf instead sends
//! every question over a Unix socket (`DEBCONF_PIPE`), as it does for
//! debconf-kde and PackageKit: confpack serves that socket
//! ([`serve::run_with_agent`]), so the questions are asked by confpack's
//! own frontend, answered from its store when it knows the answer, and
//! reported together when nobody can answer them ([`session`]). The lines
//! themselves are read and written in [`protocol`].

pub mod protocol;
pub mod serve;
pub mod session;

pub use serve::run_with_agent;

/// Why debconf under `root` cannot talk to confpack, if it cannot: its
/// passthrough frontend converts every line with Text::Iconv (from
/// `libtext-iconv-perl`, which debconf only recommends) and dies at the
/// first question without it. `None` also when there is no debconf at
/// all (nothing will ask).
pub fn missing_on(root: &std::path::Path) -> Option<String> {
    let under = |path: &str| crate::files::rooted(root, std::path::Path::new(path));
    if !under("/usr/share/perl5/Debconf/FrontEnd/Passthrough.pm").exists() {
        return None;
    }
    let lib = under("/usr/lib");
    let found = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|triplet| triplet.path().join("perl5"))
        .filter_map(|perl| std::fs::read_dir(perl).ok())
        .flatten()
        .flatten()
        .any(|version| version.path().join("Text/Iconv.pm").exists());
    (!found).then(|| {
        "debconf's passthrough needs Text::Iconv; install libtext-iconv-perl \
         (confpack-runtime depends on it)"
            .to_string()
    })
}
pub use session::{ListenerProgress, Progress, Session, SilentProgress, Unanswered};

#[cfg(test)]
mod tests;
