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

#[cfg(test)]
mod tests {
    use super::*;

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
