//! The DKS client, the shared key cache and the local key service, over real
//! HTTP and mutual TLS on 127.0.0.1.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_engine::Error;
use weir_engine::keys::{CacheConfig, ClientTls, DksClient, DksConfig, KeyCache, RetryPolicy};
use weir_engine::record::base64;
use weir_testkit::dks::{RunningDks, ServeConfig, ServerTls, sample_value, server};
use weir_tests::{TestPki, conformance_file};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn local_dks(dir: &Path, tweak: impl FnOnce(&mut ServeConfig)) -> RunningDks {
    let mut config = ServeConfig::new(any_port(), dir.join("master.key"));
    tweak(&mut config);
    server::start(config).await.expect("start local DKS")
}

fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        initial_backoff_ms: 10,
        max_backoff_ms: 100,
    }
}

async fn metrics_text(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issued_keys_decrypt_and_unknown_key_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dks = local_dks(dir.path(), |_| {}).await;
    // The master secret was created owner-only.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let client = DksClient::new(&DksConfig::new(dks.url()), "test-run").unwrap();
    let issued = client.new_data_key(None).await.unwrap();
    assert_eq!(issued.key_encryption_key_id, "cloudhsm:1,2");
    assert_eq!(issued.plaintext.bytes().len(), 16);
    let answer = client
        .decrypt("cloudhsm:1,2", &issued.ciphertext)
        .await
        .unwrap()
        .expect("the service unwraps its own key");
    assert_eq!(answer, issued.plaintext);
    // Debug never shows key bytes.
    assert_eq!(format!("{answer:?}"), "DataKey(<16 bytes>)");

    // An unknown key id and a damaged wrapped key are per-key refusals (400).
    let refused = client
        .decrypt("cloudhsm:99,99", &issued.ciphertext)
        .await
        .unwrap()
        .expect_err("unknown key id");
    assert_eq!(refused.key_encryption_key_id, "cloudhsm:99,99");
    assert!(refused.detail.contains("400"), "{}", refused.detail);
    let mut damaged = base64::decode(&issued.ciphertext).unwrap();
    damaged[20] ^= 1;
    assert!(
        client
            .decrypt("cloudhsm:1,2", &base64::encode(&damaged))
            .await
            .unwrap()
            .is_err()
    );

    let metrics = metrics_text(&dks.url()).await;
    assert_eq!(sample_value(&metrics, "weir_dks_decrypts_total"), Some(1.0));
    assert_eq!(sample_value(&metrics, "weir_dks_rejected_total"), Some(2.0));
    assert_eq!(sample_value(&metrics, "weir_dks_datakeys_total"), Some(1.0));
    assert_eq!(
        sample_value(
            &metrics,
            "weir_dks_requests_total{endpoint=\"decrypt\",status=\"400\"}"
        ),
        Some(2.0)
    );
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn master_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let err = server::start(ServeConfig::new(any_port(), &path))
        .await
        .expect_err("a world-readable master key");
    let text = err.to_string();
    assert!(text.contains("chmod 600"), "{text}");
    assert!(!text.contains("abab"), "the secret must not appear: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutual_tls_serves_clients_with_certificates_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path());
    let dks = local_dks(dir.path(), |c| {
        c.tls = Some(ServerTls {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
        });
    })
    .await;
    assert!(dks.url().starts_with("https://"));

    let mut config = DksConfig::new(dks.url());
    config.tls = Some(ClientTls {
        cert: pki.client_cert.clone(),
        key: pki.client_key.clone(),
        ca: pki.ca.clone(),
    });
    let client = DksClient::new(&config, "mtls").unwrap();
    let issued = client.new_data_key(None).await.unwrap();
    let key = client
        .decrypt(&issued.key_encryption_key_id, &issued.ciphertext)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key, issued.plaintext);

    // A client that trusts the CA but shows no certificate is refused.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap();
    let anonymous = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let refused = anonymous.get(format!("{}/datakey", dks.url())).send().await;
    assert!(
        refused.is_err(),
        "no client certificate must fail: {refused:?}"
    );
    // The server counts the refusal when its side of the handshake ends,
    // which can be just after the client has given up.
    weir_tests::wait_for(
        "the refused handshake to be counted",
        Duration::from_secs(10),
        || sample_value(&dks.metrics().render(), "weir_dks_tls_refused_total") == Some(1.0),
    )
    .await;

    // Our client without TLS files cannot talk to it either: clear error, bounded.
    let mut plain = DksConfig::new(dks.url());
    plain.retry = quick_retries(2);
    let err = DksClient::new(&plain, "no-tls")
        .unwrap()
        .new_data_key(None)
        .await
        .expect_err("no client certificate");
    assert!(
        matches!(err, Error::DksUnavailable { attempts: 2, .. }),
        "{err}"
    );
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lookups_make_one_call_per_distinct_key() {
    let dir = tempfile::tempdir().unwrap();
    let dks = local_dks(dir.path(), |c| c.latency_ms = 50).await;
    let client = DksClient::new(&DksConfig::new(dks.url()), "single-flight").unwrap();
    let mut issued = Vec::new();
    for _ in 0..4 {
        issued.push(client.new_data_key(None).await.unwrap());
    }
    let cache = Arc::new(KeyCache::new(client, CacheConfig::default()));
    let lookups: Vec<_> = (0..64)
        .map(|i| {
            let cache = Arc::clone(&cache);
            let key = issued[i % 4].clone();
            tokio::spawn(async move {
                let answer = cache
                    .get(&key.key_encryption_key_id, &key.ciphertext)
                    .await
                    .unwrap();
                assert_eq!(answer.as_ref().as_ref().unwrap(), &key.plaintext);
            })
        })
        .collect();
    for lookup in lookups {
        lookup.await.unwrap();
    }
    let metrics = metrics_text(&dks.url()).await;
    assert_eq!(sample_value(&metrics, "weir_dks_decrypts_total"), Some(4.0));
    let stats = cache.stats();
    assert_eq!(stats.calls, 4);
    assert_eq!(stats.hits + stats.misses, 64);
    assert_eq!(stats.errors, 0);
    dks.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flaky_service_still_resolves_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let steady = local_dks(dir.path(), |_| {}).await;
    let issuer = DksClient::new(&DksConfig::new(steady.url()), "issue").unwrap();
    let mut issued = Vec::new();
    for _ in 0..20 {
        issued.push(issuer.new_data_key(None).await.unwrap());
    }
    steady.stop().await;

    // The same master secret, now failing 30 % of requests.
    let flaky = local_dks(dir.path(), |c| c.fail_rate = 0.3).await;
    let mut config = DksConfig::new(flaky.url());
    // 0.3^12: a key fails all attempts about once in two million.
    config.retry = quick_retries(12);
    let cache = KeyCache::new(
        DksClient::new(&config, "flaky").unwrap(),
        CacheConfig::default(),
    );
    let keys = cache
        .resolve(
            issued
                .iter()
                .map(|k| (k.key_encryption_key_id.as_str(), k.ciphertext.as_str())),
        )
        .await
        .expect("every key resolves despite failures");
    for k in &issued {
        use weir_engine::record::DataKeys;
        assert_eq!(
            keys.data_key(&k.key_encryption_key_id, &k.ciphertext)
                .unwrap(),
            k.plaintext.bytes()
        );
    }
    let metrics = metrics_text(&flaky.url()).await;
    assert_eq!(
        sample_value(&metrics, "weir_dks_decrypts_total"),
        Some(20.0)
    );
    assert!(
        sample_value(&metrics, "weir_dks_injected_failures_total").unwrap() > 0.0,
        "with 30 % failures over 20+ requests some must have been injected"
    );
    assert_eq!(cache.stats().calls, 20);
    flaky.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_service_fails_clearly_in_bounded_time() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = DksConfig::new(format!("http://127.0.0.1:{port}"));
    config.retry = RetryPolicy {
        attempts: 4,
        initial_backoff_ms: 50,
        max_backoff_ms: 200,
    };
    let cache = KeyCache::new(
        DksClient::new(&config, "gone").unwrap(),
        CacheConfig::default(),
    );
    let started = Instant::now();
    let err = cache
        .get("cloudhsm:1,2", "d3JhcHBlZA==")
        .await
        .expect_err("nobody listens");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("after 4 attempts"),
        "{text}"
    );
    assert!(
        !text.contains("d3JhcHBlZA"),
        "no key material in errors: {text}"
    );
    assert_eq!(cache.stats().errors, 1);
    // Failures are not cached: the next lookup tries again.
    assert!(cache.get("cloudhsm:1,2", "d3JhcHBlZA==").await.is_err());
    assert_eq!(cache.stats().calls, 2);
}

/// `weir dks serve --keys-file` (the real command) answers for the sample's
/// captured keys; decrypting the sample with them gives `expected/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_command_serves_the_sample_keys_file() {
    let dir = tempfile::tempdir().unwrap();
    // The key ids are given too: captured keys' ids are held either way.
    let (process, url) = weir_tests::spawn_sample_dks(
        dir.path(),
        &["--key-id", "cloudhsm:1,2", "--key-id", "cloudhsm:7,8"],
    );
    let cache = KeyCache::new(
        DksClient::new(&DksConfig::new(&url), "interop").unwrap(),
        CacheConfig::default(),
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(conformance_file("sample/keys.json")).unwrap(),
    )
    .unwrap();
    let captured = json["keys"].as_object().unwrap();
    let wanted = weir_tests::sample_key_pairs();
    assert!(wanted.iter().any(|(k, _)| k == "cloudhsm:99,99"));
    for (kek, wrapped) in &wanted {
        let answer = cache.get(kek, wrapped).await.unwrap();
        if kek == "cloudhsm:99,99" {
            assert!(answer.is_err(), "{kek} must be refused");
        } else {
            let entry = &captured[wrapped.as_str()];
            let plain = base64::decode(entry["plaintextDataKey"].as_str().unwrap()).unwrap();
            assert_eq!(answer.as_ref().as_ref().unwrap().bytes(), plain.as_slice());
        }
    }
    let keys = cache
        .resolve(wanted.iter().map(|(k, w)| (k.as_str(), w.as_str())))
        .await
        .unwrap();
    assert_eq!(cache.stats().calls, wanted.len() as u64, "one call per key");
    // The whole sample, with keys as the service gave them.
    tokio::task::spawn_blocking(move || crate::sample::check_sample(&keys))
        .await
        .unwrap();
    drop(process);
}

/// Hardening: plain HTTP beyond loopback is refused unless asked for, and
/// certificates given with an `http://` URL are refused instead of ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_http_beyond_loopback_and_certificates_over_http_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new("0.0.0.0:0".parse().unwrap(), dir.path().join("m.key"));
    let err = server::start(config.clone()).await.expect_err("refused");
    assert!(err.to_string().contains("--insecure-http"), "{err}");
    config.insecure_http = true;
    let running = server::start(config).await.expect("allowed when asked");
    running.stop().await;

    let pki = TestPki::create(dir.path());
    let mut client = DksConfig::new("http://127.0.0.1:1");
    client.tls = Some(ClientTls {
        cert: pki.client_cert.clone(),
        key: pki.client_key.clone(),
        ca: pki.ca.clone(),
    });
    let err = DksClient::new(&client, "test").expect_err("refused");
    assert!(err.to_string().contains("https://"), "{err}");
}

/// Hardening: a connection that sends no request is closed after the header
/// timeout instead of holding the service's connection slot for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let dks = local_dks(dir.path(), |c| c.header_timeout_ms = 200).await;
    let addr = dks.url().trim_start_matches("http://").to_owned();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("closed before the deadline");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The service still answers others.
    let health = reqwest::get(format!("{}/healthcheck", dks.url()))
        .await
        .unwrap();
    assert!(health.status().is_success());
    dks.stop().await;
}
