//! Any bytes as an input line: the pipeline must answer (row or corrupt), never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_engine::record::{Cipher, CollectionName, RecordPipeline, Scratch, StaticKeys};

fuzz_target!(|data: &[u8]| {
    for name in ["calculator:calculationParts", "data:businessAudit", "core:claimant"] {
        if let Ok(collection) = CollectionName::parse(name) {
            let pipeline = RecordPipeline::for_collection(collection, Cipher::Ctr);
            let _ = pipeline.process_line(data, &StaticKeys::new(), &mut Scratch::default());
        }
    }
});
