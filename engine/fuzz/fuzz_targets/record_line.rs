//! Any bytes as an input line: the pipeline must answer (row or corrupt), never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_engine::record::{
    Cipher, CollectionName, RecordPipeline, RecordRules, Scratch, StaticKeys,
};

fuzz_target!(|data: &[u8]| {
    // Every combination of the rules an ingester can choose.
    for (audit_transform, id_part) in [(false, false), (true, false), (false, true), (true, true)] {
        let rules = RecordRules {
            audit_transform,
            id_part,
            // Spec §5.1's escape stripping on for one collection.
            strip_escapes_in: vec![CollectionName::parse("core:healthAndDisabilityDeclaration").expect("a valid name")],
        };
        let collection = CollectionName::parse("core:claimant").expect("a valid name");
        let pipeline = RecordPipeline::new(collection, rules, Cipher::Ctr);
        let _ = pipeline.process_line(data, &StaticKeys::new(), &mut Scratch::default());
    }
});
