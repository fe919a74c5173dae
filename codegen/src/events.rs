//! Typed events: the `x-feishu-events` list becomes one Rust `Event` enum with a variant per
//! event type (holding the payload type progenitor generates from its schema) and an `Unknown`
//! variant that keeps the raw JSON of types the spec does not list.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_yaml::Value;

use crate::error::{CodegenError, Result};
use crate::model::ref_name;

/// One entry of `x-feishu-events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventModel {
    /// The `header.event_type` string, e.g. `vc.meeting.meeting_started_v1`.
    pub event_type: String,
    /// The Rust variant: the type without `vc.`, PascalCased (`MeetingMeetingStartedV1`).
    pub variant: String,
    /// The payload schema (the v2 body's `event` object).
    pub schema: String,
    /// One-line summary.
    pub summary: String,
    /// The event's doc page.
    pub doc_url: Option<String>,
}

/// Reads `x-feishu-events`; every entry needs an `event_type`, a `summary` and a `schema` `$ref`
/// to an existing component schema, and no two entries may share a type or a variant name.
pub fn event_models(doc: &Value) -> Result<Vec<EventModel>> {
    let Some(entries) = doc.get("x-feishu-events") else { return Ok(Vec::new()) };
    let Some(entries) = entries.as_sequence() else {
        return Err(CodegenError::Lint(vec!["x-feishu-events must be a list".to_owned()]));
    };
    let schemas = doc.get("components").and_then(|c| c.get("schemas"));
    let mut problems = Vec::new();
    let mut out: Vec<EventModel> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
        let Some(event_type) = text("event_type") else {
            problems.push(format!("x-feishu-events[{index}]: no event_type"));
            continue;
        };
        let at = format!("x-feishu-events[{index}] ({event_type})");
        let variant = variant_name(&event_type);
        let schema = entry.get("schema").and_then(|s| s.get("$ref")).and_then(Value::as_str).and_then(ref_name);
        let Some(schema) = schema.map(str::to_owned) else {
            problems.push(format!("{at}: no `schema: {{$ref: ...}}` for the payload"));
            continue;
        };
        if schemas.and_then(|s| s.get(schema.as_str())).is_none() {
            problems.push(format!("{at}: schema {schema} is not in components.schemas"));
        }
        let Some(summary) = text("summary") else {
            problems.push(format!("{at}: no summary"));
            continue;
        };
        if variant.is_empty() || !variant.starts_with(|c: char| c.is_ascii_alphabetic()) {
            problems.push(format!("{at}: cannot make a Rust variant name from the type"));
            continue;
        }
        if out.iter().any(|e| e.event_type == event_type || e.variant == variant) {
            problems.push(format!("{at}: listed twice (type or variant {variant})"));
            continue;
        }
        out.push(EventModel { event_type, variant, schema, summary, doc_url: text("doc_url") });
    }
    if problems.is_empty() { Ok(out) } else { Err(CodegenError::Lint(problems)) }
}

/// `vc.meeting.meeting_started_v1` -> `MeetingMeetingStartedV1`.
pub fn variant_name(event_type: &str) -> String {
    let rest = event_type.strip_prefix("vc.").unwrap_or(event_type);
    rest.split(['.', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<String>()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The Rust source of the `Event` enum.
pub fn generate(events: &[EventModel]) -> TokenStream {
    let variants: Vec<_> = events.iter().map(|e| format_ident!("{}", e.variant)).collect();
    let payloads: Vec<_> = events.iter().map(|e| format_ident!("{}", e.schema)).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let docs = events.iter().map(|e| match &e.doc_url {
        Some(url) => format!("`{}`: {} ([doc]({url}))", e.event_type, e.summary),
        None => format!("`{}`: {}", e.event_type, e.summary),
    });
    let count = events.len();
    quote! {
        //! The typed VC events: one variant per event type of the spec's `x-feishu-events`.

        use ::serde_json::value::RawValue;

        use crate::types;

        /// The payload of a VC event (the `event` object of a v2 delivery), typed by
        /// `header.event_type`.
        ///
        /// Decoding never fails on an event type this version does not know: it becomes
        /// [`Event::Unknown`] with the payload kept byte for byte.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum Event {
            #( #[doc = #docs] #variants(Box<types::#payloads>), )*
            /// An event type this version of the client does not know; the payload is kept as received.
            Unknown {
                /// The `header.event_type` of the delivery.
                event_type: String,
                /// The `event` object, unparsed.
                payload: Box<RawValue>,
            },
        }

        impl Event {
            /// Every event type with a typed variant, in spec order.
            pub const EVENT_TYPES: [&'static str; #count] = [#(#types),*];

            /// The event type string (`header.event_type`) this value stands for.
            pub fn event_type(&self) -> &str {
                match self {
                    #( Event::#variants(_) => #types, )*
                    Event::Unknown { event_type, .. } => event_type,
                }
            }

            /// Decodes the payload of an event of type `event_type`. A known type whose payload
            /// does not match its schema is an error; an unknown type becomes [`Event::Unknown`].
            pub fn decode(event_type: &str, payload: &RawValue) -> Result<Self, ::serde_json::Error> {
                Ok(match event_type {
                    #( #types => Event::#variants(Box::new(::serde_json::from_str(payload.get())?)), )*
                    _ => Event::Unknown { event_type: event_type.to_owned(), payload: payload.to_owned() },
                })
            }

            /// Whether this is an event type the client does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Event::Unknown { .. })
            }
        }

        /// Calls the macro `$m` with `Variant(PayloadType) = "event.type",` for every typed event,
        /// so runtime code can implement traits per payload type without its own list.
        #[allow(unused_macros)]
        macro_rules! with_event_variants {
            ($m:ident) => {
                $m! { #( #variants(#payloads) = #types, )* }
            };
        }
        #[allow(unused_imports)]
        pub(crate) use with_event_variants;

        /// Serializes the payload alone (the `event` object of a delivery).
        impl ::serde::Serialize for Event {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    #( Event::#variants(payload) => ::serde::Serialize::serialize(payload, serializer), )*
                    Event::Unknown { payload, .. } => ::serde::Serialize::serialize(payload, serializer),
                }
            }
        }

        /// Two events are equal when they have the same type and equal payloads (unknown payloads
        /// are compared as JSON text).
        impl PartialEq for Event {
            fn eq(&self, other: &Self) -> bool {
                match (self, other) {
                    #( (Event::#variants(a), Event::#variants(b)) => a == b, )*
                    (
                        Event::Unknown { event_type: a_type, payload: a },
                        Event::Unknown { event_type: b_type, payload: b },
                    ) => a_type == b_type && a.get() == b.get(),
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_follow_the_event_type() {
        assert_eq!(variant_name("vc.meeting.meeting_started_v1"), "MeetingMeetingStartedV1");
        assert_eq!(variant_name("vc.room.created_v1"), "RoomCreatedV1");
        assert_eq!(variant_name("vc.reserve_config.updated_v1"), "ReserveConfigUpdatedV1");
    }

    #[test]
    fn entries_without_a_schema_are_reported() {
        let doc: Value = serde_yaml::from_str(
            "x-feishu-events:\n  - {event_type: vc.a.b_v1, summary: s}\n  - {event_type: vc.c.d_v1, summary: s, schema: {$ref: '#/components/schemas/Missing'}}\n",
        )
        .unwrap();
        let Err(CodegenError::Lint(problems)) = event_models(&doc) else { panic!("expected lint problems") };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("vc.a.b_v1") && problems[0].contains("schema"));
        assert!(problems[1].contains("Missing is not in components.schemas"));
    }
}
