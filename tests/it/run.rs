//! `weir run`'s engine end to end on DataFusion: the old job's sample through
//! scan → ingest → write → publish, reruns, failures that publish nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use weir_engine::keys::{CacheConfig, DksConfig, RetryPolicy};
use weir_engine::output::{OrcCompression, OutputFormat};
use weir_engine::record::{Cipher, CollectionName};
use weir_engine::report::{DayStatus, RunReport};
use weir_engine::run::LocalRunner;
use weir_engine::storage::Location;
use weir_ingesters::{Registry, RunContext, run_all};
use weir_testkit::dks::{MasterKey, RunningDks, ServeConfig, server};
use weir_testkit::generate::{CorruptKind, GenerateConfig, KeySource, generate};
use weir_tests::{conformance_file, gz_lines};

const SAMPLE_COLLECTIONS: [&str; 3] = [
    "calculator:calculationParts",
    "data:businessAudit",
    "core:claimant",
];

pub(crate) fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(crate) fn collections(names: &[&str]) -> Vec<CollectionName> {
    names
        .iter()
        .map(|c| CollectionName::parse(c).unwrap())
        .collect()
}

async fn sample_dks(dir: &Path) -> RunningDks {
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("master.key"));
    config.keys_file = Some(conformance_file("sample/keys.json"));
    server::start(config).await.unwrap()
}

pub(crate) fn context(source: &Path, dest: &Path, dks_url: &str) -> RunContext {
    let mut dks = DksConfig::new(dks_url);
    dks.retry = RetryPolicy {
        attempts: 3,
        initial_backoff_ms: 10,
        max_backoff_ms: 50,
    };
    RunContext {
        run_id: format!("test-{:x}", rand_token()),
        source: source.display().to_string(),
        dest: dest.display().to_string(),
        cipher: Cipher::Ctr,
        format: None,
        orc_compression: OrcCompression::Zlib,
        // The sample plants 4 % corrupt records.
        max_corrupt_ratio: 0.1,
        max_corrupt: None,
        batch_bytes: weir_engine::exec::BATCH_BYTES,
        partitions: 2,
        batch_lines: 500,
        max_line_bytes: weir_engine::exec::DEFAULT_MAX_LINE_BYTES,
        buffer_bytes: 8 << 20,
        s3: Default::default(),
        on_missing_input: Default::default(),
        allow_empty: false,
        archive_input: None,
        source_archive: false,
        update: false,
        tables: Default::default(),
        checks: Default::default(),
        merge: Default::default(),
        lease_ttl: std::time::Duration::from_secs(60),
        reprocess: Default::default(),
        dynamodb: None,
        runner: Arc::new(LocalRunner::new(2, &dks, CacheConfig::default(), None).unwrap()),
    }
}

fn rand_token() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Every file under `dir`, relative, sorted.
pub(crate) fn tree(dir: &Path) -> Vec<String> {
    weir_tests::walk_files(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// (id, db_type, val) of every published row of a day (text: val only).
pub(crate) fn published_rows(
    dir: &Path,
    format: OutputFormat,
) -> Vec<(Option<String>, Option<String>, String)> {
    let mut rows = Vec::new();
    for rel in tree(dir) {
        let path = dir.join(&rel);
        if rel.ends_with("_SUCCESS") || rel.ends_with("_manifest.json") {
            continue;
        }
        match format {
            OutputFormat::Text => {
                for line in gz_lines(&path) {
                    rows.push((None, None, String::from_utf8(line).unwrap()));
                }
            }
            OutputFormat::Orc => {
                let file = std::fs::File::open(&path).unwrap();
                for batch in orc_rust::ArrowReaderBuilder::try_new(file).unwrap().build() {
                    rows.extend(batch_rows(&batch.unwrap()));
                }
            }
            OutputFormat::Parquet => {
                let file = std::fs::File::open(&path).unwrap();
                let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
                for batch in reader {
                    rows.extend(batch_rows(&batch.unwrap()));
                }
            }
            OutputFormat::Jsonl => {
                for line in gz_lines(&path) {
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    rows.push((
                        v["id"].as_str().map(str::to_owned),
                        v["db_type"].as_str().map(str::to_owned),
                        v["val"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    rows.sort();
    rows
}

fn batch_rows(batch: &RecordBatch) -> Vec<(Option<String>, Option<String>, String)> {
    let s = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .clone()
    };
    let (id, db_type, val) = (s("id"), s("db_type"), s("val"));
    (0..batch.num_rows())
        .map(|i| {
            (
                id.is_valid(i).then(|| id.value(i).to_owned()),
                Some(db_type.value(i).to_owned()),
                val.value(i).to_owned(),
            )
        })
        .collect()
}

/// The old job's rows for a collection and export date.
pub(crate) fn expected_rows(
    collection: &str,
    export_date: &str,
    text_only: bool,
) -> Vec<(Option<String>, Option<String>, String)> {
    let path = conformance_file(&format!(
        "sample/expected/{}.{export_date}.jsonl",
        collection.replace(':', ".")
    ));
    let mut rows: Vec<_> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let val = v["val"].as_str().unwrap().to_owned();
            if text_only {
                (None, None, val)
            } else {
                (
                    v["id"].as_str().map(str::to_owned),
                    v["db_type"].as_str().map(str::to_owned),
                    val,
                )
            }
        })
        .collect();
    rows.sort();
    rows
}

/// (file relative to the sample root, line, reason) of the quarantine.
pub(crate) fn quarantined(dir: &Path, source_root: &Path) -> Vec<(String, u64, String)> {
    let root = std::fs::canonicalize(source_root)
        .unwrap_or_else(|_| source_root.to_owned())
        .display()
        .to_string();
    let mut out = Vec::new();
    for rel in tree(dir).into_iter().filter(|r| r.ends_with(".jsonl.gz")) {
        for line in gz_lines(&dir.join(rel)) {
            let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
            let file = v["file"].as_str().unwrap();
            assert!(v.get("original").is_some() || v.get("original_base64").is_some());
            out.push((
                file.strip_prefix(&format!("{root}/"))
                    .unwrap_or(file)
                    .to_owned(),
                v["line"].as_u64().unwrap(),
                v["reason"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

pub(crate) fn manifest_corrupt(collection: &str, landing: &str) -> Vec<(String, u64, String)> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(conformance_file("sample/manifest.json")).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for file in manifest["collections"][collection][landing]["files"]
        .as_array()
        .unwrap()
    {
        for c in file["corrupt"].as_array().unwrap() {
            let kind = CorruptKind::parse(c["kind"].as_str().unwrap()).unwrap();
            out.push((
                file["path"].as_str().unwrap().to_owned(),
                c["line"].as_u64().unwrap(),
                kind.reason().to_owned(),
            ));
        }
    }
    out.sort();
    out
}

pub(crate) fn day_dir(
    dest: &Path,
    report: &RunReport,
    collection: &str,
    export_date: &str,
    format: &str,
) -> PathBuf {
    let out = report
        .outputs
        .iter()
        .find(|o| o.collection == collection && o.export_date == export_date && o.format == format)
        .unwrap_or_else(|| {
            panic!(
                "no {format} output for {collection} {export_date}: {:?}",
                report.outputs
            )
        });
    let path = PathBuf::from(&out.path);
    assert!(
        path.starts_with(dest),
        "{} not under {}",
        path.display(),
        dest.display()
    );
    path
}

/// Generates `config` under `source` with data keys wrapped under `master`.
pub(crate) async fn generate_into(
    source: &Path,
    master: &Path,
    config: &GenerateConfig,
) -> weir_testkit::generate::Manifest {
    let keys = KeySource::Master(MasterKey::load_or_create(master).unwrap());
    let dest = Location::parse(source.to_str().unwrap(), &Default::default()).unwrap();
    generate(config, &keys, &dest).await.unwrap()
}

/// The local key service over `master`, on a free port.
pub(crate) async fn local_dks(master: &Path, latency_ms: u64) -> RunningDks {
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), master);
    config.latency_ms = latency_ms;
    server::start(config).await.unwrap()
}

pub(crate) async fn run(ctx: &RunContext, names: &[&str], dates: &[NaiveDate]) -> RunReport {
    run_all(
        ctx,
        &Registry::with_builtins(),
        &collections(names),
        dates,
        2,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_publishes_the_old_jobs_rows_and_quarantines_its_corrupt_records() {
    let dir = tempfile::tempdir().unwrap();
    let dks = sample_dks(dir.path()).await;
    let source = conformance_file("sample");
    let dest = dir.path().join("out");
    let ctx = context(&source, &dest, &dks.url());
    let dates = [date("2023-06-02"), date("2023-06-03")];
    let report = run(&ctx, &SAMPLE_COLLECTIONS, &dates).await;
    assert!(report.succeeded(), "{:#?}", report.days);
    assert_eq!(report.days.len(), 6);
    for day in &report.days {
        let (collection, export) = (day.collection.as_str(), day.export_date.as_str());
        let format = match collection {
            "calculator:calculationParts" => OutputFormat::Orc,
            "data:businessAudit" => OutputFormat::Text,
            _ => OutputFormat::Parquet,
        };
        let data = day_dir(&dest, &report, collection, export, format.as_str());
        let got = published_rows(&data, format);
        let want = expected_rows(collection, export, format == OutputFormat::Text);
        assert_eq!(got.len(), want.len(), "{collection} {export}: row count");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{collection} {export}: first differing row");
        }
        assert_eq!(day.records_out as usize, want.len());
        assert!(data.join("_SUCCESS").is_file() && data.join("_manifest.json").is_file());

        let landing = day.landing_date.as_str();
        let q = day_dir(&dest, &report, collection, export, "quarantine");
        assert_eq!(
            quarantined(&q, &source),
            manifest_corrupt(collection, landing),
            "{collection} {export}: quarantine"
        );
        assert_eq!(
            day.corrupt + day.records_out,
            day.records_in,
            "nothing lost"
        );
    }
    // calculationParts: Hive layout with id_part directories.
    let parts = day_dir(
        &dest,
        &report,
        "calculator:calculationParts",
        "2023-06-02",
        "orc",
    );
    assert!(parts.ends_with("corporate_data_ingestion/orc/daily/calculator/calculationParts/export_year=2023/export_month=06/export_day=02"));
    assert!(
        tree(&parts)
            .iter()
            .any(|f| f.starts_with("id_part=") && f.ends_with(".orc"))
    );
    // No staging left behind.
    assert!(!dest.join("_weir_staging").exists());
    // One DKS call per distinct key of the process, however many partitions
    // and days: the sample's pairs (refused cloudhsm:99,99 ones included).
    let pairs = weir_tests::sample_key_pairs();
    assert_eq!(report.dks.calls, pairs.len() as u64);
    let refused = pairs.iter().filter(|(k, _)| k == "cloudhsm:99,99").count() as u64;
    assert_eq!(report.dks.rejected, refused);
    assert_eq!(dks.metrics().decrypts(), pairs.len() as u64 - refused);
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn published_files_read_back_with_datafusion() {
    let dir = tempfile::tempdir().unwrap();
    let dks = sample_dks(dir.path()).await;
    let source = conformance_file("sample");
    let dest = dir.path().join("out");
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.format = Some(OutputFormat::Parquet);
    let report = run(
        &ctx,
        &["core:claimant", "calculator:calculationParts"],
        &[date("2023-06-02")],
    )
    .await;
    assert!(report.succeeded(), "{:#?}", report.days);
    ctx.format = Some(OutputFormat::Orc);
    ctx.run_id.push_str("-orc");
    let orc = run(&ctx, &["core:claimant"], &[date("2023-06-02")]).await;
    assert!(orc.succeeded(), "{:#?}", orc.days);

    let session = SessionContext::new();
    for day in &report.days {
        let data = day_dir(&dest, &report, &day.collection, "2023-06-02", "parquet");
        let df = session
            .read_parquet(
                data.display().to_string(),
                ParquetReadOptions::default().file_extension(".parquet"),
            )
            .await
            .unwrap();
        assert_eq!(
            df.count().await.unwrap() as u64,
            day.records_out,
            "{}",
            day.collection
        );
    }
    // ORC: decoded by orc-rust, counted by DataFusion SQL.
    let data = day_dir(&dest, &orc, "core:claimant", "2023-06-02", "orc");
    let mut batches = Vec::new();
    for rel in tree(&data).into_iter().filter(|f| f.ends_with(".orc")) {
        let file = std::fs::File::open(data.join(rel)).unwrap();
        for b in orc_rust::ArrowReaderBuilder::try_new(file).unwrap().build() {
            batches.push(b.unwrap());
        }
    }
    let table =
        datafusion::datasource::MemTable::try_new(batches[0].schema(), vec![batches]).unwrap();
    session.register_table("claimant", Arc::new(table)).unwrap();
    let counted = session
        .sql("SELECT count(*) AS n, count(DISTINCT db_type) AS kinds FROM claimant")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let n = counted[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(n as u64, orc.days[0].records_out);
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rerun_replaces_the_day_with_identical_rows_and_no_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let dks = sample_dks(dir.path()).await;
    let source = conformance_file("sample");
    let dest = dir.path().join("out");
    let mut ctx = context(&source, &dest, &dks.url());
    let first = run(
        &ctx,
        &["calculator:calculationParts"],
        &[date("2023-06-03")],
    )
    .await;
    assert!(first.succeeded());
    let data = day_dir(
        &dest,
        &first,
        "calculator:calculationParts",
        "2023-06-03",
        "orc",
    );
    let rows_before = published_rows(&data, OutputFormat::Orc);
    let files_before = tree(&data);
    ctx.run_id.push_str("-again");
    let second = run(
        &ctx,
        &["calculator:calculationParts"],
        &[date("2023-06-03")],
    )
    .await;
    assert!(second.succeeded());
    assert_eq!(published_rows(&data, OutputFormat::Orc), rows_before);
    let files_after = tree(&data);
    // New file names (new attempts), none of the old ones left.
    assert_eq!(files_after.len(), files_before.len());
    for f in files_before.iter().filter(|f| f.ends_with(".orc")) {
        assert!(
            !files_after.contains(f),
            "{f} of the first run is still there"
        );
    }
    // The manifest lists exactly the data files present.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("_manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let present: Vec<String> = files_after
        .into_iter()
        .filter(|f| f.ends_with(".orc"))
        .collect();
    assert_eq!(listed, present);
    assert!(
        !dest.join("_weir_staging").exists(),
        "{:?}",
        tree(&dest.join("_weir_staging"))
    );
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn too_many_corrupt_records_fail_the_day_and_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dks = sample_dks(dir.path()).await;
    let source = conformance_file("sample");
    let dest = dir.path().join("out");
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.max_corrupt_ratio = 0.01;
    let report = run(
        &ctx,
        &["calculator:calculationParts"],
        &[date("2023-06-02")],
    )
    .await;
    assert!(!report.succeeded());
    let day = &report.days[0];
    assert_eq!(day.status, DayStatus::Failed);
    assert_eq!(
        day.fault,
        Some(weir_engine::Fault::Input),
        "the data's fault"
    );
    let error = day.error.as_deref().unwrap();
    assert!(
        error.contains("64 of 1500 records corrupt") && error.contains("nothing published"),
        "{error}"
    );
    assert!(report.outputs.is_empty());
    assert!(
        !dest.join("corporate_data_ingestion").exists(),
        "{:?}",
        tree(&dest)
    );
    assert!(!dest.join("_weir_staging").exists());
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_key_service_going_away_mid_run_fails_the_day_and_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let source = dir.path().join("source");
    let dest = dir.path().join("out");
    // Many data keys, so later batches need keys the first did not.
    let config = GenerateConfig {
        collections: collections(&["core:claimant"]),
        export_dates: vec![date("2024-05-02")],
        records_per_day: 3_000,
        files_per_day: 2,
        records_per_key: 100,
        ..GenerateConfig::default()
    };
    generate_into(&source, &master, &config).await;

    let steady = local_dks(&master, 0).await;
    let mut ctx = context(&source, &dest, &steady.url());
    ctx.batch_lines = 100;
    let first = run(&ctx, &["core:claimant"], &[date("2024-05-02")]).await;
    assert!(first.succeeded(), "{:#?}", first.days);
    steady.stop().await;
    let data = day_dir(&dest, &first, "core:claimant", "2024-05-02", "parquet");
    let before = tree(&data);
    let rows_before = published_rows(&data, OutputFormat::Parquet);

    // A service that answers a few keys, then is gone.
    let dying = Arc::new(local_dks(&master, 0).await);
    let url = dying.url();
    let killer = {
        let dying = Arc::clone(&dying);
        tokio::spawn(async move {
            weir_tests::wait_for("3 decrypts", std::time::Duration::from_secs(60), || {
                dying.metrics().decrypts() >= 3
            })
            .await;
            Arc::into_inner(dying).expect("sole owner").stop().await;
        })
    };
    drop(dying);
    let mut ctx = context(&source, &dest, &url);
    ctx.batch_lines = 100;
    let second = run(&ctx, &["core:claimant"], &[date("2024-05-02")]).await;
    killer.await.unwrap();
    assert!(!second.succeeded());
    let error = second.days[0].error.as_deref().unwrap();
    assert!(
        error.contains("unavailable after 3 attempts") && error.contains(&url),
        "{error}"
    );
    assert!(second.outputs.is_empty());
    // The previous output is intact, and nothing is staged.
    assert_eq!(tree(&data), before);
    assert_eq!(published_rows(&data, OutputFormat::Parquet), rows_before);
    assert!(
        !dest.join("_weir_staging").exists(),
        "{:?}",
        tree(&dest.join("_weir_staging"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generated_days_backfill_concurrently_with_every_record_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let source = dir.path().join("source");
    let dest = dir.path().join("out");
    let dates: Vec<NaiveDate> = (1..=3)
        .map(|d| NaiveDate::from_ymd_opt(2024, 7, d).unwrap())
        .collect();
    let config = GenerateConfig {
        collections: collections(&SAMPLE_COLLECTIONS),
        export_dates: dates.clone(),
        records_per_day: 700,
        files_per_day: 3,
        records_per_key: 200,
        corrupt_rate: 0.02,
        ..GenerateConfig::default()
    };
    let manifest = generate_into(&source, &master, &config).await;
    let dks = local_dks(&master, 0).await;
    let ctx = context(&source, &dest, &dks.url());
    let report = run(&ctx, &SAMPLE_COLLECTIONS, &dates).await;
    assert!(report.succeeded(), "{:#?}", report.days);
    assert_eq!(report.days.len(), 9);
    for day in &report.days {
        let m = &manifest.collections[&day.collection][&day.landing_date];
        assert_eq!(day.records_in, m.records);
        assert_eq!(day.records_out, m.valid);
        let by_reason: BTreeMap<weir_engine::record::CorruptReason, u64> = m
            .corrupt_kinds
            .iter()
            .fold(BTreeMap::new(), |mut acc, (k, n)| {
                let code = CorruptKind::parse(k).unwrap().reason();
                *acc.entry(weir_engine::record::CorruptReason::from_code(code).unwrap())
                    .or_default() += n;
                acc
            });
        assert_eq!(
            day.corrupt_by_reason, by_reason,
            "{} {}",
            day.collection, day.export_date
        );
    }
    dks.stop().await;
}

/// Regression: one wrapped key named under a known and an unknown master key
/// id in the same batch; the refusal of one must not spoil the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_key_id_does_not_spoil_the_same_wrapped_key_under_a_good_id() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let source = dir.path().join("source");
    let dest = dir.path().join("out");
    let config = GenerateConfig {
        collections: collections(&["calculator:calculationParts"]),
        export_dates: vec![date("2024-05-02")],
        records_per_day: 2_000,
        files_per_day: 2,
        records_per_key: 5_000,
        corrupt_rate: 0.01,
        ..GenerateConfig::default()
    };
    let manifest = generate_into(&source, &master, &config).await;
    let dks = local_dks(&master, 0).await;
    let ctx = context(&source, &dest, &dks.url());
    let report = run(
        &ctx,
        &["calculator:calculationParts"],
        &[date("2024-05-02")],
    )
    .await;
    let day = &report.days[0];
    let m = &manifest.collections["calculator:calculationParts"]["2024-05-01"];
    assert!(
        m.corrupt_kinds.contains_key("unknown_kek"),
        "{:?}",
        m.corrupt_kinds
    );
    assert_eq!(day.records_out, m.valid, "{:?}", day.corrupt_by_reason);
    dks.stop().await;
}

/// Concatenated gzip members (as K2HB appends) and CRLF line ends are read
/// whole; a damaged gzip stream fails the day with the file named.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_member_gzip_is_read_whole_and_damaged_gzip_names_the_file() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let source = dir.path().join("source");
    let dest = dir.path().join("out");
    let config = GenerateConfig {
        collections: collections(&["core:claimant"]),
        export_dates: vec![date("2024-05-02")],
        records_per_day: 300,
        files_per_day: 1,
        ..GenerateConfig::default()
    };
    let manifest = generate_into(&source, &master, &config).await;
    let day = &manifest.collections["core:claimant"]["2024-05-01"];
    let path = source.join(&day.files[0].path);
    // Rewrite the file as three gzip members, CRLF line ends.
    let lines = gz_lines(&path);
    let mut bytes = Vec::new();
    for chunk in lines.chunks(100) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for line in chunk.iter().filter(|l| !l.is_empty()) {
            gz.write_all(line).unwrap();
            gz.write_all(b"\r\n").unwrap();
        }
        bytes.extend(gz.finish().unwrap());
    }
    std::fs::write(&path, &bytes).unwrap();
    let dks = local_dks(&master, 0).await;
    let ctx = context(&source, &dest, &dks.url());
    let report = run(&ctx, &["core:claimant"], &[date("2024-05-02")]).await;
    assert!(report.succeeded(), "{:#?}", report.days);
    assert_eq!(report.days[0].records_in, 300);
    assert_eq!(report.days[0].records_out, day.valid);

    // Damage the second member: the day fails, naming the file.
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    for b in &mut damaged[at..at + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &damaged).unwrap();
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.run_id.push_str("-damaged");
    let failed = run(&ctx, &["core:claimant"], &[date("2024-05-02")]).await;
    assert!(!failed.succeeded());
    let error = failed.days[0].error.as_deref().unwrap();
    assert!(
        error.contains(&day.files[0].path) && error.contains("cannot read past line"),
        "{error}"
    );
    // The earlier output is still the published one.
    let data = day_dir(&dest, &report, "core:claimant", "2024-05-02", "parquet");
    assert_eq!(
        published_rows(&data, OutputFormat::Parquet).len() as u64,
        day.valid
    );
    dks.stop().await;
}

/// `--on-missing-input retry`: a listed file deleted under the run makes the
/// day list its input again once and publish what is there then.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_vanished_input_is_relisted_once_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let source = dir.path().join("source");
    let dest = dir.path().join("out");
    let config = GenerateConfig {
        collections: collections(&["core:claimant"]),
        export_dates: vec![date("2024-05-02")],
        records_per_day: 2_000,
        files_per_day: 2,
        records_per_key: 100,
        ..GenerateConfig::default()
    };
    let manifest = generate_into(&source, &master, &config).await;
    let day = &manifest.collections["core:claimant"]["2024-05-01"];
    let dks = Arc::new(local_dks(&master, 100).await);
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.partitions = 1;
    ctx.batch_lines = 100;
    ctx.on_missing_input = weir_engine::run::MissingInput::Retry;
    let second = source.join(&day.files[1].path);
    let deleter = {
        let dks = Arc::clone(&dks);
        tokio::spawn(async move {
            weir_tests::wait_for("a decrypt", std::time::Duration::from_secs(60), || {
                dks.metrics().decrypts() >= 1
            })
            .await;
            std::fs::remove_file(second).unwrap();
        })
    };
    let report = run(&ctx, &["core:claimant"], &[date("2024-05-02")]).await;
    deleter.await.unwrap();
    assert!(report.succeeded(), "{:#?}", report.days);
    assert_eq!(report.days[0].files, 1, "listed again: one file left");
    assert_eq!(report.days[0].records_in, day.files[0].records);
}
