//! `data:businessAudit`: the `val` text per day, as the old job wrote, read
//! from the `ucfs_audit` consumer's prefix, each document reshaped around
//! its `context` (spec §3); with `--tables`, its four tables ([`tables`]).

pub mod tables;

use weir_engine::output::OutputFormat;
use weir_engine::record::{CollectionName, RecordRules};

use crate::ingester::{Ingester, base_rules};

/// The collection's name.
pub const NAME: &str = "data:businessAudit";

/// The businessAudit ingester.
#[derive(Debug, Clone)]
pub struct BusinessAuditIngester {
    collection: CollectionName,
}

impl BusinessAuditIngester {
    /// The businessAudit ingester.
    pub fn new() -> Self {
        Self {
            collection: CollectionName::parse(NAME)
                .unwrap_or_else(|_| unreachable!("a valid literal")),
        }
    }
}

impl Default for BusinessAuditIngester {
    fn default() -> Self {
        Self::new()
    }
}

impl Ingester for BusinessAuditIngester {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn rules(&self) -> RecordRules {
        RecordRules {
            audit_transform: true,
            ..base_rules()
        }
    }

    fn consumer(&self) -> &str {
        "ucfs_audit"
    }

    fn default_format(&self) -> OutputFormat {
        OutputFormat::Text
    }

    fn tables(&self) -> Vec<weir_engine::tables::TableDef> {
        tables::default_tables()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reshaped_from_ucfs_audit() {
        let ingester = BusinessAuditIngester::new();
        assert!(ingester.rules().audit_transform && !ingester.rules().id_part);
        assert_eq!(ingester.default_format(), OutputFormat::Text);
        assert_eq!(ingester.consumer(), "ucfs_audit");
        let names: Vec<String> = ingester.tables().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "auditlog_raw",
                "auditlog",
                "auditlog_secured",
                "auditlog_redacted"
            ]
        );
    }
}
