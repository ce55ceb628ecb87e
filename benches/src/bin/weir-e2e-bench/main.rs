//! End-to-end benchmark: generates N calculationParts records (~2.1 KB each),
//! starts the local key service, runs `weir run` on them as users do, and prints
//! records/s, MB/s and the peak RSS of the `weir run` process.
//!
//! `cargo build --release -p weir-cluster -p weir-benches && target/release/weir-e2e-bench`
//! (`--records 200000 --scale 1,4` by default: the second run checks that
//! memory does not grow with the input).
//!
//! `--modes local,cluster` also runs each size on a local cluster (`weir
//! cluster up`: a scheduler and `--executors` executors with `--slots` task
//! slots each, on 127.0.0.1) with the same plan; RSS is then the client's and
//! the largest executor's.
//!
//! `--modes tables` builds calculationParts' typed tables (`from_json` of
//! every `val`, Parquet) from an `--export-rows` export in one measured
//! process; with `--spark`, Spark's `from_json` over the same files
//! (`benches/spark/from_json_tables.py`) is printed beside it.
//! `--modes merge` benchmarks the snapshot merge alone (`weir merge`): a
//! previous export of `--export-rows` (1,000,000) times each scale plus a
//! daily of `--records` rows, written directly in Weir's layout; rows/s and
//! peak RSS. `--spark` runs the old job's window over the same files under
//! PySpark `local[2]` (`benches/spark/merge_window.py`, needs
//! `scripts/py-readers`) beside it.
//! `--profile` runs each local `weir run` once more under `perf record`
//! (DWARF call chains) and prints its CPU per stage (`benches/perf_stages.py`).
//! `--reference DWP_STEPS` runs the old job's own record code
//! (`shared/reference/run_reference.py` under PySpark `local[2]`) on the same
//! input right before Weir, and prints both and the ratio; without the
//! checkout it says so. `--rounds N` repeats each scale N times, the old job
//! before Weir in odd rounds and after it in even ones, and prints the
//! medians and their ratio.
//! `--modes publish` publishes a day of `--files` (10,000) staged objects
//! on moto (`scripts/moto-server`, on loopback) with Weir's commit, one
//! request at a time and then 32 at a time (`[s3] concurrent_requests`):
//! the first publish and a rerun (which keeps the previous version).
//! `--modes lookup` asks `weir lookup --export` for an id present in the
//! same `--export-rows` export and for two absent ones (one inside an ORC
//! stripe's id range, one outside); latency of the whole process and of the
//! lookup itself, and the bytes it read against the export's.

mod baseline;
mod modes;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    records: u64,
    scales: Vec<u64>,
    work: PathBuf,
    partitions: Option<usize>,
    format: Option<String>,
    modes: Vec<String>,
    executors: usize,
    slots: usize,
    export_rows: u64,
    spark: bool,
    files: usize,
    reference: Option<PathBuf>,
    profile: bool,
    rounds: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        records: 200_000,
        scales: vec![1, 4],
        work: PathBuf::from("target/weir-e2e-bench"),
        partitions: None,
        format: None,
        modes: vec!["local".to_owned()],
        executors: 2,
        slots: 2,
        export_rows: 1_000_000,
        spark: false,
        files: 10_000,
        reference: None,
        profile: false,
        rounds: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| die(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--records" => {
                args.records = value()
                    .parse()
                    .unwrap_or_else(|_| die("--records: a number"))
            }
            "--scale" => {
                args.scales = value()
                    .split(',')
                    .map(|s| {
                        s.parse()
                            .unwrap_or_else(|_| die("--scale: numbers, comma-separated"))
                    })
                    .collect()
            }
            "--work" => args.work = PathBuf::from(value()),
            "--partitions" => {
                args.partitions = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| die("--partitions: a number")),
                )
            }
            "--format" => args.format = Some(value()),
            "--modes" => args.modes = value().split(',').map(str::to_owned).collect(),
            "--executors" => {
                args.executors = value()
                    .parse()
                    .unwrap_or_else(|_| die("--executors: a number"))
            }
            "--slots" => args.slots = value().parse().unwrap_or_else(|_| die("--slots: a number")),
            "--export-rows" => {
                args.export_rows = value()
                    .parse()
                    .unwrap_or_else(|_| die("--export-rows: a number"))
            }
            "--spark" => args.spark = true,
            "--profile" => args.profile = true,
            "--reference" => args.reference = Some(PathBuf::from(value())),
            "--rounds" => {
                args.rounds = value()
                    .parse::<usize>()
                    .unwrap_or_else(|_| die("--rounds: a number"))
                    .max(1)
            }
            "--files" => args.files = value().parse().unwrap_or_else(|_| die("--files: a number")),
            "-h" | "--help" => {
                println!(
                    "weir-e2e-bench [--records N] [--scale 1,4] [--work DIR] [--partitions P] [--format orc|parquet|jsonl|text] [--modes local,cluster,merge,tables,lookup,publish] [--executors 2] [--slots 2] [--export-rows 1000000] [--files 10000] [--spark] [--reference DWP_STEPS_DIR] [--rounds N] [--profile]"
                );
                std::process::exit(0);
            }
            other => die(&format!("unknown option {other}")),
        }
    }
    args
}

fn die(message: &str) -> ! {
    eprintln!("weir-e2e-bench: {message}");
    std::process::exit(2)
}

fn weir_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| die(&e.to_string()));
    let bin = exe.with_file_name("weir");
    if !bin.is_file() {
        die(&format!(
            "{} not found: cargo build --release -p weir-cluster -p weir-benches",
            bin.display()
        ));
    }
    bin
}

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| die(&format!("{cmd:?}: {e}")));
    if !status.success() {
        die(&format!("{cmd:?} failed: {status}"));
    }
}

/// Runs `cmd`: its exit status, wall seconds and peak RSS (KiB), sampled
/// every 20 ms.
fn run_measured(cmd: &mut Command) -> (std::process::ExitStatus, f64, u64) {
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| die(&e.to_string()));
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => die(&e.to_string()),
        }
    };
    (status, started.elapsed().as_secs_f64(), peak)
}

/// Runs `cmd` (`what`, writing its run report to `report`) measured as
/// [`run_measured`] does: the report, wall seconds and peak RSS; a failed
/// run stops the benchmark naming the report.
fn run_reported(cmd: &mut Command, what: &str, report: &Path) -> (serde_json::Value, f64, u64) {
    let (status, secs, peak) = run_measured(cmd);
    if !status.success() {
        die(&format!(
            "{what} failed ({status}); see {}",
            report.display()
        ));
    }
    let json =
        serde_json::from_slice(&std::fs::read(report).unwrap_or_default()).unwrap_or_default();
    (json, secs, peak)
}

/// Peak resident set (VmHWM) of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    // The measured child of `--modes tables`.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--publish-child") {
        let [_, _, endpoint, files, concurrency] = &argv[..] else {
            die("--publish-child ENDPOINT FILES CONCURRENCY");
        };
        let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| die(&e.to_string()));
        let (first, rerun) = runtime
            .block_on(weir_benches::publish::publish_day(
                endpoint,
                files.parse().unwrap_or(10_000),
                concurrency.parse().unwrap_or(1),
            ))
            .unwrap_or_else(|e| die(&e));
        println!("{}", serde_json::json!({"first": first, "rerun": rerun}));
        return;
    }
    if argv.get(1).map(String::as_str) == Some("--tables-child") {
        let [_, _, export, out, partitions] = &argv[..] else {
            die("--tables-child EXPORT_DIR OUT_DIR PARTITIONS");
        };
        let written = weir_benches::tables::build_tables(
            Path::new(export),
            Path::new(out),
            partitions.parse().unwrap_or(2),
        )
        .unwrap_or_else(|e| die(&e));
        println!("{}", serde_json::json!(written));
        return;
    }
    let mut args = parse_args();
    let weir = weir_bin();
    std::fs::create_dir_all(&args.work).unwrap_or_else(|e| die(&e.to_string()));
    if args.modes.iter().any(|m| m == "tables") {
        tables_bench(&args);
        args.modes.retain(|m| m != "tables");
        if args.modes.is_empty() {
            return;
        }
    }
    if args.modes.iter().any(|m| m == "publish") {
        modes::publish_bench(&args);
        args.modes.retain(|m| m != "publish");
        if args.modes.is_empty() {
            return;
        }
    }
    if args.modes.iter().any(|m| m == "lookup") {
        modes::lookup_bench(&args, &weir);
        args.modes.retain(|m| m != "lookup");
        if args.modes.is_empty() {
            return;
        }
    }
    if args.modes.iter().any(|m| m == "merge") {
        merge_bench(&args, &weir);
        args.modes.retain(|m| m != "merge");
        if args.modes.is_empty() {
            return;
        }
    }
    let master = args.work.join("dks-master.key");
    let date = "2024-01-02";

    // The cluster first: a failure to start it leaves nothing behind.
    let mut cluster = args
        .modes
        .iter()
        .any(|m| m == "cluster")
        .then(|| start_cluster(&weir, &args));
    let mut dks = Command::new(&weir)
        .args(["dks", "serve", "--bind", "127.0.0.1:0", "--master-key-file"])
        .arg(&master)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut first = String::new();
    if let Some(out) = dks.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut first);
    }
    let url = first
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if !url.starts_with("http") {
        let _ = dks.kill();
        if let Some(c) = cluster.as_mut() {
            c.stop();
        }
        die(&format!("the key service did not start: {first:?}"));
    }

    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>9} {:>12} {:>9} {:>13} {:>13}",
        "mode",
        "records",
        "input MB",
        "gzip MB",
        "seconds",
        "records/s",
        "MB/s",
        "peak RSS MB",
        "executor MB"
    );
    for scale in &args.scales {
        let n = args.records * scale;
        let source = args.work.join(format!("source-{n}"));
        if !source.join("manifest.json").is_file() {
            eprintln!("generating {n} records under {} ...", source.display());
            run(Command::new(&weir)
                .args([
                    "generate",
                    "--collection",
                    "calculator:calculationParts",
                    "--date",
                    date,
                ])
                .args([
                    "--records",
                    &n.to_string(),
                    "--files-per-day",
                    "8",
                    "--records-per-key",
                    "10000",
                ])
                .arg("--dest")
                .arg(&source)
                .arg("--master-key-file")
                .arg(&master)
                .stdout(Stdio::null()));
        }
        let (raw, gz) = input_bytes(&source);
        let day = Day {
            weir: &weir,
            date,
            source: &source,
            url: &url,
            n,
            raw,
            gz,
        };
        let reference = || {
            args.reference
                .as_ref()
                .and_then(|steps| baseline::old_job(steps, &source, date, &url, &args.work, n))
        };
        let mut old_runs: Vec<(f64, f64)> = Vec::new();
        let mut weir_runs: Vec<Vec<f64>> = vec![Vec::new(); args.modes.len()];
        for round in 0..args.rounds {
            // The old job on the same files and key service, before Weir in
            // even rounds and after it in odd ones: run right after Spark,
            // Weir measured slower than alone, so one order alone would
            // favour the old job.
            let old_first = round % 2 == 0;
            let mut old_job = if old_first { reference() } else { None };
            let mut this_round = Vec::new();
            for (m, mode) in args.modes.iter().enumerate() {
                let secs = weir_once(&args, &day, mode, cluster.as_ref(), round == 0);
                weir_runs[m].push(secs);
                this_round.push(secs);
            }
            if !old_first {
                old_job = reference();
            }
            if let Some(old) = old_job {
                old_runs.push(old);
                for (mode, secs) in args.modes.iter().zip(&this_round) {
                    print_ratio(mode, old, *secs);
                }
            }
        }
        if args.rounds > 1 {
            let old = (
                median(old_runs.iter().map(|o| o.0).collect()),
                median(old_runs.iter().map(|o| o.1).collect()),
            );
            for (mode, runs) in args.modes.iter().zip(weir_runs) {
                let secs = median(runs);
                println!(
                    "{:>8} {mode}: median of {} rounds {:.2} s, {:.0} records/s",
                    "median",
                    args.rounds,
                    secs,
                    n as f64 / secs
                );
                if !old_runs.is_empty() {
                    println!(
                        "{:>8} old job: median of {} rounds {:.2} s, {:.0} records/s (whole process {:.1} s)",
                        "median",
                        old_runs.len(),
                        old.0,
                        n as f64 / old.0,
                        old.1
                    );
                    print_ratio(&format!("{mode}, medians"), old, secs);
                }
            }
        }
    }
    if let Some(mut cluster) = cluster {
        // SIGTERM: `cluster up` stops its scheduler and executors on the way out.
        let _ = Command::new("kill")
            .arg(cluster.up.id().to_string())
            .status();
        let _ = cluster.up.wait();
    }
    let _ = dks.kill();
    let _ = dks.wait();
}

/// One scale's input and key service, as each `weir run` of it sees them.
struct Day<'a> {
    weir: &'a Path,
    date: &'a str,
    source: &'a Path,
    url: &'a str,
    n: u64,
    raw: u64,
    gz: u64,
}

/// One `weir run` of `day` in `mode` (local, or on `cluster`): prints its
/// row (and, with `--profile` and `profile`, its CPU per stage) and
/// returns its wall seconds.
fn weir_once(
    args: &Args,
    day: &Day<'_>,
    mode: &str,
    cluster: Option<&Cluster>,
    profile: bool,
) -> f64 {
    let n = day.n;
    let dest = args.work.join(format!("out-{mode}-{n}"));
    let report = args.work.join(format!("report-{mode}-{n}.json"));
    let mut run_args: Vec<std::ffi::OsString> = [
        "run",
        "--collection",
        "calculator:calculationParts",
        "--date",
        day.date,
    ]
    .iter()
    .map(Into::into)
    .collect();
    if let Some(cluster) = cluster.filter(|_| mode == "cluster") {
        run_args.extend(["--cluster".into(), cluster.url.clone().into()]);
    } else if mode != "local" {
        die(&format!("unknown mode {mode}: local or cluster"));
    }
    run_args.extend([
        "--source".into(),
        day.source.as_os_str().to_owned(),
        "--dest".into(),
        dest.into_os_string(),
        "--dks-url".into(),
        day.url.into(),
        "--report".into(),
        report.clone().into_os_string(),
    ]);
    if let Some(p) = args.partitions {
        run_args.extend(["--partitions".into(), p.to_string().into()]);
    }
    if let Some(f) = &args.format {
        run_args.extend(["--format".into(), f.into()]);
    }
    let mut cmd = Command::new(day.weir);
    cmd.args(&run_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (json, secs, peak) = run_reported(&mut cmd, "weir run", &report);
    let records = json["days"][0]["records_in"].as_u64().unwrap_or(0);
    if records != n {
        die(&format!("weir run read {records} records, expected {n}"));
    }
    let executor_peak = cluster
        .filter(|_| mode == "cluster")
        .map_or("-".to_owned(), |c| {
            format!("{:.0}", c.executor_peak_kib() as f64 / 1024.0)
        });
    println!(
        "{:>8} {:>10} {:>10.1} {:>10.1} {:>9.2} {:>12.0} {:>9.1} {:>13.0} {:>13}",
        mode,
        records,
        day.raw as f64 / 1e6,
        day.gz as f64 / 1e6,
        secs,
        records as f64 / secs,
        day.raw as f64 / 1e6 / secs,
        peak as f64 / 1024.0,
        executor_peak
    );
    if args.profile && profile && mode == "local" {
        baseline::profile(day.weir, &run_args, &args.work, n);
    }
    secs
}

/// Weir's seconds against the old job's (job time, whole process).
fn print_ratio(what: &str, (job_s, process_s): (f64, f64), secs: f64) {
    println!(
        "{:>8} {what}: {:.1}× the old job's job time, {:.1}× its whole process",
        "ratio",
        job_s / secs,
        process_s / secs
    );
}

/// The median of some seconds (the mean of the middle two of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `weir cluster up`, running.
struct Cluster {
    up: std::process::Child,
    url: String,
    // Kept open: `cluster up` prints more, and a closed pipe would kill it.
    _stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Cluster {
    /// SIGTERM: `cluster up` stops its scheduler and executors on the way out.
    fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.up.id().to_string()).status();
        let _ = self.up.wait();
    }

    /// The largest peak RSS among the executors (children of `cluster up`
    /// but the first, the scheduler), in KiB.
    fn executor_peak_kib(&self) -> u64 {
        let pid = self.up.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        children
            .split_whitespace()
            .skip(1)
            .filter_map(|c| c.parse().ok())
            .filter_map(peak_rss_kib)
            .max()
            .unwrap_or(0)
    }
}

fn start_cluster(weir: &Path, args: &Args) -> Cluster {
    // `cluster up` puts the executors on the ports after the scheduler's.
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    let port = (0..100)
        .filter_map(|_| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .ok()?
                .port();
            let last = port.checked_add(2 * args.executors as u16)?;
            (port..=last).skip(1).all(free).then_some(port)
        })
        .next()
        .unwrap_or_else(|| die("no free run of ports for the cluster"));
    let mut up = Command::new(weir)
        .args(["cluster", "up", "--port", &port.to_string()])
        .args(["--executors", &args.executors.to_string()])
        .args(["--concurrent-tasks", &args.slots.to_string()])
        .arg("--dir")
        .arg(args.work.join("cluster"))
        .stdout(Stdio::piped())
        // Not this process's stderr: if the bench dies, nothing left behind
        // may hold the caller's pipe open.
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut first = String::new();
    let mut stdout = up.stdout.take().map(BufReader::new);
    if let Some(out) = stdout.as_mut() {
        let _ = out.read_line(&mut first);
    }
    if !first.starts_with("cluster up") {
        let _ = up.kill();
        die(&format!("the cluster did not start: {first:?}"));
    }
    Cluster {
        up,
        url: format!("df://127.0.0.1:{port}"),
        _stdout: stdout,
    }
}

/// Uncompressed and compressed bytes of the generated input (its manifest).
fn input_bytes(source: &Path) -> (u64, u64) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(source.join("manifest.json")).unwrap_or_default())
            .unwrap_or_default();
    let mut raw = 0;
    let mut gz = 0;
    for days in json["collections"]
        .as_object()
        .into_iter()
        .flat_map(|c| c.values())
    {
        for day in days.as_object().into_iter().flat_map(|d| d.values()) {
            for f in day["files"].as_array().into_iter().flatten() {
                raw += f["bytes_uncompressed"].as_u64().unwrap_or(0);
                gz += f["bytes_compressed"].as_u64().unwrap_or(0);
            }
        }
    }
    (raw, gz)
}

/// `--modes merge`: `weir merge` over a previous export and a daily, per
/// scale of the export.
fn merge_bench(args: &Args, weir: &Path) {
    use weir_benches::merge::{MERGE_DATE, write_merge_inputs};
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>9} {:>12} {:>13}",
        "mode", "export rows", "daily rows", "input MB", "seconds", "rows/s", "peak RSS MB"
    );
    for scale in &args.scales {
        let export_rows = args.export_rows * scale;
        let dest = args
            .work
            .join(format!("merge-{export_rows}-{}", args.records));
        let marker = dest.join("inputs.json");
        let inputs: serde_json::Value = match std::fs::read(&marker) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => {
                eprintln!(
                    "writing a {export_rows}-row export and a {}-row daily under {} ...",
                    args.records,
                    dest.display()
                );
                let written =
                    write_merge_inputs(&dest, export_rows as usize, args.records as usize)
                        .unwrap_or_else(|e| die(&e.to_string()));
                let json = serde_json::json!({
                    "export_rows": written.export_rows,
                    "daily_rows": written.daily_rows,
                    "bytes": written.bytes,
                });
                let _ = std::fs::write(&marker, json.to_string());
                json
            }
        };
        let report = args.work.join(format!("report-merge-{export_rows}.json"));
        let mut cmd = Command::new(weir);
        cmd.args([
            "merge",
            "--collection",
            "calculator:calculationParts",
            "--date",
            MERGE_DATE,
        ])
        .arg("--dest")
        .arg(&dest)
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some(p) = args.partitions {
            cmd.args(["--partitions", &p.to_string()]);
        }
        let (json, secs, peak) = run_reported(&mut cmd, "weir merge", &report);
        let rows_in = json["days"][0]["merge"]["rows_in"].as_u64().unwrap_or(0);
        let expected = inputs["export_rows"].as_u64().unwrap_or(0)
            + inputs["daily_rows"].as_u64().unwrap_or(0);
        if rows_in != expected {
            die(&format!(
                "weir merge read {rows_in} rows, expected {expected}"
            ));
        }
        println!(
            "{:>8} {:>12} {:>10} {:>10.1} {:>9.2} {:>12.0} {:>13.0}",
            "merge",
            inputs["export_rows"],
            inputs["daily_rows"],
            inputs["bytes"].as_f64().unwrap_or(0.0) / 1e6,
            secs,
            rows_in as f64 / secs,
            peak as f64 / 1024.0
        );
        if args.spark {
            spark_baseline(&dest, &args.work);
        }
    }
}

/// The merge benchmark's export of `export_rows` rows, written under
/// `work` once (by the tables and lookup modes): its destination root and
/// directory.
fn export_written(work: &Path, export_rows: u64) -> (PathBuf, PathBuf) {
    use weir_benches::merge::{EXPORT_DATE, write_merge_inputs};
    let dest = work.join(format!("tables-{export_rows}"));
    let export_dir = dest.join(format!(
        "corporate_data_ingestion/exports/calculator/calculationParts/{EXPORT_DATE}"
    ));
    if !export_dir.join("_SUCCESS").exists() {
        eprintln!(
            "writing a {export_rows}-row export under {} ...",
            dest.display()
        );
        write_merge_inputs(&dest, export_rows as usize, 0).unwrap_or_else(|e| die(&e.to_string()));
    }
    (dest, export_dir)
}

/// `--modes tables`: calculationParts' typed tables built from an export of
/// `--export-rows` rows (the merge benchmark's, written once), in one
/// measured process; `--spark` builds them with Spark's `from_json` too.
fn tables_bench(args: &Args) {
    println!(
        "{:>8} {:>12} {:>9} {:>12} {:>13}",
        "mode", "export rows", "seconds", "rows/s", "peak RSS MB"
    );
    for scale in &args.scales {
        let export_rows = args.export_rows * scale;
        let (_, export_dir) = export_written(&args.work, export_rows);
        let out = args.work.join(format!("tables-out-{export_rows}"));
        let _ = std::fs::remove_dir_all(&out);
        let partitions = args.partitions.unwrap_or(2).to_string();
        let mut cmd = Command::new(std::env::current_exe().unwrap_or_else(|e| die(&e.to_string())));
        cmd.arg("--tables-child")
            .arg(&export_dir)
            .arg(&out)
            .arg(&partitions)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let (status, secs, peak) = run_measured(&mut cmd);
        if !status.success() {
            die(&format!("building the tables failed ({status})"));
        }
        println!(
            "{:>8} {:>12} {:>9.2} {:>12.0} {:>13.0}",
            "weir",
            export_rows,
            secs,
            export_rows as f64 / secs,
            peak as f64 / 1024.0
        );
        if args.spark {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let schemas = root.join("ingesters/src/calculation_parts/tables");
            let output = Command::new(root.join("scripts/py-readers"))
                .arg(root.join("benches/spark/from_json_tables.py"))
                .arg(&export_dir)
                .arg(args.work.join(format!("spark-tables-out-{export_rows}")))
                .arg(schemas.join("src_calculator_parts.json"))
                .arg(schemas.join("src_calculator_amounts.ddl"))
                .output()
                .unwrap_or_else(|e| die(&e.to_string()));
            let json = spark_answer(&output);
            let secs = json["seconds"].as_f64().unwrap_or(0.0);
            println!(
                "{:>8} {:>12} {:>9.2} {:>12.0} {:>13}",
                "spark",
                export_rows,
                secs,
                export_rows as f64 / secs,
                "-"
            );
        }
    }
}

/// The old job's window over the same files under PySpark `local[2]`.
fn spark_baseline(dest: &Path, work: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let base = dest.join("corporate_data_ingestion");
    let out = work.join("spark-merge-out");
    let output = Command::new(root.join("scripts/py-readers"))
        .arg(root.join("benches/spark/merge_window.py"))
        .arg(base.join(format!(
            "exports/calculator/calculationParts/{}",
            weir_benches::merge::EXPORT_DATE
        )))
        .arg(base.join(
            "orc/daily/calculator/calculationParts/export_year=2024/export_month=01/export_day=02",
        ))
        .arg(&out)
        .output()
        .unwrap_or_else(|e| die(&e.to_string()));
    let json = spark_answer(&output);
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>9} {:>12} {:>13}",
        "spark", "", "", "", json["seconds"], json["rows_per_s"], "-"
    );
}

/// The JSON line a Spark baseline script prints last.
fn spark_answer(output: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .unwrap_or_else(|| {
            die(&format!(
                "the Spark baseline failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ))
        })
}
