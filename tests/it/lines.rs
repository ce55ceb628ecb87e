//! Whole lines built here, one per behaviour: good rows under CTR and GCM, and
//! every corrupt kind of spec §8 with its reason and field.

use weir_engine::record::{Cipher, CollectionName, Corrupt, CorruptReason, DbType, Row, Scratch};
use weir_tests::LineBuilder;

fn run(
    collection: &str,
    cipher: Cipher,
    line: &[u8],
    builder: &LineBuilder,
) -> Result<Row, Corrupt> {
    let pipeline = weir_tests::pipeline_of(&CollectionName::parse(collection).unwrap(), cipher);
    pipeline.process_line(line, &builder.keys(), &mut Scratch::default())
}

const DOC: &str = r#"{"_id": {"id": "ab12-cd34"}, "amount": 1.50, "_lastModifiedDateTime": "2023-06-01T10:00:00.123456+0100", "tags": ["2023-06-01T10:00:00.000Z"], "$set": 1}"#;
const VAL: &str = r#"{"_id":{"id":"ab12-cd34"},"_lastModifiedDateTime":{"d_date":"2023-06-01T09:00:00.123Z"},"amount":1.5,"d_set":1,"tags":[{"d_date":"2023-06-01T10:00:00.000Z"}]}"#;

#[test]
fn good_lines_under_both_ciphers() {
    for cipher in [Cipher::Ctr, Cipher::Gcm] {
        for key_len in [16u8, 24, 32] {
            let mut b = LineBuilder::new("calculator", "calculationParts");
            b.cipher = cipher;
            b.key = (0..key_len).collect();
            let row = run(
                "calculator:calculationParts",
                cipher,
                &b.line(DOC.as_bytes()),
                &b,
            )
            .unwrap();
            assert_eq!(row.val, VAL, "{cipher:?} {key_len}");
            assert_eq!(row.id.as_deref(), Some(r#"{"id":"ab12-cd34"}"#));
            assert_eq!(row.id_part.as_deref(), Some("ab"));
            assert_eq!(row.db_type, DbType::Insert);
            assert_eq!(
                row.last_modified.format_millis(),
                "2023-06-01T09:00:00.123Z"
            );
        }
    }
}

#[test]
fn every_corrupt_kind_has_its_reason_and_field() {
    let b = LineBuilder::new("calculator", "calculationParts");
    let coll = "calculator:calculationParts";
    let line = b.line(DOC.as_bytes());
    let cases: Vec<(&str, Vec<u8>, CorruptReason, &str)> = vec![
        (
            "truncated",
            line[..line.len() / 2].to_vec(),
            CorruptReason::MalformedLine,
            "line",
        ),
        (
            "not utf-8",
            [&line[..10], &[0xff, 0xfe], &line[10..]].concat(),
            CorruptReason::MalformedLine,
            "line",
        ),
        (
            "no encryption",
            String::from_utf8(line.clone())
                .unwrap()
                .replace("\"encryption\"", "\"encryptionX\"")
                .into_bytes(),
            CorruptReason::MissingField,
            "message.encryption",
        ),
        (
            "bad base64",
            b.line_with(DOC.as_bytes(), None, Some("QUJDRA")),
            CorruptReason::BadBase64,
            "message.dbObject",
        ),
        (
            "short iv",
            b.line_with(DOC.as_bytes(), Some("AAAAAAAAAAAAAAAAAAAA"), None),
            CorruptReason::BadIv,
            "message.encryption.initialisationVector",
        ),
        (
            "not utf-8 plaintext",
            b.line(b"{\"a\": \"\xff\"}"),
            CorruptReason::InvalidUtf8,
            "dbObject",
        ),
        (
            "not json",
            b.line(b"{bad json"),
            CorruptReason::InvalidDocument,
            "dbObject",
        ),
        (
            "not an object",
            b.line(b"[1, 2]"),
            CorruptReason::InvalidDocument,
            "dbObject",
        ),
        (
            "bad date",
            b.line(br#"{"_lastModifiedDateTime": "2023-02-30T00:00:00.000Z"}"#),
            CorruptReason::BadDate,
            "dbObject._lastModifiedDateTime",
        ),
        (
            "bad nested date",
            b.line(br#"{"a": {"b": [{"c": "2023-13-01T00:00:00.000Z"}]}}"#),
            CorruptReason::BadDate,
            "dbObject.a.b[0].c",
        ),
    ];
    for (what, line, reason, field) in cases {
        let err = run(coll, Cipher::Ctr, &line, &b).expect_err(what);
        assert_eq!(
            (err.reason, err.field.as_str()),
            (reason, field),
            "{what}: {err}"
        );
    }

    let mut unknown = b.clone();
    unknown.wrapped_key = "never-heard-of-it".into();
    let err = run(coll, Cipher::Ctr, &unknown.line(DOC.as_bytes()), &b).unwrap_err();
    assert_eq!(err.reason, CorruptReason::KeyUnavailable);

    let mut no_id = b.clone();
    no_id.id_json = r#""primitive-id""#.into();
    let err = run(coll, Cipher::Ctr, &no_id.line(DOC.as_bytes()), &b).unwrap_err();
    assert_eq!(
        (err.reason, err.field.as_str()),
        (CorruptReason::BadId, "message._id.id")
    );

    let mut short_key = b.clone();
    short_key.key = vec![1; 16];
    let mut keys = short_key.keys();
    keys.insert(short_key.wrapped_key.clone(), vec![1; 15]);
    let pipeline = weir_tests::pipeline_of(&CollectionName::parse(coll).unwrap(), Cipher::Ctr);
    let err = pipeline
        .process_line(
            &short_key.line(DOC.as_bytes()),
            &keys,
            &mut Scratch::default(),
        )
        .unwrap_err();
    assert_eq!(err.reason, CorruptReason::BadKey);
}

#[test]
fn gcm_tag_mismatch_is_decrypt_failed() {
    let mut b = LineBuilder::new("core", "claimant");
    b.cipher = Cipher::Gcm;
    let good = b.line(DOC.as_bytes());
    let mut wrong_key = b.clone();
    wrong_key.key = vec![9; 16];
    let err = run("core:claimant", Cipher::Gcm, &good, &wrong_key).unwrap_err();
    assert_eq!(err.reason, CorruptReason::DecryptFailed);
}

#[test]
fn audit_transform_and_its_corrupt_shape() {
    let b = LineBuilder::new("data", "businessAudit");
    let doc = br#"{"context": {"AUDIT_ID": "42", "at": "2023-06-01T10:00:00.000+0000"}, "auditType": "LOGIN", "_removedDateTime": null}"#;
    let row = run("data:businessAudit", Cipher::Ctr, &b.line(doc), &b).unwrap();
    assert_eq!(
        row.val,
        r#"{"AUDIT_EVENT":"LOGIN","AUDIT_ID":"42","TIME_STAMP":{"d_date":"2023-06-01T10:00:00.000Z"},"TIME_STAMP_ORIG":{"d_date":"2023-06-01T10:00:00.000Z"},"_lastModifiedDateTime":{"d_date":"1980-01-01T00:00:00.000Z"},"at":{"d_date":"2023-06-01T10:00:00.000Z"}}"#
    );
    // The stamped time matches the wrap regex, so validation wraps it (spec §4.3
    // runs after §3). The reshaped record has no `_removedDateTime`: an insert.
    assert_eq!(row.db_type, DbType::Insert);
    let err = run(
        "data:businessAudit",
        Cipher::Ctr,
        &b.line(br#"{"context": {}, "auditType": "X"}"#),
        &b,
    )
    .unwrap_err();
    assert_eq!(
        (err.reason, err.field.as_str()),
        (CorruptReason::AuditShape, "dbObject.context")
    );
}

#[test]
fn corrupt_details_never_carry_plaintext() {
    let b = LineBuilder::new("core", "claimant");
    let secret = "2023-13-01T00:00:00.000Z";
    let docs = [
        format!(r#"{{"_lastModifiedDateTime": "{secret}"}}"#),
        format!(r#"{{"x": ["{secret}"]}}"#),
        format!(r#"{{"x": {{"$date": "{secret}"}}}}"#),
        r#"{"x": "NI-SECRET-123", "y": ] }"#.to_owned(),
    ];
    for doc in docs {
        let err = run("core:claimant", Cipher::Ctr, &b.line(doc.as_bytes()), &b).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains(secret) && !shown.contains("NI-SECRET"),
            "{shown}"
        );
    }
}
