//! Round trips through a reader Weir did not write (orc-rust's), on
//! arbitrary batches of every supported type; pyarrow and Spark read the
//! same writer's files in the integration tests.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, TimestampMillisecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use orc_rust::{ArrowReaderBuilder, Predicate, PredicateValue};
use proptest::prelude::*;

use super::{OrcOptions, OrcWriter};
use crate::output::OrcCompression;

fn read_back(bytes: Vec<u8>) -> Vec<RecordBatch> {
    ArrowReaderBuilder::try_new(Bytes::from(bytes))
        .expect("orc-rust reads the footer")
        .build()
        .collect::<Result<Vec<_>, _>>()
        .expect("orc-rust reads the stripes")
}

/// Each column's values as text, after casting to the type the reader chose.
fn texts(columns: &[ArrayRef], types: &[DataType]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("∅");
    columns
        .iter()
        .zip(types)
        .map(|(c, t)| {
            let c = cast(c, t).expect("cast to the reader's type");
            let f = ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter");
            (0..c.len()).map(|i| f.value(i).to_string()).collect()
        })
        .collect()
}

fn concat_column(batches: &[RecordBatch], i: usize) -> ArrayRef {
    let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
    datafusion::arrow::compute::concat(&parts).expect("concat")
}

fn assert_round_trip(schema: SchemaRef, batches: &[RecordBatch], options: OrcOptions) {
    let mut writer = OrcWriter::try_new(Arc::clone(&schema), options).expect("writer");
    for b in batches {
        writer.write(b).expect("write");
    }
    let read = read_back(writer.finish().expect("finish"));
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(read.iter().map(RecordBatch::num_rows).sum::<usize>(), rows);
    if rows == 0 {
        return;
    }
    let types: Vec<DataType> = read[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let n = schema.fields().len();
    let expected: Vec<ArrayRef> = (0..n).map(|i| concat_column(batches, i)).collect();
    let got: Vec<ArrayRef> = (0..n).map(|i| concat_column(&read, i)).collect();
    let (expected, got) = (texts(&expected, &types), texts(&got, &types));
    for i in 0..n {
        assert_eq!(expected[i], got[i], "column {}", schema.field(i).name());
    }
}

/// Seconds of 1900-01-01 and 2200-01-01.
const Y1900: i64 = -2_208_988_800;
const Y2200: i64 = 7_258_118_400;

/// Timestamps in ms: the span Weir must hold, clustered values, and the
/// 1980 fallback among current dates (what broke orc-rust's writer); never
/// the one second ORC cannot encode (see `orc763_is_an_error`).
fn millis() -> impl Strategy<Value = i64> {
    prop_oneof![
        (Y1900 * 1000..Y2200 * 1000),
        (1_685_577_600_000i64..1_685_664_000_000),
        Just(315_532_800_000i64),
        Just(0i64),
        Just(-1_000i64),
    ]
    .prop_filter("ORC-763", |m| !(-999..0).contains(m))
}

fn ints() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        (-5i64..5),
        (1_000_000i64..1_000_100),
        (0i64..1 << 40),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-c]{1,3}",
        "\\PC{0,40}",
        (0usize..3).prop_map(|k| "é".repeat(600 * (k + 1))),
    ]
}

#[derive(Debug, Clone)]
struct Row {
    id: Option<String>,
    kind: Option<String>,
    long: Option<i64>,
    int: Option<i32>,
    short: Option<i16>,
    byte: Option<i8>,
    double: Option<f64>,
    float: Option<f32>,
    flag: Option<bool>,
    date: Option<i32>,
    ms: Option<i64>,
    us: Option<i64>,
    dec: Option<i128>,
    bin: Option<Vec<u8>>,
}

fn row() -> impl Strategy<Value = Row> {
    let double = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0f64)
    ];
    (
        (
            proptest::option::weighted(0.9, text()),
            proptest::option::weighted(0.9, prop_oneof!["INSERT", "DELETE"]),
            proptest::option::weighted(0.9, ints()),
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<i16>()),
            proptest::option::of(any::<i8>()),
            proptest::option::of(double),
        ),
        (
            proptest::option::of(any::<f32>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(-719_162i32..2_932_896),
            proptest::option::weighted(0.95, millis()),
            proptest::option::of(
                (Y1900 * 1_000_000..Y2200 * 1_000_000)
                    .prop_filter("ORC-763", |u| !(-999_999..0).contains(u)),
            ),
            proptest::option::of(-(10i128.pow(30))..10i128.pow(30)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        ),
    )
        .prop_map(
            |(
                (id, kind, long, int, short, byte, double),
                (float, flag, date, ms, us, dec, bin),
            )| Row {
                id,
                kind,
                long,
                int,
                short,
                byte,
                double,
                float,
                flag,
                date,
                ms,
                us,
                dec,
                bin,
            },
        )
}

fn all_types() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("db_type", DataType::Utf8, true),
        Field::new("long", DataType::Int64, true),
        Field::new("int", DataType::Int32, true),
        Field::new("short", DataType::Int16, true),
        Field::new("byte", DataType::Int8, true),
        Field::new("double", DataType::Float64, true),
        Field::new("float", DataType::Float32, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("date", DataType::Date32, true),
        Field::new(
            "last_modified",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("us", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("amount", DataType::Decimal128(38, 4), true),
        Field::new("bin", DataType::Binary, true),
    ]))
}

fn batch(schema: &SchemaRef, rows: &[Row]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.id.clone()))),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.kind.clone()))),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.long))),
        Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.int))),
        Arc::new(Int16Array::from_iter(rows.iter().map(|r| r.short))),
        Arc::new(Int8Array::from_iter(rows.iter().map(|r| r.byte))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.double))),
        Arc::new(Float32Array::from_iter(rows.iter().map(|r| r.float))),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.flag))),
        Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.date))),
        Arc::new(
            TimestampMillisecondArray::from_iter(rows.iter().map(|r| r.ms)).with_timezone("UTC"),
        ),
        Arc::new(TimestampMicrosecondArray::from_iter(
            rows.iter().map(|r| r.us),
        )),
        Arc::new(
            Decimal128Array::from_iter(rows.iter().map(|r| r.dec))
                .with_precision_and_scale(38, 4)
                .expect("decimal type"),
        ),
        Arc::new(BinaryArray::from_iter(
            rows.iter().map(|r| r.bin.as_deref()),
        )),
    ];
    RecordBatch::try_new(Arc::clone(schema), columns).expect("batch")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_batches_read_back_equal(
        batches in proptest::collection::vec(proptest::collection::vec(row(), 0..300), 1..4),
        stride in 1usize..64,
        block in 16usize..4096,
        stripe_bytes in 1usize..200_000,
        codec in prop_oneof![
            Just(OrcCompression::Zlib),
            Just(OrcCompression::Zstd),
            Just(OrcCompression::Snappy),
            Just(OrcCompression::None),
        ],
    ) {
        let schema = all_types();
        let batches: Vec<RecordBatch> = batches.iter().map(|rows| batch(&schema, rows)).collect();
        let options = OrcOptions {
            block_size: block,
            row_index_stride: stride,
            stripe_bytes,
            ..OrcOptions::new(codec).with_bloom_filters(&["id", "db_type", "bin", "long"])
        };
        assert_round_trip(schema, &batches, options);
    }

    /// Integer runs of every shape RLE v2 has: repeats, monotonic runs,
    /// outliers among small values, extremes.
    #[test]
    fn integer_runs_read_back_equal(
        runs in proptest::collection::vec(
            (ints(), -3i64..4, 1usize..700, any::<bool>()), 1..12),
    ) {
        let mut values = Vec::new();
        for (start, step, len, outlier) in runs {
            let mut v = start;
            for k in 0..len {
                values.push(if outlier && k % 97 == 50 { v ^ (1 << 40) } else { v });
                v = v.wrapping_add(step);
            }
        }
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let b = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(values))])
            .expect("batch");
        assert_round_trip(schema, &[b], OrcOptions::default());
    }
}

/// The reproduction: `last_modified` seconds of current dates with
/// the 1980-01-01 fallback among them, which orc-rust 0.9 panicked on.
#[test]
fn fallback_dates_among_current_ones() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "last_modified",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        false,
    )]));
    let values: Vec<i64> = (0..200_000i64)
        .map(|i| {
            if i % 6897 == 13 {
                315_532_800_000
            } else {
                1_685_577_600_000 + (i * 7_919_731) % 86_400_000
            }
        })
        .collect();
    let array = TimestampMillisecondArray::from(values).with_timezone("UTC");
    let b = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(array)]).expect("batch");
    assert_round_trip(schema, &[b], OrcOptions::default());
}

#[test]
fn orc763_is_an_error_naming_the_column() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "last_modified",
        DataType::Timestamp(TimeUnit::Millisecond, None),
        false,
    )]));
    let b = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(TimestampMillisecondArray::from(vec![-500]))],
    )
    .expect("batch");
    let mut writer = OrcWriter::try_new(schema, OrcOptions::default()).expect("writer");
    writer.write(&b).expect("buffered");
    let err = writer.finish().expect_err("not representable");
    assert_eq!(err.column, "last_modified");
    assert!(err.to_string().contains("ORC-763"), "{err}");
}

#[test]
fn unsupported_types_are_refused_by_name() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "tags",
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        true,
    )]));
    let err = OrcWriter::try_new(schema, OrcOptions::default()).expect_err("nested");
    assert_eq!(err.column, "tags");
}

#[test]
fn empty_file_reads_as_no_rows() {
    let schema = all_types();
    let writer = OrcWriter::try_new(Arc::clone(&schema), OrcOptions::default()).expect("writer");
    assert!(read_back(writer.finish().expect("finish")).is_empty());
}

/// Which row groups of a one-stripe file orc-rust's own evaluator keeps
/// for `column = value`, from the row indexes (and bloom filters) Weir wrote.
fn groups_kept(bytes: &Bytes, column: &str, value: &str) -> Vec<bool> {
    let mut reader = bytes.clone();
    let metadata = orc_rust::reader::metadata::read_metadata(&mut reader).expect("metadata");
    let stripes = metadata.stripe_metadatas();
    assert_eq!(stripes.len(), 1);
    let stripe = orc_rust::stripe::Stripe::new(
        &mut reader,
        &metadata,
        metadata.root_data_type(),
        &stripes[0],
    )
    .expect("stripe");
    let index = stripe.read_row_indexes(&metadata).expect("row indexes");
    let p = Predicate::eq(column, PredicateValue::Utf8(Some(value.into())));
    orc_rust::row_group_filter::evaluate_predicate(&p, &index, metadata.root_data_type())
        .expect("evaluate")
}

/// Sorted ids, a row index every 10,000 rows: a reader that uses the index
/// (orc-rust's predicate) reads one row group for one id, not all five.
#[test]
fn row_index_lets_a_reader_skip_row_groups() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("db_type", DataType::Utf8, false),
    ]));
    let ids: Vec<String> = (0..50_000).map(|i| format!("id-{i:06}")).collect();
    let kinds: Vec<&str> = (0..50_000)
        .map(|i| if i % 4 == 0 { "DELETE" } else { "INSERT" })
        .collect();
    let b = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(kinds)),
        ],
    )
    .expect("batch");
    let mut writer = OrcWriter::try_new(schema, OrcOptions::default()).expect("writer");
    writer.write(&b).expect("write");
    let bytes = Bytes::from(writer.finish().expect("finish"));
    // orc-rust's own evaluator, over the row indexes Weir wrote: one row
    // group of five can hold the id. (Its reader then reads from the first
    // kept group to the stripe's end, so the count of rows read is not the
    // measure.)
    let keep = |id: &str| groups_kept(&bytes, "id", id);
    assert_eq!(keep("id-031234"), [false, false, false, true, false]);
    assert_eq!(keep("id-000000"), [true, false, false, false, false]);
    assert_eq!(keep("zzz"), [false; 5]);
    let kinds = |v: &str| groups_kept(&bytes, "db_type", v);
    assert_eq!(kinds("UPDATE"), [false; 5], "dictionary column statistics");
    // And the rows read through the predicate hold the id.
    let some: Vec<RecordBatch> = ArrowReaderBuilder::try_new(bytes)
        .expect("reader")
        .with_predicate(Predicate::eq(
            "id",
            PredicateValue::Utf8(Some("id-031234".into())),
        ))
        .build()
        .collect::<Result<_, _>>()
        .expect("read");
    let ids = concat_column(&some, 0);
    let ids = ids.as_any().downcast_ref::<StringArray>().expect("strings");
    assert!(ids.len() < 50_000 && ids.iter().any(|v| v == Some("id-031234")));
}

/// Ids in no order, so row-group ranges cannot rule one out: the bloom
/// filters Weir writes on `id` let orc-rust's evaluator skip the row groups
/// that do not hold it.
#[test]
fn bloom_filters_let_a_reader_skip_what_statistics_cannot() {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
    // A permutation of 0..20,000: every row group spans nearly all ids.
    let ids: Vec<String> = (0..20_000u64)
        .map(|i| format!("id-{:05}", (i * 7_919) % 20_000))
        .collect();
    let b = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(StringArray::from(ids))])
        .expect("batch");
    let options = OrcOptions {
        row_index_stride: 1_000,
        ..OrcOptions::default().with_bloom_filters(&["id"])
    };
    let mut writer = OrcWriter::try_new(schema, options).expect("writer");
    writer.write(&b).expect("write");
    let bytes = Bytes::from(writer.finish().expect("finish"));
    let keep = |id: &str| groups_kept(&bytes, "id", id);
    // id-00000 is row 0: group 0 keeps it; most others are skipped.
    let present = keep("id-00000");
    assert!(present[0], "{present:?}");
    assert!(present.iter().filter(|k| **k).count() <= 4, "{present:?}");
    // In every group's range, in none: the filters skip nearly all.
    let absent = keep("id-09999x");
    assert!(absent.iter().filter(|k| **k).count() <= 4, "{absent:?}");
}
