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

/// Hardening: values that used to nest one collection in another's
/// directory, wrap an integer, panic in the key cache or queue centuries of
/// days are refused before anything runs, naming the option.
#[test]
fn unsafe_names_and_out_of_range_values_are_refused_by_option() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let run = |extra: &[&str], toml: &str| {
        let config = dir.path().join("weir.toml");
        std::fs::write(&config, toml).unwrap();
        let output = Command::new(weir_bin())
            .args(["run", "--config", config.to_str().unwrap()])
            .args([
                "--source",
                "/nonexistent",
                "--dks-url",
                "http://127.0.0.1:1",
            ])
            .args(["--dest", dest.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{extra:?} {toml}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let one = ["--collection", "core:claimant", "--date", "2024-01-02"];
    for name in ["core:claimant/x", "core:..", "core/x:claimant", "a:b:c"] {
        let err = run(&["--collection", name, "--date", "2024-01-02"], "");
        assert!(err.contains("--collection") && err.contains(name), "{err}");
    }
    let err = run(&one, "buffer_mb = 17592186044416\n"); // 2^44: `<< 20` wraps to 0
    assert!(err.contains("buffer_mb"), "{err}");
    let err = run(&one, "buffer_mb = 0\n");
    assert!(err.contains("buffer_mb"), "{err}");
    let err = run(&one, "[cache]\nttl_secs = 100000000000\n");
    assert!(err.contains("cache.ttl_secs"), "{err}");
    let err = run(
        &[
            "--collection",
            "core:claimant",
            "--start-date",
            "2024-01-01",
            "--end-date",
            "2204-01-01",
        ],
        "",
    );
    assert!(
        err.contains("--end-date") && err.contains("at most"),
        "{err}"
    );
    assert!(!dest.exists(), "nothing was written");
}
