//! Operating Weir (issue 16, the part landed): one run per (collection,
//! day) at a time, on local disk and on S3 (moto); a day left by a dead run
//! is taken over and its staging removed; every run's status is kept under
//! the destination and shown by `weir status` and `weir history`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use weir_engine::status::{DayRun, DayState};
use weir_tests::{walk_files, weir_bin};

use crate::merge::{DAYS, Setup, daily_dir, report_of, weir_ok};

const CALC: &str = "calculator:calculationParts";

pub(crate) fn lease_dir(dest: &Path, date: &str) -> PathBuf {
    dest.join(format!("_weir/leases/calculator.calculationParts/{date}"))
}

/// Every file a published day's manifest lists is there.
pub(crate) fn assert_complete(day: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(day.join("_manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(!files.is_empty());
    for f in files {
        let path = day.join(f["path"].as_str().unwrap());
        assert!(path.is_file(), "{} is listed but missing", path.display());
    }
    assert!(day.join("_SUCCESS").is_file());
}

pub(crate) fn status_json(s: &Setup, command: &str, dest: &str, dates: &[&str]) -> Vec<DayRun> {
    let mut args = vec![
        command.to_owned(),
        "--collection".to_owned(),
        CALC.to_owned(),
        "--dest".to_owned(),
        s.path(dest).to_str().unwrap().to_owned(),
        "--json".to_owned(),
    ];
    match dates {
        [one] => args.extend(["--date".to_owned(), (*one).to_owned()]),
        [first, .., last] => args.extend([
            "--start-date".to_owned(),
            (*first).to_owned(),
            "--end-date".to_owned(),
            (*last).to_owned(),
        ]),
        [] => {}
    }
    let out = Command::new(weir_bin()).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts a run that holds its day for `hold_ms` once taken; returns when
/// its lease is there.
fn start_holding(
    args: &[String],
    lease: &Path,
    hold_ms: u64,
    env: &[(&str, &str)],
) -> std::process::Child {
    let child = Command::new(weir_bin())
        .args(args)
        .env("WEIR_TEST_HOLD_DAY_MS", hold_ms.to_string())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while walk_files(lease).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first run never took the day"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn finished(child: std::process::Child) -> Output {
    child.wait_with_output().unwrap()
}

#[test]
fn two_runs_of_one_day_on_disk_one_publishes_and_the_other_fails_fast_naming_it() {
    let s = Setup::new();
    let first = s.args("run", "dest", &["--date", DAYS[0]]);
    let holder = start_holding(&first, &lease_dir(&s.path("dest"), DAYS[0]), 4000, &[]);
    let started = Instant::now();
    let second = s.args("run", "dest", &["--date", DAYS[0]]);
    let out = Command::new(weir_bin()).args(&second).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        took < Duration::from_secs(3),
        "the second run took {took:?} to fail"
    );
    let out = finished(holder);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let winner = report_of(&first);
    let loser = report_of(&second);
    let error = loser.days[0].error.clone().unwrap();
    assert!(
        error.contains(&winner.run_id) && error.contains(&weir_engine::status::host_name()),
        "{error}"
    );
    assert_complete(&daily_dir(&s.path("dest"), DAYS[0]));
    // Only the run that held the day has a status; it completed.
    let history = status_json(&s, "history", "dest", &[DAYS[0]]);
    assert_eq!(history.len(), 1, "{history:#?}");
    assert_eq!(history[0].run_id, winner.run_id);
    assert_eq!(history[0].state, DayState::Completed);
    // Released: the next run takes the day at once.
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    assert_eq!(status_json(&s, "history", "dest", &[DAYS[0]]).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_day_on_s3_one_publishes_and_the_other_fails_fast() {
    use crate::s3::{client, download};
    let s = Setup::new();
    let (moto, config) = s.on_moto().await;
    let args = |report: &str| -> Vec<String> {
        [
            "run",
            "--collection",
            CALC,
            "--config",
            config.to_str().unwrap(),
            "--source",
            "s3://corporate",
            "--dest",
            "s3://published/weir",
            "--dks-url",
            &s.dks_url,
            "--max-corrupt-ratio",
            "0.1",
            "--date",
            DAYS[0],
            "--report",
            s.path(report).to_str().unwrap(),
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect()
    };
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "AKIAWEIRTESTKEYID0001"),
        ("AWS_SECRET_ACCESS_KEY", "weir-test-secret-Zq8v3LmN0pR7sT2u"),
        ("AWS_REGION", "us-east-1"),
    ];
    let first = args("first.json");
    let mut holder = Command::new(weir_bin())
        .args(&first)
        .env("WEIR_TEST_HOLD_DAY_MS", "4000")
        .envs(credentials)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its lease is there once the status of its run is.
    let published = client(&moto, "published");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let leases = download(&published, "weir/_weir/leases", &s.path("leases")).await;
        if !leases.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first run never took the day"
        );
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = args("second.json");
    let started = Instant::now();
    let out = Command::new(weir_bin())
        .args(&second)
        .envs(credentials)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let status = holder.wait().unwrap();
    assert!(status.success());
    let winner = report_of(&first);
    let error = report_of(&second).days[0].error.clone().unwrap();
    assert!(error.contains(&winner.run_id), "{error}");
    let got = s.path("published");
    download(&published, "weir/corporate_data_ingestion", &got).await;
    assert_complete(&daily_dir(&got.join("weir"), DAYS[0]));
}

#[test]
fn a_day_left_by_a_dead_run_is_taken_over_and_its_staging_removed() {
    let s = Setup::new();
    let dest = s.path("dest");
    // A run that died holding the day: its lease expired a minute ago, its
    // staging is still there.
    let lease = lease_dir(&dest, DAYS[1]);
    std::fs::create_dir_all(&lease).unwrap();
    let expired = serde_json::json!({
        "run_id": "20230101T000000Z-dead0000", "host": "gone", "pid": 1,
        "taken_at": "2023-01-01T00:00:00Z", "expires_at": "2023-01-01T00:05:00Z",
    });
    std::fs::write(lease.join(format!("{:020}.json", 7)), expired.to_string()).unwrap();
    let staging = dest.join(format!(
        "_weir_staging/20230101T000000Z-dead0000/calculator.calculationParts/{}/abc/data",
        DAYS[1]
    ));
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("part-0.orc"), b"half written").unwrap();

    let report = weir_ok(&s.args("run", "dest", &["--date", DAYS[1]]));
    assert!(report.succeeded());
    assert!(
        !dest
            .join("_weir_staging/20230101T000000Z-dead0000/calculator.calculationParts")
            .join(DAYS[1])
            .exists(),
        "the dead run's staging is gone"
    );
    let history = status_json(&s, "history", "dest", &[DAYS[1]]);
    assert_eq!(
        history[0].took_over_from.as_deref(),
        Some("20230101T000000Z-dead0000")
    );
    // A live lease is not taken over: held for a minute by another run.
    let live = serde_json::json!({
        "run_id": "live-run", "host": "elsewhere", "pid": 2,
        "taken_at": chrono::Utc::now(), "expires_at": chrono::Utc::now() + chrono::Duration::minutes(1),
    });
    let next = walk_files(&lease).len() as u64 + 100;
    std::fs::write(lease.join(format!("{next:020}.json")), live.to_string()).unwrap();
    let args = s.args("run", "dest", &["--date", DAYS[1]]);
    let out = Command::new(weir_bin()).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let error = report_of(&args).days[0].error.clone().unwrap();
    assert!(
        error.contains("live-run") && error.contains("elsewhere"),
        "{error}"
    );
}

#[test]
fn status_and_history_tell_each_days_runs() {
    let s = Setup::new();
    // Three days, the third of which has no input (it fails).
    std::fs::remove_dir_all(
        s.source
            .join("corporate_storage/ucfs_main/2023/08/03/calculator/calculationParts"),
    )
    .unwrap();
    let args = s.args(
        "run",
        "dest",
        &["--start-date", DAYS[0], "--end-date", DAYS[2]],
    );
    let out = Command::new(weir_bin()).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = report_of(&args);
    let status = status_json(&s, "status", "dest", &DAYS[..3]);
    let states: Vec<(String, DayState)> = status
        .iter()
        .map(|r| (r.export_date.clone(), r.state))
        .collect();
    assert_eq!(
        states,
        vec![
            (DAYS[0].to_owned(), DayState::Completed),
            (DAYS[1].to_owned(), DayState::Completed),
            (DAYS[2].to_owned(), DayState::Failed),
        ]
    );
    for (run, day) in status.iter().zip(&report.days) {
        assert_eq!(run.run_id, report.run_id);
        assert_eq!(
            (run.records_in, run.records_out, run.corrupt),
            (day.records_in, day.records_out, day.corrupt)
        );
        assert_eq!(run.error, day.error);
        assert!(run.ended_at.is_some());
    }
    assert!(status[0].outputs.iter().any(|o| o.format == "orc"));
    assert!(
        status[2]
            .error
            .as_deref()
            .unwrap()
            .contains("no *.jsonl.gz")
    );
    // A rerun of a day adds to its history; status shows the latest.
    weir_ok(&s.args("run", "dest", &["--date", DAYS[1]]));
    let history = status_json(&s, "history", "dest", &[DAYS[1]]);
    assert_eq!(history.len(), 2);
    assert_ne!(history[0].run_id, history[1].run_id);
    let latest = status_json(&s, "status", "dest", &[DAYS[1]]);
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].run_id, history[1].run_id);
    // The table form names the states.
    let out = Command::new(weir_bin())
        .args(["status", "--collection", CALC, "--dest"])
        .arg(s.path("dest"))
        .args(["--start-date", DAYS[0], "--end-date", DAYS[2]])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("COMPLETED") && table.contains("FAILED"),
        "{table}"
    );
}

/// Where the lease tests take their leases: a local directory, and the
/// moto bucket `published` under `prefix` through a client with moto's
/// credentials; each with its URL. The directory and moto live as long as
/// the guards returned with them.
fn lease_dests(
    prefix: &str,
) -> (
    tempfile::TempDir,
    weir_tests::Moto,
    Vec<(String, weir_engine::storage::Location)>,
) {
    use weir_engine::storage::{Location, S3Settings};
    let dir = tempfile::tempdir().unwrap();
    let moto = weir_tests::Moto::start();
    moto.create_bucket("published");
    let local = dir.path().to_str().unwrap().to_owned();
    let s3 = format!("s3://published/{prefix}");
    let dests = vec![
        (
            local.clone(),
            Location::parse(&local, &S3Settings::default()).unwrap(),
        ),
        (
            s3.clone(),
            Location {
                store: crate::s3::client(&moto, "published"),
                prefix: object_store::path::Path::from(prefix),
                url: s3,
                store_url: "s3://published".to_owned(),
                concurrency: 8,
            },
        ),
    ];
    (dir, moto, dests)
}

/// Runs taking one day at the same moment: exactly one gets it, on local
/// disk (atomic create) and on S3 (`If-None-Match: *`, as moto honours it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_runs_taking_a_day_at_the_same_moment_exactly_one_gets_it() {
    use weir_engine::status::Lease;
    let (_dir, _moto, dests) = lease_dests("race");
    for (root, dest) in &dests {
        for round in 0..3 {
            let day = chrono::NaiveDate::from_ymd_opt(2023, 8, 1 + round).unwrap();
            let takes = (0..8).map(|i| {
                let dest = dest.clone();
                tokio::spawn(async move {
                    Lease::take(
                        &dest,
                        "c:c",
                        day,
                        &format!("run-{i}"),
                        Duration::from_secs(30),
                    )
                    .await
                })
            });
            let results = futures::future::join_all(takes).await;
            let held: Vec<_> = results
                .into_iter()
                .map(|r| r.unwrap())
                .filter_map(Result::ok)
                .collect();
            assert_eq!(
                held.len(),
                1,
                "{root} round {round}: {} runs hold the day",
                held.len()
            );
            for lease in held {
                lease.release().await;
            }
        }
    }
}

/// Days of one collection publishing at once take turns, the days of one
/// run too: each waits for the collection's publish lease while another
/// holds it, so no two hold it at the same time, and every one gets it
/// (local disk and S3).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn days_publishing_at_once_take_turns_and_each_gets_its_turn() {
    use std::sync::{Arc, Mutex};
    use weir_engine::status::Lease;
    let (_dir, _moto, dests) = lease_dests("turns");
    for (root, dest) in &dests {
        let held: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
        let turns = (0..6u32).map(|i| {
            let (dest, held) = (dest.clone(), Arc::clone(&held));
            tokio::spawn(async move {
                let day = chrono::NaiveDate::from_ymd_opt(2023, 8, 1 + i).unwrap();
                let lease = Lease::take_publish(
                    &dest,
                    "c:c",
                    day,
                    // One run's days, as `weir run` publishes them.
                    "run",
                    weir_engine::status::lease::PUBLISH_LEASE_TTL,
                    Duration::from_secs(60),
                )
                .await?;
                let from = Instant::now();
                tokio::time::sleep(Duration::from_millis(100)).await;
                held.lock().unwrap().push((from, Instant::now()));
                lease.release().await;
                Ok::<_, weir_engine::Error>(())
            })
        });
        for result in futures::future::join_all(turns).await {
            result.unwrap().unwrap();
        }
        let mut held = held.lock().unwrap().clone();
        assert_eq!(held.len(), 6, "{root}: every day got its turn");
        held.sort();
        for pair in held.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{root}: two days held the publish lease at once"
            );
        }
    }
}

/// Waits (60 s at most) until the newest lease of a day has expired.
pub(crate) fn wait_until_expired(lease: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let newest = walk_files(lease).into_iter().max().expect("a lease");
        let holder: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&newest).unwrap()).unwrap();
        let expires: chrono::DateTime<chrono::Utc> =
            holder["expires_at"].as_str().unwrap().parse().unwrap();
        if chrono::Utc::now() > expires {
            return;
        }
        assert!(Instant::now() < deadline, "the lease never expired");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file under `dir` with its bytes.
pub(crate) fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    walk_files(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_run_killed_in_the_middle_of_its_commit_leaves_the_next_run_the_day_as_it_was() {
    let s = Setup::new();
    let dest = s.path("dest");
    let config = s.path("short-lease.toml");
    std::fs::write(&config, "lease_ttl_secs = 3\n").unwrap();
    let config = config.to_str().unwrap().to_owned();
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    let published = dest.join("corporate_data_ingestion");
    let before = snapshot(&published);

    // Killed (SIGKILL) while its commit has swapped the quarantine in and
    // moved the previous data directory away.
    let args = s.args("run", "dest", &["--date", DAYS[0], "--config", &config]);
    let mut child = Command::new(weir_bin())
        .args(&args)
        .env("WEIR_TEST_PAUSE_AT", "swap:orc/daily")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let day = daily_dir(&dest, DAYS[0]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while day.exists() {
        assert!(
            Instant::now() < deadline,
            "the commit never reached its swap"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!day.exists(), "the day is half committed now");
    let dead = status_json(&s, "history", "dest", &[DAYS[0]])
        .into_iter()
        .find(|r| r.state == DayState::InProgress)
        .expect("the killed run's status")
        .run_id;

    // While its lease lives, the next run is refused, naming it.
    let next = s.args("run", "dest", &["--date", DAYS[0], "--config", &config]);
    let out = Command::new(weir_bin()).args(&next).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        report_of(&next).days[0]
            .error
            .clone()
            .unwrap()
            .contains(&dead)
    );
    wait_until_expired(&lease_dir(&dest, DAYS[0]));

    // Then it takes the day over and rolls the dead commit back; failing
    // before its own commit, it leaves the day exactly as it was.
    let out = Command::new(weir_bin())
        .args(&next)
        .env("WEIR_FAULT_AT", "prepare:orc/daily")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        snapshot(&published),
        before,
        "the day as it was before the dead run"
    );
    assert!(
        !dest
            .join("_weir_staging")
            .join(&dead)
            .join("calculator.calculationParts")
            .exists()
    );
    let history = status_json(&s, "history", "dest", &[DAYS[0]]);
    assert_eq!(
        history.last().unwrap().took_over_from.as_deref(),
        Some(dead.as_str())
    );

    // And a run publishes the new day, whole, leaving no staging.
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    assert_complete(&day);
    assert_ne!(snapshot(&published), before);
    assert!(walk_files(&dest.join("_weir_staging")).is_empty());
}

#[test]
fn catch_up_runs_only_the_days_not_done_and_a_dry_run_writes_nothing() {
    let s = Setup::new();
    let dest = s.path("dest");
    // A dry run on a fresh destination: what it would do, and nothing done.
    let out = Command::new(weir_bin())
        .args(s.args(
            "run",
            "dest",
            &[
                "--dry-run",
                "--update",
                "--start-date",
                DAYS[0],
                "--end-date",
                DAYS[1],
            ],
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("reads 2 files") && text.contains("never run"),
        "{text}"
    );
    assert!(
        text.contains("exports/calculator/calculationParts/2023-08-03 (new)"),
        "{text}"
    );
    assert!(
        walk_files(&dest).is_empty(),
        "a dry run wrote {:?}",
        walk_files(&dest)
    );

    // An outage: the third day's input is late, so that day fails.
    let landing = s
        .source
        .join("corporate_storage/ucfs_main/2023/08/03/calculator/calculationParts");
    let late = s.path("late");
    std::fs::rename(&landing, &late).unwrap();
    let metrics = s.path("weir.prom");
    let args = s.args(
        "run",
        "dest",
        &[
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[2],
            "--run-id",
            "morning-run-1",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    );
    let out = Command::new(weir_bin()).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report_of(&args).run_id, "morning-run-1");
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(prom.contains("weir_run_success 0\n"), "{prom}");
    assert!(
        prom.contains(&format!(
            "weir_day_published{{collection=\"{CALC}\",export_date=\"{}\"}} 0\n",
            DAYS[2]
        )),
        "{prom}"
    );

    // The input arrives; catch-up runs the failed day only.
    std::fs::rename(&late, &landing).unwrap();
    let args = s.args(
        "run",
        "dest",
        &[
            "--reprocess",
            "missing",
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[2],
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    );
    let report = weir_ok(&args);
    let statuses: Vec<String> = report.days.iter().map(|d| d.status.to_string()).collect();
    assert_eq!(statuses, vec!["skipped", "skipped", "published"]);
    assert!(
        report.days[0]
            .note
            .as_deref()
            .unwrap()
            .contains("morning-run-1")
    );
    assert!(
        std::fs::read_to_string(&metrics)
            .unwrap()
            .contains("weir_run_success 1\n")
    );
    let history = status_json(&s, "history", "dest", &[DAYS[0]]);
    assert_eq!(history.len(), 1, "a skipped day is not run again");
    assert_eq!(status_json(&s, "history", "dest", &[DAYS[2]]).len(), 2);
    // `--reprocess failed` now finds nothing to do.
    let report = weir_ok(&s.args(
        "run",
        "dest",
        &[
            "--reprocess",
            "failed",
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[2],
        ],
    ));
    assert!(
        report
            .days
            .iter()
            .all(|d| d.status.to_string() == "skipped")
    );
}

/// `weir` with moto's credentials in its environment, which must succeed.
fn with_aws_credentials(args: &[String]) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = crate::s3::weir_at(None, &refs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The old job's status table in (moto's) DynamoDB: one item per day of a
/// 3-day backfill, in the old shape, agreeing with the embedded status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_status_table_gets_one_item_per_day_in_its_shape() {
    use weir_engine::status::{DynamoSettings, DynamoStatus};
    let s = Setup::new();
    let moto = weir_tests::Moto::start();
    let settings = DynamoSettings {
        table: "data_pipeline_metadata".into(),
        region: Some("us-east-1".into()),
        endpoint: Some(moto.endpoint.clone()),
    };
    let table = DynamoStatus::new(&settings)
        .unwrap()
        .with_credentials("AKIAWEIRTESTKEYID0001", "weir-test-secret-Zq8v3LmN0pR7sT2u");
    table.create_table().await.unwrap();
    let config = s.path("dynamo.toml");
    std::fs::write(
        &config,
        format!(
            "[status.dynamodb]\ntable = \"data_pipeline_metadata\"\nregion = \"us-east-1\"\nendpoint = {:?}\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let args = s.args(
        "run",
        "dest",
        &[
            "--config",
            config.to_str().unwrap(),
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[2],
        ],
    );
    with_aws_credentials(&args);
    let report = report_of(&args);
    let mut items = table.scan().await.unwrap();
    items.sort_by_key(|i| i["Date"]["S"].as_str().unwrap().to_owned());
    assert_eq!(items.len(), 3, "{items:#?}");
    let embedded = status_json(&s, "status", "dest", &DAYS[..3]);
    for ((item, date), run) in items.iter().zip(&DAYS[..3]).zip(&embedded) {
        assert_eq!(
            item["Correlation_Id"]["S"],
            format!("{}_{date}", report.run_id)
        );
        assert_eq!(item["DataProduct"]["S"], format!("CDI-{CALC}"));
        assert_eq!(item["Date"]["S"], *date);
        assert_eq!(item["Status"]["S"], "COMPLETED");
        assert_eq!(item["Status"]["S"], run.state.to_string());
        assert_eq!(item["Run_Id"]["S"], "1");
        assert_eq!(item["Cluster_Id"]["S"], weir_engine::status::host_name());
        let ttl: f64 = item["TimeToExist"]["N"].as_str().unwrap().parse().unwrap();
        assert!(ttl > chrono::Utc::now().timestamp() as f64 + 600.0 * 86_400.0);
        assert!(
            item.get("S3_Prefix_CDI_Export").is_none(),
            "no export without --update"
        );
    }
    // A rerun of a day with its merge: its own item, the second attempt,
    // with the export's prefix.
    let args = s.args(
        "run",
        "dest",
        &[
            "--config",
            config.to_str().unwrap(),
            "--update",
            "--since",
            DAYS[0],
            "--date",
            DAYS[0],
        ],
    );
    with_aws_credentials(&args);
    let rerun = report_of(&args).run_id;
    let items = table.scan().await.unwrap();
    assert_eq!(items.len(), 4);
    let item = items
        .iter()
        .find(|i| i["Correlation_Id"]["S"] == format!("{rerun}_{}", DAYS[0]))
        .unwrap();
    assert_eq!(item["Run_Id"]["S"], "2");
    assert!(
        item["S3_Prefix_CDI_Export"]["S"]
            .as_str()
            .unwrap()
            .ends_with(&format!("exports/calculator/calculationParts/{}", DAYS[0]))
    );
}

#[test]
fn a_retracted_day_is_de_referenced_kept_until_vacuum_and_caught_up_again() {
    let s = Setup::new();
    let dest = s.path("dest");
    weir_ok(&s.args(
        "run",
        "dest",
        &["--start-date", DAYS[0], "--end-date", DAYS[1]],
    ));
    let other_day = snapshot(&daily_dir(&dest, DAYS[1]));
    let day = daily_dir(&dest, DAYS[0]);
    let published = snapshot(&day);
    let retract = |reason: &str| {
        Command::new(weir_bin())
            .args([
                "retract",
                "--collection",
                CALC,
                "--date",
                DAYS[0],
                "--reason",
                reason,
                "--dest",
            ])
            .arg(&dest)
            .output()
            .unwrap()
    };
    let out = retract("ticket 42: wrong keys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // De-referenced: gone from where readers look, whole under _weir/retracted.
    assert!(!day.exists());
    assert_eq!(
        snapshot(&daily_dir(&dest, DAYS[1])),
        other_day,
        "the other day stays"
    );
    let kept: Vec<PathBuf> = walk_files(&dest.join("_weir/retracted"));
    let kept_bytes: std::collections::BTreeSet<Vec<u8>> =
        kept.iter().map(|p| std::fs::read(p).unwrap()).collect();
    for bytes in published.values() {
        assert!(kept_bytes.contains(bytes), "a published file was not kept");
    }
    let status = status_json(&s, "status", "dest", &[DAYS[0]]);
    assert_eq!(status[0].state, DayState::Retracted);
    assert!(status[0].note.as_deref().unwrap().contains("ticket 42"));
    // Nothing left to retract: it says so and fails.
    let out = retract("again");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("RETRACTED"));
    // Catch-up runs the retracted day again (and only it).
    let report = weir_ok(&s.args(
        "run",
        "dest",
        &[
            "--reprocess",
            "missing",
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[1],
        ],
    ));
    let statuses: Vec<String> = report.days.iter().map(|d| d.status.to_string()).collect();
    assert_eq!(statuses, vec!["published", "skipped"]);
    assert_complete(&day);
    // Vacuum: retracted files younger than the bound stay, then go.
    let vacuum = |older: &str| {
        let out = Command::new(weir_bin())
            .args(["vacuum", "--older-than", older, "--dest"])
            .arg(&dest)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    vacuum("7d");
    assert_eq!(walk_files(&dest.join("_weir/retracted")).len(), kept.len());
    vacuum("0d");
    assert!(walk_files(&dest.join("_weir/retracted")).is_empty());
    assert_complete(&day);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_retracted_day_is_moved_aside_and_vacuumed() {
    use crate::s3::{client, weir_at};
    use futures::TryStreamExt;
    let s = Setup::new();
    let (moto, config) = s.on_moto().await;
    let config = config.to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = weir_at(None, args);
        assert!(
            out.status.success(),
            "weir {args:?}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let common = [
        "--collection",
        CALC,
        "--config",
        config,
        "--dest",
        "s3://published/weir",
        "--date",
        DAYS[0],
    ];
    let mut run = vec![
        "run",
        "--source",
        "s3://corporate",
        "--dks-url",
        &s.dks_url,
        "--max-corrupt-ratio",
        "0.1",
    ];
    run.extend(common);
    ok(&run);
    let published = client(&moto, "published");
    let keys = |prefix: &'static str| {
        let published = published.clone();
        async move {
            let listed: Vec<_> = published
                .list(Some(&object_store::path::Path::from(prefix)))
                .try_collect()
                .await
                .unwrap();
            listed
                .into_iter()
                .map(|m| m.location.to_string())
                .collect::<Vec<_>>()
        }
    };
    let before = keys("weir/corporate_data_ingestion").await;
    assert!(before.iter().any(|k| k.ends_with("_SUCCESS")));
    let mut retract = vec!["retract", "--reason", "bad day"];
    retract.extend(common);
    ok(&retract);
    assert!(
        keys("weir/corporate_data_ingestion").await.is_empty(),
        "nothing left where readers look"
    );
    let kept = keys("weir/_weir/retracted").await;
    assert_eq!(kept.len(), before.len(), "every object kept: {kept:?}");
    let mut status = vec!["status", "--json"];
    status.extend(common);
    let out = ok(&status);
    let runs: Vec<DayRun> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs[0].state, DayState::Retracted);
    ok(&[
        "vacuum",
        "--older-than",
        "0d",
        "--dest",
        "s3://published/weir",
        "--config",
        config,
    ]);
    assert!(keys("weir/_weir/retracted").await.is_empty());
}
