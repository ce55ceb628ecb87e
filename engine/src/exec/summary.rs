//! What Weir's writers return (the ingest writer, the generic writer, the
//! compaction, the merge): one row per task attempt, its [`TaskSummary`]
//! as JSON, from which the driver commits exactly one attempt per task.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{PlanProperties, SendableRecordBatchStream};

use super::schema::summary_schema;
use crate::output::TaskSummary;

/// A writer's properties: its summaries, once each task has finished.
pub(super) fn summary_properties(partitioning: Partitioning) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(summary_schema()),
        partitioning,
        EmissionType::Final,
        Boundedness::Bounded,
    ))
}

/// The one-row stream of a task whose work is `task`.
pub(super) fn summary_stream(
    task: impl Future<Output = Result<TaskSummary>> + Send + 'static,
) -> SendableRecordBatchStream {
    let stream = futures::stream::once(async move {
        let summary = task.await?;
        let json =
            serde_json::to_string(&summary).map_err(|e| DataFusionError::External(Box::new(e)))?;
        RecordBatch::try_new(
            summary_schema(),
            vec![Arc::new(StringArray::from(vec![json]))],
        )
        .map_err(DataFusionError::from)
    });
    Box::pin(RecordBatchStreamAdapter::new(summary_schema(), stream))
}
