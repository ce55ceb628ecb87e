//! What runs beside a measured `weir run`: the old job's own record code on
//! the same input (`--reference`), and a perf profile per stage
//! (`--profile`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The same `weir run` again under `perf record` (DWARF call chains), and
/// its CPU per stage (`benches/perf_stages.py`). Not timed: perf slows it.
pub(crate) fn profile(weir: &Path, run_args: &[std::ffi::OsString], work: &Path, n: u64) {
    let data = work.join(format!("perf-{n}.data"));
    let recorded = Command::new("perf")
        .args(["record", "-F", "299", "--call-graph", "dwarf,16384", "-o"])
        .arg(&data)
        .arg("--")
        .arg(weir)
        .args(run_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !recorded.is_ok_and(|s| s.success()) {
        println!("profile: perf record failed (is perf installed, perf_event_paranoid ≤ 2?)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("perf_stages.py");
    let _ = Command::new("python3")
        .arg(script)
        .arg(&data)
        .arg(n.to_string())
        .status();
    let _ = std::fs::remove_file(&data);
}

/// The old job's own record code (DWP's `steps/` under PySpark
/// `local[2]`, `shared/reference/run_reference.py`, JSON-lines sink) on
/// the same input and key service: its row, and (job seconds, whole
/// process seconds). `None`, said, when the checkout is absent or it fails.
pub(crate) fn old_job(
    steps: &Path,
    source: &Path,
    date: &str,
    dks: &str,
    work: &Path,
    n: u64,
) -> Option<(f64, f64)> {
    if !steps.join("data.py").is_file() || !steps.join("dks.py").is_file() {
        println!(
            "{:>8} not measured: no checkout of the old job's steps/ at {} (data.py, dks.py)",
            "old job",
            steps.display()
        );
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("../shared/reference/run_reference.py");
    // Found from the source tree the benchmark was built in: a binary
    // built in another checkout says so instead of "failed".
    if !script.is_file() {
        println!(
            "{:>8} not measured: no {} (the reference toolkit beside the source tree this benchmark was built from)",
            "old job",
            script.display()
        );
        return None;
    }
    let out_dir = work.join(format!("old-job-{n}"));
    let started = Instant::now();
    let out = Command::new(root.join("scripts/py-readers"))
        .arg(&script)
        .arg("--dwp-steps")
        .arg(steps)
        .arg("--input")
        .arg(source)
        .args([
            "--collection",
            "calculator:calculationParts",
            "--export-date",
            date,
        ])
        .args(["--dks-url", dks, "--sink", "jsonl", "--master", "local[2]"])
        .arg("--out")
        .arg(&out_dir)
        .stderr(Stdio::null())
        .output();
    let process_s = started.elapsed().as_secs_f64();
    let summary: Option<serde_json::Value> = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
    });
    let _ = std::fs::remove_dir_all(&out_dir);
    let Some(summary) = summary else {
        println!("{:>8} not measured: run_reference.py failed", "old job");
        return None;
    };
    let job_s = summary["wall_s"].as_f64().unwrap_or(f64::NAN);
    let records = summary["records_in"].as_u64().unwrap_or(0);
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>9.2} {:>12.0} {:>9} {:>13} {:>13}   (whole process {:.1} s: {:.0} records/s)",
        "old job",
        records,
        "-",
        "-",
        job_s,
        records as f64 / job_s,
        "-",
        "-",
        "-",
        process_s,
        records as f64 / process_s
    );
    Some((job_s, process_s))
}
