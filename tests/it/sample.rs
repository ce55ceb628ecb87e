//! The whole sample tree through the full line path (envelope, key, AES-CTR,
//! document) with the sample's keys: rows equal `expected/`, and the corrupt
//! records are exactly the manifest's, with matching reasons.

use std::collections::BTreeSet;

use serde_json::Value as J;
use weir_engine::record::{Cipher, CollectionName, DataKeys, Scratch};
use weir_testkit::generate::CorruptKind;
use weir_tests::{conformance_file, gz_lines, sample_keys};

#[test]
fn sample_rows_and_quarantine_match_the_old_job() {
    check_sample(&sample_keys());
}

/// Runs every line of the sample through the pipeline with `keys` and checks
/// rows against `expected/` and corrupt records against the manifest.
pub(crate) fn check_sample(keys: &dyn DataKeys) {
    let root = conformance_file("sample");
    let manifest: J =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let mut scratch = Scratch::default();
    let mut checked_days = 0;
    for (collection, days) in manifest["collections"].as_object().unwrap() {
        let name = CollectionName::parse(collection).unwrap();
        let pipeline = weir_tests::pipeline_of(&name, Cipher::Ctr);
        for day in days.as_object().unwrap().values() {
            let export_date = day["export_date"].as_str().unwrap();
            let mut rows = Vec::new();
            let mut corrupt = BTreeSet::new();
            let mut expected_corrupt = BTreeSet::new();
            for file in day["files"].as_array().unwrap() {
                let path = file["path"].as_str().unwrap();
                for c in file["corrupt"].as_array().unwrap() {
                    let kind = c["kind"].as_str().unwrap();
                    expected_corrupt.insert((
                        path.to_owned(),
                        c["line"].as_u64().unwrap(),
                        CorruptKind::parse(kind)
                            .unwrap_or_else(|| panic!("unknown corrupt kind {kind}"))
                            .reason(),
                    ));
                }
                for (i, line) in gz_lines(&root.join(path)).iter().enumerate() {
                    match pipeline.process_line(line, keys, &mut scratch) {
                        Ok(row) => rows.push(serde_json::json!({
                            "id": row.id, "db_type": row.db_type.as_str(), "val": row.val,
                        })),
                        Err(c) => {
                            corrupt.insert((path.to_owned(), i as u64 + 1, c.reason.code()));
                        }
                    }
                }
            }
            assert_eq!(
                corrupt, expected_corrupt,
                "{collection} {export_date}: quarantine"
            );
            let expected_file = root.join(format!(
                "expected/{}.{export_date}.jsonl",
                collection.replace(':', ".")
            ));
            let expected: Vec<J> = std::fs::read_to_string(&expected_file)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let key = |v: &J| {
                (
                    v["id"].to_string(),
                    v["db_type"].to_string(),
                    v["val"].as_str().unwrap().to_owned(),
                )
            };
            let mut got: Vec<_> = rows.iter().map(key).collect();
            let mut want: Vec<_> = expected.iter().map(key).collect();
            got.sort();
            want.sort();
            assert_eq!(
                got.len(),
                want.len(),
                "{collection} {export_date}: row count"
            );
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w, "{collection} {export_date}: first differing row");
            }
            checked_days += 1;
        }
    }
    assert_eq!(checked_days, 6, "three collections, two days each");
}
