//! Hardening (issue 12): inputs that used to block a day or lose data.

use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use weir_engine::output::OutputFormat;
use weir_testkit::dks::{ServeConfig, server};
use weir_tests::LineBuilder;

use crate::run::{context, date, day_dir, run};

const CALC: &str = "calculator:calculationParts";

/// The first characters of the ids `gen_corporate.py --odd-id-rate` writes:
/// non-ASCII, and characters Hive escapes in directory names or object
/// stores percent-encode.
const ODD_STARTS: [&str; 16] = [
    "é1", "%2", "=3", "{4", "ß5", "日6", ":7", "#8", "?9", " a", "~b", "/c", "\\d", "..", "%%",
    "ab",
];

/// Writes one landing file of calculationParts lines with those ids, and a
/// keys file the local key service serves for them.
fn odd_id_source(root: &Path) -> Vec<String> {
    let builder = LineBuilder::new("calculator", "calculationParts");
    let mut ids = Vec::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (n, start) in ODD_STARTS.iter().enumerate() {
        for k in 0..3 {
            let id = format!("{start}{n:02}-{k}");
            let id_json = serde_json::json!({ "id": id }).to_string();
            let doc = format!(
                r#"{{"_id": {id_json}, "amount": {k}, "_lastModifiedDateTime": {{"$date": "2023-06-01T10:00:00.000Z"}}}}"#
            );
            let mut b = builder.clone();
            b.id_json = id_json;
            gz.write_all(&b.line(doc.as_bytes())).unwrap();
            gz.write_all(b"\n").unwrap();
            ids.push(id);
        }
    }
    let dir = root.join("corporate_storage/ucfs_main/2023/06/01/calculator/calculationParts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("calculator.calculationParts_0_0.jsonl.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    let keys = serde_json::json!({ "keys": { builder.wrapped_key.clone(): {
        "keyEncryptionKeyId": "cloudhsm:1,2",
        "plaintextDataKey": weir_engine::record::base64::encode(&builder.key),
    }}});
    std::fs::write(root.join("keys.json"), keys.to_string()).unwrap();
    ids
}

/// The local key service, in this process, for `odd_id_source`'s keys.
async fn keys_service_in_process(dir: &Path, source: &Path) -> weir_testkit::dks::RunningDks {
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("m.key"));
    config.keys_file = Some(source.join("keys.json"));
    server::start(config).await.unwrap()
}

/// `weir run` (the command) of calculationParts' 2023-06-02 from `source`
/// as JSON lines into `dest`, tolerating the planted corrupt records.
fn weir_run_jsonl(source: &Path, dest: &Path, dks_url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(weir_tests::weir_bin());
    cmd.args(["run", "--collection", CALC, "--date", "2023-06-02"])
        .args(["--format", "jsonl", "--max-corrupt-ratio", "0.5"])
        .args(["--dks-url", dks_url])
        .arg("--source")
        .arg(source)
        .arg("--dest")
        .arg(dest);
    cmd
}

/// `weir dks serve` (the command) for `odd_id_source`'s keys; its URL.
fn keys_service(dir: &Path, source: &Path) -> (weir_tests::Process, String) {
    weir_tests::spawn_dks(&dir.join("m.key"), Some(&source.join("keys.json")), &[])
}

/// pyarrow's view of a day: (id, id_part) per row.
fn hive_ids(day: &Path, format: &str) -> Vec<(String, String)> {
    let out = weir_tests::py_reader("read_hive_ids.py", &[day.as_os_str(), format.as_ref()]);
    serde_json::from_slice(&out).unwrap()
}

/// Regression: the staged path of an `id_part=%238` file was percent-encoded
/// again at publish (`%25238`), so the day failed on every rerun. Such ids
/// now publish in Hive's escaping, and pyarrow reads back each row's
/// `id_part` as the id's first two characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_beginning_with_path_special_characters_publish_with_the_right_id_part() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let ids = odd_id_source(&source);
    let dks = keys_service_in_process(dir.path(), &source).await;
    for format in [OutputFormat::Parquet, OutputFormat::Orc] {
        let dest = dir.path().join(format.as_str());
        let mut ctx = context(&source, &dest, &dks.url());
        ctx.format = Some(format);
        for attempt in 0..2 {
            let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
            assert!(
                report.succeeded(),
                "{format:?} run {attempt}: {:#?}",
                report.days
            );
            assert_eq!(report.days[0].records_out, ids.len() as u64);
            let day = day_dir(&dest, &report, CALC, "2023-06-02", format.as_str());
            assert!(
                day.join("id_part=%238").is_dir() && day.join("id_part=é1").is_dir(),
                "Hive-escaped directories: {:?}",
                crate::run::tree(&day)
            );
            let mut got = hive_ids(&day, format.as_str());
            got.sort();
            // The row id is the old job's: the `_id` object as compact JSON.
            let mut want: Vec<(String, String)> = ids
                .iter()
                .map(|id| {
                    let row_id = serde_json::json!({ "id": id }).to_string();
                    (row_id, id.chars().take(2).collect())
                })
                .collect();
            want.sort();
            assert_eq!(got, want, "{format:?} run {attempt}");
        }
    }
    dks.stop().await;
}

/// The landing directory of `odd_id_source`.
fn landing(root: &Path) -> std::path::PathBuf {
    root.join("corporate_storage/ucfs_main/2023/06/01/calculator/calculationParts")
}

/// Regression: gzip files that are valid but hold no lines published an
/// empty day over a good one. Now the day fails naming the files, the good
/// day stays; `--allow-empty` publishes the empty day on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn input_with_no_lines_fails_the_day_unless_allowed_and_keeps_the_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let ids = odd_id_source(&source);
    let dks = keys_service_in_process(dir.path(), &source).await;
    let dest = dir.path().join("out");
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.format = Some(OutputFormat::Jsonl);
    let good = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(good.succeeded(), "{:#?}", good.days);
    let day = day_dir(&dest, &good, CALC, "2023-06-02", "jsonl");
    let before = crate::run::published_rows(&day, OutputFormat::Jsonl);
    assert_eq!(before.len(), ids.len());

    // The export comes again with two files of no lines.
    std::fs::remove_dir_all(landing(&source)).unwrap();
    std::fs::create_dir_all(landing(&source)).unwrap();
    for name in ["a_0_0.jsonl.gz", "b_0_0.jsonl.gz"] {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::fs::write(landing(&source).join(name), gz.finish().unwrap()).unwrap();
    }
    let empty = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(!empty.succeeded());
    let error = empty.days[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("hold no lines")
            && error.contains("a_0_0.jsonl.gz")
            && error.contains("b_0_0.jsonl.gz")
            && error.contains("--allow-empty"),
        "{error}"
    );
    assert_eq!(
        crate::run::published_rows(&day, OutputFormat::Jsonl),
        before
    );

    ctx.allow_empty = true;
    let allowed = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(allowed.succeeded(), "{:#?}", allowed.days);
    assert_eq!(allowed.days[0].records_in, 0);
    assert!(crate::run::published_rows(&day, OutputFormat::Jsonl).is_empty());
    dks.stop().await;
}

/// Regression: a zero-byte `.gz` failed with a retried I/O error that did
/// not say why; it now fails the day at once, naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_zero_byte_gzip_file_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    odd_id_source(&source);
    std::fs::write(landing(&source).join("zero_0_0.jsonl.gz"), b"").unwrap();
    let dks = keys_service_in_process(dir.path(), &source).await;
    let ctx = context(&source, &dir.path().join("out"), &dks.url());
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(!report.succeeded());
    let error = report.days[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("zero_0_0.jsonl.gz") && error.contains("empty (0 bytes)"),
        "{error}"
    );
    assert!(!dir.path().join("out/corporate_data_ingestion").exists());
    dks.stop().await;
}

/// Peak resident memory of a running process so far (Linux `VmHWM`), MiB.
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Waits for `child` (at most 5 minutes), sampling its peak resident memory.
fn wait_measuring_peak(child: &mut std::process::Child) -> (std::process::ExitStatus, u64) {
    let pid = child.id();
    let mut peak = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        if let Some(rss) = peak_rss_mib(pid) {
            peak = peak.max(rss);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "weir run took over 5 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Regression: a 1 GiB line without a newline (1 MB of gzip) beside good
/// records took 3.2 GiB of memory and was copied whole into the quarantine.
/// Now it is quarantined as `line_too_long` with its length, SHA-256 and
/// first 4 KiB, the good records publish, and memory stays bounded.
#[test]
fn a_gzip_bomb_line_is_quarantined_in_bounded_memory() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let ids = odd_id_source(&source);
    let bomb = landing(&source).join("bomb_0_0.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(b"{\"traceId\": \"").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&chunk).unwrap();
    }
    gz.finish().unwrap();
    let (_dks, url) = keys_service(dir.path(), &source);
    let dest = dir.path().join("out");
    let report = dir.path().join("report.json");
    let mut child = weir_run_jsonl(&source, &dest, &url)
        .args(["--partitions", "2", "--report"])
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (status, peak) = wait_measuring_peak(&mut child);
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&report).unwrap_or_default()
    );
    eprintln!("peak RSS of weir run with a 1 GiB line: {peak} MiB");
    assert!(peak < 600, "peak RSS {peak} MiB for a 1 GiB line");
    let report: weir_engine::report::RunReport =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let day = &report.days[0];
    assert_eq!(day.records_out, ids.len() as u64);
    assert_eq!(
        day.corrupt_by_reason
            .get(&weir_engine::record::CorruptReason::LineTooLong),
        Some(&1)
    );
    let quarantine = day_dir(&dest, &report, CALC, "2023-06-02", "quarantine");
    let records: Vec<serde_json::Value> = weir_tests::walk_gz(&quarantine)
        .iter()
        .flat_map(|f| weir_tests::gz_lines(f))
        .map(|l| serde_json::from_slice(&l).unwrap())
        .collect();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["reason"], "line_too_long");
    assert_eq!(r["line"], 1);
    assert!(
        r["original"].as_str().unwrap().len() <= 4096,
        "a bounded prefix"
    );
    let detail = r["detail"].as_str().unwrap();
    assert!(
        detail.contains("1073741837 bytes") && detail.contains("sha256"),
        "{detail}"
    );
}

/// Regression: files under a day's prefix that are not `*.jsonl.gz` or
/// `*.json.gz` were passed over without a word. They are listed in the
/// report (and the log), and named when they are all there is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn files_skipped_for_their_extension_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let ids = odd_id_source(&source);
    std::fs::write(landing(&source).join("notes.txt"), b"not a dump").unwrap();
    std::fs::write(landing(&source).join("plain.jsonl"), b"{}\n").unwrap();
    let dks = keys_service_in_process(dir.path(), &source).await;
    let mut ctx = context(&source, &dir.path().join("out"), &dks.url());
    ctx.format = Some(OutputFormat::Jsonl);
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(report.succeeded(), "{:#?}", report.days);
    let day = &report.days[0];
    assert_eq!(day.records_out, ids.len() as u64);
    assert_eq!(day.skipped_files.len(), 2, "{:?}", day.skipped_files);
    assert!(
        day.skipped_files[0].ends_with("notes.txt")
            && day.skipped_files[1].ends_with("plain.jsonl")
    );
    // Only those: the day fails naming them.
    std::fs::remove_file(landing(&source).join("calculator.calculationParts_0_0.jsonl.gz"))
        .unwrap();
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    let error = report.days[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("2 other files") && error.contains("notes.txt"),
        "{error}"
    );
    dks.stop().await;
}

/// Every file under `dir` with its bytes (not the run status and leases
/// under `_weir/`, which every run writes).
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    weir_tests::walk_files(dir)
        .into_iter()
        .filter(|p| !p.strip_prefix(dir).unwrap().starts_with("_weir"))
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// Regression: the quarantine and the data were two commits, and a failed
/// swap lost the previous directory at clean-up. Now a fault at any step of
/// the commit (injected with `WEIR_FAULT_AT`, as a full disk would) leaves
/// both directories byte for byte as they were, and no staging behind.
#[test]
fn a_commit_that_fails_at_any_step_changes_no_output() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    odd_id_source(&source);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"not a record\n").unwrap();
    std::fs::write(
        landing(&source).join("bad_0_0.jsonl.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    let (_dks, url) = keys_service(dir.path(), &source);
    let dest = dir.path().join("out");
    let weir_run = |fault: Option<&str>| {
        let mut cmd = weir_run_jsonl(&source, &dest, &url);
        if let Some(fault) = fault {
            cmd.env("WEIR_FAULT_AT", fault);
        }
        cmd.output().unwrap()
    };
    assert!(weir_run(None).status.success());
    let root = dest.join("corporate_data_ingestion");
    let before = snapshot(&root);
    assert!(
        before.keys().any(|k| k.starts_with("_corrupt/")),
        "{:?}",
        before.keys()
    );
    assert!(
        before.keys().any(|k| k.starts_with("json")),
        "{:?}",
        before.keys()
    );
    // The quarantine is swapped first: failing the data's swap must put it
    // back; failing a preparation must touch nothing.
    for fault in [
        "swap:json",
        "swap:_corrupt",
        "prepare:json",
        "prepare:_corrupt",
    ] {
        let out = weir_run(Some(fault));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{fault}: {stdout}");
        assert!(stdout.contains("injected fault"), "{fault}: {stdout}");
        assert_eq!(snapshot(&root), before, "{fault}: outputs changed");
        assert!(
            !dest.join("_weir_staging").exists(),
            "{fault}: staging left"
        );
    }
    // And without a fault the rerun publishes.
    assert!(weir_run(None).status.success());
    assert_ne!(snapshot(&root), before);
}

/// Regression: nothing checked that files were read as they were listed: a
/// file that grew or shrank in between was published as read. The scans now
/// count the bytes they read (the day fails when they differ from the
/// listing: `run::tests::counts_must_agree_with_what_the_scans_read`); here
/// a file grows by a gzip member between the listing and the read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scans_count_what_they_read_not_what_was_listed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let ids = odd_id_source(&source);
    let dks = keys_service_in_process(dir.path(), &source).await;
    let ctx = context(&source, &dir.path().join("out"), &dks.url());
    let collection = weir_engine::record::CollectionName::parse(CALC).unwrap();
    let job = weir_ingesters::Registry::with_builtins()
        .ingester(&collection)
        .day_job(&ctx, date("2023-06-02"));
    let (_, files, _) = job.list_input().await.unwrap();
    let listed: u64 = files.iter().map(|f| f.size).sum();
    let mut late = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    late.write_all(b"a late line\n").unwrap();
    let late = late.finish().unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(landing(&source).join("calculator.calculationParts_0_0.jsonl.gz"))
        .unwrap()
        .write_all(&late)
        .unwrap();
    let batches = ctx.runner.collect(job.plan(files).unwrap()).await.unwrap();
    let summaries: Vec<weir_engine::output::TaskSummary> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column(0).as_string::<i32>().clone();
            (0..column.len())
                .map(move |i| serde_json::from_str(column.value(i)).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let scanned: u64 = summaries.iter().map(|s| s.bytes_scanned).sum();
    let lines: u64 = summaries.iter().map(|s| s.lines_scanned).sum();
    let records: u64 = summaries.iter().map(|s| s.records).sum();
    assert_eq!(
        scanned,
        listed + late.len() as u64,
        "bytes read, not bytes listed"
    );
    assert_eq!(lines, ids.len() as u64 + 1);
    assert_eq!(records, lines, "every line read reached a writer");
    dks.stop().await;
}

/// serde_json's messages quote what they could not take ("invalid type:
/// string \"…\""): from a keys file or a key-service body that is a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_key_files_and_service_bodies_never_quote_a_key() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use weir_engine::keys::{CacheConfig, DksClient, DksConfig, KeyCache};

    const SECRET: &str = "c2VjcmV0LWRhdGEta2V5LWJ5dGVzLTAxMjM0NTY3";
    let dir = tempfile::tempdir().unwrap();
    // A keys file whose entry has the wrong shape, holding a key.
    let file = dir.path().join("keys.json");
    std::fs::write(
        &file,
        format!(r#"{{"keys": {{"d3JhcHBlZA==": {{"keyEncryptionKeyId": ["{SECRET}"], "plaintextDataKey": "{SECRET}"}}}}}}"#),
    )
    .unwrap();
    let err = server::read_keys_file(&file).expect_err("wrong shape");
    let text = err.to_string();
    assert!(
        text.contains("keys.json") && text.contains("line 1"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");

    // A key service answering 200 with a key where a string list belongs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 8192];
            let _ = socket.read(&mut request).await;
            let body = format!(
                r#"{{"dataKeyEncryptionKeyId": 7, "plaintextDataKey": {{"k": "{SECRET}"}}}}"#
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    let config = DksConfig::new(format!("http://127.0.0.1:{port}"));
    let cache = KeyCache::new(
        DksClient::new(&config, "corr").unwrap(),
        CacheConfig::default(),
    );
    let err = cache
        .get("cloudhsm:1,2", "d3JhcHBlZA==")
        .await
        .expect_err("not the DKS shape");
    let text = err.to_string();
    assert!(text.contains("not the DKS JSON shape"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

/// Writes `n` lines of incompressible garbage (each a corrupt record) into
/// one landing file beside `odd_id_source`'s good ones.
fn garbage_file(source: &Path, n: usize) {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let path = landing(source).join("garbage_0_0.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    for _ in 0..n {
        // xorshift: incompressible enough that 30,000 lines pass 8 MiB of gzip.
        let line: String = (0..600)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'A' + (state % 26) as u8)
            })
            .collect();
        gz.write_all(line.as_bytes()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap();
}

/// Regression: each task held its whole quarantine in memory until it ended.
/// Now a task stages it in parts of about 8 MiB of gzip as it goes (every
/// record once, in one of the parts), and a day certain to fail its corrupt
/// limit is stopped by the first task that proves it, publishing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_quarantine_streams_in_parts_and_a_hopeless_day_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let ids = odd_id_source(&source);
    const GARBAGE: usize = 30_000;
    garbage_file(&source, GARBAGE);
    let dks = keys_service_in_process(dir.path(), &source).await;

    let dest = dir.path().join("out");
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.format = Some(OutputFormat::Jsonl);
    ctx.max_corrupt_ratio = 1.0;
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(report.succeeded(), "{:#?}", report.days);
    let day = &report.days[0];
    assert_eq!(day.records_out, ids.len() as u64);
    assert_eq!(day.corrupt, GARBAGE as u64);
    let quarantine = day_dir(&dest, &report, CALC, "2023-06-02", "quarantine");
    let parts = weir_tests::walk_gz(&quarantine);
    assert!(parts.len() >= 2, "{parts:?}");
    let mut lines: Vec<u64> = parts
        .iter()
        .flat_map(|f| weir_tests::gz_lines(f))
        .map(|l| {
            serde_json::from_slice::<serde_json::Value>(&l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        (1..=GARBAGE as u64).collect::<Vec<_>>(),
        "every corrupt line once"
    );

    // A count limit: the task that passes it stops the day at once.
    let before = snapshot(&dest);
    ctx.max_corrupt = Some(10);
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(!report.succeeded());
    let error = report.days[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("stopped the day early") && error.contains("allowed count 10"),
        "{error}"
    );
    assert_eq!(report.days[0].fault, Some(weir_engine::Fault::Input));
    assert_eq!(snapshot(&dest), before, "nothing published");

    // A share of 0: the first corrupt record is enough.
    ctx.max_corrupt = None;
    ctx.max_corrupt_ratio = 0.0;
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    let error = report.days[0].error.clone().unwrap_or_default();
    assert!(error.contains("allowed count 0"), "{error}");
    assert_eq!(snapshot(&dest), before, "nothing published");
}

/// `--memory-limit` bounds the process: write buffers come from a pool of
/// 60% of it and a task writes a file early when the pool is full. A run of
/// 60,000 records as ORC (compaction included) stays under 256 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_under_a_memory_limit_stays_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let master = dir.path().join("master.key");
    let config = weir_testkit::generate::GenerateConfig {
        collections: crate::run::collections(&[CALC]),
        export_dates: vec![date("2024-03-02")],
        records_per_day: 60_000,
        files_per_day: 4,
        records_per_key: 10_000,
        corrupt_rate: 0.0,
        ..Default::default()
    };
    crate::run::generate_into(&source, &master, &config).await;
    let dks = crate::run::local_dks(&master, 0).await;
    let mut peaks = Vec::new();
    for limit in [None, Some("256M")] {
        let dest = dir.path().join(format!("out-{}", limit.unwrap_or("none")));
        let report = dir.path().join("report.json");
        let mut cmd = std::process::Command::new(weir_tests::weir_bin());
        cmd.args(["run", "--collection", CALC, "--date", "2024-03-02"])
            .args([
                "--format",
                "orc",
                "--partitions",
                "4",
                "--dks-url",
                &dks.url(),
            ])
            .arg("--source")
            .arg(&source)
            .arg("--dest")
            .arg(&dest)
            .arg("--report")
            .arg(&report)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(limit) = limit {
            cmd.args(["--memory-limit", limit]);
        }
        let mut child = cmd.spawn().unwrap();
        let (status, peak) = tokio::task::block_in_place(|| wait_measuring_peak(&mut child));
        assert!(
            status.success(),
            "{}",
            std::fs::read_to_string(&report).unwrap_or_default()
        );
        let report: weir_engine::report::RunReport =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(report.days[0].records_out, 60_000);
        eprintln!("peak RSS with --memory-limit {limit:?}: {peak} MiB");
        peaks.push(peak);
    }
    assert!(
        peaks[1] < 256,
        "peak RSS {} MiB under --memory-limit 256M",
        peaks[1]
    );
    assert!(
        peaks[1] < peaks[0],
        "the limit changes something: {peaks:?}"
    );
}
