//! How Weir's operators travel: each is its serde spec (plus its children,
//! which the plan codec carries itself). This is the payload of the Ballista
//! extension codec (cluster issue): `encode` for a node of ours, `decode` back
//! on an executor, where the spec is resolved again in that process (object
//! stores, key cache, credentials from its own environment).

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

use super::{GzipLinesScanExec, IngestExec, IngestSpec, ScanSpec, WriteExec, WriteSpec};

/// One of Weir's nodes, as sent over the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum WeirNode {
    /// [`GzipLinesScanExec`].
    Scan(ScanSpec),
    /// [`IngestExec`] (one input).
    Ingest(IngestSpec),
    /// [`WriteExec`] (one input).
    Write(WriteSpec),
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
    } else {
        return None;
    };
    Some(serde_json::to_vec(&node).map_err(|e| DataFusionError::External(Box::new(e))))
}

/// The node `buf` describes, over `inputs`.
pub fn decode(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Result<Arc<dyn ExecutionPlan>> {
    let node: WeirNode = serde_json::from_slice(buf)
        .map_err(|e| DataFusionError::Internal(format!("not a Weir plan node: {e}")))?;
    let one_input = |name: &str| match inputs {
        [input] => Ok(Arc::clone(input)),
        _ => Err(DataFusionError::Internal(format!(
            "{name} needs one input, got {}",
            inputs.len()
        ))),
    };
    Ok(match node {
        WeirNode::Scan(spec) => Arc::new(GzipLinesScanExec::new(spec)),
        WeirNode::Ingest(spec) => Arc::new(IngestExec::new(spec, one_input("IngestExec")?)),
        WeirNode::Write(spec) => Arc::new(WriteExec::new(spec, one_input("WriteExec")?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::InputFile;
    use crate::keys::{CacheConfig, DksConfig};
    use crate::output::{OrcCompression, OutputFormat, OutputSpec};
    use crate::record::{Cipher, CollectionName, RecordRules};

    #[test]
    fn every_node_round_trips_with_its_spec() {
        let scan = ScanSpec::balanced(
            "s3://corporate/root".into(),
            crate::storage::S3Settings::default(),
            vec![InputFile {
                path: "a/b.jsonl.gz".into(),
                size: 10,
            }],
            2,
            4096,
        );
        let collection = CollectionName::parse("calculator:calculationParts").unwrap();
        let ingest = IngestSpec {
            rules: RecordRules::for_collection(&collection),
            collection,
            cipher: Cipher::Gcm,
            dks: DksConfig::new("https://dks:8443"),
            cache: CacheConfig::default(),
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
            s3: crate::storage::S3Settings::default(),
        };
        let plan: Arc<dyn ExecutionPlan> = Arc::new(WriteExec::new(
            write.clone(),
            Arc::new(IngestExec::new(
                ingest.clone(),
                Arc::new(GzipLinesScanExec::new(scan.clone())),
            )),
        ));
        // Encode node by node, as a plan codec walks the tree, and rebuild.
        let scan_bytes = encode(plan.children()[0].children()[0].as_ref())
            .unwrap()
            .unwrap();
        let ingest_bytes = encode(plan.children()[0].as_ref()).unwrap().unwrap();
        let write_bytes = encode(plan.as_ref()).unwrap().unwrap();
        let rebuilt = decode(
            &write_bytes,
            &[decode(&ingest_bytes, &[decode(&scan_bytes, &[]).unwrap()]).unwrap()],
        )
        .unwrap();
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
            1
        );
        // Not ours: left to the wrapped codec. Ours with the wrong inputs: refused.
        let empty =
            datafusion::physical_plan::empty::EmptyExec::new(crate::exec::schema::lines_schema());
        assert!(encode(&empty).is_none());
        assert!(decode(&write_bytes, &[]).is_err());
    }
}
