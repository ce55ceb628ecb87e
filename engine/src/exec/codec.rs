//! How Weir's operators travel: each is its serde spec (plus its children,
//! which the plan codec carries itself). [`WeirPhysicalCodec`] is the
//! extension codec the client, the scheduler and every executor use: our
//! nodes are `encode`d here, everything else goes to the codec it wraps
//! (Ballista's, for shuffle writers and readers). An executor `decode`s a node
//! back into an operator that resolves its spec in that process (object
//! stores, key cache, credentials from its own environment).

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use super::{
    CompactExec, CompactSpec, GzipLinesScanExec, IngestExec, IngestSpec, MergeExec, MergeSpec,
    OutputScanExec, OutputScanSpec, ScanSpec, TableWriteExec, TableWriteSpec, WriteExec, WriteSpec,
};

/// One of Weir's nodes, as sent over the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum WeirNode {
    /// [`GzipLinesScanExec`] (one input: its file groups).
    Scan(ScanSpec),
    /// [`IngestExec`] (one input).
    Ingest(IngestSpec),
    /// [`WriteExec`] (one input).
    Write(WriteSpec),
    /// [`CompactExec`] (one input: its groups of runs).
    Compact(CompactSpec),
    /// [`OutputScanExec`] (one input: its file groups).
    OutputScan(OutputScanSpec),
    /// [`TableWriteExec`] (one input).
    TableWrite(TableWriteSpec),
    /// [`MergeExec`] (one input: its groups of source files).
    Merge(MergeSpec),
}

/// The bytes of one of Weir's nodes; `None` for anybody else's (the caller
/// forwards those to the codec it wraps).
pub fn encode(plan: &dyn ExecutionPlan) -> Option<Result<Vec<u8>>> {
    let node = if let Some(scan) = plan.downcast_ref::<GzipLinesScanExec>() {
        WeirNode::Scan(scan.spec().clone())
    } else if let Some(ingest) = plan.downcast_ref::<IngestExec>() {
        WeirNode::Ingest(ingest.spec().clone())
    } else if let Some(write) = plan.downcast_ref::<WriteExec>() {
        WeirNode::Write(write.spec().clone())
    } else if let Some(compact) = plan.downcast_ref::<CompactExec>() {
        WeirNode::Compact(compact.spec().clone())
    } else if let Some(scan) = plan.downcast_ref::<OutputScanExec>() {
        WeirNode::OutputScan(scan.spec().clone())
    } else if let Some(write) = plan.downcast_ref::<TableWriteExec>() {
        WeirNode::TableWrite(write.spec().clone())
    } else if let Some(merge) = plan.downcast_ref::<MergeExec>() {
        WeirNode::Merge(merge.spec().clone())
    } else {
        return None;
    };
    Some(serde_json::to_vec(&node).map_err(|e| DataFusionError::External(Box::new(e))))
}

/// The node `buf` describes, over `inputs`.
pub fn decode(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Result<Arc<dyn ExecutionPlan>> {
    let node: WeirNode = serde_json::from_slice(buf)
        .map_err(|e| DataFusionError::Internal(format!("not a Weir plan node: {e}")))?;
    let one_input = |name: &str| super::only_input(name, inputs);
    Ok(match node {
        WeirNode::Scan(spec) => Arc::new(GzipLinesScanExec::new(
            spec,
            one_input("GzipLinesScanExec")?,
        )),
        WeirNode::Ingest(spec) => Arc::new(IngestExec::new(spec, one_input("IngestExec")?)),
        WeirNode::Write(spec) => Arc::new(WriteExec::new(spec, one_input("WriteExec")?)),
        WeirNode::Compact(spec) => Arc::new(CompactExec::new(spec, one_input("CompactExec")?)),
        WeirNode::OutputScan(spec) => {
            Arc::new(OutputScanExec::new(spec, one_input("OutputScanExec")?))
        }
        WeirNode::TableWrite(spec) => {
            Arc::new(TableWriteExec::try_new(spec, one_input("TableWriteExec")?)?)
        }
        WeirNode::Merge(spec) => Arc::new(MergeExec::new(spec, one_input("MergeExec")?)),
    })
}

/// Marks a payload as ours. Ballista's payloads are protobuf messages, whose
/// first byte is a field tag; `w` (0x77) would be field 14 with wire type 7,
/// which does not exist, so the two can never be confused.
const MAGIC: &[u8] = b"weir1:";

/// The physical extension codec: Weir's nodes, then whatever the wrapped
/// codec knows.
#[derive(Debug)]
pub struct WeirPhysicalCodec {
    inner: Arc<dyn PhysicalExtensionCodec>,
}

impl Default for WeirPhysicalCodec {
    /// Weir's nodes over DataFusion's own; the Ballista processes wrap
    /// Ballista's codec instead (`weir-cluster`), so the engine does not
    /// link Ballista (nor its gRPC server).
    fn default() -> Self {
        Self::wrapping(Arc::new(
            datafusion_proto::physical_plan::DefaultPhysicalExtensionCodec {},
        ))
    }
}

impl WeirPhysicalCodec {
    /// Weir's nodes, forwarding the rest to `inner`.
    pub fn wrapping(inner: Arc<dyn PhysicalExtensionCodec>) -> Self {
        Self { inner }
    }
}

impl PhysicalExtensionCodec for WeirPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(MAGIC) {
            Some(ours) => decode(ours, inputs),
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match encode(node.as_ref()) {
            Some(ours) => {
                buf.extend_from_slice(MAGIC);
                buf.extend_from_slice(&ours?);
                Ok(())
            }
            None => self.inner.try_encode(node, buf, proto_converter),
        }
    }

    // Weir's functions travel by name (they keep no state: `from_json`'s
    // schema is an argument); an executor's registry does not have them, so
    // the codec supplies them. Others: whatever the wrapped codec does.
    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        if name == crate::from_json::FROM_JSON {
            return Ok(Arc::new(crate::from_json::from_json_udf()));
        }
        if name == crate::tables::keyed_hash::KEYED_HASH {
            return Ok(Arc::new(crate::tables::keyed_hash::keyed_hash_udf()));
        }
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{InputFile, QuarantineSpec};
    use crate::output::{OrcCompression, OutputFormat, OutputSpec};
    use crate::record::{Cipher, CollectionName, RecordRules};
    use datafusion_proto::physical_plan::AsExecutionPlan;
    use datafusion_proto::protobuf::PhysicalPlanNode;

    /// A plan as the client sends it and an executor decodes it.
    fn round_trip(
        plan: Arc<dyn ExecutionPlan>,
        ctx: &datafusion::execution::TaskContext,
        codec: &WeirPhysicalCodec,
    ) -> Arc<dyn ExecutionPlan> {
        let node = PhysicalPlanNode::try_from_physical_plan(plan, codec).unwrap();
        let mut bytes = Vec::new();
        node.try_encode(&mut bytes).unwrap();
        PhysicalPlanNode::try_decode(&bytes)
            .unwrap()
            .try_into_physical_plan(ctx, codec)
            .unwrap()
    }

    #[test]
    fn a_day_plan_round_trips_through_the_plan_codec() {
        let groups = crate::exec::file_groups(&[
            vec![InputFile {
                path: "a/b.jsonl.gz".into(),
                size: 10,
            }],
            vec![InputFile {
                path: "a/c.jsonl.gz".into(),
                size: 12,
            }],
        ])
        .unwrap();
        let scan = ScanSpec {
            source: "s3://corporate/root".into(),
            batch_lines: 4096,
            max_line_bytes: 1 << 20,
            batch_bytes: 1 << 20,
            s3: crate::storage::S3Settings::default(),
        };
        let collection = CollectionName::parse("team:things").unwrap();
        let ingest = IngestSpec {
            rules: RecordRules {
                id_part: true,
                ..RecordRules::default()
            },
            collection,
            cipher: Cipher::Gcm,
            scope: "_weir_staging/run/x".into(),
            quarantine: Some(QuarantineSpec {
                dest: "/out".into(),
                staging: "_weir_staging/run/x".into(),
                stop_after_corrupt: Some(3),
                s3: crate::storage::S3Settings::default(),
            }),
        };
        let write = WriteSpec {
            dest: "/out".into(),
            staging: "_weir_staging/run/x".into(),
            output: OutputSpec {
                format: OutputFormat::Orc,
                data_dir: "d".into(),
                quarantine_dir: "q".into(),
                id_part_dirs: true,
                orc_compression: OrcCompression::Zlib,
            },
            buffer_bytes: 1 << 20,
            run_groups: 4,
            memory_run_bytes: 1 << 20,
            s3: crate::storage::S3Settings::default(),
        };
        let plan: Arc<dyn ExecutionPlan> = Arc::new(WriteExec::new(
            write.clone(),
            Arc::new(IngestExec::new(
                ingest.clone(),
                Arc::new(GzipLinesScanExec::new(scan.clone(), groups)),
            )),
        ));
        // The whole plan, as the client sends it and an executor gets it.
        let codec = WeirPhysicalCodec::default();
        let ctx = datafusion::prelude::SessionContext::new().task_ctx();
        let rebuilt = round_trip(Arc::clone(&plan), &ctx, &codec);
        let w = rebuilt.downcast_ref::<WriteExec>().unwrap();
        assert_eq!(w.spec(), &write);
        let i = rebuilt.children()[0].downcast_ref::<IngestExec>().unwrap();
        assert_eq!(i.spec(), &ingest);
        let s = rebuilt.children()[0].children()[0]
            .downcast_ref::<GzipLinesScanExec>()
            .unwrap();
        assert_eq!(s.spec(), &scan);
        assert_eq!(
            rebuilt.properties().output_partitioning().partition_count(),
            2
        );
        // The file groups came along: partition 1 is still group 1.
        assert_eq!(crate::exec::global_partition(rebuilt.as_ref(), 1), 1);
        // Not ours: left to the wrapped codec. Ours with the wrong inputs: refused.
        let empty =
            datafusion::physical_plan::empty::EmptyExec::new(crate::exec::schema::lines_schema());
        assert!(encode(&empty).is_none());
        let write_bytes = encode(plan.as_ref()).unwrap().unwrap();
        assert!(decode(&write_bytes, &[]).is_err());

        // The compaction plan: its runs travel as file groups too.
        let compact = CompactSpec {
            dest: "/out".into(),
            staging: "_weir_staging/run/x".into(),
            output: write.output.clone(),
            file_bytes: 1 << 20,
            s3: crate::storage::S3Settings::default(),
        };
        let runs = crate::exec::file_groups(&[vec![InputFile {
            path: "_weir_staging/run/x/a/runs/00001/part-00000-0000-a.arrows".into(),
            size: 7,
        }]])
        .unwrap();
        let plan: Arc<dyn ExecutionPlan> = Arc::new(CompactExec::new(compact.clone(), runs));
        let rebuilt = round_trip(plan, &ctx, &codec);
        assert_eq!(
            rebuilt.downcast_ref::<CompactExec>().unwrap().spec(),
            &compact
        );

        // The snapshot merge: its sources travel in the spec, its files as
        // file groups.
        let merge = MergeSpec {
            dest: "/out".into(),
            staging: "_weir_staging/run/x".into(),
            name: "export".into(),
            format: OutputFormat::Orc,
            orc_compression: OrcCompression::Zlib,
            rule: crate::exec::MergeRule::DeleteWins,
            sources: vec![crate::exec::MergeSource {
                root: "s3://old/exports".into(),
                dir: "calc/2023-06-01".into(),
                format: OutputFormat::Orc,
                rank: 738_000,
                sorted: false,
            }],
            id_part_dirs: true,
            file_bytes: 1 << 20,
            s3: crate::storage::S3Settings::default(),
        };
        let files = crate::exec::file_groups(&[vec![InputFile {
            path: "calc/2023-06-01/id_part=ab/part-0.orc".into(),
            size: 7,
        }]])
        .unwrap();
        let plan: Arc<dyn ExecutionPlan> = Arc::new(MergeExec::new(merge.clone(), files));
        let rebuilt = round_trip(plan, &ctx, &codec);
        assert_eq!(rebuilt.downcast_ref::<MergeExec>().unwrap().spec(), &merge);

        // A derived output: Weir's files read back, a DataFusion filter,
        // the generic writer.
        let (schema, partition_columns) = crate::post::day_schema(OutputFormat::Orc, true);
        let read = OutputScanSpec {
            root: "/out".into(),
            format: OutputFormat::Orc,
            schema: Arc::clone(&schema),
            partition_columns,
            s3: crate::storage::S3Settings::default(),
        };
        let table = TableWriteSpec {
            dest: "/out".into(),
            staging: "_weir_staging/run/x".into(),
            name: "deletes".into(),
            format: OutputFormat::Parquet,
            orc_compression: OrcCompression::Zlib,
            partition_by: vec!["id_part".into()],
            sort_by: vec!["id".into()],
            buffer_bytes: 1 << 20,
            s3: crate::storage::S3Settings::default(),
        };
        let files = crate::exec::file_groups(&[vec![InputFile {
            path: "_weir_staging/run/x/a/data/id_part=01/part-0.orc".into(),
            size: 9,
        }]])
        .unwrap();
        let scan: Arc<dyn ExecutionPlan> = Arc::new(OutputScanExec::new(read.clone(), files));
        let predicate = datafusion::physical_expr::expressions::binary(
            datafusion::physical_expr::expressions::col("db_type", &schema).unwrap(),
            datafusion::logical_expr::Operator::Eq,
            datafusion::physical_expr::expressions::lit("DELETE"),
            &schema,
        )
        .unwrap();
        let filter = Arc::new(
            datafusion::physical_plan::filter::FilterExec::try_new(predicate, scan).unwrap(),
        );
        let plan: Arc<dyn ExecutionPlan> =
            Arc::new(TableWriteExec::try_new(table.clone(), filter).unwrap());
        let rebuilt = round_trip(plan, &ctx, &codec);
        assert_eq!(
            rebuilt.downcast_ref::<TableWriteExec>().unwrap().spec(),
            &table
        );
        let scan = rebuilt.children()[0].children()[0]
            .downcast_ref::<OutputScanExec>()
            .unwrap();
        assert_eq!(scan.spec(), &read);
    }

    #[tokio::test]
    async fn from_json_reaches_an_executor_that_never_registered_it() {
        let client = datafusion::prelude::SessionContext::new();
        client.register_udf(crate::from_json::from_json_udf());
        let plan = client
            .sql(
                r#"SELECT from_json(a, 'x INT, d DATE')['x'] AS x FROM
                   (VALUES ('{"x": 7, "d": "2023-06-01"}'), ('{"x": "no"}'), (NULL)) t(a)"#,
            )
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        // An executor's context: no `from_json` in its registry.
        let executor = datafusion::prelude::SessionContext::new().task_ctx();
        use datafusion::execution::FunctionRegistry as _;
        assert!(executor.udf(crate::from_json::FROM_JSON).is_err());
        let rebuilt = round_trip(plan, &executor, &WeirPhysicalCodec::default());
        let batches = datafusion::physical_plan::collect(rebuilt, executor)
            .await
            .unwrap();
        let x: Vec<Option<i32>> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::Int32Array>()
                    .unwrap()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(x, [Some(7), None, None]);
    }
}
