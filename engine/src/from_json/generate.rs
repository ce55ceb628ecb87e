//! What Spark puts in a STRING field whose JSON value is not a string: the
//! value re-written by Jackson's generator (`copyCurrentStructure`), compact,
//! numbers re-printed from their parsed value (`2.500` becomes `2.5`, with
//! Java's `Double.toString`), `NaN` and infinities quoted, and strings escaped
//! as Jackson's UTF-8 generator does (control characters as `\u00XX`, every
//! UTF-16 surrogate as `\uXXXX`).

use super::lexer::{Lexer, NonNumeric, SyntaxError, Token, utf16_units};

/// Why the current token could not be copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyError {
    /// The input is not JSON.
    Syntax,
    /// The current token is an end marker (Jackson's generator refuses it).
    NotAValue,
}

impl From<SyntaxError> for CopyError {
    fn from(_: SyntaxError) -> Self {
        CopyError::Syntax
    }
}

/// Copies the current token and, for a start marker, everything up to its end.
pub(crate) fn copy_structure(lx: &mut Lexer<'_>, out: &mut String) -> Result<(), CopyError> {
    // (container is object, entries written so far)
    let mut open: Vec<(bool, usize)> = Vec::new();
    let mut token = lx.token().ok_or(CopyError::NotAValue)?;
    loop {
        match token {
            Token::EndObject | Token::EndArray => {
                let Some((is_object, _)) = open.pop() else {
                    return Err(CopyError::NotAValue);
                };
                out.push(if is_object { '}' } else { ']' });
            }
            Token::FieldName => {
                let (_, entries) = open.last_mut().ok_or(CopyError::NotAValue)?;
                if *entries > 0 {
                    out.push(',');
                }
                *entries += 1;
                write_string(&utf16_units(lx.raw()), out);
                out.push(':');
            }
            _ => {
                if let Some((false, entries)) = open.last_mut() {
                    if *entries > 0 {
                        out.push(',');
                    }
                    *entries += 1;
                }
                match token {
                    Token::StartObject => {
                        out.push('{');
                        open.push((true, 0));
                    }
                    Token::StartArray => {
                        out.push('[');
                        open.push((false, 0));
                    }
                    Token::String => write_string(&utf16_units(lx.raw()), out),
                    Token::Int => write_int(lx.raw(), out),
                    Token::Float => match lx.non_numeric() {
                        Some(NonNumeric::NaN) => out.push_str("\"NaN\""),
                        Some(NonNumeric::PosInf) => out.push_str("\"Infinity\""),
                        Some(NonNumeric::NegInf) => out.push_str("\"-Infinity\""),
                        None => write_java_double(lx.raw().parse::<f64>().unwrap_or(f64::NAN), out),
                    },
                    Token::True => out.push_str("true"),
                    Token::False => out.push_str("false"),
                    Token::Null => out.push_str("null"),
                    _ => unreachable!("markers are handled above"),
                }
            }
        }
        if open.is_empty() {
            return Ok(());
        }
        token = lx.next_token()?.ok_or(CopyError::Syntax)?;
    }
}

/// An integer as Jackson re-prints it: its value, so `-0` is `0`.
fn write_int(raw: &str, out: &mut String) {
    if raw == "-0" {
        out.push('0');
    } else {
        out.push_str(raw);
    }
}

/// Java's `Double.toString` for a finite double: the shortest digits that
/// read back to it, plain between 10^-3 and 10^7, else `d.dddE±n`.
pub(crate) fn write_java_double(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("\"NaN\"");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    let x = x.abs();
    if x == 0.0 {
        out.push_str("0.0");
        return;
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (1e-3..1e7).contains(&x) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        out.push('E');
        out.push_str(&exp.to_string());
    }
}

/// A string as Jackson's UTF-8 generator writes it.
fn write_string(units: &[u16], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('"');
    for &u in units {
        match u {
            0x22 => out.push_str("\\\""),
            0x5C => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0A => out.push_str("\\n"),
            0x0C => out.push_str("\\f"),
            0x0D => out.push_str("\\r"),
            0x00..=0x1F | 0xD800..=0xDFFF => {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((u >> shift) & 0xF) as usize] as char);
                }
            }
            _ => out.push(char::from_u32(u as u32).unwrap_or('?')),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn java(x: f64) -> String {
        let mut s = String::new();
        write_java_double(x, &mut s);
        s
    }

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java(2.5), "2.5");
        assert_eq!(java(100.0), "100.0");
        assert_eq!(java(0.001), "0.001");
        assert_eq!(java(0.0001), "1.0E-4");
        assert_eq!(java(1e7), "1.0E7");
        assert_eq!(java(1234567.0), "1234567.0");
        assert_eq!(java(1.2345678901234568e17), "1.2345678901234568E17");
        assert_eq!(java(-0.0), "-0.0");
        assert_eq!(java(-4.5e-7), "-4.5E-7");
        assert_eq!(java(f64::NAN), "\"NaN\"");
    }

    #[test]
    fn structures_copy_compactly_with_jacksons_escapes() {
        let mut lx =
            Lexer::new("{\"v\": {\"b\" : 2.500, \"a\":[1, -0, \"\\u0001é😀\", null, NaN]}}");
        for _ in 0..3 {
            lx.next_token().unwrap();
        }
        let mut out = String::new();
        copy_structure(&mut lx, &mut out).unwrap();
        assert_eq!(
            out,
            r#"{"b":2.5,"a":[1,0,"\u0001é\uD83D\uDE00",null,"NaN"]}"#
        );
        assert_eq!(lx.next_token().unwrap(), Some(Token::EndObject));
    }
}
