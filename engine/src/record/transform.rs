//! The audit reshape (spec §3): the record becomes its `context`, stamped
//! with the audit type and the outer last-modified time.

use std::borrow::Cow;

use crate::json::{Object, Value};

use super::corrupt::{Corrupt, CorruptReason};
use super::envelope::Envelope;

/// Reshapes an audit document; a missing or falsy `context` or `auditType`, or a
/// `context` that is not an object, makes the record corrupt.
pub(crate) fn audit_transform<'a>(
    envelope: &Envelope<'_>,
    mut doc: Object<'a>,
) -> Result<Object<'a>, Corrupt> {
    let ts: String = match envelope.last_modified() {
        Some(v) if v.is_primitive() => v.py_str().map(Cow::into_owned).unwrap_or_default(),
        _ => String::new(),
    };
    let context = doc.remove("context");
    let audit_type = doc.remove("auditType");
    let mut context = match context {
        Some(Value::Object(o)) if !o.is_empty() => o,
        Some(v) if v.is_truthy() => {
            return Err(Corrupt::new(
                CorruptReason::AuditShape,
                "dbObject.context",
                format!("is {}, not an object", v.type_name()),
            ));
        }
        _ => {
            return Err(Corrupt::new(
                CorruptReason::AuditShape,
                "dbObject.context",
                "missing or empty",
            ));
        }
    };
    let audit_type = match audit_type {
        Some(v) if v.is_truthy() => v,
        _ => {
            return Err(Corrupt::new(
                CorruptReason::AuditShape,
                "dbObject.auditType",
                "missing or empty",
            ));
        }
    };
    context.insert("AUDIT_EVENT", audit_type);
    context.insert("TIME_STAMP", Value::Str(Cow::Owned(ts.clone())));
    context.insert("TIME_STAMP_ORIG", Value::Str(Cow::Owned(ts)));
    Ok(context)
}
