//! Tables as Delta Lake tables (issue 15, `--table-format delta`): Weir's
//! committer writes the log, delta-rs (the `deltalake` package from PyPI)
//! and pyarrow over the files the log lists read it back. A rerun makes a
//! new version with the same rows; a day that fails after its Delta commits
//! takes them back; on S3 two runs racing on one table both land, in
//! consecutive versions, on a log that stays readable.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::tables::{
    AUDIT, DATE, assert_same_tables, check_audit_tables_read, day, run, succeeded, table_dir, weir,
};

/// A Delta table as delta-rs reads it.
fn read_delta(uri: &str, options: Option<&Value>) -> Value {
    let options = options.map(ToString::to_string);
    let mut args: Vec<&std::ffi::OsStr> = vec![uri.as_ref()];
    args.extend(options.as_deref().map(std::ffi::OsStr::new));
    serde_json::from_slice(&weir_tests::py_reader("read_delta.py", &args)).unwrap()
}

fn local(dest: &Path, table: &str) -> Value {
    read_delta(table_dir(dest, AUDIT, table).to_str().unwrap(), None)
}

/// The four audit tables as delta-rs reads them, checked against the raw
/// documents.
pub(crate) fn check_delta_tables(dest: &Path) -> BTreeMap<&'static str, Vec<Value>> {
    check_audit_tables_read(dest, |table| {
        let t = local(dest, table);
        // pyarrow reads the same rows from the files the log lists.
        assert_eq!(
            t["listed_rows"].as_u64().unwrap() as usize,
            t["rows"].as_array().unwrap().len(),
            "{table}"
        );
        t["rows"].as_array().unwrap().clone()
    })
}

/// `weir generate` of businessAudit's days `from..=to` under `source`.
fn generate_audit(source: &Path, master: &Path, from: &str, to: &str, records: u32) {
    let records = records.to_string();
    succeeded(&weir(
        &[
            "generate",
            "--collection",
            AUDIT,
            "--start-date",
            from,
            "--end-date",
            to,
            "--records",
            &records,
            "--dest",
            source.to_str().unwrap(),
            "--master-key-file",
            master.to_str().unwrap(),
        ],
        &[],
    ));
}

#[test]
fn delta_tables_version_each_day_and_a_failed_day_takes_its_commits_back() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let dest = dir.path().join("out");
    let delta = ["--table-format", "delta"];
    succeeded(&run(AUDIT, &source, &dest, &url, &delta, &[]));
    let first = check_delta_tables(&dest);
    assert_eq!(local(&dest, "auditlog")["version"], 0);

    // A rerun replaces the day's partition: a new version, the same rows.
    succeeded(&run(AUDIT, &source, &dest, &url, &delta, &[]));
    let again = check_delta_tables(&dest);
    assert_same_tables(&first, &again);
    let t = local(&dest, "auditlog");
    assert_eq!(t["version"], 1);
    assert_eq!(t["history"], serde_json::json!(["WRITE", "WRITE"]));
    let listed: Value = serde_json::from_slice(
        &weir(
            &[
                "tables",
                "--json",
                "--collection",
                AUDIT,
                "--dest",
                dest.to_str().unwrap(),
            ],
            &[],
        )
        .stdout,
    )
    .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["format"] == "delta"
                && t["version"] == 1
                && t["partitions"] == serde_json::json!([DATE])),
        "{listed}"
    );

    // The day fails after its Delta commits (the daily's swap): the tables
    // get a version that takes the commit back, with the same rows as before.
    let out = run(
        AUDIT,
        &source,
        &dest,
        &url,
        &delta,
        &[("WEIR_FAULT_AT", "swap:json/daily")],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = check_delta_tables(&dest);
    assert_same_tables(&first, &after);
    let t = local(&dest, "auditlog");
    assert_eq!(t["version"], 3);
    assert_eq!(
        t["history"],
        serde_json::json!(["WRITE", "WRITE", "WRITE", "RESTORE"])
    );
}

#[test]
fn on_s3_two_runs_racing_on_a_delta_table_both_land() {
    use crate::s3::{client, config_file, upload_tree, weir_at};
    let dir = tempfile::tempdir().unwrap();
    // Two days of businessAudit.
    let source = dir.path().join("source");
    let master = dir.path().join("master.key");
    generate_audit(&source, &master, "2024-05-02", "2024-05-03", 800);
    let (_dks, url) = weir_tests::spawn_dks(&master, None, &[]);
    let moto = weir_tests::Moto::start();
    moto.create_bucket("corporate");
    moto.create_bucket("published");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(upload_tree(&client(&moto, "corporate"), &source));
    let config = config_file(
        dir.path(),
        &moto,
        "table_format = \"delta\"\nbuild_tables = true",
    );
    let runs: Vec<_> = ["2024-05-02", "2024-05-03"]
        .into_iter()
        .map(|date| {
            let (config, url, endpoint) = (config.clone(), url.clone(), moto.endpoint.clone());
            std::thread::spawn(move || {
                weir_at(
                    Some(&endpoint),
                    &[
                        "run",
                        "--config",
                        config.to_str().unwrap(),
                        "--collection",
                        AUDIT,
                        "--date",
                        date,
                        "--source",
                        "s3://corporate",
                        "--dest",
                        "s3://published/weir",
                        "--dks-url",
                        &url,
                    ],
                )
            })
        })
        .collect();
    for run in runs {
        succeeded(&run.join().unwrap());
    }
    let options = serde_json::json!({
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "AKIAWEIRTESTKEYID0001",
        "AWS_SECRET_ACCESS_KEY": "weir-test-secret-Zq8v3LmN0pR7sT2u",
        "AWS_REGION": "us-east-1",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    });
    for table in [
        "auditlog_raw",
        "auditlog",
        "auditlog_secured",
        "auditlog_redacted",
    ] {
        let t = read_delta(
            &format!(
                "s3://published/weir/corporate_data_ingestion/tables/data/businessAudit/{table}"
            ),
            Some(&options),
        );
        // One version per day, in whichever order the runs won.
        assert_eq!(t["version"], 1, "{table}");
        assert_eq!(
            t["history"],
            serde_json::json!(["WRITE", "WRITE"]),
            "{table}"
        );
        let mut days: Vec<&str> = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["date_str"].as_str().unwrap())
            .collect();
        days.dedup();
        days.sort();
        days.dedup();
        assert_eq!(days, ["2024-05-02", "2024-05-03"], "{table}");
    }
}

#[test]
fn a_run_killed_after_its_delta_commits_has_them_taken_back_by_the_next() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let dest = dir.path().join("out");
    let config = dir.path().join("short-lease.toml");
    std::fs::write(&config, "lease_ttl_secs = 3\ntable_format = \"delta\"\n").unwrap();
    let config_arg = ["--config", config.to_str().unwrap()];
    succeeded(&run(AUDIT, &source, &dest, &url, &config_arg, &[]));
    let first = check_delta_tables(&dest);

    // Killed after its Delta commits, in the middle of the rest of its
    // commit (the daily's swap).
    let mut args: Vec<String> = [
        "run",
        "--collection",
        AUDIT,
        "--date",
        DATE,
        "--tables",
        "--max-corrupt-ratio",
        "0.1",
        "--source",
        source.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--dks-url",
        &url,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(config_arg.iter().map(|a| a.to_string()));
    let mut child = std::process::Command::new(weir_tests::weir_bin())
        .args(&args)
        .env("WEIR_TEST_PAUSE_AT", "swap:json/daily")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let daily = dest.join(format!(
        "corporate_data_ingestion/json/daily/{DATE}/data/businessAudit"
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while daily.exists() {
        assert!(
            Instant::now() < deadline,
            "the commit never reached its swap"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = chrono::Utc::now();
    assert_eq!(
        local(&dest, "auditlog")["version"],
        1,
        "the dead run committed"
    );

    // It died holding the collection's publish lease too, renewed for the
    // configured lease ttl (3 s) rather than the 30 s default (which would
    // leave at least 20 s): the next run waits no longer for it than for
    // the day.
    let publish = dest.join("_weir/leases/data.businessAudit/_publish");
    let holders: Vec<serde_json::Value> = std::fs::read_dir(&publish)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    let [holder] = holders.as_slice() else {
        panic!("one publish lease: {holders:?}")
    };
    assert_eq!(holder["released"], false, "{holder}");
    let expires: chrono::DateTime<chrono::Utc> =
        holder["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires <= killed_at + chrono::Duration::seconds(3),
        "{holder}, killed at {killed_at}"
    );
    crate::operations::wait_until_expired(&publish);

    // Once its lease has expired, the next run takes the day over, takes the
    // dead run's commits back, and publishes its own.
    crate::operations::wait_until_expired(
        &dest.join(format!("_weir/leases/data.businessAudit/{DATE}")),
    );
    succeeded(&run(AUDIT, &source, &dest, &url, &config_arg, &[]));
    let t = local(&dest, "auditlog");
    assert_eq!(
        t["history"],
        serde_json::json!(["WRITE", "WRITE", "RESTORE", "WRITE"]),
        "{t}"
    );
    let after = check_delta_tables(&dest);
    assert_same_tables(&first, &after);
}

#[test]
fn retracting_a_run_takes_its_delta_commits_back_and_keeps_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let dest = dir.path().join("out");
    let delta = ["--table-format", "delta"];
    succeeded(&run(AUDIT, &source, &dest, &url, &delta, &[]));
    let first = check_delta_tables(&dest);
    succeeded(&run(AUDIT, &source, &dest, &url, &delta, &[]));
    let out = weir(
        &[
            "retract",
            "--collection",
            AUDIT,
            "--date",
            DATE,
            "--reason",
            "bad audit day",
            "--dest",
            dest.to_str().unwrap(),
        ],
        &[],
    );
    succeeded(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("the run's commit taken back (version 2)"),
        "{said}"
    );
    // Each table: a new version undoing the second run's commit, which
    // delta-rs reads with the first run's rows (not moved, not emptied).
    let after = check_delta_tables(&dest);
    assert_same_tables(&first, &after);
    let t = local(&dest, "auditlog");
    assert_eq!(t["version"], 2);
    assert_eq!(
        t["history"],
        serde_json::json!(["WRITE", "WRITE", "RESTORE"])
    );
}

/// `[[retention]]` of one table: its day partitions past the bound go —
/// Hive directories deleted, a Delta table's by a `DELETE` version whose
/// files are deleted too — while the collection's other tables and its
/// days stay. A table rebuilt whole has no days and is refused.
#[test]
fn a_tables_retention_removes_its_old_days_only() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let master = dir.path().join("master.key");
    let days = ["2024-05-02", "2024-05-03", "2024-05-04"];
    generate_audit(&source, &master, days[0], days[2], 300);
    let (_dks, url) = weir_tests::spawn_dks(&master, None, &[]);
    // Kept until the second day: the first is past the bound.
    let today = chrono::Utc::now().date_naive();
    let keep = (today - chrono::NaiveDate::parse_from_str(days[1], "%Y-%m-%d").unwrap()).num_days();
    let config = dir.path().join("retention.toml");
    std::fs::write(
        &config,
        format!(
            "[[retention]]\ncollection = \"{AUDIT}\"\ntable = \"auditlog\"\nexpire_after_days = {keep}\n"
        ),
    )
    .unwrap();
    for format in ["parquet", "delta"] {
        let dest = dir.path().join(format);
        succeeded(&weir(
            &[
                "run",
                "--collection",
                AUDIT,
                "--start-date",
                days[0],
                "--end-date",
                days[2],
                "--tables",
                "--table-format",
                format,
                "--max-corrupt-ratio",
                "0.1",
                "--source",
                source.to_str().unwrap(),
                "--dest",
                dest.to_str().unwrap(),
                "--dks-url",
                &url,
            ],
            &[],
        ));
        let before = crate::tables::snapshot(&table_dir(&dest, AUDIT, "auditlog_raw"));
        let out = weir(
            &[
                "vacuum",
                "--dest",
                dest.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ],
            &[],
        );
        succeeded(&out);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(&format!(
                "1 day partitions older than {keep} days removed ({})",
                days[0]
            )),
            "{said}"
        );
        let table = table_dir(&dest, AUDIT, "auditlog");
        let rows: Vec<Value> = if format == "delta" {
            let t = local(&dest, "auditlog");
            assert_eq!(t["history"].as_array().unwrap().last().unwrap(), "DELETE");
            // Every file the log lists is there; the expired ones are not.
            assert_eq!(
                t["listed_rows"].as_u64().unwrap() as usize,
                t["rows"].as_array().unwrap().len()
            );
            assert!(
                !table.join(format!("date_str={}", days[0])).exists()
                    || weir_tests::walk_files(&table.join(format!("date_str={}", days[0])))
                        .is_empty()
            );
            t["rows"].as_array().unwrap().clone()
        } else {
            assert!(!table.join(format!("date_str={}", days[0])).exists());
            crate::tables::read(&table, "parquet")
        };
        let dates: std::collections::BTreeSet<&str> = rows
            .iter()
            .map(|r| r["date_str"].as_str().unwrap())
            .collect();
        assert_eq!(dates, [days[1], days[2]].into(), "{format}");
        // `weir lookup --table` finds a row by its key in the day's partition
        // (the table's format read from its log, not the configuration).
        let wanted = rows.iter().find(|r| r["date_str"] == days[2]).unwrap();
        let id = wanted["audit_id"].as_str().unwrap();
        let out = weir(
            &[
                "lookup",
                "--collection",
                AUDIT,
                "--date",
                days[2],
                "--table",
                "auditlog",
                "--key-column",
                "audit_id",
                "--dest",
                dest.to_str().unwrap(),
                id,
            ],
            &[],
        );
        succeeded(&out);
        let found: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let same_key = rows
            .iter()
            .filter(|r| r["audit_id"] == id && r["date_str"] == days[2])
            .count();
        assert_eq!(found.len(), same_key, "{format}: {found:?}");
        assert!(
            found
                .iter()
                .all(|r| r["audit_id"] == id && r["date_str"] == days[2]),
            "{format}: {found:?}"
        );
        // The collection's other tables and days are untouched.
        assert_eq!(
            crate::tables::snapshot(&table_dir(&dest, AUDIT, "auditlog_raw")),
            before
        );
    }
    // A table rebuilt whole has no days to expire.
    std::fs::write(
        &config,
        "[[retention]]\ncollection = \"calculator:calculationParts\"\ntable = \"src_calculator_parts\"\nexpire_after_days = 30\n",
    )
    .unwrap();
    let out = weir(
        &[
            "vacuum",
            "--dest",
            dir.path().join("parquet").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rebuilt whole"));
}
