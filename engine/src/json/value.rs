//! The document tree: what CPython's `json.loads` builds, with strings borrowed
//! from the input where they need no unescaping.

use std::borrow::Cow;

/// A JSON value with Python's semantics.
///
/// Integers keep their exact decimal text (Python ints are unbounded); floats are
/// `f64` like Python's `float`; objects keep insertion order with unique keys, as a
/// Python `dict` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null` (`None`).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer, as canonical decimal text (`-0` is stored as `0`).
    Int(Cow<'a, str>),
    /// A float: anything with a fraction or an exponent, and `NaN` / `Infinity`.
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object.
    Object(Object<'a>),
}

impl<'a> Value<'a> {
    /// Python truthiness: `None`, `False`, `0`, `0.0`, `""`, `[]` and `{}` are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(text) => text.as_ref() != "0",
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    /// A JSON primitive in the spec's sense: string, number or boolean (not null).
    pub fn is_primitive(&self) -> bool {
        matches!(
            self,
            Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_)
        )
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Python's `str(value)` for primitives and `None`; `None` for containers,
    /// whose Python `str` (a `repr` of a dict or list) the pipeline never needs.
    pub fn py_str(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Null => Cow::Borrowed("None"),
            Value::Bool(true) => Cow::Borrowed("True"),
            Value::Bool(false) => Cow::Borrowed("False"),
            Value::Int(text) => Cow::Borrowed(text.as_ref()),
            Value::Float(f) => {
                let mut s = String::new();
                super::float::write_py_str(*f, &mut s);
                Cow::Owned(s)
            }
            Value::Str(s) => Cow::Borrowed(s.as_ref()),
            Value::Array(_) | Value::Object(_) => return None,
        })
    }

    /// Converts borrowed strings to owned ones, detaching the value from its input.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(t) => Value::Int(Cow::Owned(t.into_owned())),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(Object {
                entries: o
                    .entries
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            }),
        }
    }

    /// A short name of the type, for error messages (never the value itself).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

/// A JSON object with Python `dict` semantics: insertion order, unique keys; setting
/// an existing key replaces its value in place, a new key goes to the end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a> {
    pub(crate) entries: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl<'a> Object<'a> {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` is present (whatever its value, even `null`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.as_ref() == key)
    }

    /// `dict[key] = value`: replaces in place, or appends a new key.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.entries.push((key, value)),
        }
    }

    /// `dict.pop(key, None)`: removes a key, keeping the order of the rest.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        let at = self.entries.iter().position(|(k, _)| k.as_ref() == key)?;
        Some(self.entries.remove(at).1)
    }

    /// Iterates in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Appends without checking for an existing key: for date wrapping,
    /// which adds the one key of a new object, and for building test
    /// documents. (The parser gathers an object's members itself.)
    pub(crate) fn push_unchecked(&mut self, key: Cow<'a, str>, value: Value<'a>) {
        self.entries.push((key, value));
    }
}

impl std::fmt::Display for Value<'_> {
    /// Python-style `json.dumps` text (ASCII, `", "` / `": "` separators).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = Vec::new();
        super::write::write_ascii(self, &mut out);
        // write_ascii only ever emits ASCII.
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// Builds the `{"$date": text}` object used by date wrapping.
pub(crate) fn date_object<'a>(text: String) -> Value<'a> {
    let mut o = Object::new();
    o.push_unchecked(Cow::Borrowed("$date"), Value::Str(Cow::Owned(text)));
    Value::Object(o)
}
