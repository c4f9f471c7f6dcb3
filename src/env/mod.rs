//! The environment document: reading (with validation), the typed model,
//! and fetching the online copy with a local fallback.

pub mod cleartext;
pub mod dataone;
mod libxml2;
pub mod limits;
pub mod load;
pub mod model;
pub mod native;
pub mod remote_schema;
pub mod trust;
pub mod xml;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use model::{Document, Environment};
use xml::{Node, Schema, XmlReader};

/// Shared libraries confpack loads when it first needs them (so they are
/// not in its ELF `DT_NEEDED`); the runtime package depends on them too.
pub const LOADED_LATER: &[&str] = &[libxml2::SONAME];

/// Which schema validates a document.
#[derive(Debug, Clone, Copy)]
pub enum Validation<'a> {
    /// The schema built in for the document's namespace.
    Builtin,
    /// A schema file given by the user (`--schema`).
    File(&'a Path),
    /// A schema compiled already (one fetched for a dialect document).
    Compiled(&'a Schema),
    /// No schema: the document was validated before (an unchanged cached
    /// copy); confpack's own checks still run.
    AlreadyValidated,
}

/// The built-in schema as confpack validates with it: the published XSD
/// without its identity constraints (`xs:key`, `xs:keyref`, `xs:unique`).
///
/// Why: libxml2 keeps a table entry for every node an identity constraint
/// selects until the constraint's scope ends, so a root-level `xs:keyref`
/// over every question holds the whole document's keys (a 35 MB document
/// needs ~150 MB). confpack's reader checks the same constraints itself,
/// with the exact line, in memory bounded by one environment; the published
/// XSD keeps them for other tools.
pub fn runtime_schema(published: &str) -> String {
    let mut out = String::with_capacity(published.len());
    let mut rest = published;
    loop {
        let next = ["<xs:key ", "<xs:keyref ", "<xs:unique "]
            .iter()
            .filter_map(|tag| rest.find(tag).map(|at| (at, *tag)))
            .min();
        let Some((at, tag)) = next else {
            out.push_str(rest);
            return out;
        };
        let close = format!("</{}>", tag[1..].trim_end());
        out.push_str(&rest[..at]);
        match rest[at..].find(&close) {
            Some(end) => rest = &rest[at + end + close.len()..],
            None => {
                // Not the shape we write: leave the schema as it is.
                return published.to_string();
            }
        }
    }
}

/// The namespace and local name of the root element, refusing a DOCTYPE.
pub fn sniff_root(path: &Path, origin: &str) -> Result<(Option<String>, String)> {
    let mut reader = XmlReader::open(path, origin, None)?;
    while let Some(node) = reader.next_node()? {
        if let Node::Start {
            local_name,
            namespace,
            ..
        } = node
        {
            return Ok((namespace.map(|n| n.to_string()), local_name.to_string()));
        }
    }
    Err(Error::at(origin, None, "the document has no root element"))
}

/// The schema location a document names for its own namespace
/// (`xsi:schemaLocation="NS URL …"` on the root), with that namespace.
pub fn schema_location(path: &Path, origin: &str) -> Result<(Option<String>, Option<String>)> {
    const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    let mut reader = XmlReader::open(path, origin, None)?;
    while let Some(node) = reader.next_node()? {
        if let Node::Start { namespace, .. } = node {
            let namespace = namespace.map(|n| n.to_string());
            let location = reader
                .attribute_ns("schemaLocation", XSI)
                .and_then(|value| {
                    let parts: Vec<&str> = value.split_whitespace().collect();
                    parts
                        .chunks(2)
                        .find(|pair| Some(pair[0]) == namespace.as_deref() && pair.len() == 2)
                        .map(|pair| pair[1].to_string())
                });
            return Ok((namespace, location));
        }
    }
    Ok((None, None))
}

/// Reads and validates a document, keeping the environments `retain` wants.
pub fn read_document(
    path: &Path,
    origin: &str,
    validation: Validation<'_>,
    derive_rules: &BTreeMap<String, String>,
    retain: &dyn Fn(&Environment) -> bool,
) -> Result<Document> {
    let (namespace, local_name) = sniff_root(path, origin)?;
    match namespace.as_deref() {
        Some(dataone::NAMESPACE) => {
            let owned = match validation {
                Validation::File(schema) => Some(Schema::from_file(schema)?),
                _ => None,
            };
            let schema = match validation {
                Validation::Compiled(schema) => Some(schema),
                _ => owned.as_ref(),
            };
            let mut document = dataone::read(path, origin, schema, derive_rules, retain)?;
            if matches!(validation, Validation::Builtin) {
                document.warnings.push(format!(
                    "{origin} is a DataONE v1 document and no schema was given: only its \
                     well-formedness and confpack's own checks were applied; pass --schema XSD \
                     to validate it"
                ));
            }
            Ok(document)
        }
        Some(native::NAMESPACE) => {
            let owned = match validation {
                Validation::Builtin => Some(Schema::from_text(
                    &runtime_schema(native::SCHEMA),
                    "confpack-environment-1.xsd",
                )?),
                Validation::File(schema) => Some(Schema::from_file(schema)?),
                Validation::Compiled(_) | Validation::AlreadyValidated => None,
            };
            let schema = match validation {
                Validation::Compiled(schema) => Some(schema),
                _ => owned.as_ref(),
            };
            native::read(path, origin, schema, retain)
        }
        other => Err(Error::at(
            origin,
            None,
            format!(
                "unknown document type {{{}}}{local_name}; expected <environments xmlns=\"{}\"> \
                 or a DataONE v1 <debconf xmlns=\"{}\">",
                other.unwrap_or(""),
                native::NAMESPACE,
                dataone::NAMESPACE
            ),
        )),
    }
}

/// Reads every environment of a document (for `confpack validate`).
pub fn validate(path: &Path, origin: &str, validation: Validation<'_>) -> Result<Document> {
    read_document(path, origin, validation, &BTreeMap::new(), &|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_schema_drops_only_identity_constraints() {
        let runtime = runtime_schema(native::SCHEMA);
        for tag in ["<xs:key ", "<xs:keyref ", "<xs:unique "] {
            assert!(native::SCHEMA.contains(tag), "{tag}");
            assert!(!runtime.contains(tag), "{tag}");
        }
        assert!(runtime.contains("<xs:element name=\"environments\">"));
        Schema::from_text(&runtime, "runtime").expect("compiles");
    }
}
