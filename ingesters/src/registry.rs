//! Maps `db:collection` to what its ingester needs.

use std::collections::BTreeMap;

use weir_engine::record::{CollectionName, RecordRules};

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
