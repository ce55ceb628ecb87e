//! Runs held in memory between a local day's writes and its compaction:
//! the same published rows as runs staged on disk, whatever share of them
//! fits the budget; only a task's last flush is held; nothing held once
//! the day ends, however it ends.

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
#[derive(Debug, Clone, PartialEq, Eq)]
struct RunsSeen {
    on_disk: usize,
    in_memory: usize,
    /// The bytes of the runs on disk.
    disk_bytes: u64,
    /// (partition, flush) of each run on disk, from its name
    /// (`<group>/part-<partition>-<flush>-<attempt>.arrows`), sorted.
    disk_flushes: Vec<(u32, u32)>,
}

/// A staged run's (partition, flush).
fn flush_of(run: &Path) -> (u32, u32) {
    let stem = run.file_stem().unwrap().to_str().unwrap();
    let mut parts = stem.split('-').skip(1);
    let mut number = || parts.next().unwrap().parse::<u32>().unwrap();
    (number(), number())
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
            let runs: Vec<PathBuf> = if self.staging.exists() {
                weir_tests::walk_files(&self.staging)
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "arrows"))
                    .collect()
            } else {
                Vec::new()
            };
            let mut disk_flushes: Vec<(u32, u32)> = runs.iter().map(|r| flush_of(r)).collect();
            disk_flushes.sort();
            let in_memory = memory_runs_under(&self.staging.display().to_string());
            self.seen.lock().unwrap().push(RunsSeen {
                on_disk: runs.len(),
                in_memory,
                disk_bytes: runs.iter().map(|r| r.metadata().unwrap().len()).sum(),
                disk_flushes,
            });
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

/// One write buffer per task for the whole day: one flush each.
const ONE_FLUSH: usize = 64 << 20;
/// Small buffers: several flushes per task, so several runs per group.
const SEVERAL_FLUSHES: usize = 256 << 10;

/// Runs the generated day into `dest` with `buffer` bytes of write buffer
/// per task, holding at most `budget` bytes of runs in memory.
async fn run_day(
    source: &Path,
    dest: &Path,
    dks_url: &str,
    (buffer, budget): (usize, usize),
    fail: bool,
) -> Day {
    std::fs::create_dir_all(dest).unwrap();
    let dest = std::fs::canonicalize(dest).unwrap();
    let mut ctx = context(source, &dest, dks_url);
    ctx.format = Some(OutputFormat::Orc);
    ctx.buffer_bytes = buffer;
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

    let day = |name: &str, settings: (usize, usize)| {
        let dest = dir.path().join(name);
        let (source, url) = (source.clone(), dks.url());
        async move { run_day(&source, &dest, &url, settings, false).await }
    };
    let only = |day: &Day| -> RunsSeen {
        let [seen] = &day.seen[..] else {
            panic!("one compaction: {:?}", day.seen)
        };
        seen.clone()
    };

    // One flush per task: the budget alone decides where runs go.
    let disk = day("disk", (ONE_FLUSH, 0)).await;
    assert_eq!(disk.status, DayStatus::Published);
    assert_eq!(disk.rows.len(), valid);
    let staged = only(&disk);
    assert!(staged.on_disk > 2, "several runs staged: {staged:?}");
    assert_eq!(staged.in_memory, 0);

    let memory = day("memory", (ONE_FLUSH, usize::MAX)).await;
    let held = only(&memory);
    assert_eq!((held.on_disk, held.in_memory), (0, staged.on_disk));
    assert_eq!(
        memory.rows, disk.rows,
        "the same rows in the same files and order"
    );

    // Half the runs' bytes: some held, the rest staged.
    let partly = day("partly", (ONE_FLUSH, staged.disk_bytes as usize / 2)).await;
    let split = only(&partly);
    assert!(split.on_disk > 0 && split.in_memory > 0, "{split:?}");
    assert_eq!(split.on_disk + split.in_memory, staged.on_disk);
    assert_eq!(partly.rows, disk.rows);

    // Several flushes per task: only each task's last is held, whatever
    // the budget; the midway flushes' runs are staged as before.
    let flushes_disk = day("flushes-disk", (SEVERAL_FLUSHES, 0)).await;
    let all_staged = only(&flushes_disk);
    let last_flush = |partition: u32| {
        all_staged
            .disk_flushes
            .iter()
            .filter(|(p, _)| *p == partition)
            .map(|(_, flush)| *flush)
            .max()
            .unwrap()
    };
    assert!(
        all_staged
            .disk_flushes
            .iter()
            .any(|(p, _)| last_flush(*p) > 0),
        "a task flushed more than once: {all_staged:?}"
    );
    let midway = day("flushes-memory", (SEVERAL_FLUSHES, usize::MAX)).await;
    let last_held = only(&midway);
    let midway_runs: Vec<(u32, u32)> = all_staged
        .disk_flushes
        .iter()
        .copied()
        .filter(|(p, flush)| *flush < last_flush(*p))
        .collect();
    assert_eq!(last_held.disk_flushes, midway_runs, "{last_held:?}");
    assert_eq!(
        last_held.in_memory,
        all_staged.on_disk - midway_runs.len(),
        "{last_held:?}"
    );
    assert_eq!(midway.rows, flushes_disk.rows);

    // A day that fails between its writes and its compaction drops the
    // runs it held (checked in `run_day`) and publishes nothing.
    let failed = run_day(
        &source,
        &dir.path().join("failed"),
        &dks.url(),
        (ONE_FLUSH, usize::MAX),
        true,
    )
    .await;
    assert_eq!(failed.status, DayStatus::Failed);
    let [before] = &failed.seen[..] else {
        panic!("{:?}", failed.seen)
    };
    assert!(before.in_memory > 0, "{before:?}");
    dks.stop().await;
}
