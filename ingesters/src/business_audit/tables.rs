//! businessAudit's default tables, the old job's four: the raw documents,
//! typed events, a secured column subset and a redacted copy, each
//! partitioned by `date_str` with the day's partition replaced. The SQL is in
//! `tables/*.sql` beside this file; a `weir.toml` `[[tables]]` entry of the
//! same name replaces one.

use weir_engine::tables::{TableDef, TableQuery};

/// The four tables, in build order (later ones read earlier ones).
pub fn default_tables() -> Vec<TableDef> {
    [
        ("auditlog_raw", include_str!("tables/auditlog_raw.sql")),
        ("auditlog", include_str!("tables/auditlog.sql")),
        (
            "auditlog_secured",
            include_str!("tables/auditlog_secured.sql"),
        ),
        (
            "auditlog_redacted",
            include_str!("tables/auditlog_redacted.sql"),
        ),
    ]
    .into_iter()
    .map(|(name, sql)| TableDef::new(name, TableQuery::Sql(sql.to_owned())))
    .collect()
}
