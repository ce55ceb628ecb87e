//! ORC output read back by readers Weir did not write: pyarrow, and Spark
//! 3.5 with both `spark.sql.orc.impl` values, on generated days that include
//! documents falling back to the 1980 date (what made orc-rust's writer
//! panic), locally and on a cluster.

use std::path::Path;

use weir_engine::output::OutputFormat;
use weir_testkit::generate::GenerateConfig;

use crate::run::{collections, context, date, day_dir, generate_into, local_dks, run};

const CALC: &str = "calculator:calculationParts";

/// Runs `tests/data/read_orc_day.py` with the readers' virtualenv
/// (`scripts/py-readers` installs it on first use).
fn read_with_outside_readers(orc_day: &Path, jsonl_day: &Path, spark: bool) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = std::process::Command::new(root.join("scripts/py-readers"));
    cmd.arg(root.join("tests/data/read_orc_day.py"))
        .arg(orc_day)
        .arg(jsonl_day);
    if spark {
        let probe = first_id(jsonl_day);
        cmd.args(["--spark", "--probe-id", &probe]);
    }
    let out = cmd.output().expect("run the readers");
    assert!(
        out.status.success(),
        "readers failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// An id from the middle of a day's JSON lines.
fn first_id(jsonl_day: &Path) -> String {
    let file = weir_tests::walk_gz(jsonl_day)
        .into_iter()
        .next()
        .expect("a JSON lines file");
    let lines = weir_tests::gz_lines(&file);
    let line = &lines[lines.len() / 2];
    let v: serde_json::Value = serde_json::from_slice(line).expect("JSON line");
    v["id"].as_str().expect("an id").to_owned()
}

fn assert_readers_agree(seen: &serde_json::Value, rows: u64, spark: bool) {
    assert_eq!(seen["equal"], true, "{seen}");
    assert_eq!(seen["orc_rows"].as_u64(), Some(rows), "{seen}");
    assert!(
        seen["fallback_1980_rows"].as_u64().unwrap_or(0) > 0,
        "the day has 1980 fallbacks: {seen}"
    );
    let types = &seen["pyarrow_types"];
    assert_eq!(types["id"], "string", "{seen}");
    assert_eq!(types["last_modified"], "timestamp[ns]", "{seen}");
    if !spark {
        return;
    }
    for implementation in ["hive", "native"] {
        let s = &seen["spark"][implementation];
        assert_eq!(s["rows"].as_u64(), Some(rows), "{implementation}: {seen}");
        for (col, ty) in [
            ("id", "string"),
            ("db_type", "string"),
            ("last_modified", "timestamp"),
            ("val", "string"),
            ("id_part", "string"),
        ] {
            assert_eq!(s["types"][col], ty, "{implementation} {col}: {seen}");
        }
        assert!(
            s["min_last_modified"]
                .as_str()
                .is_some_and(|t| t.starts_with("1980-01-01 00:00:00")),
            "{implementation}: {seen}"
        );
    }
    let pushdown = &seen["spark"]["pushdown"];
    let with = pushdown["true"]["scan_rows"].as_u64().expect("scan rows");
    let without = pushdown["false"]["scan_rows"].as_u64().expect("scan rows");
    assert!(pushdown["true"]["found"].as_u64() >= Some(1), "{seen}");
    assert_eq!(
        pushdown["true"]["found"], pushdown["false"]["found"],
        "{seen}"
    );
    assert_eq!(without, rows, "{seen}");
    assert!(
        with * 20 <= without,
        "statistics let Spark skip row groups: {with} of {without} rows scanned"
    );
}

/// `records` generated calculationParts records landing for 2024-03-02
/// under `source`, and the local key service that holds their keys.
async fn generated_day(
    dir: &Path,
    source: &Path,
    records: u64,
    files: u32,
    per_key: u64,
    corrupt_rate: f64,
) -> weir_testkit::dks::RunningDks {
    let master = dir.join("master.key");
    let config = GenerateConfig {
        collections: collections(&[CALC]),
        export_dates: vec![date("2024-03-02")],
        records_per_day: records,
        files_per_day: files,
        records_per_key: per_key,
        corrupt_rate,
        ..GenerateConfig::default()
    };
    generate_into(source, &master, &config).await;
    local_dks(&master, 0).await
}

/// A generated day published as ORC and as JSON lines by the same engine;
/// pyarrow and Spark read the ORC equal to the JSON lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generated_orc_day_reads_back_in_pyarrow_and_spark_equal_to_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let dks = generated_day(dir.path(), &source, 40_000, 4, 5_000, 0.001).await;
    let mut days = Vec::new();
    for format in [OutputFormat::Orc, OutputFormat::Jsonl] {
        let dest = dir.path().join(format.as_str());
        let mut ctx = context(&source, &dest, &dks.url());
        ctx.format = Some(format);
        let report = run(&ctx, &[CALC], &[date("2024-03-02")]).await;
        assert!(report.succeeded(), "{:#?}", report.days);
        let rows = report.days[0].records_out;
        days.push((
            day_dir(&dest, &report, CALC, "2024-03-02", format.as_str()),
            rows,
        ));
    }
    dks.stop().await;
    assert_eq!(days[0].1, days[1].1);
    // The day's files follow the data: one per `id_part` directory here
    // (each holds far less than a file's worth), not one per directory per
    // flush per task.
    let mut per_dir: std::collections::BTreeMap<String, usize> = Default::default();
    for file in crate::run::tree(&days[0].0)
        .iter()
        .filter(|f| f.ends_with(".orc"))
    {
        let dir = file.split('/').next().unwrap_or_default().to_owned();
        assert!(dir.starts_with("id_part="), "{file}");
        *per_dir.entry(dir).or_default() += 1;
    }
    assert!(per_dir.len() > 200, "{} id_part directories", per_dir.len());
    assert!(per_dir.values().all(|n| *n == 1), "{per_dir:?}");
    let seen = read_with_outside_readers(&days[0].0, &days[1].0, true);
    eprintln!("outside readers: {seen}");
    assert_readers_agree(&seen, days[0].1, true);
}

/// 200,000 generated records (with their 1980 fallbacks) published as ORC
/// by 1 scheduler + 2 executors read back equal to the JSON lines of a local
/// run of the same day, one file per `id_part` directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_orc_day_of_200000_records_reads_back_equal_to_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let dks = generated_day(dir.path(), &source, 200_000, 8, 10_000, 0.0005).await;
    let jsonl = dir.path().join("jsonl");
    let mut ctx = context(&source, &jsonl, &dks.url());
    ctx.format = Some(OutputFormat::Jsonl);
    let local = run(&ctx, &[CALC], &[date("2024-03-02")]).await;
    assert!(local.succeeded(), "{:#?}", local.days);
    let cluster = weir_tests::TestCluster::start(dir.path(), 2, &[]);
    let orc = dir.path().join("orc");
    let report_path = dir.path().join("report.json");
    let out = std::process::Command::new(weir_tests::weir_bin())
        .args(["run", "--cluster", &cluster.url(), "--collection", CALC])
        .args(["--date", "2024-03-02", "--partitions", "4"])
        .arg("--source")
        .arg(&source)
        .arg("--dest")
        .arg(&orc)
        .args(["--dks-url", &dks.url()])
        .arg("--report")
        .arg(&report_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    let report: weir_engine::report::RunReport =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    dks.stop().await;
    let rows = local.days[0].records_out;
    assert_eq!(report.days[0].records_out, rows);
    assert!(rows > 199_000, "{rows}");
    let orc_day = day_dir(&orc, &report, CALC, "2024-03-02", "orc");
    let jsonl_day = day_dir(&jsonl, &local, CALC, "2024-03-02", "jsonl");
    let files = crate::run::tree(&orc_day);
    let orc_files: Vec<&String> = files.iter().filter(|f| f.ends_with(".orc")).collect();
    let dirs: std::collections::BTreeSet<&str> = orc_files
        .iter()
        .filter_map(|f| f.split('/').next())
        .collect();
    let sample: Vec<&&String> = orc_files
        .iter()
        .filter(|f| f.starts_with("id_part=0a"))
        .collect();
    assert_eq!(
        orc_files.len(),
        dirs.len(),
        "one file per id_part directory: {sample:?}"
    );
    let seen = read_with_outside_readers(&orc_day, &jsonl_day, false);
    assert_readers_agree(&seen, rows, false);
}
