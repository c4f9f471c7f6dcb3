//! A safe streaming XML reader over libxml2's `xmlTextReader`, validating
//! against an XSD while it reads.
//!
//! Why not a DOM: an environment document can describe thousands of machines
//! and only one environment is needed, so the document is read once, node by
//! node, and validated in the same pass (what `xmllint --stream --schema`
//! does). Why libxml2: the schema is an XSD and the issue asks for libxml's
//! validation; doing both in one pass keeps memory at one node.
//!
//! Hardening: no network (`XML_PARSE_NONET`, and a no-network external
//! entity loader for schemas), no entity substitution, no DTD loading, and
//! any `<!DOCTYPE>` is refused outright: environment documents have no use
//! for one, and it is the door to external entities and entity-expansion
//! bombs.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Once;

use libxml::bindings;

use crate::error::{Error, Problem, Result};

/// What the reader is positioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element start; `empty` for `<x/>` (no matching end follows).
    Start {
        local_name: String,
        namespace: Option<String>,
        empty: bool,
        line: u64,
    },
    End,
    /// Character data (text, CDATA, whitespace).
    Text(String),
    /// Anything else (comments, processing instructions, declarations).
    Other,
}

/// A compiled XSD.
pub struct Schema {
    ptr: bindings::xmlSchemaPtr,
}

impl Drop for Schema {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from xmlSchemaParse and is freed exactly once.
        unsafe { bindings::xmlSchemaFree(self.ptr) };
    }
}

static NO_NETWORK: Once = Once::new();

/// Makes libxml2 refuse every network access, for documents and schemas
/// alike (a user schema could `xs:import` a URL).
fn forbid_network() {
    NO_NETWORK.call_once(|| {
        libxml::init_parser();
        // SAFETY: installs libxml2's own loader function; called once, before
        // any parsing.
        unsafe {
            bindings::xmlSetExternalEntityLoader(Some(bindings::xmlNoNetExternalEntityLoader));
        }
    });
}

impl Schema {
    /// Compiles a schema from its text; `origin` names it in messages.
    pub fn from_text(text: &str, origin: &str) -> Result<Schema> {
        forbid_network();
        let len =
            c_int::try_from(text.len()).map_err(|_| Error::at(origin, None, "schema too large"))?;
        // SAFETY: the buffer outlives the parser context, which is freed in
        // `compile`.
        let parser =
            unsafe { bindings::xmlSchemaNewMemParserCtxt(text.as_ptr() as *const c_char, len) };
        Self::compile(parser, origin)
    }

    /// Compiles a schema file (relative `xs:include`s resolve against it).
    pub fn from_file(path: &Path) -> Result<Schema> {
        forbid_network();
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let origin = path.display().to_string();
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::at(&origin, None, "the file name contains a NUL byte"))?;
        // SAFETY: valid C string.
        let parser = unsafe { bindings::xmlSchemaNewParserCtxt(c_path.as_ptr()) };
        Self::compile(parser, &origin)
    }

    fn compile(parser: bindings::xmlSchemaParserCtxtPtr, origin: &str) -> Result<Schema> {
        if parser.is_null() {
            return Err(Error::at(
                origin,
                None,
                "libxml2 could not create a schema parser",
            ));
        }
        let mut collector = Box::new(Collector {
            origin: origin.to_string(),
            problems: Vec::new(),
        });
        let handler: unsafe extern "C" fn(*mut c_void, *mut bindings::xmlError) = collect_error;
        // SAFETY: see XmlReader::open; the collector outlives the parser,
        // which is freed below before the collector is dropped.
        let schema = unsafe {
            bindings::xmlSchemaSetParserStructuredErrors(
                parser,
                std::mem::transmute::<unsafe extern "C" fn(*mut c_void, *mut bindings::xmlError), _>(
                    handler,
                ),
                (&mut *collector) as *mut Collector as *mut c_void,
            );
            let schema = bindings::xmlSchemaParse(parser);
            bindings::xmlSchemaFreeParserCtxt(parser);
            schema
        };
        if schema.is_null() || !collector.problems.is_empty() {
            if !schema.is_null() {
                // SAFETY: freshly parsed, not shared.
                unsafe { bindings::xmlSchemaFree(schema) };
            }
            let mut problems = std::mem::take(&mut collector.problems);
            if problems.is_empty() {
                problems.push(Problem {
                    file: origin.to_string(),
                    line: None,
                    message: "the schema could not be compiled".to_string(),
                });
            }
            for problem in &mut problems {
                problem.message = format!("invalid schema: {}", problem.message);
            }
            return Err(Error::Invalid(problems));
        }
        Ok(Schema { ptr: schema })
    }
}

/// Problems collected by the libxml2 error callback.
struct Collector {
    origin: String,
    problems: Vec<Problem>,
}

/// Called by libxml2 for every parser and validity error.
///
/// The pointer's constness differs between libxml2 versions; the ABI does not.
unsafe extern "C" fn collect_error(user: *mut c_void, error: *mut bindings::xmlError) {
    if user.is_null() || error.is_null() {
        return;
    }
    // SAFETY: `user` is the `Collector` the reader registered and keeps alive
    // for its whole life; `error` is valid for the duration of the callback.
    let (collector, error) = unsafe { (&mut *(user as *mut Collector), &*error) };
    let message = if error.message.is_null() {
        "unknown XML error".to_string()
    } else {
        // SAFETY: libxml2 hands a NUL-terminated message.
        unsafe { CStr::from_ptr(error.message) }
            .to_string_lossy()
            .trim_end()
            .to_string()
    };
    let line = u64::try_from(error.line).ok().filter(|&l| l > 0);
    let problem = Problem {
        file: collector.origin.clone(),
        line,
        message,
    };
    // libxml2 may report the same fatal error twice (reader and parser).
    if collector.problems.last() != Some(&problem) && collector.problems.len() < 1000 {
        collector.problems.push(problem);
    }
}

/// A streaming reader. Borrows the schema it validates against.
pub struct XmlReader<'schema> {
    ptr: bindings::xmlTextReaderPtr,
    collector: Box<Collector>,
    validating: bool,
    _schema: PhantomData<&'schema Schema>,
}

impl Drop for XmlReader<'_> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from xmlReaderForFile and is freed exactly once.
        unsafe { bindings::xmlFreeTextReader(self.ptr) };
    }
}

fn xml_string(ptr: *const bindings::xmlChar) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: libxml2 strings are NUL-terminated UTF-8.
    Some(
        unsafe { CStr::from_ptr(ptr as *const c_char) }
            .to_string_lossy()
            .into_owned(),
    )
}

impl<'schema> XmlReader<'schema> {
    /// Opens `path` for streaming; `origin` is how messages name it (a URL
    /// for a downloaded copy). With a schema, every node read is validated.
    pub fn open(path: &Path, origin: &str, schema: Option<&'schema Schema>) -> Result<Self> {
        forbid_network();
        // Check readability ourselves for a clear message.
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::at(origin, None, "the file name contains a NUL byte"))?;
        let options = (bindings::xmlParserOption_XML_PARSE_NONET
            | bindings::xmlParserOption_XML_PARSE_NOCDATA) as c_int;
        // SAFETY: plain FFI call with valid C strings.
        let ptr = unsafe { bindings::xmlReaderForFile(c_path.as_ptr(), std::ptr::null(), options) };
        if ptr.is_null() {
            return Err(Error::at(
                origin,
                None,
                "libxml2 could not open the document",
            ));
        }
        let mut reader = XmlReader {
            ptr,
            collector: Box::new(Collector {
                origin: origin.to_string(),
                problems: Vec::new(),
            }),
            validating: schema.is_some(),
            _schema: PhantomData,
        };
        if let Some(schema) = schema {
            // SAFETY: the schema outlives the reader (lifetime 'schema).
            let rc = unsafe { bindings::xmlTextReaderSetSchema(reader.ptr, schema.ptr) };
            if rc != 0 {
                return Err(Error::at(origin, None, "libxml2 refused the schema"));
            }
        }
        let handler: unsafe extern "C" fn(*mut c_void, *mut bindings::xmlError) = collect_error;
        let user = (&mut *reader.collector) as *mut Collector as *mut c_void;
        // SAFETY: the handler only differs from the binding's type in the
        // constness of its pointer argument; the collector is boxed, so its
        // address is stable while the reader lives.
        unsafe {
            bindings::xmlTextReaderSetStructuredErrorHandler(
                reader.ptr,
                std::mem::transmute::<unsafe extern "C" fn(*mut c_void, *mut bindings::xmlError), _>(
                    handler,
                ),
                user,
            );
        }
        Ok(reader)
    }

    /// Advances to the next node. `Ok(None)` at the end of the document;
    /// `Err` once the document turned out to be unusable (the collected
    /// problems say why).
    pub fn next_node(&mut self) -> Result<Option<Node>> {
        // SAFETY: valid reader pointer.
        let rc = unsafe { bindings::xmlTextReaderRead(self.ptr) };
        match rc {
            1 => {}
            0 => return self.finish().map(|()| None),
            _ => return Err(self.failure("the document is not well-formed")),
        }
        // SAFETY: valid reader pointer, positioned on a node.
        let node_type = unsafe { bindings::xmlTextReaderNodeType(self.ptr) };
        Ok(Some(match node_type {
            1 => {
                // SAFETY: as above; the returned strings belong to the reader.
                let (local_name, namespace, empty, line) = unsafe {
                    let node = bindings::xmlTextReaderCurrentNode(self.ptr);
                    (
                        xml_string(bindings::xmlTextReaderConstLocalName(self.ptr))
                            .unwrap_or_default(),
                        xml_string(bindings::xmlTextReaderConstNamespaceUri(self.ptr)),
                        bindings::xmlTextReaderIsEmptyElement(self.ptr) == 1,
                        if node.is_null() {
                            0
                        } else {
                            u64::try_from(bindings::xmlGetLineNo(node)).unwrap_or(0)
                        },
                    )
                };
                Node::Start {
                    local_name,
                    namespace,
                    empty,
                    line,
                }
            }
            15 => Node::End,
            3 | 4 | 13 | 14 => {
                // SAFETY: as above.
                Node::Text(
                    xml_string(unsafe { bindings::xmlTextReaderConstValue(self.ptr) })
                        .unwrap_or_default(),
                )
            }
            5 => {
                return Err(
                    self.failure("entity references are not allowed in environment documents")
                );
            }
            10 => {
                return Err(self.failure(
                    "a <!DOCTYPE> is not allowed in environment documents \
                     (it could define external or recursive entities); remove it",
                ));
            }
            _ => Node::Other,
        }))
    }

    /// The value of an attribute of the current element.
    pub fn attribute(&mut self, name: &str) -> Option<String> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: valid reader and C string; the result is ours to free.
        unsafe {
            let value = bindings::xmlTextReaderGetAttribute(self.ptr, c_name.as_ptr() as *const _);
            let text = xml_string(value);
            if !value.is_null() {
                if let Some(free) = bindings::xmlFree {
                    free(value as *mut c_void);
                }
            }
            text
        }
    }

    /// The line the parser is at (for problems found between nodes).
    pub fn current_line(&self) -> u64 {
        // SAFETY: valid reader pointer.
        u64::try_from(unsafe { bindings::xmlTextReaderGetParserLineNumber(self.ptr) }).unwrap_or(0)
    }

    /// Problems reported so far by the parser and the validator.
    pub fn take_problems(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.collector.problems)
    }

    fn finish(&mut self) -> Result<()> {
        // SAFETY: valid reader pointer.
        let invalid = self.validating && unsafe { bindings::xmlTextReaderIsValid(self.ptr) } != 1;
        if !self.collector.problems.is_empty() || invalid {
            return Err(self.failure("the document is not valid against the schema"));
        }
        Ok(())
    }

    fn failure(&mut self, fallback: &str) -> Error {
        let mut problems = self.take_problems();
        if problems.is_empty()
            || fallback.starts_with("a <!DOCTYPE")
            || fallback.starts_with("entity")
        {
            let line = self.current_line();
            problems.push(Problem {
                file: self.collector.origin.clone(),
                line: (line > 0).then_some(line),
                message: fallback.to_string(),
            });
        }
        Error::Invalid(problems)
    }
}
