//! libxml2, loaded the first time a document or schema is read.
//!
//! Why not link it: linking libxml2 makes the dynamic loader map and
//! relocate libxml2, ICU (libicuuc, libicudata, libstdc++), liblzma and
//! zlib at every start of `confpack`, about 1 ms of CPU. That is a third
//! of a no-op `configure` (the postinst hot path), which never parses XML.
//! So the few libxml2 functions confpack calls are declared here and
//! resolved with `dlopen` (through `libloading`) on first use; a missing
//! library is an error naming the package to install, not a crash at
//! start. `confpack-runtime` declares the package in its `Depends`
//! ([`SONAME`], see `builder::runtime_deb`).
//!
//! The declarations are libxml2's stable C ABI (2.9 to 2.14): every
//! function and both structs read here (`xmlError`'s leading fields,
//! `xmlParserInput`'s file name) have kept their layout since 2.6.

use std::ffi::{c_char, c_int, c_long, c_void};
use std::sync::OnceLock;

use libloading::Library;

/// The library's file name, as `dlopen` and the runtime package's
/// `Depends` lookup (`dpkg-query --search`) see it.
pub const SONAME: &str = "libxml2.so.2";

/// `xmlParserOption`: no network access.
pub const XML_PARSE_NONET: c_int = 1 << 11;
/// `xmlParserOption`: CDATA sections as text nodes.
pub const XML_PARSE_NOCDATA: c_int = 1 << 14;
/// `xmlCharEncoding`: detect the encoding.
pub const XML_CHAR_ENCODING_NONE: c_int = 0;

/// libxml2's byte type for UTF-8 strings.
pub type XmlChar = u8;

macro_rules! opaque {
    ($($(#[$doc:meta])* $name:ident;)*) => {
        $($(#[$doc])* #[repr(C)] pub struct $name { _private: [u8; 0] })*
    };
}

opaque! {
    /// `xmlDoc`.
    Doc;
    /// `xmlNode`.
    XmlNode;
    /// `xmlParserCtxt`.
    ParserCtxt;
    /// `xmlParserInputBuffer`.
    InputBuffer;
    /// `xmlSchema`.
    SchemaPtr;
    /// `xmlSchemaParserCtxt`.
    SchemaParserCtxt;
    /// `xmlSchemaValidCtxt`.
    ValidCtxt;
    /// `xmlTextReader`.
    TextReader;
}

/// `xmlError`: the fields confpack reads, then the rest of the layout.
#[repr(C)]
pub struct XmlError {
    pub domain: c_int,
    pub code: c_int,
    pub message: *mut c_char,
    pub level: c_int,
    pub file: *mut c_char,
    pub line: c_int,
    pub str1: *mut c_char,
    pub str2: *mut c_char,
    pub str3: *mut c_char,
    pub int1: c_int,
    pub int2: c_int,
    pub ctxt: *mut c_void,
    pub node: *mut c_void,
}

/// `xmlParserInput`: only its first two fields are touched (the file name
/// a remote include's relative references resolve against).
#[repr(C)]
pub struct ParserInput {
    pub buf: *mut InputBuffer,
    pub filename: *const c_char,
}

/// `xmlStructuredErrorFunc` (the error is `const` since 2.12; same ABI).
pub type StructuredErrorFunc = Option<unsafe extern "C" fn(*mut c_void, *const XmlError)>;
/// `xmlExternalEntityLoader`.
pub type EntityLoader =
    Option<unsafe extern "C" fn(*const c_char, *const c_char, *mut ParserCtxt) -> *mut ParserInput>;
/// `xmlInputReadCallback`.
pub type ReadCallback = Option<unsafe extern "C" fn(*mut c_void, *mut c_char, c_int) -> c_int>;
/// `xmlInputCloseCallback`.
pub type CloseCallback = Option<unsafe extern "C" fn(*mut c_void) -> c_int>;

/// Declares the functions of [`Api`] once: the struct's fields and how
/// each is resolved by name.
macro_rules! api {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// The libxml2 functions confpack calls, resolved from the loaded
        /// library (which the struct keeps loaded).
        #[allow(non_snake_case)]
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
            /// `xmlFree`, a variable in libxml2 (the allocator it was set up with).
            pub xmlFree: unsafe extern "C" fn(*mut c_void),
            _library: Library,
        }

        impl Api {
            /// # Safety
            /// `library` must be libxml2 (the declared signatures are its).
            unsafe fn resolve(library: Library) -> Result<Api, String> {
                // SAFETY: the caller promises libxml2; each symbol is
                // copied out as the function type libxml2 declares.
                unsafe {
                    let free = *library
                        .get::<*const Option<unsafe extern "C" fn(*mut c_void)>>(b"xmlFree\0")
                        .map_err(|e| describe("xmlFree", &e))?;
                    let xml_free = free
                        .as_ref()
                        .and_then(|f| *f)
                        .ok_or_else(|| "xmlFree is not set".to_string())?;
                    Ok(Api {
                        $($name: *library
                            .get(concat!(stringify!($name), "\0").as_bytes())
                            .map_err(|e| describe(stringify!($name), &e))?,)*
                        xmlFree: xml_free,
                        _library: library,
                    })
                }
            }
        }
    };
}

api! {
    xmlInitParser: fn();
    xmlSetExternalEntityLoader: fn(EntityLoader);
    xmlNoNetExternalEntityLoader: fn(*const c_char, *const c_char, *mut ParserCtxt) -> *mut ParserInput;
    xmlParserInputBufferCreateMem: fn(*const c_char, c_int, c_int) -> *mut InputBuffer;
    xmlNewIOInputStream: fn(*mut ParserCtxt, *mut InputBuffer, c_int) -> *mut ParserInput;
    xmlFreeParserInputBuffer: fn(*mut InputBuffer);
    xmlCharStrdup: fn(*const c_char) -> *mut XmlChar;
    xmlSetGenericErrorFunc: fn(*mut c_void, *const c_void);
    xmlSetStructuredErrorFunc: fn(*mut c_void, StructuredErrorFunc);
    xmlReadMemory: fn(*const c_char, c_int, *const c_char, *const c_char, c_int) -> *mut Doc;
    xmlFreeDoc: fn(*mut Doc);
    xmlSchemaNewMemParserCtxt: fn(*const c_char, c_int) -> *mut SchemaParserCtxt;
    xmlSchemaNewDocParserCtxt: fn(*mut Doc) -> *mut SchemaParserCtxt;
    xmlSchemaNewParserCtxt: fn(*const c_char) -> *mut SchemaParserCtxt;
    xmlSchemaSetParserStructuredErrors: fn(*mut SchemaParserCtxt, StructuredErrorFunc, *mut c_void);
    xmlSchemaParse: fn(*mut SchemaParserCtxt) -> *mut SchemaPtr;
    xmlSchemaFreeParserCtxt: fn(*mut SchemaParserCtxt);
    xmlSchemaFree: fn(*mut SchemaPtr);
    xmlSchemaNewValidCtxt: fn(*mut SchemaPtr) -> *mut ValidCtxt;
    xmlSchemaSetValidStructuredErrors: fn(*mut ValidCtxt, StructuredErrorFunc, *mut c_void);
    xmlSchemaFreeValidCtxt: fn(*mut ValidCtxt);
    xmlReaderForIO: fn(ReadCallback, CloseCallback, *mut c_void, *const c_char, *const c_char, c_int) -> *mut TextReader;
    xmlFreeTextReader: fn(*mut TextReader);
    xmlTextReaderSchemaValidateCtxt: fn(*mut TextReader, *mut ValidCtxt, c_int) -> c_int;
    xmlTextReaderRead: fn(*mut TextReader) -> c_int;
    xmlTextReaderNodeType: fn(*mut TextReader) -> c_int;
    xmlTextReaderCurrentNode: fn(*mut TextReader) -> *mut XmlNode;
    xmlTextReaderConstLocalName: fn(*mut TextReader) -> *const XmlChar;
    xmlTextReaderConstNamespaceUri: fn(*mut TextReader) -> *const XmlChar;
    xmlTextReaderConstValue: fn(*mut TextReader) -> *const XmlChar;
    xmlTextReaderIsEmptyElement: fn(*mut TextReader) -> c_int;
    xmlTextReaderIsValid: fn(*mut TextReader) -> c_int;
    xmlTextReaderGetAttribute: fn(*mut TextReader, *const XmlChar) -> *mut XmlChar;
    xmlTextReaderGetAttributeNs: fn(*mut TextReader, *const XmlChar, *const XmlChar) -> *mut XmlChar;
    xmlTextReaderGetParserLineNumber: fn(*mut TextReader) -> c_int;
    xmlGetLineNo: fn(*const XmlNode) -> c_long;
}

/// What `dlopen`/`dlsym` said about `name` (libloading's own message is
/// only "dlopen failed"; the reason is its source).
fn describe(name: &str, error: &libloading::Error) -> String {
    match std::error::Error::source(error) {
        Some(reason) => reason.to_string(),
        None => format!("{name}: {error}"),
    }
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// libxml2, loaded and initialised on the first call; why not, with what
/// to install.
pub fn api() -> Result<&'static Api, String> {
    API.get_or_init(|| load(SONAME))
        .as_ref()
        .map_err(|reason| missing(reason))
}

fn missing(reason: &str) -> String {
    format!(
        "cannot load libxml2, which reads environment documents and schemas \
         ({reason}); install it: apt-get install libxml2"
    )
}

/// libxml2 if it was loaded already (for its callbacks, which only run
/// after it was).
pub fn loaded() -> Option<&'static Api> {
    API.get().and_then(|api| api.as_ref().ok())
}

fn load(soname: &str) -> Result<Api, String> {
    // SAFETY: libxml2's initialisers are safe to run (it is a plain C
    // library); the declared signatures are libxml2's.
    unsafe {
        let library = Library::new(soname).map_err(|e| describe(soname, &e))?;
        let api = Api::resolve(library)?;
        (api.xmlInitParser)();
        Ok(api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once() {
        let api = api().expect("libxml2 is installed where the tests run");
        assert!(std::ptr::eq(api, loaded().expect("loaded")));
        assert!(
            std::ptr::eq(api, super::api().expect("again")),
            "loaded once"
        );
    }

    #[test]
    fn a_missing_library_names_the_package_to_install() {
        let Err(reason) = load("libxml2-not-here.so.2") else {
            panic!("no such library");
        };
        let message = missing(&reason);
        assert!(message.contains("libxml2-not-here.so.2"), "{message}");
        assert!(
            message.ends_with("install it: apt-get install libxml2"),
            "{message}"
        );
    }

    #[test]
    fn a_library_without_the_functions_is_refused_with_the_missing_name() {
        // libc is loaded in every process and has none of libxml2's names.
        let library = unsafe { Library::new("libc.so.6") }.expect("libc");
        let Err(reason) = (unsafe { Api::resolve(library) }) else {
            panic!("libc is not libxml2");
        };
        assert!(reason.contains("xmlFree"), "{reason}");
    }
}
