//! The raw input's immutable history (`--archive-input`): before a day is
//! processed, its input files are copied byte for byte to
//! `<archive>/<consumer>/<db>/<collection>/file_land_timestamp=<unix seconds>/`
//! (the landing date's midnight, UTC: the K2HB prefix's date is when the
//! files landed), each by conditional create — an archived object is never
//! overwritten — with a manifest of names, sizes and SHA-256 checksums under
//! `_manifests/`. The day is then read from the archive, so a coalescing job
//! that deletes or replaces input files after they were archived cannot fail
//! it (the old job's most common failure: a 404 on a listed file).
//!
//! Each archiving writes its own manifest (`_manifests/<ms>-<run>.json`,
//! created conditionally too): the newest lists the day's files as the
//! last archiving saw them, so a file the coalescer folded into a bigger
//! one stays in the history but is not read twice. `--source-archive`
//! ([`ArchiveMode::Replay`]) rebuilds a day from the newest manifest alone,
//! each file's checksum verified first.

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Fault;
use crate::exec::InputFile;
use crate::run::DayJob;
use crate::storage::{Location, raw_join};
use crate::{Error, Result};

/// The directory of a partition's manifests.
pub const MANIFESTS: &str = "_manifests";
/// Files archived at once (each is held in memory while it is copied).
const CONCURRENT_COPIES: usize = 4;

/// What a run does with the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveMode {
    /// Archive the day's input, then read the day from the archive.
    Archive,
    /// Read the day from the archive alone (`--source-archive`).
    Replay,
}

/// A day's place in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputArchive {
    /// The archive's root (path or URL).
    pub root: String,
    /// The day's partition under it
    /// (`<consumer>/<db>/<collection>/file_land_timestamp=<s>`).
    pub dir: String,
    /// Archive, or replay.
    pub mode: ArchiveMode,
}

/// One archived file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedFile {
    /// Its path relative to the partition (as relative to the input prefix).
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
}

/// A partition's manifest, as one archiving wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// `weir input archive v1`.
    pub format: String,
    /// The run that archived.
    pub run_id: String,
    /// The Weir that archived.
    #[serde(default)]
    pub weir_version: String,
    /// Where the files came from.
    pub source: String,
    /// When (RFC 3339).
    pub archived_at: String,
    /// The day's files as that run listed them.
    pub files: Vec<ArchivedFile>,
}

/// What archiving or replaying gave the day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveReport {
    /// The manifest the day was read from (URL form).
    pub manifest: String,
    /// Files copied by this run.
    pub copied: usize,
    /// Files already in the archive with the same bytes (not copied).
    pub already_archived: usize,
    /// Files whose checksum was verified against the manifest.
    pub verified: usize,
}

/// A day's input as its run reads it.
#[derive(Debug)]
pub(crate) struct DayInput {
    /// The root its files are under.
    pub(crate) location: Location,
    /// The files to read.
    pub(crate) files: Vec<InputFile>,
    /// Files under the day's prefix not read (not `*.jsonl.gz`, `*.json.gz`).
    pub(crate) skipped: Vec<String>,
    /// What the archive did, when the files are the archive's.
    pub(crate) archived: Option<ArchiveReport>,
}

/// The day's input through the archive: archived (listing the day again
/// once when a file went away between listing and copying, as when a
/// coalescing job replaced it), or replayed from it. A day with no input
/// files is returned as listed, from the source, for the run to refuse.
pub(crate) async fn day_input(job: &DayJob, archive: &InputArchive) -> Result<DayInput> {
    let store = Location::parse(&archive.root, &job.s3)?;
    if archive.mode == ArchiveMode::Replay {
        let (files, report) = replay_day(job, &store, &archive.dir).await?;
        return Ok(DayInput {
            location: store,
            files,
            skipped: Vec::new(),
            archived: Some(report),
        });
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (source, listed, skipped) = job.list_input().await?;
        if listed.is_empty() {
            return Ok(DayInput {
                location: source,
                files: listed,
                skipped,
                archived: None,
            });
        }
        let prefix = source.child(&job.input_prefix);
        let (files, report, gone) =
            archive_day(job, &source, &prefix, &listed, &store, &archive.dir).await?;
        if gone.is_empty() {
            return Ok(DayInput {
                location: store,
                files,
                skipped,
                archived: Some(report),
            });
        }
        if attempt == 2 {
            return Err(refused(
                job,
                format!(
                    "input files went away between listing and archiving, twice: {}",
                    gone.join(", ")
                ),
            ));
        }
        tracing::warn!(
            gone = gone.len(),
            first = %gone[0],
            "input files went away before they were archived; listing the day again"
        );
    }
}

/// The day refused for its input.
fn refused(job: &DayJob, detail: String) -> Error {
    Error::DayCheck {
        collection: job.ingest.collection.to_string(),
        export_date: job.export_date.to_string(),
        fault: Fault::Input,
        detail,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a file was copied, was there already, or is gone from the source.
enum Copied {
    New(ArchivedFile),
    Already(ArchivedFile),
    Gone(String),
}

/// Copies `files` (listed under `prefix` in `source`) into the partition
/// and writes the manifest; the day's files, in the archive, and the files
/// that went away before they were copied (then no manifest is written).
async fn archive_day(
    job: &DayJob,
    source: &Location,
    prefix: &ObjectPath,
    files: &[InputFile],
    archive: &Location,
    dir: &str,
) -> Result<(Vec<InputFile>, ArchiveReport, Vec<String>)> {
    let run_id = job.run_id.as_str();
    let partition = archive.child(dir);
    let prefix_text = format!("{}/", prefix.as_ref().trim_end_matches('/'));
    let copies: Vec<Copied> = futures::stream::iter(files.iter().map(|f| {
        let name = f
            .path
            .strip_prefix(prefix_text.as_str())
            .unwrap_or(&f.path)
            .to_owned();
        archive_file(
            job,
            source,
            ObjectPath::from(f.path.as_str()),
            archive,
            &partition,
            name,
        )
    }))
    .buffered(CONCURRENT_COPIES)
    .try_collect()
    .await?;
    let mut report = ArchiveReport::default();
    let mut archived = Vec::new();
    let mut gone = Vec::new();
    for c in copies {
        match c {
            Copied::New(f) => {
                report.copied += 1;
                archived.push(f);
            }
            Copied::Already(f) => {
                report.already_archived += 1;
                archived.push(f);
            }
            Copied::Gone(path) => gone.push(path),
        }
    }
    if !gone.is_empty() {
        // The caller lists the day again (the coalescer moved files).
        return Ok((Vec::new(), report, gone));
    }
    let manifest = ArchiveManifest {
        format: "weir input archive v1".to_owned(),
        run_id: run_id.to_owned(),
        weir_version: env!("CARGO_PKG_VERSION").to_owned(),
        source: source.display(prefix),
        archived_at: chrono::Utc::now().to_rfc3339(),
        files: archived,
    };
    let name = format!(
        "{MANIFESTS}/{:013}-{run_id}.json",
        chrono::Utc::now().timestamp_millis()
    );
    let path = raw_join(&partition, &name);
    let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    archive
        .store
        .put_opts(&path, PutPayload::from(body), create())
        .await
        .map_err(|e| Error::storage("put", archive.display(&path), &e))?;
    report.manifest = archive.display(&path);
    Ok((in_archive(&partition, &manifest), report, Vec::new()))
}

fn create() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    }
}

async fn archive_file(
    job: &DayJob,
    source: &Location,
    from: ObjectPath,
    archive: &Location,
    partition: &ObjectPath,
    name: String,
) -> Result<Copied> {
    let Some(bytes) = read_opt(source, &from).await? else {
        return Ok(Copied::Gone(source.display(&from)));
    };
    let file = ArchivedFile {
        name,
        bytes: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    };
    let to = raw_join(partition, &file.name);
    match archive
        .store
        .put_opts(&to, PutPayload::from_bytes(bytes), create())
        .await
    {
        Ok(_) => Ok(Copied::New(file)),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let there = read_all(archive, &to).await?;
            if sha256_hex(&there) == file.sha256 {
                Ok(Copied::Already(file))
            } else {
                Err(refused(
                    job,
                    format!(
                        "input file {} differs from its archived copy {} (the archive is never overwritten): \
                         rerun from the archive with --source-archive, or archive under another prefix",
                        source.display(&from),
                        archive.display(&to)
                    ),
                ))
            }
        }
        Err(e) => Err(Error::storage("put", archive.display(&to), &e)),
    }
}

/// An object's bytes; `None` when it is not there.
async fn read_opt(loc: &Location, path: &ObjectPath) -> Result<Option<bytes::Bytes>> {
    match loc.store.get(path).await {
        Ok(got) => got
            .bytes()
            .await
            .map(Some)
            .map_err(|e| Error::storage("read", loc.display(path), &e)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::storage("read", loc.display(path), &e)),
    }
}

async fn read_all(loc: &Location, path: &ObjectPath) -> Result<bytes::Bytes> {
    read_opt(loc, path)
        .await?
        .ok_or_else(|| Error::storage("read", loc.display(path), &"not found"))
}

fn in_archive(partition: &ObjectPath, manifest: &ArchiveManifest) -> Vec<InputFile> {
    manifest
        .files
        .iter()
        .map(|f| InputFile {
            path: raw_join(partition, &f.name).to_string(),
            size: f.bytes,
        })
        .collect()
}

/// The day's files from the partition's newest manifest, each checked
/// against its size and checksum (`--source-archive`).
async fn replay_day(
    job: &DayJob,
    archive: &Location,
    dir: &str,
) -> Result<(Vec<InputFile>, ArchiveReport)> {
    let partition = archive.child(dir);
    let manifests = raw_join(&partition, MANIFESTS);
    let listed: Vec<object_store::ObjectMeta> = archive
        .store
        .list(Some(&manifests))
        .try_collect()
        .await
        .map_err(|e| Error::storage("list", archive.display(&manifests), &e))?;
    let Some(newest) = listed
        .iter()
        .map(|m| &m.location)
        .filter(|p| p.as_ref().ends_with(".json"))
        .max_by(|a, b| a.as_ref().cmp(b.as_ref()))
    else {
        return Err(refused(
            job,
            format!(
                "no archive of the day under {} (no manifest in {MANIFESTS}/)",
                archive.display(&partition)
            ),
        ));
    };
    let manifest: ArchiveManifest = serde_json::from_slice(&read_all(archive, newest).await?)
        .map_err(|e| Error::Config {
            field: archive.display(newest),
            detail: crate::redact::json_error(&e),
        })?;
    let checks = manifest.files.iter().map(|f| {
        let path = raw_join(&partition, &f.name);
        async move {
            let Some(bytes) = read_opt(archive, &path).await? else {
                return Err(refused(job, format!(
                    "{} is listed in {} but missing",
                    archive.display(&path),
                    archive.display(newest)
                )));
            };
            let sha = sha256_hex(&bytes);
            if bytes.len() as u64 != f.bytes || sha != f.sha256 {
                return Err(refused(job, format!(
                    "{} does not match its manifest {} ({} bytes, sha256 {sha}; the manifest says {} bytes, sha256 {})",
                    archive.display(&path),
                    archive.display(newest),
                    bytes.len(),
                    f.bytes,
                    f.sha256
                )));
            }
            Ok(())
        }
    });
    let verified: Vec<()> = futures::stream::iter(checks)
        .buffered(CONCURRENT_COPIES)
        .try_collect()
        .await?;
    let report = ArchiveReport {
        manifest: archive.display(newest),
        verified: verified.len(),
        ..ArchiveReport::default()
    };
    Ok((in_archive(&partition, &manifest), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_are_lower_case_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
