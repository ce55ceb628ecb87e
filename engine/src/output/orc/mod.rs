//! Weir's own ORC writer, for the flat types Weir writes.
//!
//! Why not orc-rust's: its 0.9 writer panics on ordinary data (a patched-base
//! run whose widths underflow), writes `timestamp with local time zone`,
//! which Spark 3.5 and Hive cannot read, and writes no statistics or row
//! index, so no reader can skip anything. This one writes what Hive's writer
//! does: `timestamp` in UTC, RLE v2 without patched base, dictionary strings
//! where they repeat, file, stripe and row-group statistics with a row index
//! every [`OrcOptions::row_index_stride`] rows, zlib (or zstd, snappy, none).
//! orc-rust's `proto` module supplies the metadata messages; readers of the
//! output are tested to be Spark 3.5 (both ORC implementations), pyarrow and
//! orc-rust.
//!
//! ```
//! use std::sync::Arc;
//! use datafusion::arrow::array::{RecordBatch, StringArray};
//! use datafusion::arrow::datatypes::{DataType, Field, Schema};
//! use weir_engine::output::orc::{OrcOptions, OrcWriter};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec!["a", "b"]))])?;
//! let mut writer = OrcWriter::try_new(schema, OrcOptions::default())?;
//! writer.write(&batch)?;
//! let bytes = writer.finish()?;
//! assert_eq!(&bytes[..3], b"ORC");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bloom;
mod column;
mod compress;
mod rle;
mod stats;
mod writer;

#[cfg(test)]
mod tests;

pub use writer::OrcWriter;

use super::OrcCompression;

/// How files are written.
#[derive(Debug, Clone)]
pub struct OrcOptions {
    /// The codec.
    pub compression: OrcCompression,
    /// Its level: zlib 0–9 (1, Hive's `SPEED` strategy, by default), zstd
    /// 1–22 (3).
    pub level: i32,
    /// Uncompressed bytes per compression block (ORC's default 256 KiB).
    pub block_size: usize,
    /// Rows per row group (ORC's default 10,000).
    pub row_index_stride: usize,
    /// Buffered Arrow bytes after which a stripe is written.
    pub stripe_bytes: usize,
    /// Columns with a bloom filter per row group (string and binary
    /// columns; others are ignored).
    pub bloom_columns: Vec<String>,
    /// The bloom filters' false-positive rate (ORC's default 5 %).
    pub bloom_fpp: f64,
}

impl Default for OrcOptions {
    fn default() -> Self {
        Self::new(OrcCompression::Zlib)
    }
}

impl OrcOptions {
    /// The defaults for `compression`.
    pub fn new(compression: OrcCompression) -> Self {
        Self {
            compression,
            level: match compression {
                OrcCompression::Zstd => 3,
                _ => 1,
            },
            block_size: 256 * 1024,
            row_index_stride: 10_000,
            stripe_bytes: 64 << 20,
            bloom_columns: Vec::new(),
            bloom_fpp: 0.05,
        }
    }

    /// With bloom filters on `columns`.
    pub fn with_bloom_filters(mut self, columns: &[&str]) -> Self {
        self.bloom_columns = columns.iter().map(|c| (*c).to_owned()).collect();
        self
    }
}

/// A value or type the ORC writer cannot store (the data's fault, or a type
/// Weir does not write as ORC): names the column, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ORC column {column:?}: {detail}")]
pub struct OrcWriteError {
    /// The column (empty when the problem is not one column's).
    pub column: String,
    /// What is wrong.
    pub detail: String,
}
