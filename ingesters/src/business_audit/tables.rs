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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use weir_engine::post::weir_session;

    /// The typed table's SQL reads twelve fields of one `from_json`: each
    /// document must be parsed once, not once per field.
    #[tokio::test]
    async fn the_typed_table_parses_each_document_once() {
        let ctx = weir_session(Default::default());
        ctx.sql(r#"CREATE TABLE day_rows (val VARCHAR) AS VALUES ('{"AUDIT_ID": "a1", "DETAILS": {"name": {"first": "Ann"}}}')"#)
            .await
            .unwrap();
        let tables = default_tables();
        let date = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let typed = &tables[1];
        let frame = typed.frame(&ctx, date).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        assert_eq!(text.matches("from_json(").count(), 1, "{text}");
        let batches = frame.collect().await.unwrap();
        let row = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(row.contains("a1") && row.contains("Ann"), "{row}");
    }
}
