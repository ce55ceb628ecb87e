//! The publish benchmark (`--modes publish`): a day of `files` staged
//! objects on an S3-compatible server (moto on loopback) published with
//! Weir's commit (`publish_all`), at a given number of requests in flight:
//! the first publish of the day, then a rerun that keeps the previous
//! version and deletes its objects. Runs in a child process whose
//! environment holds the server's credentials.

use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use weir_engine::output::{CommitPaths, DirOutput, FileKind, StagedFile, publish_all};
use weir_engine::storage::{Location, S3Settings};

/// The bytes of each staged file (small: the commit's requests are timed,
/// not the transfer).
const FILE_BYTES: usize = 4096;

/// Seconds of the first publish and of the rerun.
pub async fn publish_day(
    endpoint: &str,
    files: usize,
    concurrency: usize,
) -> Result<(f64, f64), String> {
    let s3 = S3Settings {
        endpoint: Some(endpoint.to_owned()),
        allow_http: Some(true),
        path_style: Some(true),
        region: Some("us-east-1".to_owned()),
        concurrent_requests: Some(concurrency),
        ..S3Settings::default()
    };
    let dest = Location::parse(&format!("s3://bench/c{concurrency}-f{files}"), &s3)
        .map_err(|e| e.to_string())?;
    let mut seconds = Vec::new();
    for run in ["run-1", "run-2"] {
        let staging = format!("_weir_staging/{run}/day");
        let staged: Vec<StagedFile> = (0..files)
            .map(|i| StagedFile {
                kind: FileKind::Data,
                staged: dest.child(&format!("{staging}/part-{i:05}")).to_string(),
                target: format!("id_part={:02x}/part-{i:05}-{run}.orc", i % 256),
                rows: 1,
                bytes: FILE_BYTES as u64,
            })
            .collect();
        // Staging is the write tasks' work, not the commit's: not timed.
        futures::stream::iter(&staged)
            .map(|f| {
                let store = &dest.store;
                async move {
                    let path = object_store::path::Path::from(f.staged.as_str());
                    store
                        .put(&path, vec![7u8; FILE_BYTES].into())
                        .await
                        .map(drop)
                }
            })
            .buffer_unordered(64)
            .try_collect::<Vec<()>>()
            .await
            .map_err(|e| e.to_string())?;
        let refs: Vec<&StagedFile> = staged.iter().collect();
        let keep = format!("_weir/replaced/bench/2024-01-01/{run}");
        let started = Instant::now();
        publish_all(
            &dest,
            CommitPaths {
                staging: &staging,
                keep: &keep,
            },
            &[DirOutput {
                dir: "daily/2024-01-01",
                files: &refs,
            }],
            run,
        )
        .await
        .map_err(|e| e.to_string())?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    Ok((seconds[0], seconds[1]))
}

/// A loopback TCP proxy to `target` that holds each chunk a client sends
/// for `latency` before passing it on: S3's round trip, which a server on
/// loopback does not have (and which is what concurrent requests hide).
/// Its port; it serves until the process ends.
pub fn latency_proxy(target: u16, latency: std::time::Duration) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let pipe =
                |mut from: TcpStream, mut to: TcpStream, delay: Option<std::time::Duration>| {
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 << 10];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            if let Some(d) = delay {
                                std::thread::sleep(d);
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                };
            if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                pipe(c, server, Some(latency));
                pipe(s, client, None);
            }
        }
    });
    Ok(port)
}
