//! Benchmark fixtures: realistic K2HB lines, made deterministically from a
//! seed, the merge benchmark's inputs ([`merge`]), the typed tables'
//! measured work ([`tables`]) and the publish benchmark's ([`publish`]).

pub mod merge;
pub mod publish;
pub mod tables;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weir_engine::record::{Cipher, StaticKeys, base64, encrypt};
use weir_testkit::k2hb::{Encryption, K2hbLine};

/// calculationParts-shaped lines (about 2.1 KB each, like the conformance sample:
/// 3,213,740 bytes over 1,500 lines), under `keys` distinct data keys, with the
/// keys that decrypt them.
pub fn calculation_parts_lines(n: usize, keys: usize, seed: u64) -> (Vec<Vec<u8>>, StaticKeys) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut key_table = StaticKeys::new();
    let data_keys: Vec<(String, Vec<u8>)> = (0..keys.max(1))
        .map(|k| {
            let key: Vec<u8> = (0..16).map(|_| rng.r#gen()).collect();
            let wrapped = base64::encode(&(0..42).map(|_| rng.r#gen()).collect::<Vec<u8>>());
            key_table.insert(wrapped.clone(), key.clone());
            let _ = k;
            (wrapped, key)
        })
        .collect();
    let lines = (0..n)
        .map(|i| {
            let (wrapped, key) = &data_keys[i % data_keys.len()];
            let id = uuid(&mut rng);
            let doc = calculation_part(&mut rng, &id);
            let iv: Vec<u8> = (0..16).map(|_| rng.r#gen()).collect();
            let sealed = encrypt(Cipher::Ctr, key, &iv, doc.into_bytes()).unwrap_or_default();
            let (trace, unit, iv) = (uuid(&mut rng), uuid(&mut rng), base64::encode(&iv));
            let id_json = format!(r#"{{"id":"{id}"}}"#);
            K2hbLine {
                trace_id: &trace,
                unit_of_work_id: &unit,
                timestamp: "2023-06-01T00:25:09.201+0000",
                message_type: "MONGO_UPDATE",
                db: Some("calculator"),
                collection: "calculationParts",
                id_json: &id_json,
                last_modified_json: Some(r#""2023-06-01T00:25:08.966+0000""#),
                encryption: Some(Encryption {
                    key_id: "cloudhsm:1,2",
                    wrapped,
                    iv: &iv,
                }),
                db_object: &base64::encode(&sealed),
            }
            .to_bytes()
        })
        .collect();
    (lines, key_table)
}

pub(crate) fn uuid(rng: &mut StdRng) -> String {
    let b: [u8; 16] = rng.r#gen();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn date(rng: &mut StdRng) -> String {
    format!(
        "2023-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
        rng.gen_range(0..24),
        rng.gen_range(0..60),
        rng.gen_range(0..60),
        rng.gen_range(0..1000)
    )
}

/// One document as the producers write it (Python-style separators, dates as
/// strings and mongo date objects, nested parts).
pub(crate) fn calculation_part(rng: &mut StdRng, id: &str) -> String {
    const TYPES: [&str; 4] = [
        "CARER_ELEMENT",
        "CHILD_ELEMENT",
        "HOUSING_ELEMENT",
        "STANDARD_ALLOWANCE",
    ];
    let parts: Vec<String> = (0..rng.gen_range(1..5))
        .map(|_| {
            format!(
                r#"{{"partType": "{}", "amount": {:.2}, "effectiveFrom": {{"$date": "{}"}}, "included": {}, "reason": "AUTO", "notes": "{}"}}"#,
                TYPES[rng.gen_range(0..TYPES.len())],
                rng.gen_range(0.0..2000.0),
                date(rng),
                rng.gen_bool(0.5),
                "x".repeat(rng.gen_range(0..24)),
            )
        })
        .collect();
    let created = date(rng);
    format!(
        r#"{{"_id": {{"id": "{id}"}}, "_version": 1, "contractId": "{}", "claimantIds": ["{}"], "assessmentPeriod": {{"number": {}, "startDate": {{"$date": "{}"}}, "endDate": "{}"}}, "calculationType": "{}", "status": "SUPERSEDED", "currency": "GBP", "amount": {:.2}, "amountPence": {}, "manualOverride": false, "calculatedBy": {{"system": "calculator", "version": "5.0.8", "agentId": "{}"}}, "parts": [{}], "createdDateTime": "{created}", "_lastModifiedDateTime": {{"$date": "{created}"}}}}"#,
        uuid(rng),
        uuid(rng),
        rng.gen_range(1..100),
        date(rng),
        date(rng),
        TYPES[rng.gen_range(0..TYPES.len())],
        rng.gen_range(0.0..2000.0),
        rng.gen_range(0..200_000),
        uuid(rng),
        parts.join(", "),
    )
}
