//! Weir's Python-compatible primitives against CPython's own answers
//! (`tests/data/python-oracle.jsonl.gz`, made by `tests/data/python_oracle.py`):
//! float `repr`/`str`, `strptime` + UTC formatting, lenient `b64decode`, and
//! `json.loads` followed by both `json.dumps` forms.

use std::path::PathBuf;

use serde_json::Value as J;
use weir_engine::json::{Value, parse, write_canonical};
use weir_engine::record::{base64, parse_py_datetime};
use weir_tests::gz_lines;

#[test]
fn primitives_match_cpython() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/python-oracle.jsonl.gz");
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for line in gz_lines(&path).iter().filter(|l| !l.is_empty()) {
        let case: J = serde_json::from_slice(line).expect("oracle line is JSON");
        let kind = case["kind"].as_str().expect("kind").to_owned();
        let text = case["text"].as_str().unwrap_or_default();
        let problem = match kind.as_str() {
            "float_repr" => {
                let f = f64::from_bits(case["bits"].as_u64().expect("bits"));
                let repr = Value::Float(f).to_string();
                let py_str = Value::Float(f).py_str().map(|s| s.into_owned());
                (repr != case["repr"] || py_str.as_deref() != case["str"].as_str())
                    .then(|| format!("float {f:e}: repr {repr}, str {py_str:?}"))
            }
            "strptime" => match (parse_py_datetime(text), case["ok"].as_str()) {
                (Ok(d), Some(want)) if d.format_millis() == want => None,
                (Err(_), None) => None,
                (got, want) => Some(format!("strptime {text:?}: got {got:?}, CPython {want:?}")),
            },
            "b64decode" => {
                let got = base64::decode(text)
                    .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>());
                match (got, case["hex"].as_str()) {
                    (Ok(g), Some(w)) if g == w => None,
                    (Err(_), None) => None,
                    (got, want) => {
                        Some(format!("b64decode {text:?}: got {got:?}, CPython {want:?}"))
                    }
                }
            }
            "json" => match (parse(text), case["ascii"].as_str()) {
                (Err(_), None) => None,
                (Ok(mut v), Some(ascii)) => {
                    let dumped = v.to_string();
                    let mut canonical = Vec::new();
                    write_canonical(&mut v, &mut canonical);
                    let canonical = String::from_utf8(canonical).expect("utf-8");
                    (dumped != ascii || canonical != case["canonical"].as_str().unwrap_or_default())
                        .then(|| format!("json {text:?}: dumps {dumped} / {canonical}"))
                }
                (got, want) => Some(format!(
                    "json {text:?}: got {:?}, CPython {want:?}",
                    got.map(|v| v.to_string())
                )),
            },
            other => Some(format!("unknown oracle kind {other}")),
        };
        *counts.entry(kind).or_default() += 1;
        failures.extend(problem);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(8)]
    );
    for kind in ["float_repr", "strptime", "b64decode", "json"] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) >= 2_000,
            "{kind}: {counts:?}"
        );
    }
}
