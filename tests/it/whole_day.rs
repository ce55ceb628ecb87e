//! A property through the whole day (scan → ingest → write → commit, the
//! real operators on a real key service): on arbitrary sets of files and
//! lines — good records, CRLF endings, blank lines, garbage, invalid UTF-8,
//! lines past the length cap, undecryptable records, keys the service
//! refuses, files without a final newline, several gzip members — every
//! input line becomes exactly one published row or one quarantine record,
//! checked by count and by (file, line number).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use weir_engine::output::OutputFormat;
use weir_testkit::dks::{ServeConfig, server};
use weir_tests::LineBuilder;

use crate::run::{context, date, day_dir, run};

const CALC: &str = "calculator:calculationParts";
/// The length cap the property runs with (the smallest the scan keeps).
const MAX_LINE: usize = weir_engine::exec::LONG_LINE_PREFIX;

#[derive(Debug, Clone)]
enum Line {
    /// A valid record (its id is made unique when written).
    Good,
    /// A valid record ending in `\r\n`.
    GoodCrlf,
    Blank,
    /// Bytes without a newline, possibly not UTF-8.
    Garbage(Vec<u8>),
    /// Longer than the cap by this much.
    TooLong(usize),
    /// A valid envelope whose dbObject does not decrypt to JSON.
    BadDocument,
    /// A valid envelope under a key the service does not hold.
    UnknownKey,
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => Just(Line::Good),
        1 => Just(Line::GoodCrlf),
        1 => Just(Line::Blank),
        2 => prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..300)
            .prop_map(Line::Garbage),
        1 => (1usize..3000).prop_map(Line::TooLong),
        1 => Just(Line::BadDocument),
        1 => Just(Line::UnknownKey),
    ]
}

#[derive(Debug, Clone)]
struct File {
    lines: Vec<Line>,
    final_newline: bool,
    /// Split into two gzip members after this many lines.
    members_at: Option<usize>,
}

fn file() -> impl Strategy<Value = File> {
    (
        prop::collection::vec(line(), 0..40),
        any::<bool>(),
        prop::option::of(0usize..40),
    )
        .prop_map(|(lines, final_newline, members_at)| File {
            lines,
            final_newline,
            members_at,
        })
}

/// Writes the files; returns, per (file name, line number), the id a good
/// line must publish under, or `None` for a line that must be quarantined.
fn write_day(source: &Path, files: &[File]) -> BTreeMap<(String, u64), Option<String>> {
    let landing = source.join("corporate_storage/ucfs_main/2023/06/01/calculator/calculationParts");
    std::fs::create_dir_all(&landing).unwrap();
    let builder = LineBuilder::new("calculator", "calculationParts");
    let mut expected = BTreeMap::new();
    for (f, file) in files.iter().enumerate() {
        let name = format!("calculator.calculationParts_{f}_0.jsonl.gz");
        let path = landing.join(&name);
        let mut members = vec![Vec::new()];
        for (n, kind) in file.lines.iter().enumerate() {
            if file.members_at == Some(n) {
                members.push(Vec::new());
            }
            let id = format!("f{f}-l{n}");
            let good = |crlf: bool| {
                let mut b = builder.clone();
                b.id_json = serde_json::json!({ "id": id }).to_string();
                let doc = format!(
                    r#"{{"_id": {}, "n": {n}, "_lastModifiedDateTime": {{"$date": "2023-06-01T10:00:00.000Z"}}}}"#,
                    b.id_json
                );
                let mut line = b.line(doc.as_bytes());
                if crlf {
                    line.push(b'\r');
                }
                line
            };
            let (bytes, publishes) = match kind {
                Line::Good => (good(false), true),
                Line::GoodCrlf => (good(true), true),
                Line::Blank => (Vec::new(), false),
                Line::Garbage(bytes) => (bytes.clone(), false),
                Line::TooLong(over) => (vec![b'x'; MAX_LINE + over], false),
                Line::BadDocument => (builder.line(b"not json {"), false),
                Line::UnknownKey => {
                    let mut b = builder.clone();
                    b.wrapped_key = "a-key-nobody-holds".to_owned();
                    (b.line(br#"{"_id": {"id": "x"}}"#), false)
                }
            };
            let out = members.last_mut().unwrap();
            out.extend_from_slice(&bytes);
            let last = n + 1 == file.lines.len();
            if !last || file.final_newline {
                out.push(b'\n');
            }
            // A last line that is empty and has no newline is no line.
            if last && !file.final_newline && bytes.is_empty() {
                continue;
            }
            expected.insert((name.clone(), n as u64 + 1), publishes.then(|| id.clone()));
        }
        let mut gz = Vec::new();
        for member in members {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&member).unwrap();
            gz.extend(enc.finish().unwrap());
        }
        std::fs::write(&path, gz).unwrap();
    }
    let keys = serde_json::json!({ "keys": { builder.wrapped_key.clone(): {
        "keyEncryptionKeyId": "cloudhsm:1,2",
        "plaintextDataKey": weir_engine::record::base64::encode(&builder.key),
    }}});
    std::fs::write(source.join("keys.json"), keys.to_string()).unwrap();
    expected
}

async fn check_day(files: Vec<File>) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let expected = write_day(&source, &files);
    let mut config = ServeConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("m.key"));
    config.keys_file = Some(source.join("keys.json"));
    let dks = server::start(config).await.unwrap();
    let dest = dir.path().join("out");
    let mut ctx = context(&source, &dest, &dks.url());
    ctx.format = Some(OutputFormat::Jsonl);
    ctx.max_corrupt_ratio = 1.0;
    ctx.max_line_bytes = MAX_LINE;
    ctx.allow_empty = true;
    ctx.batch_lines = 7;
    let report = run(&ctx, &[CALC], &[date("2023-06-02")]).await;
    assert!(report.succeeded(), "{:#?}", report.days);
    let day = &report.days[0];
    let good: Vec<&String> = expected.values().flatten().collect();
    assert_eq!(day.records_in, expected.len() as u64, "lines read");
    assert_eq!(day.records_out, good.len() as u64, "rows");
    assert_eq!(
        day.corrupt,
        (expected.len() - good.len()) as u64,
        "quarantined"
    );

    // Every good line's id once among the rows.
    let mut ids: Vec<String> = Vec::new();
    let data = day_dir(&dest, &report, CALC, "2023-06-02", "jsonl");
    for file in weir_tests::walk_gz(&data) {
        for row in weir_tests::gz_lines(&file) {
            let row: serde_json::Value = serde_json::from_slice(&row).unwrap();
            // calculationParts publishes `_id` whole, as JSON text.
            let id = row["id"].as_str().unwrap();
            let inner: serde_json::Value = serde_json::from_str(id).unwrap();
            ids.push(inner["id"].as_str().unwrap().to_owned());
        }
    }
    ids.sort();
    let mut want: Vec<String> = good.into_iter().cloned().collect();
    want.sort();
    assert_eq!(ids, want, "published ids");

    // Every other line once in the quarantine, by file and line number.
    let mut quarantined: Vec<(String, u64)> = Vec::new();
    if day.corrupt > 0 {
        let q = day_dir(&dest, &report, CALC, "2023-06-02", "quarantine");
        for file in weir_tests::walk_gz(&q) {
            for record in weir_tests::gz_lines(&file) {
                let r: serde_json::Value = serde_json::from_slice(&record).unwrap();
                let name = r["file"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned();
                quarantined.push((name, r["line"].as_u64().unwrap()));
            }
        }
    }
    quarantined.sort();
    let want: Vec<(String, u64)> = expected
        .iter()
        .filter(|(_, id)| id.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(quarantined, want, "quarantined lines");
    dks.stop().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_line_is_one_row_or_one_quarantine_record(files in prop::collection::vec(file(), 1..4)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(check_day(files));
    }
}
