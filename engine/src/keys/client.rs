//! The Data Key Service client (spec §2): decrypt a wrapped data key, or ask
//! for a new one. Retries transient failures; a 400 is an answer, not an error.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::config::{ClientTls, DksConfig};
use super::material::DataKey;
use crate::record::{KeyRejected, base64};
use crate::{Error, Result};

/// The service's answer for one wrapped key: the data key, or a refusal that
/// makes the records under it corrupt.
pub type KeyAnswer = std::result::Result<DataKey, KeyRejected>;

/// A new data key from `GET /datakey`, as producers (and `weir generate`) use it.
#[derive(Debug, Clone)]
pub struct NewDataKey {
    /// The master key the data key is wrapped under.
    pub key_encryption_key_id: String,
    /// The data key.
    pub plaintext: DataKey,
    /// The wrapped data key, base64, as records carry it.
    pub ciphertext: String,
}

/// A DKS client. Cheap to clone (the HTTP connection pool is shared).
#[derive(Debug, Clone)]
pub struct DksClient {
    http: reqwest::Client,
    config: DksConfig,
    base: String,
    correlation_id: String,
}

#[derive(Deserialize)]
struct DecryptBody {
    #[serde(rename = "plaintextDataKey")]
    plaintext_data_key: String,
}

#[derive(Deserialize)]
struct DataKeyBody {
    #[serde(rename = "dataKeyEncryptionKeyId")]
    key_id: String,
    #[serde(rename = "plaintextDataKey")]
    plaintext_data_key: String,
    #[serde(rename = "ciphertextDataKey")]
    ciphertext_data_key: String,
}

/// One attempt's outcome.
enum Attempt<T> {
    Done(T),
    /// Worth retrying; the text says why (no key material).
    Transient(String),
}

impl DksClient {
    /// A client for `config`; `correlation_id` goes on every request so the
    /// service's logs can be matched to a run.
    pub fn new(config: &DksConfig, correlation_id: impl Into<String>) -> Result<Self> {
        // Certificates given for a plain-HTTP URL would never be sent: the
        // user meant TLS, so say so instead of talking in clear.
        if config.tls.is_some() && config.url.starts_with("http://") {
            return Err(Error::Config {
                field: "dks url".to_owned(),
                detail: format!(
                    "client certificates were given but {} is plain http://; use https://",
                    config.url
                ),
            });
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(tls) = &config.tls {
            builder = with_mutual_tls(builder, tls)?;
        }
        let http = builder.build().map_err(|e| Error::Config {
            field: "dks".to_owned(),
            detail: format!("cannot build the HTTP client: {e}"),
        })?;
        let base = config.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Config {
                field: "dks url".to_owned(),
                detail: format!("{base:?} is not an http:// or https:// URL"),
            });
        }
        Ok(Self {
            http,
            config: config.clone(),
            base,
            correlation_id: correlation_id.into(),
        })
    }

    /// The service's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Unwraps one data key: `POST /datakey/actions/decrypt`.
    pub async fn decrypt(
        &self,
        key_encryption_key_id: &str,
        encrypted_key: &str,
    ) -> Result<KeyAnswer> {
        let url = format!("{}/datakey/actions/decrypt", self.base);
        self.with_retries(|| async {
            let response = self
                .http
                .post(&url)
                .query(&[
                    ("keyId", key_encryption_key_id),
                    ("correlationId", self.correlation_id.as_str()),
                ])
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(encrypted_key.to_owned())
                .send()
                .await;
            let response = match response {
                Ok(r) => r,
                Err(e) => return Ok(Attempt::Transient(transport_cause(&e))),
            };
            let status = response.status().as_u16();
            match status {
                200 | 201 => {
                    let body: DecryptBody = self.json(status, response).await?;
                    let key = base64::decode(&body.plaintext_data_key)
                        .map_err(|_| self.bad_response(status, "plaintextDataKey is not base64"))?;
                    Ok(Attempt::Done(Ok(DataKey::new(key))))
                }
                400 => {
                    // The service's text is about the request, never a key; keep
                    // it short for reports.
                    let detail = response.text().await.unwrap_or_default();
                    Ok(Attempt::Done(Err(KeyRejected {
                        key_encryption_key_id: key_encryption_key_id.to_owned(),
                        detail: format!("DKS answered 400: {}", short(&detail)),
                    })))
                }
                429 | 500..=599 => Ok(Attempt::Transient(format!("HTTP {status}"))),
                _ => Err(self.bad_response(status, "unexpected status")),
            }
        })
        .await
    }

    /// A new data key: `GET /datakey`, under the service's current master key,
    /// or under `key_encryption_key_id` when given (a Weir extension).
    pub async fn new_data_key(&self, key_encryption_key_id: Option<&str>) -> Result<NewDataKey> {
        let url = format!("{}/datakey", self.base);
        self.with_retries(|| async {
            let mut request = self
                .http
                .get(&url)
                .query(&[("correlationId", self.correlation_id.as_str())]);
            if let Some(id) = key_encryption_key_id {
                request = request.query(&[("keyId", id)]);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => return Ok(Attempt::Transient(transport_cause(&e))),
            };
            let status = response.status().as_u16();
            match status {
                200 | 201 => {
                    let body: DataKeyBody = self.json(status, response).await?;
                    let key = base64::decode(&body.plaintext_data_key)
                        .map_err(|_| self.bad_response(status, "plaintextDataKey is not base64"))?;
                    Ok(Attempt::Done(NewDataKey {
                        key_encryption_key_id: body.key_id,
                        plaintext: DataKey::new(key),
                        ciphertext: body.ciphertext_data_key,
                    }))
                }
                429 | 500..=599 => Ok(Attempt::Transient(format!("HTTP {status}"))),
                _ => Err(self.bad_response(status, "unexpected status")),
            }
        })
        .await
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        &self,
        status: u16,
        response: reqwest::Response,
    ) -> Result<T> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.bad_response(status, &transport_cause(&e)))?;
        // serde's own message can quote a value (a key): only its kind and place.
        serde_json::from_slice(&bytes).map_err(|e| {
            self.bad_response(
                status,
                &format!("not the DKS JSON shape ({})", crate::redact::json_error(&e)),
            )
        })
    }

    fn bad_response(&self, status: u16, detail: &str) -> Error {
        Error::DksResponse {
            url: self.base.clone(),
            status,
            detail: detail.to_owned(),
        }
    }

    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Attempt<T>>>,
    {
        let policy = &self.config.retry;
        let attempts = policy.attempts.max(1);
        let started = Instant::now();
        let mut cause = String::new();
        for n in 0..attempts {
            if n > 0 {
                let jitter: f64 = crate::random::random_unit();
                tokio::time::sleep(policy.backoff(n, jitter)).await;
            }
            match attempt().await? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Transient(why) => {
                    tracing::debug!(url = %self.base, attempt = n + 1, cause = %why, "DKS attempt failed");
                    cause = why;
                }
            }
        }
        Err(Error::DksUnavailable {
            url: self.base.clone(),
            attempts,
            elapsed_ms: started.elapsed().as_millis() as u64,
            cause,
        })
    }
}

fn with_mutual_tls(
    builder: reqwest::ClientBuilder,
    tls: &ClientTls,
) -> Result<reqwest::ClientBuilder> {
    let read = |what: &'static str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| Error::Tls {
            what,
            path: path.to_owned(),
            detail: e.to_string(),
        })
    };
    let mut identity_pem = read("certificate", &tls.cert)?;
    identity_pem.push(b'\n');
    identity_pem.extend(read("private key", &tls.key)?);
    let identity = reqwest::Identity::from_pem(&identity_pem).map_err(|e| Error::Tls {
        what: "certificate",
        path: tls.cert.clone(),
        detail: format!("certificate and key do not form an identity: {e}"),
    })?;
    let ca_pem = read("CA bundle", &tls.ca)?;
    let cas = reqwest::Certificate::from_pem_bundle(&ca_pem).map_err(|e| Error::Tls {
        what: "CA bundle",
        path: tls.ca.clone(),
        detail: e.to_string(),
    })?;
    if cas.is_empty() {
        return Err(Error::Tls {
            what: "CA bundle",
            path: tls.ca.clone(),
            detail: "holds no certificate".to_owned(),
        });
    }
    // Trust exactly the given CAs: DKS lives behind a private CA.
    let mut builder = builder.identity(identity).tls_built_in_root_certs(false);
    for ca in cas {
        builder = builder.add_root_certificate(ca);
    }
    Ok(builder)
}

/// A transport error's cause chain, which names the failure (refused, timed
/// out, TLS handshake) but never a request body.
fn transport_cause(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn short(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_owned(),
    }
}
