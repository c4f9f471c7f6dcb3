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
//! entity loader for schemas; a schema fetched from a server loads its
//! includes only through confpack, see [`Schema::from_remote`]), no entity
//! substitution, no DTD loading, libxml2's messages collected (never
//! printed to stderr), and
//! any `<!DOCTYPE>` is refused outright: environment documents have no use
//! for one, and it is the door to external entities and entity-expansion
//! bombs.
//!
//! Bounded work: the bytes reach libxml2 through [`Input`], which scans them
//! against [`limits`](super::limits) (attributes per element, depth, text
//! size) and a deadline, so no document costs more than linear time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fs::File;
use std::io::{BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Once, OnceLock};
use std::time::Instant;

use super::libxml2::{self as ffi, Api};

use super::limits::{Exceeded, PARSE_DEADLINE, Scanner};
use crate::error::{Error, Problem, Result};

/// What the reader is positioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element start; `empty` for `<x/>` (no matching end follows).
    Start {
        local_name: Rc<str>,
        namespace: Option<Rc<str>>,
        empty: bool,
        line: u64,
    },
    End,
    /// Character data (text, CDATA, whitespace); [`XmlReader::text`] has it.
    Text,
    /// Anything else (comments, processing instructions, declarations).
    Other,
}

/// A compiled XSD.
pub struct Schema {
    api: &'static Api,
    ptr: *mut ffi::SchemaPtr,
    /// The schema document [`Schema::from_remote`] parsed; the compiled
    /// schema may point into it, so it is freed after it.
    doc: *mut ffi::Doc,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from xmlSchemaParse, `doc` (if any) from
        // xmlReadMemory; each is freed exactly once, the schema first.
        let api = self.api;
        unsafe {
            (api.xmlSchemaFree)(self.ptr);
            if !self.doc.is_null() {
                (api.xmlFreeDoc)(self.doc);
            }
        }
    }
}

/// Loads what a schema compiled by [`Schema::from_remote`] includes or
/// imports: the bytes at an absolute URL, or why not.
pub type Resolve<'a> = dyn FnMut(&str) -> std::result::Result<Vec<u8>, String> + 'a;

thread_local! {
    /// The resolver of the [`Schema::from_remote`] running on this thread
    /// (a `*mut &mut Resolve`), null otherwise.
    static RESOLVER: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
    /// Why the resolver refused a URL, for the schema's error.
    static REFUSED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

static NO_NETWORK: Once = Once::new();

/// libxml2, loaded on first use (see [`ffi`]), made to refuse every
/// network access, for documents and schemas alike (a user schema could
/// `xs:import` a URL), and to load a remote schema's includes only through
/// its resolver. `origin` names what was to be read if it cannot load.
fn libxml2(origin: &str) -> Result<&'static Api> {
    let api = ffi::api().map_err(|reason| Error::at(origin, None, reason))?;
    NO_NETWORK.call_once(|| {
        // SAFETY: installs our loader function; called once, before any
        // parsing.
        unsafe {
            (api.xmlSetExternalEntityLoader)(Some(load_entity));
        }
    });
    silence_generic_errors(api);
    Ok(api)
}

/// libxml2's external entity loader: a remote schema's resolver while one
/// compiles on this thread (never a local file, never the network
/// directly), else libxml2's own no-network loader.
unsafe extern "C" fn load_entity(
    url: *const c_char,
    id: *const c_char,
    context: *mut ffi::ParserCtxt,
) -> *mut ffi::ParserInput {
    let Some(api) = ffi::loaded() else {
        return std::ptr::null_mut();
    };
    let resolver = RESOLVER.with(|r| r.get());
    if resolver.is_null() {
        // SAFETY: forwards libxml2's own arguments.
        return unsafe { (api.xmlNoNetExternalEntityLoader)(url, id, context) };
    }
    let location = if url.is_null() {
        String::new()
    } else {
        // SAFETY: libxml2 passes a NUL-terminated URL.
        unsafe { CStr::from_ptr(url) }
            .to_string_lossy()
            .into_owned()
    };
    // SAFETY: set by `from_remote` to a `&mut Resolve` that lives until it
    // clears it, on this thread only.
    let resolve = unsafe { &mut *(resolver as *mut &mut Resolve<'_>) };
    let refuse = |reason: String| {
        REFUSED.with(|r| r.borrow_mut().push(format!("{location}: {reason}")));
        std::ptr::null_mut()
    };
    let bytes = match resolve(&location) {
        Ok(bytes) => bytes,
        Err(reason) => return refuse(reason),
    };
    let Ok(len) = c_int::try_from(bytes.len()) else {
        return refuse("too large".to_string());
    };
    // SAFETY: libxml2 copies the bytes into its buffer; the input takes
    // the buffer, and its file name (freed by libxml2) makes relative
    // includes in it resolve against its URL.
    unsafe {
        let buffer = (api.xmlParserInputBufferCreateMem)(
            bytes.as_ptr() as *const c_char,
            len,
            ffi::XML_CHAR_ENCODING_NONE,
        );
        if buffer.is_null() {
            return refuse("libxml2 could not buffer it".to_string());
        }
        let input = (api.xmlNewIOInputStream)(context, buffer, ffi::XML_CHAR_ENCODING_NONE);
        if input.is_null() {
            (api.xmlFreeParserInputBuffer)(buffer);
            return refuse("libxml2 could not read it".to_string());
        }
        if !url.is_null() {
            (*input).filename = (api.xmlCharStrdup)(url) as *const c_char;
        }
        input
    }
}

unsafe extern "C" {
    fn fopen(path: *const c_char, mode: *const c_char) -> *mut c_void;
}

/// Points libxml2's generic error output of this thread at /dev/null.
/// Every error confpack can act on also reaches a structured handler
/// (collected with its line); the generic channel printed the raw text of
/// whatever libxml2 was reading to stderr (a hostile include's target).
fn silence_generic_errors(api: &Api) {
    static DEV_NULL: OnceLock<usize> = OnceLock::new();
    // SAFETY: plain libc call with valid C strings; the stream stays open.
    let sink =
        *DEV_NULL.get_or_init(|| unsafe { fopen(c"/dev/null".as_ptr(), c"w".as_ptr()) } as usize);
    if sink != 0 {
        // SAFETY: a valid FILE* for libxml2's default generic handler.
        unsafe { (api.xmlSetGenericErrorFunc)(sink as *mut c_void, std::ptr::null()) };
    }
}

impl Schema {
    /// Compiles a schema from its text; `origin` names it in messages.
    pub fn from_text(text: &str, origin: &str) -> Result<Schema> {
        let api = libxml2(origin)?;
        let len =
            c_int::try_from(text.len()).map_err(|_| Error::at(origin, None, "schema too large"))?;
        // SAFETY: the buffer outlives the parser context, which is freed in
        // `compile`.
        let parser =
            unsafe { (api.xmlSchemaNewMemParserCtxt)(text.as_ptr() as *const c_char, len) };
        Self::compile(api, parser, origin)
    }

    /// Compiles a schema fetched from `url`: its relative includes and
    /// imports resolve against `url`, and every one of them is loaded by
    /// `resolve` (which decides what may be loaded), never by libxml2.
    pub fn from_remote(text: &[u8], url: &str, resolve: &mut Resolve<'_>) -> Result<Schema> {
        let api = libxml2(url)?;
        let len =
            c_int::try_from(text.len()).map_err(|_| Error::at(url, None, "schema too large"))?;
        let c_url = CString::new(url).map_err(|_| Error::at(url, None, "NUL in the URL"))?;
        let mut resolve_ref: &mut Resolve<'_> = resolve;
        RESOLVER.with(|r| r.set((&mut resolve_ref) as *mut &mut Resolve<'_> as *mut c_void));
        REFUSED.with(|r| r.borrow_mut().clear());
        let mut collector = Collector {
            origin: url.to_string(),
            problems: Vec::new(),
        };
        let options = (ffi::XML_PARSE_NONET | ffi::XML_PARSE_NOCDATA) as c_int;
        // SAFETY: valid buffer and C strings; the thread's error handler
        // points at `collector` only during the call.
        let doc = unsafe {
            (api.xmlSetStructuredErrorFunc)(
                (&mut collector) as *mut Collector as *mut c_void,
                error_handler(),
            );
            let doc = (api.xmlReadMemory)(
                text.as_ptr() as *const c_char,
                len,
                c_url.as_ptr(),
                std::ptr::null(),
                options,
            );
            (api.xmlSetStructuredErrorFunc)(std::ptr::null_mut(), None);
            doc
        };
        let compiled = if doc.is_null() {
            if collector.problems.is_empty() {
                collector.problems.push(Problem {
                    file: url.to_string(),
                    line: None,
                    message: "not well-formed XML".to_string(),
                });
            }
            Err(Error::Invalid(collector.problems))
        } else {
            // SAFETY: a parsed document; the parser context does not own it.
            let parser = unsafe { (api.xmlSchemaNewDocParserCtxt)(doc) };
            Self::compile(api, parser, url)
        };
        RESOLVER.with(|r| r.set(std::ptr::null_mut()));
        match compiled {
            Ok(mut schema) => {
                schema.doc = doc;
                Ok(schema)
            }
            Err(e) => {
                if !doc.is_null() {
                    // SAFETY: parsed above, not used by anything else.
                    unsafe { (api.xmlFreeDoc)(doc) };
                }
                Err(e)
            }
        }
    }

    /// Compiles a schema file (relative `xs:include`s resolve against it).
    pub fn from_file(path: &Path) -> Result<Schema> {
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let origin = path.display().to_string();
        let api = libxml2(&origin)?;
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::at(&origin, None, "the file name contains a NUL byte"))?;
        // SAFETY: valid C string.
        let parser = unsafe { (api.xmlSchemaNewParserCtxt)(c_path.as_ptr()) };
        Self::compile(api, parser, &origin)
    }

    fn compile(
        api: &'static Api,
        parser: *mut ffi::SchemaParserCtxt,
        origin: &str,
    ) -> Result<Schema> {
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
        let user = (&mut *collector) as *mut Collector as *mut c_void;
        // SAFETY: see XmlReader::open; the collector outlives the parser,
        // which is freed below before the collector is dropped. The
        // thread's handler gets the errors of the documents the schema
        // includes (their parsers have no handler of their own).
        let schema = unsafe {
            (api.xmlSchemaSetParserStructuredErrors)(parser, error_handler(), user);
            (api.xmlSetStructuredErrorFunc)(user, error_handler());
            let schema = (api.xmlSchemaParse)(parser);
            (api.xmlSetStructuredErrorFunc)(std::ptr::null_mut(), None);
            (api.xmlSchemaFreeParserCtxt)(parser);
            schema
        };
        let refused = REFUSED.with(|r| std::mem::take(&mut *r.borrow_mut()));
        collector
            .problems
            .extend(refused.into_iter().map(|message| Problem {
                file: origin.to_string(),
                line: None,
                message,
            }));
        if schema.is_null() || !collector.problems.is_empty() {
            if !schema.is_null() {
                // SAFETY: freshly parsed, not shared.
                unsafe { (api.xmlSchemaFree)(schema) };
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
        Ok(Schema {
            api,
            ptr: schema,
            doc: std::ptr::null_mut(),
        })
    }
}

/// Problems collected by the libxml2 error callback.
struct Collector {
    origin: String,
    problems: Vec<Problem>,
}

/// Called by libxml2 for every parser and validity error.
unsafe extern "C" fn collect_error(user: *mut c_void, error: *const ffi::XmlError) {
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

/// [`collect_error`] as libxml2's handler.
const fn error_handler() -> ffi::StructuredErrorFunc {
    Some(collect_error)
}

/// The document's bytes on their way to libxml2, scanned against the
/// limits; a limit exceeded or the deadline passed ends the input (libxml2
/// sees a read error) and is remembered for the reader's error.
struct Input {
    file: BufReader<File>,
    path: PathBuf,
    scanner: Scanner,
    started: Instant,
    exceeded: Option<Exceeded>,
    consumed: u64,
}

impl Input {
    fn read(&mut self, buffer: &mut [u8]) -> Option<usize> {
        if self.exceeded.is_some() {
            return None;
        }
        if self.started.elapsed() > PARSE_DEADLINE {
            self.exceeded = Some(Exceeded {
                offset: self.consumed,
                message: format!(
                    "reading the document took longer than {} s (confpack's limit)",
                    PARSE_DEADLINE.as_secs()
                ),
            });
            return None;
        }
        let n = loop {
            match self.file.read(buffer) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.exceeded = Some(Exceeded {
                        offset: self.consumed,
                        message: format!("cannot read {}: {e}", self.path.display()),
                    });
                    return None;
                }
            }
        };
        if let Err(exceeded) = self.scanner.scan(&buffer[..n]) {
            self.exceeded = Some(exceeded);
            return None;
        }
        self.consumed += n as u64;
        Some(n)
    }

    /// The 1-based line of a byte offset (read again: only on a refusal).
    fn line_of(&self, offset: u64) -> Option<u64> {
        let file = File::open(&self.path).ok()?;
        let mut newlines = 0u64;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut reader = file.take(offset);
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return Some(newlines + 1),
                Ok(n) => newlines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64,
                Err(_) => return None,
            }
        }
    }
}

/// libxml2's read callback over an [`Input`].
unsafe extern "C" fn read_input(context: *mut c_void, buffer: *mut c_char, len: c_int) -> c_int {
    let Ok(len) = usize::try_from(len) else {
        return -1;
    };
    if context.is_null() || buffer.is_null() {
        return -1;
    }
    // SAFETY: `context` is the boxed Input the reader owns and outlives
    // libxml2's reader; `buffer` holds `len` writable bytes.
    let (input, buffer) = unsafe {
        (
            &mut *(context as *mut Input),
            std::slice::from_raw_parts_mut(buffer as *mut u8, len),
        )
    };
    match input.read(buffer) {
        Some(n) => c_int::try_from(n).unwrap_or(-1),
        None => -1,
    }
}

/// The reader owns the file; libxml2's close is a no-op.
unsafe extern "C" fn close_input(_context: *mut c_void) -> c_int {
    0
}

/// A streaming reader. Borrows the schema it validates against.
pub struct XmlReader<'schema> {
    api: &'static Api,
    ptr: *mut ffi::TextReader,
    /// Boxed: libxml2 holds its address until the reader is freed.
    input: Box<Input>,
    collector: Box<Collector>,
    validating: bool,
    validation: *mut ffi::ValidCtxt,
    /// Names and namespaces by libxml2's interned pointer: element names
    /// repeat, so each is turned into a Rust string once.
    names: HashMap<usize, Rc<str>>,
    _schema: PhantomData<&'schema Schema>,
}

impl Drop for XmlReader<'_> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from xmlReaderForIO and is freed exactly once,
        // before the validation context it uses.
        unsafe {
            (self.api.xmlFreeTextReader)(self.ptr);
            if !self.validation.is_null() {
                (self.api.xmlSchemaFreeValidCtxt)(self.validation);
            }
        }
    }
}

fn xml_string(ptr: *const ffi::XmlChar) -> Option<String> {
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

/// Refuses a `<!DOCTYPE>` before libxml2 sees the document: libxml2 would
/// parse its entity declarations first (and report a bomb only as "entity
/// reference loop"). Scans the prolog only: the XML declaration, comments,
/// processing instructions and whitespace before the root element.
fn check_prolog(path: &Path, origin: &str) -> Result<()> {
    fn skip<'a>(end: &[u8], from: &'a [u8]) -> Option<&'a [u8]> {
        from.windows(end.len())
            .position(|w| w == end)
            .map(|i| &from[i + end.len()..])
    }
    use std::io::Read;
    const LIMIT: u64 = 1 << 20;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    file.take(LIMIT)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let mut rest: &[u8] = &head;
    // A UTF-8 byte order mark is allowed.
    rest = rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest);
    loop {
        let trimmed = rest.trim_ascii_start();
        let next = if trimmed.starts_with(b"<?") {
            skip(b"?>", trimmed)
        } else if trimmed.starts_with(b"<!--") {
            skip(b"-->", &trimmed[4..])
        } else if trimmed.starts_with(b"<!DOCTYPE") || trimmed.starts_with(b"<!doctype") {
            let offset = head.len() - trimmed.len();
            let line = head[..offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            return Err(Error::at(
                origin,
                Some(line),
                "a <!DOCTYPE> is not allowed in environment documents \
                 (it could define external or recursive entities); remove it",
            ));
        } else {
            return Ok(());
        };
        match next {
            Some(next) => rest = next,
            None => return Ok(()),
        }
    }
}

impl<'schema> XmlReader<'schema> {
    /// Opens `path` for streaming; `origin` is how messages name it (a URL
    /// for a downloaded copy). With a schema, every node read is validated.
    pub fn open(path: &Path, origin: &str, schema: Option<&'schema Schema>) -> Result<Self> {
        let api = libxml2(origin)?;
        // Checks readability too, for a clear message.
        check_prolog(path, origin)?;
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::at(origin, None, "the file name contains a NUL byte"))?;
        let options = (ffi::XML_PARSE_NONET | ffi::XML_PARSE_NOCDATA) as c_int;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut input = Box::new(Input {
            file: BufReader::with_capacity(64 * 1024, file),
            path: path.to_path_buf(),
            scanner: Scanner::default(),
            started: Instant::now(),
            exceeded: None,
            consumed: 0,
        });
        // SAFETY: valid callbacks and C strings; the input is boxed and
        // owned by the reader, freed after libxml2's reader (see Drop).
        let ptr = unsafe {
            (api.xmlReaderForIO)(
                Some(read_input),
                Some(close_input),
                (&mut *input) as *mut Input as *mut c_void,
                c_path.as_ptr(),
                std::ptr::null(),
                options,
            )
        };
        if ptr.is_null() {
            return Err(Error::at(
                origin,
                None,
                "libxml2 could not open the document",
            ));
        }
        let mut reader = XmlReader {
            api,
            ptr,
            input,
            collector: Box::new(Collector {
                origin: origin.to_string(),
                problems: Vec::new(),
            }),
            validating: schema.is_some(),
            validation: std::ptr::null_mut(),
            names: HashMap::new(),
            _schema: PhantomData,
        };
        let user = (&mut *reader.collector) as *mut Collector as *mut c_void;
        // Why not xmlTextReaderSetStructuredErrorHandler: in libxml2 2.9 its
        // relay crashes when a parse error happens while a schema is plugged
        // into the reader (it takes the schema's SAX plug for the reader).
        // Parser errors therefore go to the thread's structured error
        // handler, set around each read, and validity errors to a validation
        // context of our own.
        if let Some(schema) = schema {
            // SAFETY: the schema outlives the reader (lifetime 'schema); the
            // validation context is freed in Drop after the reader; the
            // handler only differs from the binding's type in the constness
            // of its pointer argument; the collector is boxed, so its
            // address is stable while the reader lives.
            unsafe {
                let validation = (api.xmlSchemaNewValidCtxt)(schema.ptr);
                if validation.is_null() {
                    return Err(Error::at(
                        origin,
                        None,
                        "libxml2 could not create a validation context",
                    ));
                }
                reader.validation = validation;
                (api.xmlSchemaSetValidStructuredErrors)(validation, error_handler(), user);
                if (api.xmlTextReaderSchemaValidateCtxt)(reader.ptr, validation, 0) != 0 {
                    return Err(Error::at(origin, None, "libxml2 refused the schema"));
                }
            }
        }
        Ok(reader)
    }

    /// Advances to the next node. `Ok(None)` at the end of the document;
    /// `Err` once the document turned out to be unusable (the collected
    /// problems say why).
    pub fn next_node(&mut self) -> Result<Option<Node>> {
        let user = (&mut *self.collector) as *mut Collector as *mut c_void;
        // SAFETY: valid reader pointer; the thread's error handler points at
        // our collector only for the duration of the read (see `open`).
        let rc = unsafe {
            (self.api.xmlSetStructuredErrorFunc)(user, error_handler());
            let rc = (self.api.xmlTextReaderRead)(self.ptr);
            (self.api.xmlSetStructuredErrorFunc)(std::ptr::null_mut(), None);
            rc
        };
        if let Some(exceeded) = self.input.exceeded.take() {
            return Err(Error::Invalid(vec![Problem {
                file: self.collector.origin.clone(),
                line: self.input.line_of(exceeded.offset),
                message: exceeded.message,
            }]));
        }
        match rc {
            1 => {}
            0 => return self.finish().map(|()| None),
            _ => {
                return Err(self.failure(
                    "the document is not well-formed (it ends early or its markup is broken)",
                ));
            }
        }
        // SAFETY: valid reader pointer, positioned on a node.
        let node_type = unsafe { (self.api.xmlTextReaderNodeType)(self.ptr) };
        Ok(Some(match node_type {
            1 => {
                // SAFETY: as above; the returned strings belong to the reader
                // (interned in its dictionary, so their addresses identify them).
                let (name_ptr, namespace_ptr, empty, line) = unsafe {
                    let node = (self.api.xmlTextReaderCurrentNode)(self.ptr);
                    (
                        (self.api.xmlTextReaderConstLocalName)(self.ptr),
                        (self.api.xmlTextReaderConstNamespaceUri)(self.ptr),
                        (self.api.xmlTextReaderIsEmptyElement)(self.ptr) == 1,
                        if node.is_null() {
                            0
                        } else {
                            u64::try_from((self.api.xmlGetLineNo)(node)).unwrap_or(0)
                        },
                    )
                };
                Node::Start {
                    local_name: self.interned(name_ptr).unwrap_or_else(|| Rc::from("")),
                    namespace: self.interned(namespace_ptr),
                    empty,
                    line,
                }
            }
            15 => Node::End,
            3 | 4 | 13 | 14 => Node::Text,
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

    /// The text of the current [`Node::Text`].
    pub fn text(&self) -> String {
        // SAFETY: valid reader pointer; the value belongs to the reader.
        xml_string(unsafe { (self.api.xmlTextReaderConstValue)(self.ptr) }).unwrap_or_default()
    }

    fn interned(&mut self, ptr: *const ffi::XmlChar) -> Option<Rc<str>> {
        if ptr.is_null() {
            return None;
        }
        let name = self
            .names
            .entry(ptr as usize)
            .or_insert_with(|| Rc::from(xml_string(ptr).unwrap_or_default()));
        Some(name.clone())
    }

    /// The value of a namespaced attribute of the current element.
    pub fn attribute_ns(&mut self, local_name: &str, namespace: &str) -> Option<String> {
        let c_name = CString::new(local_name).ok()?;
        let c_namespace = CString::new(namespace).ok()?;
        // SAFETY: valid reader and C strings; the result is ours to free.
        unsafe {
            let value = (self.api.xmlTextReaderGetAttributeNs)(
                self.ptr,
                c_name.as_ptr() as *const _,
                c_namespace.as_ptr() as *const _,
            );
            let text = xml_string(value);
            if !value.is_null() {
                (self.api.xmlFree)(value as *mut c_void);
            }
            text
        }
    }

    /// The value of an attribute of the current element.
    pub fn attribute(&mut self, name: &str) -> Option<String> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: valid reader and C string; the result is ours to free.
        unsafe {
            let value = (self.api.xmlTextReaderGetAttribute)(self.ptr, c_name.as_ptr() as *const _);
            let text = xml_string(value);
            if !value.is_null() {
                (self.api.xmlFree)(value as *mut c_void);
            }
            text
        }
    }

    /// The line the parser is at (for problems found between nodes).
    pub fn current_line(&self) -> u64 {
        // SAFETY: valid reader pointer.
        u64::try_from(unsafe { (self.api.xmlTextReaderGetParserLineNumber)(self.ptr) }).unwrap_or(0)
    }

    /// Problems reported so far by the parser and the validator.
    pub fn take_problems(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.collector.problems)
    }

    fn finish(&mut self) -> Result<()> {
        // SAFETY: valid reader pointer.
        let invalid = self.validating && unsafe { (self.api.xmlTextReaderIsValid)(self.ptr) } != 1;
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
            || fallback.starts_with("the document is not well-formed")
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

/// What a document reader does with the elements of its own dialect; the
/// walk over the nodes ([`walk`]) is the same for every dialect.
pub trait ElementHandler<'schema> {
    fn xml(&mut self) -> &mut XmlReader<'schema>;
    /// Whether an element in `namespace` belongs to the dialect (others are
    /// skipped, their text included).
    fn is_ours(&self, namespace: Option<&str>, root: bool) -> bool;
    /// The root element is not the dialect's: report it; reading stops.
    fn foreign_root(&mut self, local_name: &str, namespace: Option<&str>, line: u64);
    /// An element of the dialect starts; `parent` is the enclosing one.
    fn start(&mut self, name: &str, parent: Option<&str>, line: u64);
    /// An element ends (`name` is empty for a foreign one).
    fn end(&mut self, name: &str);
    /// Whether the current element's text is wanted.
    fn wants_text(&self) -> bool;
    fn text(&mut self, text: &str);
    /// The problems the handler found itself (values, references, ...).
    fn take_problems(&mut self) -> Vec<Problem>;
}

/// Reads the whole document, handing its elements to `handler`; fails
/// with every problem found, libxml2's and the handler's, by line.
pub fn walk<'schema>(handler: &mut impl ElementHandler<'schema>) -> Result<()> {
    let outcome = walk_nodes(handler);
    let mut problems = handler.take_problems();
    match outcome {
        Ok(()) => {}
        Err(Error::Invalid(found)) => problems.extend(found),
        Err(other) => return Err(other),
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|p| p.line.unwrap_or(0));
    problems.dedup();
    Err(Error::Invalid(problems))
}

fn walk_nodes<'schema>(handler: &mut impl ElementHandler<'schema>) -> Result<()> {
    let mut open: Vec<Rc<str>> = Vec::new();
    let foreign: Rc<str> = Rc::from("");
    while let Some(node) = handler.xml().next_node()? {
        match node {
            Node::Start {
                local_name,
                namespace,
                empty,
                line,
            } => {
                let root = open.is_empty();
                let ours = handler.is_ours(namespace.as_deref(), root);
                if root && !ours {
                    handler.foreign_root(&local_name, namespace.as_deref(), line);
                    return Ok(());
                }
                let name = if ours { local_name } else { foreign.clone() };
                if ours {
                    handler.start(&name, open.last().map(|p| &**p), line);
                }
                if empty {
                    handler.end(&name);
                } else {
                    open.push(name);
                }
            }
            Node::End => {
                let name = open.pop().unwrap_or_else(|| foreign.clone());
                handler.end(&name);
            }
            Node::Text => {
                if handler.wants_text() {
                    let text = handler.xml().text();
                    handler.text(&text);
                }
            }
            Node::Other => {}
        }
    }
    Ok(())
}
