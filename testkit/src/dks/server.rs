//! `weir dks serve`: a DKS-compatible key service for laptops, CI, benchmarks
//! and replaying captured data. Same endpoints and JSON shapes as the real
//! service; data keys wrapped with AES-256-GCM under a per-keyId key derived
//! from a master secret (see [`MasterKey`]).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::master::MasterKey;
use super::metrics::ServiceMetrics;
use crate::{Error, Result};
use weir_engine::keys::DataKey;
use weir_engine::record::base64;

/// Server certificate and key, and the CA whose client certificates are
/// accepted. Client certificates are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTls {
    /// PEM certificate chain of the service.
    pub cert: PathBuf,
    /// PEM private key of the service.
    pub key: PathBuf,
    /// PEM CA bundle that client certificates must chain to.
    pub client_ca: PathBuf,
}

/// How to run the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free one.
    pub bind: SocketAddr,
    /// The master secret (created with mode 0600 if missing).
    pub master_key_file: PathBuf,
    /// A static map in the format of `shared/conformance/sample/keys.json`.
    pub keys_file: Option<PathBuf>,
    /// Master key ids the service holds; the first wraps new data keys.
    pub key_ids: Vec<String>,
    /// Mutual TLS; `None` serves plain HTTP.
    pub tls: Option<ServerTls>,
    /// Share of key requests answered 503 (fault injection for tests),
    /// spread evenly over the requests (with 0.3, requests 4, 7, 10, 14, …):
    /// exactly that share, whatever the luck.
    pub fail_rate: f64,
    /// Delay added to every key request (fault injection for tests).
    pub latency_ms: u64,
    /// Serve plain HTTP on an address other than loopback (data keys would
    /// cross the network in clear): refused unless set.
    #[serde(default)]
    pub insecure_http: bool,
    /// A connection that has not sent a request's headers (or finished its
    /// TLS handshake) within this is closed.
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
}

fn default_header_timeout_ms() -> u64 {
    10_000
}

/// Connections served at once; past it, accepting waits.
const MAX_CONNECTIONS: usize = 1_024;

impl ServeConfig {
    /// Plain HTTP on `bind`, default key id, no faults.
    pub fn new(bind: SocketAddr, master_key_file: impl Into<PathBuf>) -> Self {
        Self {
            bind,
            master_key_file: master_key_file.into(),
            keys_file: None,
            key_ids: vec![DEFAULT_KEY_ID.to_owned()],
            tls: None,
            fail_rate: 0.0,
            latency_ms: 0,
            insecure_http: false,
            header_timeout_ms: default_header_timeout_ms(),
        }
    }
}

/// The master key id new data keys are wrapped under by default (the shape of
/// production ids; the sample's keys use it too).
pub const DEFAULT_KEY_ID: &str = "cloudhsm:1,2";

/// The largest request body accepted (wrapped keys are ~60 bytes).
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug)]
struct State {
    master: MasterKey,
    /// Wrapped key → (master key id, data key), from `--keys-file`.
    captured: HashMap<String, (String, DataKey)>,
    key_ids: HashSet<String>,
    current_key_id: String,
    fail_rate: f64,
    /// Key requests so far (where the injected failures fall).
    requests: std::sync::atomic::AtomicU64,
    latency: Duration,
    metrics: Arc<ServiceMetrics>,
}

/// A running service. Dropping it does not stop it; call [`RunningDks::stop`].
#[derive(Debug)]
pub struct RunningDks {
    addr: SocketAddr,
    scheme: &'static str,
    metrics: Arc<ServiceMetrics>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningDks {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL (`http://` or `https://`).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Its counters (the same that `GET /metrics` renders).
    pub fn metrics(&self) -> &ServiceMetrics {
        &self.metrics
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Serves until the process is interrupted (Ctrl-C or SIGTERM).
    pub async fn serve_until_signal(self) {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        self.stop().await;
    }
}

/// Starts the service on the current tokio runtime.
pub async fn start(config: ServeConfig) -> Result<RunningDks> {
    if !(0.0..=1.0).contains(&config.fail_rate) {
        return Err(Error::Config {
            field: "--fail-rate".to_owned(),
            detail: format!("{} is not between 0 and 1", config.fail_rate),
        });
    }
    if config.tls.is_none() && !config.bind.ip().is_loopback() && !config.insecure_http {
        return Err(Error::Config {
            field: "--bind".to_owned(),
            detail: format!(
                "plain HTTP on {}, which is not a loopback address, would send data keys \
                 in clear over the network: serve TLS (--tls-cert, --tls-key, \
                 --tls-client-ca) or pass --insecure-http",
                config.bind
            ),
        });
    }
    let master = MasterKey::load_or_create(&config.master_key_file)?;
    let captured = match &config.keys_file {
        Some(path) => read_keys_file(path)?,
        None => HashMap::new(),
    };
    let current_key_id = config
        .key_ids
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_KEY_ID.to_owned());
    let mut key_ids: HashSet<String> = config.key_ids.iter().cloned().collect();
    key_ids.insert(current_key_id.clone());
    // A captured key's master key id is held by this service too.
    key_ids.extend(captured.values().map(|(id, _)| id.clone()));
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| Error::Bind {
            addr: config.bind.to_string(),
            source: e,
        })?;
    let addr = listener.local_addr().map_err(|e| Error::Bind {
        addr: config.bind.to_string(),
        source: e,
    })?;
    let metrics = Arc::new(ServiceMetrics::default());
    let state = Arc::new(State {
        master,
        captured,
        key_ids,
        current_key_id,
        fail_rate: config.fail_rate,
        requests: Default::default(),
        latency: Duration::from_millis(config.latency_ms),
        metrics: Arc::clone(&metrics),
    });
    let (shutdown, mut stopped) = watch::channel(false);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let header_timeout = Duration::from_millis(config.header_timeout_ms.max(1));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            // At the cap, wait for a connection to end before accepting.
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                _ = stopped.changed() => break,
            };
            let (stream, _peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "DKS accept failed; retrying in 100 ms");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stopped.changed() => break,
            };
            let state = Arc::clone(&state);
            let tls = tls.clone();
            // Stopping closes open connections too: a stopped service must not
            // keep answering over kept-alive connections.
            let mut closed = stopped.clone();
            tokio::spawn(async move {
                let serve = async move {
                    match tls {
                        Some(acceptor) => {
                            match tokio::time::timeout(header_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => {
                                    serve_connection(TokioIo::new(stream), state, header_timeout)
                                        .await
                                }
                                Ok(Err(e)) => {
                                    state.metrics.tls_refused();
                                    tracing::debug!(error = %e, "TLS handshake refused");
                                }
                                Err(_) => {
                                    state.metrics.tls_refused();
                                    tracing::debug!("TLS handshake timed out");
                                }
                            }
                        }
                        None => serve_connection(TokioIo::new(stream), state, header_timeout).await,
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = closed.changed() => {}
                }
                drop(slot);
            });
        }
    });
    Ok(RunningDks {
        addr,
        scheme,
        metrics,
        shutdown,
        task,
    })
}

async fn serve_connection<I>(io: I, state: Arc<State>, header_timeout: Duration)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(&state, request).await) }
    });
    // A client that opens a connection and sends nothing (or trickles its
    // headers) is closed, so it cannot hold a slot for ever.
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(error = %e, "DKS connection ended with an error");
    }
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let path = request.uri().path().to_owned();
    let query = parse_query(request.uri().query().unwrap_or(""));
    let (endpoint, response) = match (request.method(), path.as_str()) {
        (&Method::GET, "/datakey") => ("datakey", keyed(state, || issue(state, &query)).await),
        (&Method::POST, "/datakey/actions/decrypt") => {
            let body = Limited::new(request.into_body(), MAX_BODY).collect().await;
            let response = match body {
                Ok(body) => {
                    let body = body.to_bytes();
                    keyed(state, || unwrap(state, &query, &body)).await
                }
                Err(_) => text(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            };
            ("decrypt", response)
        }
        (&Method::GET, "/metrics") => (
            "metrics",
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/plain; version=0.0.4")
                .body(Full::new(Bytes::from(state.metrics.render())))
                .unwrap_or_default(),
        ),
        (&Method::GET, "/healthcheck") => ("healthcheck", text(StatusCode::OK, "OK")),
        _ => ("other", text(StatusCode::NOT_FOUND, "not found")),
    };
    state
        .metrics
        .request(endpoint, response.status().as_u16(), started.elapsed());
    response
}

/// Latency and fault injection around the key endpoints.
async fn keyed(
    state: &State,
    answer: impl FnOnce() -> Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    let n = state
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed) as f64;
    if ((n + 1.0) * state.fail_rate).floor() > (n * state.fail_rate).floor() {
        state.metrics.injected_failure();
        return text(StatusCode::SERVICE_UNAVAILABLE, "injected failure");
    }
    answer()
}

fn issue(state: &State, query: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let key_id = query
        .get("keyId")
        .cloned()
        .unwrap_or_else(|| state.current_key_id.clone());
    if !state.key_ids.contains(&key_id) {
        state.metrics.rejected();
        return text(StatusCode::BAD_REQUEST, "unknown keyId");
    }
    let data_key: [u8; 16] = rand::random();
    let wrapped = state.master.wrap(&key_id, &data_key, rand::random());
    state.metrics.data_key_issued();
    json(
        StatusCode::CREATED,
        &serde_json::json!({
            "dataKeyEncryptionKeyId": key_id,
            "plaintextDataKey": base64::encode(&data_key),
            "ciphertextDataKey": wrapped,
            "correlationId": query.get("correlationId").cloned().unwrap_or_default(),
        }),
    )
}

fn unwrap(state: &State, query: &HashMap<String, String>, body: &[u8]) -> Response<Full<Bytes>> {
    let Some(key_id) = query.get("keyId") else {
        state.metrics.rejected();
        return text(StatusCode::BAD_REQUEST, "keyId is required");
    };
    let wrapped = String::from_utf8_lossy(body);
    let wrapped = wrapped.trim();
    let data_key = match state.captured.get(wrapped) {
        Some((captured_id, key)) if captured_id == key_id => Some(key.clone()),
        _ if state.key_ids.contains(key_id) => state.master.unwrap_key(key_id, wrapped),
        _ => None,
    };
    let Some(data_key) = data_key else {
        state.metrics.rejected();
        // The real DKS says as little: which of the two it was is not the
        // caller's business.
        return text(
            StatusCode::BAD_REQUEST,
            "unknown keyId or data key does not decrypt",
        );
    };
    state.metrics.decrypted();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "dataKeyDecryptionKeyId": key_id,
            "plaintextDataKey": base64::encode(data_key.bytes()),
            "correlationId": query.get("correlationId").cloned().unwrap_or_default(),
        }),
    )
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_default()
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_default()
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Reads a `keys.json`: `{"keys": {wrapped: {"keyEncryptionKeyId", "plaintextDataKey"}}}`.
pub fn read_keys_file(path: &Path) -> Result<HashMap<String, (String, DataKey)>> {
    #[derive(Deserialize)]
    struct File {
        keys: HashMap<String, Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "keyEncryptionKeyId")]
        key_id: String,
        #[serde(rename = "plaintextDataKey")]
        plaintext: String,
    }
    let text = std::fs::read(path).map_err(|e| Error::Read {
        path: path.to_owned(),
        source: e,
    })?;
    let bad = |detail: String| Error::KeysFile {
        path: path.to_owned(),
        detail,
    };
    // serde_json's own message can quote a key: only its kind and place.
    let file: File =
        serde_json::from_slice(&text).map_err(|e| bad(weir_engine::redact::json_error(&e)))?;
    file.keys
        .into_iter()
        .map(|(wrapped, entry)| {
            let key = base64::decode(&entry.plaintext).map_err(|_| {
                bad(format!(
                    "plaintextDataKey of an entry under {} is not base64",
                    entry.key_id
                ))
            })?;
            Ok((wrapped, (entry.key_id, DataKey::new(key))))
        })
        .collect()
}

fn tls_acceptor(tls: &ServerTls) -> Result<tokio_rustls::TlsAcceptor> {
    let bad = |what: &'static str, path: &Path, detail: String| Error::Tls {
        what,
        path: path.to_owned(),
        detail,
    };
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|e| bad(what, path, e.to_string()))
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read("certificate", &tls.cert)?)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad("certificate", &tls.cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&read("private key", &tls.key)?)
        .map_err(|e| bad("private key", &tls.key, e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(&read("CA bundle", &tls.client_ca)?) {
        let ca = ca.map_err(|e| bad("CA bundle", &tls.client_ca, e.to_string()))?;
        roots
            .add(ca)
            .map_err(|e| bad("CA bundle", &tls.client_ca, e.to_string()))?;
    }
    // An explicit provider: the tree may enable more than one rustls backend,
    // and then the process-default lookup panics.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| bad("CA bundle", &tls.client_ca, e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("certificate", &tls.cert, e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate", &tls.cert, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
