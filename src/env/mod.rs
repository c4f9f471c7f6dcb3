//! The environment document: reading (with validation), the typed model,
//! and fetching the online copy with a local fallback.

pub mod dataone;
pub mod load;
pub mod model;
pub mod native;
pub mod xml;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use model::{Document, Environment};
use xml::{Node, Schema, XmlReader};

/// Which schema validates a document.
#[derive(Debug, Clone, Copy)]
pub enum Validation<'a> {
    /// The schema built in for the document's namespace.
    Builtin,
    /// A schema file given by the user (`--schema`).
    File(&'a Path),
    /// No schema: the document was validated before (an unchanged cached
    /// copy); confpack's own checks still run.
    AlreadyValidated,
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
            return Ok((namespace, local_name));
        }
    }
    Err(Error::at(origin, None, "the document has no root element"))
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
            let schema = match validation {
                Validation::File(schema) => Some(Schema::from_file(schema)?),
                Validation::Builtin | Validation::AlreadyValidated => None,
            };
            let mut document = dataone::read(path, origin, schema.as_ref(), derive_rules, retain)?;
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
            let schema = match validation {
                Validation::Builtin => Some(Schema::from_text(
                    native::SCHEMA,
                    "confpack-environment-1.xsd",
                )?),
                Validation::File(schema) => Some(Schema::from_file(schema)?),
                Validation::AlreadyValidated => None,
            };
            native::read(path, origin, schema.as_ref(), retain)
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
