//! Where corporate storage puts a collection's day (spec §1), and how a daily
//! run's export date maps to the landing date it reads.

use chrono::NaiveDate;

use crate::record::CollectionName;

/// The K2HB consumer that wrote a collection.
pub fn consumer(collection: &CollectionName) -> &'static str {
    if collection.db() == "data" && collection.collection() == "businessAudit" {
        "ucfs_audit"
    } else if collection.db().contains("equalit") {
        "ucfs_equalities"
    } else {
        "ucfs_main"
    }
}

/// The day's input prefix under the source root:
/// `corporate_storage/<consumer>/YYYY/MM/DD/<db>/<collection>`.
pub fn input_prefix(collection: &CollectionName, landing: NaiveDate) -> String {
    format!(
        "corporate_storage/{}/{}/{}/{}",
        consumer(collection),
        landing.format("%Y/%m/%d"),
        collection.db(),
        collection.collection()
    )
}

/// The landing date a daily run for `export_date` reads: the day before.
pub fn landing_date(export_date: NaiveDate) -> NaiveDate {
    export_date.pred_opt().unwrap_or(export_date)
}
