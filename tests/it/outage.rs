//! Catch-up after a key-service outage (issue 16): a five-day backfill
//! whose third day meets the DKS down (the real `weir dks serve` process
//! killed while that day runs, started again on the same port before the
//! fourth), then `--reprocess failed`, which runs that day alone.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_engine::report::RunReport;
use weir_tests::{free_ports, spawn_weir, weir_bin};

const CALC: &str = "calculator:calculationParts";
const DATES: [&str; 5] = [
    "2024-03-04",
    "2024-03-05",
    "2024-03-06",
    "2024-03-07",
    "2024-03-08",
];

/// Waits until the run has taken `date` (its status object is there).
fn wait_for_day(dest: &std::path::Path, date: &str, run: &mut std::process::Child) {
    let dir = dest.join(format!("_weir/status/calculator.calculationParts/{date}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while weir_tests::walk_files(&dir).is_empty() {
        assert!(Instant::now() < deadline, "the run never took {date}");
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before {date}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn statuses(report: &RunReport) -> Vec<String> {
    report.days.iter().map(|d| d.status.to_string()).collect()
}

#[test]
fn a_backfill_whose_third_day_meets_a_dks_outage_reruns_only_that_day() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let master = dir.path().join("master.key");
    let out = Command::new(weir_bin())
        .args(["generate", "--collection", CALC, "--records", "300"])
        .args(["--start-date", DATES[0], "--end-date", DATES[4]])
        .arg("--dest")
        .arg(&source)
        .arg("--master-key-file")
        .arg(&master)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A port from below the ephemeral range: the service is down for
    // seconds before it binds the same port again, and an ephemeral port
    // may meanwhile be given to any outgoing connection.
    let bind = format!("127.0.0.1:{}", free_ports(1)[0]);
    let url = format!("http://{bind}");
    let serve_dks = || {
        spawn_weir(
            &[
                "dks",
                "serve",
                "--bind",
                &bind,
                "--master-key-file",
                master.to_str().unwrap(),
            ],
            "listening on",
        )
    };
    let dks = serve_dks();
    let dest = dir.path().join("dest");
    let args = |report: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--collection",
            CALC,
            "--start-date",
            DATES[0],
            "--end-date",
            DATES[4],
            "--source",
            source.to_str().unwrap(),
            "--dest",
            dest.to_str().unwrap(),
            "--dks-url",
            &url,
            "--report",
            dir.path().join(report).to_str().unwrap(),
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    };
    let report_of = |name: &str| -> RunReport {
        serde_json::from_slice(&std::fs::read(dir.path().join(name)).unwrap()).unwrap()
    };

    // One day at a time, each held for a while once taken: time to take the
    // key service down as day 3 starts and bring it back as day 4 starts.
    let mut run = Command::new(weir_bin())
        .args(args("backfill.json", &["--max-concurrent-days", "1"]))
        .env("WEIR_TEST_HOLD_DAY_MS", "2500")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_day(&dest, DATES[2], &mut run);
    drop(dks);
    wait_for_day(&dest, DATES[3], &mut run);
    let _dks = serve_dks();
    let status = run.wait().unwrap();
    let backfill = report_of("backfill.json");
    assert_eq!(status.code(), Some(1), "a day failed: {backfill:#?}");
    assert_eq!(
        statuses(&backfill),
        ["published", "published", "failed", "published", "published"]
    );
    let error = backfill.days[2].error.clone().unwrap();
    assert!(
        error.to_lowercase().contains("key service") || error.contains("DKS"),
        "{error}"
    );

    // Catch-up of the failed days: day 3 alone runs, and publishes.
    let out = Command::new(weir_bin())
        .args(args("catch-up.json", &["--reprocess", "failed"]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let catch_up = report_of("catch-up.json");
    assert_eq!(
        statuses(&catch_up),
        ["skipped", "skipped", "published", "skipped", "skipped"]
    );
    assert!(catch_up.days[2].records_out > 0);
}
