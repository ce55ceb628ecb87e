//! Delta Lake tables, written by Weir's own committer: the data files are
//! Parquet written by Weir's partition-parallel writer (on executors in
//! cluster mode); the client moves them into the table and commits one
//! transaction per table per day to `_delta_log/<version>.json`, created
//! conditionally (`PutMode::Create`: S3's `If-None-Match`, a hard link on
//! local disk), so of two writers racing for a version exactly one wins and
//! the other reads the log again and retries. Protocol 1/2 (no table
//! features), Spark's JSON schema, Hive-style partition directories; a
//! `txn` action keyed by the run makes a retried commit a no-op. Replacing
//! the day's partition (or the whole table) is `remove` actions for its
//! live files and `add` actions for the new ones.
//!
//! Why not the `deltalake` crate: this is the protocol's write path for
//! append and partition overwrite, a few hundred lines over the object
//! store and conditional puts Weir already uses; the crate would add a
//! second reqwest and TLS stack and several minutes to a cold CI build.
//! The log is read back by `deltalake` (delta-rs) and Spark in the tests.
//! Weir reads JSON commits only: a table whose log another writer has
//! checkpointed is refused, naming the checkpoint.
//!
//! A day's Delta commits come before the rest of its commit. If the rest
//! fails, the run takes them back with a version that undoes each (a
//! `RESTORE`, with its own `txn` so it is made once); if the run dies in
//! between, the journal it wrote first (`<staging>/publish/delta.json`,
//! without `delta-done` beside it) lets whoever takes the day over do the
//! same ([`recover`]).

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde_json::{Value, json};

use super::Replace;
use crate::exec::hive_unescape;
use crate::output::StagedFile;
use crate::storage::Location;

/// The log's directory in a table.
pub const LOG_DIR: &str = "_delta_log";

/// Attempts at a version before a commit gives up (each after reading the
/// log again).
const COMMIT_ATTEMPTS: usize = 20;

/// A live data file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaFile {
    /// Relative to the table.
    pub path: String,
    /// Partition values by column.
    pub partition_values: BTreeMap<String, Option<String>>,
    /// Bytes.
    pub size: u64,
    /// Rows, from its stats.
    pub num_records: Option<u64>,
}

/// A table's state at a version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The latest version (`None`: no table yet).
    pub version: Option<u64>,
    /// Live files by path.
    pub files: BTreeMap<String, DeltaFile>,
    /// The schema (Spark JSON) of the latest `metaData`.
    pub schema_string: Option<String>,
    /// Its partition columns.
    pub partition_columns: Vec<String>,
    /// Transaction ids committed (`txn.appId`).
    pub app_ids: BTreeSet<String>,
}

/// One table's commit for a day.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaPlan {
    /// The table, relative to the destination.
    pub table_dir: String,
    /// The transaction id: a retried commit of the same run is a no-op.
    pub app_id: String,
    /// What the commit replaces.
    pub replace: Replace,
    /// The day's partition (column, value) when [`Replace::Day`].
    pub day: Option<(String, String)>,
    /// The data's columns (partition columns included).
    pub schema: SchemaRef,
    /// Partition columns, the day's first.
    pub partition_columns: Vec<String>,
    /// Who writes (`commitInfo.engineInfo`, run id).
    pub run_id: String,
}

/// What a commit did, to report it (and to undo it).
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaCommitted {
    /// The version made.
    pub version: u64,
    /// Files added.
    pub added: Vec<DeltaFile>,
    /// Files removed.
    pub removed: Vec<DeltaFile>,
}

fn err(e: impl std::fmt::Display) -> String {
    crate::redact::secrets(&e.to_string())
}

/// The table's state from its JSON commits.
pub async fn snapshot(dest: &Location, table_dir: &str) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    for (version, actions) in read_log(dest, table_dir).await? {
        for action in &actions {
            apply(&mut snap, action);
        }
        snap.version = Some(version);
    }
    Ok(snap)
}

/// Every commit of the table's log, in order, as its actions.
async fn read_log(dest: &Location, table_dir: &str) -> Result<Vec<(u64, Vec<Value>)>, String> {
    let log = dest.child(&format!("{table_dir}/{LOG_DIR}"));
    let listed: Vec<object_store::ObjectMeta> = dest
        .store
        .list(Some(&log))
        .try_collect()
        .await
        .map_err(err)?;
    let mut versions = Vec::new();
    for meta in &listed {
        let name = meta.location.filename().unwrap_or_default();
        if name.contains("checkpoint") {
            return Err(format!(
                "{} has a checkpoint ({name}) another writer made; Weir reads JSON commits only",
                dest.display(&log)
            ));
        }
        if let Some(v) = name
            .strip_suffix(".json")
            .and_then(|v| v.parse::<u64>().ok())
        {
            versions.push((v, meta.location.clone()));
        }
    }
    versions.sort();
    let mut commits = Vec::with_capacity(versions.len());
    for (expected, (version, path)) in versions.into_iter().enumerate() {
        if version != expected as u64 {
            return Err(format!(
                "{}: version {expected} is missing",
                dest.display(&log)
            ));
        }
        let bytes = dest
            .store
            .get(&path)
            .await
            .map_err(err)?
            .bytes()
            .await
            .map_err(err)?;
        let mut actions = Vec::new();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            actions.push(
                serde_json::from_slice(line)
                    .map_err(|e| format!("{}: {e}", dest.display(&path)))?,
            );
        }
        commits.push((version, actions));
    }
    Ok(commits)
}

fn apply(snap: &mut Snapshot, action: &Value) {
    if let Some(add) = action.get("add") {
        let file = DeltaFile {
            path: add["path"].as_str().unwrap_or_default().to_owned(),
            partition_values: add["partitionValues"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
                        .collect()
                })
                .unwrap_or_default(),
            size: add["size"].as_u64().unwrap_or(0),
            num_records: add["stats"]
                .as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|s| s["numRecords"].as_u64()),
        };
        snap.files.insert(file.path.clone(), file);
    } else if let Some(remove) = action.get("remove") {
        if let Some(path) = remove["path"].as_str() {
            snap.files.remove(path);
        }
    } else if let Some(meta) = action.get("metaData") {
        snap.schema_string = meta["schemaString"].as_str().map(str::to_owned);
        snap.partition_columns = meta["partitionColumns"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
    } else if let Some(txn) = action.get("txn")
        && let Some(id) = txn["appId"].as_str()
    {
        snap.app_ids.insert(id.to_owned());
    }
}

/// Spark's JSON type of an Arrow type, as Delta's schema holds it.
pub fn delta_type(ty: &DataType) -> Value {
    match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => json!("string"),
        DataType::Int64 => json!("long"),
        DataType::Int32 => json!("integer"),
        DataType::Int16 => json!("short"),
        DataType::Int8 => json!("byte"),
        DataType::Float32 => json!("float"),
        DataType::Float64 => json!("double"),
        DataType::Boolean => json!("boolean"),
        DataType::Date32 => json!("date"),
        DataType::Timestamp(..) => json!("timestamp"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => json!("binary"),
        DataType::Decimal128(p, s) => json!(format!("decimal({p},{s})")),
        DataType::List(f) | DataType::LargeList(f) => json!({
            "type": "array", "elementType": delta_type(f.data_type()), "containsNull": true
        }),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => json!({
                "type": "map",
                "keyType": delta_type(kv[0].data_type()),
                "valueType": delta_type(kv[1].data_type()),
                "valueContainsNull": true
            }),
            _ => json!("string"),
        },
        DataType::Struct(fields) => struct_type(fields.iter().map(|f| f.as_ref())),
        _ => json!("string"),
    }
}

fn struct_type<'a>(fields: impl Iterator<Item = &'a Field>) -> Value {
    json!({
        "type": "struct",
        "fields": fields.map(|f| json!({
            "name": f.name(), "type": delta_type(f.data_type()), "nullable": true, "metadata": {}
        })).collect::<Vec<_>>()
    })
}

/// The table's schema string: the data's columns, then the day column.
fn schema_string(plan: &DeltaPlan) -> String {
    let mut fields: Vec<Field> = plan
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    if let Some((column, _)) = &plan.day {
        fields.push(Field::new(column, DataType::Utf8, true));
    }
    struct_type(fields.iter()).to_string()
}

/// Moves the day's staged files into the table and commits them, replacing
/// what the plan replaces. The files are invisible to readers until the log
/// names them.
pub async fn publish(
    dest: &Location,
    plan: &DeltaPlan,
    staged: &[&StagedFile],
) -> Result<DeltaCommitted, String> {
    let prefix = match &plan.day {
        Some((column, value)) => format!("{column}={}/", crate::output::hive_escape(value)),
        None => String::new(),
    };
    let mut added = Vec::with_capacity(staged.len());
    for file in staged {
        let rel = format!("{prefix}{}", file.target);
        let from = crate::storage::stored_path(&file.staged).map_err(err)?;
        let to = dest.child(&format!("{}/{rel}", plan.table_dir));
        dest.store.rename(&from, &to).await.map_err(err)?;
        let mut partition_values = BTreeMap::new();
        for segment in rel.split('/').rev().skip(1) {
            if let Some((column, value)) = segment.split_once('=') {
                partition_values.insert(column.to_owned(), Some(hive_unescape(value)));
            }
        }
        added.push(DeltaFile {
            path: rel,
            partition_values,
            size: file.bytes,
            num_records: Some(file.rows),
        });
    }
    let committed = commit(dest, plan, added.clone()).await;
    if committed.is_err() {
        // Not in the log: nobody sees them; remove them.
        for file in &added {
            let path = dest.child(&format!("{}/{}", plan.table_dir, file.path));
            let _ = dest.store.delete(&path).await;
        }
    }
    committed
}

async fn commit(
    dest: &Location,
    plan: &DeltaPlan,
    added: Vec<DeltaFile>,
) -> Result<DeltaCommitted, String> {
    let schema = schema_string(plan);
    for _ in 0..COMMIT_ATTEMPTS {
        let snap = snapshot(dest, &plan.table_dir).await?;
        if snap.app_ids.contains(&plan.app_id) {
            // This run committed it already (a retried publish).
            return Ok(DeltaCommitted {
                version: snap.version.unwrap_or(0),
                added,
                removed: Vec::new(),
            });
        }
        if let Some(existing) = &snap.schema_string
            && existing != &schema
        {
            return Err(format!(
                "the rows do not fit the Delta table's schema; table {} vs rows {schema}",
                existing
            ));
        }
        let removed: Vec<DeltaFile> = snap
            .files
            .values()
            .filter(|f| match &plan.day {
                Some((column, value)) if plan.replace == Replace::Day => {
                    f.partition_values.get(column) == Some(&Some(value.clone()))
                }
                _ => true,
            })
            .cloned()
            .collect();
        let version = snap.version.map_or(0, |v| v + 1);
        let mut actions = vec![commit_info(plan, "WRITE")];
        if snap.version.is_none() {
            actions.push(json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}));
            actions.push(json!({"metaData": {
                "id": table_id(&plan.table_dir),
                "format": {"provider": "parquet", "options": {}},
                "schemaString": schema,
                "partitionColumns": plan.partition_columns,
                "configuration": {},
                "createdTime": now_ms(),
            }}));
        }
        actions.extend(removed.iter().map(remove_action));
        actions.extend(added.iter().map(add_action));
        actions.push(json!({"txn": {"appId": plan.app_id, "version": 0, "lastUpdated": now_ms()}}));
        match write_version(dest, &plan.table_dir, version, &actions).await {
            Ok(true) => {
                return Ok(DeltaCommitted {
                    version,
                    added,
                    removed,
                });
            }
            Ok(false) => continue, // another writer took the version
            Err(e) => return Err(e),
        }
    }
    Err(format!(
        "{}: {COMMIT_ATTEMPTS} attempts lost to other writers",
        plan.table_dir
    ))
}

/// Retention of a table partitioned by day: one version (`DELETE`)
/// removing every live file whose `day_column` is before `cutoff`, then
/// the files themselves (expired data must go, so versions before it can
/// no longer be read, as after Delta's `VACUUM`). The days removed; none
/// when nothing was due.
pub async fn expire_before(
    dest: &Location,
    table_dir: &str,
    day_column: &str,
    cutoff: chrono::NaiveDate,
    run_id: &str,
) -> Result<BTreeSet<String>, String> {
    let cutoff = cutoff.to_string();
    for _ in 0..COMMIT_ATTEMPTS {
        let snap = snapshot(dest, table_dir).await?;
        // Dates as `YYYY-MM-DD` compare as text.
        let due: Vec<DeltaFile> = snap
            .files
            .values()
            .filter(|f| {
                matches!(f.partition_values.get(day_column), Some(Some(day)) if day.as_str() < cutoff.as_str())
            })
            .cloned()
            .collect();
        if due.is_empty() {
            return Ok(BTreeSet::new());
        }
        let version = snap.version.map_or(0, |v| v + 1);
        let mut actions = vec![json!({"commitInfo": {
            "timestamp": now_ms(),
            "operation": "DELETE",
            "operationParameters": {"predicate": format!("{day_column} < '{cutoff}'")},
            "engineInfo": format!("weir/{}", env!("CARGO_PKG_VERSION")),
            "weirRunId": run_id,
        }})];
        actions.extend(due.iter().map(remove_action));
        if write_version(dest, table_dir, version, &actions).await? {
            for file in &due {
                let path = dest.child(&format!("{table_dir}/{}", file.path));
                match dest.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(err(e)),
                }
            }
            return Ok(due
                .iter()
                .filter_map(|f| f.partition_values.get(day_column).cloned().flatten())
                .collect());
        }
    }
    Err(format!(
        "{table_dir}: {COMMIT_ATTEMPTS} attempts lost to other writers"
    ))
}

/// Takes a commit back when the rest of the day could not publish: a new
/// version removing what it added and adding back what it removed.
pub async fn undo(
    dest: &Location,
    plan: &DeltaPlan,
    committed: &DeltaCommitted,
) -> Result<u64, String> {
    undo_actions(
        dest,
        &plan.table_dir,
        &plan.app_id,
        &plan.run_id,
        &committed.added,
        &committed.removed,
    )
    .await
}

async fn undo_actions(
    dest: &Location,
    table_dir: &str,
    app_id: &str,
    run_id: &str,
    added: &[DeltaFile],
    removed: &[DeltaFile],
) -> Result<u64, String> {
    let undo_id = format!("undo:{app_id}");
    for _ in 0..COMMIT_ATTEMPTS {
        let snap = snapshot(dest, table_dir).await?;
        if snap.app_ids.contains(&undo_id) {
            return Ok(snap.version.unwrap_or(0));
        }
        let version = snap.version.map_or(0, |v| v + 1);
        let mut actions = vec![json!({"commitInfo": {
            "timestamp": now_ms(),
            "operation": "RESTORE",
            "operationParameters": {"undoes": app_id},
            "engineInfo": format!("weir/{}", env!("CARGO_PKG_VERSION")),
            "weirRunId": run_id,
        }})];
        actions.extend(added.iter().map(remove_action));
        actions.extend(removed.iter().map(add_action));
        actions.push(json!({"txn": {"appId": undo_id, "version": 0, "lastUpdated": now_ms()}}));
        if write_version(dest, table_dir, version, &actions).await? {
            return Ok(version);
        }
    }
    Err(format!("{table_dir}: could not undo {app_id}"))
}

/// Takes back the commit a run made to a table (`weir retract`): the
/// transaction whose app id starts with `app_prefix`. `None` when the log
/// has no such commit; the undoing version otherwise (the same one again
/// when it was taken back already). Refused when a later commit has
/// replaced what it added: taking it back then would resurrect files.
pub async fn undo_run(
    dest: &Location,
    table_dir: &str,
    app_prefix: &str,
    run_id: &str,
) -> Result<Option<u64>, String> {
    let log = read_log(dest, table_dir).await?;
    let app_id = log.iter().flat_map(|(_, actions)| actions).find_map(|a| {
        a["txn"]["appId"]
            .as_str()
            .filter(|id| id.starts_with(app_prefix))
            .map(str::to_owned)
    });
    let Some(app_id) = app_id else {
        return Ok(None);
    };
    let Some((added, removed)) = commit_of(dest, table_dir, &app_id).await? else {
        return Ok(None);
    };
    let snap = snapshot(dest, table_dir).await?;
    if !snap.app_ids.contains(&format!("undo:{app_id}")) {
        let replaced = added.iter().any(|f| !snap.files.contains_key(&f.path))
            || removed.iter().any(|f| snap.files.contains_key(&f.path));
        if replaced {
            return Err(format!(
                "{table_dir}: a later commit (the table is at version {}) replaced what {app_id} wrote; retract that run first",
                snap.version.unwrap_or(0)
            ));
        }
    }
    undo_actions(dest, table_dir, &app_id, run_id, &added, &removed)
        .await
        .map(Some)
}

/// The journal of a day's Delta commits, under its staging.
const JOURNAL: &str = "publish/delta.json";
/// Beside it once the whole day is published.
const DONE: &str = "publish/delta-done";

#[derive(serde::Serialize, serde::Deserialize)]
struct JournalEntry {
    table_dir: String,
    app_id: String,
}

/// Records the commits the day is about to make (before making them).
pub async fn write_journal(
    dest: &Location,
    staging: &str,
    plans: &[&DeltaPlan],
) -> Result<(), String> {
    let entries: Vec<JournalEntry> = plans
        .iter()
        .map(|p| JournalEntry {
            table_dir: p.table_dir.clone(),
            app_id: p.app_id.clone(),
        })
        .collect();
    let body = serde_json::to_vec(&entries).map_err(err)?;
    dest.store
        .put(
            &dest.child(&format!("{staging}/{JOURNAL}")),
            PutPayload::from(body),
        )
        .await
        .map_err(err)?;
    Ok(())
}

/// Records that the whole day is published (its commits stand).
pub async fn mark_done(dest: &Location, staging: &str) -> Result<(), String> {
    dest.store
        .put(
            &dest.child(&format!("{staging}/{DONE}")),
            PutPayload::from_static(b""),
        )
        .await
        .map_err(err)?;
    Ok(())
}

/// Takes back the Delta commits of a dead run whose staging is `staging`
/// and whose day did not finish publishing; how many were taken back.
pub async fn recover(dest: &Location, staging: &str) -> Result<usize, String> {
    let journal = dest.child(&format!("{staging}/{JOURNAL}"));
    let bytes = match dest.store.get(&journal).await {
        Ok(got) => got.bytes().await.map_err(err)?,
        Err(object_store::Error::NotFound { .. }) => return Ok(0),
        Err(e) => return Err(err(e)),
    };
    let done = dest.child(&format!("{staging}/{DONE}"));
    if dest.store.head(&done).await.is_ok() {
        return Ok(0);
    }
    let entries: Vec<JournalEntry> = serde_json::from_slice(&bytes).map_err(err)?;
    let mut undone = 0;
    for entry in entries {
        if let Some((added, removed)) = commit_of(dest, &entry.table_dir, &entry.app_id).await? {
            undo_actions(
                dest,
                &entry.table_dir,
                &entry.app_id,
                "recovery",
                &added,
                &removed,
            )
            .await?;
            undone += 1;
        }
    }
    Ok(undone)
}

/// The files a transaction added and removed, if it is in the log.
async fn commit_of(
    dest: &Location,
    table_dir: &str,
    app_id: &str,
) -> Result<Option<(Vec<DeltaFile>, Vec<DeltaFile>)>, String> {
    for (_, actions) in read_log(dest, table_dir).await? {
        let ours = actions
            .iter()
            .any(|a| a["txn"]["appId"].as_str() == Some(app_id));
        if !ours {
            continue;
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for action in &actions {
            let mut one = Snapshot::default();
            if let Some(remove) = action.get("remove") {
                // A removed file, as its add action would describe it.
                apply(&mut one, &json!({"add": remove}));
                removed.extend(one.files.into_values());
            } else if action.get("add").is_some() {
                apply(&mut one, action);
                added.extend(one.files.into_values());
            }
        }
        return Ok(Some((added, removed)));
    }
    Ok(None)
}

/// Creates `<version>.json`; `false` when another writer has it.
async fn write_version(
    dest: &Location,
    table_dir: &str,
    version: u64,
    actions: &[Value],
) -> Result<bool, String> {
    let mut body = Vec::new();
    for action in actions {
        body.extend_from_slice(action.to_string().as_bytes());
        body.push(b'\n');
    }
    let path = dest.child(&format!("{table_dir}/{LOG_DIR}/{version:020}.json"));
    match dest
        .store
        .put_opts(
            &path,
            PutPayload::from(body),
            PutOptions::from(PutMode::Create),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Ok(false),
        Err(e) => Err(err(e)),
    }
}

fn add_action(f: &DeltaFile) -> Value {
    json!({"add": {
        "path": f.path,
        "partitionValues": f.partition_values,
        "size": f.size,
        "modificationTime": now_ms(),
        "dataChange": true,
        "stats": json!({"numRecords": f.num_records.unwrap_or(0)}).to_string(),
    }})
}

fn remove_action(f: &DeltaFile) -> Value {
    json!({"remove": {
        "path": f.path,
        "deletionTimestamp": now_ms(),
        "dataChange": true,
        "extendedFileMetadata": true,
        "partitionValues": f.partition_values,
        "size": f.size,
    }})
}

fn commit_info(plan: &DeltaPlan, operation: &str) -> Value {
    json!({"commitInfo": {
        "timestamp": now_ms(),
        "operation": operation,
        "operationParameters": {
            "mode": "Overwrite",
            "partitionBy": serde_json::to_string(&plan.partition_columns).unwrap_or_default(),
        },
        "engineInfo": format!("weir/{}", env!("CARGO_PKG_VERSION")),
        "weirRunId": plan.run_id,
    }})
}

/// A stable id for the table (its location), in UUID form.
fn table_id(table_dir: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(table_dir.as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::FileKind;
    use datafusion::arrow::datatypes::Schema;
    use std::sync::Arc;

    async fn staged(dest: &Location, name: &str) -> StagedFile {
        let path = dest.child(&format!("_weir_staging/run/{name}"));
        dest.store
            .put(&path, PutPayload::from(vec![1u8; 10]))
            .await
            .unwrap();
        StagedFile {
            kind: FileKind::Data,
            staged: path.to_string(),
            target: format!("{name}.parquet"),
            rows: 3,
            bytes: 10,
        }
    }

    fn plan(day: &str) -> DeltaPlan {
        DeltaPlan {
            table_dir: "tables/t".into(),
            app_id: format!("weir:run:{day}"),
            replace: Replace::Day,
            day: Some(("date_str".into(), day.into())),
            schema: Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)])),
            partition_columns: vec!["date_str".into()],
            run_id: "run".into(),
        }
    }

    #[tokio::test]
    async fn writers_racing_for_a_version_both_land_in_consecutive_versions() {
        let dir = std::env::temp_dir().join(format!("weir-delta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = Location::parse(dir.to_str().unwrap(), &Default::default()).unwrap();
        let (a, b) = (staged(&dest, "a").await, staged(&dest, "b").await);
        let (plan_a, plan_b) = (plan("2024-01-01"), plan("2024-01-02"));
        let (files_a, files_b) = ([&a], [&b]);
        let (ra, rb) = tokio::join!(
            publish(&dest, &plan_a, &files_a),
            publish(&dest, &plan_b, &files_b)
        );
        let mut versions = vec![ra.unwrap().version, rb.unwrap().version];
        versions.sort();
        assert_eq!(versions, [0, 1]);
        let snap = snapshot(&dest, "tables/t").await.unwrap();
        assert_eq!(snap.version, Some(1));
        assert_eq!(snap.files.len(), 2);
        assert_eq!(snap.partition_columns, ["date_str"]);
        assert!(snap.schema_string.unwrap().contains("\"date_str\""));

        // The same run again: its transaction is in the log, nothing new.
        let again = publish(&dest, &plan_a, &[]).await.unwrap();
        assert_eq!(snapshot(&dest, "tables/t").await.unwrap().version, Some(1));
        assert!(again.removed.is_empty());

        // A new day-A commit replaces day A's file only; undoing it brings
        // the old one back.
        let c = staged(&dest, "c").await;
        let mut plan_c = plan("2024-01-01");
        plan_c.app_id = "weir:run2:2024-01-01".into();
        let done = publish(&dest, &plan_c, &[&c]).await.unwrap();
        assert_eq!(done.removed.len(), 1);
        let live: Vec<String> = snapshot(&dest, "tables/t")
            .await
            .unwrap()
            .files
            .into_keys()
            .collect();
        assert_eq!(live.len(), 2);
        assert!(live.iter().any(|p| p.ends_with("c.parquet")));
        undo(&dest, &plan_c, &done).await.unwrap();
        let snap = snapshot(&dest, "tables/t").await.unwrap();
        assert_eq!(snap.version, Some(3));
        assert!(snap.files.keys().any(|p| p.ends_with("a.parquet")));
        assert!(!snap.files.keys().any(|p| p.ends_with("c.parquet")));

        // Rows of another shape are refused, and their files removed.
        let d = staged(&dest, "d").await;
        let mut plan_d = plan("2024-01-03");
        plan_d.schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
        let e = publish(&dest, &plan_d, &[&d]).await.unwrap_err();
        assert!(e.contains("schema"), "{e}");
        assert!(!dir.join("tables/t/date_str=2024-01-03/d.parquet").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
