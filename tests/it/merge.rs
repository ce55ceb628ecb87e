//! The snapshot merge (issue 14): calculationParts' full export, day after
//! day. Four landing days with deletes arriving days after their inserts,
//! ids inserted again after their delete, Kafka redeliveries (the same line
//! twice, in a day and on the next day) and corrupt records. Exports are
//! read back with pyarrow and checked by the reference toolkit's own
//! recomputation of the old job's merge (`shared/reference/check_merge.py`),
//! chained and all-at-once merges give the same bytes, failures publish
//! nothing, the old job's export is accepted as the previous one, and a
//! cluster (with an executor killed mid-merge) gives the local bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use weir_engine::merge::{ExportOrigin, SourceKind};
use weir_engine::report::{DayStatus, RunReport};
use weir_testkit::k2hb::LineBuilder;
use weir_tests::{TestCluster, walk_files, weir_bin};

pub(crate) const CALC: &str = "calculator:calculationParts";
pub(crate) const DAYS: [&str; 4] = ["2023-08-02", "2023-08-03", "2023-08-04", "2023-08-05"];
/// New entities a landing day inserts.
pub(crate) const PER_DAY: usize = 240;

pub(crate) fn id_of(n: usize) -> String {
    // 16 id_parts.
    format!("{:02x}{n:06}-e", (n * 7) % 16)
}

fn stamp(day: usize, second: usize) -> String {
    format!(
        "2023-08-{:02}T{:02}:{:02}:{:02}.000Z",
        day + 1,
        8 + second / 3600,
        (second / 60) % 60,
        second % 60
    )
}

fn insert_doc(n: usize, day: usize, second: usize) -> String {
    format!(
        r#"{{"_id": {{"id": "{}"}}, "n": {n}, "day": {day}, "_lastModifiedDateTime": {{"$date": "{}"}}}}"#,
        id_of(n),
        stamp(day, second)
    )
}

fn delete_doc(n: usize, day: usize, second: usize) -> String {
    format!(
        r#"{{"_id": {{"id": "{}"}}, "n": {n}, "_removedDateTime": {{"$date": "{t}"}}, "_lastModifiedDateTime": {{"$date": "{t}"}}}}"#,
        id_of(n),
        t = stamp(day, second)
    )
}

/// The corrupt records' ids: never in an export.
fn bad_id(day: usize, i: usize) -> String {
    format!("0bad-{day}-{i}")
}

/// Writes the four landing days under `root` and the keys file; returns
/// the source root.
fn landing(root: &Path) -> PathBuf {
    let source = root.join("source");
    let builder = LineBuilder::new("calculator", "calculationParts");
    let mut carried: Vec<Vec<u8>> = Vec::new();
    for day in 0..DAYS.len() {
        let mut lines: Vec<Vec<u8>> = std::mem::take(&mut carried);
        let line = |doc: &str, n: &str| {
            let mut b = builder.clone();
            b.id_json = format!(r#"{{"id": "{n}"}}"#);
            b.line(doc.as_bytes())
        };
        let mut second = 0;
        let mut tick = || {
            second += 7;
            second
        };
        for n in day * PER_DAY..(day + 1) * PER_DAY {
            let l = line(&insert_doc(n, day, tick()), &id_of(n));
            // Kafka redelivers: twice in the day, or again the next day.
            if n % 13 == 0 {
                lines.push(l.clone());
            }
            if n % 17 == 0 && day + 1 < DAYS.len() {
                carried.push(l.clone());
            }
            lines.push(l);
            // Deleted the day it was inserted.
            if n % 11 == 0 {
                lines.push(line(&delete_doc(n, day, tick()), &id_of(n)));
            }
        }
        // Deletes of earlier days' entities, one day per entity.
        for n in (0..day * PER_DAY).filter(|n| n % 7 == day && n % 11 != 0) {
            lines.push(line(&delete_doc(n, day, tick()), &id_of(n)));
        }
        // Inserted again after yesterday's delete, later: the delete stays.
        if day >= 2 {
            for n in (0..(day - 1) * PER_DAY).filter(|n| n % 7 == day - 1 && n % 11 != 0) {
                lines.push(line(&insert_doc(n, day, tick()), &id_of(n)));
            }
        }
        for i in 0..2 {
            let mut b = builder.clone();
            b.id_json = format!(r#"{{"id": "{}"}}"#, bad_id(day, i));
            lines.push(b.line(br#"{"_id": {"id": "truncated"#));
        }
        let dir = source.join(format!(
            "corporate_storage/ucfs_main/2023/08/{:02}/calculator/calculationParts",
            day + 1
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (f, chunk) in lines.chunks(lines.len().div_ceil(2)).enumerate() {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            for l in chunk {
                gz.write_all(l).unwrap();
                gz.write_all(b"\n").unwrap();
            }
            std::fs::write(
                dir.join(format!(
                    "calculator.calculationParts_{f}_{}.jsonl.gz",
                    f * 1000
                )),
                gz.finish().unwrap(),
            )
            .unwrap();
        }
    }
    let keys = serde_json::json!({ "keys": { builder.wrapped_key.clone(): {
        "keyEncryptionKeyId": "cloudhsm:1,2",
        "plaintextDataKey": weir_engine::record::base64::encode(&builder.key),
    }}});
    std::fs::write(root.join("keys.json"), keys.to_string()).unwrap();
    source
}

pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) source: PathBuf,
    pub(crate) dks_url: String,
    _dks: weir_tests::Process,
}

impl Setup {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = landing(dir.path());
        let (dks, dks_url) = weir_tests::spawn_dks(
            &dir.path().join("master.key"),
            Some(&dir.path().join("keys.json")),
            &[],
        );
        Self {
            dir,
            source,
            dks_url,
            _dks: dks,
        }
    }

    /// moto with the scenario in its bucket `corporate` and an empty
    /// `published`; and a config file reaching it.
    pub(crate) async fn on_moto(&self) -> (weir_tests::Moto, PathBuf) {
        use crate::s3::{client, config_file, upload_tree};
        let moto = weir_tests::Moto::start();
        moto.create_bucket("corporate");
        moto.create_bucket("published");
        upload_tree(&client(&moto, "corporate"), &self.source).await;
        let config = config_file(self.dir.path(), &moto, "");
        (moto, config)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `weir <command>` over the scenario into `dest`, with `extra`.
    pub(crate) fn args(&self, command: &str, dest: &str, extra: &[&str]) -> Vec<String> {
        let report = self.path(&format!("{dest}-{}.json", rand_suffix()));
        let mut args: Vec<String> = [
            command,
            "--collection",
            CALC,
            "--source",
            self.source.to_str().unwrap(),
            "--dest",
            self.path(dest).to_str().unwrap(),
            "--dks-url",
            &self.dks_url,
            "--max-corrupt-ratio",
            "0.1",
            "--partitions",
            "3",
            "--report",
            report.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn weir(args: &[String]) -> Output {
    Command::new(weir_bin()).args(args).output().unwrap()
}

pub(crate) fn report_of(args: &[String]) -> RunReport {
    let at = args.iter().position(|a| a == "--report").unwrap() + 1;
    serde_json::from_str(&std::fs::read_to_string(&args[at]).unwrap()).unwrap()
}

pub(crate) fn weir_ok(args: &[String]) -> RunReport {
    let out = weir(args);
    assert!(
        out.status.success(),
        "weir {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    report_of(args)
}

/// `weir` that must fail; its report.
fn weir_fails(args: &[String]) -> RunReport {
    let out = weir(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "weir {args:?} should fail\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    report_of(args)
}

fn export_dir(dest: &Path, date: &str) -> PathBuf {
    dest.join(format!(
        "corporate_data_ingestion/exports/calculator/calculationParts/{date}"
    ))
}

pub(crate) fn daily_dir(dest: &Path, date: &str) -> PathBuf {
    let (y, rest) = date.split_once('-').unwrap();
    let (m, d) = rest.split_once('-').unwrap();
    dest.join(format!(
        "corporate_data_ingestion/orc/daily/calculator/calculationParts/export_year={y}/export_month={m}/export_day={d}"
    ))
}

/// An export's files by `id_part` directory: each directory's files' bytes
/// in name order (names hold task and attempt tokens, bytes do not).
pub(crate) fn export_bytes(dir: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for file in walk_files(dir) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('_') {
            continue;
        }
        let part = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        // part-<task>-<file>-<attempt>: the file's number orders it.
        let index = name.split('-').nth(2).unwrap_or_default().to_owned();
        out.entry(part)
            .or_default()
            .push((index, std::fs::read(&file).unwrap()));
    }
    out.into_iter()
        .map(|(part, mut files)| {
            files.sort();
            (part, files.into_iter().map(|(_, b)| b).collect())
        })
        .collect()
}

/// Two exports hold the same bytes in every `id_part` directory (the
/// message lists the directories that differ, not the bytes).
#[track_caller]
fn assert_same_export(got: &BTreeMap<String, Vec<Vec<u8>>>, want: &BTreeMap<String, Vec<Vec<u8>>>) {
    let differ: Vec<&String> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} id_part directories differ: {differ:?}",
        differ.len(),
        want.len()
    );
}

fn py(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(root.join("scripts/py-readers"))
        .args(args)
        .output()
        .unwrap()
}

fn merge_rows(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/merge_rows.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = py(&all);
    assert!(
        out.status.success(),
        "merge_rows.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The reference toolkit's recomputation of the old job's merge over the
/// dailies (and a previous export): its JSON summary.
pub(crate) fn check_merge(
    work: &Path,
    dest: &Path,
    export_date: &str,
    dailies: &[&str],
    previous: Option<(&Path, &str)>,
) -> serde_json::Value {
    let export = work.join(format!("export-{export_date}-{}.jsonl.gz", rand_suffix()));
    merge_rows(&[
        "export",
        export_dir(dest, export_date).to_str().unwrap(),
        export.to_str().unwrap(),
    ]);
    let mut daily_files = Vec::new();
    for d in dailies {
        let f = work.join(format!("daily-{d}-{}.jsonl.gz", rand_suffix()));
        merge_rows(&[
            "daily",
            daily_dir(dest, d).to_str().unwrap(),
            d,
            f.to_str().unwrap(),
        ]);
        daily_files.push(f.to_str().unwrap().to_owned());
    }
    let checker = weir_tests::shared_dir().join("reference/check_merge.py");
    let mut args: Vec<String> = vec![
        checker.to_str().unwrap().to_owned(),
        export.to_str().unwrap().to_owned(),
        "--dailies".to_owned(),
    ];
    args.extend(daily_files);
    if let Some((p, d)) = previous {
        args.extend([
            "--previous".to_owned(),
            p.to_str().unwrap().to_owned(),
            "--previous-date".to_owned(),
            d.to_owned(),
        ]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = py(&refs);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "check_merge.py found differences:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

pub(crate) fn exported_ids(work: &Path, dest: &Path, date: &str) -> Vec<serde_json::Value> {
    let out = work.join(format!("ids-{date}-{}.jsonl.gz", rand_suffix()));
    merge_rows(&[
        "export",
        export_dir(dest, date).to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    weir_tests::gz_lines(&out)
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[test]
fn day_after_day_the_export_is_the_old_jobs_and_chaining_equals_one_merge() {
    let s = Setup::new();
    let work = s.path("work");
    std::fs::create_dir_all(&work).unwrap();
    // The daily job with --update, from the first day (no export before).
    let args = s.args(
        "run",
        "updated",
        &[
            "--update",
            "--since",
            DAYS[0],
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[3],
        ],
    );
    let report = weir_ok(&args);
    let updated = s.path("updated");
    for (i, day) in report.days.iter().enumerate() {
        assert_eq!(day.status, DayStatus::Published);
        assert_eq!(day.corrupt, 2, "{day:#?}");
        let merge = day.merge.as_ref().expect("a merge each day");
        assert_eq!(merge.export_date, DAYS[i]);
        assert!(day.derived.contains_key("export"));
        let kinds: Vec<SourceKind> = merge.sources.iter().map(|s| s.kind).collect();
        if i == 0 {
            assert!(merge.previous_export.is_none());
            assert!(merge.started_from.is_some(), "{merge:#?}");
            assert_eq!(kinds, vec![SourceKind::StagedDay]);
        } else {
            let previous = merge.previous_export.as_ref().unwrap();
            assert_eq!(previous.export_date, DAYS[i - 1]);
            assert_eq!(previous.written_by, Some(ExportOrigin::Weir));
            assert_eq!(
                previous.rows_in,
                report.days[i - 1].merge.as_ref().unwrap().rows_out
            );
            assert_eq!(
                kinds,
                vec![SourceKind::PreviousExport, SourceKind::StagedDay]
            );
        }
        // Every row read is kept or collapsed; the staged day's rows are
        // the day's published rows.
        assert_eq!(merge.rows_in, merge.rows_out + merge.duplicates_collapsed);
        assert_eq!(merge.sources.last().unwrap().rows_in, day.records_out);
        assert_eq!(merge.inserts + merge.deletes, merge.rows_out);
        assert!(merge.duplicates_collapsed > 0 && merge.deletes > 0);
    }
    // The old job's rule, recomputed by the reference toolkit from the
    // dailies pyarrow reads back: after two days and after four.
    let two = check_merge(&work, &updated, DAYS[1], &DAYS[..2], None);
    let four = check_merge(&work, &updated, DAYS[3], &DAYS, None);
    assert!(
        four["ids_with_insert_and_delete"].as_u64().unwrap() > 0,
        "{four}"
    );
    assert!(
        four["export_DELETE"].as_u64().unwrap() > two["export_DELETE"].as_u64().unwrap(),
        "deletes arrive on later days: {two} {four}"
    );
    let last = report.days[3].merge.as_ref().unwrap();
    assert_eq!(four["export_rows"].as_u64().unwrap(), last.rows_out);
    // Corrupt records never reach an export.
    let rows = exported_ids(&work, &updated, DAYS[3]);
    assert!(
        rows.iter()
            .all(|r| !r["id"].as_str().unwrap().contains("0bad")),
        "a corrupt record's id in the export"
    );

    // The dailies alone, then the merge alone over all four at once.
    weir_ok(&s.args(
        "run",
        "once",
        &["--start-date", DAYS[0], "--end-date", DAYS[3]],
    ));
    let once = s.path("once");
    let merge = s.args("merge", "once", &["--since", DAYS[0], "--date", DAYS[3]]);
    let merged = weir_ok(&merge);
    let day = &merged.days[0];
    assert_eq!(day.records_in, 0);
    let kinds: Vec<SourceKind> = day
        .merge
        .as_ref()
        .unwrap()
        .sources
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds, vec![SourceKind::Daily; 4]);
    let chained = export_bytes(&export_dir(&updated, DAYS[3]));
    assert!(chained.len() >= 8, "id_part directories: {}", chained.len());
    assert_same_export(&export_bytes(&export_dir(&once, DAYS[3])), &chained);
    // A rerun gives the same bytes.
    weir_ok(&s.args("merge", "once", &["--since", DAYS[0], "--date", DAYS[3]]));
    assert_same_export(&export_bytes(&export_dir(&once, DAYS[3])), &chained);
    // Chained by `weir merge`: day 2 from the dailies, then day 4 from it.
    weir_ok(&s.args("merge", "once", &["--since", DAYS[0], "--date", DAYS[1]]));
    let from_two = weir_ok(&s.args("merge", "once", &["--date", DAYS[3]]));
    let previous = from_two.days[0]
        .merge
        .as_ref()
        .unwrap()
        .previous_export
        .clone()
        .unwrap();
    assert_eq!(previous.export_date, DAYS[1]);
    assert_same_export(&export_bytes(&export_dir(&once, DAYS[3])), &chained);
}

#[test]
fn a_merge_without_its_inputs_or_that_fails_publishes_nothing() {
    let s = Setup::new();
    let dest = s.path("dest");
    weir_ok(&s.args(
        "run",
        "dest",
        &["--start-date", DAYS[0], "--end-date", DAYS[3]],
    ));
    // A format the merge cannot read is refused before the day is read.
    let report = weir_fails(&s.args(
        "run",
        "refused",
        &[
            "--update", "--since", DAYS[0], "--date", DAYS[0], "--format", "jsonl",
        ],
    ));
    let error = report.days[0].error.clone().unwrap();
    assert!(error.contains("ORC or Parquet, not jsonl"), "{error}");
    assert_eq!(report.days[0].records_in, 0);
    assert!(walk_files(&s.path("refused")).is_empty());
    // No export before, and no --since: no hard-coded date.
    let report = weir_fails(&s.args("merge", "dest", &["--date", DAYS[3]]));
    let error = report.days[0].error.clone().unwrap();
    assert!(
        error.contains("no complete export before 2023-08-05") && error.contains("--since"),
        "{error}"
    );
    assert!(!export_dir(&dest, DAYS[3]).exists());

    // A daily missing in the range: named; merged without it only when asked.
    let marker = daily_dir(&dest, DAYS[1]).join("_SUCCESS");
    std::fs::remove_file(&marker).unwrap();
    let report = weir_fails(&s.args("merge", "dest", &["--since", DAYS[0], "--date", DAYS[3]]));
    let error = report.days[0].error.clone().unwrap();
    assert!(
        error.contains("no complete daily") && error.contains(DAYS[1]),
        "{error}"
    );
    assert_eq!(report.days[0].fault, Some(weir_engine::Fault::Input));
    let report = weir_ok(&s.args(
        "merge",
        "dest",
        &[
            "--since",
            DAYS[0],
            "--date",
            DAYS[3],
            "--allow-missing-days",
        ],
    ));
    assert_eq!(
        report.days[0].merge.as_ref().unwrap().missing_days,
        vec![DAYS[1].to_owned()]
    );
    std::fs::write(&marker, b"").unwrap();
    weir_ok(&s.args("merge", "dest", &["--since", DAYS[0], "--date", DAYS[3]]));

    // A daily file that cannot be read fails the merge, naming it; the
    // export published before stays byte for byte.
    let before = export_bytes(&export_dir(&dest, DAYS[3]));
    let broken = walk_files(&daily_dir(&dest, DAYS[2]))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "orc"))
        .unwrap();
    let good = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, b"not an ORC file at all").unwrap();
    let report = weir_fails(&s.args("merge", "dest", &["--since", DAYS[0], "--date", DAYS[3]]));
    let error = report.days[0].error.clone().unwrap();
    assert!(
        error.contains(&broken.file_name().unwrap().to_string_lossy().to_string()),
        "{error}"
    );
    assert_same_export(&export_bytes(&export_dir(&dest, DAYS[3])), &before);
    std::fs::write(&broken, good).unwrap();

    // Inside the day's commit: a failing merge publishes neither the
    // export nor the day, and the previous ones stay.
    weir_ok(&s.args("merge", "dest", &["--since", DAYS[0], "--date", DAYS[2]]));
    let daily_before: Vec<Vec<u8>> = walk_files(&daily_dir(&dest, DAYS[3]))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let previous_export = walk_files(&export_dir(&dest, DAYS[2]))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "orc"))
        .unwrap();
    let good = std::fs::read(&previous_export).unwrap();
    std::fs::write(&previous_export, b"garbage").unwrap();
    let report = weir_fails(&s.args("run", "dest", &["--update", "--date", DAYS[3]]));
    let error = report.days[0].error.clone().unwrap();
    assert!(error.contains("step merge"), "{error}");
    let daily_after: Vec<Vec<u8>> = walk_files(&daily_dir(&dest, DAYS[3]))
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(daily_after, daily_before, "the day stayed as it was");
    assert_same_export(&export_bytes(&export_dir(&dest, DAYS[3])), &before);
    std::fs::write(&previous_export, good).unwrap();
    let report = weir_ok(&s.args("run", "dest", &["--update", "--date", DAYS[3]]));
    assert_same_export(&export_bytes(&export_dir(&dest, DAYS[3])), &before);
    assert_eq!(
        report.days[0].merge.as_ref().unwrap().sources[1].kind,
        SourceKind::StagedDay
    );
}

#[test]
fn the_old_jobs_export_is_accepted_as_the_previous_one() {
    let s = Setup::new();
    let work = s.path("work");
    std::fs::create_dir_all(&work).unwrap();
    // The first day's export, as the old job would have written it: its
    // columns (a `row_number`, no `last_modified`), its layout, rows in no
    // order; plus stale rows of ids the next day changes, which must lose
    // to the dailies after the export.
    weir_ok(&s.args(
        "run",
        "first",
        &["--update", "--since", DAYS[0], "--date", DAYS[0]],
    ));
    let rows = exported_ids(&work, &s.path("first"), DAYS[0]);
    // The old export's columns of a row (with another val, if given).
    let old_row = |r: &serde_json::Value, val: Option<&str>| {
        let val = val.map_or_else(|| r["val"].clone(), serde_json::Value::from);
        serde_json::json!({"id": r["id"], "id_part": r["id_part"], "db_type": r["db_type"], "val": val})
    };
    let previous = work.join("previous.jsonl.gz");
    {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for r in &rows {
            writeln!(gz, "{}", old_row(r, None)).unwrap();
        }
        std::fs::write(&previous, gz.finish().unwrap()).unwrap();
    }
    let old = s.path("old/exports/calculationParts").join(DAYS[0]);
    std::fs::create_dir_all(&old).unwrap();
    // Stale: entities the next day redelivers unchanged (and nobody
    // deletes) get another val in the old export; the daily's must win.
    let stale: Vec<String> = (0..PER_DAY)
        .filter(|n| n % 17 == 0 && n % 11 != 0 && ![1, 2, 3].contains(&(n % 7)))
        .map(|n| serde_json::json!({ "id": id_of(n) }).to_string())
        .collect();
    assert!(stale.len() >= 5);
    let mut stdin_rows = String::new();
    for r in &rows {
        let stale = stale.iter().any(|id| r["id"] == id.as_str());
        let row = old_row(r, stale.then_some("{\"stale\":true}"));
        stdin_rows.push_str(&format!("{row}\n"));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/merge_rows.py");
    let mut child =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/py-readers"))
            .args([
                script.to_str().unwrap(),
                "old-export",
                old.to_str().unwrap(),
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin_rows.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    weir_ok(&s.args(
        "run",
        "dest",
        &["--start-date", DAYS[1], "--end-date", DAYS[3]],
    ));
    let report = weir_ok(&s.args(
        "merge",
        "dest",
        &[
            "--previous-export",
            old.to_str().unwrap(),
            "--date",
            DAYS[3],
        ],
    ));
    let merge = report.days[0].merge.as_ref().unwrap();
    let previous_used = merge.previous_export.as_ref().unwrap();
    assert_eq!(previous_used.written_by, Some(ExportOrigin::Other));
    assert_eq!(previous_used.export_date, DAYS[0]);
    assert_eq!(previous_used.rows_in, rows.len() as u64);
    // The old job's rule over (the export without its stale rows) and the
    // dailies after it: the stale rows lost to the later dailies.
    check_merge(
        &work,
        &s.path("dest"),
        DAYS[3],
        &DAYS[1..],
        Some((&previous, DAYS[0])),
    );
    // The same export as Weir's own chain from the first day.
    weir_ok(&s.args(
        "run",
        "first",
        &["--update", "--start-date", DAYS[1], "--end-date", DAYS[3]],
    ));
    let rows_of = |dest: &str| -> Vec<(String, String, String)> {
        exported_ids(&work, &s.path(dest), DAYS[3])
            .iter()
            .map(|r| {
                (
                    r["id"].to_string(),
                    r["db_type"].to_string(),
                    r["val"].to_string(),
                )
            })
            .collect()
    };
    let (ours, from_old) = (rows_of("first"), rows_of("dest"));
    assert_eq!(from_old, ours);
}

#[test]
fn the_cluster_merges_as_the_local_run_also_when_an_executor_dies() {
    let s = Setup::new();
    weir_ok(&s.args(
        "run",
        "local",
        &["--start-date", DAYS[0], "--end-date", DAYS[3]],
    ));
    weir_ok(&s.args("merge", "local", &["--since", DAYS[0], "--date", DAYS[3]]));
    let local = export_bytes(&export_dir(&s.path("local"), DAYS[3]));

    let logs = s.path("cluster-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut cluster = TestCluster::start(&logs, 2, &[]);
    let url = cluster.url();
    // The day with its merge, on the cluster.
    weir_ok(&s.args(
        "run",
        "cluster",
        &[
            "--cluster",
            &url,
            "--update",
            "--since",
            DAYS[0],
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[3],
        ],
    ));
    assert_eq!(
        export_bytes(&export_dir(&s.path("cluster"), DAYS[3])),
        local
    );

    // The merge alone, with exec-1 killed once it starts merging.
    let args = s.args(
        "merge",
        "cluster",
        &["--cluster", &url, "--since", DAYS[0], "--date", DAYS[3]],
    );
    let mut run = Command::new(weir_bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let victim = cluster.executors[1].log.clone();
    let started = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches("merge task started")
            .count()
    };
    // The merges of the run above are in the log already.
    let before = started(&victim);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed = false;
    while run.try_wait().unwrap().is_none() && Instant::now() < deadline {
        if started(&victim) > before {
            cluster.kill_executor(1);
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = run.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    assert!(
        killed,
        "exec-1 never started a merge task\n{}",
        cluster.logs()
    );
    let report = report_of(&args);
    let merge = report.days[0].merge.as_ref().unwrap();
    // Every id exactly once: the same bytes as the local merge.
    assert_eq!(
        export_bytes(&export_dir(&s.path("cluster"), DAYS[3])),
        local
    );
    assert_eq!(merge.rows_in, merge.rows_out + merge.duplicates_collapsed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_the_previous_export_is_found_and_the_export_matches_the_local_one() {
    use crate::s3::{client, download, weir_at};
    let s = Setup::new();
    weir_ok(&s.args(
        "run",
        "local",
        &[
            "--update",
            "--since",
            DAYS[0],
            "--start-date",
            DAYS[0],
            "--end-date",
            DAYS[1],
        ],
    ));
    let local = export_bytes(&export_dir(&s.path("local"), DAYS[1]));

    let (moto, config) = s.on_moto().await;
    let report = s.path("s3-report.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            extra[0],
            "--collection",
            CALC,
            "--config",
            config.to_str().unwrap(),
            "--source",
            "s3://corporate",
            "--dest",
            "s3://published/weir",
            "--dks-url",
            &s.dks_url,
            "--max-corrupt-ratio",
            "0.1",
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(&extra[1..]);
        let out = weir_at(None, &args);
        assert!(
            out.status.success(),
            "weir {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<RunReport>(&std::fs::read(&report).unwrap()).unwrap()
    };
    // Day one starts the export; day two finds it on S3 by listing.
    run(&["run", "--update", "--since", DAYS[0], "--date", DAYS[0]]);
    let second = run(&["run", "--update", "--date", DAYS[1]]);
    let previous = second.days[0]
        .merge
        .as_ref()
        .unwrap()
        .previous_export
        .clone()
        .unwrap();
    assert_eq!(previous.export_date, DAYS[0]);
    assert!(
        previous.path.starts_with("s3://published/weir/"),
        "{}",
        previous.path
    );
    // And the merge alone, again, over the published dailies.
    run(&["merge", "--date", DAYS[1]]);
    let got = s.path("downloaded");
    download(
        &client(&moto, "published"),
        "weir/corporate_data_ingestion/exports",
        &got,
    )
    .await;
    assert_same_export(
        &export_bytes(&export_dir(&got.join("weir"), DAYS[1])),
        &local,
    );
}
