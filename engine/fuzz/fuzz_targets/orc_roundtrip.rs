//! Any bytes as columns for Weir's ORC writer (strings, integers,
//! timestamps, with nulls, over any stripe and row-group sizes): it never
//! panics, and orc-rust reads back what was written.
#![no_main]

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use libfuzzer_sys::fuzz_target;
use weir_engine::output::OrcCompression;
use weir_engine::output::orc::{OrcOptions, OrcWriter};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (head, body) = data.split_at(4);
    let rows = body.len() / 9;
    let mut strings = Vec::with_capacity(rows);
    let mut ints = Vec::with_capacity(rows);
    let mut times = Vec::with_capacity(rows);
    for row in body.chunks_exact(9) {
        let n = i64::from_le_bytes(row[1..9].try_into().unwrap());
        let null = row[0] & 0x80 != 0;
        // Short strings from a small alphabet repeat (dictionary), others not.
        strings.push((!null).then(|| format!("{:x}", n as u64 >> (row[0] & 0x3f))));
        // Integers: raw, clustered and constant runs.
        ints.push((row[0] & 0x40 == 0).then_some(match row[0] % 3 {
            0 => n,
            1 => n % 1000,
            _ => 7,
        }));
        // Timestamps within ±300 years of the epoch (ORC-763's second is an
        // error the writer reports, not a panic).
        times.push((!null).then_some(n % 9_000_000_000_000));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(strings)),
        Arc::new(Int64Array::from(ints)),
        Arc::new(TimestampMillisecondArray::from(times)),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    let mut options = OrcOptions::new(match head[0] % 4 {
        0 => OrcCompression::Zlib,
        1 => OrcCompression::Zstd,
        2 => OrcCompression::Snappy,
        _ => OrcCompression::None,
    })
    .with_bloom_filters(&["id"]);
    options.row_index_stride = 1 + head[1] as usize * 4;
    options.block_size = 1024 + head[2] as usize * 64;
    options.stripe_bytes = 512 + head[3] as usize * 256;
    let Ok(mut writer) = OrcWriter::try_new(Arc::clone(&schema), options) else {
        return;
    };
    let at = rows / 2;
    if writer.write(&batch.slice(0, at)).is_err() || writer.write(&batch.slice(at, rows - at)).is_err() {
        return;
    }
    let Ok(bytes) = writer.finish() else { return };
    let read: Vec<RecordBatch> = orc_rust::ArrowReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .expect("a file Weir wrote opens")
        .build()
        .collect::<Result<_, _>>()
        .expect("a file Weir wrote reads");
    let total: usize = read.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, rows);
    let mut offset = 0;
    for b in &read {
        for c in 0..2 {
            let want = batch.column(c).slice(offset, b.num_rows());
            let got = b.column(c);
            // orc-rust reads strings as Utf8 and longs as Int64.
            assert_eq!(got.to_data(), want.to_data(), "column {c}");
        }
        offset += b.num_rows();
    }
});
