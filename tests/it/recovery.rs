//! What a day keeps and how it comes back (issue 16): each commit keeps the
//! versions it replaces, so a retraction brings the previous day back, on
//! disk and on S3 (moto); a commit cut short by kill -9 is rolled back by
//! `weir recover` (or the next run), on disk and between the markers of an
//! S3 commit; the dead run's status says FAILED.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir_engine::status::{DayRun, DayState};
use weir_tests::{walk_files, weir_bin};

use crate::merge::{DAYS, Setup, daily_dir, weir_ok};
use crate::operations::{assert_complete, lease_dir, snapshot, status_json, wait_until_expired};

const CALC: &str = "calculator:calculationParts";

fn weir_out(args: &[&str], dest: &std::path::Path) -> std::process::Output {
    Command::new(weir_bin())
        .args(args)
        .arg("--dest")
        .arg(dest)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_retraction_brings_back_the_version_the_run_replaced_until_vacuum() {
    let s = Setup::new();
    let dest = s.path("dest");
    let published = dest.join("corporate_data_ingestion");
    let first = weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    let v1 = snapshot(&published);
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    assert_ne!(snapshot(&published), v1, "the rerun published its own day");
    let retract = |why: &str| {
        ok(weir_out(
            &[
                "retract",
                "--collection",
                CALC,
                "--date",
                DAYS[0],
                "--reason",
                why,
            ],
            &dest,
        ))
    };

    // Retract: the first run's day is back, byte for byte.
    let said = retract("ticket 7: wrong keys");
    assert!(
        said.contains(&format!("run {}'s version restored", first.run_id)),
        "{said}"
    );
    assert_eq!(snapshot(&published), v1);
    let status = status_json(&s, "status", "dest", &[DAYS[0]]);
    assert_eq!(status[0].state, DayState::Retracted);
    let note = status[0].note.clone().unwrap();
    assert!(
        note.contains("ticket 7") && note.contains(&first.run_id),
        "{note}"
    );

    // Rerun, then retract again: the first run's day once more.
    let third = weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    assert_ne!(snapshot(&published), v1);
    assert_eq!(
        status_json(&s, "status", "dest", &[DAYS[0]])[0].run_id,
        third.run_id
    );
    retract("again");
    assert_eq!(snapshot(&published), v1);

    // Vacuum: what is kept aside (the retracted runs' output, and the
    // version a further rerun replaces) goes once old enough; the day stays.
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    let latest = snapshot(&published);
    let aside = || {
        walk_files(&dest.join("_weir/replaced")).len()
            + walk_files(&dest.join("_weir/retracted")).len()
    };
    let kept = aside();
    assert!(!walk_files(&dest.join("_weir/replaced")).is_empty());
    ok(weir_out(&["vacuum", "--older-than", "7d"], &dest));
    assert_eq!(aside(), kept);
    ok(weir_out(&["vacuum", "--older-than", "0d"], &dest));
    assert_eq!(aside(), 0);
    assert_eq!(snapshot(&published), latest);
    assert_complete(&daily_dir(&dest, DAYS[0]));
}

#[test]
fn weir_recover_rolls_back_a_commit_killed_mid_swap_and_fails_the_dead_run() {
    let s = Setup::new();
    let dest = s.path("dest");
    let config = s.path("short-lease.toml");
    std::fs::write(&config, "lease_ttl_secs = 3\n").unwrap();
    let config = config.to_str().unwrap().to_owned();
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    let published = dest.join("corporate_data_ingestion");
    let before = snapshot(&published);
    let args = s.args("run", "dest", &["--date", DAYS[0], "--config", &config]);
    kill_paused_at(&args, "swap:orc/daily", &[]);
    let day = daily_dir(&dest, DAYS[0]);
    assert!(!day.exists(), "killed with the daily moved away");
    let dead = status_json(&s, "history", "dest", &[DAYS[0]])
        .into_iter()
        .find(|r| r.state == DayState::InProgress)
        .expect("the killed run's status")
        .run_id;
    let recover = || {
        weir_out(
            &["recover", "--collection", CALC, "--config", &config],
            &dest,
        )
    };
    // While the dead run's lease lives, recover leaves the day alone.
    let said = ok(recover());
    assert!(
        said.contains("left alone") && said.contains(&dead),
        "{said}"
    );
    assert!(!day.exists());
    wait_until_expired(&lease_dir(&dest, DAYS[0]));

    let said = ok(recover());
    assert!(
        said.contains(&format!("recovered what run {dead} left")),
        "{said}"
    );
    assert_eq!(snapshot(&published), before, "the day as it was");
    assert!(walk_files(&dest.join("_weir_staging")).is_empty());
    let history = status_json(&s, "history", "dest", &[DAYS[0]]);
    let died = history.iter().find(|r| r.run_id == dead).unwrap();
    assert_eq!(died.state, DayState::Failed);
    assert!(died.error.as_deref().unwrap().contains("died"));
    // Nothing left to do the second time.
    assert!(ok(recover()).contains("nothing to recover"));
}

/// Every object under `prefix` with its bytes.
async fn objects(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
    prefix: &str,
) -> BTreeMap<String, Vec<u8>> {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    let listed: Vec<_> = store
        .list(Some(&object_store::path::Path::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for m in listed {
        let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
        out.insert(m.location.to_string(), bytes.to_vec());
    }
    out
}

/// The same keys with the same bytes (a difference names keys, not bytes).
fn assert_same_objects(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    let differ: Vec<&String> = a.keys().filter(|k| a[*k] != b[*k]).collect();
    assert!(differ.is_empty(), "{what}: other bytes in {differ:?}");
}

/// A scenario on moto with a 3-second lease: the store readers look in,
/// and the arguments of its runs.
struct OnS3 {
    _moto: weir_tests::Moto,
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    /// Collection, config, destination and date.
    common: Vec<String>,
    /// `weir run` of the day.
    run: Vec<String>,
}

impl OnS3 {
    async fn new(s: &Setup) -> Self {
        use crate::s3::{client, config_file};
        let (moto, _) = s.on_moto().await;
        let config = config_file(s.dir.path(), &moto, "lease_ttl_secs = 3");
        let common: Vec<String> = [
            "--collection",
            CALC,
            "--config",
            config.to_str().unwrap(),
            "--dest",
            "s3://published/weir",
            "--date",
            DAYS[0],
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        let mut run: Vec<String> = [
            "run",
            "--source",
            "s3://corporate",
            "--dks-url",
            &s.dks_url,
            "--max-corrupt-ratio",
            "0.1",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        run.extend(common.iter().cloned());
        Self {
            store: client(&moto, "published"),
            _moto: moto,
            common,
            run,
        }
    }

    /// `weir <head…> <common…>`, which must succeed; its stdout.
    fn weir(&self, head: &[&str]) -> String {
        let mut args: Vec<&str> = head.to_vec();
        args.extend(self.common.iter().map(String::as_str));
        ok(crate::s3::weir_at(None, &args))
    }

    fn run_day(&self) -> String {
        let args: Vec<&str> = self.run.iter().map(String::as_str).collect();
        ok(crate::s3::weir_at(None, &args))
    }

    /// `weir recover`, again until the dead run's lease has expired and it
    /// recovers the day.
    async fn recover_when_expired(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let said = self.weir(&["recover"]);
            if said.contains("recovered what run") {
                return;
            }
            assert!(said.contains("left alone"), "{what}: {said}");
            assert!(Instant::now() < deadline, "{what}: the lease never expired");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", crate::s3::KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", crate::s3::SECRET),
    ("AWS_REGION", "us-east-1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_commit_killed_between_its_markers_is_rolled_back_and_versions_come_back() {
    let s = Setup::new();
    let on = OnS3::new(&s).await;
    on.run_day();
    let prefix = "weir/corporate_data_ingestion";
    let before = objects(&on.store, prefix).await;
    let manifest_of = |all: &BTreeMap<String, Vec<u8>>, dir: &str| {
        all.iter()
            .find(|(k, _)| k.contains(dir) && k.ends_with("_manifest.json"))
            .map(|(_, v)| v.clone())
            .unwrap()
    };

    // Killed once the quarantine's markers are new and the data's old.
    kill_paused_at(&on.run, "marker:_corrupt", &CREDENTIALS);
    let half = objects(&on.store, prefix).await;
    assert_eq!(
        manifest_of(&half, "orc/daily"),
        manifest_of(&before, "orc/daily")
    );
    assert_ne!(
        manifest_of(&half, "_corrupt"),
        manifest_of(&before, "_corrupt"),
        "the day is half committed"
    );

    // Once the dead run's lease has expired, `weir recover` puts it back.
    let runs: Vec<DayRun> = serde_json::from_str(&on.weir(&["history", "--json"])).unwrap();
    let dead = runs
        .iter()
        .find(|r| r.state == DayState::InProgress)
        .unwrap()
        .run_id
        .clone();
    on.recover_when_expired("killed between markers").await;
    assert_same_objects(
        &objects(&on.store, prefix).await,
        &before,
        "the day as it was",
    );
    assert!(objects(&on.store, "weir/_weir_staging").await.is_empty());
    assert!(objects(&on.store, "weir/_weir/replaced").await.is_empty());
    let runs: Vec<DayRun> = serde_json::from_str(&on.weir(&["history", "--json"])).unwrap();
    let died = runs.iter().find(|r| r.run_id == dead).unwrap();
    assert_eq!(died.state, DayState::Failed);

    // A rerun replaces the day and keeps the previous one; its retraction
    // brings that back, object for object.
    on.run_day();
    assert_ne!(objects(&on.store, prefix).await, before);
    assert!(!objects(&on.store, "weir/_weir/replaced").await.is_empty());
    on.weir(&["retract", "--reason", "bad day"]);
    assert_same_objects(
        &objects(&on.store, prefix).await,
        &before,
        "after the retraction",
    );
}

/// Starts `weir` with `args`, paused inside its commit at `step`
/// (`WEIR_TEST_PAUSE_AT`), and kills it (SIGKILL) once it says so.
fn kill_paused_at(args: &[String], step: &str, env: &[(&str, &str)]) {
    use std::io::BufRead;
    let mut child = Command::new(weir_bin())
        .args(args)
        .env("WEIR_TEST_PAUSE_AT", step)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("commit paused for a test") {
                let _ = tx.send(());
            }
        }
    });
    let paused = rx.recv_timeout(Duration::from_secs(90));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(paused.is_ok(), "the run never paused at {step}");
}

/// The steps of a day's commit of calculationParts (its quarantine first,
/// then its daily), where a run can die.
const LOCAL_STEPS: [&str; 4] = [
    "prepare:_corrupt",
    "prepare:orc/daily",
    "swap:_corrupt",
    "swap:orc/daily",
];
const S3_STEPS: [&str; 4] = [
    "prepare:_corrupt",
    "prepare:orc/daily",
    "marker:_corrupt",
    "marker:orc/daily",
];

#[test]
fn on_disk_a_run_killed_at_each_commit_step_leaves_the_day_as_it_was() {
    let s = Setup::new();
    let dest = s.path("dest");
    let config = s.path("short-lease.toml");
    std::fs::write(&config, "lease_ttl_secs = 3\n").unwrap();
    let config = config.to_str().unwrap().to_owned();
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    let published = dest.join("corporate_data_ingestion");
    let before = snapshot(&published);
    for step in LOCAL_STEPS {
        let args = s.args("run", "dest", &["--date", DAYS[0], "--config", &config]);
        kill_paused_at(&args, step, &[]);
        wait_until_expired(&lease_dir(&dest, DAYS[0]));
        let said = ok(weir_out(
            &["recover", "--collection", CALC, "--config", &config],
            &dest,
        ));
        assert!(said.contains("recovered what run"), "{step}: {said}");
        assert_eq!(snapshot(&published), before, "killed at {step}");
        assert!(walk_files(&dest.join("_weir_staging")).is_empty(), "{step}");
    }
    weir_ok(&s.args("run", "dest", &["--date", DAYS[0]]));
    assert_complete(&daily_dir(&dest, DAYS[0]));
    assert_ne!(snapshot(&published), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_run_killed_at_each_commit_step_leaves_the_day_as_it_was() {
    let s = Setup::new();
    let on = OnS3::new(&s).await;
    on.run_day();
    let prefix = "weir/corporate_data_ingestion";
    let before = objects(&on.store, prefix).await;
    for step in S3_STEPS {
        kill_paused_at(&on.run, step, &CREDENTIALS);
        on.recover_when_expired(step).await;
        assert_same_objects(
            &objects(&on.store, prefix).await,
            &before,
            &format!("killed at {step}"),
        );
        assert!(
            objects(&on.store, "weir/_weir_staging").await.is_empty(),
            "{step}"
        );
    }
}

#[test]
fn retention_expires_the_days_past_their_bound_and_catch_up_leaves_them_expired() {
    let s = Setup::new();
    let dest = s.path("dest");
    weir_ok(&s.args(
        "run",
        "dest",
        &["--start-date", DAYS[0], "--end-date", DAYS[2]],
    ));
    let today = chrono::Utc::now().date_naive();
    let age = |d: &str| (today - d.parse::<chrono::NaiveDate>().unwrap()).num_days();
    // Kept as long as the second day is old: the first is past it, the
    // third within it.
    let config = s.path("retention.toml");
    std::fs::write(
        &config,
        format!(
            "[[retention]]\ncollection = \"{CALC}\"\nexpire_after_days = {}\n",
            age(DAYS[1])
        ),
    )
    .unwrap();
    let quarantine = |d: &str| {
        dest.join(format!(
            "corporate_data_ingestion/_corrupt/calculator/calculationParts/export_date={d}"
        ))
    };
    let third = snapshot(&daily_dir(&dest, DAYS[2]));
    assert!(quarantine(DAYS[0]).exists());
    let said = ok(weir_out(
        &[
            "vacuum",
            "--older-than",
            "7d",
            "--config",
            config.to_str().unwrap(),
        ],
        &dest,
    ));
    assert!(
        said.contains(&format!("{CALC} {}: expired", DAYS[0])),
        "{said}"
    );
    assert!(!daily_dir(&dest, DAYS[0]).exists());
    assert!(!quarantine(DAYS[0]).exists());
    assert_eq!(snapshot(&daily_dir(&dest, DAYS[2])), third);
    let status = status_json(&s, "status", "dest", &[DAYS[0], DAYS[2]]);
    assert_eq!(status[0].state, DayState::Expired);
    assert!(status[0].note.as_deref().unwrap().contains("older than"));
    assert_eq!(status.last().unwrap().state, DayState::Completed);
    // Catch-up does not bring an expired day back.
    let report = weir_ok(&s.args(
        "run",
        "dest",
        &[
            "--reprocess",
            "missing",
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
            .all(|d| d.status == weir_engine::report::DayStatus::Skipped),
        "{:?}",
        report.days
    );
    // Nothing is due twice.
    let said = ok(weir_out(
        &[
            "vacuum",
            "--older-than",
            "7d",
            "--config",
            config.to_str().unwrap(),
        ],
        &dest,
    ));
    assert!(!said.contains(&format!("{}: expired", DAYS[0])), "{said}");
}
