//! Weir's ingesters: what is particular to each collection.
//!
//! - [`Ingester`]: a collection's daily run (the base run composes the
//!   engine's operators; collections override hooks, post-processing
//!   inside the commit included);
//! - [`Registry`]: maps `db:collection` to its ingester; open to a team's
//!   own collections;
//! - one folder per built-in collection: [`calculation_parts`],
//!   [`business_audit`].

pub mod business_audit;
pub mod calculation_parts;
mod check;
mod guard;
mod ingester;
mod lookup;
mod registry;
mod run;
mod tables;

pub use business_audit::BusinessAuditIngester;
pub use calculation_parts::CalculationPartsIngester;
pub use check::check_published;
pub use guard::recover_dead_run;
pub use ingester::{
    BaseIngester, ESCAPES_STRIPPED, Ingester, OUTPUT_ROOT, RunContext, base_layout, base_rules,
    default_consumer, merge_refs, run_ingester_day, run_ingester_merge,
};
pub use lookup::{Dataset, lookup_published};
pub use registry::Registry;
pub use run::{run_all, run_all_merges};
pub use tables::TableSettings;
