//! `weir cluster up`: a scheduler and N executors on 127.0.0.1 as child
//! processes of this one, for trying cluster mode on one machine. Logs go to
//! files under `--dir`; Ctrl-C, SIGTERM or any child dying stops them all.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::cli::ClusterUpArgs;
use crate::error::Error;

/// Children, killed when dropped (also on an early return).
struct Cluster(Vec<(String, Child)>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn run(args: &ClusterUpArgs) -> Result<ExitCode, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::Cluster {
        what: "find the weir binary".to_owned(),
        detail: e.to_string(),
    })?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Error::usage("--dir", format!("{}: {e}", args.dir.display())))?;
    crate::runtime()?.block_on(async {
        // Signals are caught from the start: one arriving while the cluster
        // starts must still take the children down (they die with `Cluster`).
        let mut signals = Signals::new()?;
        let mut cluster = Cluster(Vec::new());
        let port = args.port;
        let scheduler = spawn(
            &exe,
            &args.dir,
            "scheduler",
            &[
                "scheduler",
                "--bind",
                "127.0.0.1",
                "--external-host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--executor-timeout-secs",
                "10",
                "--expire-interval-secs",
                "2",
            ],
        )?;
        cluster.0.push(("scheduler".to_owned(), scheduler));
        if !ready(&mut cluster, port, &args.dir, &mut signals).await? {
            return Ok(ExitCode::SUCCESS);
        }
        let scheduler = format!("127.0.0.1:{port}");
        for i in 0..args.executors {
            let name = format!("executor-{i}");
            let flight = port + 1 + 2 * i as u16;
            let work = args.dir.join(&name);
            let (ports, work_dir) = (
                [(flight).to_string(), (flight + 1).to_string()],
                work.display().to_string(),
            );
            let concurrent = args.concurrent_tasks.to_string();
            let mut argv = vec![
                "executor",
                "--scheduler",
                &scheduler,
                "--bind",
                "127.0.0.1",
                "--port",
                &ports[0],
                "--grpc-port",
                &ports[1],
                "--concurrent-tasks",
                &concurrent,
                "--heartbeat-secs",
                "2",
                "--work-dir",
                &work_dir,
                "--executor-id",
                &name,
            ];
            // Loopback only: any location unless prefixes are given.
            let (read, write) = (args.allow_read.join(","), args.allow_write.join(","));
            if args.allow_read.is_empty() {
                argv.push("--allow-any-location");
            } else {
                argv.extend(["--allow-read", &read, "--allow-write", &write]);
            }
            let child = spawn(&exe, &args.dir, &name, &argv)?;
            cluster.0.push((name, child));
            if !ready(&mut cluster, flight, &args.dir, &mut signals).await? {
                return Ok(ExitCode::SUCCESS);
            }
        }
        // A reader that stops after the first line (a script waiting for it)
        // closes the pipe: the cluster stays up whatever happens to stdout.
        let _ = writeln!(
            std::io::stdout(),
            "cluster up: df://127.0.0.1:{port} with {} executors × {} tasks (logs in {}); Ctrl-C stops it\n\
             try: weir run --cluster df://127.0.0.1:{port} --partitions {} ...",
            args.executors,
            args.concurrent_tasks,
            args.dir.display(),
            args.executors * args.concurrent_tasks * 2
        );
        loop {
            if signals.wait(Duration::from_millis(500)).await {
                return Ok(ExitCode::SUCCESS);
            }
            check_alive(&mut cluster, &args.dir)?;
        }
    })
}

/// SIGINT and SIGTERM, listened for from the start.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| {
            signal(kind).map_err(|e| Error::Cluster {
                what: "listen for signals".to_owned(),
                detail: e.to_string(),
            })
        };
        Ok(Self {
            int: listen(SignalKind::interrupt())?,
            term: listen(SignalKind::terminate())?,
        })
    }

    /// Whether a stop signal came within `timeout`.
    async fn wait(&mut self, timeout: Duration) -> bool {
        tokio::select! {
            _ = self.int.recv() => true,
            _ = self.term.recv() => true,
            _ = tokio::time::sleep(timeout) => false,
        }
    }
}

/// Fails naming the first child that exited.
fn check_alive(cluster: &mut Cluster, dir: &Path) -> Result<(), Error> {
    for (name, child) in &mut cluster.0 {
        if let Ok(Some(status)) = child.try_wait() {
            let log = dir.join(format!("{name}.log"));
            let last = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned();
            return Err(Error::Cluster {
                what: "keep the cluster up".to_owned(),
                detail: format!("{name} exited ({status}): {last} (log: {})", log.display()),
            });
        }
    }
    Ok(())
}

/// Waits until something listens on 127.0.0.1:`port` (true), a stop signal
/// comes (false), or a child exits or 30 s pass (an error).
async fn ready(
    cluster: &mut Cluster,
    port: u16,
    dir: &Path,
    signals: &mut Signals,
) -> Result<bool, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(true);
        }
        check_alive(cluster, dir)?;
        if signals.wait(Duration::from_millis(100)).await {
            return Ok(false);
        }
    }
    Err(Error::Cluster {
        what: format!("start a process listening on 127.0.0.1:{port}"),
        detail: format!("nothing after 30 s; logs in {}", dir.display()),
    })
}

fn spawn(exe: &Path, dir: &Path, name: &str, args: &[&str]) -> Result<Child, Error> {
    let log =
        std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| Error::Cluster {
            what: format!("create {name}'s log"),
            detail: e.to_string(),
        })?;
    let err = log.try_clone().map_err(|e| Error::Cluster {
        what: format!("create {name}'s log"),
        detail: e.to_string(),
    })?;
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| Error::Cluster {
            what: format!("start {name}"),
            detail: e.to_string(),
        })
}
