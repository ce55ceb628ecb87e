//! `--metrics-file`: the last run's figures as Prometheus text for
//! node_exporter's textfile collector, so a missed or failed morning run
//! alerts without anybody reading logs.

use std::fmt::Write as _;
use std::path::Path;

use weir_engine::report::{DayStatus, RunReport};

use crate::error::Error;

/// Writes `report`'s figures to `path` (a temporary file renamed over it:
/// the collector never reads half a file).
pub(crate) fn write(path: &Path, report: &RunReport) -> Result<(), Error> {
    let text = render(report, chrono::Utc::now().timestamp());
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::usage("--metrics-file", format!("{}: {e}", path.display())))
}

fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One figure of a day.
type DayFigure = fn(&weir_engine::report::DayReport) -> f64;

/// The text: run-level gauges, then one series per collection and day.
pub(crate) fn render(report: &RunReport, now: i64) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    gauge(
        &mut out,
        "weir_run_success",
        "1 when no day of the last run failed",
    );
    let _ = writeln!(out, "weir_run_success {}", u8::from(report.succeeded()));
    gauge(
        &mut out,
        "weir_run_last_end_timestamp_seconds",
        "When the last run ended",
    );
    let _ = writeln!(out, "weir_run_last_end_timestamp_seconds {now}");
    gauge(
        &mut out,
        "weir_run_seconds",
        "Wall-clock seconds of the last run",
    );
    let _ = writeln!(out, "weir_run_seconds {:.3}", report.seconds);
    let series: [(&str, &str, DayFigure); 5] = [
        (
            "weir_day_published",
            "1 when the day published, 0 when it failed or was skipped",
            |d| f64::from(u8::from(d.status == DayStatus::Published)),
        ),
        ("weir_day_records_in", "Records read", |d| {
            d.records_in as f64
        }),
        ("weir_day_records_out", "Rows published", |d| {
            d.records_out as f64
        }),
        ("weir_day_corrupt", "Corrupt records quarantined", |d| {
            d.corrupt as f64
        }),
        ("weir_day_seconds", "Wall-clock seconds of the day", |d| {
            d.seconds
        }),
    ];
    for (name, help, value) in series {
        gauge(&mut out, name, help);
        for d in &report.days {
            let _ = writeln!(
                out,
                "{name}{{collection=\"{}\",export_date=\"{}\"}} {}",
                label(&d.collection),
                label(&d.export_date),
                value(d)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_engine::report::DayReport;

    #[test]
    fn one_series_per_day_and_the_runs_outcome() {
        let report = RunReport {
            days: vec![
                DayReport {
                    collection: "a:b".into(),
                    export_date: "2024-01-02".into(),
                    status: DayStatus::Published,
                    records_in: 10,
                    ..DayReport::default()
                },
                DayReport {
                    collection: "a:\"c".into(),
                    export_date: "2024-01-02".into(),
                    status: DayStatus::Failed,
                    ..DayReport::default()
                },
            ],
            ..RunReport::default()
        };
        let text = render(&report, 1_700_000_000);
        assert!(text.contains("weir_run_success 0\n"));
        assert!(text.contains("weir_run_last_end_timestamp_seconds 1700000000\n"));
        assert!(
            text.contains(
                "weir_day_records_in{collection=\"a:b\",export_date=\"2024-01-02\"} 10\n"
            )
        );
        assert!(
            text.contains(
                "weir_day_published{collection=\"a:\\\"c\",export_date=\"2024-01-02\"} 0\n"
            )
        );
        assert_eq!(text.matches("# TYPE").count(), 8);
    }
}
