//! The `weir run` command itself: settings from a TOML file, the environment
//! and the command line; the summary and the JSON report.

use std::process::Command;

use weir_tests::{conformance_file, weir_bin};

fn sample_dks(dir: &std::path::Path) -> (weir_tests::Process, String) {
    weir_tests::spawn_sample_dks(dir, &[])
}

#[test]
fn run_takes_settings_from_file_environment_and_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_dks, url) = sample_dks(dir.path());
    let dest = dir.path().join("out");
    let report = dir.path().join("report.json");
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        format!(
            "collections = [\"core:claimant\"]\nsource = {:?}\nmax_corrupt_ratio = 0.1\npartitions = 2\n[dks]\nurl = {url:?}\n",
            conformance_file("sample").display().to_string()
        ),
    )
    .unwrap();
    let output = Command::new(weir_bin())
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            "2023-06-03",
        ])
        .args(["--report", report.to_str().unwrap()])
        .env("WEIR_DEST", &dest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("core:claimant") && stdout.contains("published"),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "succeeded");
    let day = &json["days"][0];
    assert_eq!(day["export_date"], "2023-06-03");
    assert_eq!(day["landing_date"], "2023-06-02");
    assert_eq!(
        day["records_in"].as_u64().unwrap(),
        day["records_out"].as_u64().unwrap() + day["corrupt"].as_u64().unwrap()
    );
    assert!(day["corrupt_by_reason"].as_object().unwrap().len() > 1);
    let outputs = json["outputs"].as_array().unwrap();
    assert!(outputs.iter().any(|o| {
        o["format"] == "parquet"
            && o["path"]
                .as_str()
                .unwrap()
                .ends_with("parquet/daily/core/claimant/export_date=2023-06-03")
    }));
    assert!(outputs.iter().any(|o| o["format"] == "quarantine"));
}

#[test]
fn unknown_config_keys_and_bad_values_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "collections = [\"core:claimant\"]\nsourse = \"/tmp\"\n",
    )
    .unwrap();
    let output = Command::new(weir_bin())
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sourse") && stderr.contains("weir.toml"),
        "{stderr}"
    );

    let output = Command::new(weir_bin())
        .args([
            "run",
            "--collection",
            "claimant",
            "--source",
            "/x",
            "--dest",
            "/y",
            "--dks-url",
            "http://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("--collection") && stderr.contains("db:collection"),
        "{stderr}"
    );
}

#[test]
fn a_failed_day_exits_non_zero_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (_dks, url) = sample_dks(dir.path());
    let output = Command::new(weir_bin())
        .args([
            "run",
            "--collection",
            "calculator:calculationParts",
            "--date",
            "2023-06-02",
        ])
        .args(["--source", conformance_file("sample").to_str().unwrap()])
        .args([
            "--dest",
            dir.path().join("out").to_str().unwrap(),
            "--dks-url",
            &url,
        ])
        .args(["--max-corrupt-ratio", "0.01"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("failed") && stdout.contains("above the allowed share 0.01"),
        "{stdout}"
    );
}
