//! `weir cluster up`: a scheduler and N executors on 127.0.0.1 as child
//! processes of this one, for trying cluster mode on one machine. Logs go to
//! files under `--dir`; Ctrl-C, SIGTERM or any child dying stops them all.

use std::io::Write as _;
use std::net::TcpStream;
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
    let port = args.port;
    let mut cluster = Cluster(Vec::new());
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
    wait_for_port(port, &args.dir.join("scheduler.log"))?;
    for i in 0..args.executors {
        let name = format!("executor-{i}");
        let flight = port + 1 + 2 * i as u16;
        let work = args.dir.join(&name);
        let child = spawn(
            &exe,
            &args.dir,
            &name,
            &[
                "executor",
                "--scheduler",
                &format!("127.0.0.1:{port}"),
                "--bind",
                "127.0.0.1",
                "--port",
                &flight.to_string(),
                "--grpc-port",
                &(flight + 1).to_string(),
                "--concurrent-tasks",
                &args.concurrent_tasks.to_string(),
                "--heartbeat-secs",
                "2",
                "--work-dir",
                &work.display().to_string(),
                "--executor-id",
                &name,
            ],
        )?;
        cluster.0.push((name.clone(), child));
        wait_for_port(flight, &args.dir.join(format!("{name}.log")))?;
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
    crate::runtime()?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::Cluster {
                what: "listen for SIGTERM".to_owned(),
                detail: e.to_string(),
            })?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                _ = term.recv() => return Ok(ExitCode::SUCCESS),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            for (name, child) in &mut cluster.0 {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(Error::Cluster {
                        what: "keep the cluster up".to_owned(),
                        detail: format!(
                            "{name} exited ({status}); see its log in {}",
                            args.dir.display()
                        ),
                    });
                }
            }
        }
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

/// Waits until something listens on 127.0.0.1:`port`, for at most 30 s.
fn wait_for_port(port: u16, log: &Path) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error::Cluster {
        what: format!("start a process listening on 127.0.0.1:{port}"),
        detail: format!("nothing after 30 s; see {}", log.display()),
    })
}
