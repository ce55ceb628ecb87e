//! One column of one stripe: its streams, its encoding, and a row index entry
//! (positions and statistics) per row group.
//!
//! Encoders are flushed at every row group start, so a position is a byte
//! offset into a stream plus "nothing consumed"; offsets become (block,
//! offset in block) once the stream is compressed ([`super::compress`]).

use std::ops::Range;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, OffsetSizeTrait};
// foldhash, not SipHash: the sample below hashed whole 2 KB `val`s with
// SipHash, 4 % of an ORC day's CPU in the profile.
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{HashMap, HashSet};
use orc_rust::proto::{self, column_encoding, stream, r#type};

use super::bloom::Bloom;
use super::rle::{BoolRle, ByteRle, IntRleV2, write_svarint128};
use super::stats::{Stats, StatsKind};

/// A row index position before compression is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pos {
    /// An uncompressed byte offset in the column's stream number `.0`.
    Stream(usize, u64),
    /// A count (values or bits already consumed at that offset).
    Value(u64),
}

/// A column's stripe, encoded but not compressed.
#[derive(Debug)]
pub(super) struct EncodedColumn {
    pub streams: Vec<(stream::Kind, Vec<u8>)>,
    pub encoding: proto::ColumnEncoding,
    /// Per row group: where it starts in each stream, and its statistics.
    pub groups: Vec<(Vec<Pos>, Stats)>,
    pub stats: Stats,
    /// Per row group, when the column has bloom filters.
    pub blooms: Option<Vec<Bloom>>,
}

/// The ORC type of an Arrow type Weir writes, or `None` if it writes none.
pub(super) fn orc_type(data_type: &DataType) -> Option<proto::Type> {
    let kind = match data_type {
        DataType::Boolean => r#type::Kind::Boolean,
        DataType::Int8 => r#type::Kind::Byte,
        DataType::Int16 => r#type::Kind::Short,
        DataType::Int32 => r#type::Kind::Int,
        DataType::Int64 => r#type::Kind::Long,
        DataType::Float32 => r#type::Kind::Float,
        DataType::Float64 => r#type::Kind::Double,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => r#type::Kind::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => r#type::Kind::Binary,
        // ORC `timestamp`, not `timestamp with local time zone`: the type
        // Hive and Spark 3.5 read (the writer's time zone is UTC).
        DataType::Timestamp(_, _) => r#type::Kind::Timestamp,
        DataType::Date32 => r#type::Kind::Date,
        DataType::Decimal128(p, s) if *p <= 38 && *s >= 0 => {
            return Some(proto::Type {
                kind: Some(r#type::Kind::Decimal as i32),
                precision: Some(u32::from(*p)),
                scale: Some(*s as u32),
                ..Default::default()
            });
        }
        _ => return None,
    };
    Some(proto::Type {
        kind: Some(kind as i32),
        ..Default::default()
    })
}

/// Encodes `arrays` (one column, in row order) as one stripe's column.
/// Errors say what is wrong with a value, without the value.
pub(super) fn encode_column(
    arrays: &[ArrayRef],
    data_type: &DataType,
    stride: usize,
    bloom_fpp: Option<f64>,
) -> Result<EncodedColumn, String> {
    let (mut values, kind) = values_for(data_type, arrays)?;
    let has_nulls = arrays.iter().any(|a| a.null_count() > 0);
    let mut present = has_nulls.then(BoolRle::default);
    let mut present_out = Vec::new();
    let base = usize::from(has_nulls);
    let mut groups = Vec::new();
    let mut group = Stats::new(kind);
    let mut positions = Vec::new();
    // Bloom filters hold string and binary values (BLOOM_FILTER_UTF8).
    let bloom_fpp = bloom_fpp.filter(|_| matches!(kind, StatsKind::Str | StatsKind::Binary));
    let mut blooms: Vec<Bloom> = Vec::new();
    let mut row = 0usize;
    for array in arrays {
        let mut start = 0;
        while start < array.len() {
            if row.is_multiple_of(stride) {
                if row > 0 {
                    let done = std::mem::replace(&mut group, Stats::new(kind));
                    groups.push((std::mem::take(&mut positions), done));
                }
                if let Some(p) = &mut present {
                    let bits = p.flush_whole(&mut present_out);
                    positions.push(Pos::Stream(0, present_out.len() as u64));
                    positions.extend([Pos::Value(0), Pos::Value(bits)]);
                }
                values.mark(base, &mut positions);
                if let Some(fpp) = bloom_fpp {
                    blooms.push(Bloom::new(stride, fpp));
                }
            }
            let end = array.len().min(start + (stride - row % stride));
            if let Some(p) = &mut present {
                let mut nulls = false;
                for i in start..end {
                    let valid = array.is_valid(i);
                    nulls |= !valid;
                    p.push(valid);
                }
                if nulls {
                    group.null();
                }
            }
            values.push(array.as_ref(), start..end, &mut group)?;
            if let Some(bloom) = blooms.last_mut() {
                for i in start..end {
                    if let Some(v) = bytes_at(array.as_ref(), i) {
                        bloom.add(v);
                    }
                }
            }
            row += end - start;
            start = end;
        }
    }
    if row > 0 {
        groups.push((positions, group));
    }
    let mut stats = Stats::new(kind);
    for (_, g) in &groups {
        stats.merge(g);
    }
    let (mut value_streams, mut encoding) = values.finish();
    if bloom_fpp.is_some() {
        // 1: UTF-8 bloom filters (ORC-101 and later).
        encoding.bloom_encoding = Some(1);
    }
    let mut streams = Vec::with_capacity(value_streams.len() + 1);
    if let Some(mut p) = present {
        p.finish(&mut present_out);
        streams.push((stream::Kind::Present, present_out));
    }
    streams.append(&mut value_streams);
    Ok(EncodedColumn {
        streams,
        encoding,
        groups,
        stats,
        blooms: bloom_fpp.map(|_| blooms),
    })
}

/// The statistics of the root struct column over `rows` rows.
pub(super) fn root_groups(rows: usize, stride: usize) -> (Vec<(Vec<Pos>, Stats)>, Stats) {
    let mut groups = Vec::new();
    let mut total = Stats::new(StatsKind::Struct);
    let mut start = 0;
    while start < rows {
        let mut g = Stats::new(StatsKind::Struct);
        for _ in start..rows.min(start + stride) {
            g.value();
        }
        total.merge(&g);
        groups.push((Vec::new(), g));
        start += stride;
    }
    (groups, total)
}

/// A column's value streams (everything but PRESENT).
trait Values {
    /// Flushes and records where the next row group starts; `base` is the
    /// column's stream number of this encoder's first stream.
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>);
    /// Appends the non-null values of `array[range]`.
    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String>;
    /// The streams, in order, and the column encoding.
    fn finish(self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding);
}

fn encoding(kind: column_encoding::Kind) -> proto::ColumnEncoding {
    proto::ColumnEncoding {
        kind: Some(kind as i32),
        ..Default::default()
    }
}

fn values_for(
    data_type: &DataType,
    arrays: &[ArrayRef],
) -> Result<(Box<dyn Values>, StatsKind), String> {
    Ok(match data_type {
        DataType::Boolean => (Box::new(Bools::default()), StatsKind::Bool),
        DataType::Int8 => (Box::new(Bytes::default()), StatsKind::Int),
        DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            (Box::new(Ints::new(true)), StatsKind::Int)
        }
        DataType::Date32 => (Box::new(Ints::new(true)), StatsKind::Date),
        DataType::Float32 | DataType::Float64 => (Box::new(Floats::default()), StatsKind::Double),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            if dictionary_pays(arrays) {
                (Box::new(DictStrings::default()), StatsKind::Str)
            } else {
                (Box::new(DirectStrings::new(arrays)), StatsKind::Str)
            }
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            (Box::new(DirectStrings::new(arrays)), StatsKind::Binary)
        }
        DataType::Timestamp(unit, _) => (Box::new(Timestamps::new(*unit)), StatsKind::Timestamp),
        DataType::Decimal128(_, scale) if *scale >= 0 => (
            Box::new(Decimals::new(*scale)),
            StatsKind::Decimal { scale: *scale },
        ),
        other => return Err(format!("type {other} cannot be written as ORC")),
    })
}

/// Values Weir sees before choosing a string encoding.
const DICTIONARY_SAMPLE: usize = 1024;

/// Dictionary encoding when a sample of the stripe's first values repeats
/// at least every other value (`db_type`, `id_part`; not `id` or `val`).
fn dictionary_pays(arrays: &[ArrayRef]) -> bool {
    let mut seen = HashSet::new();
    let mut n = 0usize;
    'outer: for array in arrays {
        for i in 0..array.len() {
            // Past half the sample distinct, the answer is no whatever
            // follows: columns of unique values stop here, not at the end.
            if n == DICTIONARY_SAMPLE || seen.len() * 2 > DICTIONARY_SAMPLE {
                break 'outer;
            }
            if let Some(v) = bytes_at(array.as_ref(), i) {
                seen.insert(v);
                n += 1;
            }
        }
    }
    n > 0 && seen.len() * 2 <= n
}

/// The bytes of the values of a string or binary array (0 for views,
/// whose values are not laid end to end).
fn value_bytes(array: &dyn Array) -> usize {
    fn span<O: OffsetSizeTrait>(offsets: &[O]) -> usize {
        match (offsets.first(), offsets.last()) {
            (Some(first), Some(last)) => (*last - *first).as_usize(),
            _ => 0,
        }
    }
    match array.data_type() {
        DataType::Utf8 => span(array.as_string::<i32>().value_offsets()),
        DataType::LargeUtf8 => span(array.as_string::<i64>().value_offsets()),
        DataType::Binary => span(array.as_binary::<i32>().value_offsets()),
        DataType::LargeBinary => span(array.as_binary::<i64>().value_offsets()),
        _ => 0,
    }
}

/// The bytes of a string or binary value, `None` when null.
fn bytes_at(array: &dyn Array, i: usize) -> Option<&[u8]> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).as_bytes(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).as_bytes(),
        DataType::Utf8View => array.as_string_view().value(i).as_bytes(),
        DataType::Binary => array.as_binary::<i32>().value(i),
        DataType::LargeBinary => array.as_binary::<i64>().value(i),
        DataType::BinaryView => array.as_binary_view().value(i),
        _ => return None,
    })
}

#[derive(Default)]
struct Bools {
    rle: BoolRle,
    out: Vec<u8>,
}

impl Values for Bools {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        let bits = self.rle.flush_whole(&mut self.out);
        positions.push(Pos::Stream(base, self.out.len() as u64));
        positions.extend([Pos::Value(0), Pos::Value(bits)]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        let a = array.as_boolean();
        for i in range.filter(|i| a.is_valid(*i)) {
            self.rle.push(a.value(i));
            stats.boolean(a.value(i));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.rle.finish(&mut self.out);
        (
            vec![(stream::Kind::Data, self.out)],
            encoding(column_encoding::Kind::Direct),
        )
    }
}

#[derive(Default)]
struct Bytes {
    rle: ByteRle,
    out: Vec<u8>,
}

impl Values for Bytes {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        self.rle.flush(&mut self.out);
        positions.extend([Pos::Stream(base, self.out.len() as u64), Pos::Value(0)]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        let a = array.as_primitive::<Int8Type>();
        for i in range.filter(|i| a.is_valid(*i)) {
            self.rle.push(a.value(i) as u8);
            stats.int(i64::from(a.value(i)));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.rle.flush(&mut self.out);
        (
            vec![(stream::Kind::Data, self.out)],
            encoding(column_encoding::Kind::Direct),
        )
    }
}

/// SHORT, INT, LONG and DATE: signed RLE v2.
struct Ints {
    rle: IntRleV2,
    out: Vec<u8>,
}

impl Ints {
    fn new(signed: bool) -> Self {
        Self {
            rle: IntRleV2::new(signed),
            out: Vec::new(),
        }
    }
}

impl Values for Ints {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        self.rle.flush(&mut self.out);
        positions.extend([Pos::Stream(base, self.out.len() as u64), Pos::Value(0)]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        macro_rules! each {
            ($t:ty, $stat:ident) => {{
                let a = array.as_primitive::<$t>();
                for i in range.filter(|i| a.is_valid(*i)) {
                    let v = a.value(i);
                    self.rle.push(i64::from(v));
                    stats.$stat(v.into());
                }
            }};
        }
        match array.data_type() {
            DataType::Int16 => each!(Int16Type, int),
            DataType::Int32 => each!(Int32Type, int),
            DataType::Int64 => each!(Int64Type, int),
            DataType::Date32 => each!(Date32Type, date),
            other => return Err(format!("{other} is not an ORC integer")),
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.rle.flush(&mut self.out);
        (
            vec![(stream::Kind::Data, self.out)],
            encoding(column_encoding::Kind::DirectV2),
        )
    }
}

/// FLOAT and DOUBLE: IEEE 754 little-endian.
#[derive(Default)]
struct Floats {
    out: Vec<u8>,
}

impl Values for Floats {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        positions.push(Pos::Stream(base, self.out.len() as u64));
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        match array.data_type() {
            DataType::Float32 => {
                let a = array.as_primitive::<Float32Type>();
                for i in range.filter(|i| a.is_valid(*i)) {
                    self.out.extend_from_slice(&a.value(i).to_le_bytes());
                    stats.double(f64::from(a.value(i)));
                }
            }
            _ => {
                let a = array.as_primitive::<Float64Type>();
                for i in range.filter(|i| a.is_valid(*i)) {
                    self.out.extend_from_slice(&a.value(i).to_le_bytes());
                    stats.double(a.value(i));
                }
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        (
            vec![(stream::Kind::Data, self.out)],
            encoding(column_encoding::Kind::Direct),
        )
    }
}

/// STRING and BINARY, direct: the bytes, then the lengths.
struct DirectStrings {
    data: Vec<u8>,
    lengths: IntRleV2,
    lengths_out: Vec<u8>,
}

impl DirectStrings {
    /// Sized for every value of `arrays`: grown by doubling, a file's
    /// `val` stream was copied about once more (0.7 % of an ORC day's CPU).
    fn new(arrays: &[ArrayRef]) -> Self {
        Self {
            data: Vec::with_capacity(arrays.iter().map(|a| value_bytes(a.as_ref())).sum()),
            lengths: IntRleV2::new(false),
            lengths_out: Vec::new(),
        }
    }
}

impl Values for DirectStrings {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        self.lengths.flush(&mut self.lengths_out);
        positions.push(Pos::Stream(base, self.data.len() as u64));
        positions.extend([
            Pos::Stream(base + 1, self.lengths_out.len() as u64),
            Pos::Value(0),
        ]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        let binary = matches!(
            array.data_type(),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        );
        for i in range {
            if let Some(v) = bytes_at(array, i) {
                self.data.extend_from_slice(v);
                self.lengths.push(v.len() as i64);
                if binary {
                    stats.binary(v.len());
                } else {
                    stats.string(v);
                }
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.lengths.flush(&mut self.lengths_out);
        (
            vec![
                (stream::Kind::Data, self.data),
                (stream::Kind::Length, self.lengths_out),
            ],
            encoding(column_encoding::Kind::DirectV2),
        )
    }
}

/// STRING, dictionary: each value's entry number, the entries' lengths, the
/// entries. Entries are in first-seen order (readers do not require sorted
/// dictionaries; ORC 1.7's hash dictionary writes them unsorted too).
struct DictStrings {
    ids: IntRleV2,
    ids_out: Vec<u8>,
    index: HashMap<Vec<u8>, u32>,
    entries: Vec<u8>,
    lengths: IntRleV2,
}

impl Default for DictStrings {
    fn default() -> Self {
        Self {
            ids: IntRleV2::new(false),
            ids_out: Vec::new(),
            index: HashMap::default(),
            entries: Vec::new(),
            lengths: IntRleV2::new(false),
        }
    }
}

impl Values for DictStrings {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        self.ids.flush(&mut self.ids_out);
        positions.extend([Pos::Stream(base, self.ids_out.len() as u64), Pos::Value(0)]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        for i in range {
            if let Some(v) = bytes_at(array, i) {
                let id = match self.index.get(v) {
                    Some(id) => *id,
                    None => {
                        let id = self.index.len() as u32;
                        self.index.insert(v.to_vec(), id);
                        self.entries.extend_from_slice(v);
                        self.lengths.push(v.len() as i64);
                        id
                    }
                };
                self.ids.push(i64::from(id));
                stats.string(v);
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.ids.flush(&mut self.ids_out);
        let mut lengths_out = Vec::new();
        self.lengths.flush(&mut lengths_out);
        (
            vec![
                (stream::Kind::Data, self.ids_out),
                (stream::Kind::Length, lengths_out),
                (stream::Kind::DictionaryData, self.entries),
            ],
            proto::ColumnEncoding {
                kind: Some(column_encoding::Kind::DictionaryV2 as i32),
                dictionary_size: Some(self.index.len() as u32),
                ..Default::default()
            },
        )
    }
}

/// 2015-01-01T00:00:00 UTC: ORC timestamps count seconds from it (in the
/// writer's time zone, which is UTC here).
const ORC_EPOCH: i64 = 1_420_070_400;

/// TIMESTAMP: seconds from [`ORC_EPOCH`] (signed), then nanoseconds with
/// their trailing zeros folded (unsigned).
struct Timestamps {
    unit_nanos: i128,
    seconds: IntRleV2,
    seconds_out: Vec<u8>,
    nanos: IntRleV2,
    nanos_out: Vec<u8>,
}

impl Timestamps {
    fn new(unit: TimeUnit) -> Self {
        let unit_nanos = match unit {
            TimeUnit::Second => 1_000_000_000,
            TimeUnit::Millisecond => 1_000_000,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1,
        };
        Self {
            unit_nanos,
            seconds: IntRleV2::new(true),
            seconds_out: Vec::new(),
            nanos: IntRleV2::new(false),
            nanos_out: Vec::new(),
        }
    }

    fn push_nanos(&mut self, total: i128) -> Result<(), String> {
        let mut seconds = total.div_euclid(1_000_000_000);
        let nanos = total.rem_euclid(1_000_000_000) as i64;
        // Readers take one second off a negative second with a fraction
        // (ORC-763), so writers add it first; the second just before the
        // epoch then has no encoding at all.
        if seconds == -1 && nanos > 999_999 {
            return Err(
                "a timestamp within the second before 1970-01-01T00:00:00Z with a fraction \
                 of a millisecond or more cannot be stored in ORC (ORC-763)"
                    .into(),
            );
        }
        if seconds < 0 && nanos > 999_999 {
            seconds += 1;
        }
        let relative = i64::try_from(seconds - i128::from(ORC_EPOCH))
            .map_err(|_| "a timestamp is out of ORC's range".to_owned())?;
        self.seconds.push(relative);
        self.nanos.push(fold_nanos(nanos));
        Ok(())
    }
}

/// ORC's nanosecond encoding: trailing decimal zeros (beyond two) counted in
/// the low three bits.
fn fold_nanos(nanos: i64) -> i64 {
    if nanos == 0 {
        return 0;
    }
    if nanos % 100 != 0 {
        return nanos << 3;
    }
    let mut n = nanos / 100;
    let mut zeros = 1;
    while n % 10 == 0 && zeros < 7 {
        n /= 10;
        zeros += 1;
    }
    (n << 3) | zeros
}

impl Values for Timestamps {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        self.seconds.flush(&mut self.seconds_out);
        self.nanos.flush(&mut self.nanos_out);
        positions.extend([
            Pos::Stream(base, self.seconds_out.len() as u64),
            Pos::Value(0),
            Pos::Stream(base + 1, self.nanos_out.len() as u64),
            Pos::Value(0),
        ]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        macro_rules! each {
            ($t:ty) => {{
                let a = array.as_primitive::<$t>();
                for i in range.filter(|i| a.is_valid(*i)) {
                    let total = i128::from(a.value(i)) * self.unit_nanos;
                    self.push_nanos(total)?;
                    stats.timestamp(total);
                }
            }};
        }
        match array.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => each!(TimestampSecondType),
            DataType::Timestamp(TimeUnit::Millisecond, _) => each!(TimestampMillisecondType),
            DataType::Timestamp(TimeUnit::Microsecond, _) => each!(TimestampMicrosecondType),
            _ => each!(TimestampNanosecondType),
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.seconds.flush(&mut self.seconds_out);
        self.nanos.flush(&mut self.nanos_out);
        (
            vec![
                (stream::Kind::Data, self.seconds_out),
                (stream::Kind::Secondary, self.nanos_out),
            ],
            encoding(column_encoding::Kind::DirectV2),
        )
    }
}

/// DECIMAL: unscaled values as zigzag varints, then each value's scale.
struct Decimals {
    scale: i8,
    data: Vec<u8>,
    scales: IntRleV2,
    scales_out: Vec<u8>,
}

impl Decimals {
    fn new(scale: i8) -> Self {
        Self {
            scale,
            data: Vec::new(),
            scales: IntRleV2::new(true),
            scales_out: Vec::new(),
        }
    }
}

impl Values for Decimals {
    fn mark(&mut self, base: usize, positions: &mut Vec<Pos>) {
        self.scales.flush(&mut self.scales_out);
        positions.extend([
            Pos::Stream(base, self.data.len() as u64),
            Pos::Stream(base + 1, self.scales_out.len() as u64),
            Pos::Value(0),
        ]);
    }

    fn push(
        &mut self,
        array: &dyn Array,
        range: Range<usize>,
        stats: &mut Stats,
    ) -> Result<(), String> {
        let a = array.as_primitive::<Decimal128Type>();
        for i in range.filter(|i| a.is_valid(*i)) {
            write_svarint128(&mut self.data, a.value(i));
            self.scales.push(i64::from(self.scale));
            stats.decimal(a.value(i));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> (Vec<(stream::Kind, Vec<u8>)>, proto::ColumnEncoding) {
        self.scales.flush(&mut self.scales_out);
        (
            vec![
                (stream::Kind::Data, self.data),
                (stream::Kind::Secondary, self.scales_out),
            ],
            encoding(column_encoding::Kind::DirectV2),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fold_nanos;

    #[test]
    fn nanos_fold_trailing_zeros() {
        assert_eq!(fold_nanos(0), 0);
        assert_eq!(fold_nanos(123), 123 << 3);
        assert_eq!(fold_nanos(1_000_000), (1 << 3) | 5);
        assert_eq!(fold_nanos(500_000_000), (5 << 3) | 7);
    }
}
