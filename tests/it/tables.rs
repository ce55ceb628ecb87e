//! Tables from `val` (issue 15), built with `--tables` in the day's commit:
//! businessAudit's four (raw, typed with `from_json`, secured, redacted) and
//! calculationParts' typed tables of the export; read back by pyarrow, and
//! checked against a JSON parser that is not Weir's; the same on a cluster;
//! a table that fails publishes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use weir_engine::tables::keyed_hash::{REDACTION_KEY_ENV, keyed_hash};
use weir_tests::{TestCluster, walk_files, weir_bin};

pub(crate) const AUDIT: &str = "data:businessAudit";
const PARTS: &str = "calculator:calculationParts";
pub(crate) const DATE: &str = "2024-05-02";
pub(crate) const KEY: &str = "a test redaction key, 32 bytes!!";

pub(crate) fn weir(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(weir_bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Generates the day of `collections`; a key service over its master key.
pub(crate) fn day(dir: &Path, collections: &[&str]) -> (PathBuf, weir_tests::Process, String) {
    let source = dir.join("source");
    let master = dir.join("master.key");
    let mut args = vec!["generate", "--date", DATE, "--records", "1500"];
    for c in collections {
        args.extend(["--collection", c]);
    }
    args.extend([
        "--corrupt-rate",
        "0.01",
        "--dest",
        source.to_str().unwrap(),
        "--master-key-file",
        master.to_str().unwrap(),
    ]);
    let out = weir(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (dks, url) = weir_tests::spawn_dks(&master, None, &[]);
    (source, dks, url)
}

pub(crate) fn run(
    collection: &str,
    source: &Path,
    dest: &Path,
    url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut args = vec![
        "run",
        "--collection",
        collection,
        "--date",
        DATE,
        "--tables",
        "--max-corrupt-ratio",
        "0.1",
        "--partitions",
        "3",
        "--source",
        source.to_str().unwrap(),
        "--dest",
        dest.to_str().unwrap(),
        "--dks-url",
        url,
    ];
    args.extend_from_slice(extra);
    weir(&args, env)
}

pub(crate) fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A table's rows as pyarrow reads them.
pub(crate) fn read(dir: &Path, format: &str) -> Vec<Value> {
    let out = weir_tests::py_reader("read_table.py", &[dir.as_os_str(), format.as_ref()]);
    serde_json::from_slice(&out).unwrap()
}

pub(crate) fn table_dir(dest: &Path, collection: &str, table: &str) -> PathBuf {
    let (db, coll) = collection.split_once(':').unwrap();
    dest.join(format!(
        "corporate_data_ingestion/tables/{db}/{coll}/{table}"
    ))
}

/// A `weir.toml` in `dir` defining the businessAudit table `name` by `sql`.
pub(crate) fn configured_table(dir: &Path, name: &str, sql: &str) -> PathBuf {
    std::fs::write(dir.join(format!("{name}.sql")), sql).unwrap();
    let config = dir.join("weir.toml");
    std::fs::write(
        &config,
        format!(
            "[[tables]]\ncollection = \"{AUDIT}\"\nname = \"{name}\"\nsql_file = \"{name}.sql\"\n"
        ),
    )
    .unwrap();
    config
}

/// The column that tells an audit table's rows apart.
pub(crate) fn key(table: &str) -> &'static str {
    if table == "auditlog_raw" {
        "val"
    } else {
        "audit_id"
    }
}

/// The same rows in each audit table, in whatever order they were read.
pub(crate) fn assert_same_tables(
    a: &BTreeMap<&'static str, Vec<Value>>,
    b: &BTreeMap<&'static str, Vec<Value>>,
) {
    for (table, rows) in a {
        assert_eq!(by(rows, key(table)), by(&b[table], key(table)), "{table}");
    }
}

/// Rows keyed by a column, for comparing tables read in any order.
pub(crate) fn by(rows: &[Value], key: &str) -> BTreeMap<String, Value> {
    rows.iter()
        .map(|r| (r[key].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS.mmm+0000` (the generator's dates) as pyarrow prints
/// a UTC timestamp.
fn utc(text: &str) -> String {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The four audit tables (Hive directories), checked against the raw
/// documents.
fn check_audit_tables(dest: &Path) -> BTreeMap<&'static str, Vec<Value>> {
    check_audit_tables_read(dest, |table| {
        read(&table_dir(dest, AUDIT, table), "parquet")
    })
}

/// The four audit tables as `read_table` reads them, checked against the
/// raw documents.
pub(crate) fn check_audit_tables_read(
    dest: &Path,
    read_table: impl Fn(&str) -> Vec<Value>,
) -> BTreeMap<&'static str, Vec<Value>> {
    let tables: BTreeMap<&str, Vec<Value>> = [
        "auditlog_raw",
        "auditlog",
        "auditlog_secured",
        "auditlog_redacted",
    ]
    .into_iter()
    .map(|t| (t, read_table(t)))
    .collect();
    // Raw: the day's published text, one row per line.
    let daily = dest.join(format!(
        "corporate_data_ingestion/json/daily/{DATE}/data/businessAudit"
    ));
    let mut lines: Vec<String> = weir_tests::walk_gz(&daily)
        .iter()
        .flat_map(|f| weir_tests::gz_lines(f))
        .map(|l| String::from_utf8(l).unwrap())
        .collect();
    let mut raw: Vec<String> = tables["auditlog_raw"]
        .iter()
        .map(|r| {
            assert_eq!(r["date_str"], DATE);
            r["val"].as_str().unwrap().to_owned()
        })
        .collect();
    lines.sort();
    raw.sort();
    assert!(!raw.is_empty());
    assert_eq!(raw, lines);
    // Typed: what serde_json reads in each document.
    let typed = by(&tables["auditlog"], "audit_id");
    assert_eq!(typed.len(), raw.len());
    for text in &raw {
        let doc: Value = serde_json::from_str(text).unwrap();
        let row = &typed[doc["AUDIT_ID"].as_str().unwrap()];
        for (column, field) in [
            ("audit_event", "AUDIT_EVENT"),
            ("citizen_id", "CITIZEN_ID"),
            ("channel", "CHANNEL"),
            ("session_id", "SESSION_ID"),
            ("ip_address", "IP_ADDRESS"),
        ] {
            assert_eq!(row[column], doc[field], "{column}: {text}");
        }
        assert_eq!(row["first_name"], doc["DETAILS"]["name"]["first"], "{text}");
        assert_eq!(row["notes"], doc["DETAILS"]["notes"], "{text}");
        // Spark reads a number into a STRING element as its JSON text.
        let items: Vec<Value> = doc["DETAILS"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| match v {
                Value::String(_) => v.clone(),
                other => Value::String(other.to_string()),
            })
            .collect();
        assert_eq!(row["items"], Value::Array(items), "{text}");
        let when = doc["EVENT_DATE_TIME"]["d_date"].as_str().unwrap();
        assert_eq!(row["event_time"], utc(when), "{text}");
        assert_eq!(row["date_str"], DATE);
    }
    // Secured: the event without the person.
    let secured = &tables["auditlog_secured"];
    assert_eq!(secured.len(), raw.len());
    let columns: Vec<&str> = secured[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "audit_id",
        "audit_event",
        "channel",
        "event_time",
        "time_stamp",
        "date_str",
    ];
    expected.sort();
    let mut columns = columns;
    columns.sort();
    assert_eq!(columns, expected);
    // Redacted: names and notes masked, identifiers reduced to their shape.
    for row in &tables["auditlog_redacted"] {
        let original = &typed[row["audit_id"].as_str().unwrap()];
        assert_eq!(row["first_name"], "***");
        assert_eq!(row["notes"], "***");
        let shape: String = original["citizen_id"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { 'x' } else { c })
            .collect();
        assert_eq!(row["citizen_id"], shape.as_str());
        assert!(
            !row["ip_address"]
                .as_str()
                .unwrap()
                .contains(char::is_numeric)
        );
    }
    tables
}

/// Every published file (not staging nor Weir's own records) with its bytes.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk_files(root)
        .into_iter()
        .filter(|p| !p.strip_prefix(root).unwrap().starts_with("_weir"))
        .filter(|p| !p.strip_prefix(root).unwrap().starts_with("_weir_staging"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(root).unwrap().display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn business_audit_tables_publish_with_the_day_and_read_back_with_pyarrow() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let dest = dir.path().join("out");
    let report = dir.path().join("report.json");
    let report_arg = ["--report", report.to_str().unwrap()];
    succeeded(&run(AUDIT, &source, &dest, &url, &report_arg, &[]));
    let first = check_audit_tables(&dest);
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let derived = report["days"][0]["derived"].as_object().unwrap();
    for table in [
        "auditlog_raw",
        "auditlog",
        "auditlog_secured",
        "auditlog_redacted",
    ] {
        assert!(
            derived.contains_key(&format!("table:{table}")),
            "{derived:?}"
        );
    }

    // A rerun replaces the day's partitions with the same rows.
    succeeded(&run(AUDIT, &source, &dest, &url, &[], &[]));
    let again = check_audit_tables(&dest);
    assert_same_tables(&first, &again);

    // A table whose SQL fails: the day fails naming it, nothing changes.
    let before = snapshot(&dest);
    let with_table = |name: &str, sql: &str| {
        let config = configured_table(dir.path(), name, sql);
        run(
            AUDIT,
            &source,
            &dest,
            &url,
            &["--config", config.to_str().unwrap()],
            &[],
        )
    };
    let out = with_table("broken", "SELECT no_such_column FROM auditlog");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("table broken") && stdout.contains("no_such_column"),
        "{stdout}"
    );
    assert_eq!(
        snapshot(&dest),
        before,
        "a failed table changed published files"
    );

    // The table's columns are recorded; a day whose rows break them fails
    // before publishing, naming the columns.
    let recorded = dest.join(
        "corporate_data_ingestion/tables/data/businessAudit/_weir_schema/auditlog_secured/schema.json",
    );
    let columns: Value = serde_json::from_slice(&std::fs::read(&recorded).unwrap()).unwrap();
    assert_eq!(columns[0]["name"], "audit_id", "{columns}");
    let out = with_table(
        "auditlog_secured",
        "SELECT audit_id, 1 AS audit_event FROM auditlog",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("table auditlog_secured")
            && stdout.contains("`audit_event` is Int64 where the table has Utf8")
            && stdout.contains("`channel` (Utf8) is missing"),
        "{stdout}"
    );
    assert_eq!(
        snapshot(&dest),
        before,
        "a broken schema changed published files"
    );
}

#[test]
fn on_a_cluster_the_tables_are_the_ones_built_in_process_and_keyed_hashes_stay_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    // A table of the run's own: citizen ids hashed under the environment's key.
    let config = dir.path().join("weir.toml");
    std::fs::write(
        dir.path().join("hashed.sql"),
        "SELECT audit_id, keyed_hash(citizen_id) AS citizen FROM auditlog",
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[[tables]]\ncollection = \"{AUDIT}\"\nname = \"auditlog_hashed\"\nsql_file = \"hashed.sql\"\n"
        ),
    )
    .unwrap();
    let env = [(REDACTION_KEY_ENV, KEY)];
    let config_arg = ["--config", config.to_str().unwrap()];
    let local = dir.path().join("local");
    succeeded(&run(AUDIT, &source, &local, &url, &config_arg, &env));
    let cluster = TestCluster::start(dir.path(), 2, &env);
    let remote = dir.path().join("remote");
    let cluster_url = cluster.url();
    let mut args = config_arg.to_vec();
    args.extend(["--cluster", &cluster_url]);
    let out = run(AUDIT, &source, &remote, &url, &args, &env);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        cluster.logs()
    );
    let on_cluster = check_audit_tables(&remote);
    let in_process = check_audit_tables(&local);
    assert_same_tables(&in_process, &on_cluster);
    let typed = by(&in_process["auditlog"], "audit_id");
    for dest in [&local, &remote] {
        let hashed = read(&table_dir(dest, AUDIT, "auditlog_hashed"), "parquet");
        assert_eq!(hashed.len(), typed.len());
        for row in hashed {
            let citizen = typed[row["audit_id"].as_str().unwrap()]["citizen_id"]
                .as_str()
                .unwrap();
            assert_eq!(row["citizen"], keyed_hash(KEY.as_bytes(), citizen));
        }
    }
    // The same tables as Delta tables, written on the executors and
    // committed by the client: the same rows, read by delta-rs.
    let remote_delta = dir.path().join("remote-delta");
    let mut delta_args = args.clone();
    delta_args.extend(["--table-format", "delta"]);
    let out = run(AUDIT, &source, &remote_delta, &url, &delta_args, &env);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        cluster.logs()
    );
    let as_delta = crate::delta::check_delta_tables(&remote_delta);
    assert_same_tables(&in_process, &as_delta);

    // The key is in no log and no published file.
    assert!(!cluster.logs().contains(KEY));
    for (path, bytes) in snapshot(&remote) {
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{path}"
        );
    }

    // Without the key the hashed table fails the day, saying which variable.
    let out = run(AUDIT, &source, &local, &url, &config_arg, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(REDACTION_KEY_ENV), "{stdout}");
}

#[test]
fn calculation_parts_typed_tables_are_the_export_read_with_from_json() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[PARTS]);
    let dest = dir.path().join("out");
    // A typed table of the run's own whose one field no document has: every
    // row is all NULL, and the report counts them.
    std::fs::write(dir.path().join("nothing.ddl"), "nothing_here STRING").unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        format!(
            "[[tables]]\ncollection = \"{PARTS}\"\nname = \"nothing\"\nsource = \"export\"\nreplace = \"table\"\nschema_file = \"nothing.ddl\"\n"
        ),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    succeeded(&run(
        PARTS,
        &source,
        &dest,
        &url,
        &[
            "--update",
            "--since",
            DATE,
            "--config",
            config.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    ));
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let derived = &report["days"][0]["derived"];
    let export_dir = dest.join(format!(
        "corporate_data_ingestion/exports/calculator/calculationParts/{DATE}"
    ));
    let export = read(&export_dir, "orc");
    let parts = read(&table_dir(&dest, PARTS, "src_calculator_parts"), "parquet");
    let amounts = read(
        &table_dir(&dest, PARTS, "src_calculator_amounts"),
        "parquet",
    );
    assert!(!export.is_empty());
    assert_eq!(
        derived["table:src_calculator_parts"]["all_null_rows"], 0,
        "{derived}"
    );
    assert_eq!(
        derived["table:nothing"]["all_null_rows"],
        export.len(),
        "{derived}"
    );
    assert_eq!(parts.len(), export.len());
    assert_eq!(amounts.len(), export.len());
    let typed: BTreeMap<String, Value> = parts
        .iter()
        .map(|r| (r["_id"]["id"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(typed.len(), export.len(), "one typed row per exported id");
    for row in &export {
        let doc: Value = serde_json::from_str(row["val"].as_str().unwrap()).unwrap();
        let t = &typed[doc["_id"]["id"].as_str().unwrap()];
        assert_eq!(t["contractId"], doc["contractId"]);
        assert_eq!(t["amountPence"], doc["amountPence"]);
        assert_eq!(t["status"], doc["status"]);
        // DECIMAL(12,2) from the document's number.
        let amount = doc["amount"].as_f64().unwrap();
        assert_eq!(t["amount"], format!("{amount:.2}"));
        let start = doc["assessmentPeriod"]["startDate"]["d_date"]
            .as_str()
            .unwrap();
        assert_eq!(t["assessmentPeriod"]["startDate"]["d_date"], utc(start));
        let end = doc["assessmentPeriod"]["endDate"]["d_date"]
            .as_str()
            .unwrap();
        assert_eq!(t["assessmentPeriod"]["endDate"]["d_date"], utc(end));
        let parts = doc["parts"].as_array().unwrap();
        assert_eq!(t["parts"].as_array().unwrap().len(), parts.len());
    }
}

#[test]
fn weir_tables_lists_them_and_spark_registers_them_with_their_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _dks, url) = day(dir.path(), &[AUDIT]);
    let dest = dir.path().join("out");
    let dest_arg = dest.to_str().unwrap();
    let listed = |args: &[&str]| {
        let mut all = vec!["tables"];
        all.extend_from_slice(args);
        all.extend([
            "--collection",
            AUDIT,
            "--collection",
            PARTS,
            "--dest",
            dest_arg,
        ]);
        let out = weir(&all, &[]);
        succeeded(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    // Before any run: defined, never published.
    let before: Value = serde_json::from_str(&listed(&["--json"])).unwrap();
    assert_eq!(before.as_array().unwrap().len(), 6, "{before}");
    assert!(
        before
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["last_change"].is_null())
    );

    succeeded(&run(AUDIT, &source, &dest, &url, &[], &[]));
    let after: Value = serde_json::from_str(&listed(&["--json"])).unwrap();
    let audit: Vec<&Value> = after
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["collection"] == AUDIT)
        .collect();
    let raw_rows = read(&table_dir(&dest, AUDIT, "auditlog_raw"), "parquet").len() as u64;
    for t in &audit {
        assert_eq!(t["partitions"], serde_json::json!([DATE]), "{t}");
        assert_eq!(t["rows"], raw_rows, "{t}");
        assert!(
            t["last_change"].is_string() && t["columns"].is_array(),
            "{t}"
        );
    }
    assert!(listed(&[]).contains("auditlog_redacted"));

    // Spark, with a Hive metastore of its own, registers the tables from the
    // DDL and reads the same rows.
    let ddl = listed(&["ddl"]);
    assert!(
        ddl.contains("CREATE EXTERNAL TABLE IF NOT EXISTS `auditlog`"),
        "{ddl}"
    );
    let work = dir.path().join("spark");
    std::fs::create_dir_all(&work).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut spark = Command::new(root.join("scripts/py-readers"))
        .arg(root.join("tests/data/spark_ddl.py"))
        .arg(&work)
        .arg("SELECT count(*), count(DISTINCT audit_id) FROM auditlog")
        .arg("SELECT date_str, count(*) FROM auditlog_redacted GROUP BY date_str")
        .current_dir(&work)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    spark
        .stdin
        .take()
        .unwrap()
        .write_all(ddl.as_bytes())
        .unwrap();
    let out = spark.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answers["SELECT count(*), count(DISTINCT audit_id) FROM auditlog"],
        serde_json::json!([[raw_rows, raw_rows]])
    );
    assert_eq!(
        answers["SELECT date_str, count(*) FROM auditlog_redacted GROUP BY date_str"],
        serde_json::json!([[DATE, raw_rows]])
    );
}
