//! Validation (spec §4): delete detection, last-modified, date wrapping, the
//! archived/removed rule and `_id` wrapping, all on the document tree.

use std::borrow::Cow;

use crate::json::{Object, Value, date_object};

use super::corrupt::{Corrupt, CorruptReason, PathSeg, render_path};
use super::date::{DateError, UtcDateTime, looks_like_wrapped_date, parse_py_datetime};

/// What validation learnt about a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    /// `_removedDateTime` was present (whatever its value).
    pub is_delete: bool,
    /// The record's last-modified instant, UTC.
    pub last_modified: UtcDateTime,
}

const EPOCH: &str = "1980-01-01T00:00:00.000Z";

/// A date that would not parse, found at a path built while unwinding.
struct DateFail {
    /// Innermost segment first.
    reversed_path: Vec<PathSeg>,
    error: DateError,
}

impl DateFail {
    fn new(error: DateError) -> Self {
        Self {
            reversed_path: Vec::new(),
            error,
        }
    }

    fn into_corrupt(mut self) -> Corrupt {
        self.reversed_path.reverse();
        Corrupt::new(
            CorruptReason::BadDate,
            render_path("dbObject", &self.reversed_path),
            self.error,
        )
    }

    fn at(mut self, seg: PathSeg) -> Self {
        self.reversed_path.push(seg);
        self
    }
}

fn reformat(text: &str) -> Result<(UtcDateTime, String), DateError> {
    let parsed = parse_py_datetime(text)?;
    Ok((parsed, parsed.format_millis()))
}

/// Spec §4.2: the first non-empty of the three keys, or the 1980 epoch.
fn last_modified_candidate<'d, 'a>(doc: &'d Object<'a>) -> Option<(&'static str, &'d Value<'a>)> {
    for key in [
        "_lastModifiedDateTime",
        "_removedDateTime",
        "createdDateTime",
    ] {
        let Some(v) = doc.get(key) else { continue };
        if !v.is_truthy() {
            continue;
        }
        let candidate = match v {
            Value::Object(o) => match o.get("$date") {
                Some(d) if d.is_truthy() => d,
                _ => continue,
            },
            other => other,
        };
        return Some((key, candidate));
    }
    None
}

/// Runs spec §4.1 to §4.5 on `doc` in place.
pub(crate) fn validate(doc: &mut Object<'_>) -> Result<Validated, Corrupt> {
    let is_delete = doc.contains_key("_removedDateTime");

    let (last_modified, formatted) = match last_modified_candidate(doc) {
        Some((key, candidate)) => {
            let bad = |error: DateError| {
                Corrupt::new(CorruptReason::BadDate, format!("dbObject.{key}"), error)
            };
            match candidate {
                Value::Str(text) => reformat(text).map_err(bad)?,
                // Python's str() of a number, boolean or container never matches
                // the format, so strptime fails on it.
                _ => return Err(bad(DateError::NoMatch)),
            }
        }
        None => reformat(EPOCH).map_err(|e| Corrupt::new(CorruptReason::BadDate, "epoch", e))?,
    };
    doc.insert("_lastModifiedDateTime", date_object(formatted));

    wrap_object(doc).map_err(DateFail::into_corrupt)?;

    if doc.contains_key("_archivedDateTime") && doc.contains_key("_removedDateTime") {
        doc.remove("_archivedDateTime");
    }

    if let Some(id) = doc.get_mut("_id")
        && id.is_primitive()
    {
        let text = id.py_str().map(Cow::into_owned).unwrap_or_default();
        let mut wrapped = Object::new();
        wrapped.insert("$oid", Value::Str(Cow::Owned(text)));
        *id = Value::Object(wrapped);
    }

    Ok(Validated {
        is_delete,
        last_modified,
    })
}

/// A mongo date object: exactly one key, `$date`, holding a truthy primitive.
fn is_mongo_date(o: &Object<'_>) -> bool {
    o.len() == 1
        && o.entries[0].0 == "$date"
        && o.entries[0].1.is_primitive()
        && o.entries[0].1.is_truthy()
}

/// Wraps a bare date string as `{"$date": reformatted}`, if it looks like one.
fn wrap_string(v: &mut Value<'_>) -> Result<(), DateError> {
    if let Value::Str(s) = v
        && looks_like_wrapped_date(s)
    {
        let (_, text) = reformat(s)?;
        *v = date_object(text);
    }
    Ok(())
}

/// Walks an object's values (spec §4.3).
fn wrap_object(o: &mut Object<'_>) -> Result<(), DateFail> {
    for (key, v) in o.entries.iter_mut() {
        let result = match v {
            Value::Object(inner) if is_mongo_date(inner) => {
                let slot = &mut inner.entries[0].1;
                let reformatted = match slot {
                    Value::Str(s) => reformat(s).map(|(_, text)| text),
                    _ => Err(DateError::NoMatch),
                };
                match reformatted {
                    Ok(text) => {
                        *slot = Value::Str(Cow::Owned(text));
                        Ok(())
                    }
                    Err(error) => Err(DateFail::new(error).at(PathSeg::Key("$date".to_owned()))),
                }
            }
            Value::Object(inner) => wrap_object(inner),
            Value::Array(items) => wrap_array(items),
            Value::Str(_) => wrap_string(v).map_err(DateFail::new),
            _ => Ok(()),
        };
        result.map_err(|fail| fail.at(PathSeg::Key(key.to_string())))?;
    }
    Ok(())
}

/// Walks an array: objects inside arrays are never taken as mongo date objects
/// (the old job's quirk, kept on purpose).
fn wrap_array(items: &mut [Value<'_>]) -> Result<(), DateFail> {
    for (i, v) in items.iter_mut().enumerate() {
        let result = match v {
            Value::Object(inner) => wrap_object(inner),
            Value::Array(inner) => wrap_array(inner),
            Value::Str(_) => wrap_string(v).map_err(DateFail::new),
            _ => Ok(()),
        };
        result.map_err(|fail| fail.at(PathSeg::Index(i)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn run(text: &str) -> Result<(Validated, String), Corrupt> {
        let Value::Object(mut doc) = parse(text).unwrap() else {
            panic!("not an object")
        };
        let v = validate(&mut doc)?;
        Ok((v, Value::Object(doc).to_string()))
    }

    #[test]
    fn last_modified_priority_and_epoch() {
        let (v, _) =
            run(r#"{"createdDateTime": "2001-01-01T00:00:00.000Z", "_removedDateTime": null}"#)
                .unwrap();
        assert!(v.is_delete);
        assert_eq!(v.last_modified.format_millis(), "2001-01-01T00:00:00.000Z");
        let (v, out) = run(r#"{"_lastModifiedDateTime": {"$date": ""}}"#).unwrap();
        assert!(!v.is_delete);
        assert_eq!(
            out,
            r#"{"_lastModifiedDateTime": {"$date": "1980-01-01T00:00:00.000Z"}}"#
        );
        let err = run(r#"{"_lastModifiedDateTime": 5}"#).unwrap_err();
        assert_eq!(
            (err.reason, err.field.as_str()),
            (CorruptReason::BadDate, "dbObject._lastModifiedDateTime")
        );
    }

    #[test]
    fn array_quirk_and_paths() {
        let (_, out) =
            run(r#"{"a": [{"$date": "2019-12-14T15:01:02.000+0000"}, {"$date": "nope"}]}"#)
                .unwrap();
        assert_eq!(
            out,
            r#"{"a": [{"$date": {"$date": "2019-12-14T15:01:02.000Z"}}, {"$date": "nope"}], "_lastModifiedDateTime": {"$date": "1980-01-01T00:00:00.000Z"}}"#
        );
        let err = run(r#"{"a": {"b": [1, {"c": "2019-13-14T15:01:02.000+0000"}]}}"#).unwrap_err();
        assert_eq!(err.field, "dbObject.a.b[1].c");
        let err = run(r#"{"x": {"$date": true}}"#).unwrap_err();
        assert_eq!(err.field, "dbObject.x.$date");
    }

    #[test]
    fn id_wrapping_and_archived_drop() {
        let (_, out) =
            run(r#"{"_id": 1.5, "_archivedDateTime": 0, "_removedDateTime": 0}"#).unwrap();
        assert_eq!(
            out,
            r#"{"_id": {"$oid": "1.5"}, "_removedDateTime": 0, "_lastModifiedDateTime": {"$date": "1980-01-01T00:00:00.000Z"}}"#
        );
        let (_, out) = run(r#"{"_id": true}"#).unwrap();
        assert!(out.starts_with(r#"{"_id": {"$oid": "True"}"#));
    }
}
