//! Regression tests for the holes an attack on the release binary found
//! (issue 12): hostile repositories, documents, servers, expressions and
//! local users. Each test failed before its fix.

mod build;
mod documents;
mod filesystem;
mod publish;
mod secrecy;
