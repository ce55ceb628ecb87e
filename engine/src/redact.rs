//! Secrets out of error text. Object stores put the service's error body
//! into their errors, and S3's bodies for signature and token failures echo
//! the access key id, the string signed and the canonical request with its
//! `x-amz-security-token`; those errors reach reports, logs and the status.
//! Everything that formats a storage error goes through [`secrets`].

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// `text` with credentials, signatures and tokens replaced by [`REDACTED`].
pub fn secrets(text: &str) -> String {
    static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        let element = "AWSAccessKeyId|StringToSign|StringToSignBytes|SignatureProvided|\
                       CanonicalRequest|CanonicalRequestBytes|Token|SessionToken|SecretAccessKey|\
                       AccessKeyId|Credential|Signature";
        vec![
            // <AWSAccessKeyId>…</AWSAccessKeyId> and friends, in S3 bodies.
            (
                Regex::new(&format!(r"(?is)<({element})>.*?</({element})>")).expect("pattern"),
                "<$1>[redacted]</$2>",
            ),
            // Query parameters and headers that carry credentials.
            (
                Regex::new(
                    r"(?i)(x-amz-security-token|x-amz-credential|x-amz-signature|aws_session_token|aws_secret_access_key|authorization|signature|credential)([=:]\s*)[^&\s<>\x22',;]+",
                )
                .expect("pattern"),
                "$1$2[redacted]",
            ),
            // Access key ids wherever they stand (long-term and temporary).
            (
                Regex::new(r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b").expect("pattern"),
                "[redacted]",
            ),
        ]
    });
    let mut out = text.to_owned();
    for (pattern, replacement) in PATTERNS.iter() {
        if pattern.is_match(&out) {
            out = pattern.replace_all(&out, *replacement).into_owned();
        }
    }
    out
}

/// A serde_json error without the values it may quote. serde's "invalid
/// type: string \"…\"" and "invalid value" messages repeat what the input
/// held, and in a keys file or a key-service body that is a data key. Keeps
/// the kind of error, a missing field's name and the line and column.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = e.to_string();
    let what = match e.classify() {
        Category::Io => "cannot read",
        Category::Syntax => "not valid JSON",
        Category::Eof => "truncated JSON",
        Category::Data => {
            // "missing field `x` at line …" names the schema, not the data.
            if let Some(rest) = message.strip_prefix("missing field `")
                && let Some(end) = rest.find('`')
            {
                return format!(
                    "missing field `{}` at line {} column {}",
                    &rest[..end],
                    e.line(),
                    e.column()
                );
            }
            match message.split(':').next().unwrap_or_default() {
                "invalid type" => "a value of the wrong type",
                "invalid length" => "a value of the wrong length",
                _ => "an invalid value",
            }
        }
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_never_quote_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Entry {
            key: String,
            n: u8,
        }
        for (text, expected) in [
            (
                r#"{"key": 12345678, "n": 1}"#,
                "a value of the wrong type at line 1",
            ),
            (
                r#"{"key": "x", "n": "c2VjcmV0a2V5"}"#,
                "a value of the wrong type",
            ),
            (r#"{"key": "x", "n": 99999}"#, "an invalid value"),
            (r#"{"n": 1}"#, "missing field `key`"),
            (r#"{"key": "c2VjcmV0a2V5"#, "truncated JSON"),
        ] {
            let e = serde_json::from_str::<Entry>(text).unwrap_err();
            let clean = json_error(&e);
            assert!(clean.starts_with(expected), "{clean}");
            for secret in ["12345678", "c2VjcmV0a2V5", "99999"] {
                assert!(!clean.contains(secret), "{clean}");
            }
        }
    }

    #[test]
    fn s3_signature_errors_lose_their_secrets() {
        let body = "Error performing GET http://127.0.0.1:9/b/k?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F&X-Amz-Credential=AKIAWEIRTESTKEYID0001%2F20240101 in 10ms: \
            Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
            <AWSAccessKeyId>AKIAWEIRTESTKEYID0001</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20240101T000000Z</StringToSign>\
            <SignatureProvided>abc123</SignatureProvided><CanonicalRequest>GET\n/b/k\nx-amz-security-token:IQoJb3JpZ2luX2VjEJr\n</CanonicalRequest></Error>";
        let clean = secrets(body);
        for secret in [
            "AKIAWEIRTESTKEYID0001",
            "IQoJb3JpZ2luX2VjEJr",
            "abc123",
            "AWS4-HMAC-SHA256\n2024",
        ] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(clean.contains("SignatureDoesNotMatch") && clean.contains("403 Forbidden"));
        assert_eq!(secrets("no secrets here: 404"), "no secrets here: 404");
    }
}
