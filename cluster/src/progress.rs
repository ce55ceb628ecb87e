//! The progress display: a bar on a terminal, a log line every 10 s otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::oneshot;
use weir_engine::exec::Progress;

/// A running display; [`ProgressDisplay::stop`] ends it.
#[derive(Debug)]
pub(crate) struct ProgressDisplay {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressDisplay {
    pub(crate) fn start() -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let tty = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let progress = Progress::global();
            let (lines0, files0) = (progress.lines_read(), progress.files_read());
            let (bytes0, files_exp0, bytes_exp0) = (
                progress.bytes_read(),
                progress.files_expected(),
                progress.bytes_expected(),
            );
            let started = Instant::now();
            let bar = tty.then(|| {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            });
            let mut last_log = Instant::now();
            loop {
                let tick = if tty {
                    Duration::from_millis(200)
                } else {
                    Duration::from_secs(1)
                };
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(tick) => {}
                }
                let lines = progress.lines_read() - lines0;
                let files = progress.files_read() - files0;
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let rate = lines as f64 / secs;
                let bytes = progress.bytes_read() - bytes0;
                let (files_total, bytes_total) = (
                    progress.files_expected() - files_exp0,
                    progress.bytes_expected() - bytes_exp0,
                );
                let eta = if bytes > 0 && bytes_total > bytes {
                    format!(
                        ", ETA {:.0} s",
                        (bytes_total - bytes) as f64 / (bytes as f64 / secs)
                    )
                } else {
                    String::new()
                };
                let msg = format!(
                    "files {files}/{files_total}, {lines} records, {rate:.0} records/s, {:.0}/{:.0} MB{eta}",
                    bytes as f64 / 1e6,
                    bytes_total as f64 / 1e6
                );
                match &bar {
                    Some(bar) => {
                        bar.set_message(msg);
                        bar.tick();
                    }
                    None if last_log.elapsed() >= Duration::from_secs(10) => {
                        eprintln!("weir: {msg}");
                        last_log = Instant::now();
                    }
                    None => {}
                }
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        });
        Self { stop, task }
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
