//! Python-compatible JSON: the document tree, a parser with CPython's rules, and
//! the two serialisations of the old job (ASCII `json.dumps` and the canonical
//! sorted, compact UTF-8 form), with Python's float `repr`.
//!
//! serde_json cannot be used on the record path: it rejects `NaN`, keeps the first
//! of duplicate keys, loses big integers and formats floats differently.

mod float;
mod parse;
mod value;
mod write;

pub use parse::{MAX_DEPTH, ParseError, ParseErrorKind, parse};
pub use value::{Object, Value};
pub use write::{canonical_string, write_ascii, write_ascii_str, write_canonical, write_utf8_str};

pub(crate) use value::date_object;
