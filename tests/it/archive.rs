//! The input archive (issue 17): on the reference generator's input, a day
//! archived byte for byte with a checksum manifest (checked by `sha256sum`),
//! archived again without a copy or an overwrite, archived after a
//! coalescer folded its files into one (read once, not twice), refused when
//! an input file differs from its archived copy, then rebuilt from the
//! archive alone with the source deleted — the same bytes each time, on a
//! cluster's executors too — and refused when an archived file no longer
//! matches its checksum.

use std::path::{Path, PathBuf};
use std::process::Command;

use object_store::ObjectStoreExt;

use weir_engine::report::{DayStatus, RunReport};
use weir_tests::{walk_files, weir_bin};

use crate::merge::{daily_dir, export_bytes};
use crate::merge_reference::{py, reference, reference_dks};

const CALC: &str = "calculator:calculationParts";
const EXPORT: &str = "2023-08-02";
/// 2023-08-01T00:00:00Z, the landing date's midnight.
const PARTITION: &str = "ucfs_main/calculator/calculationParts/file_land_timestamp=1690848000";

fn run(args: &[&str], dir: &Path, dks: &str, report: &str) -> (bool, String, Option<RunReport>) {
    let report = dir.join(report);
    let out = Command::new(weir_bin())
        .args(["run", "--collection", CALC, "--date", EXPORT])
        .arg("--source")
        .arg(dir.join("corp"))
        .arg("--dest")
        .arg(dir.join("dest"))
        .arg("--archive-input")
        .arg(dir.join("archive"))
        .args([
            "--dks-url",
            dks,
            "--max-corrupt-ratio",
            "0.1",
            "--partitions",
            "1",
        ])
        .arg("--report")
        .arg(&report)
        .args(args)
        .output()
        .unwrap();
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read(&report)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (out.status.success(), stderr, report)
}

fn input_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk_files(&dir.join("corp"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".jsonl.gz"))
        .collect();
    files.sort();
    files
}

/// The published daily holds `want`'s bytes (one task reads the files in
/// name order, so a coalesced file of the same lines gives the same rows in
/// the same order).
#[track_caller]
fn assert_same(daily: &Path, want: &std::collections::BTreeMap<String, Vec<Vec<u8>>>) {
    let got = export_bytes(daily);
    let differ: Vec<&String> = want
        .keys()
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty() && got.len() == want.len(),
        "the daily differs in {differ:?} ({} directories, {} wanted)",
        got.len(),
        want.len()
    );
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The newest manifest of the day's partition.
fn newest_manifest(archive: &Path) -> serde_json::Value {
    let dir = archive.join(PARTITION).join("_manifests");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    serde_json::from_slice(&std::fs::read(names.last().unwrap()).unwrap()).unwrap()
}

#[test]
fn a_day_is_archived_immutably_and_rebuilt_from_the_archive_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = py()
        .arg(reference("gen_corporate.py"))
        .arg("--out")
        .arg(dir.join("corp"))
        .args(["--records", "300", "--files-per-day", "3"])
        .args(["--collections", CALC, "--dates", "2023-08-01..2023-08-01"])
        .args(["--duplicate-rate", "0.02", "--corrupt-rate", "0.01"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dks = reference_dks(dir);
    let archive = dir.join("archive");
    let daily = daily_dir(&dir.join("dest"), EXPORT);
    let inputs = input_files(dir);
    assert_eq!(inputs.len(), 3);

    // 1. Archived, then read from the archive.
    let (ok, log, report) = run(&[], dir, &dks.url, "r1.json");
    assert!(ok, "{log}");
    let day = &report.unwrap().days[0];
    assert_eq!(day.status, DayStatus::Published);
    let archived = day.archive.clone().expect("the report names the archive");
    assert_eq!((archived.copied, archived.already_archived), (3, 0));
    let manifest = newest_manifest(&archive);
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for input in &inputs {
        let name = input.file_name().unwrap().to_str().unwrap();
        let copy = archive.join(PARTITION).join(name);
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(input).unwrap());
        let entry = listed.iter().find(|f| f["name"] == name).unwrap();
        assert_eq!(entry["sha256"], sha256sum(input).as_str());
        assert_eq!(entry["bytes"], std::fs::metadata(input).unwrap().len());
    }
    let published = export_bytes(&daily);
    assert!(!published.is_empty());

    // 2. Archived again: nothing copied, nothing rewritten.
    let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let copies: Vec<PathBuf> = inputs
        .iter()
        .map(|i| archive.join(PARTITION).join(i.file_name().unwrap()))
        .collect();
    let before: Vec<_> = copies.iter().map(|c| modified(c)).collect();
    let (ok, log, report) = run(&[], dir, &dks.url, "r2.json");
    assert!(ok, "{log}");
    let archived = report.unwrap().days[0].archive.clone().unwrap();
    assert_eq!((archived.copied, archived.already_archived), (0, 3));
    let after: Vec<_> = copies.iter().map(|c| modified(c)).collect();
    assert_eq!(before, after, "an archived file was written again");
    assert_same(&daily, &published);

    // 3. A coalescer folds the three files into one (gzip members
    // concatenated) and deletes them: the new file is archived, the day is
    // read from it alone, and gives the same bytes.
    let coalesced = inputs[0].with_file_name("calculator.calculationParts_coalesced.jsonl.gz");
    let mut joined = Vec::new();
    for input in &inputs {
        joined.extend(std::fs::read(input).unwrap());
        std::fs::remove_file(input).unwrap();
    }
    std::fs::write(&coalesced, &joined).unwrap();
    let (ok, log, report) = run(&[], dir, &dks.url, "r3.json");
    assert!(ok, "{log}");
    let day = &report.unwrap().days[0];
    assert_eq!(day.files, 1);
    assert_eq!(day.archive.as_ref().unwrap().copied, 1);
    assert_same(&daily, &published);
    assert_eq!(
        newest_manifest(&archive)["files"].as_array().unwrap().len(),
        1
    );

    // 4. An input file that differs from its archived copy is refused,
    // naming it; the archived copy is untouched.
    let kept = std::fs::read(&copies[0]).unwrap();
    std::fs::write(&inputs[0], b"not the archived bytes").unwrap();
    let (ok, log, _) = run(&[], dir, &dks.url, "r4.json");
    assert!(!ok);
    let name = inputs[0].file_name().unwrap().to_str().unwrap();
    assert!(
        log.contains("differs from its archived copy") && log.contains(name),
        "{log}"
    );
    assert_eq!(std::fs::read(&copies[0]).unwrap(), kept);
    assert_same(&daily, &published);

    // 5. The source gone: rebuilt from the archive alone, checksums checked.
    std::fs::remove_dir_all(dir.join("corp")).unwrap();
    let (ok, log, report) = run(&["--source-archive"], dir, &dks.url, "r5.json");
    assert!(ok, "{log}");
    let day = &report.unwrap().days[0];
    assert_eq!(day.archive.as_ref().unwrap().verified, 1);
    assert_same(&daily, &published);

    // 5b. The same replay on a cluster (a scheduler and two executors):
    // the executors read the archive, with the same bytes.
    std::fs::create_dir_all(dir.join("cluster")).unwrap();
    let cluster = weir_tests::TestCluster::start(&dir.join("cluster"), 2, &[]);
    let (ok, log, report) = run(
        &["--source-archive", "--cluster", &cluster.url()],
        dir,
        &dks.url,
        "r5b.json",
    );
    assert!(ok, "{log}");
    let day = &report.unwrap().days[0];
    assert_eq!(day.status, DayStatus::Published);
    assert!(
        !day.tasks.is_empty() && day.tasks.iter().all(|t| t.executor.starts_with("exec-")),
        "{:?}",
        day.tasks
    );
    assert_same(&daily, &published);
    drop(cluster);

    // 6. An archived file changed behind Weir's back is refused.
    let copy = archive.join(PARTITION).join(coalesced.file_name().unwrap());
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&copy, &bytes).unwrap();
    let (ok, log, _) = run(&["--source-archive"], dir, &dks.url, "r6.json");
    assert!(!ok);
    assert!(log.contains("does not match its manifest"), "{log}");
    assert_same(&daily, &published);
}

/// On S3 (moto): the archive is a bucket of its own; the archived objects
/// are the input's bytes; archiving again copies nothing; with the input
/// deleted, `--source-archive` publishes the same objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_the_archive_is_written_once_and_replays_the_day() {
    use crate::s3::{client, download, weir_at};
    let s = crate::merge::Setup::new();
    let (moto, config) = s.on_moto().await;
    moto.create_bucket("archive");
    let report = s.path("report.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--collection",
            CALC,
            "--date",
            crate::merge::DAYS[0],
            "--config",
            config.to_str().unwrap(),
            "--source",
            "s3://corporate",
            "--dest",
            "s3://published/weir",
            "--archive-input",
            "s3://archive/raw",
            "--dks-url",
            &s.dks_url,
            "--max-corrupt-ratio",
            "0.1",
            "--partitions",
            "1",
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = weir_at(None, &args);
        assert!(
            out.status.success(),
            "weir {args:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<RunReport>(&std::fs::read(&report).unwrap()).unwrap()
    };
    let first = run(&[]);
    let archived = first.days[0].archive.clone().unwrap();
    assert!(archived.copied > 0);
    assert!(
        archived.manifest.starts_with("s3://archive/raw/"),
        "{archived:?}"
    );
    let corporate = client(&moto, "corporate");
    // The landing day of the first export date.
    let inputs = download(
        &corporate,
        "corporate_storage/ucfs_main/2023/08/01",
        &s.path("in"),
    )
    .await;
    let archive = client(&moto, "archive");
    let copies = download(&archive, "raw", &s.path("arch")).await;
    let data: Vec<&String> = copies
        .iter()
        .filter(|k| !k.contains("/_manifests/"))
        .collect();
    assert_eq!(data.len(), inputs.len());
    for key in &inputs {
        let name = key.rsplit('/').next().unwrap();
        let copy = data
            .iter()
            .find(|k| k.ends_with(&format!("/{name}")))
            .unwrap();
        assert!(copy.starts_with("raw/ucfs_main/calculator/calculationParts/file_land_timestamp="));
        assert_eq!(
            std::fs::read(s.path("in").join(key)).unwrap(),
            std::fs::read(s.path("arch").join(copy)).unwrap()
        );
    }
    let published = download(
        &client(&moto, "published"),
        "weir/corporate_data_ingestion/orc",
        &s.path("p1"),
    )
    .await;

    let again = run(&[]);
    let archived = again.days[0].archive.clone().unwrap();
    assert_eq!(
        (archived.copied, archived.already_archived),
        (0, inputs.len())
    );

    for key in &inputs {
        corporate
            .delete(&object_store::path::Path::from(key.as_str()))
            .await
            .unwrap();
    }
    let replayed = run(&["--source-archive"]);
    assert_eq!(replayed.days[0].status, DayStatus::Published);
    assert_eq!(
        replayed.days[0].archive.as_ref().unwrap().verified,
        inputs.len()
    );
    let republished = download(
        &client(&moto, "published"),
        "weir/corporate_data_ingestion/orc",
        &s.path("p2"),
    )
    .await;
    // Same objects but for the run's token in their names: the same bytes
    // in each directory.
    let by_dir = |keys: &[String], root: &Path| -> std::collections::BTreeMap<String, Vec<u8>> {
        keys.iter()
            .filter(|k| k.ends_with(".orc"))
            .map(|k| {
                let dir = k.rsplit_once('/').unwrap().0.to_owned();
                (dir, std::fs::read(root.join(k)).unwrap())
            })
            .collect()
    };
    let before = by_dir(&published, &s.path("p1"));
    assert!(!before.is_empty());
    assert_eq!(before, by_dir(&republished, &s.path("p2")));
}
