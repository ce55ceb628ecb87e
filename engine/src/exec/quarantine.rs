//! The quarantine: the ingest plan's second output. The ingest operator
//! hands every corrupt record to a [`QuarantineSink`] as it meets it; the
//! sink stages them as gzip JSON lines, in parts, beside the day's data.
//! The rows that flow on to a writer are good rows only, so no writer
//! carries (or filters out) the corrupt records' columns.
//!
//! A quarantine record is the old job's shape: where the line was (`file`,
//! `line`), why it is there (`reason`, `field`, `detail`, never plaintext),
//! and the line as it came (still encrypted), base64 when it is not UTF-8.

use std::collections::BTreeMap;
use std::io::Write;

use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::metrics::Count;
use flate2::write::GzEncoder;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use super::write::{put, staging_dir};
use crate::output::{FileKind, StagedFile};
use crate::record::{Corrupt, CorruptReason, base64};
use crate::storage::{Location, S3Settings, raw_join};

/// Where the ingest stages its corrupt records: plain data, so it can
/// travel to executors with the ingest operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineSpec {
    /// The destination root (path or URL), resolved in each process.
    pub dest: String,
    /// The run's staging prefix for this day, relative to `dest`.
    pub staging: String,
    /// When set, a task whose own corrupt records pass this count fails the
    /// day at once (the day is then certain to fail its corrupt limit).
    #[serde(default)]
    pub stop_after_corrupt: Option<u64>,
    /// How to reach S3, when the destination is there.
    pub s3: S3Settings,
}

/// A task stages its quarantine in parts of about this much gzip, so a day of
/// corrupt lines (a rejected key, a run of blank lines) is never held whole.
const PART_BYTES: usize = 8 << 20;

/// What a task's quarantine staged and counted.
#[derive(Debug, Default)]
pub(super) struct Quarantined {
    /// Corrupt records by reason.
    pub corrupt: BTreeMap<CorruptReason, u64>,
    /// The parts staged.
    pub files: Vec<StagedFile>,
}

/// What the sink counts (metrics of the ingest operator).
#[derive(Debug, Clone)]
pub(super) struct QuarantineMetrics {
    pub files: Count,
    pub bytes: Count,
}

/// One task attempt's quarantine.
pub(super) struct QuarantineSink {
    spec: QuarantineSpec,
    dest: Location,
    partition: usize,
    attempt: String,
    open: Option<GzEncoder<Vec<u8>>>,
    /// Records in the open part.
    open_rows: u64,
    /// Parts staged so far.
    parts: usize,
    total: u64,
    done: Quarantined,
    metrics: QuarantineMetrics,
}

impl QuarantineSink {
    /// The quarantine of task `partition` (its number in the whole plan),
    /// attempt `attempt` (in its file names, so no attempt overwrites another's).
    pub fn new(
        spec: QuarantineSpec,
        partition: usize,
        attempt: String,
        metrics: QuarantineMetrics,
    ) -> Result<Self> {
        let dest = super::allow::staging_dest(&spec.dest, &spec.s3, &spec.staging)?;
        Ok(Self {
            spec,
            dest,
            partition,
            attempt,
            open: None,
            open_rows: 0,
            parts: 0,
            total: 0,
            done: Quarantined::default(),
            metrics,
        })
    }

    /// Adds the corrupt record of `file`'s line `line`, whose bytes were
    /// `original`. Fails the task (finally: another attempt reads the same
    /// lines) once its corrupt records pass the spec's stop count.
    pub fn add(&mut self, file: &str, line: u64, corrupt: &Corrupt, original: &[u8]) -> Result<()> {
        let gz = self
            .open
            .get_or_insert_with(|| GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        let (key, text) = match std::str::from_utf8(original) {
            Ok(t) => ("original", t.to_owned()),
            Err(_) => ("original_base64", base64::encode(original)),
        };
        let mut record = serde_json::json!({
            "file": file,
            "line": line,
            "reason": corrupt.reason.code(),
            "field": corrupt.field,
            "detail": corrupt.detail,
        });
        record[key] = serde_json::Value::String(text);
        serde_json::to_writer(&mut *gz, &record)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        gz.write_all(b"\n")?;
        *self.done.corrupt.entry(corrupt.reason).or_default() += 1;
        self.open_rows += 1;
        self.total += 1;
        if let Some(limit) = self.spec.stop_after_corrupt
            && self.total > limit
        {
            return Err(DataFusionError::Execution(format!(
                "task {} stopped the day early: {} corrupt records in this task alone, \
                 above the allowed count {limit} (by reason: {})",
                self.partition,
                self.total,
                self.done
                    .corrupt
                    .iter()
                    .map(|(reason, n)| format!("{reason} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(())
    }

    /// Stages the open part once it has grown to a part's size.
    pub async fn stage_if_full(&mut self) -> Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|gz| gz.get_ref().len() >= PART_BYTES)
        {
            self.stage_part().await?;
        }
        Ok(())
    }

    /// Stages the open part, if any.
    async fn stage_part(&mut self) -> Result<()> {
        let Some(gz) = self.open.take() else {
            return Ok(());
        };
        let bytes = gz.finish()?;
        let target = format!(
            "part-{:05}-{:04}-{}.jsonl.gz",
            self.partition, self.parts, self.attempt
        );
        self.parts += 1;
        let rows = std::mem::take(&mut self.open_rows);
        let prefix: ObjectPath = staging_dir(
            &self.dest,
            &self.spec.staging,
            &self.attempt,
            FileKind::Quarantine,
        );
        let path = raw_join(&prefix, &target);
        let size = bytes.len() as u64;
        put(&self.dest, &path, bytes).await?;
        self.metrics.files.add(1);
        self.metrics.bytes.add(size as usize);
        self.done.files.push(StagedFile {
            kind: FileKind::Quarantine,
            staged: path.to_string(),
            target,
            rows,
            bytes: size,
        });
        Ok(())
    }

    /// Stages what is left and says what the task quarantined.
    pub async fn finish(mut self) -> Result<Quarantined> {
        self.stage_part().await?;
        Ok(self.done)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
    use datafusion::physical_plan::metrics::MetricBuilder;

    use super::*;

    fn sink(dir: &std::path::Path, stop: Option<u64>) -> QuarantineSink {
        let metrics = ExecutionPlanMetricsSet::new();
        let spec = QuarantineSpec {
            dest: dir.to_str().unwrap().to_owned(),
            staging: "_weir_staging/run/day".to_owned(),
            stop_after_corrupt: stop,
            s3: S3Settings::default(),
        };
        let metrics = QuarantineMetrics {
            files: MetricBuilder::new(&metrics).counter("quarantine_files", 0),
            bytes: MetricBuilder::new(&metrics).counter("quarantine_bytes", 0),
        };
        QuarantineSink::new(spec, 3, "a1".to_owned(), metrics).unwrap()
    }

    fn scratch_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "weir-quarantine-{name}-{}",
            crate::random::attempt_token()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn records_are_staged_as_the_old_jobs_lines_and_counted_by_reason() {
        let dir = scratch_dir("lines");
        let mut sink = sink(&dir, None);
        let blank = Corrupt::new(CorruptReason::MalformedLine, "line", "empty");
        let key = Corrupt::new(CorruptReason::BadKey, "encryption", "refused");
        sink.add("s3://in/a.jsonl.gz", 7, &blank, b"").unwrap();
        sink.add("s3://in/a.jsonl.gz", 9, &key, b"\xff{x").unwrap();
        let done = sink.finish().await.unwrap();
        assert_eq!(
            done.corrupt,
            BTreeMap::from([
                (CorruptReason::MalformedLine, 1),
                (CorruptReason::BadKey, 1)
            ])
        );
        let [file] = done.files.as_slice() else {
            panic!("one part: {:?}", done.files)
        };
        assert_eq!((file.kind, file.rows), (FileKind::Quarantine, 2));
        assert_eq!(file.target, "part-00003-0000-a1.jsonl.gz");
        let dest = Location::parse(dir.to_str().unwrap(), &S3Settings::default()).unwrap();
        let staged = dest.display(&ObjectPath::from(file.staged.as_str()));
        assert!(
            staged.contains("_weir_staging/run/day/a1/quarantine/"),
            "{staged}"
        );
        let staged = std::fs::read(staged).unwrap();
        assert_eq!(staged.len() as u64, file.bytes);
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&staged[..])
            .read_to_string(&mut text)
            .unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["line"], 7);
        assert_eq!(lines[0]["reason"], blank.reason.code());
        assert_eq!(lines[0]["original"], "");
        // Not UTF-8: kept as base64, never lossily.
        assert_eq!(lines[1]["original_base64"], base64::encode(b"\xff{x"));
        assert!(lines[1].get("original").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_task_past_the_stop_count_fails_naming_the_reasons() {
        let dir = scratch_dir("stop");
        let mut sink = sink(&dir, Some(1));
        let blank = Corrupt::new(CorruptReason::MalformedLine, "line", "empty");
        sink.add("f", 1, &blank, b"").unwrap();
        let err = sink.add("f", 2, &blank, b"").unwrap_err().to_string();
        assert!(
            err.contains("task 3 stopped the day early: 2 corrupt records")
                && err.contains(&format!("{} 2", CorruptReason::MalformedLine)),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
