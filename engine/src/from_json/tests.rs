//! Behaviours of Spark's parser that the conformance vectors do not pin down
//! one by one.

use super::{Outcome, Val, parse, parse_schema};

fn row(schema: &str, input: &str) -> (Option<Vec<Val>>, Outcome) {
    let parsed = parse(Some(input), &parse_schema(schema).unwrap());
    (parsed.row, parsed.outcome)
}

#[test]
fn null_empty_and_blank_inputs_are_a_null_struct() {
    let schema = parse_schema("a INT").unwrap();
    for input in [None, Some(""), Some(" \r\n\t")] {
        let parsed = parse(input, &schema);
        assert_eq!((parsed.row, parsed.outcome), (None, Outcome::Empty));
    }
}

#[test]
fn a_field_that_fails_is_null_and_its_siblings_stay() {
    assert_eq!(
        row(
            "a INT, b STRING, c BOOLEAN",
            r#"{"a": "1", "b": 2, "c": true}"#
        ),
        (
            Some(vec![Val::Null, Val::String("2".into()), Val::Bool(true)]),
            Outcome::Partial
        )
    );
}

#[test]
fn an_array_element_that_fails_fails_the_array_but_a_partial_struct_element_stays() {
    assert_eq!(
        row("a ARRAY<INT>, b INT", r#"{"a": [1, "x", 3], "b": 2}"#).0,
        Some(vec![Val::Null, Val::Long(2).into_int()])
    );
    assert_eq!(
        row(
            "a ARRAY<STRUCT<r: INT>>",
            r#"{"a": [{"r": "x"}, {"r": 2}]}"#
        )
        .0,
        Some(vec![Val::Array(vec![
            Val::Struct(vec![Val::Null]),
            Val::Struct(vec![Val::Int(2)])
        ])])
    );
}

#[test]
fn after_a_failed_map_value_the_enclosing_object_reads_on_from_there() {
    // Spark 3.5: the map fails at "a"; the root object then reads the map's
    // remaining entries as its own fields (so `x` inside the map sets x) and
    // stops at the map's closing brace, so the real `x` after it is not read.
    assert_eq!(
        row(
            "m MAP<STRING, INT>, x INT",
            r#"{"m": {"a": 1.5, "x": 7}, "x": 9}"#
        )
        .0,
        Some(vec![Val::Null, Val::Int(7)])
    );
}

#[test]
fn syntax_errors_and_non_objects_make_every_field_null() {
    for input in [
        r#"{"a": 1,}"#,
        r#"{"a": 01}"#,
        "[{\"a\": 1}]",
        "null",
        "Null",
        "42",
        r#"{"a": 1"#,
        r#"{"b": {"c": [1, tru]}, "a": 1}"#,
    ] {
        assert_eq!(
            row("a INT", input),
            (Some(vec![Val::Null]), Outcome::Malformed),
            "{input}"
        );
    }
    // Anything after the root object is never read.
    assert_eq!(
        row("a INT", r#"{"a": 1} ]]] not json"#).0,
        Some(vec![Val::Int(1)])
    );
}

#[test]
fn repeated_keys_keep_the_last_value_in_structs_and_every_entry_in_maps() {
    assert_eq!(
        row("a INT", r#"{"a": 1, "a": 2}"#).0,
        Some(vec![Val::Int(2)])
    );
    assert_eq!(
        row("m MAP<STRING, INT>", r#"{"m": {"k": 1, "k": 2}}"#).0,
        Some(vec![Val::Map(vec![
            ("k".into(), Val::Int(1)),
            ("k".into(), Val::Int(2))
        ])])
    );
}

#[test]
fn numbers_follow_jackson_accessors() {
    assert_eq!(
        row(
            "t TINYINT, s SMALLINT, l BIGINT, f FLOAT, d DOUBLE",
            r#"{"t": 200, "s": 32768, "l": 9223372036854775808, "f": 1, "d": "-INF"}"#
        )
        .0,
        Some(vec![
            Val::Byte(-56),
            Val::Null,
            Val::Null,
            Val::Float(1.0),
            Val::Double(f64::NEG_INFINITY)
        ])
    );
}

#[test]
fn datetimes_spark_raises_on_are_null_and_counted() {
    let parsed = parse(
        Some(r#"{"d": "2023-02-30", "t": "2023-06-01T10:00:00+01:00"}"#),
        &parse_schema("d DATE, t TIMESTAMP").unwrap(),
    );
    assert_eq!(
        parsed.row,
        Some(vec![Val::Null, Val::Timestamp(1_685_610_000_000_000)])
    );
    assert_eq!(parsed.rejected_datetimes, 1);
}

impl Val {
    /// Test shorthand: a BIGINT literal as an INT value.
    fn into_int(self) -> Val {
        match self {
            Val::Long(v) => Val::Int(v as i32),
            other => other,
        }
    }
}
