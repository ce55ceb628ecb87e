//! Spark 3.5's `JacksonParser` converters, over [`Lexer`]'s token stream, in
//! PERMISSIVE mode with `spark.sql.json.enablePartialResults` (Spark's
//! default): a field that does not convert is NULL and its siblings are kept
//! (in nested structs, and struct elements of arrays and maps, too); a syntax
//! error makes every field NULL.
//!
//! The control flow is Spark's on purpose, including what it does after a
//! failure: a field that fails part-way leaves the stream where it failed and
//! the enclosing object goes on reading from there.

use super::datetime::{Reading, read_date, read_timestamp};
use super::decimal::to_decimal;
use super::generate::{CopyError, copy_structure};
use super::lexer::{Lexer, NonNumeric, SyntaxError, Token};
use super::schema::{SparkType, StructType};
use super::value::{Outcome, Parsed, Val};

/// Why a value did not convert.
#[derive(Debug)]
enum Fail {
    /// The input is not JSON: the record is malformed.
    Syntax,
    /// This value does not convert (Spark's `NonFatal` conversion errors).
    Value,
    /// Part of a struct, array or map converted (`PartialValueException`).
    Partial(Val),
}

impl From<SyntaxError> for Fail {
    fn from(_: SyntaxError) -> Self {
        Fail::Syntax
    }
}

impl From<CopyError> for Fail {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Syntax => Fail::Syntax,
            CopyError::NotAValue => Fail::Value,
        }
    }
}

/// Parses one input with `schema` as Spark's `from_json` does.
pub(crate) fn parse(input: Option<&str>, schema: &StructType) -> Parsed {
    let mut converter = Converter {
        rejected_datetimes: 0,
    };
    let all_null = || Some(vec![Val::Null; schema.fields().len()]);
    let Some(input) = input else {
        return converter.finish(None, Outcome::Empty);
    };
    let mut lx = Lexer::new(input);
    match lx.next_token() {
        Ok(None) => converter.finish(None, Outcome::Empty),
        Ok(Some(Token::StartObject)) => match converter.object(&mut lx, schema) {
            Ok(Val::Struct(row)) => converter.finish(Some(row), Outcome::Ok),
            Err(Fail::Partial(Val::Struct(row))) => converter.finish(Some(row), Outcome::Partial),
            _ => converter.finish(all_null(), Outcome::Malformed),
        },
        // A top-level array, scalar or null, or a syntax error.
        _ => converter.finish(all_null(), Outcome::Malformed),
    }
}

struct Converter {
    rejected_datetimes: u32,
}

impl Converter {
    fn finish(self, row: Option<Vec<Val>>, outcome: Outcome) -> Parsed {
        Parsed {
            row,
            outcome,
            rejected_datetimes: self.rejected_datetimes,
        }
    }

    /// Spark's `convertObject`, after its `START_OBJECT`.
    fn object(&mut self, lx: &mut Lexer<'_>, schema: &StructType) -> Result<Val, Fail> {
        let mut row = vec![Val::Null; schema.fields().len()];
        let mut partial = false;
        loop {
            match lx.next_token()? {
                None | Some(Token::EndObject) => break,
                Some(_) => {}
            }
            let Some(index) = lx.current_name().and_then(|n| schema.index_of(n)) else {
                lx.skip_children()?;
                continue;
            };
            match self.value(lx, &schema.fields()[index].ty) {
                Ok(v) => row[index] = v,
                Err(Fail::Partial(v)) => {
                    partial = true;
                    row[index] = v;
                }
                // Spark catches any non-fatal error here, syntax errors too:
                // the field keeps what it had (an earlier repeated key's
                // value) and the stream goes on from where the error left it
                // (after a syntax error, usually a further error).
                Err(Fail::Syntax | Fail::Value) => {
                    partial = true;
                    lx.skip_children()?;
                }
            }
        }
        if partial {
            Err(Fail::Partial(Val::Struct(row)))
        } else {
            Ok(Val::Struct(row))
        }
    }

    /// Spark's `convertArray`: an element that fails fails the array, unless
    /// it is itself partial.
    fn array(&mut self, lx: &mut Lexer<'_>, element: &SparkType) -> Result<Val, Fail> {
        let mut values = Vec::new();
        let mut partial = false;
        loop {
            match lx.next_token()? {
                None | Some(Token::EndArray) => break,
                Some(_) => {}
            }
            match self.value(lx, element) {
                Ok(v) => values.push(v),
                Err(Fail::Partial(v)) => {
                    partial = true;
                    values.push(v);
                }
                Err(e) => return Err(e),
            }
        }
        if partial {
            Err(Fail::Partial(Val::Array(values)))
        } else {
            Ok(Val::Array(values))
        }
    }

    /// Spark's `convertMap` (3.5): keys are field names, values convert like
    /// array elements.
    fn map(&mut self, lx: &mut Lexer<'_>, value: &SparkType) -> Result<Val, Fail> {
        let mut entries = Vec::new();
        let mut partial = false;
        loop {
            match lx.next_token()? {
                None | Some(Token::EndObject) => break,
                Some(_) => {}
            }
            let Some(key) = lx.current_name().map(str::to_owned) else {
                return Err(Fail::Value);
            };
            match self.value(lx, value) {
                Ok(v) => entries.push((key, v)),
                Err(Fail::Partial(v)) => {
                    partial = true;
                    entries.push((key, v));
                }
                Err(e) => return Err(e),
            }
        }
        if partial {
            Err(Fail::Partial(Val::Map(entries)))
        } else {
            Ok(Val::Map(entries))
        }
    }

    /// Spark's `parseJsonToken` and `makeConverter`: skips a field name, reads
    /// NULL as NULL, converts the token or fails.
    fn value(&mut self, lx: &mut Lexer<'_>, ty: &SparkType) -> Result<Val, Fail> {
        let mut token = lx.token();
        if token == Some(Token::FieldName) {
            token = lx.next_token()?;
        }
        let Some(token) = token else {
            return Ok(Val::Null);
        };
        if token == Token::Null {
            return Ok(Val::Null);
        }
        // Empty strings convert only to STRING (SPARK-25040).
        if token == Token::String && lx.text().is_empty() && *ty != SparkType::String {
            return Err(Fail::Value);
        }
        match (ty, token) {
            (SparkType::Boolean, Token::True) => Ok(Val::Bool(true)),
            (SparkType::Boolean, Token::False) => Ok(Val::Bool(false)),
            (SparkType::Byte, Token::Int) => {
                // Jackson's getByteValue takes -128..=255 and wraps.
                let v = int_value(lx.raw()).filter(|v| (-128..=255).contains(v));
                v.map(|v| Val::Byte(v as u8 as i8)).ok_or(Fail::Value)
            }
            (SparkType::Short, Token::Int) => int_value(lx.raw())
                .and_then(|v| i16::try_from(v).ok())
                .map(Val::Short)
                .ok_or(Fail::Value),
            (SparkType::Int, Token::Int) => int_value(lx.raw())
                .and_then(|v| i32::try_from(v).ok())
                .map(Val::Int)
                .ok_or(Fail::Value),
            (SparkType::Long, Token::Int) => int_value(lx.raw()).map(Val::Long).ok_or(Fail::Value),
            (SparkType::Float, Token::Int | Token::Float) => {
                Ok(Val::Float(match lx.non_numeric() {
                    Some(n) => special(n) as f32,
                    None => float_value(lx.raw()),
                }))
            }
            (SparkType::Double, Token::Int | Token::Float) => {
                Ok(Val::Double(match lx.non_numeric() {
                    Some(n) => special(n),
                    None => lx.raw().parse().map_err(|_| Fail::Value)?,
                }))
            }
            (SparkType::Float, Token::String) => special_string(lx.text())
                .map(|v| Val::Float(v as f32))
                .ok_or(Fail::Value),
            (SparkType::Double, Token::String) => special_string(lx.text())
                .map(Val::Double)
                .ok_or(Fail::Value),
            (SparkType::String, Token::String) => Ok(Val::String(lx.text().to_owned())),
            (SparkType::String, _) => {
                let mut out = String::new();
                copy_structure(lx, &mut out)?;
                Ok(Val::String(out))
            }
            (SparkType::Decimal { precision, scale }, Token::Int | Token::Float) => {
                if lx.non_numeric().is_some() {
                    return Err(Fail::Value);
                }
                decimal(lx.raw(), *precision, *scale)
            }
            (SparkType::Decimal { precision, scale }, Token::String) => {
                // Spark's US-locale decimal parser drops grouping commas.
                decimal(&lx.text().replace(',', ""), *precision, *scale)
            }
            (SparkType::Date, Token::String) => match read_date(lx.text()) {
                Reading::Value(days) => Ok(Val::Date(days)),
                Reading::Rejected => {
                    self.rejected_datetimes += 1;
                    Err(Fail::Value)
                }
                Reading::Invalid => Err(Fail::Value),
            },
            (SparkType::Timestamp, Token::String) => match read_timestamp(lx.text()) {
                Reading::Value(micros) => Ok(Val::Timestamp(micros)),
                Reading::Rejected => {
                    self.rejected_datetimes += 1;
                    Err(Fail::Value)
                }
                Reading::Invalid => Err(Fail::Value),
            },
            // Epoch seconds; Spark multiplies without an overflow check.
            (SparkType::Timestamp, Token::Int) => int_value(lx.raw())
                .map(|s| Val::Timestamp(s.wrapping_mul(1_000_000)))
                .ok_or(Fail::Value),
            (SparkType::Struct(st), Token::StartObject) => self.object(lx, st),
            (SparkType::Array(element), Token::StartArray) => self.array(lx, element),
            (SparkType::Map(value), Token::StartObject) => self.map(lx, value),
            _ => Err(Fail::Value),
        }
    }
}

fn decimal(text: &str, precision: u8, scale: u8) -> Result<Val, Fail> {
    to_decimal(text, precision, scale)
        .map(Val::Decimal)
        .ok_or(Fail::Value)
}

/// An integer token's value, if it fits a BIGINT (Jackson's `getLongValue`).
fn int_value(raw: &str) -> Option<i64> {
    raw.parse().ok()
}

/// Jackson's `getFloatValue`: the text read straight to a float.
fn float_value(raw: &str) -> f32 {
    raw.parse().unwrap_or(f32::NAN)
}

fn special(n: NonNumeric) -> f64 {
    match n {
        NonNumeric::NaN => f64::NAN,
        NonNumeric::PosInf => f64::INFINITY,
        NonNumeric::NegInf => f64::NEG_INFINITY,
    }
}

/// The strings Spark reads into FLOAT and DOUBLE fields.
fn special_string(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+INF" | "+Infinity" | "Infinity" => Some(f64::INFINITY),
        "-INF" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}
