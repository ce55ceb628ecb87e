//! `weir scheduler`: Ballista's scheduler with Weir's physical codec and
//! `weir.*` options, so the plans `weir run --cluster` submits decode here and
//! travel on to executors.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::prelude::SessionConfig;
use weir_engine::exec::with_weir_options;

use crate::cli::SchedulerArgs;
use crate::error::Error;

/// The session config every Ballista process of Weir's starts from: Ballista's
/// defaults plus Weir's options, so the client's `weir.*` settings parse.
pub(crate) fn cluster_session_config() -> SessionConfig {
    with_weir_options(SessionConfig::new_with_ballista())
}

/// The scheduler's configuration for `args`.
pub fn scheduler_config(args: &SchedulerArgs) -> SchedulerConfig {
    SchedulerConfig {
        bind_host: args.bind.clone(),
        bind_port: args.port,
        external_host: args.external_host.clone(),
        // Ballista's defaults (180 s / 15 s) make a lost executor cost three
        // minutes of a daily run; heartbeats are cheap.
        executor_timeout_seconds: args.executor_timeout_secs,
        expire_dead_executor_interval_seconds: args.expire_interval_secs,
        no_executors_grace_period_seconds: args.executor_timeout_secs,
        task_max_failures: args.task_max_failures,
        stage_max_failures: args.stage_max_failures,
        override_physical_codec: Some(Arc::new(crate::ballista_codec())),
        override_config_producer: Some(Arc::new(cluster_session_config)),
        ..SchedulerConfig::default()
    }
}

/// Runs the scheduler until it is stopped.
pub(crate) fn run(args: &SchedulerArgs) -> Result<std::process::ExitCode, Error> {
    let addr: SocketAddr = format!("{}:{}", args.bind, args.port)
        .parse()
        .map_err(|e| Error::usage("--bind", format!("{}:{}: {e}", args.bind, args.port)))?;
    let config = scheduler_config(args);
    crate::runtime()?.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| Error::Cluster {
                what: "start the scheduler".to_owned(),
                detail: e.to_string(),
            })?;
        tracing::info!(%addr, "weir scheduler listening");
        start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(|e| Error::Cluster {
                what: format!("serve the scheduler on {addr}"),
                detail: e.to_string(),
            })
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
