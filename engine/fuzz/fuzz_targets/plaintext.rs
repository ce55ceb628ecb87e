//! Any bytes as a decrypted document: never panic, and every `val` produced is a
//! fixed point of parse + canonical write.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_engine::json::{parse, write_canonical};
use weir_engine::record::{Cipher, CollectionName, Envelope, RecordPipeline, Scratch};

const LINE: &str = r#"{"message": {"db": "core", "collection": "healthAndDisabilityDeclaration", "_id": {"id": "ab12"}, "_lastModifiedDateTime": "2023-06-01T10:00:00.000+0000"}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::parse(LINE) else { return };
    for name in ["calculator:calculationParts", "data:businessAudit", "core:claimant"] {
        let Ok(collection) = CollectionName::parse(name) else { return };
        let pipeline = RecordPipeline::for_collection(collection, Cipher::Ctr);
        if let Ok(row) = pipeline.process_plaintext(&envelope, data, &mut Scratch::default()) {
            let mut again = Vec::new();
            let mut value = parse(&row.val).expect("val parses");
            write_canonical(&mut value, &mut again);
            assert_eq!(again, row.val.as_bytes());
        }
    }
});
