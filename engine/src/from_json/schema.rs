//! `from_json`'s schema argument: a Spark DDL string (`a STRING, b ARRAY<INT>`)
//! or a Spark JSON schema (`StructType.json()`), as the old job accepted both,
//! and the Arrow types the parsed rows take.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};

/// A Spark SQL type that `from_json` can produce.
#[derive(Debug, Clone, PartialEq)]
pub enum SparkType {
    /// BOOLEAN.
    Boolean,
    /// TINYINT (Arrow Int8).
    Byte,
    /// SMALLINT (Int16).
    Short,
    /// INT (Int32).
    Int,
    /// BIGINT (Int64).
    Long,
    /// FLOAT (Float32).
    Float,
    /// DOUBLE (Float64).
    Double,
    /// DECIMAL(precision, scale) (Decimal128).
    Decimal {
        /// Digits in all, 1 to 38.
        precision: u8,
        /// Digits after the point, 0 to `precision`.
        scale: u8,
    },
    /// STRING (Utf8).
    String,
    /// DATE (Date32, days since 1970-01-01).
    Date,
    /// TIMESTAMP, Spark's with-local-time-zone kind (microseconds, UTC).
    Timestamp,
    /// ARRAY<element>.
    Array(Box<SparkType>),
    /// MAP<STRING, value>: JSON object keys are strings.
    Map(Box<SparkType>),
    /// STRUCT<...>.
    Struct(StructType),
}

/// A STRUCT's fields, with Spark's lookup by exact (case-sensitive) name.
#[derive(Debug, Clone, PartialEq)]
pub struct StructType {
    fields: Vec<StructField>,
    /// Name → position; with repeated names the last one wins, as in Spark's
    /// `StructType.getFieldIndex`.
    index: HashMap<String, usize>,
}

/// One field of a STRUCT.
#[derive(Debug, Clone, PartialEq)]
pub struct StructField {
    /// The name, exactly as declared.
    pub name: String,
    /// The type.
    pub ty: SparkType,
}

impl StructType {
    /// A struct of these fields.
    pub fn new(fields: Vec<StructField>) -> Self {
        let index = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        StructType { fields, index }
    }

    /// The fields, in declared order.
    pub fn fields(&self) -> &[StructField] {
        &self.fields
    }

    /// The position of the field named exactly `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The Arrow fields of rows of this struct (every field nullable).
    pub fn arrow_fields(&self) -> Fields {
        self.fields
            .iter()
            .map(|f| Field::new(&f.name, f.ty.arrow_type(), true))
            .collect()
    }
}

impl SparkType {
    /// The Arrow type of values of this type.
    pub fn arrow_type(&self) -> DataType {
        match self {
            SparkType::Boolean => DataType::Boolean,
            SparkType::Byte => DataType::Int8,
            SparkType::Short => DataType::Int16,
            SparkType::Int => DataType::Int32,
            SparkType::Long => DataType::Int64,
            SparkType::Float => DataType::Float32,
            SparkType::Double => DataType::Float64,
            SparkType::Decimal { precision, scale } => {
                DataType::Decimal128(*precision, *scale as i8)
            }
            SparkType::String => DataType::Utf8,
            SparkType::Date => DataType::Date32,
            SparkType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            SparkType::Array(element) => {
                DataType::List(Arc::new(Field::new_list_field(element.arrow_type(), true)))
            }
            SparkType::Map(value) => DataType::Map(map_entries(value), false),
            SparkType::Struct(st) => DataType::Struct(st.arrow_fields()),
        }
    }
}

/// The entries field of a MAP<STRING, value>.
pub(crate) fn map_entries(value: &SparkType) -> Arc<Field> {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", value.arrow_type(), true),
        ])),
        false,
    ))
}

/// A schema argument Weir cannot use, with where it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "from_json schema: {}", self.message)
    }
}

impl std::error::Error for SchemaError {}

fn err<T>(message: impl Into<String>) -> Result<T, SchemaError> {
    Err(SchemaError {
        message: message.into(),
    })
}

/// Parses a schema argument: a Spark JSON schema when it starts with `{`, a
/// DDL field list (`a INT, b STRING`) or `STRUCT<...>` otherwise.
pub fn parse_schema(text: &str) -> Result<StructType, SchemaError> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        let value: serde_json::Value = match serde_json::from_str(trimmed) {
            Ok(v) => v,
            Err(e) => return err(format!("not a JSON schema: {e}")),
        };
        return match json_type(&value)? {
            SparkType::Struct(st) => Ok(st),
            other => err(format!(
                "the schema must be a struct, not {}",
                other.arrow_type()
            )),
        };
    }
    let mut ddl = Ddl {
        text: trimmed,
        pos: 0,
    };
    let st = if ddl.peek_keyword("STRUCT") && ddl.after_keyword_is('<') {
        match ddl.data_type()? {
            SparkType::Struct(st) => st,
            _ => unreachable!("STRUCT parses as a struct"),
        }
    } else {
        ddl.field_list(None)?
    };
    ddl.skip_ws();
    if ddl.pos < ddl.text.len() {
        return ddl.fail("unexpected text after the schema");
    }
    if st.fields.is_empty() {
        return err("the schema has no fields");
    }
    Ok(st)
}

/// A Spark JSON schema type: `"string"`, `"decimal(10,2)"`, or an object for
/// struct, array and map.
fn json_type(value: &serde_json::Value) -> Result<SparkType, SchemaError> {
    use serde_json::Value;
    match value {
        Value::String(name) => simple_type(name).map_or_else(
            || err(format!("unsupported type `{name}` in the JSON schema")),
            Ok,
        ),
        Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
            Some("struct") => {
                let Some(Value::Array(fields)) = obj.get("fields") else {
                    return err("a struct without `fields` in the JSON schema");
                };
                let mut out = Vec::with_capacity(fields.len());
                for field in fields {
                    let Some(name) = field.get("name").and_then(Value::as_str) else {
                        return err("a field without `name` in the JSON schema");
                    };
                    let Some(ty) = field.get("type") else {
                        return err(format!("field `{name}` has no `type` in the JSON schema"));
                    };
                    out.push(StructField {
                        name: name.to_owned(),
                        ty: json_type(ty)?,
                    });
                }
                Ok(SparkType::Struct(StructType::new(out)))
            }
            Some("array") => match obj.get("elementType") {
                Some(element) => Ok(SparkType::Array(Box::new(json_type(element)?))),
                None => err("an array without `elementType` in the JSON schema"),
            },
            Some("map") => {
                if obj.get("keyType").and_then(Value::as_str) != Some("string") {
                    return err("map keys must be strings (JSON object keys are)");
                }
                match obj.get("valueType") {
                    Some(v) => Ok(SparkType::Map(Box::new(json_type(v)?))),
                    None => err("a map without `valueType` in the JSON schema"),
                }
            }
            other => err(format!("unsupported type {other:?} in the JSON schema")),
        },
        other => err(format!("unsupported type {other} in the JSON schema")),
    }
}

/// Names of types without parameters (JSON schema names and DDL keywords),
/// and `decimal(p,s)` in JSON schemas.
fn simple_type(name: &str) -> Option<SparkType> {
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "boolean" => SparkType::Boolean,
        "byte" | "tinyint" => SparkType::Byte,
        "short" | "smallint" => SparkType::Short,
        "integer" | "int" => SparkType::Int,
        "long" | "bigint" => SparkType::Long,
        "float" | "real" => SparkType::Float,
        "double" => SparkType::Double,
        "string" => SparkType::String,
        "date" => SparkType::Date,
        "timestamp" | "timestamp_ltz" => SparkType::Timestamp,
        "decimal" | "dec" | "numeric" => SparkType::Decimal {
            precision: 10,
            scale: 0,
        },
        _ => {
            let inner = lower.strip_prefix("decimal(")?.strip_suffix(')')?;
            let (p, s) = inner.split_once(',')?;
            return decimal(p.trim().parse().ok()?, s.trim().parse().ok()?).ok();
        }
    })
}

fn decimal(precision: u32, scale: u32) -> Result<SparkType, SchemaError> {
    if !(1..=38).contains(&precision) || scale > precision {
        return err(format!(
            "DECIMAL({precision},{scale}): precision must be 1 to 38 and scale 0 to precision"
        ));
    }
    Ok(SparkType::Decimal {
        precision: precision as u8,
        scale: scale as u8,
    })
}

/// A cursor over a DDL string.
struct Ddl<'a> {
    text: &'a str,
    pos: usize,
}

impl Ddl<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, SchemaError> {
        err(format!(
            "{what} at character {} of `{}`",
            self.pos + 1,
            self.text
        ))
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.text[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SchemaError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.fail(&format!("expected `{c}`"))
        }
    }

    fn peek_keyword(&mut self, keyword: &str) -> bool {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        rest.len() >= keyword.len()
            && rest[..keyword.len()].eq_ignore_ascii_case(keyword)
            && !rest[keyword.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    }

    fn after_keyword_is(&self, c: char) -> bool {
        let rest = self.text[self.pos..].trim_start();
        rest.get(6..)
            .is_some_and(|after| after.trim_start().starts_with(c))
    }

    /// A word: letters, digits and `_`.
    fn word(&mut self) -> Option<&str> {
        self.skip_ws();
        let start = self.pos;
        let len = self.text[start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.text.len() - start);
        self.pos += len;
        (len > 0).then(|| &self.text[start..start + len])
    }

    /// A field name: a word, or backticks with ``` `` ``` for a backtick.
    fn name(&mut self) -> Result<String, SchemaError> {
        if self.eat('`') {
            let mut name = String::new();
            loop {
                let Some(c) = self.text[self.pos..].chars().next() else {
                    return self.fail("unterminated `quoted` name");
                };
                self.pos += c.len_utf8();
                if c == '`' {
                    if self.text[self.pos..].starts_with('`') {
                        self.pos += 1;
                        name.push('`');
                    } else {
                        return Ok(name);
                    }
                } else {
                    name.push(c);
                }
            }
        }
        match self.word() {
            Some(w) => Ok(w.to_owned()),
            None => self.fail("expected a field name"),
        }
    }

    /// `name [:] type [NOT NULL] [COMMENT '...'], ...` up to `close` (or the end).
    fn field_list(&mut self, close: Option<char>) -> Result<StructType, SchemaError> {
        let mut fields = Vec::new();
        loop {
            if let Some(c) = close
                && self.eat(c)
            {
                break;
            }
            if close.is_none() && self.peek().is_none() {
                break;
            }
            if !fields.is_empty() {
                self.expect(',')?;
            }
            let name = self.name()?;
            self.eat(':');
            let ty = self.data_type()?;
            if self.peek_keyword("NOT") {
                self.word();
                if !self.peek_keyword("NULL") {
                    return self.fail("expected NULL after NOT");
                }
                self.word();
            }
            if self.peek_keyword("COMMENT") {
                self.word();
                self.string_literal()?;
            }
            fields.push(StructField { name, ty });
        }
        Ok(StructType::new(fields))
    }

    fn string_literal(&mut self) -> Result<(), SchemaError> {
        let Some(quote) = self.peek().filter(|c| *c == '\'' || *c == '"') else {
            return self.fail("expected a quoted comment");
        };
        self.pos += 1;
        let mut escaped = false;
        for (i, c) in self.text[self.pos..].char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                self.pos += i + 1;
                return Ok(());
            }
        }
        self.fail("unterminated comment")
    }

    fn number(&mut self) -> Result<u32, SchemaError> {
        match self.word().map(str::parse::<u32>) {
            Some(Ok(n)) => Ok(n),
            _ => self.fail("expected a number"),
        }
    }

    fn data_type(&mut self) -> Result<SparkType, SchemaError> {
        let start = self.pos;
        let Some(word) = self.word().map(str::to_ascii_uppercase) else {
            return self.fail("expected a type");
        };
        match word.as_str() {
            "ARRAY" => {
                self.expect('<')?;
                let element = self.data_type()?;
                self.expect('>')?;
                Ok(SparkType::Array(Box::new(element)))
            }
            "MAP" => {
                self.expect('<')?;
                let key = self.data_type()?;
                if key != SparkType::String {
                    self.pos = start;
                    return self.fail("map keys must be STRING (JSON object keys are)");
                }
                self.expect(',')?;
                let value = self.data_type()?;
                self.expect('>')?;
                Ok(SparkType::Map(Box::new(value)))
            }
            "STRUCT" => {
                self.expect('<')?;
                Ok(SparkType::Struct(self.field_list(Some('>'))?))
            }
            "DECIMAL" | "DEC" | "NUMERIC" if self.eat('(') => {
                let precision = self.number()?;
                let scale = if self.eat(',') { self.number()? } else { 0 };
                self.expect(')')?;
                decimal(precision, scale)
            }
            "VARCHAR" | "CHAR" => {
                // Spark reads both as STRING in from_json.
                self.expect('(')?;
                self.number()?;
                self.expect(')')?;
                Ok(SparkType::String)
            }
            other => match simple_type(other) {
                Some(ty) => Ok(ty),
                None => {
                    self.pos = start;
                    self.fail(&format!("unsupported type `{other}`"))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(st: &StructType) -> Vec<&str> {
        st.fields().iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn ddl_field_lists_and_nested_types() {
        let st = parse_schema(
            "a STRING, `x``y` INT, s STRUCT<p: STRING, q: ARRAY<STRUCT<r: INT>>>, \
             m MAP<STRING, DECIMAL(10,2)>, d dec",
        )
        .unwrap();
        assert_eq!(names(&st), ["a", "x`y", "s", "m", "d"]);
        assert_eq!(st.fields()[1].ty, SparkType::Int);
        assert_eq!(
            st.fields()[3].ty,
            SparkType::Map(Box::new(SparkType::Decimal {
                precision: 10,
                scale: 2
            }))
        );
        assert_eq!(
            st.fields()[4].ty,
            SparkType::Decimal {
                precision: 10,
                scale: 0
            }
        );
        assert_eq!(st.index_of("x`y"), Some(1));
        assert_eq!(st.index_of("A"), None, "lookup is case-sensitive");
    }

    #[test]
    fn struct_ddl_and_json_schemas_parse_to_the_same_struct() {
        let ddl = parse_schema("STRUCT<id: BIGINT, tags: ARRAY<STRING>>").unwrap();
        let json = parse_schema(
            r#"{"type":"struct","fields":[
                {"name":"id","type":"long","nullable":true,"metadata":{}},
                {"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},
                 "nullable":true,"metadata":{}}]}"#,
        )
        .unwrap();
        assert_eq!(ddl, json);
    }

    #[test]
    fn bad_schemas_say_what_and_where() {
        for (schema, says) in [
            ("a INTEGR", "unsupported type `INTEGR`"),
            ("m MAP<INT, STRING>", "map keys must be STRING"),
            ("d DECIMAL(40,2)", "precision must be 1 to 38"),
            ("a INT b INT", "expected `,`"),
            ("", "no fields"),
            (r#"{"type":"struct"}"#, "without `fields`"),
        ] {
            let e = parse_schema(schema).unwrap_err().to_string();
            assert!(e.contains(says), "{schema}: {e}");
        }
    }
}
