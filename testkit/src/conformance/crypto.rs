//! `crypto-vectors.jsonl`: `{"cipher", "key", "iv", "ciphertext", "plaintext"}`
//! (base64), or `"error": "tag_mismatch"` for GCM ciphertexts to reject.

use std::path::Path;

use crate::Result;
use weir_engine::record::{Cipher, DecryptError, base64, decrypt};

use super::{Failure, Report, read_lines, str_field, unreadable};

/// Runs every case of a crypto vector file.
pub fn run_file(path: &Path) -> Result<Report> {
    let mut report = Report::default();
    for (i, line) in read_lines(path)?.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        report.record(run_case(i + 1, line));
    }
    Ok(report)
}

fn run_case(line_no: usize, line: &str) -> Vec<Failure> {
    let case: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return vec![unreadable(line_no, format!("not JSON: {e}"))],
    };
    let id = case
        .get("case")
        .and_then(|c| c.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("line {line_no}"));
    let fail = |field: &str, expected: String, got: String| {
        vec![Failure {
            case: id.clone(),
            field: field.to_owned(),
            expected,
            got,
        }]
    };
    let field = |name: &str| -> std::result::Result<Vec<u8>, String> {
        let text = str_field(&case, name)?;
        base64::decode(text).map_err(|e| format!("field `{name}`: {e}"))
    };
    let cipher = match str_field(&case, "cipher").map(|c| (c, Cipher::parse(c))) {
        Ok((_, Some(c))) => c,
        Ok((c, None)) => return fail("cipher", "aes-ctr or aes-gcm".into(), c.to_owned()),
        Err(e) => return vec![unreadable(line_no, e)],
    };
    let (key, iv, ciphertext) = match (field("key"), field("iv"), field("ciphertext")) {
        (Ok(k), Ok(i), Ok(c)) => (k, i, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return vec![unreadable(line_no, e)],
    };
    let got = decrypt(cipher, &key, &iv, ciphertext);
    match case.get("error").and_then(|e| e.as_str()) {
        Some(expected_error) => match got {
            Err(DecryptError::TagMismatch) if expected_error == "tag_mismatch" => Vec::new(),
            Err(e) => fail("error", expected_error.to_owned(), e.to_string()),
            Ok(plain) => fail(
                "error",
                expected_error.to_owned(),
                format!("decrypted {} bytes", plain.len()),
            ),
        },
        None => {
            let expected = match field("plaintext") {
                Ok(p) => p,
                Err(e) => return vec![unreadable(line_no, e)],
            };
            match got {
                Ok(plain) if plain == expected => Vec::new(),
                Ok(plain) => fail(
                    "plaintext",
                    base64::encode(&expected),
                    base64::encode(&plain),
                ),
                Err(e) => fail("plaintext", base64::encode(&expected), e.to_string()),
            }
        }
    }
}
