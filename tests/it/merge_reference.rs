//! The snapshot merge on input Weir did not write: the reference toolkit's
//! generator (`shared/reference/gen_corporate.py`) makes four days with
//! deletes carried to later days, Kafka redeliveries, corrupt records and
//! ids whose `id_part` holds path-special characters, encrypted under its
//! own key service (`dks_server.py`). `weir run --update` over them must
//! give, day after day, the old job's merge as the toolkit's own
//! recomputation (`check_merge.py`) derives it from the dailies.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_engine::report::{DayStatus, RunReport};
use weir_tests::weir_bin;

const LANDING: &str = "2023-08-01..2023-08-04";
const EXPORTS: [&str; 4] = ["2023-08-02", "2023-08-03", "2023-08-04", "2023-08-05"];

pub(crate) fn reference(script: &str) -> PathBuf {
    weir_tests::shared_dir().join("reference").join(script)
}

pub(crate) fn py() -> Command {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/py-readers"))
}

/// The toolkit's key service, killed when dropped.
pub(crate) struct ReferenceDks {
    child: Child,
    pub(crate) url: String,
}

impl Drop for ReferenceDks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn reference_dks(dir: &Path) -> ReferenceDks {
    let port_file = dir.join("dks.port");
    let child = py()
        .arg(reference("dks_server.py"))
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(port) = text.trim().parse::<u16>()
        {
            break port;
        }
        assert!(Instant::now() < deadline, "dks_server.py never listened");
        std::thread::sleep(Duration::from_millis(50));
    };
    ReferenceDks {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

#[test]
fn on_the_reference_generators_days_the_export_is_the_old_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("corp");
    let out = py()
        .arg(reference("gen_corporate.py"))
        .arg("--out")
        .arg(&source)
        .args([
            "--records",
            "400",
            "--files-per-day",
            "2",
            "--collections",
            "calculator:calculationParts",
            "--dates",
            LANDING,
            "--carry-delete-rate",
            "0.3",
            "--duplicate-rate",
            "0.02",
            "--corrupt-rate",
            "0.01",
            "--odd-id-rate",
            "0.05",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gen_corporate.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dks = reference_dks(dir.path());
    let dest = dir.path().join("dest");
    let report_path = dir.path().join("report.json");
    let out = Command::new(weir_bin())
        .args([
            "run",
            "--collection",
            "calculator:calculationParts",
            "--update",
        ])
        .args([
            "--since",
            EXPORTS[0],
            "--start-date",
            EXPORTS[0],
            "--end-date",
            EXPORTS[3],
        ])
        .arg("--source")
        .arg(&source)
        .arg("--dest")
        .arg(&dest)
        .args(["--dks-url", &dks.url, "--max-corrupt-ratio", "0.1"])
        .arg("--report")
        .arg(&report_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: RunReport = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(source.join("manifest.json")).unwrap()).unwrap();
    let days = &manifest["collections"]["calculator:calculationParts"];
    let mut carried = 0;
    for day in &report.days {
        assert_eq!(day.status, DayStatus::Published);
        // Days are keyed by landing date in the manifest.
        let landing = &days[&day.landing_date];
        assert_eq!(
            day.records_out,
            landing["valid"].as_u64().unwrap(),
            "{}",
            day.export_date
        );
        assert_eq!(day.corrupt, landing["corrupt"].as_u64().unwrap());
        carried += landing["carried_deletes"].as_u64().unwrap_or(0);
    }
    assert!(carried > 0, "the generator carried deletes to later days");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let summary = crate::merge::check_merge(&work, &dest, EXPORTS[3], &EXPORTS, None);
    assert_eq!(
        summary["export_rows"].as_u64().unwrap(),
        report.days[3].merge.as_ref().unwrap().rows_out
    );
    assert!(
        summary["ids_with_insert_and_delete"].as_u64().unwrap() > 0,
        "{summary}"
    );
    let rows = crate::merge::exported_ids(&work, &dest, EXPORTS[3]);
    assert!(
        rows.iter().any(|r| !r["id_part"]
            .as_str()
            .unwrap()
            .chars()
            .all(char::is_alphanumeric)),
        "odd id_parts reach the export"
    );
}
