//! `weir serve` (issue 16): the run status as a page an operator opens in
//! the morning, drawn in headless Chromium from the JSON endpoints, which
//! are checked on their own too. The days behind it are real runs: two
//! published (one of them then retracted), one failed, one never run.

use std::process::Command;

use weir_engine::status::{DayRun, DayState};
use weir_tests::{chromium, spawn_weir, weir_bin};

use crate::merge::{DAYS, Setup, weir_ok};

const CALC: &str = "calculator:calculationParts";
const KEY: &str = "calculator.calculationParts";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_each_day_coloured_and_opens_its_report_and_history() {
    let s = Setup::new();
    let dest = s.path("dest");
    weir_ok(&s.args(
        "run",
        "dest",
        &["--start-date", DAYS[0], "--end-date", DAYS[1]],
    ));
    // Day 3 fails in its commit; day 1 is retracted; day 4 never runs.
    let failing = s.args("run", "dest", &["--date", DAYS[2]]);
    let out = Command::new(weir_bin())
        .args(&failing)
        .env("WEIR_FAULT_AT", "prepare:orc/daily")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(weir_bin())
        .args(["retract", "--collection", CALC, "--date", DAYS[0]])
        .args(["--reason", "ticket <b>9</b>", "--dest"])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success());

    let server = spawn_weir(
        &[
            "serve",
            "--dest",
            dest.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ],
        "listening on",
    );
    let base = server
        .first_line
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();

    // The JSON the page is drawn from.
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let response = client.get(path).send().await.unwrap();
            let status = response.status();
            let body = response.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let (status, days) = get(format!("{base}/api/days?from={}&to={}", DAYS[0], DAYS[3])).await;
    assert!(status.is_success(), "{days}");
    assert_eq!(days["collections"], serde_json::json!([KEY]));
    assert_eq!(days["dates"].as_array().unwrap().len(), 4);
    let runs: Vec<DayRun> = serde_json::from_value(days["days"].clone()).unwrap();
    let states: Vec<(String, DayState)> = runs
        .iter()
        .map(|r| (r.export_date.clone(), r.state))
        .collect();
    assert_eq!(
        states,
        vec![
            (DAYS[0].to_owned(), DayState::Retracted),
            (DAYS[1].to_owned(), DayState::Completed),
            (DAYS[2].to_owned(), DayState::Failed),
        ]
    );
    // (A run's key cache spans its days: the second day may find its keys there or wait on a call it did not make.)
    let dks = runs[1].dks;
    assert!(
        runs[1].records_out > 0 && runs[1].files > 0 && dks.hits + dks.misses > 0,
        "{:?}",
        runs[1]
    );
    let failed = runs[2].clone();
    let (status, history) = get(format!(
        "{base}/api/history?collection={}&date={}",
        CALC.replace(':', "%3A"),
        DAYS[0]
    ))
    .await;
    assert!(status.is_success());
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "the run, then its retraction"
    );
    let (status, _) = get(format!("{base}/api/days?from={}&to={}", DAYS[3], DAYS[0])).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let posted = client
        .post(format!("{base}/api/days"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);

    // The page, as Chromium renders it once its scripts have run, opened
    // on the failed day.
    let page = format!("{base}/?from={}&to={}#{KEY}/{}", DAYS[0], DAYS[3], DAYS[2]);
    let dom = String::from_utf8(chromium(&[
        "--virtual-time-budget=15000".as_ref(),
        "--dump-dom".as_ref(),
        page.as_ref(),
    ]))
    .unwrap();
    assert!(dom.contains(r#"<body data-state="ready">"#), "{dom}");
    for (date, state) in [
        (DAYS[0], "RETRACTED"),
        (DAYS[1], "COMPLETED"),
        (DAYS[2], "FAILED"),
        (DAYS[3], "NONE"),
    ] {
        let cell = format!(r#"data-collection="{KEY}" data-date="{date}" data-state="{state}""#);
        assert!(dom.contains(&cell), "no {state} cell for {date}:\n{dom}");
    }
    // The failed day's report and history: its run and its error, as text.
    let detail = &dom[dom
        .find(r#"<section id="detail""#)
        .expect("the day's detail")..];
    assert!(detail.contains(&failed.run_id));
    let error = failed.error.clone().unwrap();
    assert!(detail.contains("injected fault at prepare"), "{detail}");
    assert!(!error.is_empty());
    assert!(detail.contains(r#"<table id="history">"#));
    // The retraction's reason is text, not markup.
    let retracted = format!("{base}/?from={}&to={}#{KEY}/{}", DAYS[0], DAYS[3], DAYS[0]);
    let dom = String::from_utf8(chromium(&[
        "--virtual-time-budget=15000".as_ref(),
        "--dump-dom".as_ref(),
        retracted.as_ref(),
    ]))
    .unwrap();
    assert!(dom.contains("ticket &lt;b&gt;9&lt;/b&gt;"), "{dom}");
    assert!(!dom.contains("<b>9</b>"));

    // A screenshot of the grid, for people (and the issue's note).
    let shot = s.path("status-page.png");
    chromium(&[
        "--virtual-time-budget=15000".as_ref(),
        "--window-size=1100,760".as_ref(),
        format!("--screenshot={}", shot.display()).as_ref(),
        page.as_ref(),
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    if let Ok(keep) = std::env::var("WEIR_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
