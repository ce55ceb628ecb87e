//! Python-compatible JSON: the document tree, a parser with CPython's rules, and
//! the two serialisations of the old job (ASCII `json.dumps` and the canonical
//! sorted, compact UTF-8 form), with Python's float `repr`.
//!
//! ```
//! use weir_engine::json::{parse, write_canonical};
//!
//! let mut doc = parse(r#"{"b": 1E400, "a": [1.0, 1e16, NaN], "b": "é"}"#).unwrap();
//! let mut out = Vec::new();
//! write_canonical(&mut doc, &mut out);
//! assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":[1.0,1e+16,NaN],"b":"é"}"#);
//! ```
//!
//! serde_json cannot be used on the record path: it rejects `NaN`, keeps the first
//! of duplicate keys, loses big integers and formats floats differently.

mod float;
mod parse;
mod value;
mod words;
mod write;

pub use parse::{MAX_DEPTH, ParseError, ParseErrorKind, parse};
pub use value::{Object, Value};
pub use write::{canonical_string, write_ascii, write_ascii_str, write_canonical, write_utf8_str};

pub(crate) use value::date_object;
#[cfg(test)]
pub(crate) use words::assert_agrees_bytewise;
pub(crate) use words::{any_byte, equal as bytes_equal};
