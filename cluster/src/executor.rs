//! `weir executor`: Ballista's executor with Weir's physical codec and
//! `weir.*` options. Each executor process has one key cache for all its
//! tasks and one object-store client per bucket, with credentials from its
//! own environment (nothing secret travels in plans).

use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use weir_engine::exec::{AllowList, set_allow_list, set_worker_id};

use crate::cli::ExecutorArgs;
use crate::error::Error;
use crate::scheduler::cluster_session_config;

/// The executor's configuration for `args`.
pub fn executor_config(args: &ExecutorArgs) -> Result<ExecutorProcessConfig, Error> {
    let (scheduler_host, scheduler_port) = args
        .scheduler
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .ok_or_else(|| {
            Error::usage(
                "--scheduler",
                format!("{:?} is not host:port", args.scheduler),
            )
        })?;
    let mut config = ExecutorProcessConfig {
        bind_host: args.bind.clone(),
        external_host: args
            .external_host
            .clone()
            .or_else(|| (args.bind != "0.0.0.0").then(|| args.bind.clone())),
        port: args.port,
        grpc_port: args.grpc_port,
        scheduler_host,
        scheduler_port,
        // Wait for a scheduler that starts at the same time (systemd, cluster up).
        scheduler_connect_timeout_seconds: 30,
        work_dir: args.work_dir.as_ref().map(|d| d.display().to_string()),
        executor_heartbeat_interval_seconds: args.heartbeat_secs.max(1),
        override_physical_codec: Some(Arc::new(crate::ballista_codec())),
        override_config_producer: Some(Arc::new(cluster_session_config)),
        ..ExecutorProcessConfig::default()
    };
    if let Some(text) = &args.memory_limit {
        let bytes = crate::config::memory_limit(text)?;
        config.memory_pool_size = Some((bytes as f64 * weir_engine::run::MEMORY_POOL_SHARE) as u64);
    }
    if let Some(n) = args.concurrent_tasks {
        config.vcores = n.max(1);
    }
    if let Some(id) = &args.executor_id {
        config.executor_id = id.clone();
    }
    Ok(config)
}

/// Runs the executor until it is stopped.
pub(crate) fn run(args: &ExecutorArgs) -> Result<std::process::ExitCode, Error> {
    let config = executor_config(args)?;
    if args.memory_limit.is_some() {
        crate::memory::return_memory_promptly();
    }
    if args.allow_any_location {
        tracing::warn!("this executor runs plans for any location (--allow-any-location)");
    } else {
        if args.allow_read.is_empty() || args.allow_write.is_empty() {
            return Err(Error::usage(
                "--allow-read/--allow-write",
                "give the prefixes this executor may read and write (or --allow-any-location where only trusted clients reach it)",
            ));
        }
        let list = AllowList::new(&args.allow_read, &args.allow_write)?;
        tracing::info!(read = ?args.allow_read, write = ?args.allow_write, "executor allow-list");
        set_allow_list(list);
    }
    if let Some(dir) = &args.work_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::usage("--work-dir", format!("{}: {e}", dir.display())))?;
    }
    // Task summaries name the executor that ran them (DKS calls per executor).
    set_worker_id(config.executor_id.clone());
    tracing::info!(executor_id = %config.executor_id, scheduler = %args.scheduler, "weir executor starting");
    crate::runtime()?.block_on(async move {
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| Error::Cluster {
                what: "run the executor".to_owned(),
                detail: e.to_string(),
            })
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    fn args(extra: &[&str]) -> crate::cli::ExecutorArgs {
        let mut argv = vec!["weir", "executor", "--allow-any-location"];
        argv.extend(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Executor(args) => args,
            _ => unreachable!("an executor"),
        }
    }

    #[test]
    fn a_memory_limit_sizes_the_executors_pool() {
        let config = super::executor_config(&args(&["--memory-limit", "1G"])).unwrap();
        assert_eq!(
            config.memory_pool_size,
            Some((f64::from(1u32 << 30) * weir_engine::run::MEMORY_POOL_SHARE) as u64)
        );
        assert_eq!(
            super::executor_config(&args(&[])).unwrap().memory_pool_size,
            None
        );
        let Err(err) = super::executor_config(&args(&["--memory-limit", "lots"])) else {
            panic!("a size that is not one is refused");
        };
        assert!(err.to_string().contains("--memory-limit"), "{err}");
    }
}
