//! `calculator:calculationParts`: daily ORC with `id_part` directories, as
//! the old job wrote; each record's `id_part` comes from `message._id.id`
//! (records without it are corrupt). Its full export (`--update`,
//! `weir merge`) keeps one row per id with the old job's outcome: a DELETE
//! beats any INSERT; with `--tables`, typed tables of it ([`tables`]).

pub mod tables;

use weir_engine::exec::MergeRule;
use weir_engine::output::OutputFormat;
use weir_engine::record::{CollectionName, RecordRules};

use crate::ingester::{Ingester, base_rules};

/// The collection's name.
pub const NAME: &str = "calculator:calculationParts";

/// The calculationParts ingester.
#[derive(Debug, Clone)]
pub struct CalculationPartsIngester {
    collection: CollectionName,
}

impl CalculationPartsIngester {
    /// The calculationParts ingester.
    pub fn new() -> Self {
        Self {
            collection: CollectionName::parse(NAME)
                .unwrap_or_else(|_| unreachable!("a valid literal")),
        }
    }
}

impl Default for CalculationPartsIngester {
    fn default() -> Self {
        Self::new()
    }
}

impl Ingester for CalculationPartsIngester {
    fn collection(&self) -> &CollectionName {
        &self.collection
    }

    fn rules(&self) -> RecordRules {
        RecordRules {
            id_part: true,
            ..base_rules()
        }
    }

    fn default_format(&self) -> OutputFormat {
        OutputFormat::Orc
    }

    /// The old job's window (`partitionBy(id_part, id).orderBy(db_type)`,
    /// first row) keeps a DELETE over any INSERT; Weir breaks its ties
    /// (which the old job left to chance) by `last_modified`, then date.
    fn merge_rule(&self) -> MergeRule {
        MergeRule::DeleteWins
    }

    fn tables(&self) -> Vec<weir_engine::tables::TableDef> {
        tables::default_tables()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orc_with_id_parts_from_ucfs_main() {
        let ingester = CalculationPartsIngester::new();
        assert!(ingester.rules().id_part && !ingester.rules().audit_transform);
        assert_eq!(ingester.default_format(), OutputFormat::Orc);
        assert_eq!(ingester.consumer(), "ucfs_main");
        assert_eq!(ingester.merge_rule(), MergeRule::DeleteWins);
        assert_eq!(
            ingester.exports_dir(),
            "corporate_data_ingestion/exports/calculator/calculationParts"
        );
        for table in ingester.tables() {
            table.validate().unwrap();
        }
    }
}
