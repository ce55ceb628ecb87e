//! Cluster mode for real: `weir scheduler` and two `weir executor`s on
//! 127.0.0.1, and `weir run --cluster` against them. The output must be the
//! local run's and the old job's; a lost executor costs time, never a row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use weir_engine::output::OutputFormat;
use weir_engine::report::{DayReport, DayStatus, RunReport};
use weir_testkit::dks::sample_value;
use weir_tests::{
    Process, TestCluster, conformance_file, free_ports, gz_lines, key_pairs, spawn_sample_dks,
    spawn_weir, walk_files, weir_bin,
};

use crate::run::{expected_rows, manifest_corrupt, published_rows, quarantined};

const SAMPLE: &str = "calculator:calculationParts,data:businessAudit,core:claimant";

/// `weir run` over the sample's two days into `dest`, plus `extra`.
fn sample_args(dest: &Path, dks_url: &str, report: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "--source",
        conformance_file("sample").to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--dks-url",
        dks_url,
        "--collection",
        SAMPLE,
        "--start-date",
        "2023-06-02",
        "--end-date",
        "2023-06-03",
        "--max-corrupt-ratio",
        "0.1",
        "--partitions",
        "4",
        "--report",
        report.to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn weir(args: &[String]) -> Output {
    Command::new(weir_bin()).args(args).output().unwrap()
}

/// Runs `weir` and asserts it succeeded, showing everything when not.
fn weir_ok(args: &[String], cluster: Option<&TestCluster>) -> RunReport {
    let out = weir(args);
    assert!(
        out.status.success(),
        "weir {args:?}\nstdout:\n{}\nstderr:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        cluster.map(TestCluster::logs).unwrap_or_default()
    );
    let at = args.iter().position(|a| a == "--report").unwrap() + 1;
    serde_json::from_str(&std::fs::read_to_string(&args[at]).unwrap()).unwrap()
}

fn format_of(collection: &str) -> OutputFormat {
    match collection {
        "calculator:calculationParts" => OutputFormat::Orc,
        "data:businessAudit" => OutputFormat::Text,
        _ => OutputFormat::Parquet,
    }
}

fn output_dir(report: &RunReport, day: &DayReport, format: &str) -> PathBuf {
    report
        .outputs
        .iter()
        .find(|o| {
            o.collection == day.collection && o.export_date == day.export_date && o.format == format
        })
        .map(|o| PathBuf::from(&o.path))
        .unwrap_or_else(|| panic!("no {format} output for {}", day.collection))
}

/// The published files' contents, without their names (which carry each
/// attempt's token), as a sorted list.
fn contents(dir: &Path) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = walk_files(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name != "_SUCCESS" && name != "_manifest.json"
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    all.sort();
    all
}

fn metrics(dks_url: &str) -> String {
    let addr = dks_url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_cluster_publishes_the_local_runs_bytes_and_the_old_jobs_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (_dks, dks_url) = spawn_sample_dks(dir.path(), &[]);
    let cluster = TestCluster::start(dir.path(), 2, &[]);
    let (on_cluster, local) = (dir.path().join("cluster"), dir.path().join("local"));
    let cluster_report = weir_ok(
        &sample_args(
            &on_cluster,
            &dks_url,
            &dir.path().join("cluster.json"),
            &["--cluster", &cluster.url()],
        ),
        Some(&cluster),
    );
    let dks_metrics = metrics(&dks_url);
    let local_report = weir_ok(
        &sample_args(&local, &dks_url, &dir.path().join("local.json"), &[]),
        None,
    );
    assert_eq!(cluster_report.days.len(), 6);
    let source = conformance_file("sample");
    for day in &cluster_report.days {
        let (collection, export) = (day.collection.as_str(), day.export_date.as_str());
        assert_eq!(day.status, DayStatus::Published, "{day:#?}");
        let local_day = local_report
            .days
            .iter()
            .find(|d| d.collection == collection && d.export_date == export)
            .unwrap();
        let format = format_of(collection);
        let data = output_dir(&cluster_report, day, format.as_str());
        let local_data = output_dir(&local_report, local_day, format.as_str());
        assert_eq!(
            published_rows(&data, format),
            expected_rows(collection, export, format == OutputFormat::Text),
            "{collection} {export}: the old job's rows"
        );
        // Same plan, same partitions, same flushes: the same bytes, file for
        // file; only the attempt token in the names differs.
        assert_eq!(
            contents(&data),
            contents(&local_data),
            "{collection} {export}: the local run's files"
        );
        let q = output_dir(&cluster_report, day, "quarantine");
        assert_eq!(
            quarantined(&q, &source),
            manifest_corrupt(collection, &day.landing_date),
            "{collection} {export}: quarantine"
        );
        assert_eq!(
            contents(&q),
            contents(&output_dir(&local_report, local_day, "quarantine"))
        );
        assert_eq!(day.records_in, day.records_out + day.corrupt);
        assert_eq!(day.records_in, local_day.records_in);
    }
    assert!(!on_cluster.join("_weir_staging").exists());

    // Both executors worked, and each called DKS once per distinct key it met.
    let mut met: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for task in cluster_report.days.iter().flat_map(|d| &d.tasks) {
        let keys = met.entry(task.executor.clone()).or_default();
        for input in &task.inputs {
            keys.extend(key_pairs(&gz_lines(Path::new(input))));
        }
    }
    assert_eq!(
        met.keys().collect::<Vec<_>>(),
        ["exec-0", "exec-1"],
        "tasks ran on both executors"
    );
    for (executor, keys) in &met {
        assert_eq!(
            cluster_report.dks_by_executor[executor].calls,
            keys.len() as u64,
            "{executor}: DKS calls = distinct keys met"
        );
    }
    // And what the executors say they asked is what DKS answered.
    let answered = sample_value(&dks_metrics, "weir_dks_decrypts_total").unwrap_or(0.0)
        + sample_value(&dks_metrics, "weir_dks_rejected_total").unwrap_or(0.0);
    assert_eq!(cluster_report.dks.calls as f64, answered, "{dks_metrics}");
}

/// Generated calculationParts (20,000 records, 8 files, a key per 50
/// records) and a key service that takes 50 ms a key: tasks last seconds.
struct SlowDay {
    dir: tempfile::TempDir,
    source: PathBuf,
    config: PathBuf,
    dks_url: String,
    _dks: Process,
}

impl SlowDay {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        let master = dir.path().join("master.key");
        let out = Command::new(weir_bin())
            .args([
                "generate",
                "--dest",
                source.to_str().unwrap(),
                "--collection",
                "calculator:calculationParts",
                "--date",
                "2024-03-02",
                "--records",
                "20000",
                "--files-per-day",
                "8",
                "--records-per-key",
                "50",
                "--corrupt-rate",
                "0.002",
                "--master-key-file",
                master.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dks = spawn_weir(
            &[
                "dks",
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--master-key-file",
                master.to_str().unwrap(),
                "--latency-ms",
                "50",
            ],
            "listening on",
        );
        let dks_url = dks.first_line.rsplit(' ').next().unwrap().trim().to_owned();
        // Small batches meet new keys all the time; small buffers flush often.
        let config = dir.path().join("weir.toml");
        std::fs::write(
            &config,
            "batch_lines = 100\nbuffer_mb = 1\npartitions = 8\n",
        )
        .unwrap();
        Self {
            dir,
            source,
            config,
            dks_url,
            _dks: dks,
        }
    }

    fn args(&self, dest: &str, report: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--config",
            self.config.to_str().unwrap(),
            "--source",
            self.source.to_str().unwrap(),
            "--dest",
            self.dir.path().join(dest).to_str().unwrap(),
            "--dks-url",
            &self.dks_url,
            "--collection",
            "calculator:calculationParts",
            "--date",
            "2024-03-02",
            "--report",
            self.dir.path().join(report).to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }

    /// Runs on a fresh two-executor cluster, SIGKILLs `exec-1` as soon as its
    /// log shows `moment`, and checks the outcome against a local run.
    fn kill_when(&self, moment: &str) {
        let cluster_dir = self.dir.path().join("cluster-logs");
        std::fs::create_dir_all(&cluster_dir).unwrap();
        let mut cluster = TestCluster::start(&cluster_dir, 2, &[]);
        let args = self.args("cluster", "cluster.json", &["--cluster", &cluster.url()]);
        let mut run = Command::new(weir_bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let victim = cluster.executors[1].log.clone();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let log = std::fs::read_to_string(&victim).unwrap_or_default();
            if log.contains(moment) {
                break;
            }
            assert!(
                run.try_wait().unwrap().is_none(),
                "the run ended before exec-1 logged {moment:?}\n{}",
                cluster.logs()
            );
            assert!(
                Instant::now() < deadline,
                "exec-1 never logged {moment:?}\n{}",
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        cluster.kill_executor(1);
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "stdout:\n{}\nstderr:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            cluster.logs()
        );
        let at = args.iter().position(|a| a == "--report").unwrap() + 1;
        let report: RunReport =
            serde_json::from_str(&std::fs::read_to_string(&args[at]).unwrap()).unwrap();
        let local = weir_ok(&self.args("local", "local.json", &[]), None);
        let (day, local_day) = (&report.days[0], &local.days[0]);
        assert_eq!(day.status, DayStatus::Published);
        // Every result the commit used came from the survivor: what exec-1
        // had done was lost with it and done again.
        assert!(
            day.tasks.iter().all(|t| t.executor == "exec-0"),
            "{:#?}",
            day.tasks
        );
        let partitions: Vec<usize> = day.tasks.iter().map(|t| t.partition).collect();
        assert_eq!(
            partitions,
            (0..8).collect::<Vec<_>>(),
            "each partition once"
        );
        assert_eq!(day.records_in, 20_000);
        assert_eq!(
            (day.records_in, day.records_out, day.corrupt),
            (
                local_day.records_in,
                local_day.records_out,
                local_day.corrupt
            )
        );
        // Every row (so every id, as often) exactly as in the local output.
        let data = output_dir(&report, day, "orc");
        let local_data = output_dir(&local, local_day, "orc");
        let rows = published_rows(&data, OutputFormat::Orc);
        assert_eq!(rows.len() as u64, local_day.records_out);
        assert!(rows == published_rows(&local_data, OutputFormat::Orc));
        assert_eq!(
            quarantined(&output_dir(&report, day, "quarantine"), &self.source),
            quarantined(&output_dir(&local, local_day, "quarantine"), &self.source)
        );
        // The manifest lists exactly the files present; no attempt of the
        // lost executor is among them, and no staging is left.
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(data.join("_manifest.json")).unwrap())
                .unwrap();
        let listed = manifest["files"].as_array().unwrap().len();
        let present = walk_files(&data)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "orc"))
            .count();
        assert_eq!(listed, present);
        assert!(!self.dir.path().join("cluster/_weir_staging").exists());
    }
}

#[test]
fn an_executor_killed_while_its_tasks_run_costs_time_not_rows() {
    SlowDay::new().kill_when("write task started");
}

#[test]
fn an_executor_killed_while_writing_leaves_no_duplicate_and_no_gap() {
    SlowDay::new().kill_when("write task flushing");
}

#[test]
fn a_flaky_key_service_does_not_change_the_cluster_output() {
    let dir = tempfile::tempdir().unwrap();
    let (_dks, dks_url) = spawn_sample_dks(dir.path(), &["--fail-rate", "0.3"]);
    let cluster = TestCluster::start(dir.path(), 2, &[]);
    let dest = dir.path().join("out");
    let report = weir_ok(
        &sample_args(
            &dest,
            &dks_url,
            &dir.path().join("report.json"),
            &["--cluster", &cluster.url()],
        ),
        Some(&cluster),
    );
    for day in &report.days {
        let format = format_of(&day.collection);
        assert_eq!(
            published_rows(&output_dir(&report, day, format.as_str()), format),
            expected_rows(
                &day.collection,
                &day.export_date,
                format == OutputFormat::Text
            ),
            "{} {}",
            day.collection,
            day.export_date
        );
    }
    let injected = sample_value(&metrics(&dks_url), "weir_dks_injected_failures_total");
    assert!(injected.unwrap_or(0.0) > 0.0, "no failure was injected");
}

#[test]
fn an_unreachable_scheduler_fails_fast_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_ports(1)[0];
    let url = format!("df://127.0.0.1:{port}");
    let started = Instant::now();
    let out = weir(&sample_args(
        &dir.path().join("out"),
        "http://127.0.0.1:9",
        &dir.path().join("report.json"),
        &["--cluster", &url],
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot reach the Ballista scheduler at {url}")),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

#[test]
fn a_job_that_cannot_finish_names_the_stage_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = TestCluster::start(dir.path(), 2, &[]);
    // A key service nobody serves: every task attempt fails after the DKS
    // client's retries (an I/O error), Ballista retries it, then gives up.
    let dks_url = format!("http://127.0.0.1:{}", free_ports(1)[0]);
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[dks.retry]\nattempts = 2\ninitial_backoff_ms = 10\nmax_backoff_ms = 20\n",
    )
    .unwrap();
    let dest = dir.path().join("out");
    let mut args = sample_args(
        &dest,
        &dks_url,
        &dir.path().join("report.json"),
        &[
            "--cluster",
            &cluster.url(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    // One day of one collection is enough.
    let at = args.iter().position(|a| a == "--collection").unwrap() + 1;
    args[at] = "core:claimant".to_owned();
    let at = args.iter().position(|a| a == "--end-date").unwrap() + 1;
    args[at] = "2023-06-02".to_owned();
    let out = weir(&args);
    assert_eq!(out.status.code(), Some(1), "{}", cluster.logs());
    let report: RunReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let error = report.days[0].error.clone().unwrap();
    for needle in ["stage", "unavailable after 2 attempts", &dks_url] {
        assert!(error.contains(needle), "{needle:?} not in {error}");
    }
    // Nothing published, nothing staged.
    assert!(report.outputs.is_empty());
    assert!(!dest.join("_weir_staging").exists());
    assert!(
        walk_files(&dest)
            .iter()
            .all(|p| !p.ends_with("_SUCCESS") && p.extension().is_none_or(|e| e != "parquet")),
        "nothing published: {:?}",
        walk_files(&dest)
    );
}

#[test]
fn cluster_up_serves_runs_and_takes_its_processes_down_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_dks, dks_url) = spawn_sample_dks(dir.path(), &[]);
    // `cluster up` puts the executors on the ports after the scheduler's.
    let port = loop {
        let port = free_ports(1)[0];
        if port < 65_000
            && (1..=2).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok())
        {
            break port;
        }
    };
    let mut up = spawn_weir(
        &[
            "cluster",
            "up",
            "--executors",
            "1",
            "--port",
            &port.to_string(),
            "--dir",
            dir.path().join("cluster").to_str().unwrap(),
        ],
        "cluster up",
    );
    let url = format!("df://127.0.0.1:{port}");
    assert!(up.first_line.contains(&url), "{}", up.first_line);
    let mut args = sample_args(
        &dir.path().join("out"),
        &dks_url,
        &dir.path().join("report.json"),
        &["--cluster", &url],
    );
    let at = args.iter().position(|a| a == "--collection").unwrap() + 1;
    args[at] = "core:claimant".to_owned();
    let report = weir_ok(&args, None);
    assert!(report.days.iter().all(|d| d.status == DayStatus::Published));
    assert!(
        report
            .days
            .iter()
            .flat_map(|d| &d.tasks)
            .all(|t| t.executor == "executor-0")
    );
    // SIGTERM: the scheduler and the executor go too.
    let status = Command::new("kill")
        .arg(up.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while up.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "cluster up ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in [port, port + 1, port + 2] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", p)).is_err(),
            "something still listens on {p}"
        );
    }
}

/// Executors started with `--allow-read` and `--allow-write` run plans inside
/// those prefixes and refuse any other source or destination, publishing
/// nothing; the client's error names the refused location.
#[test]
fn executors_refuse_plans_outside_their_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let (_dks, dks_url) = spawn_sample_dks(dir.path(), &[]);
    let sample = conformance_file("sample");
    let allowed = dir.path().join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    let read = sample.to_str().unwrap().to_owned();
    let write = allowed.to_str().unwrap().to_owned();
    let cluster = TestCluster::start(
        dir.path(),
        2,
        &[("WEIR_ALLOW_READ", &read), ("WEIR_ALLOW_WRITE", &write)],
    );
    let report = dir.path().join("report.json");
    let args = |source: &Path, dest: &Path| -> Vec<String> {
        [
            "run",
            "--source",
            source.to_str().unwrap(),
            "--dest",
            dest.to_str().unwrap(),
            "--dks-url",
            &dks_url,
            "--collection",
            "calculator:calculationParts",
            "--date",
            "2023-06-02",
            "--max-corrupt-ratio",
            "0.1",
            "--cluster",
            &cluster.url(),
            "--report",
            report.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let report = weir_ok(&args(&sample, &allowed), Some(&cluster));
    assert!(report.days[0].records_out > 0);

    let elsewhere = dir.path().join("elsewhere");
    let out = weir(&args(&sample, &elsewhere));
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("refuses to write") && text.contains("elsewhere"),
        "{text}"
    );
    assert!(
        !elsewhere.join("corporate_data_ingestion").exists(),
        "nothing published outside the list"
    );

    // A copy of the input outside the read prefixes is refused too.
    let copy = dir.path().join("copy");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&sample)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let out = weir(&args(&copy, &allowed));
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("refuses to read") && text.contains("copy"),
        "{text}"
    );
    assert!(text.contains("configuration's fault"), "{text}");
}
