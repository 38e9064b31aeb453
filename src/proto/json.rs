//! The protobuf JSON mapping of the wire types, for people: `render -f` and `client create -f`
//! read a `DriverSandbox` as JSON or YAML (proto field names or lowerCamelCase, a Struct as plain
//! JSON, unknown fields refused with their path), and `client get -o json|yaml` writes one. The
//! mapping itself is generated (pbjson); this module adds YAML and error paths, and converts
//! `google.protobuf.Struct` to and from the JSON the driver's typed schemas read.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads a wire message from JSON or YAML (JSON is YAML). Errors name the field's path.
pub fn from_text<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value: serde_json::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    from_json(value)
}

/// Reads a wire message from JSON. Errors name the field's path (`spec.template.image`).
pub fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

/// Writes a wire message as its canonical JSON (lowerCamelCase, defaults left out).
pub fn to_json<T: Serialize>(message: &T) -> serde_json::Value {
    // The generated serializers only fail on non-string map keys, which protobuf maps never have.
    serde_json::to_value(message).unwrap_or(serde_json::Value::Null)
}

/// Converts a protobuf Struct to JSON (numbers stay f64, as on the wire).
pub fn struct_to_json(s: &pbjson_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

pub fn value_to_json(v: &pbjson_types::Value) -> serde_json::Value {
    use pbjson_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => {
            // Integral numbers become integers so that typed fields such as ports accept them.
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                serde_json::Value::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => serde_json::Value::Array(l.values.iter().map(value_to_json).collect()),
    }
}

/// Converts JSON to a protobuf Struct (for clients that build requests from YAML/JSON).
pub fn json_to_struct(value: &serde_json::Value) -> Option<pbjson_types::Struct> {
    match json_to_value(value).kind {
        Some(pbjson_types::value::Kind::StructValue(s)) => Some(s),
        _ => None,
    }
}

fn json_to_value(v: &serde_json::Value) -> pbjson_types::Value {
    use pbjson_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(pbjson_types::ListValue {
            values: a.iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(pbjson_types::Struct {
            fields: o.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect(),
        }),
    };
    pbjson_types::Value { kind: Some(kind) }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
