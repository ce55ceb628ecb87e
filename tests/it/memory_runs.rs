//! Runs held in memory between a local day's writes and its compaction:
//! the same published rows as runs staged on disk, whatever share of them
//! fits the budget, and nothing held once the day ends, however it ends.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::ExecutionPlan;
use weir_engine::exec::{CompactExec, memory_runs_under};
use weir_engine::keys::{CacheConfig, DksConfig};
use weir_engine::output::OutputFormat;
use weir_engine::report::DayStatus;
use weir_engine::run::{LocalRunner, PlanRunner};
use weir_testkit::generate::GenerateConfig;

use crate::run::{
    collections, context, date, day_dir, generate_into, local_dks, published_rows, run,
};

const COLLECTION: &str = "calculator:calculationParts";

/// Where the runs were when the compaction was about to read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunsSeen {
    on_disk: usize,
    in_memory: usize,
}

/// The local runner, watched: before each compaction it counts the runs
/// staged on disk and held in memory; it can fail the compaction instead.
#[derive(Debug)]
struct Watched {
    inner: LocalRunner,
    staging: PathBuf,
    fail_compaction: bool,
    seen: Mutex<Vec<RunsSeen>>,
}

#[async_trait::async_trait]
impl PlanRunner for Watched {
    async fn collect(
        &self,
        plan: Arc<dyn ExecutionPlan>,
    ) -> datafusion::error::Result<Vec<RecordBatch>> {
        if plan.downcast_ref::<CompactExec>().is_some() {
            let on_disk = if self.staging.exists() {
                weir_tests::walk_files(&self.staging)
                    .iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "arrows"))
                    .count()
            } else {
                0
            };
            let in_memory = memory_runs_under(&self.staging.display().to_string());
            self.seen
                .lock()
                .unwrap()
                .push(RunsSeen { on_disk, in_memory });
            if self.fail_compaction {
                return Err(DataFusionError::Execution(
                    "compaction refused by the test".into(),
                ));
            }
        }
        self.inner.collect(plan).await
    }

    fn memory_run_bytes(&self) -> usize {
        self.inner.memory_run_bytes()
    }
}

struct Day {
    rows: Vec<(Option<String>, Option<String>, String)>,
    seen: Vec<RunsSeen>,
    status: DayStatus,
}

/// Runs the generated day into `dest` holding at most `budget` bytes of
/// runs in memory.
async fn run_day(source: &Path, dest: &Path, dks_url: &str, budget: usize, fail: bool) -> Day {
    std::fs::create_dir_all(dest).unwrap();
    let dest = std::fs::canonicalize(dest).unwrap();
    let mut ctx = context(source, &dest, dks_url);
    ctx.format = Some(OutputFormat::Orc);
    // Small buffers: several flushes per task, so several runs per group.
    ctx.buffer_bytes = 256 << 10;
    let mut inner =
        LocalRunner::new(2, &DksConfig::new(dks_url), CacheConfig::default(), None).unwrap();
    inner.memory_runs = budget;
    let runner = Arc::new(Watched {
        inner,
        staging: dest.join("_weir_staging"),
        fail_compaction: fail,
        seen: Mutex::default(),
    });
    ctx.runner = runner.clone();
    let report = run(&ctx, &[COLLECTION], &[date("2024-03-05")]).await;
    let status = report.days[0].status;
    let rows = if status == DayStatus::Published {
        published_rows(
            &day_dir(&dest, &report, COLLECTION, "2024-03-05", "orc"),
            OutputFormat::Orc,
        )
    } else {
        Vec::new()
    };
    // However the day ended, none of its runs is held any more.
    assert_eq!(
        memory_runs_under(&dest.join("_weir_staging").display().to_string()),
        0
    );
    assert!(!dest.join("_weir_staging").exists());
    let seen = runner.seen.lock().unwrap().clone();
    Day { rows, seen, status }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_held_in_memory_publish_the_rows_runs_on_disk_do() {
    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("master.key");
    let source = dir.path().join("source");
    let config = GenerateConfig {
        collections: collections(&[COLLECTION]),
        export_dates: vec![date("2024-03-05")],
        records_per_day: 3_000,
        files_per_day: 3,
        records_per_key: 500,
        corrupt_rate: 0.0,
        ..GenerateConfig::default()
    };
    let manifest = generate_into(&source, &master, &config).await;
    let valid = manifest.collections[COLLECTION]
        .values()
        .next()
        .unwrap()
        .valid as usize;
    let dks = local_dks(&master, 0).await;

    let disk = run_day(&source, &dir.path().join("disk"), &dks.url(), 0, false).await;
    let memory = run_day(
        &source,
        &dir.path().join("memory"),
        &dks.url(),
        usize::MAX,
        false,
    )
    .await;
    // About a third of the runs' bytes: some held, the rest staged.
    let partly = run_day(
        &source,
        &dir.path().join("partly"),
        &dks.url(),
        400 << 10,
        false,
    )
    .await;

    assert_eq!(disk.status, DayStatus::Published);
    assert_eq!(disk.rows.len(), valid);
    let [seen] = disk.seen[..] else {
        panic!("one compaction: {:?}", disk.seen)
    };
    assert!(seen.on_disk > 2, "several runs staged: {seen:?}");
    assert_eq!(seen.in_memory, 0);

    let [held] = memory.seen[..] else {
        panic!("{:?}", memory.seen)
    };
    assert_eq!(
        held,
        RunsSeen {
            on_disk: 0,
            in_memory: seen.on_disk
        }
    );
    assert_eq!(
        memory.rows, disk.rows,
        "the same rows in the same files and order"
    );

    let [split] = partly.seen[..] else {
        panic!("{:?}", partly.seen)
    };
    assert!(split.on_disk > 0 && split.in_memory > 0, "{split:?}");
    assert_eq!(split.on_disk + split.in_memory, seen.on_disk);
    assert_eq!(partly.rows, disk.rows);

    // A day that fails between its writes and its compaction drops the
    // runs it held (checked in `run_day`) and publishes nothing.
    let failed = run_day(
        &source,
        &dir.path().join("failed"),
        &dks.url(),
        usize::MAX,
        true,
    )
    .await;
    assert_eq!(failed.status, DayStatus::Failed);
    let [before] = failed.seen[..] else {
        panic!("{:?}", failed.seen)
    };
    assert!(before.in_memory > 0, "{before:?}");
    dks.stop().await;
}
