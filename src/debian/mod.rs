//! Debian's formats and rules, the vocabulary the builder, `publish`, the
//! node runtime, `status` and the document's trust check all speak: deb822
//! paragraphs ([`deb822`]), versions ([`version`]), RFC 2822 dates ([`date`]), an
//! apt repository's layout and `Release` lists ([`release`]), confpack's
//! apt source line ([`sources`]), what dpkg's tools print ([`dpkg`]) and
//! systemd's service conventions ([`systemd`]).
//! It depends on nothing above it.

pub mod date;
pub mod deb822;
pub mod dpkg;
pub mod release;
pub mod sources;
pub mod systemd;
pub mod version;
