//! Any bytes as a decrypted document: never panic, and every `val` produced is a
//! fixed point of parse + canonical write.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_engine::json::{parse, write_canonical};
use weir_engine::record::{Cipher, CollectionName, Envelope, RecordPipeline, RecordRules, Scratch};

const LINE: &str = r#"{"message": {"db": "core", "collection": "healthAndDisabilityDeclaration", "_id": {"id": "ab12"}, "_lastModifiedDateTime": "2023-06-01T10:00:00.000+0000"}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::parse(LINE) else { return };
    // Every combination of the rules an ingester can choose.
    for (audit_transform, id_part) in [(false, false), (true, false), (false, true), (true, true)] {
        let rules = RecordRules {
            audit_transform,
            id_part,
            // Spec §5.1's escape stripping on for one collection.
            strip_escapes_in: vec![CollectionName::parse("core:healthAndDisabilityDeclaration").expect("a valid name")],
        };
        let Ok(collection) = CollectionName::parse("core:healthAndDisabilityDeclaration") else {
            return;
        };
        let pipeline = RecordPipeline::new(collection, rules, Cipher::Ctr);
        if let Ok(row) = pipeline.process_plaintext(&envelope, data, &mut Scratch::default()) {
            let mut again = Vec::new();
            let mut value = parse(&row.val).expect("val parses");
            write_canonical(&mut value, &mut again);
            assert_eq!(again, row.val.as_bytes());
        }
    }
});
