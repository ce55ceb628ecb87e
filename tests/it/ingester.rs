//! A team's own collection (issue 13): `tests/bin/weir_things.rs` is a
//! whole `weir` binary that registers `team:things`, whose post-processing
//! step derives a count per `db_type` from the day's staged ORC rows with
//! SQL, and typed fields with `from_json` (issue 15). All outputs publish
//! together, in-process and on a cluster; when
//! the step fails nothing is published, every earlier output stays as it
//! was, and the error names the collection, the day and the step.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use weir_engine::report::{DayStatus, RunReport};
use weir_tests::{TestCluster, walk_files};

const THINGS: &str = "team:things";
const DATE: &str = "2024-05-02";

/// Every published file under `root` (markers included) with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk_files(root)
        .into_iter()
        // Not staging, nor the run status and leases every run writes.
        .filter(|p| {
            let rel = p.strip_prefix(root).unwrap();
            !rel.starts_with("_weir_staging") && !rel.starts_with("_weir")
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(root).unwrap().display().to_string(), bytes)
        })
        .collect()
}

fn things(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir-things"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Generates the day, starts a key service; (source, dks process, url).
fn day(dir: &Path) -> (std::path::PathBuf, weir_tests::Process, String) {
    let source = dir.join("source");
    let master = dir.join("master.key");
    let out = things(
        &[
            "generate",
            "--collection",
            THINGS,
            "--date",
            DATE,
            "--records",
            "3000",
            "--files-per-day",
            "3",
            "--corrupt-rate",
            "0.01",
            "--dest",
            source.to_str().unwrap(),
            "--master-key-file",
            master.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (dks, url) = weir_tests::spawn_dks(&master, None, &[]);
    (source, dks, url)
}

fn run_args<'a>(source: &'a Path, dest: &'a Path, url: &'a str, report: &'a Path) -> Vec<&'a str> {
    vec![
        "run",
        "--collection",
        THINGS,
        "--date",
        DATE,
        "--max-corrupt-ratio",
        "0.1",
        "--partitions",
        "3",
        "--source",
        source.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--dks-url",
        url,
        "--report",
        report.to_str().unwrap(),
    ]
}

/// The derived counts published for the day: db_type → n.
fn counts(dest: &Path) -> BTreeMap<String, u64> {
    let dir = dest.join(format!(
        "corporate_data_ingestion/derived/team/things/counts/export_date={DATE}"
    ));
    assert!(dir.join("_SUCCESS").is_file(), "{}", dir.display());
    weir_tests::walk_gz(&dir)
        .iter()
        .flat_map(|f| weir_tests::gz_lines(f))
        .map(|line| {
            let row: serde_json::Value = serde_json::from_slice(&line).unwrap();
            assert!(row["latest"].is_string(), "{row}");
            (
                row["db_type"].as_str().unwrap().to_owned(),
                row["n"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The typed people published for the day: every row's `nino` and `born`
/// (from `from_json(val, ...)` in SQL) are what a JSON parser that is not
/// Weir's reads in its `val`.
fn check_people(dest: &Path, rows: u64) {
    let dir = dest.join(format!(
        "corporate_data_ingestion/derived/team/things/people/export_date={DATE}"
    ));
    assert!(dir.join("_SUCCESS").is_file(), "{}", dir.display());
    let mut seen = 0;
    for line in weir_tests::walk_gz(&dir)
        .iter()
        .flat_map(|f| weir_tests::gz_lines(f))
    {
        let row: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let val: serde_json::Value = serde_json::from_str(row["val"].as_str().unwrap()).unwrap();
        assert_eq!(row["nino"], val["nino"], "{row}");
        assert!(val["nino"].is_string(), "{val}");
        assert_eq!(row["born"], val["dateOfBirth"], "{row}");
        seen += 1;
    }
    assert_eq!(seen, rows);
}

fn check_published(dest: &Path, report: &Path) -> RunReport {
    let report: RunReport = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let day = &report.days[0];
    assert_eq!(day.status, DayStatus::Published, "{day:?}");
    let counts = counts(dest);
    assert_eq!(
        counts.values().sum::<u64>(),
        day.records_out,
        "the count covers every staged row: {counts:?}"
    );
    assert_eq!(counts.get("DELETE").copied().unwrap_or(0), day.deletes);
    assert!(day.derived.contains_key("counts"), "{:?}", day.derived);
    check_people(dest, day.records_out);
    assert!(
        report.outputs.iter().any(|o| o.format == "counts"),
        "{:?}",
        report.outputs
    );
    report
}

#[test]
fn a_registered_collection_derives_an_output_with_sql_and_publishes_it_with_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path());
    let dest = dir.path().join("out");
    let report = dir.path().join("report.json");
    let out = things(&run_args(&source, &dest, &url, &report), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let first = check_published(&dest, &report);
    assert!(first.days[0].corrupt > 0, "the day has a quarantine too");

    // The step fails: nothing is published, everything stays byte for byte.
    let before = snapshot(&dest);
    let out = things(
        &run_args(&source, &dest, &url, &report),
        &[("WEIR_THINGS_FAIL", "1")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("{THINGS} {DATE}: post-processing step counts"))
            && stdout.contains("no_such_column")
            && stdout.contains("nothing published")
            && stdout.contains("configuration's fault"),
        "{stdout}"
    );
    assert_eq!(snapshot(&dest), before, "outputs changed by a failed step");
    assert!(!dest.join("_weir_staging").exists(), "staging left behind");
}

#[test]
fn on_a_cluster_the_derived_output_reads_orc_back_on_the_executors() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path());
    let cluster = TestCluster::start(dir.path(), 2, &[]);
    let dest = dir.path().join("out");
    let report = dir.path().join("report.json");
    let cluster_url = cluster.url();
    let mut args = run_args(&source, &dest, &url, &report);
    args.extend(["--cluster", &cluster_url]);
    let out = things(&args, &[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        cluster.logs()
    );
    let on_cluster = check_published(&dest, &report);
    // The executors ran the derived plan: its scan and writer are in their logs.
    let logs = cluster.logs();
    assert!(
        logs.contains("TableWriteExec")
            || logs.contains("OutputScanExec")
            || on_cluster.days[0]
                .tasks
                .iter()
                .all(|t| t.executor.starts_with("exec-")),
        "{logs}"
    );

    // The same day in-process publishes the same counts.
    let local = dir.path().join("local");
    let report_local = dir.path().join("report-local.json");
    let out = things(&run_args(&source, &local, &url, &report_local), &[]);
    assert!(out.status.success());
    check_published(&local, &report_local);
    assert_eq!(counts(&local), counts(&dest));
}
