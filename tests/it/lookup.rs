//! `weir lookup` (issue 17): rows by id from a published daily and full
//! export, reading only the `id_part` directory and the stripes that can
//! hold the id; a missing id named by position only; ids given on standard
//! input in no log line, even at `RUST_LOG=trace`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::merge::{DAYS, PER_DAY, Setup, id_of, weir_ok};
use weir_tests::weir_bin;

fn lookup(s: &Setup, dest: &str, date: &str, extra: &[&str], stdin: Option<&str>) -> Output {
    let mut args: Vec<String> = [
        "lookup",
        "--collection",
        crate::merge::CALC,
        "--dest",
        s.path(dest).to_str().unwrap(),
        "--date",
        date,
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let mut child = Command::new(weir_bin())
        .args(&args)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn rows(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `read X of Y bytes`, `A of B files` from the summary line.
fn costs(out: &Output) -> (u64, u64, u64, u64) {
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("weir lookup:"))
        .unwrap_or_else(|| panic!("no summary in {text}"));
    let numbers_after = |word: &str| -> (u64, u64) {
        let at = line.find(word).unwrap() + word.len();
        let mut it = line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u64>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let (read, total) = numbers_after("; read ");
    let files_at = line.find("%), ").unwrap() + 4;
    let mut it = line[files_at..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().unwrap());
    (read, total, it.next().unwrap(), it.next().unwrap())
}

#[test]
fn lookup_finds_ids_in_the_export_and_the_daily_reading_one_id_part() {
    let s = Setup::new();
    weir_ok(&s.args(
        "run",
        "pub",
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

    // Entity 2 was inserted on the first day and is in the second day's
    // export; asked by its inner id and by the `id` column's value.
    let inner = id_of(2);
    let by_inner = lookup(&s, "pub", DAYS[1], &["--export", &inner], None);
    assert!(by_inner.status.success(), "{by_inner:?}");
    let found = rows(&by_inner);
    assert_eq!(found.len(), 1, "{found:?}");
    let row = &found[0];
    let column = format!(r#"{{"id":"{inner}"}}"#);
    assert_eq!(row["id"], column.as_str());
    assert_eq!(row["id_part"], &inner[..2]);
    assert_eq!(row["db_type"], "INSERT");
    let val: serde_json::Value = serde_json::from_str(row["val"].as_str().unwrap()).unwrap();
    assert_eq!(val["n"], 2, "{val}");
    let by_column = lookup(&s, "pub", DAYS[1], &["--export", &column], None);
    assert_eq!(rows(&by_column), found);

    // Only the id's `id_part` directory (one of 16) was opened, and a small
    // share of the export's bytes read.
    let (read, total, opened, files) = costs(&by_inner);
    assert_eq!(opened, 1, "{}", String::from_utf8_lossy(&by_inner.stderr));
    assert!(files >= 16, "{files} files");
    assert!(read > 0 && read * 4 < total, "read {read} of {total}");

    // A missing id: no row, exit 1, named by its position only.
    let missing = "ffffff-not-there";
    let out = lookup(&s, "pub", DAYS[1], &["--export", &inner, missing], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(rows(&out).len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("none for argument 2"), "{stderr}");
    assert!(!stderr.contains(missing), "{stderr}");

    // A day's rows: entity PER_DAY + 5 landed on the second day.
    let day = id_of(PER_DAY + 5);
    let out = lookup(&s, "pub", DAYS[1], &[&day], None);
    assert!(out.status.success(), "{out:?}");
    let found = rows(&out);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], format!(r#"{{"id":"{day}"}}"#).as_str());
    // It is not in the first day's rows.
    let out = lookup(&s, "pub", DAYS[0], &[&day], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(rows(&out).is_empty());

    // A day not published is an error naming it, not an empty answer.
    let out = lookup(&s, "pub", DAYS[3], &["--export", &inner], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not published"), "{stderr}");
    assert!(stderr.contains(DAYS[3]), "{stderr}");
}

#[test]
fn ids_on_standard_input_reach_no_log_line() {
    let s = Setup::new();
    weir_ok(&s.args(
        "run",
        "pub",
        &["--update", "--since", DAYS[0], "--date", DAYS[0]],
    ));
    let personal = "9f00aa-person-A-123456";
    let present = id_of(4);
    let stdin = format!("{personal}\n{present}\n");
    let out = lookup(&s, "pub", DAYS[0], &["--export"], Some(&stdin));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let found = rows(&out);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], format!(r#"{{"id":"{present}"}}"#).as_str());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("none for line 1"), "{stderr}");
    for id in [personal, present.as_str()] {
        assert!(!stderr.contains(id), "an id reached the log:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_rows_by_id_and_logs_no_id() {
    let s = Setup::new();
    weir_ok(&s.args(
        "run",
        "pub",
        &["--update", "--since", DAYS[0], "--date", DAYS[0]],
    ));
    let port = weir_tests::free_ports(1)[0];
    let log = s.path("serve.log");
    let dest = s.path("pub");
    let bind = format!("127.0.0.1:{port}");
    let _server = weir_tests::spawn_weir_logged(
        &["serve", "--dest", dest.to_str().unwrap(), "--bind", &bind],
        &[("RUST_LOG", "trace")],
        &log,
    );
    weir_tests::wait_for_port(port, std::time::Duration::from_secs(60), &log);
    let base = format!("http://{bind}/datasets/{}/{}", crate::merge::CALC, DAYS[0]);
    let client = reqwest::Client::new();
    // (status, body as JSON or as text) of a GET, or of a POST with a body.
    let ask = |url: String, body: Option<String>| {
        let request = match body {
            Some(body) => client.post(url).body(body),
            None => client.get(url),
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            (status, json)
        }
    };

    // GET one id of the export; the row is the one `weir lookup` prints.
    let present = id_of(6);
    let (status, answer) = ask(format!("{base}/rows/{present}?dataset=export"), None).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    let cli = rows(&lookup(&s, "pub", DAYS[0], &["--export", &present], None));
    assert_eq!(answer["rows"], serde_json::Value::Array(cli));
    assert_eq!(answer["found"], serde_json::json!([1]));
    assert!(answer["bytes_read"].as_u64().unwrap() < answer["dataset_bytes"].as_u64().unwrap());

    // An id with no row: 404.
    let (status, _) = ask(format!("{base}/rows/00-nobody?dataset=export"), None).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);

    // Personal ids in a POST body: rows for the present ones, positions
    // for the missing ones.
    let personal = "5e-person-B-987654";
    let body = serde_json::json!({ "ids": [personal, present.clone(), id_of(7)] });
    let (status, answer) = ask(
        format!("{base}/rows?dataset=export"),
        Some(body.to_string()),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(answer["found"], serde_json::json!([0, 1, 1]));
    assert_eq!(answer["missing"], serde_json::json!([1]));
    assert_eq!(answer["rows"].as_array().unwrap().len(), 2);

    // A table that does not exist, a bad date: clear errors.
    let (status, answer) = ask(format!("{base}/rows/{present}?table=nope"), None).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    assert!(answer.to_string().contains("no such table"), "{answer}");
    let (status, _) = ask(
        format!(
            "http://{bind}/datasets/{}/2023-02-30/rows/x",
            crate::merge::CALC
        ),
        None,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);

    let logged = std::fs::read_to_string(&log).unwrap();
    for id in [personal, present.as_str()] {
        assert!(!logged.contains(id), "an id reached the log:\n{logged}");
    }
}
