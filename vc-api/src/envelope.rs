//! The `{"code", "msg", "data"}` envelope around every JSON response.
//!
//! Decoding reads `code` first: when it is non-zero, `data` is skipped whatever its shape, so a
//! failure always surfaces as the API's error rather than a decoding error. When `data` comes
//! before `code` in the body, it is buffered as raw JSON and decoded once `code` is known.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// A decoded response envelope. `data` is `Some` only when `code` is 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope<T> {
    /// 0 on success, a Feishu error code otherwise.
    pub code: i64,
    /// Message accompanying the code.
    pub msg: String,
    /// The payload of a successful response. A successful response without `data` decodes as
    /// an empty object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// Diagnostics the gateway attaches to some failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The `error` object of a failed response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Request log id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
    /// Link to a troubleshooting page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub troubleshooter: Option<String>,
}

enum Field {
    Code,
    Msg,
    Data,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Field, E> {
                Ok(match value {
                    "code" => Field::Code,
                    "msg" => Field::Msg,
                    "data" => Field::Data,
                    "error" => Field::Error,
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

enum DataState<T> {
    Absent,
    Decoded(Option<T>),
    Raw(Box<RawValue>),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor(PhantomData))
    }
}

struct EnvelopeVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for EnvelopeVisitor<T> {
    type Value = Envelope<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Feishu response object with `code`, `msg` and `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut code: Option<i64> = None;
        let mut msg: Option<String> = None;
        let mut data = DataState::Absent;
        let mut error: Option<serde_json::Value> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Code => code = Some(map.next_value()?),
                Field::Msg => msg = map.next_value::<Option<String>>()?,
                Field::Data => match code {
                    Some(0) => data = DataState::Decoded(map.next_value::<Option<T>>()?),
                    Some(_) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    None => data = DataState::Raw(map.next_value::<Box<RawValue>>()?),
                },
                Field::Error => error = map.next_value()?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let code = code.ok_or_else(|| de::Error::missing_field("code"))?;
        let data = if code != 0 {
            None
        } else {
            match data {
                DataState::Decoded(Some(value)) => Some(value),
                DataState::Raw(raw) if raw.get() != "null" => {
                    Some(serde_json::from_str(raw.get()).map_err(de::Error::custom)?)
                }
                _ => Some(serde_json::from_str("{}").map_err(de::Error::custom)?),
            }
        };
        Ok(Envelope {
            code,
            msg: msg.unwrap_or_default(),
            data,
            // A malformed `error` object is diagnostics only: never fail the response for it.
            error: error.and_then(|value| serde_json::from_value(value).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Data {
        id: String,
    }

    fn decode(json: &str) -> Result<Envelope<Data>, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn success_yields_data() {
        let env = decode(r#"{"code":0,"msg":"success","data":{"id":"7"}}"#).unwrap();
        assert_eq!(env.data, Some(Data { id: "7".into() }));
    }

    #[test]
    fn data_before_code_is_buffered() {
        let env = decode(r#"{"data":{"id":"7"},"msg":"ok","code":0}"#).unwrap();
        assert_eq!(env.data, Some(Data { id: "7".into() }));
    }

    #[test]
    fn failure_ignores_data_of_any_shape() {
        let env = decode(r#"{"code":121003,"msg":"param error","data":[1,2],"error":{"log_id":"L1"}}"#).unwrap();
        assert_eq!((env.code, env.data, env.error.unwrap().log_id), (121003, None, Some("L1".into())));
        let env = decode(r#"{"data":"x","code":5,"msg":"m"}"#).unwrap();
        assert_eq!(env.code, 5);
    }

    #[test]
    fn missing_code_is_an_error() {
        assert!(decode(r#"{"msg":"ok","data":{"id":"1"}}"#).is_err());
    }

    #[test]
    fn success_without_data_decodes_an_empty_object() {
        let env: Envelope<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(r#"{"code":0,"msg":"ok"}"#).unwrap();
        assert_eq!(env.data, Some(serde_json::Map::new()));
    }

    #[test]
    fn wrong_data_shape_on_success_is_an_error() {
        assert!(decode(r#"{"code":0,"msg":"ok","data":{"id":5}}"#).is_err());
    }
}
