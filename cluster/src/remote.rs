//! Running a day's plan on a Ballista cluster: the client submits the same
//! physical plan the local run executes (encoded with Weir's codec; Ballista
//! splits it into stages and tasks), and collects the task summaries of the
//! successful attempts, which are all the commit publishes.

use std::sync::Arc;
use std::time::Duration;

use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;
use weir_engine::exec::{WeirOptions, WeirPhysicalCodec, WriteExec};
use weir_engine::keys::{CacheConfig, DksConfig};
use weir_engine::run::PlanRunner;

use crate::error::Error;
use crate::scheduler::cluster_session_config;

/// How long connecting to the scheduler may take before the run fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs plans on a Ballista scheduler.
#[derive(Debug)]
pub struct BallistaRunner {
    /// As the user gave it (`df://host:port`), for messages.
    url: String,
    /// `http://host:port`, as Ballista's client wants it.
    endpoint: String,
    session_id: String,
    config: SessionConfig,
    codec: WeirPhysicalCodec,
}

impl BallistaRunner {
    /// Connects to the scheduler at `url` (`df://host:port`); fails within a
    /// few seconds, naming the URL, when nothing answers there.
    pub async fn connect(
        url: &str,
        partitions: usize,
        dks: &DksConfig,
        cache: CacheConfig,
    ) -> Result<Self, Error> {
        let (host, port) = parse_url(url)?;
        let unreachable = |detail: String| Error::Cluster {
            what: format!("reach the Ballista scheduler at {url}"),
            detail,
        };
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        let config = cluster_session_config()
            .with_target_partitions(partitions.max(1))
            .with_option_extension(WeirOptions::new(dks, cache));
        Ok(Self {
            url: url.to_owned(),
            endpoint: format!("http://{host}:{port}"),
            session_id: format!("weir-{}", weir_engine::keys::correlation_id()),
            config,
            codec: crate::ballista_codec(),
        })
    }
}

fn parse_url(url: &str) -> Result<(String, u16), Error> {
    let bad = || Error::usage("--cluster", format!("{url:?} is not df://host:port"));
    let rest = url.strip_prefix("df://").ok_or_else(bad)?;
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

#[async_trait::async_trait]
impl PlanRunner for BallistaRunner {
    async fn collect(&self, plan: Arc<dyn ExecutionPlan>) -> Result<Vec<RecordBatch>> {
        // The job's name in the scheduler's logs: the day it writes.
        let name = plan.downcast_ref::<WriteExec>().map_or_else(
            || "weir".to_owned(),
            |w| format!("weir {}", w.spec().staging),
        );
        let config = self.config.clone().with_ballista_job_name(&name);
        let ballista = config.ballista_config();
        let stream = execute_physical_plan::<PhysicalPlanNode>(
            self.endpoint.clone(),
            &ballista,
            plan,
            &self.codec,
            self.session_id.clone(),
            config,
        )
        .await
        .map_err(|e| self.context(e))?;
        stream.try_collect().await.map_err(|e| self.context(e))
    }
}

impl BallistaRunner {
    /// Says where the job ran; Ballista's own message names the stage and
    /// the task's cause.
    fn context(&self, e: DataFusionError) -> DataFusionError {
        DataFusionError::Execution(format!("cluster job on {} failed: {e}", self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_df_host_port() {
        assert_eq!(
            parse_url("df://10.0.0.5:50050").unwrap(),
            ("10.0.0.5".to_owned(), 50050)
        );
        assert_eq!(
            parse_url("df://scheduler.internal:50050/").unwrap(),
            ("scheduler.internal".to_owned(), 50050)
        );
        for bad in ["http://x:1", "df://x", "df://:1", "df://x:port"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
