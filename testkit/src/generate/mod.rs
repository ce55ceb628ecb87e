//! `weir generate`: realistic corporate-storage input in the K2HB layout (spec
//! §1), for laptops, CI and benchmarks. Deterministic for a seed when keys come
//! from a master key file; a manifest records every planted corrupt record.

mod corrupt;
mod documents;
mod manifest;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use chrono::NaiveDate;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncWriteExt;

pub use corrupt::{CorruptKind, UNKNOWN_KEY_ID};
use documents::{Shape, document, timestamp, uuid};
pub use manifest::{CorruptRecord, DayManifest, FileManifest, Manifest};

use crate::dks::{DEFAULT_KEY_ID, MasterKey};
use crate::k2hb::{Encryption, K2hbLine};
use crate::{Error, Result};
use weir_engine::keys::{DataKey, DksClient};
use weir_engine::layout::{input_prefix, landing_date};
use weir_engine::record::{Cipher, CollectionName, base64, encrypt};
use weir_engine::storage::Location;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Collections.
    pub collections: Vec<CollectionName>,
    /// Export dates; each writes the landing day before it.
    pub export_dates: Vec<NaiveDate>,
    /// Records per collection per day.
    pub records_per_day: u64,
    /// Files per collection per day.
    pub files_per_day: u32,
    /// Records under one data key.
    pub records_per_key: u64,
    /// Cipher of `dbObject`.
    pub cipher: Cipher,
    /// Same seed, same documents (and same bytes with a master key file).
    pub seed: u64,
    /// Share of records planted corrupt, spread over the kinds that apply.
    pub corrupt_rate: f64,
    /// Master key ids data keys are wrapped under, in turn.
    pub key_ids: Vec<String>,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            collections: Vec::new(),
            export_dates: Vec::new(),
            records_per_day: 10_000,
            files_per_day: 2,
            records_per_key: 1_000,
            cipher: Cipher::Ctr,
            seed: 1,
            corrupt_rate: 0.0,
            key_ids: vec![DEFAULT_KEY_ID.to_owned()],
        }
    }
}

/// Where data keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// Wrapped locally under the local key service's master secret (the same
    /// file `weir dks serve` uses), deterministically from the seed.
    Master(MasterKey),
    /// From a key service's `GET /datakey`.
    Dks(DksClient),
}

#[derive(Debug, Clone)]
struct MintedKey {
    key_id: String,
    wrapped: String,
    key: DataKey,
}

/// One file to write.
#[derive(Debug)]
struct FileJob {
    collection: CollectionName,
    shape: Shape,
    landing: NaiveDate,
    path: String,
    first_offset: u64,
    records: u64,
    keys: Arc<Vec<MintedKey>>,
    cipher: Cipher,
    corrupt_rate: f64,
    records_per_key: u64,
    rng_seed: u64,
}

/// Writes the configured collections and days under `dest`, then
/// `manifest.json` at its root, and returns the manifest.
pub async fn generate(
    config: &GenerateConfig,
    keys: &KeySource,
    dest: &Location,
) -> Result<Manifest> {
    validate(config)?;
    let mut jobs = Vec::new();
    let mut days: BTreeMap<(String, NaiveDate), DayManifest> = BTreeMap::new();
    for collection in &config.collections {
        for export in &config.export_dates {
            let landing = landing_date(*export);
            let day_seed = mix(
                config.seed,
                &[
                    collection.to_string().as_bytes(),
                    landing.to_string().as_bytes(),
                ],
            );
            let minted = Arc::new(mint_keys(config, keys, day_seed).await?);
            let prefix = input_prefix(consumer_of(collection), collection, landing);
            days.insert(
                (collection.to_string(), landing),
                DayManifest {
                    export_date: export.to_string(),
                    prefix: prefix.clone(),
                    distinct_data_keys: minted.len() as u64,
                    ..DayManifest::default()
                },
            );
            let files = u64::from(config.files_per_day);
            let mut offset = 0;
            for f in 0..files {
                let records =
                    config.records_per_day / files + u64::from(f < config.records_per_day % files);
                let path = format!(
                    "{prefix}/{}.{}_{f}_{offset}-{}.jsonl.gz",
                    collection.db(),
                    collection.collection(),
                    (offset + records).saturating_sub(1)
                );
                jobs.push(FileJob {
                    collection: collection.clone(),
                    shape: shape_of(collection),
                    landing,
                    path,
                    first_offset: offset,
                    records,
                    keys: Arc::clone(&minted),
                    cipher: config.cipher,
                    corrupt_rate: config.corrupt_rate,
                    records_per_key: config.records_per_key,
                    rng_seed: mix(day_seed, &[&f.to_le_bytes()]),
                });
                offset += records;
            }
        }
    }
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let written: Vec<(String, NaiveDate, FileManifest)> = stream::iter(jobs)
        .map(|job| write_job(job, dest))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    for (collection, landing, file) in written {
        if let Some(day) = days.get_mut(&(collection, landing)) {
            day.add(file);
        }
    }
    let mut manifest = Manifest {
        format: "weir generate manifest".to_owned(),
        version: 1,
        collections: BTreeMap::new(),
    };
    for ((collection, landing), day) in days {
        manifest
            .collections
            .entry(collection)
            .or_default()
            .insert(landing.to_string(), day);
    }
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let path = dest.child("manifest.json");
    dest.store
        .put(&path, text.into())
        .await
        .map_err(|e| Error::Engine(weir_engine::Error::storage("put", dest.display(&path), &e)))?;
    Ok(manifest)
}

fn validate(config: &GenerateConfig) -> Result<()> {
    let bad = |field: &str, detail: &str| {
        Err(Error::Config {
            field: field.to_owned(),
            detail: detail.to_owned(),
        })
    };
    if config.collections.is_empty() {
        return bad("--collection", "give at least one collection");
    }
    if config.export_dates.is_empty() {
        return bad("--date", "give a date or a date range");
    }
    if config.files_per_day == 0 {
        return bad("--files-per-day", "must be at least 1");
    }
    if config.records_per_key == 0 {
        return bad("--records-per-key", "must be at least 1");
    }
    if !(0.0..=1.0).contains(&config.corrupt_rate) {
        return bad("--corrupt-rate", "must be between 0 and 1");
    }
    if config.key_ids.is_empty() || config.key_ids.iter().any(|k| k == UNKNOWN_KEY_ID) {
        return bad(
            "--key-id",
            "give key ids the key service holds (not cloudhsm:99,99)",
        );
    }
    Ok(())
}

fn shape_of(collection: &CollectionName) -> Shape {
    match (collection.db(), collection.collection()) {
        ("calculator", "calculationParts") => Shape::CalculationParts,
        ("data", "businessAudit") => Shape::BusinessAudit,
        _ => Shape::Generic,
    }
}

async fn mint_keys(
    config: &GenerateConfig,
    source: &KeySource,
    day_seed: u64,
) -> Result<Vec<MintedKey>> {
    let n = config
        .records_per_day
        .div_ceil(config.records_per_key)
        .max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(mix(day_seed, &[b"keys"]));
    let mut keys = Vec::with_capacity(n as usize);
    for i in 0..n {
        let key_id = &config.key_ids[i as usize % config.key_ids.len()];
        keys.push(match source {
            KeySource::Master(master) => {
                let key: [u8; 16] = rng.r#gen();
                MintedKey {
                    key_id: key_id.clone(),
                    wrapped: master.wrap(key_id, &key, rng.r#gen()),
                    key: DataKey::new(key.to_vec()),
                }
            }
            KeySource::Dks(client) => {
                let issued = client.new_data_key(Some(key_id)).await?;
                MintedKey {
                    key_id: issued.key_encryption_key_id,
                    wrapped: issued.ciphertext,
                    key: issued.plaintext,
                }
            }
        });
    }
    Ok(keys)
}

/// Generates one file on a blocking thread and streams its gzip bytes to the
/// store, so memory stays bounded whatever the file size.
async fn write_job(job: FileJob, dest: &Location) -> Result<(String, NaiveDate, FileManifest)> {
    let path = dest.child(&job.path);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let collection = job.collection.to_string();
    let landing = job.landing;
    let producer = tokio::task::spawn_blocking(move || {
        generate_file(&job, |chunk| tx.blocking_send(chunk).is_ok())
    });
    let mut writer = BufWriter::new(Arc::clone(&dest.store), path.clone());
    let storage_error = |e: std::io::Error| {
        Error::Engine(weir_engine::Error::storage("put", dest.display(&path), &e))
    };
    while let Some(chunk) = rx.recv().await {
        writer.write_all(&chunk).await.map_err(storage_error)?;
    }
    writer.shutdown().await.map_err(storage_error)?;
    let file = producer.await.map_err(|e| Error::Config {
        field: "generate".to_owned(),
        detail: format!("generator thread failed: {e}"),
    })?;
    Ok((collection, landing, file))
}

/// The records of one file, gzip-compressed, handed to `sink` in chunks.
fn generate_file(job: &FileJob, mut sink: impl FnMut(Vec<u8>) -> bool) -> FileManifest {
    const CHUNK: usize = 4 << 20;
    let mut rng = ChaCha8Rng::seed_from_u64(job.rng_seed);
    let mut gz = GzEncoder::new(Vec::with_capacity(CHUNK + (64 << 10)), Compression::fast());
    let mut manifest = FileManifest {
        path: job.path.clone(),
        ..FileManifest::default()
    };
    let gcm = job.cipher == Cipher::Gcm;
    let kinds: Vec<CorruptKind> = CorruptKind::ALL
        .into_iter()
        .filter(|k| k.applies(job.shape == Shape::BusinessAudit, gcm))
        .collect();
    let mut inserted: Vec<String> = Vec::new();
    let mut doc = String::with_capacity(4096);
    let mut line = String::with_capacity(8192);
    let mut uncompressed = 0u64;
    for i in 0..job.records {
        let offset = job.first_offset + i;
        let key = &job.keys[((offset / job.records_per_key) as usize) % job.keys.len()];
        let removed =
            !inserted.is_empty() && job.shape != Shape::BusinessAudit && rng.gen_bool(0.2);
        let id = if removed {
            inserted.swap_remove(rng.gen_range(0..inserted.len()))
        } else if job.shape == Shape::Generic && rng.gen_bool(0.02) {
            format!("\"{:024x}\"", rng.r#gen::<u128>() >> 32)
        } else {
            format!("{{\"id\":\"{}\"}}", uuid(&mut rng))
        };
        let corrupt = (job.corrupt_rate > 0.0 && rng.gen_bool(job.corrupt_rate))
            .then(|| kinds[rng.gen_range(0..kinds.len())]);
        let modified = timestamp(&mut rng, job.landing);
        document(job.shape, &mut rng, &id, &modified, removed, &mut doc);
        build_line(
            &mut rng, job, key, &id, &modified, removed, &doc, corrupt, &mut line,
        );
        line.push('\n');
        uncompressed += line.len() as u64;
        let _ = gz.write_all(line.as_bytes());
        manifest.records += 1;
        let db_type = if removed { "DELETE" } else { "INSERT" };
        match corrupt {
            None => {
                manifest.valid += 1;
                *manifest.db_types.entry(db_type.to_owned()).or_default() += 1;
                if !removed && job.shape != Shape::BusinessAudit {
                    inserted.push(id);
                }
            }
            Some(kind) => {
                *manifest
                    .corrupt_kinds
                    .entry(kind.as_str().to_owned())
                    .or_default() += 1;
                manifest.corrupt.push(CorruptRecord {
                    line: i + 1,
                    id: manifest_id(&id),
                    db_type: db_type.to_owned(),
                    kind: kind.as_str().to_owned(),
                });
            }
        }
        if gz.get_ref().len() >= CHUNK {
            let chunk = std::mem::take(gz.get_mut());
            manifest.bytes_compressed += chunk.len() as u64;
            if !sink(chunk) {
                break;
            }
        }
    }
    let rest = gz.finish().unwrap_or_default();
    manifest.bytes_compressed += rest.len() as u64;
    manifest.bytes_uncompressed = uncompressed;
    sink(rest);
    manifest
}

/// The manifest's id: canonical JSON for objects, the text of a string.
fn manifest_id(id_json: &str) -> String {
    id_json
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map_or_else(|| id_json.to_owned(), str::to_owned)
}

#[allow(clippy::too_many_arguments)]
fn build_line(
    rng: &mut ChaCha8Rng,
    job: &FileJob,
    key: &MintedKey,
    id: &str,
    modified: &str,
    removed: bool,
    doc: &str,
    corrupt: Option<CorruptKind>,
    line: &mut String,
) {
    let mut plaintext = doc.as_bytes().to_vec();
    match corrupt {
        Some(CorruptKind::InvalidJson) => {
            plaintext.pop();
        }
        Some(CorruptKind::InvalidUtf8) => {
            let at = plaintext
                .iter()
                .position(|b| *b == b'"')
                .map_or(0, |p| p + 1);
            plaintext.insert(at, 0xff);
        }
        Some(CorruptKind::BadDate) => {
            // The first date the validator reads becomes unparseable.
            let text = doc.replacen(modified, "2023-13-45T99:99:99.000+0000", usize::MAX);
            plaintext = text.into_bytes();
        }
        Some(CorruptKind::AuditNoContext) => {
            plaintext = doc.replacen("\"context\"", "\"contexts\"", 1).into_bytes();
        }
        _ => {}
    }
    let iv: Vec<u8> = (0..job.cipher.iv_len()).map(|_| rng.r#gen()).collect();
    let mut sealed = encrypt(job.cipher, key.key.bytes(), &iv, plaintext).unwrap_or_default();
    if corrupt == Some(CorruptKind::TagMismatch)
        && let Some(last) = sealed.last_mut()
    {
        *last ^= 0x01;
    }
    let mut db_object = base64::encode(&sealed);
    if corrupt == Some(CorruptKind::BadBase64) {
        // A leftover single character: Python's b64decode refuses it.
        db_object.truncate(db_object.trim_end_matches('=').len());
        while db_object.len() % 4 != 1 {
            db_object.pop();
        }
    }
    let line_iv = if corrupt == Some(CorruptKind::BadIvLength) {
        &iv[..8]
    } else {
        &iv[..]
    };
    let key_id = if corrupt == Some(CorruptKind::UnknownKek) {
        UNKNOWN_KEY_ID
    } else {
        key.key_id.as_str()
    };
    let message_type = if removed {
        "MONGO_DELETE"
    } else {
        "MONGO_INSERT"
    };
    line.clear();
    let (trace, unit, iv) = (uuid(rng), uuid(rng), base64::encode(line_iv));
    K2hbLine {
        trace_id: &trace,
        unit_of_work_id: &unit,
        timestamp: modified,
        message_type,
        db: Some(job.collection.db()),
        collection: job.collection.collection(),
        id_json: id,
        last_modified_json: Some(&format!("\"{modified}\"")),
        encryption: (corrupt != Some(CorruptKind::MissingEncryption)).then_some(Encryption {
            key_id,
            wrapped: &key.wrapped,
            iv: &iv,
        }),
        db_object: &db_object,
    }
    .write(line);
    if corrupt == Some(CorruptKind::TruncatedLine) {
        let cut = rng.gen_range(1..line.len());
        let cut = (0..=cut)
            .rev()
            .find(|c| line.is_char_boundary(*c))
            .unwrap_or(0);
        line.truncate(cut.max(1));
    }
}

/// FNV-1a over a seed and parts: a stable way to give every collection, day
/// and file its own random stream (std's hasher may change between releases).
fn mix(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for b in part.iter().chain(&[0xffu8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The K2HB consumer whose layout the generator writes a collection in (as
/// the built-in ingesters read it).
fn consumer_of(collection: &CollectionName) -> &'static str {
    if collection.is("data", "businessAudit") {
        "ucfs_audit"
    } else if collection.db().contains("equalit") {
        "ucfs_equalities"
    } else {
        "ucfs_main"
    }
}
