//! `weir generate`: deterministic for a seed, decryptable with the local key
//! service, and its manifest is exactly what the record pipeline flags.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use weir_engine::keys::{CacheConfig, DksClient, DksConfig, KeyCache};
use weir_engine::record::{Cipher, CollectionName, Scratch};
use weir_engine::storage::Location;
use weir_testkit::dks::{MasterKey, ServeConfig, server};
use weir_testkit::generate::{CorruptKind, GenerateConfig, KeySource, Manifest, generate};
use weir_tests::{gz_lines, walk_gz};

fn config(cipher: Cipher, seed: u64) -> GenerateConfig {
    GenerateConfig {
        collections: [
            "calculator:calculationParts",
            "data:businessAudit",
            "core:claimant",
        ]
        .iter()
        .map(|c| CollectionName::parse(c).unwrap())
        .collect(),
        export_dates: vec![
            NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 3, 2).unwrap(),
        ],
        records_per_day: 600,
        files_per_day: 3,
        records_per_key: 250,
        cipher,
        seed,
        corrupt_rate: 0.1,
        ..GenerateConfig::default()
    }
}

async fn generate_into(dir: &Path, master: &Path, config: &GenerateConfig) -> Manifest {
    let keys = KeySource::Master(MasterKey::load_or_create(master).unwrap());
    generate(
        config,
        &keys,
        &Location::parse(dir.to_str().unwrap(), &Default::default()).unwrap(),
    )
    .await
    .unwrap()
}

fn tree_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk_gz(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let ma = generate_into(&a, &master, &config(Cipher::Ctr, 7)).await;
    let mb = generate_into(&b, &master, &config(Cipher::Ctr, 7)).await;
    let mc = generate_into(&c, &master, &config(Cipher::Ctr, 8)).await;
    assert_eq!(ma, mb);
    assert_ne!(ma, mc, "another seed, another manifest");
    let (ta, tb, tc) = (tree_bytes(&a), tree_bytes(&b), tree_bytes(&c));
    assert_eq!(ta.len(), 3 * 2 * 3, "3 collections x 2 days x 3 files");
    assert_eq!(ta, tb, "same seed, same bytes");
    assert_eq!(
        std::fs::read(a.join("manifest.json")).unwrap(),
        std::fs::read(b.join("manifest.json")).unwrap()
    );
    assert_ne!(ta, tc, "another seed, other data");
    // The K2HB layout, with the landing day before the export date.
    assert!(ta.keys().any(|p| p.starts_with(
        "corporate_storage/ucfs_main/2024/02/29/calculator/calculationParts/calculator.calculationParts_0_0-199.jsonl.gz"
    )));
    assert!(
        ta.keys()
            .any(|p| p.starts_with("corporate_storage/ucfs_audit/2024/03/01/data/businessAudit/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_matches_what_the_pipeline_flags_ctr() {
    manifest_matches_pipeline(Cipher::Ctr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_matches_what_the_pipeline_flags_gcm() {
    manifest_matches_pipeline(Cipher::Gcm).await;
}

async fn manifest_matches_pipeline(cipher: Cipher) {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let out = dir.path().join("out");
    let manifest = generate_into(&out, &master, &config(cipher, 3)).await;

    // The local key service with the same master secret decrypts the keys.
    let dks = server::start(ServeConfig::new("127.0.0.1:0".parse().unwrap(), &master))
        .await
        .unwrap();
    let cache = KeyCache::new(
        DksClient::new(&DksConfig::new(dks.url()), "generate-test").unwrap(),
        CacheConfig::default(),
    );
    let mut kinds_seen = BTreeSet::new();
    for (collection, days) in &manifest.collections {
        let pipeline = weir_tests::pipeline_of(&CollectionName::parse(collection).unwrap(), cipher);
        for (landing, day) in days {
            assert_eq!(day.records, 600);
            let mut expected = BTreeSet::new();
            let mut flagged = BTreeSet::new();
            let mut db_types: BTreeMap<String, u64> = BTreeMap::new();
            for file in &day.files {
                for c in &file.corrupt {
                    let kind = CorruptKind::parse(&c.kind).unwrap();
                    kinds_seen.insert(kind);
                    expected.insert((file.path.clone(), c.line, kind.reason()));
                }
                let lines = gz_lines(&out.join(&file.path));
                assert_eq!(lines.len() as u64, file.records, "{}", file.path);
                let pairs = weir_tests::key_pairs(&lines);
                let keys = cache
                    .resolve(pairs.iter().map(|(k, w)| (k.as_str(), w.as_str())))
                    .await
                    .unwrap();
                let mut scratch = Scratch::default();
                for (i, line) in lines.iter().enumerate() {
                    match pipeline.process_line(line, &keys, &mut scratch) {
                        Ok(row) => {
                            *db_types.entry(row.db_type.as_str().to_owned()).or_default() += 1
                        }
                        Err(c) => {
                            flagged.insert((file.path.clone(), i as u64 + 1, c.reason.code()));
                        }
                    }
                }
            }
            assert_eq!(flagged, expected, "{collection} {landing}: corrupt records");
            assert_eq!(
                db_types, day.db_types,
                "{collection} {landing}: inserts and deletes"
            );
            assert!(
                day.db_types.get("DELETE").copied().unwrap_or(0) > 0
                    || collection == "data:businessAudit"
            );
        }
    }
    // Every kind that applies was planted somewhere (0.1 of 3,600 records).
    let applicable = CorruptKind::ALL
        .iter()
        .filter(|k| k.applies(true, cipher == Cipher::Gcm))
        .count();
    assert_eq!(kinds_seen.len(), applicable, "{kinds_seen:?}");
    dks.stop().await;
}
