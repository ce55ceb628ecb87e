//! Where corporate storage puts a collection's day (spec §1), and how a daily
//! run's export date maps to the landing date it reads.

use chrono::NaiveDate;

use crate::record::CollectionName;

/// A day's input prefix under the source root:
/// `corporate_storage/<consumer>/YYYY/MM/DD/<db>/<collection>`, where the
/// consumer is the K2HB consumer that wrote the collection (the ingester
/// knows which).
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

/// A day's partition in the input archive (`--archive-input`):
/// `<consumer>/<db>/<collection>/file_land_timestamp=<unix seconds>`, the
/// seconds of the landing date's midnight, UTC (the K2HB prefix's date is
/// when the files landed, so every archiving of a day finds one partition).
pub fn archive_dir(consumer: &str, collection: &CollectionName, landing: NaiveDate) -> String {
    let seconds = landing
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default();
    format!(
        "{consumer}/{}/{}/file_land_timestamp={seconds}",
        collection.db(),
        collection.collection()
    )
}
