//! The record pipeline alone, one core: records per second on ~2.1 KB
//! calculationParts lines.
//!
//! `cargo bench -p weir-benches --bench record_pipeline`

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_benches::calculation_parts_lines;
use weir_engine::record::{
    Cipher, CollectionName, Envelope, RecordPipeline, Scratch, base64, decrypt,
};

const RECORDS: usize = 2_000;

fn pipeline(c: &mut Criterion) {
    let (lines, keys) = calculation_parts_lines(RECORDS, 5, 42);
    let mean = lines.iter().map(Vec::len).sum::<usize>() / lines.len();
    eprintln!("{RECORDS} calculationParts lines, mean {mean} bytes");
    // calculationParts' rules: `id_part` from `_id.id`.
    let pipeline = RecordPipeline::new(
        CollectionName::parse("calculator:calculationParts").unwrap_or_else(|e| panic!("{e}")),
        weir_engine::record::RecordRules {
            id_part: true,
            ..Default::default()
        },
        Cipher::Ctr,
    );

    let mut group = c.benchmark_group("record_pipeline");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);

    // Anchor: envelope parse + base64 + AES-CTR, no document work.
    group.bench_function("envelope_base64_aes", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            let mut bytes = 0;
            for line in &lines {
                let text = std::str::from_utf8(line).unwrap_or_default();
                if let Ok(envelope) = Envelope::parse(text)
                    && let Ok(plain) = pipeline.decrypt(&envelope, &keys, &mut scratch)
                {
                    bytes += plain.len();
                }
            }
            bytes
        });
    });

    // The ingest's path: the same work, with `val` left in the worker's
    // scratch for the caller to copy into its column (no `Row` of its own).
    group.bench_function("process_envelope_into", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            let mut bytes = 0;
            for line in &lines {
                if let Ok(envelope) = RecordPipeline::parse_line(line)
                    && let Ok((_, val)) =
                        pipeline.process_envelope_into(&envelope, &keys, &mut scratch)
                {
                    bytes += val.len();
                }
            }
            assert!(bytes > RECORDS);
            bytes
        });
    });

    // The whole record: envelope, key, AES-CTR, transform/validate/sanitise, val.
    group.bench_function("process_line", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            let mut good = 0;
            for line in &lines {
                if pipeline.process_line(line, &keys, &mut scratch).is_ok() {
                    good += 1;
                }
            }
            assert_eq!(good, RECORDS);
        });
    });

    // Document work alone, from decrypted plaintext.
    let decrypted: Vec<(String, Vec<u8>)> = lines
        .iter()
        .map(|line| {
            let text = String::from_utf8(line.clone()).unwrap_or_default();
            let envelope = Envelope::parse(&text).unwrap_or_else(|e| panic!("{e}"));
            let enc = envelope.encryption().unwrap_or_else(|e| panic!("{e}"));
            let iv = base64::decode(enc.initialisation_vector).unwrap_or_default();
            let key = keys_for(
                &keys,
                enc.key_encryption_key_id,
                enc.encrypted_encryption_key,
            );
            let ct = base64::decode(envelope.db_object().unwrap_or_default()).unwrap_or_default();
            let plain = decrypt(Cipher::Ctr, &key, &iv, ct).unwrap_or_default();
            (text.clone(), plain)
        })
        .collect();
    group.bench_function("process_plaintext", |b| {
        b.iter_batched(
            Scratch::default,
            |mut scratch| {
                for (text, plain) in &decrypted {
                    if let Ok(envelope) = Envelope::parse(text) {
                        let _ = pipeline.process_plaintext(&envelope, plain, &mut scratch);
                    }
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn keys_for(keys: &weir_engine::record::StaticKeys, kek: &str, wrapped: &str) -> Vec<u8> {
    use weir_engine::record::DataKeys as _;
    keys.data_key(kek, wrapped)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
