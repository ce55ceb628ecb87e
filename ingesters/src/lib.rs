//! Weir's ingesters: what is particular to each collection.
//!
//! - [`Ingester`]: a collection's daily run (the base run composes the
//!   engine's operators; collections override hooks);
//! - [`Registry`]: maps `db:collection` to its ingester and record rules.

mod ingester;
mod registry;
mod run;

pub use ingester::{
    BaseIngester, BusinessAuditIngester, CalculationPartsIngester, Ingester, OUTPUT_ROOT,
    RunContext, base_layout,
};
pub use registry::Registry;
pub use run::run_all;
