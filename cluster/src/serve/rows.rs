//! `weir serve`'s rows: a published dataset's rows by id, read-only, the
//! same lookup as `weir lookup` (`weir_ingesters::lookup_published`).
//!
//! - `GET /datasets/<collection>/<date>/rows/<id>`: one id (404 when it has
//!   no row);
//! - `POST /datasets/<collection>/<date>/rows`: ids in the body, a JSON
//!   array of strings, `{"ids": [...]}`, or one per line — for ids that are
//!   personal data and must not sit in a URL (and so in a proxy's log).
//!
//! Query: `dataset=daily|export` (default `daily`), `table=<name>`,
//! `key_column=<column>`. The answer: `{"rows": [...], "found": [n per
//! id], "missing": [positions], "bytes_read", "dataset_bytes", "files",
//! "files_opened"}`. Neither ids nor paths are logged; an error names the
//! position of an id, never the id.

use std::collections::HashMap;

use chrono::NaiveDate;
use hyper::StatusCode;
use serde_json::json;
use weir_engine::record::CollectionName;
use weir_ingesters::Dataset;

use super::{Answer, bad};
use crate::cli::RunArgs;
use crate::config::RunSettings;

/// The most ids one request may ask for.
pub(super) const MAX_IDS: usize = 1_000;
/// The largest body a `POST` may send.
pub(super) const MAX_BODY: usize = 1 << 20;

/// What a `/datasets/…` path asks.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RowsPath {
    collection: CollectionName,
    date: NaiveDate,
    /// The id of a `GET …/rows/<id>`.
    id: Option<String>,
}

/// `/datasets/<collection>/<date>/rows[/<id>]`, percent-decoded segments.
pub(super) fn parse_path(path: &str) -> Option<Result<RowsPath, (StatusCode, String)>> {
    let rest = path.strip_prefix("/datasets/")?;
    let parts: Vec<&str> = rest.splitn(4, '/').collect();
    let (collection, date, id) = match parts[..] {
        [c, d, "rows"] => (c, d, None),
        [c, d, "rows", id] if !id.is_empty() => (c, d, Some(super::decode(id))),
        _ => {
            return Some(Err(bad(
                "give /datasets/<collection>/<date>/rows[/<id>]".into()
            )));
        }
    };
    let collection = super::decode(collection);
    let parsed = CollectionName::parse(&collection.replacen('.', ":", 1))
        .map_err(|e| bad(e.to_string()))
        .and_then(|collection| {
            let date = NaiveDate::parse_from_str(&super::decode(date), "%Y-%m-%d")
                .map_err(|_| bad("the date: YYYY-MM-DD".to_owned()))?;
            Ok(RowsPath {
                collection,
                date,
                id,
            })
        });
    Some(parsed)
}

/// The ids of a `POST` body.
pub(super) fn ids_of_body(body: &[u8]) -> Result<Vec<String>, (StatusCode, String)> {
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".to_owned()))?;
    let trimmed = text.trim_start();
    let ids: Vec<String> = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| bad(format!("the body is not JSON: line {}", e.line())))?;
        let list = match &value {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Object(o) => match o.get("ids") {
                Some(serde_json::Value::Array(a)) => a,
                _ => return Err(bad("give {\"ids\": [\"…\"]}".to_owned())),
            },
            _ => return Err(bad("give a JSON array of ids".to_owned())),
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("id {}: not a string", i + 1)))
            })
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if ids.is_empty() {
        return Err(bad("no ids in the body".to_owned()));
    }
    if ids.len() > MAX_IDS {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} ids; at most {MAX_IDS} a request", ids.len()),
        ));
    }
    Ok(ids)
}

/// The rows of `ids` (from the path or the body).
pub(super) async fn rows(
    state: &super::State,
    path: RowsPath,
    body_ids: Option<Vec<String>>,
    query: &HashMap<String, String>,
) -> Answer {
    let single = path.id.is_some();
    let ids = match (path.id, body_ids) {
        (Some(id), _) => vec![id],
        (None, Some(ids)) => ids,
        (None, None) => return Err(bad("POST the ids, or GET …/rows/<id>".to_owned())),
    };
    let dataset = match (query.get("table"), query.get("dataset").map(String::as_str)) {
        (Some(t), _) if !t.is_empty() => Dataset::Table(t.clone()),
        (_, None | Some("" | "daily")) => Dataset::Daily,
        (_, Some("export")) => Dataset::Export,
        (_, Some(_)) => return Err(bad("dataset: daily or export (or table=<name>)".to_owned())),
    };
    let args = RunArgs {
        config: state.args.config.clone(),
        dest: Some(state.args.dest.clone()),
        collections: vec![path.collection.to_string()],
        date: Some(path.date.to_string()),
        ..RunArgs::default()
    };
    let unavailable = |e: String| (StatusCode::SERVICE_UNAVAILABLE, e);
    let settings = RunSettings::resolve_merge(&args).map_err(|e| unavailable(e.to_string()))?;
    // A lookup plans nothing; the context carries a runner all the same,
    // made once for the server rather than once a request.
    let runner = state
        .runner
        .get_or_try_init(|| crate::run::runner(&settings))
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let ctx = crate::run::context(&settings, std::sync::Arc::clone(runner))
        .map_err(|e| unavailable(e.to_string()))?;
    let ingester = state.registry.ingester(&path.collection);
    let found = weir_ingesters::lookup_published(
        ingester.as_ref(),
        &ctx,
        path.date,
        &dataset,
        query.get("key_column").map(String::as_str),
        &ids,
    )
    .await
    .map_err(|e| match e {
        weir_engine::Error::Config { .. } => (StatusCode::NOT_FOUND, e.to_string()),
        e if e.fault() == weir_engine::Fault::Environment => unavailable(e.to_string()),
        e => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })?;
    let lines = found
        .json_lines()
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let rows: Vec<serde_json::Value> = lines
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    if single && rows.is_empty() {
        return Err((StatusCode::NOT_FOUND, "no row has that id".to_owned()));
    }
    let missing: Vec<usize> = found
        .found
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == 0)
        .map(|(i, _)| i + 1)
        .collect();
    Ok(json!({
        "collection": path.collection.to_string(),
        "date": path.date.to_string(),
        "dataset": dataset.to_string(),
        "rows": rows,
        "found": found.found,
        "missing": missing,
        "bytes_read": found.bytes_read,
        "dataset_bytes": found.dataset_bytes,
        "files": found.files,
        "files_opened": found.files_opened,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_collection_date_and_id() {
        let p = parse_path("/datasets/calculator:calculationParts/2023-08-02/rows/ab%2Fc")
            .unwrap()
            .unwrap();
        assert_eq!(p.collection.to_string(), "calculator:calculationParts");
        assert_eq!(p.date.to_string(), "2023-08-02");
        assert_eq!(p.id.as_deref(), Some("ab/c"));
        let p = parse_path("/datasets/calculator.calculationParts/2023-08-02/rows")
            .unwrap()
            .unwrap();
        assert_eq!(p.id, None);
        assert!(parse_path("/api/days").is_none());
        assert!(parse_path("/datasets/x/2023-13-01/rows").unwrap().is_err());
        assert!(
            parse_path("/datasets/x:y/2023-08-02/cols")
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn bodies_are_json_or_lines() {
        assert_eq!(ids_of_body(b"[\"a\",\"b\"]").unwrap(), ["a", "b"]);
        assert_eq!(ids_of_body(b"{\"ids\":[\"a\"]}").unwrap(), ["a"]);
        assert_eq!(ids_of_body(b"a\r\nb\n\n").unwrap(), ["a", "b"]);
        assert!(ids_of_body(b"[1]").is_err());
        assert!(ids_of_body(b"").is_err());
        let many = (0..=MAX_IDS).map(|i| format!("{i}\n")).collect::<String>();
        assert_eq!(
            ids_of_body(many.as_bytes()).unwrap_err().0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
