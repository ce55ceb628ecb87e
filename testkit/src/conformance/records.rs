//! `record-vectors.jsonl`: `{"case", "collection", "export_date", "message",
//! "plaintext", "expected"}`, where `expected` is `{"id", "id_part", "db_type",
//! "val"}` or `{"corrupt": true}`. The vector starts after decryption.

use std::path::Path;

use serde_json::Value as J;

use crate::Result;
use weir_engine::record::{
    Cipher, CollectionName, Corrupt, Envelope, RecordPipeline, RecordRules, Row, Scratch,
};

use super::{Failure, Report, read_lines, str_field, unreadable};

/// Chooses the rules for a case's collection (the ingesters' registry, or the
/// rules of the collection's ingester).
pub type RulesFor<'r> = &'r dyn Fn(&CollectionName) -> RecordRules;

/// Runs every case of a record vector file.
pub fn run_file(path: &Path, rules: RulesFor<'_>) -> Result<Report> {
    let mut report = Report::default();
    let mut scratch = Scratch::default();
    for (i, line) in read_lines(path)?.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        report.record(run_case(i + 1, line, rules, &mut scratch));
    }
    Ok(report)
}

/// What Weir does with one case: its row, or why it is corrupt.
pub fn process_case(
    collection: &CollectionName,
    rules: RecordRules,
    message: &str,
    plaintext: &str,
    scratch: &mut Scratch,
) -> Result<Row, Corrupt> {
    let pipeline = RecordPipeline::new(collection.clone(), rules, Cipher::Ctr);
    let envelope = Envelope::parse(message)?;
    pipeline.process_plaintext(&envelope, plaintext.as_bytes(), scratch)
}

fn show(v: Option<&str>) -> String {
    match v {
        Some(s) => s.to_owned(),
        None => "null".to_owned(),
    }
}

fn run_case(
    line_no: usize,
    line: &str,
    rules: RulesFor<'_>,
    scratch: &mut Scratch,
) -> Vec<Failure> {
    let case: J = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return vec![unreadable(line_no, format!("not JSON: {e}"))],
    };
    let id = case
        .get("case")
        .and_then(J::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("line {line_no}"));
    let fields = (
        str_field(&case, "collection"),
        str_field(&case, "message"),
        str_field(&case, "plaintext"),
        case.get("expected").and_then(J::as_object),
    );
    let (collection, message, plaintext, expected) = match fields {
        (Ok(c), Ok(m), Ok(p), Some(e)) => (c, m, p, e),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) => return vec![unreadable(line_no, e)],
        (.., None) => {
            return vec![unreadable(
                line_no,
                "field `expected` is not an object".into(),
            )];
        }
    };
    let failure = |field: &str, expected: String, got: String| Failure {
        case: id.clone(),
        field: field.to_owned(),
        expected,
        got,
    };
    let collection = match CollectionName::parse(collection) {
        Ok(c) => c,
        Err(e) => return vec![unreadable(line_no, e.to_string())],
    };
    let got = process_case(&collection, rules(&collection), message, plaintext, scratch);
    let expect_corrupt = expected.get("corrupt").and_then(J::as_bool) == Some(true);
    match (expect_corrupt, got) {
        (true, Err(_)) => Vec::new(),
        (true, Ok(row)) => vec![failure(
            "corrupt",
            "corrupt record".into(),
            format!("row with val {}", row.val),
        )],
        (false, Err(corrupt)) => vec![failure(
            "val",
            show(expected.get("val").and_then(J::as_str)),
            format!("corrupt: {corrupt}"),
        )],
        (false, Ok(row)) => {
            let mut out = Vec::new();
            let mut check = |field: &str, got: Option<&str>| {
                let want = expected.get(field).and_then(J::as_str);
                if want != got {
                    out.push(failure(field, show(want), show(got)));
                }
            };
            check("id", row.id.as_deref());
            check("id_part", row.id_part.as_deref());
            check("db_type", Some(row.db_type.as_str()));
            check("val", Some(&row.val));
            out
        }
    }
}
