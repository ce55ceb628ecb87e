//! Where corporate storage puts a collection's day (spec §1), and how a daily
//! run's export date maps to the landing date it reads.

use chrono::NaiveDate;

use crate::record::CollectionName;

/// A day's input prefix under the source root:
/// `corporate_storage/<consumer>/YYYY/MM/DD/<db>/<collection>`, where the
/// consumer is the K2HB consumer that wrote the collection (the ingester
/// knows which: `ucfs_main`, `ucfs_audit`, …).
pub fn input_prefix(consumer: &str, collection: &CollectionName, landing: NaiveDate) -> String {
    format!(
        "corporate_storage/{consumer}/{}/{}/{}",
        landing.format("%Y/%m/%d"),
        collection.db(),
        collection.collection()
    )
}

/// The landing date a daily run for `export_date` reads: the day before.
pub fn landing_date(export_date: NaiveDate) -> NaiveDate {
    export_date.pred_opt().unwrap_or(export_date)
}
