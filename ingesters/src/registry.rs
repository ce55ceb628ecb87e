//! Maps `db:collection` to what its ingester needs.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_engine::record::{CollectionName, RecordRules};

use crate::ingester::{BaseIngester, BusinessAuditIngester, CalculationPartsIngester, Ingester};

/// The collections Weir knows something particular about. Collections it does
/// not list get the spec's defaults ([`RecordRules::for_collection`]).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    overrides: BTreeMap<CollectionName, RecordRules>,
}

impl Registry {
    /// The spec's rules for every collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides the rules of one collection (e.g. a team's own collection keyed
    /// like calculationParts).
    pub fn with_rules(mut self, collection: CollectionName, rules: RecordRules) -> Self {
        self.overrides.insert(collection, rules);
        self
    }

    /// The ingester of a collection: its own if it has one, else the base one.
    pub fn ingester(&self, collection: &CollectionName) -> Arc<dyn Ingester> {
        if !self.overrides.contains_key(collection) {
            if collection.is("calculator", "calculationParts") {
                return Arc::new(CalculationPartsIngester::new());
            }
            if collection.is("data", "businessAudit") {
                return Arc::new(BusinessAuditIngester::new());
            }
        }
        Arc::new(BaseIngester::new(
            collection.clone(),
            self.rules_for(collection),
        ))
    }

    /// The record rules for a collection.
    pub fn rules_for(&self, collection: &CollectionName) -> RecordRules {
        self.overrides
            .get(collection)
            .copied()
            .unwrap_or_else(|| RecordRules::for_collection(collection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let parts = CollectionName::parse("calculator:calculationParts").unwrap();
        let mine = CollectionName::parse("mine:things").unwrap();
        let registry = Registry::new().with_rules(
            mine.clone(),
            RecordRules {
                id_part: true,
                ..RecordRules::default()
            },
        );
        assert!(registry.rules_for(&parts).id_part);
        assert!(registry.rules_for(&mine).id_part);
        let other = CollectionName::parse("core:claimant").unwrap();
        assert_eq!(registry.rules_for(&other), RecordRules::default());
    }
}
