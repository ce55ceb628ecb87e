//! `weir serve`: the run status as an operator opens it in the morning — a
//! grid of collections × export dates coloured by status, and each day's
//! report and history — drawn by `page.html` from JSON endpoints that
//! scripts use too. Read-only: it reads the status objects under the
//! destination (`weir_engine::status`) on every request and writes nothing.
//!
//! - `GET /`: the page (`?from=YYYY-MM-DD&to=YYYY-MM-DD`; `#<collection>/<date>`
//!   opens a day);
//! - `GET /api/days?from=…&to=…`: `{from, to, dates, collections, days}`, the
//!   latest run of each collection and day;
//! - `GET /api/history?collection=…&date=…`: every run of one day;
//! - `GET /healthz`;
//! - `GET /datasets/<collection>/<date>/rows/<id>` and `POST
//!   /datasets/<collection>/<date>/rows`: a published dataset's rows by id
//!   ([`rows`]).

mod rows;

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::NaiveDate;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use weir_engine::status::StatusStore;
use weir_engine::storage::Location;

use crate::cli::ServeArgs;
use crate::error::Error;

/// The page, self-contained (no assets from elsewhere).
const PAGE: &str = include_str!("page.html");
/// The most export dates one request may ask for.
const MAX_DAYS: i64 = 366;

struct State {
    store: StatusStore,
    default_days: i64,
    registry: weir_ingesters::Registry,
    args: ServeArgs,
    /// The plan runner lookups' contexts carry (made on first use).
    runner: tokio::sync::OnceCell<Arc<dyn weir_engine::run::PlanRunner>>,
}

pub(crate) fn run(args: &ServeArgs, registry: weir_ingesters::Registry) -> Result<ExitCode, Error> {
    let s3 = crate::config::s3_settings(args.config.as_deref())?;
    let dest = Location::parse(&args.dest, &s3).map_err(Error::Engine)?;
    let state = Arc::new(State {
        store: StatusStore::new(dest),
        default_days: i64::from(args.days.clamp(1, MAX_DAYS as u32)),
        registry,
        args: args.clone(),
        runner: tokio::sync::OnceCell::new(),
    });
    crate::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .map_err(|e| Error::usage("--bind", format!("{}: {e}", args.bind)))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::usage("--bind", e.to_string()))?;
        // The first line of standard output: where it listens (scripts and
        // tests read it when they asked for port 0).
        println!("weir serve: listening on http://{local}/");
        tracing::info!(%local, dest = %args.dest, "serving the run status");
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, request).await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended");
                }
            });
        }
    })
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let query = parse_query(request.uri().query().unwrap_or(""));
    if let Some(path) = rows::parse_path(request.uri().path()) {
        let answer = match (path, request.method()) {
            (Err(e), _) => Err(e),
            (Ok(path), &Method::GET) => rows::rows(state, path, None, &query).await,
            (Ok(path), &Method::POST) => match read_body(request).await {
                Ok(body) => match rows::ids_of_body(&body) {
                    Ok(ids) => rows::rows(state, path, Some(ids), &query).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            _ => Err((
                StatusCode::METHOD_NOT_ALLOWED,
                "GET …/rows/<id> or POST …/rows".to_owned(),
            )),
        };
        return answer_reply(answer);
    }
    if request.method() != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "read-only: GET only\n",
        );
    }
    let answer = match request.uri().path() {
        "/" | "/index.html" => return reply(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/healthz" => return reply(StatusCode::OK, "text/plain", "ok\n"),
        "/api/days" => days(state, &query).await,
        "/api/history" => history(state, &query).await,
        _ => return reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    };
    answer_reply(answer)
}

/// A `POST` body, at most [`rows::MAX_BODY`] bytes.
async fn read_body(request: Request<Incoming>) -> Result<Bytes, (StatusCode, String)> {
    Limited::new(request.into_body(), rows::MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|_| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is unreadable or over {} bytes", rows::MAX_BODY),
            )
        })
}

fn answer_reply(answer: Answer) -> Response<Full<Bytes>> {
    match answer {
        Ok(value) => reply(StatusCode::OK, "application/json", value.to_string()),
        Err((status, detail)) => reply(
            status,
            "application/json",
            json!({ "error": detail }).to_string(),
        ),
    }
}

type Answer = Result<serde_json::Value, (StatusCode, String)>;

fn bad(detail: String) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, detail)
}

fn unavailable(e: weir_engine::Error) -> (StatusCode, String) {
    (StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

fn date_of(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<NaiveDate>, (StatusCode, String)> {
    query
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| bad(format!("{name}={v:?}: a date, YYYY-MM-DD")))
        })
        .transpose()
}

async fn days(state: &State, query: &HashMap<String, String>) -> Answer {
    let today = chrono::Utc::now().date_naive();
    let to = date_of(query, "to")?.unwrap_or(today);
    let from =
        date_of(query, "from")?.unwrap_or(to - chrono::Duration::days(state.default_days - 1));
    if from > to || (to - from).num_days() >= MAX_DAYS {
        return Err(bad(format!(
            "from {from} to {to}: at most {MAX_DAYS} days, from before to"
        )));
    }
    let dates: Vec<String> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| d.to_string())
        .collect();
    let collections = state.store.collections().await.map_err(unavailable)?;
    let mut runs = Vec::new();
    for key in &collections {
        runs.extend(
            state
                .store
                .latest(key, from, to)
                .await
                .map_err(unavailable)?,
        );
    }
    Ok(json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "dates": dates,
        "collections": collections,
        "days": runs,
    }))
}

async fn history(state: &State, query: &HashMap<String, String>) -> Answer {
    let collection = query
        .get("collection")
        .filter(|c| !c.is_empty() && !c.contains('/'))
        .ok_or_else(|| bad("collection: give db.collection or db:collection".to_owned()))?;
    let date = date_of(query, "date")?.ok_or_else(|| bad("date: give YYYY-MM-DD".to_owned()))?;
    let runs = state
        .store
        .history(collection, date)
        .await
        .map_err(unavailable)?;
    Ok(serde_json::to_value(runs).unwrap_or_default())
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = content_type.parse() {
        headers.insert(hyper::header::CONTENT_TYPE, value);
    }
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        hyper::header::CONTENT_SECURITY_POLICY,
        hyper::header::HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ),
    );
    response
}

/// `a=1&b=x%3Ay` → its pairs, percent-decoded (`+` is a space).
fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_decoded() {
        let q = parse_query(
            "collection=calculator%3AcalculationParts&date=2023-08-02&x&bad=%zz%4&u=%C3%A9%",
        );
        assert_eq!(q["collection"], "calculator:calculationParts");
        assert_eq!(q["date"], "2023-08-02");
        assert_eq!(q["x"], "");
        assert_eq!(q["bad"], "%zz%4");
        assert_eq!(q["u"], "é%");
    }
}
