//! DECIMAL fields: Java's `BigDecimal` text, set to the type's scale with
//! `ROUND_HALF_UP` and refused when it then has more digits than the
//! precision (Spark's `Decimal(value, precision, scale)`).

/// The unscaled value of `text` as DECIMAL(precision, scale), or `None`.
pub(crate) fn to_decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let (negative, digits, source_scale) = parse_big_decimal(text)?;
    let digits = digits.trim_start_matches('0');
    let shift = scale as i64 - source_scale;
    let mut magnitude: String = if shift >= 0 {
        if digits.is_empty() {
            String::new()
        } else {
            if digits.len() as i64 + shift > precision as i64 {
                return None;
            }
            let mut m = digits.to_owned();
            m.extend(std::iter::repeat_n('0', shift as usize));
            m
        }
    } else {
        let drop = (-shift) as u64;
        let len = digits.len() as u64;
        let (kept, first_dropped) = if drop > len {
            ("", b'0')
        } else {
            let cut = (len - drop) as usize;
            (&digits[..cut], digits.as_bytes()[cut])
        };
        let mut m = kept.to_owned();
        if first_dropped >= b'5' {
            increment(&mut m);
        }
        m
    };
    let trimmed = magnitude.trim_start_matches('0');
    if trimmed.len() > precision as usize {
        return None;
    }
    if trimmed.is_empty() {
        magnitude = "0".to_owned();
    } else {
        magnitude = trimmed.to_owned();
    }
    let value: i128 = magnitude.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// Adds one to a string of decimal digits.
fn increment(digits: &mut String) {
    let mut bytes = std::mem::take(digits).into_bytes();
    let mut i = bytes.len();
    loop {
        if i == 0 {
            bytes.insert(0, b'1');
            break;
        }
        i -= 1;
        if bytes[i] == b'9' {
            bytes[i] = b'0';
        } else {
            bytes[i] += 1;
            break;
        }
    }
    *digits = String::from_utf8(bytes).unwrap_or_default();
}

/// Java's `new BigDecimal(String)`: `[+-](digits[.digits]|.digits)[(e|E)[+-]digits]`,
/// as (negative, all digits, scale).
fn parse_big_decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let body = e.strip_prefix(['+', '-']).unwrap_or(e);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i64 = e.strip_prefix('+').unwrap_or(e).parse().ok()?;
            i32::try_from(value).ok()? as i64
        }
    };
    let scale = frac.len() as i64 - exponent;
    i32::try_from(scale).ok()?;
    Some((negative, format!("{int}{frac}"), scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up_then_checks_precision() {
        assert_eq!(to_decimal("811.4188", 10, 2), Some(81142));
        assert_eq!(to_decimal("-41517.505", 10, 2), Some(-4151751));
        assert_eq!(to_decimal("1E2", 10, 2), Some(10000));
        assert_eq!(to_decimal(".5", 9, 2), Some(50));
        assert_eq!(to_decimal("0.0049999", 9, 2), Some(0));
        assert_eq!(to_decimal("0.995", 3, 2), Some(100));
        assert_eq!(to_decimal("9.995", 3, 2), None, "10.00 needs 4 digits");
        assert_eq!(to_decimal("1.0", 3, 3), None);
        assert_eq!(to_decimal("-0", 5, 0), Some(0));
        assert_eq!(
            to_decimal("1e-2147483648", 5, 2),
            None,
            "scale out of range"
        );
        assert_eq!(to_decimal("1e400", 38, 0), None);
        for bad in ["", ".", "1e", "abc", "1 ", "NaN", "--1"] {
            assert_eq!(to_decimal(bad, 10, 2), None, "{bad}");
        }
    }
}
