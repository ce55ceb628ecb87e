//! Weir's DataFusion operators, one per file: the gzip lines scan, the ingest
//! operator and the partition-parallel writer. Each is described by a plain
//! serde spec so the extension codec can ship it to Ballista executors.

/// The parts of `ExecutionPlan` every one of Weir's single-input operators
/// writes alike: its name, its properties (`self.props`), its one child
/// (`self.input`), no expressions of its own, and a rebuild over a new child
/// (`this` is the operator, `input` the new child).
macro_rules! single_input_plan {
    ($name:literal, |$this:ident, $input:ident| $rebuild:expr) => {
        fn name(&self) -> &str {
            $name
        }

        fn properties(&self) -> &Arc<PlanProperties> {
            &self.props
        }

        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![&self.input]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }

        fn replace_children(
            self: Arc<Self>,
            children: Vec<Arc<dyn ExecutionPlan>>,
            _options: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            let $input = super::only_input($name, &children)?;
            let $this = self;
            Ok(Arc::new($rebuild))
        }

        fn with_new_children(
            self: Arc<Self>,
            children: Vec<Arc<dyn ExecutionPlan>>,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            self.replace_children(
                children,
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )
        }
    };
}
use single_input_plan;

mod allow;
mod codec;
mod compact;
mod error;
mod flush;
mod ingest;
mod local_file;
mod memory_runs;
mod merge;
mod options;
mod output_scan;
mod progress;
mod quarantine;
mod scan;
pub mod schema;
mod summary;
mod table_write;
mod worker;
mod write;

pub use allow::{Access, AllowList, set_allow_list};
pub use codec::{WeirNode, WeirPhysicalCodec, decode, encode};
pub use compact::{CompactExec, CompactSpec};
pub use error::{INPUT_CHANGED, engine_error, io_error, storage_error};
pub use flush::group_of_target as run_group_of;
pub use ingest::{IngestExec, IngestSpec};
pub use memory_runs::{
    forget_under as forget_memory_runs, held_bytes as held_run_bytes,
    held_under as memory_runs_under,
};
pub use merge::{MergeExec, MergeRule, MergeSource, MergeSpec, export_schema};
pub use options::{WeirOptions, with_weir_options};
pub(crate) use output_scan::hive_value;
pub use output_scan::{OutputScanExec, OutputScanSpec, hive_unescape};
pub use progress::Progress;
pub use quarantine::QuarantineSpec;
pub use scan::{
    BATCH_BYTES, DEFAULT_MAX_LINE_BYTES, GzipLinesScanExec, InputFile, LONG_LINE_PREFIX, ScanSpec,
    balance, file_groups, global_partition,
};
pub use table_write::{TableWriteExec, TableWriteSpec};
pub use worker::{set_worker_id, worker_id};
pub use write::{WriteExec, WriteSpec};

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;

/// The single input of `name`, out of `inputs`: each of Weir's operators
/// has exactly one (its file groups, its lines, its ingested rows), whether
/// rebuilt by a plan rewrite or decoded from the wire.
pub(crate) fn only_input(
    name: &str,
    inputs: &[Arc<dyn ExecutionPlan>],
) -> Result<Arc<dyn ExecutionPlan>> {
    match inputs {
        [input] => Ok(Arc::clone(input)),
        _ => Err(DataFusionError::Internal(format!(
            "{name} takes one input, got {}",
            inputs.len()
        ))),
    }
}
