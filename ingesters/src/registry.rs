//! Maps `db:collection` to its ingester. Open: a team's own binary starts
//! from [`Registry::with_builtins`] and [`Registry::register`]s its own
//! collections, then hands the registry to `weir run`'s entry point.

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_engine::record::{CollectionName, RecordRules};

use crate::business_audit::BusinessAuditIngester;
use crate::calculation_parts::CalculationPartsIngester;
use crate::ingester::{BaseIngester, Ingester, base_rules};

/// The ingesters of a run. Collections it does not hold get the base
/// ingester (default rules, Parquet, `ucfs_main`).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    ingesters: BTreeMap<CollectionName, Arc<dyn Ingester>>,
}

impl Registry {
    /// No collection of its own: every collection gets the base ingester.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Weir's built-in collections (calculationParts, businessAudit).
    pub fn with_builtins() -> Self {
        Self::empty()
            .register(Arc::new(CalculationPartsIngester::new()))
            .register(Arc::new(BusinessAuditIngester::new()))
    }

    /// Adds (or replaces) the ingester of its collection.
    pub fn register(mut self, ingester: Arc<dyn Ingester>) -> Self {
        self.ingesters
            .insert(ingester.collection().clone(), ingester);
        self
    }

    /// The ingester of a collection: its registered one, else the base one.
    pub fn ingester(&self, collection: &CollectionName) -> Arc<dyn Ingester> {
        match self.ingesters.get(collection) {
            Some(ingester) => Arc::clone(ingester),
            None => Arc::new(BaseIngester::new(collection.clone(), base_rules())),
        }
    }

    /// The record rules of a collection's ingester.
    pub fn rules_for(&self, collection: &CollectionName) -> RecordRules {
        self.ingester(collection).rules()
    }

    /// The collections registered.
    pub fn collections(&self) -> impl Iterator<Item = &CollectionName> {
        self.ingesters.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_registered_and_the_rest_base() {
        let parts = CollectionName::parse("calculator:calculationParts").unwrap();
        let audit = CollectionName::parse("data:businessAudit").unwrap();
        let other = CollectionName::parse("core:claimant").unwrap();
        let registry = Registry::with_builtins();
        assert!(registry.rules_for(&parts).id_part);
        assert!(registry.rules_for(&audit).audit_transform);
        assert_eq!(registry.rules_for(&other), base_rules());
        let declaration = CollectionName::parse("core:healthAndDisabilityDeclaration").unwrap();
        assert!(
            registry
                .rules_for(&declaration)
                .strips_escapes("core", "healthAndDisabilityDeclaration")
        );
        assert!(
            !registry
                .rules_for(&declaration)
                .strips_escapes("core", "claimant")
        );
        assert_eq!(registry.ingester(&audit).consumer(), "ucfs_audit");
        assert_eq!(registry.ingester(&other).consumer(), "ucfs_main");
        // A team's collection keyed like calculationParts, registered as
        // what it is: a base ingester with those rules.
        let mine = CollectionName::parse("mine:things").unwrap();
        let rules = RecordRules {
            id_part: true,
            ..base_rules()
        };
        let registry = registry.register(Arc::new(BaseIngester::new(mine.clone(), rules.clone())));
        assert_eq!(registry.rules_for(&mine), rules);
        assert_eq!(registry.collections().count(), 3);
        // An empty registry knows nothing particular.
        assert_eq!(Registry::empty().rules_for(&parts), base_rules());
    }
}
