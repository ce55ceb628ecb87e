//! `keyed_hash(value)`: HMAC-SHA256 of a string, in hex, under the key in
//! `WEIR_REDACTION_KEY` — a redaction that still joins (the same value gives
//! the same hash everywhere the key is the same) and that nobody without the
//! key can reverse by hashing guesses. The key is read from the environment
//! of the process that evaluates the function (the client, or each
//! executor), so it is never part of a plan, a log or a report.

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The function's SQL name.
pub const KEYED_HASH: &str = "keyed_hash";

/// The environment variable holding the key (at least 16 bytes).
pub const REDACTION_KEY_ENV: &str = "WEIR_REDACTION_KEY";

/// The `keyed_hash` function.
pub fn keyed_hash_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(KeyedHash {
        signature: Signature::string(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyedHash {
    signature: Signature,
}

/// The key, or an error that names the variable (never its value).
fn key() -> Result<Zeroizing<Vec<u8>>> {
    match std::env::var_os(REDACTION_KEY_ENV) {
        Some(k) if k.len() >= 16 => Ok(Zeroizing::new(k.into_encoded_bytes())),
        Some(_) => exec_err!(
            "{REDACTION_KEY_ENV} is shorter than 16 bytes: {KEYED_HASH} refuses a weak key"
        ),
        None => exec_err!(
            "{KEYED_HASH} needs a key in {REDACTION_KEY_ENV} (in the environment of the client and of every executor)"
        ),
    }
}

/// `value`'s keyed hash, in lower-case hex.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ScalarUDFImpl for KeyedHash {
    fn name(&self) -> &str {
        KEYED_HASH
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("{KEYED_HASH} takes one argument");
        };
        let key = key()?;
        let input = match value {
            ColumnarValue::Array(a) => Arc::clone(a),
            ColumnarValue::Scalar(s) => s.to_array_of_size(1)?,
        };
        let input = cast(&input, &DataType::Utf8)?;
        let Some(strings) = input.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("{KEYED_HASH} takes a string");
        };
        let mut out = StringBuilder::with_capacity(strings.len(), strings.len() * 64);
        for v in strings.iter() {
            match v {
                Some(v) => out.append_value(keyed_hash(&key, v)),
                None => out.append_null(),
            }
        }
        let out = out.finish();
        Ok(match value {
            ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(out)),
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            keyed_hash(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
