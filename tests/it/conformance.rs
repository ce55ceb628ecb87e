//! The old job's conformance vectors, run as data-driven tests.

use weir_ingesters::Registry;
use weir_testkit::conformance::{Report, crypto, from_json, records};
use weir_tests::conformance_file;

fn assert_all_pass(report: &Report, cases: usize) {
    let shown: Vec<String> = report
        .failures
        .iter()
        .take(5)
        .map(ToString::to_string)
        .collect();
    assert!(
        report.all_passed(),
        "{}\n{}",
        report.summary(),
        shown.join("\n")
    );
    assert_eq!(report.passed, cases);
}

#[test]
fn record_vectors_all_pass() {
    let registry = Registry::with_builtins();
    let report = records::run_file(&conformance_file("record-vectors.jsonl"), &|c| {
        registry.rules_for(c)
    })
    .expect("record vectors readable");
    assert_all_pass(&report, 3000);
}

#[test]
fn crypto_vectors_all_pass() {
    let report = crypto::run_file(&conformance_file("crypto-vectors.jsonl"))
        .expect("crypto vectors readable");
    assert_all_pass(&report, 90);
}

#[test]
fn from_json_vectors_all_pass() {
    let report = from_json::run_file(&conformance_file("from-json-vectors.jsonl"))
        .expect("from_json vectors readable");
    assert_all_pass(&report, 600);
}

#[test]
fn a_wrong_from_json_answer_is_reported_with_case_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vectors.jsonl");
    let header =
        r#"{"format": "weir-from-json-vectors", "session_time_zone": "UTC", "options": {}}"#;
    let cases = [
        // Right: Spark keeps the sibling of a field that does not convert.
        serde_json::json!({"case": "ok-1", "schema": "a INT, b STRING", "input": "{\"a\": \"x\", \"b\": 1}",
            "result": "struct", "expected": {"a": null, "b": "1"}}),
        // Wrong on purpose, deep inside: the runner must say where.
        serde_json::json!({"case": "bad-1", "schema": "s STRUCT<q: ARRAY<DOUBLE>>", "input": "{\"s\": {\"q\": [1.5, 2]}}",
            "result": "struct", "expected": {"s": {"q": [1.5, 2.5]}}}),
        // Spark raises on this date; Weir nulls it and counts it: passes.
        serde_json::json!({"case": "raise-1", "schema": "d DATE", "input": "{\"d\": \"2023-02-30\"}",
            "result": "error"}),
        // Not a date Spark raises on: an `error` answer Weir does not give.
        serde_json::json!({"case": "raise-2", "schema": "d DATE", "input": "{\"d\": \"2023-02-03\"}",
            "result": "error"}),
    ];
    let body: Vec<String> = cases.iter().map(ToString::to_string).collect();
    std::fs::write(&file, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let report = from_json::run_file(&file).unwrap();
    assert_eq!(
        (report.passed, report.failed),
        (2, 2),
        "{:?}",
        report.failures
    );
    assert_eq!(report.failures[0].case, "bad-1");
    assert_eq!(report.failures[0].field, "$.s.q[1]");
    assert_eq!(
        (
            report.failures[0].expected.as_str(),
            report.failures[0].got.as_str()
        ),
        ("2.5", "2.0")
    );
    assert_eq!(report.failures[1].case, "raise-2");
}

#[test]
fn a_wrong_expectation_is_reported_with_case_and_field() {
    let dir = std::env::temp_dir().join(format!("weir-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vectors.jsonl");
    let message = r#"{"message": {"_id": {"id": "x"}}}"#;
    let case = serde_json::json!({
        "case": "mine-1", "collection": "core:claimant", "export_date": "2023-06-02",
        "message": message, "plaintext": "{\"a\": 1}",
        "expected": {"id": "{\"id\":\"x\"}", "id_part": null, "db_type": "INSERT", "val": "{\"a\":2}"}
    });
    std::fs::write(&file, format!("{case}\nnot json\n")).unwrap();
    let registry = Registry::with_builtins();
    let report = records::run_file(&file, &|c| registry.rules_for(c)).unwrap();
    assert_eq!((report.passed, report.failed), (0, 2));
    assert_eq!(report.failures[0].case, "mine-1");
    assert_eq!(report.failures[0].field, "val");
    assert!(
        report.failures[0]
            .got
            .starts_with(r#"{"_lastModifiedDateTime""#)
    );
    assert_eq!(report.failures[1].case, "line 2");
    std::fs::remove_dir_all(&dir).unwrap();
}
