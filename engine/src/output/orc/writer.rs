//! The file: stripes of buffered batches, each with its row indexes, then
//! the stripe statistics, the footer and the postscript.

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use orc_rust::proto::{self, column_encoding, stream, r#type};
use prost::Message;

use super::column::{EncodedColumn, Pos, encode_column, orc_type, root_groups};
use super::compress::{Codec, Compressed};
use super::stats::Stats;
use super::{OrcOptions, OrcWriteError};

/// ORC file format version written (0.12, what Hive 3 and Spark 3 write).
const VERSION: [u32; 2] = [0, 12];
/// The writer version recorded in the postscript: ORC-135 and later fixes
/// (timestamp statistics in UTC, UTF-8 strings) are honoured.
const WRITER_VERSION: u32 = 9;

/// Writes batches of one schema as one ORC file, in memory.
#[derive(Debug)]
pub struct OrcWriter {
    schema: SchemaRef,
    options: OrcOptions,
    codec: Codec,
    out: Vec<u8>,
    /// Batches of the stripe being gathered.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: usize,
    stripes: Vec<proto::StripeInformation>,
    stripe_stats: Vec<proto::StripeStatistics>,
    file_stats: Option<Vec<Stats>>,
    rows: u64,
}

impl OrcWriter {
    /// A writer for `schema`; fails naming the first column whose type ORC
    /// output does not support.
    pub fn try_new(schema: SchemaRef, options: OrcOptions) -> Result<Self, OrcWriteError> {
        for field in schema.fields() {
            if orc_type(field.data_type()).is_none() {
                return Err(OrcWriteError {
                    column: field.name().clone(),
                    detail: format!("type {} cannot be written as ORC", field.data_type()),
                });
            }
        }
        let codec = Codec {
            kind: options.compression,
            level: options.level,
            block: options.block_size,
        };
        Ok(Self {
            schema,
            options,
            codec,
            out: b"ORC".to_vec(),
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
            stripes: Vec::new(),
            stripe_stats: Vec::new(),
            file_stats: None,
            rows: 0,
        })
    }

    /// Adds rows; a stripe is encoded once enough are buffered.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), OrcWriteError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.schema().fields() != self.schema.fields() {
            return Err(OrcWriteError {
                column: String::new(),
                detail: "a batch does not have the file's schema".into(),
            });
        }
        self.pending_rows += batch.num_rows();
        self.pending_bytes += batch.get_array_memory_size();
        self.pending.push(batch.clone());
        if self.pending_bytes >= self.options.stripe_bytes {
            self.flush_stripe()?;
        }
        Ok(())
    }

    /// The whole file.
    pub fn finish(mut self) -> Result<Vec<u8>, OrcWriteError> {
        self.flush_stripe()?;
        let content_length = self.out.len() as u64;
        let metadata = proto::Metadata {
            stripe_stats: std::mem::take(&mut self.stripe_stats),
        };
        let metadata_len = self.append_compressed(&metadata.encode_to_vec(), "metadata")?;
        let mut types = vec![proto::Type {
            kind: Some(r#type::Kind::Struct as i32),
            subtypes: (1..=self.schema.fields().len() as u32).collect(),
            field_names: self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            ..Default::default()
        }];
        types.extend(
            self.schema
                .fields()
                .iter()
                .filter_map(|f| orc_type(f.data_type())),
        );
        let statistics = match &self.file_stats {
            Some(stats) => stats.iter().map(Stats::to_proto).collect(),
            // No rows: the root and each column, empty.
            None => {
                let empty = proto::ColumnStatistics {
                    number_of_values: Some(0),
                    has_null: Some(false),
                    ..Default::default()
                };
                vec![empty; self.schema.fields().len() + 1]
            }
        };
        let footer = proto::Footer {
            header_length: Some(3),
            content_length: Some(content_length),
            stripes: std::mem::take(&mut self.stripes),
            types,
            metadata: vec![proto::UserMetadataItem {
                name: Some("weir.version".into()),
                value: Some(env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
            }],
            number_of_rows: Some(self.rows),
            statistics,
            row_index_stride: Some(self.options.row_index_stride as u32),
            calendar: Some(proto::CalendarKind::ProlepticGregorian as i32),
            software_version: Some(format!("weir {}", env!("CARGO_PKG_VERSION"))),
            ..Default::default()
        };
        let footer_len = self.append_compressed(&footer.encode_to_vec(), "footer")?;
        let postscript = proto::PostScript {
            footer_length: Some(footer_len),
            compression: Some(self.codec.proto_kind() as i32),
            compression_block_size: Some(self.codec.block as u64),
            version: VERSION.to_vec(),
            metadata_length: Some(metadata_len),
            writer_version: Some(WRITER_VERSION),
            magic: Some("ORC".into()),
            ..Default::default()
        };
        let ps = postscript.encode_to_vec();
        self.out.extend_from_slice(&ps);
        self.out.push(ps.len() as u8);
        Ok(self.out)
    }

    fn append_compressed(&mut self, bytes: &[u8], what: &str) -> Result<u64, OrcWriteError> {
        let c = self.codec.compress(bytes).map_err(|e| OrcWriteError {
            column: String::new(),
            detail: format!("cannot compress the {what}: {e}"),
        })?;
        self.out.extend_from_slice(&c.bytes);
        Ok(c.bytes.len() as u64)
    }

    fn flush_stripe(&mut self) -> Result<(), OrcWriteError> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        self.pending_bytes = 0;
        let stride = self.options.row_index_stride;
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for (c, field) in self.schema.fields().iter().enumerate() {
            let arrays: Vec<ArrayRef> = batches.iter().map(|b| b.column(c).clone()).collect();
            let bloom = self
                .options
                .bloom_columns
                .iter()
                .any(|b| b == field.name())
                .then_some(self.options.bloom_fpp);
            let encoded =
                encode_column(&arrays, field.data_type(), stride, bloom).map_err(|detail| {
                    OrcWriteError {
                        column: field.name().clone(),
                        detail,
                    }
                })?;
            columns.push(encoded);
        }
        drop(batches);
        let (root_groups, root_stats) = root_groups(rows, stride);
        self.assemble_stripe(rows, columns, root_groups, root_stats)
    }

    fn assemble_stripe(
        &mut self,
        rows: usize,
        columns: Vec<EncodedColumn>,
        root_groups: Vec<(Vec<Pos>, Stats)>,
        root_stats: Stats,
    ) -> Result<(), OrcWriteError> {
        let offset = self.out.len() as u64;
        let compress = |bytes: &[u8], column: &str| {
            self.codec.compress(bytes).map_err(|e| OrcWriteError {
                column: column.to_owned(),
                detail: format!("cannot compress: {e}"),
            })
        };
        // Data streams first (in memory), so the index can point into them.
        let mut data: Vec<(u32, stream::Kind, Compressed)> = Vec::new();
        let mut compressed_by_column: Vec<Vec<usize>> = Vec::with_capacity(columns.len());
        for (c, col) in columns.iter().enumerate() {
            let name = self.schema.field(c).name();
            let mut ids = Vec::with_capacity(col.streams.len());
            for (kind, bytes) in &col.streams {
                ids.push(data.len());
                data.push((c as u32 + 1, *kind, compress(bytes, name)?));
            }
            compressed_by_column.push(ids);
        }
        let mut footer_streams = Vec::new();
        let mut index_length = 0u64;
        // Row indexes: the root, then each column.
        let mut indexes = vec![row_index(&root_groups, |_, _| {})];
        for (c, col) in columns.iter().enumerate() {
            let ids = &compressed_by_column[c];
            indexes.push(row_index(&col.groups, |pos, out| match pos {
                Pos::Stream(s, offset) => data[ids[*s]].2.positions(&self.codec, *offset, out),
                Pos::Value(v) => out.push(*v),
            }));
        }
        // Each column's row index, then its bloom filters (Java's order).
        for (c, index) in indexes.iter().enumerate() {
            let name = if c == 0 {
                "(root)"
            } else {
                self.schema.field(c - 1).name()
            };
            let bytes = compress(&index.encode_to_vec(), name)?.bytes;
            footer_streams.push(stream_info(stream::Kind::RowIndex, c as u32, bytes.len()));
            index_length += bytes.len() as u64;
            self.out.extend_from_slice(&bytes);
            if let Some(blooms) = c.checked_sub(1).and_then(|i| columns[i].blooms.as_ref()) {
                let index = proto::BloomFilterIndex {
                    bloom_filter: blooms.iter().map(|b| b.to_proto()).collect(),
                };
                let bytes = compress(&index.encode_to_vec(), name)?.bytes;
                footer_streams.push(stream_info(
                    stream::Kind::BloomFilterUtf8,
                    c as u32,
                    bytes.len(),
                ));
                index_length += bytes.len() as u64;
                self.out.extend_from_slice(&bytes);
            }
        }
        let mut data_length = 0u64;
        for (column, kind, c) in &data {
            footer_streams.push(stream_info(*kind, *column, c.bytes.len()));
            data_length += c.bytes.len() as u64;
            self.out.extend_from_slice(&c.bytes);
        }
        let mut encodings = vec![proto::ColumnEncoding {
            kind: Some(column_encoding::Kind::Direct as i32),
            ..Default::default()
        }];
        encodings.extend(columns.iter().map(|c| c.encoding.clone()));
        let footer = proto::StripeFooter {
            streams: footer_streams,
            columns: encodings,
            writer_timezone: Some("UTC".into()),
            ..Default::default()
        };
        let footer_length = self.append_compressed(&footer.encode_to_vec(), "stripe footer")?;
        self.stripes.push(proto::StripeInformation {
            offset: Some(offset),
            index_length: Some(index_length),
            data_length: Some(data_length),
            footer_length: Some(footer_length),
            number_of_rows: Some(rows as u64),
            ..Default::default()
        });
        let mut stats = vec![root_stats];
        stats.extend(columns.into_iter().map(|c| c.stats));
        self.stripe_stats.push(proto::StripeStatistics {
            col_stats: stats.iter().map(Stats::to_proto).collect(),
        });
        match &mut self.file_stats {
            Some(file) => file.iter_mut().zip(&stats).for_each(|(f, s)| f.merge(s)),
            None => self.file_stats = Some(stats),
        }
        self.rows += rows as u64;
        Ok(())
    }
}

fn row_index(
    groups: &[(Vec<Pos>, Stats)],
    mut resolve: impl FnMut(&Pos, &mut Vec<u64>),
) -> proto::RowIndex {
    proto::RowIndex {
        entry: groups
            .iter()
            .map(|(positions, stats)| {
                let mut out = Vec::with_capacity(positions.len() * 2);
                positions.iter().for_each(|p| resolve(p, &mut out));
                proto::RowIndexEntry {
                    positions: out,
                    statistics: Some(stats.to_proto()),
                }
            })
            .collect(),
    }
}

fn stream_info(kind: stream::Kind, column: u32, len: usize) -> proto::Stream {
    proto::Stream {
        kind: Some(kind as i32),
        column: Some(column),
        length: Some(len as u64),
    }
}
