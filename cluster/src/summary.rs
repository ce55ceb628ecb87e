//! The human summary at the end of a run.

use weir_engine::report::RunReport;

/// Prints one line per collection and day, the totals and the outputs.
pub(crate) fn print_summary(report: &RunReport) {
    println!();
    println!(
        "{:<32} {:<10} {:>10} {:>10} {:>8} {:>9} {:>10}  status",
        "collection", "export", "records", "rows", "corrupt", "seconds", "rec/s"
    );
    for d in &report.days {
        println!(
            "{:<32} {:<10} {:>10} {:>10} {:>8} {:>9.1} {:>10.0}  {}",
            d.collection,
            d.export_date,
            d.records_in,
            d.records_out,
            d.corrupt,
            d.seconds,
            d.records_per_sec,
            d.status
        );
        if let Some(note) = &d.note {
            println!("    {note}");
        }
        if !d.corrupt_by_reason.is_empty() {
            let reasons: Vec<String> = d
                .corrupt_by_reason
                .iter()
                .map(|(r, n)| format!("{r}={n}"))
                .collect();
            println!("    corrupt: {}", reasons.join(", "));
        }
        if let Some(m) = &d.merge {
            let from = match (&m.previous_export, &m.started_from) {
                (Some(p), _) => format!("export of {} ({} rows)", p.export_date, p.rows_in),
                (None, Some(why)) => why.clone(),
                (None, None) => "nothing".to_owned(),
            };
            println!(
                "    merge: {} rows in from {from} and {} dailies → {} rows ({} INSERT, {} DELETE), {} collapsed, {:.1} s",
                m.rows_in,
                m.sources
                    .iter()
                    .filter(|s| s.kind != weir_engine::merge::SourceKind::PreviousExport)
                    .count(),
                m.rows_out,
                m.inserts,
                m.deletes,
                m.duplicates_collapsed,
                m.seconds
            );
            if !m.missing_days.is_empty() {
                println!(
                    "    merged without the dailies of {}",
                    m.missing_days.join(", ")
                );
            }
        }
        if let Some(e) = &d.error {
            match d.fault {
                Some(fault) => println!("    error ({fault}'s fault): {e}"),
                None => println!("    error: {e}"),
            }
        }
    }
    let records: u64 = report.days.iter().map(|d| d.records_in).sum();
    let rows: u64 = report.days.iter().map(|d| d.records_out).sum();
    let corrupt: u64 = report.days.iter().map(|d| d.corrupt).sum();
    println!(
        "total: {records} records, {rows} rows, {corrupt} corrupt in {:.1} s ({:.0} records/s); DKS: {} calls, {} hits, {} refused",
        report.seconds,
        report.records_per_sec,
        report.dks.calls,
        report.dks.hits,
        report.dks.rejected
    );
    if report.dks_by_executor.keys().any(|e| e != "local") {
        for (executor, stats) in &report.dks_by_executor {
            println!(
                "  DKS on {executor}: {} calls, {} hits, {} refused",
                stats.calls, stats.hits, stats.rejected
            );
        }
    }
    for o in &report.outputs {
        println!(
            "  {:<10} {} {}: {}",
            o.format, o.collection, o.export_date, o.path
        );
    }
    println!("run {}: {}", report.run_id, report.status);
}
