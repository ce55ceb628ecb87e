//! Sanitising (spec §5) and the canonical `val` (spec §6).
//!
//! The old job edited the ASCII `json.dumps` text and parsed it again. Every
//! pattern it replaces lies inside one string literal of that text, and each edit
//! maps to the same edit on the unescaped string, with one exception: a string
//! holding the six characters `\u0000` literally (escaped as `\\u0000`), where
//! removing `\u0000` breaks the escape and can even end the string early. So the
//! fast path edits keys and strings in the tree, and only documents with that
//! literal text take the textual path, which is also the reference the property
//! tests compare the fast path against.

use std::borrow::Cow;

use memchr::memmem;

use crate::json::{Value, any_byte, bytes_equal, parse, write_ascii, write_canonical};

use super::corrupt::{Corrupt, CorruptReason};

/// The text edits of spec §5 on a string, if any applies; `strip` is §5.1.
fn sanitise_str(s: &str, strip: bool) -> Option<Cow<'static, str>> {
    let bytes = s.as_bytes();
    // One pass rules out most strings (uuids, dates, words).
    if !may_need_edit(bytes, strip) {
        return None;
    }
    if s == "$date" {
        // The key every date wrapping creates: no allocation for it.
        return Some(Cow::Borrowed("d_date"));
    }
    let mut hit = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'$' | 0 => hit = true,
            b'_' if bytes[i..].starts_with(b"_archived") => hit = true,
            b'\n' | b'\r' if strip => hit = true,
            _ => continue,
        }
        break;
    }
    if !hit {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev = '\0';
    for c in s.chars() {
        match c {
            // §5.1: an escaped \r or \n not preceded by a backslash; in the escaped
            // text only a literal backslash ends with `\`.
            '\n' | '\r' if strip && prev != '\\' => {}
            '$' => out.push_str("d_"),
            '\0' => {}
            other => out.push(other),
        }
        prev = c;
    }
    // `_archivedDateTime` -> `_removedDateTime` is subsumed by this replacement.
    if memmem::find(out.as_bytes(), b"_archived").is_some() {
        out = out.replace("_archived", "_removed");
    }
    Some(Cow::Owned(out))
}

/// Whether `bytes` holds a byte an edit of [`sanitise_str`] starts at: `$`,
/// NUL, `_`, and with `strip` a newline or carriage return.
fn may_need_edit(bytes: &[u8], strip: bool) -> bool {
    let newline = |w: u64| {
        if strip {
            bytes_equal(w, b'\n') | bytes_equal(w, b'\r')
        } else {
            0
        }
    };
    any_byte(
        bytes,
        |w| bytes_equal(w, b'$') | bytes_equal(w, 0) | bytes_equal(w, b'_') | newline(w),
        |b| (b == b'$') | (b == 0) | (b == b'_') | (strip & ((b == b'\n') | (b == b'\r'))),
    )
}

fn has_literal_nul_escape(s: &str) -> bool {
    memchr::memchr(b'\\', s.as_bytes()).is_some()
        && memmem::find(s.as_bytes(), br"\u0000").is_some()
}

/// Whether any key or string holds the literal text `\u0000`.
fn needs_text_path(v: &Value<'_>) -> bool {
    match v {
        Value::Str(s) => has_literal_nul_escape(s),
        Value::Array(items) => items.iter().any(needs_text_path),
        Value::Object(o) => o
            .entries
            .iter()
            .any(|(k, v)| has_literal_nul_escape(k) || needs_text_path(v)),
        _ => false,
    }
}

fn sanitise_tree(v: &mut Value<'_>, strip: bool) {
    match v {
        Value::Str(s) => {
            if let Some(new) = sanitise_str(s, strip) {
                *s = new;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| sanitise_tree(item, strip)),
        Value::Object(o) => {
            for (k, item) in o.entries.iter_mut() {
                if let Some(new) = sanitise_str(k, strip) {
                    *k = new;
                }
                sanitise_tree(item, strip);
            }
            // Renamed keys may now be equal: write_canonical keeps the last.
        }
        _ => {}
    }
}

/// Spec §5.1's regex `(?<!\\)\\[r|n]` removed from a text.
fn strip_escapes_text(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && matches!(b.get(i + 1), Some(b'r' | b'|' | b'n'))
            && (i == 0 || b[i - 1] != b'\\')
        {
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    // Only ASCII pairs were removed from an ASCII text.
    String::from_utf8(out).unwrap_or_default()
}

/// Spec §5 on the ASCII text, exactly as the old job did it.
pub fn sanitise_text(text: &str, strip: bool) -> String {
    let stripped;
    let text = if strip {
        stripped = strip_escapes_text(text);
        stripped.as_str()
    } else {
        text
    };
    text.replace('$', "d_")
        .replace(r"\u0000", "")
        .replace("_archivedDateTime", "_removedDateTime")
        .replace("_archived", "_removed")
}

/// The textual path: dumps, edits, parses again and writes canonically.
pub fn canonical_val_via_text(
    doc: &Value<'_>,
    strip: bool,
    out: &mut Vec<u8>,
) -> Result<(), Corrupt> {
    let mut ascii = Vec::new();
    write_ascii(doc, &mut ascii);
    // write_ascii emits ASCII only.
    let text = String::from_utf8(ascii).unwrap_or_default();
    let edited = sanitise_text(&text, strip);
    let mut reparsed = parse(&edited).map_err(|e| {
        Corrupt::new(
            CorruptReason::InvalidDocument,
            "dbObject",
            format!("sanitised text is no longer JSON: {e}"),
        )
    })?;
    out.clear();
    write_canonical(&mut reparsed, out);
    Ok(())
}

/// Sanitises the validated document and writes its canonical `val` into `out`.
pub fn canonical_val(doc: Value<'_>, strip: bool, out: &mut Vec<u8>) -> Result<(), Corrupt> {
    canonical_val_from(doc, strip, true, out)
}

/// As [`canonical_val`], told whether any key or string may hold a backslash:
/// when none can, none holds the literal `\u0000`, and the walk looking for
/// it (a twentieth of a day's instructions) is skipped.
pub(crate) fn canonical_val_from(
    mut doc: Value<'_>,
    strip: bool,
    may_hold_backslash: bool,
    out: &mut Vec<u8>,
) -> Result<(), Corrupt> {
    if may_hold_backslash && needs_text_path(&doc) {
        return canonical_val_via_text(&doc, strip, out);
    }
    sanitise_tree(&mut doc, strip);
    out.clear();
    write_canonical(&mut doc, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str, strip: bool) -> (Result<String, Corrupt>, Result<String, Corrupt>) {
        let doc = parse(text).unwrap();
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        let f =
            canonical_val(doc.clone(), strip, &mut fast).map(|()| String::from_utf8(fast).unwrap());
        let s = canonical_val_via_text(&doc, strip, &mut slow)
            .map(|()| String::from_utf8(slow).unwrap());
        (f, s)
    }

    #[test]
    fn replacements_in_keys_and_values() {
        let (f, s) = both(
            r#"{"$set": "a$b", "x_archivedDateTime": "_archived\u0000", "$archived": 1}"#,
            false,
        );
        assert_eq!(f, s);
        assert_eq!(
            f.unwrap(),
            r#"{"d_removed":1,"d_set":"ad_b","x_removedDateTime":"_removed"}"#
        );
    }

    #[test]
    fn strip_rule_keeps_newline_after_backslash() {
        let (f, s) = both(r#"{"a": "x\ny\r\\\nz\\n|"}"#, true);
        assert_eq!(f, s);
        assert_eq!(f.unwrap(), r#"{"a":"xy\\\nz\\n|"}"#);
    }

    #[test]
    fn renamed_keys_collide_last_wins() {
        let (f, s) = both(
            r#"{"d_a": 1, "$a": 2, "_archived": 3, "_removed": 4}"#,
            false,
        );
        assert_eq!(f, s);
        assert_eq!(f.unwrap(), r#"{"_removed":4,"d_a":2}"#);
    }

    /// Told that no string holds a backslash, the result is the same for
    /// documents without one (the only ones the pipeline says it of).
    #[test]
    fn skipping_the_backslash_walk_changes_nothing_without_backslashes() {
        for (text, strip) in [
            (
                r#"{"$set": "a$b", "x_archivedDateTime": "_archived\u0000", "k": [1, "\n"]}"#,
                true,
            ),
            (
                r#"{"d_a": 1, "$a": 2, "_archived": 3, "_removed": 4, "t": "é"}"#,
                false,
            ),
        ] {
            let doc = parse(text).unwrap();
            assert!(
                !doc_strings(&doc).iter().any(|s| s.contains('\\')),
                "{text}"
            );
            let (mut walked, mut skipped) = (Vec::new(), Vec::new());
            canonical_val(doc.clone(), strip, &mut walked).unwrap();
            canonical_val_from(doc, strip, false, &mut skipped).unwrap();
            assert_eq!(walked, skipped, "{text}");
        }
    }

    fn doc_strings(v: &Value<'_>) -> Vec<String> {
        match v {
            Value::Str(s) => vec![s.to_string()],
            Value::Array(items) => items.iter().flat_map(doc_strings).collect(),
            Value::Object(o) => o
                .entries
                .iter()
                .flat_map(|(k, v)| {
                    let mut all = doc_strings(v);
                    all.push(k.to_string());
                    all
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn literal_backslash_u0000_takes_the_text_path() {
        // `"\\u0000"` then `"b"`: the edit eats the escape and the text breaks.
        let (f, s) = both(r#"{"a": "x\\u0000", "b": 1}"#, false);
        assert_eq!(f, s);
        assert_eq!(f.unwrap_err().reason, CorruptReason::InvalidDocument);
        // In the middle of a string it leaves `\y`, also not JSON.
        let (f, _) = both(r#"{"a": "\\u0000y"}"#, false);
        assert!(f.is_err());
        // A real NUL after a literal backslash is fine: `\\` + `\u0000`.
        let (f, s) = both(r#"{"a": "\\\u0000"}"#, false);
        assert_eq!(f, s);
        assert_eq!(f.unwrap(), r#"{"a":"\\"}"#);
    }

    /// The word-at-a-time test agrees with a byte-wise one on every byte
    /// value at every offset, with and without the strip rule.
    #[test]
    fn may_need_edit_agrees_with_a_bytewise_test() {
        for strip in [false, true] {
            crate::json::assert_agrees_bytewise(
                |text| may_need_edit(text, strip),
                |b| matches!(b, b'$' | 0 | b'_') || (strip && matches!(b, b'\n' | b'\r')),
            );
        }
    }
}
