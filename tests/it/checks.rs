//! Data contracts before publishing (issue 17): each kind of check passes
//! on good data and, failing, blocks the day's publish (the previous output
//! stays byte for byte, the report names the check, its value, its
//! threshold and up to 20 offending ids); a `warn` check reports and
//! publishes. On businessAudit, over a table built by SQL from the day's
//! rows; on calculationParts, a daily's duplicated ids, the full export's
//! key, and the row count against the days before it.

use std::path::{Path, PathBuf};

use weir_engine::checks::{CheckResult, Severity, Verdict};
use weir_engine::report::RunReport;

use crate::merge::{DAYS, Setup, weir_ok};
use crate::operations::snapshot;
use crate::tables::{AUDIT, DATE, day, run};

/// A table of audit events whose `channel` is blank or NULL for some
/// rows (those whose id ends in 0 or 1).
const CHECKED_SQL: &str = "SELECT a['AUDIT_ID'] AS id,
  CASE WHEN a['AUDIT_ID'] LIKE '%0' THEN '' WHEN a['AUDIT_ID'] LIKE '%1' THEN NULL
       ELSE a['CHANNEL'] END AS channel,
  a['EVENT_DATE_TIME']['d_date'] AS event_time
FROM (SELECT from_json(val, 'AUDIT_ID STRING, CHANNEL STRING,
  EVENT_DATE_TIME STRUCT<d_date: TIMESTAMP>') AS a FROM day_rows)";

/// `weir.toml` with the `checked` table and `checks` (TOML of
/// `[[checks]]` entries without their collection line).
fn audit_config(dir: &Path, checks: &str) -> PathBuf {
    std::fs::write(dir.join("checked.sql"), CHECKED_SQL).unwrap();
    let mut text = format!(
        "[[tables]]\ncollection = \"{AUDIT}\"\nname = \"checked\"\nsql_file = \"checked.sql\"\n"
    );
    for check in checks.split("[[checks]]").filter(|c| !c.trim().is_empty()) {
        text.push_str(&format!(
            "\n[[checks]]\ncollection = \"{AUDIT}\"\noutput = \"checked\"\n{}\n",
            check.trim()
        ));
    }
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn report(path: &Path) -> RunReport {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn result<'a>(report: &'a RunReport, check: &str) -> &'a CheckResult {
    report.days[0]
        .checks
        .iter()
        .find(|c| c.check == check)
        .unwrap_or_else(|| panic!("no {check} in {:?}", report.days[0].checks))
}

#[test]
fn each_check_of_a_table_passes_on_good_data_and_blocks_the_publish_when_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let dest = dir.path().join("out");
    let report_path = dir.path().join("report.json");
    let run_with = |checks: &str| {
        let config = audit_config(dir.path(), checks);
        run(
            AUDIT,
            &source,
            &dest,
            &url,
            &[
                "--config",
                config.to_str().unwrap(),
                "--report",
                report_path.to_str().unwrap(),
            ],
            &[],
        )
    };

    // Every kind, within its threshold: the day publishes, each check
    // reported with its value.
    let out = run_with(
        r#"kind = "unique"
        [[checks]]
        kind = "not_blank"
        [[checks]]
        kind = "row_count"
        min = 100
        max = 100000
        [[checks]]
        kind = "completeness"
        column = "channel"
        min_ratio = 0.5
        [[checks]]
        kind = "freshness"
        column = "event_time"
        max_age_days = 3
        [[checks]]
        kind = "schema"
        columns = [
          { name = "id", type = "string", nullable = false },
          { name = "channel", type = "STRING" },
          { name = "event_time", type = "timestamp" },
        ]"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let passed = report(&report_path);
    let checks = &passed.days[0].checks;
    assert_eq!(checks.len(), 6);
    assert!(
        checks.iter().all(|c| c.verdict == Verdict::Passed),
        "{checks:#?}"
    );
    let rows = result(&passed, "row_count").value.unwrap();
    assert!(rows >= 100.0);
    let complete = result(&passed, "completeness(channel)").value.unwrap();
    assert!(complete > 0.5 && complete < 1.0, "{complete}");
    let age = result(&passed, "freshness(event_time)").value.unwrap();
    assert!((0.0..=3.0).contains(&age), "{age}");
    let published = dest.join("corporate_data_ingestion");
    let before = snapshot(&published);

    // Each failing alone blocks the day: nothing changes where readers
    // look, and the report names the check, its value and threshold.
    for (checks, name, threshold) in [
        (
            "kind = \"not_blank\"\ncolumns = [\"channel\"]",
            "not_blank(channel)",
            "0 blank rows",
        ),
        (
            "kind = \"completeness\"\ncolumn = \"channel\"\nmin_ratio = 0.99",
            "completeness(channel)",
            ">= 0.99",
        ),
        ("kind = \"row_count\"\nmax = 10", "row_count", "..=10"),
        (
            "kind = \"freshness\"\ncolumn = \"event_time\"\nmax_age_days = 0.5",
            "freshness(event_time)",
            "<= 0.5 days",
        ),
        (
            "kind = \"schema\"\ncolumns = [{ name = \"id\", type = \"string\" }, { name = \"channel\", type = \"bigint\" }, { name = \"event_time\", type = \"timestamp\" }]",
            "schema",
            "3 declared columns",
        ),
        (
            "kind = \"unique\"\ncolumns = [\"channel\"]",
            "unique(channel)",
            "0 duplicated keys",
        ),
    ] {
        let out = run_with(checks);
        assert_eq!(out.status.code(), Some(1), "{name} did not block");
        let blocked = report(&report_path);
        let day = &blocked.days[0];
        let error = day.error.clone().unwrap();
        assert!(error.contains(name) && error.contains(threshold), "{error}");
        let check = result(&blocked, name);
        assert_eq!(check.verdict, Verdict::Failed);
        assert_eq!(check.threshold, threshold);
        assert!(check.value.is_some());
        assert!(check.offending_ids.len() <= weir_engine::checks::MAX_IDS);
        assert_eq!(snapshot(&published), before, "{name} let the day publish");
        match name {
            "not_blank(channel)" => {
                // The blank and NULL channels' rows, by id (never by value).
                assert!(check.offending > 20, "{check:?}");
                assert_eq!(check.offending_ids.len(), 20);
                assert!(
                    check
                        .offending_ids
                        .iter()
                        .all(|id| id.ends_with('0') || id.ends_with('1'))
                );
            }
            "completeness(channel)" => {
                assert!(check.offending_ids.iter().all(|id| id.ends_with('1')));
            }
            "schema" => {
                assert_eq!(
                    check.detail.as_deref(),
                    Some("channel: STRING, declared bigint")
                );
            }
            _ => {}
        }
    }

    // A warning reports and publishes.
    let out = run_with("kind = \"not_blank\"\ncolumns = [\"channel\"]\nseverity = \"warn\"");
    assert!(out.status.success());
    let warned = report(&report_path);
    let check = result(&warned, "not_blank(channel)");
    assert_eq!(
        (check.verdict, check.severity),
        (Verdict::Failed, Severity::Warn)
    );
    assert_ne!(snapshot(&published), before, "the day published");
    // The day's status keeps the checks.
    let status = crate::tables::weir(
        &[
            "status",
            "--json",
            "--collection",
            AUDIT,
            "--date",
            DATE,
            "--dest",
            dest.to_str().unwrap(),
        ],
        &[],
    );
    let runs: Vec<weir_engine::status::DayRun> = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(runs[0].checks, warned.days[0].checks);
    assert!(!runs[0].weir_version.is_empty());
}

#[test]
fn duplicated_ids_and_an_unusual_volume_block_a_day_and_the_export_key_is_checked() {
    let s = Setup::new();
    // Each configuration in a file of its own: later ones must not change
    // what an earlier one said.
    let written = std::cell::Cell::new(0);
    let config = |checks: &str| -> String {
        written.set(written.get() + 1);
        let path = s.path(&format!("weir-{}.toml", written.get()));
        let mut text = String::new();
        for check in checks.split("[[checks]]").filter(|c| !c.trim().is_empty()) {
            let output = if check.contains("output =") {
                ""
            } else {
                "output = \"daily\"\n"
            };
            text.push_str(&format!(
                "[[checks]]\ncollection = \"calculator:calculationParts\"\n{output}{}\n",
                check.trim()
            ));
        }
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    // Three days published, each merged into the export: the export's
    // checks (one row per id, every id there) pass.
    let usual = config(
        "kind = \"row_count_change\"\nmax_change = 100\ndays = 3
        [[checks]]
        output = \"export\"
        kind = \"unique\"
        [[checks]]
        output = \"export\"
        kind = \"not_blank\"",
    );
    let first = weir_ok(&s.args(
        "run",
        "dest",
        &[
            "--update",
            "--since",
            DAYS[0],
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[2],
            "--config",
            &usual,
        ],
    ));
    for day in &first.days {
        let names: Vec<(&str, &str, Verdict)> = day
            .checks
            .iter()
            .map(|c| (c.output.as_str(), c.check.as_str(), c.verdict))
            .collect();
        assert!(
            names.contains(&("export", "unique(id)", Verdict::Passed)),
            "{names:?}"
        );
        assert!(names.contains(&("export", "not_blank(id)", Verdict::Passed)));
    }
    // The first day has no earlier day to compare with.
    assert_eq!(
        first.days[0]
            .checks
            .iter()
            .find(|c| c.output == "daily")
            .unwrap()
            .verdict,
        Verdict::Skipped
    );

    // Day 4 against the median of days 1-3.
    let published = s.path("dest").join("corporate_data_ingestion");
    let before = snapshot(&published);
    let fourth = weir_ok(&s.args("run", "dest", &["--date", DAYS[3], "--config", &usual]));
    let change = fourth.days[0].checks[0].clone();
    assert!(
        fourth.days[0].checks[1..]
            .iter()
            .all(|c| c.verdict == Verdict::Skipped),
        "no export without --update"
    );
    let mut counts: Vec<f64> = first.days.iter().map(|d| d.records_out as f64).collect();
    counts.sort_by(f64::total_cmp);
    let n = fourth.days[0].records_out as f64;
    assert_eq!(change.verdict, Verdict::Passed, "{change:?}");
    assert!((change.value.unwrap() - (n - counts[1]).abs() / counts[1]).abs() < 1e-9);
    assert!(
        change.value.unwrap() > 0.0,
        "the scenario's days differ in size"
    );
    // Held to half that change, the same day is blocked and day 4 stays.
    let after = snapshot(&published);
    assert_ne!(after, before);
    let strict = config(&format!(
        "kind = \"row_count_change\"\nmax_change = {}\ndays = 3",
        change.value.unwrap() / 2.0
    ));
    let args = s.args("run", "dest", &["--date", DAYS[3], "--config", &strict]);
    let out = std::process::Command::new(weir_tests::weir_bin())
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(snapshot(&published), after);

    // A daily holds Kafka's redeliveries: `unique(id)` on it blocks, naming
    // up to 20 of the duplicated ids; as a warning it publishes.
    let unique = config("kind = \"unique\"");
    let args = s.args("run", "dest", &["--date", DAYS[3], "--config", &unique]);
    let out = std::process::Command::new(weir_tests::weir_bin())
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let blocked = crate::merge::report_of(&args);
    let check = &blocked.days[0].checks[0];
    assert_eq!(
        (check.check.as_str(), check.verdict),
        ("unique(id)", Verdict::Failed)
    );
    assert!(check.offending > 0 && !check.offending_ids.is_empty());
    assert_eq!(check.offending_ids.len() as u64, check.offending.min(20));
    assert_eq!(snapshot(&published), after);
    let warn = config("kind = \"unique\"\nseverity = \"warn\"");
    let warned = weir_ok(&s.args("run", "dest", &["--date", DAYS[3], "--config", &warn]));
    assert_eq!(warned.days[0].checks[0].verdict, Verdict::Failed);

    // `weir merge` alone checks the export it publishes too (its checks of
    // other outputs are not its business).
    let merged = weir_ok(&s.args("merge", "dest", &["--date", DAYS[3], "--config", &usual]));
    let checks: Vec<(&str, &str, Verdict)> = merged.days[0]
        .checks
        .iter()
        .map(|c| (c.output.as_str(), c.check.as_str(), c.verdict))
        .collect();
    assert_eq!(
        checks,
        [
            ("export", "unique(id)", Verdict::Passed),
            ("export", "not_blank(id)", Verdict::Passed)
        ]
    );
}

#[test]
fn on_a_cluster_the_checks_measure_what_they_measure_in_process_and_block_alike() {
    use weir_tests::TestCluster;
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let checks = r#"kind = "unique"
        [[checks]]
        kind = "completeness"
        column = "channel"
        min_ratio = 0.5
        [[checks]]
        kind = "not_blank"
        columns = ["channel"]
        severity = "warn"
        [[checks]]
        kind = "freshness"
        column = "event_time"
        max_age_days = 3"#;
    let config = audit_config(dir.path(), checks);
    let run_at = |dest: &str, cluster: Option<&str>, config: &Path| {
        let report = dir.path().join(format!("{dest}.json"));
        let mut extra = vec![
            "--config",
            config.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        if let Some(cluster) = cluster {
            extra.extend(["--cluster", cluster]);
        }
        let out = run(AUDIT, &source, &dir.path().join(dest), &url, &extra, &[]);
        (out, report)
    };
    let (out, local) = run_at("local", None, &config);
    assert!(out.status.success());
    let cluster = TestCluster::start(dir.path(), 2, &[]);
    let (out, remote) = run_at("remote", Some(&cluster.url()), &config);
    assert!(out.status.success(), "{}", cluster.logs());
    let (local, remote) = (report(&local), report(&remote));
    assert_eq!(local.days[0].checks.len(), 4);
    assert_eq!(local.days[0].checks, remote.days[0].checks);
    // A blocking check blocks there too.
    let strict = audit_config(
        dir.path(),
        "kind = \"completeness\"\ncolumn = \"channel\"\nmin_ratio = 0.99",
    );
    let before = snapshot(&dir.path().join("remote/corporate_data_ingestion"));
    let (out, blocked) = run_at("remote", Some(&cluster.url()), &strict);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report(&blocked).days[0].checks[0].verdict, Verdict::Failed);
    assert_eq!(
        snapshot(&dir.path().join("remote/corporate_data_ingestion")),
        before
    );
}

#[test]
fn weir_check_finds_on_the_published_days_what_their_runs_found() {
    let s = Setup::new();
    let write = |name: &str, severity: &str| -> String {
        let path = s.path(name);
        std::fs::write(
            &path,
            format!(
                "[[checks]]\ncollection = \"calculator:calculationParts\"\noutput = \"daily\"\nkind = \"unique\"\nseverity = \"{severity}\"\n\
                 [[checks]]\ncollection = \"calculator:calculationParts\"\noutput = \"export\"\nkind = \"unique\"\n\
                 [[checks]]\ncollection = \"calculator:calculationParts\"\noutput = \"export\"\nkind = \"not_blank\"\n"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let warn = write("warn.toml", "warn");
    let report = weir_ok(&s.args(
        "run",
        "dest",
        &[
            "--update",
            "--since",
            DAYS[0],
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[1],
            "--config",
            &warn,
        ],
    ));
    let check = |config: &str| {
        std::process::Command::new(weir_tests::weir_bin())
            .args(["check", "--collection", "calculator:calculationParts"])
            .args([
                "--start-date",
                DAYS[0],
                "--end-date",
                DAYS[1],
                "--config",
                config,
            ])
            .arg("--dest")
            .arg(s.path("dest"))
            .arg("--json")
            .output()
            .unwrap()
    };
    let out = check(&warn);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let days: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(days.len(), 2);
    for (day, ran) in days.iter().zip(&report.days) {
        let found: Vec<CheckResult> = serde_json::from_value(day["checks"].clone()).unwrap();
        // The daily's duplicates and the export's key, as the run saw them.
        assert_eq!(found.len(), 3);
        assert_eq!(found, ran.checks);
    }
    // Held as an error, the same published days fail it.
    let out = check(&write("error.toml", "error"));
    assert_eq!(out.status.code(), Some(1));
}
