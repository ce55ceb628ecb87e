//! S3 for real, against moto on loopback: the sample from a corporate bucket
//! to a published bucket, multipart objects, reruns without stale objects, an
//! input deleted under the run, and credentials that never show.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use weir_engine::output::OutputFormat;
use weir_testkit::dks::{ServeConfig, server};
use weir_tests::{Moto, TestCluster, conformance_file, walk_gz, weir_bin};

use crate::run::{expected_rows, manifest_corrupt, published_rows, quarantined};

pub(crate) const KEY_ID: &str = "AKIAWEIRTESTKEYID0001";
pub(crate) const SECRET: &str = "weir-test-secret-Zq8v3LmN0pR7sT2u";

pub(crate) fn client(moto: &Moto, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&moto.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .build()
            .unwrap(),
    )
}

pub(crate) fn config_file(dir: &Path, moto: &Moto, extra: &str) -> std::path::PathBuf {
    let path = dir.join("weir.toml");
    std::fs::write(
        &path,
        format!(
            "max_corrupt_ratio = 0.1\npartitions = 2\n{extra}\n[s3]\nendpoint = {:?}\nallow_http = true\npath_style = true\nregion = \"us-east-1\"\nsse = \"s3\"\n",
            moto.endpoint
        ),
    )
    .unwrap();
    path
}

fn weir(args: &[&str]) -> Output {
    weir_at(None, args)
}

/// `weir` with credentials in its environment, and with the endpoint there
/// too when given (the AWS variables, as `weir generate` reads them).
pub(crate) fn weir_at(endpoint: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(weir_bin());
    if let Some(endpoint) = endpoint {
        cmd.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ALLOW_HTTP", "true");
    }
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap()
}

fn assert_no_credentials(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "{what} shows the secret key:\n{text}"
    );
    assert!(
        !text.contains(KEY_ID),
        "{what} shows the access key id:\n{text}"
    );
}

pub(crate) async fn upload_tree(store: &Arc<dyn ObjectStore>, root: &Path) {
    for file in walk_gz(root) {
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        store
            .put(
                &ObjectPath::from(rel.as_str()),
                std::fs::read(&file).unwrap().into(),
            )
            .await
            .unwrap();
    }
}

/// Downloads everything under `prefix` into `dir`; returns the object keys.
pub(crate) async fn download(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    dir: &Path,
) -> Vec<String> {
    let objects: Vec<_> = store
        .list(Some(&ObjectPath::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    let mut keys = Vec::new();
    for meta in objects {
        let key = meta.location.to_string();
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let local = dir.join(&key);
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(local, bytes).unwrap();
        keys.push(key);
    }
    keys.sort();
    keys
}

async fn sample_dks(dir: &Path) -> weir_testkit::dks::RunningDks {
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("master.key"));
    config.keys_file = Some(conformance_file("sample/keys.json"));
    server::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_goes_from_a_corporate_bucket_to_a_published_bucket() {
    sample_between_buckets(false).await;
}

/// The same on a cluster: executors read and write the buckets themselves,
/// with credentials from their own environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_the_executors_read_and_write_the_buckets() {
    sample_between_buckets(true).await;
}

/// moto with the sample in `corporate` and an empty `published`, the
/// sample's key service and a config file reaching them.
struct SampleBuckets {
    moto: Moto,
    published: Arc<dyn ObjectStore>,
    dks: weir_testkit::dks::RunningDks,
    config: std::path::PathBuf,
}

async fn sample_buckets(dir: &Path) -> SampleBuckets {
    let moto = Moto::start();
    moto.create_bucket("corporate");
    moto.create_bucket("published");
    let corporate = client(&moto, "corporate");
    let published = client(&moto, "published");
    upload_tree(&corporate, &conformance_file("sample")).await;
    let dks = sample_dks(dir).await;
    let config = config_file(dir, &moto, "");
    SampleBuckets {
        moto,
        published,
        dks,
        config,
    }
}

async fn sample_between_buckets(on_cluster: bool) {
    let dir = tempfile::tempdir().unwrap();
    let SampleBuckets {
        moto: _moto,
        published,
        dks,
        config,
    } = sample_buckets(dir.path()).await;
    let report = dir.path().join("report.json");
    let cluster = on_cluster.then(|| {
        TestCluster::start(
            dir.path(),
            2,
            &[
                ("AWS_ACCESS_KEY_ID", KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
                ("AWS_REGION", "us-east-1"),
            ],
        )
    });
    let url = cluster.as_ref().map(TestCluster::url);
    let dks_url = dks.url();
    let mut args = vec![
        "run",
        "--config",
        config.to_str().unwrap(),
        "--collection",
        "calculator:calculationParts,data:businessAudit,core:claimant",
        "--start-date",
        "2023-06-02",
        "--end-date",
        "2023-06-03",
        "--source",
        "s3://corporate",
        "--dest",
        "s3://published/daily",
        "--dks-url",
        &dks_url,
        "--report",
        report.to_str().unwrap(),
    ];
    if let Some(url) = &url {
        args.extend(["--cluster", url.as_str(), "--partitions", "4"]);
    }
    let out = weir(&args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let logs = cluster.as_ref().map(TestCluster::logs).unwrap_or_default();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}\n{logs}"
    );
    let report_text = std::fs::read_to_string(&report).unwrap();
    let mut outputs = vec![
        ("stdout".to_owned(), stdout.to_string()),
        ("stderr".to_owned(), stderr.to_string()),
        ("report".to_owned(), report_text.clone()),
    ];
    for e in cluster.iter().flat_map(|c| &c.executors) {
        outputs.push((e.id.clone(), std::fs::read_to_string(&e.log).unwrap()));
    }
    for (what, text) in &outputs {
        assert_no_credentials(what, text);
    }
    if on_cluster {
        let report: weir_engine::report::RunReport = serde_json::from_str(&report_text).unwrap();
        let ran_on: std::collections::BTreeSet<&str> = report
            .days
            .iter()
            .flat_map(|d| &d.tasks)
            .map(|t| t.executor.as_str())
            .collect();
        assert_eq!(ran_on, ["exec-0", "exec-1"].into(), "{logs}");
    }

    let local = dir.path().join("published");
    let keys = download(&published, "daily", &local).await;
    assert!(
        !keys.iter().any(|k| k.contains("_weir_staging")),
        "staging left: {keys:?}"
    );
    let json: serde_json::Value = serde_json::from_str(&report_text).unwrap();
    for day in json["days"].as_array().unwrap() {
        let collection = day["collection"].as_str().unwrap();
        let export = day["export_date"].as_str().unwrap();
        let landing = day["landing_date"].as_str().unwrap();
        let find = |format: &str| {
            let url = json["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| {
                    o["collection"] == collection
                        && o["export_date"] == export
                        && o["format"] == format
                })
                .unwrap()["path"]
                .as_str()
                .unwrap()
                .to_owned();
            local.join(url.strip_prefix("s3://published/").unwrap())
        };
        let format = match collection {
            "calculator:calculationParts" => OutputFormat::Orc,
            "data:businessAudit" => OutputFormat::Text,
            _ => OutputFormat::Parquet,
        };
        let data = find(format.as_str());
        assert!(data.join("_SUCCESS").is_file() && data.join("_manifest.json").is_file());
        assert_eq!(
            published_rows(&data, format),
            expected_rows(collection, export, format == OutputFormat::Text),
            "{collection} {export}"
        );
        let mut got = quarantined(&find("quarantine"), Path::new("/nonexistent"));
        for q in &mut got {
            q.0 =
                q.0.strip_prefix("s3://corporate/")
                    .unwrap_or(&q.0)
                    .to_owned();
        }
        assert_eq!(
            got,
            manifest_corrupt(collection, landing),
            "{collection} {export}: quarantine"
        );
    }
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_objects_round_trip_and_a_rerun_leaves_no_stale_objects() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    moto.create_bucket("corporate");
    moto.create_bucket("published");
    let master = dir.path().join("master.key");
    // One ~8 MB gzip input file (a multipart upload), written by `weir generate`.
    let out = weir_at(
        Some(&moto.endpoint),
        &[
            "generate",
            "--collection",
            "core:claimant",
            "--date",
            "2024-02-02",
            "--records",
            "40000",
            "--files-per-day",
            "1",
            "--dest",
            "s3://corporate/root",
            "--master-key-file",
            master.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let corporate = client(&moto, "corporate");
    let inputs: Vec<_> = corporate
        .list(Some(&ObjectPath::from("root/corporate_storage")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(inputs.len(), 1);
    assert!(
        inputs[0].size > 5 << 20,
        "input is {} bytes",
        inputs[0].size
    );

    let dks = server::start(ServeConfig::new("127.0.0.1:0".parse().unwrap(), &master))
        .await
        .unwrap();
    let config = config_file(dir.path(), &moto, "");
    let run = |tag: &str| {
        weir(&[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--collection",
            "core:claimant",
            "--date",
            "2024-02-02",
            "--source",
            "s3://corporate/root",
            "--dest",
            "s3://published",
            "--dks-url",
            &dks.url(),
            "--format",
            "jsonl",
            "--report",
            dir.path().join(format!("{tag}.json")).to_str().unwrap(),
        ])
    };
    let first = run("first");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let published = client(&moto, "published");
    let prefix = "corporate_data_ingestion/jsonl/daily/core/claimant/export_date=2024-02-02";
    let before: Vec<_> = published
        .list(Some(&ObjectPath::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    assert!(
        before.iter().any(|m| m.size > 5 << 20),
        "a multipart-sized output: {:?}",
        before.iter().map(|m| m.size).collect::<Vec<_>>()
    );
    let second = run("second");
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    let local = dir.path().join("published");
    let keys = download(&published, "", &local).await;
    assert!(
        !keys.iter().any(|k| k.contains("_weir_staging")),
        "{keys:?}"
    );
    // Exactly what the manifest lists, plus the two markers: nothing of run one.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.join(prefix).join("_manifest.json")).unwrap())
            .unwrap();
    let mut listed: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{prefix}/{}", f["path"].as_str().unwrap()))
        .collect();
    listed.extend([
        format!("{prefix}/_SUCCESS"),
        format!("{prefix}/_manifest.json"),
    ]);
    listed.sort();
    let data_keys: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with(prefix))
        .cloned()
        .collect();
    assert_eq!(data_keys, listed);
    for old in &before {
        let name = old.location.to_string();
        if name.ends_with(".jsonl.gz") {
            assert!(
                !data_keys.contains(&name),
                "{name} of the first run is still there"
            );
        }
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("second.json")).unwrap()).unwrap();
    let rows = published_rows(&local.join(prefix), OutputFormat::Jsonl).len() as u64;
    assert_eq!(rows, report["days"][0]["records_out"].as_u64().unwrap());
    assert_eq!(rows, 40_000);
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_deleted_under_the_run_fails_the_day_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    moto.create_bucket("corporate");
    moto.create_bucket("published");
    let master = dir.path().join("master.key");
    // Two files; a new data key every 100 records, so reading the first file
    // takes a while against a slow key service.
    let out = weir_at(
        Some(&moto.endpoint),
        &[
            "generate",
            "--collection",
            "core:claimant",
            "--date",
            "2024-02-02",
            "--records",
            "4000",
            "--files-per-day",
            "2",
            "--records-per-key",
            "100",
            "--dest",
            "s3://corporate/root",
            "--master-key-file",
            master.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut serve = ServeConfig::new("127.0.0.1:0".parse().unwrap(), &master);
    serve.latency_ms = 150;
    let dks = server::start(serve).await.unwrap();
    let config = config_file(dir.path(), &moto, "batch_lines = 100");
    let url = dks.url();
    let config_path = config.to_str().unwrap().to_owned();
    let child = tokio::task::spawn_blocking(move || {
        weir(&[
            "run",
            "--config",
            &config_path,
            "--collection",
            "core:claimant",
            "--date",
            "2024-02-02",
            "--source",
            "s3://corporate/root",
            "--dest",
            "s3://published",
            "--dks-url",
            &url,
            "--partitions",
            "1",
        ])
    });
    // Once the run has listed and is reading the first file, delete the second.
    weir_tests::wait_for(
        "the run to read its first file",
        std::time::Duration::from_secs(120),
        || dks.metrics().decrypts() >= 1,
    )
    .await;
    let corporate = client(&moto, "corporate");
    let mut inputs: Vec<_> = corporate
        .list(Some(&ObjectPath::from("root/corporate_storage")))
        .try_collect()
        .await
        .unwrap();
    inputs.sort_by(|a, b| a.location.cmp(&b.location));
    let gone = inputs[1].location.clone();
    corporate.delete(&gone).await.unwrap();
    let out = child.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("s3://corporate/{gone}"))
            && stdout.contains("the input changed during the run"),
        "{stdout}"
    );
    let published = client(&moto, "published");
    let left: Vec<_> = published.list(None).try_collect().await.unwrap();
    // The run's status and lease under `_weir/` are not output.
    let left: Vec<_> = left
        .into_iter()
        .filter(|m| !m.location.as_ref().starts_with("_weir/"))
        .collect();
    assert!(
        left.is_empty(),
        "nothing published, nothing staged: {:?}",
        left.iter()
            .map(|m| m.location.to_string())
            .collect::<Vec<_>>()
    );
    dks.stop().await;
}

/// A stand-in S3 on 127.0.0.1 that refuses every request as S3 refuses a
/// bad signature: a 403 whose body echoes the caller's access key id,
/// signature and security token (S3's `SignatureDoesNotMatch` does).
fn echoing_s3() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut headers = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push_str(&line);
            }
            let header = |name: &str| {
                headers
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default()
            };
            let auth = header("authorization");
            let key_id = auth
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').next())
                .unwrap_or_default()
                .to_owned();
            let signature = auth.split("Signature=").nth(1).unwrap_or_default();
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>\
                 <Message>The request signature we calculated does not match the signature you provided.</Message>\
                 <AWSAccessKeyId>{key_id}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n{auth}</StringToSign>\
                 <SignatureProvided>{signature}</SignatureProvided>\
                 <CanonicalRequest>GET\n/\nx-amz-security-token:{token}\n</CanonicalRequest></Error>",
                token = header("x-amz-security-token"),
            );
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

/// Hardening: object_store puts S3's error body into its errors, and that
/// body names the access key id and echoes the security token. Neither
/// reaches the summary, the logs or the report.
#[test]
fn credentials_from_a_failed_s3_request_appear_nowhere() {
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEWeirTestSessionToken0123456789";
    let endpoint = echoing_s3();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(weir_bin())
        .args([
            "run",
            "--collection",
            "core:claimant",
            "--date",
            "2023-06-02",
        ])
        .args([
            "--source",
            "s3://corporate/root",
            "--dks-url",
            "http://127.0.0.1:1",
        ])
        .arg("--dest")
        .arg(dir.path().join("out"))
        .arg("--report")
        .arg(&report)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", TOKEN)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = std::fs::read_to_string(&report).unwrap();
    // The failure is there and says what happened…
    assert!(report.contains("SignatureDoesNotMatch"), "{report}");
    // …without whose credentials were used.
    for (what, text) in [
        ("stdout", &*stdout),
        ("stderr", &*stderr),
        ("report", &*report),
    ] {
        assert_no_credentials(what, text);
        assert!(
            !text.contains(TOKEN),
            "{what} shows the session token:\n{text}"
        );
    }
}

/// Every object under `prefix` with its bytes.
async fn objects(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let metas: Vec<_> = store
        .list(Some(&ObjectPath::from(prefix)))
        .try_collect()
        .await
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    // The run's status and lease under `_weir/` are not output.
    for meta in metas
        .into_iter()
        .filter(|m| !m.location.as_ref().starts_with("_weir/"))
    {
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        out.insert(meta.location.to_string(), bytes.to_vec());
    }
    out
}

/// The commit on S3 fails at any step (after the data's copies, after the
/// quarantine's copies, after the first directory's markers): every object
/// of the published day, data and quarantine, is then as it was — the
/// markers already written are put back and the copies removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_s3_that_fails_at_any_step_changes_no_object() {
    let dir = tempfile::tempdir().unwrap();
    let SampleBuckets {
        moto: _moto,
        published,
        dks,
        config,
    } = sample_buckets(dir.path()).await;
    let config = config.to_str().unwrap().to_owned();
    let url = dks.url();
    let run = move |fault: Option<&'static str>| {
        let (config, url) = (config.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(weir_bin());
            if let Some(fault) = fault {
                cmd.env("WEIR_FAULT_AT", fault);
            }
            cmd.args([
                "run",
                "--config",
                &config,
                "--collection",
                "calculator:calculationParts",
                "--date",
                "2023-06-02",
                "--format",
                "jsonl",
                "--source",
                "s3://corporate",
                "--dest",
                "s3://published",
                "--dks-url",
                &url,
            ])
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
        })
    };
    let first = run(None).await.unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let before = objects(&published, "").await;
    assert!(
        before.keys().any(|k| k.contains("/_corrupt/")),
        "{:?}",
        before.keys()
    );
    assert!(
        before.keys().any(|k| k.contains("/json")),
        "{:?}",
        before.keys()
    );
    for fault in [
        "prepare:json",
        "prepare:_corrupt",
        "marker:json",
        "marker:_corrupt",
    ] {
        let out = run(Some(fault)).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{fault}: {stdout}");
        assert!(stdout.contains("injected fault"), "{fault}: {stdout}");
        let after = objects(&published, "").await;
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>(),
            "{fault}: objects listed"
        );
        assert!(after == before, "{fault}: bytes changed");
    }
    // Without a fault the rerun publishes (new attempt names).
    assert!(run(None).await.unwrap().status.success());
    assert_ne!(objects(&published, "").await, before);
}
