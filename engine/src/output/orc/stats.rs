//! Column statistics for row groups, stripes and the file: what lets Hive,
//! Spark, Trino and Weir's own lookups skip what cannot hold a value.
//!
//! Where a bound would be wrong or useless the statistic is left out rather
//! than guessed: strings longer than [`MAX_STRING_STAT`] keep only their
//! total length (as ORC-203 writers do), doubles with a NaN keep no range,
//! sums that overflow are dropped.

use orc_rust::proto;

/// Longest string kept as a minimum or maximum.
const MAX_STRING_STAT: usize = 1024;

/// Statistics of one column over some rows.
#[derive(Debug, Clone)]
pub(super) struct Stats {
    values: u64,
    has_null: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Struct,
    Int {
        min: i64,
        max: i64,
        sum: Option<i64>,
    },
    Double {
        min: f64,
        max: f64,
        sum: f64,
        nan: bool,
    },
    Str(StrStats),
    Bool {
        trues: u64,
    },
    Date {
        min: i32,
        max: i32,
    },
    /// Nanoseconds since the epoch.
    Timestamp {
        min: i128,
        max: i128,
    },
    Decimal {
        min: i128,
        max: i128,
        sum: Option<i128>,
        scale: i8,
    },
    Binary {
        sum: i64,
    },
}

#[derive(Debug, Clone, Default)]
struct StrStats {
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    sum: i64,
    /// A value too long to keep was seen: no range.
    unbounded: bool,
}

/// What kind of statistics a column keeps.
#[derive(Debug, Clone, Copy)]
pub(super) enum StatsKind {
    Struct,
    Int,
    Double,
    Str,
    Bool,
    Date,
    Timestamp,
    Decimal { scale: i8 },
    Binary,
}

impl Stats {
    pub(super) fn new(kind: StatsKind) -> Self {
        let kind = match kind {
            StatsKind::Struct => Kind::Struct,
            StatsKind::Int => Kind::Int {
                min: i64::MAX,
                max: i64::MIN,
                sum: Some(0),
            },
            StatsKind::Double => Kind::Double {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                sum: 0.0,
                nan: false,
            },
            StatsKind::Str => Kind::Str(StrStats::default()),
            StatsKind::Bool => Kind::Bool { trues: 0 },
            StatsKind::Date => Kind::Date {
                min: i32::MAX,
                max: i32::MIN,
            },
            StatsKind::Timestamp => Kind::Timestamp {
                min: i128::MAX,
                max: i128::MIN,
            },
            StatsKind::Decimal { scale } => Kind::Decimal {
                min: i128::MAX,
                max: i128::MIN,
                sum: Some(0),
                scale,
            },
            StatsKind::Binary => Kind::Binary { sum: 0 },
        };
        Self {
            values: 0,
            has_null: false,
            kind,
        }
    }

    pub(super) fn null(&mut self) {
        self.has_null = true;
    }

    /// A value of a column without typed statistics (the root struct).
    pub(super) fn value(&mut self) {
        self.values += 1;
    }

    pub(super) fn int(&mut self, v: i64) {
        self.values += 1;
        if let Kind::Int { min, max, sum } = &mut self.kind {
            *min = (*min).min(v);
            *max = (*max).max(v);
            *sum = sum.and_then(|s| s.checked_add(v));
        }
    }

    pub(super) fn double(&mut self, v: f64) {
        self.values += 1;
        if let Kind::Double { min, max, sum, nan } = &mut self.kind {
            if v.is_nan() {
                *nan = true;
            } else {
                *min = min.min(v);
                *max = max.max(v);
                *sum += v;
            }
        }
    }

    pub(super) fn string(&mut self, v: &[u8]) {
        self.values += 1;
        if let Kind::Str(s) = &mut self.kind {
            s.sum = s.sum.saturating_add(v.len() as i64);
            if s.unbounded {
                return;
            }
            if v.len() > MAX_STRING_STAT {
                s.unbounded = true;
                s.min = None;
                s.max = None;
                return;
            }
            if s.min.as_deref().is_none_or(|m| v < m) {
                s.min = Some(v.to_vec());
            }
            if s.max.as_deref().is_none_or(|m| v > m) {
                s.max = Some(v.to_vec());
            }
        }
    }

    pub(super) fn boolean(&mut self, v: bool) {
        self.values += 1;
        if let Kind::Bool { trues } = &mut self.kind {
            *trues += u64::from(v);
        }
    }

    pub(super) fn date(&mut self, v: i32) {
        self.values += 1;
        if let Kind::Date { min, max } = &mut self.kind {
            *min = (*min).min(v);
            *max = (*max).max(v);
        }
    }

    pub(super) fn timestamp(&mut self, nanos: i128) {
        self.values += 1;
        if let Kind::Timestamp { min, max } = &mut self.kind {
            *min = (*min).min(nanos);
            *max = (*max).max(nanos);
        }
    }

    pub(super) fn decimal(&mut self, v: i128) {
        self.values += 1;
        if let Kind::Decimal { min, max, sum, .. } = &mut self.kind {
            *min = (*min).min(v);
            *max = (*max).max(v);
            // Decimal(38) sums beyond 38 digits are not representable.
            *sum = sum
                .and_then(|s| s.checked_add(v))
                .filter(|s| s.unsigned_abs() < 10u128.pow(38));
        }
    }

    pub(super) fn binary(&mut self, len: usize) {
        self.values += 1;
        if let Kind::Binary { sum } = &mut self.kind {
            *sum = sum.saturating_add(len as i64);
        }
    }

    /// Adds `other` (of the same kind) into `self`.
    pub(super) fn merge(&mut self, other: &Stats) {
        self.values += other.values;
        self.has_null |= other.has_null;
        match (&mut self.kind, &other.kind) {
            (
                Kind::Int { min, max, sum },
                Kind::Int {
                    min: a,
                    max: b,
                    sum: c,
                },
            ) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
                *sum = sum.zip(*c).and_then(|(x, y)| x.checked_add(y));
            }
            (
                Kind::Double { min, max, sum, nan },
                Kind::Double {
                    min: a,
                    max: b,
                    sum: c,
                    nan: d,
                },
            ) => {
                *min = min.min(*a);
                *max = max.max(*b);
                *sum += c;
                *nan |= d;
            }
            (Kind::Str(s), Kind::Str(o)) => {
                s.sum = s.sum.saturating_add(o.sum);
                s.unbounded |= o.unbounded;
                if s.unbounded {
                    s.min = None;
                    s.max = None;
                } else {
                    if let Some(m) = &o.min
                        && s.min.as_ref().is_none_or(|x| m < x)
                    {
                        s.min = Some(m.clone());
                    }
                    if let Some(m) = &o.max
                        && s.max.as_ref().is_none_or(|x| m > x)
                    {
                        s.max = Some(m.clone());
                    }
                }
            }
            (Kind::Bool { trues }, Kind::Bool { trues: t }) => *trues += t,
            (Kind::Date { min, max }, Kind::Date { min: a, max: b }) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
            }
            (Kind::Timestamp { min, max }, Kind::Timestamp { min: a, max: b }) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
            }
            (
                Kind::Decimal { min, max, sum, .. },
                Kind::Decimal {
                    min: a,
                    max: b,
                    sum: c,
                    ..
                },
            ) => {
                *min = (*min).min(*a);
                *max = (*max).max(*b);
                *sum = sum
                    .zip(*c)
                    .and_then(|(x, y)| x.checked_add(y))
                    .filter(|s| s.unsigned_abs() < 10u128.pow(38));
            }
            (Kind::Binary { sum }, Kind::Binary { sum: s }) => *sum = sum.saturating_add(*s),
            _ => {}
        }
    }

    pub(super) fn to_proto(&self) -> proto::ColumnStatistics {
        let mut p = proto::ColumnStatistics {
            number_of_values: Some(self.values),
            has_null: Some(self.has_null),
            ..Default::default()
        };
        // With no values there is no range to state.
        let any = self.values > 0;
        match &self.kind {
            Kind::Struct => {}
            Kind::Int { min, max, sum } => {
                p.int_statistics = Some(proto::IntegerStatistics {
                    minimum: any.then_some(*min),
                    maximum: any.then_some(*max),
                    sum: *sum,
                });
            }
            Kind::Double { min, max, sum, nan } => {
                if !nan {
                    p.double_statistics = Some(proto::DoubleStatistics {
                        minimum: any.then_some(*min),
                        maximum: any.then_some(*max),
                        sum: Some(*sum),
                    });
                }
            }
            Kind::Str(s) => {
                let text = |v: &Option<Vec<u8>>| {
                    v.as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .filter(|_| any)
                };
                p.string_statistics = Some(proto::StringStatistics {
                    minimum: text(&s.min),
                    maximum: text(&s.max),
                    sum: Some(s.sum),
                    lower_bound: None,
                    upper_bound: None,
                });
            }
            Kind::Bool { trues } => {
                p.bucket_statistics = Some(proto::BucketStatistics {
                    count: vec![*trues],
                });
            }
            Kind::Date { min, max } => {
                p.date_statistics = Some(proto::DateStatistics {
                    minimum: any.then_some(*min),
                    maximum: any.then_some(*max),
                });
            }
            Kind::Timestamp { min, max } => {
                if any {
                    let millis = |n: i128| n.div_euclid(1_000_000) as i64;
                    // ORC stores the nanoseconds beyond the millisecond + 1
                    // (0 means "not recorded").
                    let nanos = |n: i128| n.rem_euclid(1_000_000) as i32 + 1;
                    p.timestamp_statistics = Some(proto::TimestampStatistics {
                        minimum: Some(millis(*min)),
                        maximum: Some(millis(*max)),
                        minimum_utc: Some(millis(*min)),
                        maximum_utc: Some(millis(*max)),
                        minimum_nanos: Some(nanos(*min)),
                        maximum_nanos: Some(nanos(*max)),
                    });
                }
            }
            Kind::Decimal {
                min,
                max,
                sum,
                scale,
            } => {
                p.decimal_statistics = Some(proto::DecimalStatistics {
                    minimum: any.then(|| decimal_text(*min, *scale)),
                    maximum: any.then(|| decimal_text(*max, *scale)),
                    sum: sum.map(|s| decimal_text(s, *scale)),
                });
            }
            Kind::Binary { sum } => {
                p.binary_statistics = Some(proto::BinaryStatistics { sum: Some(*sum) });
            }
        }
        p
    }
}

/// `unscaled × 10^-scale` as text (`-12.30`).
pub(super) fn decimal_text(unscaled: i128, scale: i8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale <= 0 {
        let zeros = "0".repeat(scale.unsigned_abs() as usize);
        return format!("{sign}{digits}{zeros}");
    }
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_texts() {
        assert_eq!(decimal_text(1230, 2), "12.30");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(7, 0), "7");
        assert_eq!(decimal_text(7, -2), "700");
    }

    #[test]
    fn long_strings_have_no_range() {
        let mut s = Stats::new(StatsKind::Str);
        s.string(b"b");
        s.string(&[b'a'; 2000]);
        let p = s.to_proto().string_statistics.unwrap();
        assert_eq!((p.minimum, p.maximum, p.sum), (None, None, Some(2001)));
    }
}
