//! confpack's apt source on a node: the one `deb` line
//! `set-environment` writes to `confpack.list`, naming the repository,
//! the environment (an apt distribution) and the key it must be signed
//! with. The runtime writes and reads it; `configure` reads it to verify
//! signed environment documents with the same key.

use super::release::COMPONENT;

/// The apt source confpack manages.
pub const SOURCES_LIST: &str = "/etc/apt/sources.list.d/confpack.list";

/// The confpack apt source: `deb [signed-by=KEY] URL ENVIRONMENT main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    pub environment: String,
    pub signed_by: String,
}

impl Source {
    pub fn render(&self) -> String {
        format!(
            "# Written by `confpack set-environment`, which rewrites it.\n\
             deb [signed-by={}] {} {} {COMPONENT}\n",
            self.signed_by, self.url, self.environment
        )
    }

    /// Reads the `deb` line of `confpack.list`.
    pub fn parse(text: &str) -> Option<Source> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("deb ") || l.starts_with("deb\t"))?;
        let rest = line[3..].trim();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(after) => after.split_once(']')?,
            None => ("", rest),
        };
        let signed_by = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("signed-by="))?
            .to_string();
        let mut words = rest.split_whitespace();
        Some(Source {
            url: words.next()?.to_string(),
            environment: words.next()?.to_string(),
            signed_by,
        })
    }
}
