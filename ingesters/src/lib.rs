//! Weir's ingesters: what is particular to each collection.
//!
//! Today this crate holds the [`Registry`] that chooses each collection's record
//! rules (spec §3 and §7). The `Ingester` trait, the base run and the
//! businessAudit and calculationParts ingesters come with the local engine.

mod registry;

pub use registry::Registry;
