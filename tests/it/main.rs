//! Weir's integration tests (one binary; see `fixtures/` for shared helpers).

mod archive;
mod checks;
mod cli;
mod cluster;
mod conformance;
mod delta;
mod dks;
mod generate;
mod hardening;
mod ingester;
mod lines;
mod lookup;
mod merge;
mod merge_reference;
mod operations;
mod orc;
mod outage;
mod properties;
mod python_oracle;
mod recovery;
mod run;
mod s3;
mod sample;
mod serve;
mod tables;
mod whole_day;
