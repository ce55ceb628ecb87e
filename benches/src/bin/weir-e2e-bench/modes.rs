//! The lookup and publish benchmarks (`--modes lookup`, `--modes publish`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Args, die};

/// `--modes publish`: moto on a free loopback port, then one child per
/// concurrency.
pub(crate) fn publish_bench(args: &Args) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut moto = Command::new(root.join("scripts/moto-server"))
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&e.to_string()));
    let endpoint = format!("http://127.0.0.1:{port}");
    // Ready when it answers; then the bucket (moto takes a bare PUT).
    let deadline = Instant::now() + Duration::from_secs(300);
    let created = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let mut answer = String::new();
            let asked =
                s.write_all(b"PUT /bench HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
            if asked.is_ok()
                && s.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1")
            {
                break answer.contains(" 200 ");
            }
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !created {
        let _ = moto.kill();
        die("moto never answered, or refused the bucket");
    }
    // The same server behind 20 ms of latency per request, as S3 has: a
    // fifth of the files, since one at a time then takes minutes.
    let slow = weir_benches::publish::latency_proxy(port, Duration::from_millis(20))
        .unwrap_or_else(|e| die(&e.to_string()));
    println!(
        "{:>8} {:>12} {:>12} {:>16} {:>14}",
        "files", "latency ms", "in flight", "first publish s", "rerun s"
    );
    let runs = [
        (endpoint.clone(), 0, args.files, 1),
        (endpoint.clone(), 0, args.files, 32),
        (format!("http://127.0.0.1:{slow}"), 20, args.files / 5, 1),
        (format!("http://127.0.0.1:{slow}"), 20, args.files / 5, 32),
    ];
    for (endpoint, latency, files, concurrency) in runs {
        let out = Command::new(std::env::current_exe().unwrap_or_else(|e| die(&e.to_string())))
            .arg("--publish-child")
            .arg(&endpoint)
            .arg(files.to_string())
            .arg(concurrency.to_string())
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| die(&e.to_string()));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if !out.status.success() {
            let _ = moto.kill();
            die(&format!("the publish child failed ({})", out.status));
        }
        println!(
            "{:>8} {:>12} {:>12} {:>16.1} {:>14.1}",
            files,
            latency,
            concurrency,
            json["first"].as_f64().unwrap_or(f64::NAN),
            json["rerun"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let _ = moto.kill();
    let _ = moto.wait();
}

/// `--modes lookup`: `weir lookup --export` on the merge benchmark's
/// export (written once), five times per id; the median.
pub(crate) fn lookup_bench(args: &Args, weir: &Path) {
    use weir_benches::merge::{EXPORT_DATE, first_export_id};
    println!(
        "{:>12} {:>9} {:>10} {:>10} {:>12} {:>14} {:>8}",
        "export rows", "id", "rows found", "process ms", "lookup ms", "bytes read", "% read"
    );
    for scale in &args.scales {
        let export_rows = args.export_rows * scale;
        let (dest, _) = super::export_written(&args.work, export_rows);
        let present = first_export_id(0x7a);
        // Same id_part, inside the stripe's range (an id one character
        // after the present one's is absent), and past every id.
        let mut inside = present.clone();
        inside.push('0');
        let outside = format!("7a{}", "~".repeat(8));
        for (label, id) in [
            ("present", &present),
            ("absent", &inside),
            ("past end", &outside),
        ] {
            let mut runs = Vec::new();
            for _ in 0..5 {
                let started = Instant::now();
                let out = Command::new(weir)
                    .args([
                        "lookup",
                        "--collection",
                        "calculator:calculationParts",
                        "--date",
                        EXPORT_DATE,
                        "--export",
                    ])
                    .arg("--dest")
                    .arg(&dest)
                    .arg(id)
                    .output()
                    .unwrap_or_else(|e| die(&e.to_string()));
                let process_ms = started.elapsed().as_secs_f64() * 1000.0;
                let found = out
                    .stdout
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                let summary = stderr
                    .lines()
                    .find(|l| l.starts_with("weir lookup:"))
                    .unwrap_or_else(|| die(&format!("weir lookup failed: {stderr}")))
                    .to_owned();
                runs.push((process_ms, found, summary));
            }
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (process_ms, found, summary) = &runs[runs.len() / 2];
            let number_after = |word: &str| -> f64 {
                summary
                    .split(word)
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|n| n.trim_start_matches('(').parse().ok())
                    .unwrap_or(f64::NAN)
            };
            let read = number_after("; read ");
            // `… read X of Y bytes …`
            let total = summary
                .split(" bytes")
                .next()
                .and_then(|head| head.rsplit(' ').next())
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(f64::NAN);
            let lookup_ms = number_after(" in ");
            println!(
                "{:>12} {:>9} {:>10} {:>10.1} {:>12.1} {:>14.0} {:>8.4}",
                export_rows,
                label,
                found,
                process_ms,
                lookup_ms,
                read,
                100.0 * read / total
            );
        }
    }
}
