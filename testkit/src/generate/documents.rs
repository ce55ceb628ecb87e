//! Realistic MongoDB documents, as the producers write them: Python-style
//! separators, dates as strings and `$date` objects, nested parts, non-ASCII
//! names.

use std::fmt::Write;

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The shape of a collection's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `calculator:calculationParts`: `_id: {"id": uuid}`, money and parts.
    CalculationParts,
    /// `data:businessAudit`: `context` + `auditType`.
    BusinessAudit,
    /// Anything else: a claimant-like document, sometimes with a primitive `_id`.
    Generic,
}

const PART_TYPES: [&str; 4] = [
    "CARER_ELEMENT",
    "CHILD_ELEMENT",
    "HOUSING_ELEMENT",
    "STANDARD_ALLOWANCE",
];
const AUDIT_TYPES: [&str; 5] = [
    "TODO_COMPLETED",
    "CLAIM_SUBMITTED",
    "PAYMENT_ISSUED",
    "NOTE_ADDED",
    "LOGIN",
];
const FIRST: [&str; 6] = ["Dafydd", "Gráinne", "Amira", "Zoë", "Jan", "Siân"];
const LAST: [&str; 6] = ["Müller", "ap Rhys", "O'Neill", "Nowak", "Øster", "Smith"];

/// A v4 UUID-shaped id.
pub fn uuid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.r#gen();
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SS.mmm+0000` within `day`.
pub fn timestamp(rng: &mut ChaCha8Rng, day: NaiveDate) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}+0000",
        day.format("%Y-%m-%d"),
        rng.gen_range(0..24),
        rng.gen_range(0..60),
        rng.gen_range(0..60),
        rng.gen_range(0..1000)
    )
}

fn past_date(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}-{:02}-{:02}T00:00:00.000+0000",
        rng.gen_range(2018..2024),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28)
    )
}

/// One document. `id` is the outer `_id` as JSON text; `modified` the record's
/// last-modified timestamp; `removed` makes it a delete.
pub fn document(
    shape: Shape,
    rng: &mut ChaCha8Rng,
    id: &str,
    modified: &str,
    removed: bool,
    out: &mut String,
) {
    out.clear();
    match shape {
        Shape::CalculationParts => calculation_part(rng, id, modified, removed, out),
        Shape::BusinessAudit => audit(rng, modified, out),
        Shape::Generic => claimant(rng, id, modified, removed, out),
    }
}

/// One calculationParts document in this many has no date at all.
const FALLBACK_DATE_ONE_IN: u32 = 5_000;

fn calculation_part(
    rng: &mut ChaCha8Rng,
    id: &str,
    modified: &str,
    removed: bool,
    out: &mut String,
) {
    let _ = write!(
        out,
        r#"{{"_id": {id}, "_version": {}, "contractId": "{}", "claimantIds": ["{}"], "assessmentPeriod": {{"number": {}, "startDate": {{"$date": "{}"}}, "endDate": "{}"}}, "calculationType": "{}", "status": "{}", "currency": "GBP", "amount": {:.2}, "amountPence": {}, "manualOverride": false, "calculatedBy": {{"system": "calculator", "version": "5.0.8", "agentId": "{}"}}, "parts": ["#,
        rng.gen_range(1..4),
        uuid(rng),
        uuid(rng),
        rng.gen_range(1..100),
        past_date(rng),
        past_date(rng),
        PART_TYPES[rng.gen_range(0..PART_TYPES.len())],
        if removed { "SUPERSEDED" } else { "CURRENT" },
        rng.gen_range(0.0..2000.0),
        rng.gen_range(0..200_000),
        uuid(rng),
    );
    for p in 0..rng.gen_range(1..5) {
        if p > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            r#"{{"partType": "{}", "amount": {:.2}, "effectiveFrom": {{"$date": "{}"}}, "included": {}, "reason": "AUTO", "notes": "{}"}}"#,
            PART_TYPES[rng.gen_range(0..PART_TYPES.len())],
            rng.gen_range(0.0..2000.0),
            past_date(rng),
            if rng.gen_bool(0.5) { "true" } else { "false" },
            "x".repeat(rng.gen_range(0..24)),
        );
    }
    // As in real dumps, a few documents carry none of the dates the
    // pipeline takes `last_modified` from, and fall back to 1980-01-01.
    if rng.gen_range(0..FALLBACK_DATE_ONE_IN) == 0 && !removed {
        out.push(']');
    } else {
        let _ = write!(
            out,
            r#"], "createdDateTime": "{modified}", "_lastModifiedDateTime": {{"$date": "{modified}"}}"#
        );
    }
    if removed {
        let _ = write!(out, r#", "_removedDateTime": {{"$date": "{modified}"}}"#);
    }
    out.push('}');
}

fn audit(rng: &mut ChaCha8Rng, modified: &str, out: &mut String) {
    let _ = write!(
        out,
        r#"{{"auditType": "{}", "context": {{"AUDIT_ID": "{}", "CITIZEN_ID": "{}", "CHANNEL": "{}", "SESSION_ID": "{:016x}", "IP_ADDRESS": "10.{}.{}.{}", "EVENT_DATE_TIME": {{"$date": "{modified}"}}, "DETAILS": {{"name": {{"first": "{}", "last": "{}"}}, "notes": "Claimant called re: payment", "items": [{}, "{modified} follow-up booked"]}}}}, "_lastModifiedDateTime": "{modified}"}}"#,
        AUDIT_TYPES[rng.gen_range(0..AUDIT_TYPES.len())],
        uuid(rng),
        uuid(rng),
        ["PHONE", "WEB", "POST"][rng.gen_range(0..3)],
        rng.r#gen::<u64>(),
        rng.gen_range(0..256),
        rng.gen_range(0..256),
        rng.gen_range(0..256),
        FIRST[rng.gen_range(0..FIRST.len())],
        LAST[rng.gen_range(0..LAST.len())],
        rng.gen_range(0..100),
    );
}

fn claimant(rng: &mut ChaCha8Rng, id: &str, modified: &str, removed: bool, out: &mut String) {
    let _ = write!(
        out,
        r#"{{"_id": {id}, "_version": 1, "nino": "QQ{:06}A", "name": {{"first": "{}", "last": "{}"}}, "dateOfBirth": "{}-{:02}-{:02}", "contact": {{"email": "user{}@example.org", "phone": "07{:09}", "welshLanguage": {}}}, "claims": [{{"claimId": "{}", "state": "OPEN", "startedOn": "{modified}"}}], "adjustments": [], "meta": {{}}, "createdDateTime": "{modified}", "_lastModifiedDateTime": {{"$date": "{modified}"}}"#,
        rng.gen_range(0..1_000_000),
        FIRST[rng.gen_range(0..FIRST.len())],
        LAST[rng.gen_range(0..LAST.len())],
        rng.gen_range(1940..2005),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
        rng.gen_range(0..100_000),
        rng.gen_range(0..1_000_000_000),
        if rng.gen_bool(0.1) { "true" } else { "false" },
        uuid(rng),
    );
    if removed {
        let _ = write!(out, r#", "_removedDateTime": {{"$date": "{modified}"}}"#);
    }
    out.push('}');
}
