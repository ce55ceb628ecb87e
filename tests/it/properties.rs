//! Property tests: nothing panics on any input, every `val` is a fixed point of
//! parse + canonical write, and the fast tree sanitiser agrees with the old job's
//! textual one on arbitrary documents.

use proptest::prelude::*;
use weir_engine::json::{Value, parse, write_ascii, write_canonical};
use weir_engine::record::{
    Cipher, CollectionName, Envelope, Scratch, StaticKeys, canonical_val, canonical_val_via_text,
};
use weir_tests::LineBuilder;

/// Strings rich in what the pipeline reacts to.
fn nasty_string() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("$".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\\".to_owned()),
        Just("\\u0000".to_owned()),
        Just("_archived".to_owned()),
        Just("_archivedDateTime".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("|".to_owned()),
        Just("\"".to_owned()),
        Just("é".to_owned()),
        Just("😀".to_owned()),
        Just("2019-07-04T07:27:35.104+0000".to_owned()),
        Just("2019-07-04T07:27:35.104Z".to_owned()),
        Just("2019-13-04T07:27:35.104Z".to_owned()),
        "[a-z_]{0,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..5).prop_map(|v| v.concat())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("_id".to_owned()),
        Just("$date".to_owned()),
        Just("d_date".to_owned()),
        Just("_lastModifiedDateTime".to_owned()),
        Just("_removedDateTime".to_owned()),
        Just("_archivedDateTime".to_owned()),
        Just("createdDateTime".to_owned()),
        Just("context".to_owned()),
        Just("auditType".to_owned()),
        nasty_string(),
    ]
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        "-?[1-9][0-9]{18,40}",
        any::<f64>().prop_map(|f| if f.is_finite() {
            format!("{f:e}")
        } else {
            "NaN".to_owned()
        }),
        Just("-0".to_owned()),
        Just("-0.0".to_owned()),
        Just("1E400".to_owned()),
        Just("Infinity".to_owned()),
        Just("-Infinity".to_owned()),
        Just("1.0".to_owned()),
    ]
}

fn json_string(s: &str) -> String {
    let mut out = Vec::new();
    weir_engine::json::write_ascii_str(s, &mut out);
    String::from_utf8(out).unwrap()
}

/// JSON texts of arbitrary documents, with duplicate keys now and then.
fn document() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number_text(),
        nasty_string().prop_map(|s| json_string(&s)),
    ];
    let tree = leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key(), inner), 0..6).prop_map(|entries| object_text(&entries)),
        ]
    });
    prop::collection::vec((key(), tree), 0..8).prop_map(|entries| object_text(&entries))
}

/// `{"k": v, ...}` from keys and already-serialised values (keys may repeat).
fn object_text(entries: &[(String, String)]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

const COLLECTIONS: [&str; 4] = [
    "core:claimant",
    "calculator:calculationParts",
    "data:businessAudit",
    "core:healthAndDisabilityDeclaration",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_lines_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), which in 0..4usize) {
        let pipeline = weir_tests::pipeline_of(&CollectionName::parse(COLLECTIONS[which]).unwrap(), Cipher::Ctr);
        let _ = pipeline.process_line(&bytes, &StaticKeys::new(), &mut Scratch::default());
    }

    #[test]
    fn arbitrary_plaintext_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), which in 0..4usize) {
        let b = LineBuilder::new("core", "claimant");
        let pipeline = weir_tests::pipeline_of(&CollectionName::parse(COLLECTIONS[which]).unwrap(), Cipher::Ctr);
        let _ = pipeline.process_line(&b.line(&bytes), &b.keys(), &mut Scratch::default());
    }

    #[test]
    fn vals_are_fixed_points(doc in document(), which in 0..4usize) {
        let b = LineBuilder::new("core", "claimant");
        let envelope_line = String::from_utf8(b.line(b"{}")).unwrap();
        let envelope = Envelope::parse(&envelope_line).unwrap();
        let pipeline = weir_tests::pipeline_of(&CollectionName::parse(COLLECTIONS[which]).unwrap(), Cipher::Ctr);
        if let Ok(row) = pipeline.process_plaintext(&envelope, doc.as_bytes(), &mut Scratch::default()) {
            let mut reparsed = parse(&row.val).expect("val parses");
            let mut again = Vec::new();
            write_canonical(&mut reparsed, &mut again);
            prop_assert_eq!(String::from_utf8(again).unwrap(), row.val);
        }
    }

    #[test]
    fn fast_sanitiser_matches_the_textual_one(doc in document(), strip in any::<bool>()) {
        let Ok(value) = parse(&doc) else { return Ok(()) };
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        let f = canonical_val(value.clone(), strip, &mut fast).map(|()| fast);
        let s = canonical_val_via_text(&value, strip, &mut slow).map(|()| slow);
        match (f, s) {
            (Ok(f), Ok(s)) => prop_assert_eq!(String::from_utf8(f).unwrap(), String::from_utf8(s).unwrap()),
            (Err(f), Err(s)) => prop_assert_eq!(f.reason, s.reason),
            (f, s) => prop_assert!(false, "fast {:?} vs text {:?}", f.map(|_| ()), s.map(|_| ())),
        }
    }

    #[test]
    fn ascii_dump_round_trips(doc in document()) {
        let Ok(value) = parse(&doc) else { return Ok(()) };
        let mut text = Vec::new();
        write_ascii(&value, &mut text);
        let text = String::from_utf8(text).unwrap();
        prop_assert!(text.is_ascii());
        let back: Value<'_> = parse(&text).unwrap();
        prop_assert_eq!(format!("{back}"), text);
    }
}
