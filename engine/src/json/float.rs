//! Python's float formatting: `repr(float)` (which `str()` and `json.dumps` use).

use std::fmt::Write as _;

/// Writes `repr(x)` for a finite float, or `json.dumps`' `NaN` / `Infinity` /
/// `-Infinity` for the others.
pub(crate) fn write_json_float(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let mut buf = ReprBuf::default();
        buf.format(x);
        out.extend_from_slice(buf.as_bytes());
    }
}

/// Writes Python's `str(x)`: like `repr` but `nan`, `inf`, `-inf`.
pub(crate) fn write_py_str(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("nan");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
    } else {
        let mut buf = ReprBuf::default();
        buf.format(x);
        // ReprBuf only holds ASCII.
        out.push_str(std::str::from_utf8(buf.as_bytes()).unwrap_or_default());
    }
}

/// A fixed buffer: the longest repr is 24 bytes (`-2.2250738585072014e-308`),
/// the longest fixed-point one about 25 (`-1234567890123456.0` has 19).
#[derive(Debug)]
struct ReprBuf {
    bytes: [u8; 48],
    len: usize,
}

impl Default for ReprBuf {
    fn default() -> Self {
        Self {
            bytes: [0; 48],
            len: 0,
        }
    }
}

impl std::fmt::Write for ReprBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl ReprBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn push_all(&mut self, s: &[u8]) {
        self.bytes[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
    }

    /// CPython's `float_repr_style = 'short'`: the shortest digits that round-trip
    /// (Rust's `{:e}` gives the same shortest, closest digits), in exponent form when
    /// the decimal exponent is < -4 or >= 16, else positional with at least `.0`.
    fn format(&mut self, x: f64) {
        if x == 0.0 {
            self.push_all(if x.is_sign_negative() {
                b"-0.0"
            } else {
                b"0.0"
            });
            return;
        }
        // `{:e}` yields the shortest round-trip digits, e.g. `-1.2345e-7`, `1e16`.
        let mut sci = ReprBuf::default();
        if write!(sci, "{x:e}").is_err() {
            return;
        }
        // When 17 digits are needed, the exact value can sit halfway between two
        // 17-digit strings: `{:e}` rounds that tie up, CPython (David Gay's dtoa)
        // to even, as Rust's exact `{:.16e}` does.
        let significant = sci
            .as_bytes()
            .iter()
            .take_while(|&&b| b != b'e')
            .filter(|b| b.is_ascii_digit())
            .count();
        if significant == 17 {
            sci = ReprBuf::default();
            if write!(sci, "{x:.16e}").is_err() {
                return;
            }
        }
        let text = sci.as_bytes();
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let mut digits = [0u8; 20];
        let mut n = 0;
        for &b in &text[..e_at] {
            if b.is_ascii_digit() && n < digits.len() {
                digits[n] = b;
                n += 1;
            }
        }
        let digits = &digits[..n];
        let exp: i32 = std::str::from_utf8(text.get(e_at + 1..).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if negative {
            self.push(b'-');
        }
        if !(-4..16).contains(&exp) {
            self.push(digits[0]);
            if digits.len() > 1 {
                self.push(b'.');
                self.push_all(&digits[1..]);
            }
            self.push(b'e');
            self.push(if exp < 0 { b'-' } else { b'+' });
            let abs = exp.unsigned_abs();
            if abs < 10 {
                self.push(b'0');
            }
            let _ = write!(self, "{abs}");
            return;
        }
        // Position of the decimal point within `digits`.
        let point = exp + 1;
        if point <= 0 {
            self.push_all(b"0.");
            for _ in 0..(-point) {
                self.push(b'0');
            }
            self.push_all(digits);
        } else {
            let point = point as usize;
            if point >= digits.len() {
                self.push_all(digits);
                for _ in digits.len()..point {
                    self.push(b'0');
                }
                self.push_all(b".0");
            } else {
                self.push_all(&digits[..point]);
                self.push(b'.');
                self.push_all(&digits[point..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(x: f64) -> String {
        let mut out = Vec::new();
        write_json_float(x, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_cpython_repr() {
        // Expected strings are CPython 3.11's repr() of each value.
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5, "1.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (0.1, "0.1"),
            (-123.456, "-123.456"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (123456789.0, "123456789.0"),
            (0.30000000000000004, "0.30000000000000004"),
            // 17-digit ties (exact values -1529357646096716.25 and
            // 160731949290.953125): CPython rounds to even.
            (
                f64::from_bits(14_057_348_267_980_334_385),
                "-1529357646096716.2",
            ),
            (
                f64::from_bits(4_774_578_869_899_721_216),
                "160731949290.95312",
            ),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(repr(*x), *want, "repr({x:?})");
        }
    }

    #[test]
    fn py_str_of_non_finite() {
        let mut s = String::new();
        write_py_str(f64::NAN, &mut s);
        write_py_str(f64::NEG_INFINITY, &mut s);
        write_py_str(2.5, &mut s);
        assert_eq!(s, "nan-inf2.5");
    }
}
