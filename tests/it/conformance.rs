//! The old job's conformance vectors, run as data-driven tests.

use weir_engine::conformance::{crypto, records};
use weir_ingesters::Registry;
use weir_tests::conformance_file;

#[test]
fn record_vectors_all_pass() {
    let registry = Registry::new();
    let report = records::run_file(&conformance_file("record-vectors.jsonl"), &|c| {
        registry.rules_for(c)
    })
    .expect("record vectors readable");
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
    assert_eq!(report.passed, 3000);
}

#[test]
fn crypto_vectors_all_pass() {
    let report = crypto::run_file(&conformance_file("crypto-vectors.jsonl"))
        .expect("crypto vectors readable");
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
    assert_eq!(report.passed, 90);
}
