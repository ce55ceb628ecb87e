//! `from_json(text, schema)` as a DataFusion scalar function. The schema must
//! be a literal: it decides the result's type when the plan is made.

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringArray, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::{FROM_JSON, StructType, from_json_column, parse_schema};

/// The `from_json` function.
pub fn from_json_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(FromJson {
        // No coercion: a coerced schema literal (`CAST('…' AS Utf8View)` when
        // the text column is a view) would no longer be a literal when the
        // result type is decided. The arguments are checked there instead.
        signature: Signature::any(2, Volatility::Stable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FromJson {
    signature: Signature,
}

/// The schema argument, which must be a string literal.
fn schema_arg(value: Option<&ScalarValue>) -> Result<StructType> {
    let text = match value {
        Some(ScalarValue::Utf8(Some(s)))
        | Some(ScalarValue::LargeUtf8(Some(s)))
        | Some(ScalarValue::Utf8View(Some(s))) => s,
        _ => return plan_err!("{FROM_JSON}'s second argument must be a literal schema string"),
    };
    parse_schema(text).map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))
}

impl ScalarUDFImpl for FromJson {
    fn name(&self) -> &str {
        FROM_JSON
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        // Only reached without the arguments' values; the literal schema is
        // read in `return_field_from_args`.
        plan_err!("{FROM_JSON}'s result type depends on its literal schema argument")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(text) = args.arg_fields.first()
            && !matches!(
                text.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
            )
        {
            return plan_err!(
                "{FROM_JSON}'s first argument must be a string, not {}",
                text.data_type()
            );
        }
        let schema = schema_arg(args.scalar_arguments.get(1).copied().flatten())?;
        Ok(Arc::new(Field::new(
            FROM_JSON,
            DataType::Struct(schema.arrow_fields()),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text, schema] = args.args.as_slice() else {
            return exec_err!("{FROM_JSON} takes two arguments");
        };
        let ColumnarValue::Scalar(schema) = schema else {
            return exec_err!("{FROM_JSON}'s second argument must be a literal schema string");
        };
        let schema = schema_arg(Some(schema))?;
        let input = match text {
            ColumnarValue::Array(a) => Arc::clone(a),
            ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
        };
        let input = match input.data_type() {
            DataType::Null => new_null_array(&DataType::Utf8, input.len()),
            DataType::Utf8 => input,
            _ => cast(&input, &DataType::Utf8)?,
        };
        let Some(strings) = input.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("{FROM_JSON}'s first argument must be a string");
        };
        let (rows, _stats) = from_json_column(strings, &schema)?;
        Ok(match text {
            ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(rows)),
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&rows, 0)?)
            }
        })
    }
}
