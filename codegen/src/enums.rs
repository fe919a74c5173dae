//! Open enums: every named enum schema becomes a Rust enum with one variant per documented
//! value plus `Unknown(..)`, so a value the spec does not list is kept instead of failing. They
//! are `#[non_exhaustive]`: a value added to the spec is a new variant, which must not break a
//! user's `match`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_yaml::Value;

use crate::error::{CodegenError, Result};

/// Whether an enum's wire values are integers or strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumKind {
    /// `type: integer` (sent as a JSON number).
    Integer,
    /// `type: string`.
    String,
}

/// One documented value of an enum.
#[derive(Debug, Clone)]
pub struct EnumValue {
    /// The wire value (`1`, `"open_id"`).
    pub wire: Value,
    /// The Rust variant name from `x-enum-varnames`.
    pub variant: String,
    /// What the value means, from `x-enum-descriptions`.
    pub description: Option<String>,
}

/// A named enum schema of `components.schemas`.
#[derive(Debug, Clone)]
pub struct EnumModel {
    /// Schema (and Rust type) name.
    pub name: String,
    /// Integer or string.
    pub kind: EnumKind,
    /// The schema's description.
    pub description: Option<String>,
    /// The documented values, in spec order.
    pub values: Vec<EnumValue>,
}

/// Collects every enum schema of `components.schemas`.
pub fn enum_models(doc: &Value) -> Result<Vec<EnumModel>> {
    let Some(schemas) = doc.get("components").and_then(|c| c.get("schemas")).and_then(Value::as_mapping) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, schema) in schemas {
        let Some(values) = schema.get("enum").and_then(Value::as_sequence) else { continue };
        let name = name.as_str().unwrap_or_default().to_owned();
        let kind = match schema.get("type").and_then(Value::as_str) {
            Some("integer") => EnumKind::Integer,
            Some("string") => EnumKind::String,
            other => {
                return Err(CodegenError::Lint(vec![format!(
                    "enum schema {name} has type {other:?}; only integer and string enums are supported"
                )]));
            }
        };
        let names = string_list(schema.get("x-enum-varnames"));
        let descriptions = string_list(schema.get("x-enum-descriptions"));
        if names.len() != values.len() {
            return Err(CodegenError::Lint(vec![format!(
                "enum schema {name} has {} values but {} x-enum-varnames",
                values.len(),
                names.len()
            )]));
        }
        out.push(EnumModel {
            description: schema.get("description").and_then(Value::as_str).map(str::to_owned),
            values: values
                .iter()
                .zip(names)
                .enumerate()
                .map(|(i, (wire, variant))| EnumValue {
                    wire: wire.clone(),
                    variant,
                    description: descriptions.get(i).cloned(),
                })
                .collect(),
            name,
            kind,
        });
    }
    Ok(out)
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The Rust source of all open enums.
pub fn generate(enums: &[EnumModel]) -> TokenStream {
    let items = enums.iter().map(generate_one);
    quote! {
        //! Open enums of the VC API: each keeps values the spec does not list in `Unknown`.
        #(#items)*
    }
}

fn generate_one(model: &EnumModel) -> TokenStream {
    let ident = format_ident!("{}", model.name);
    let doc = model.description.clone().unwrap_or_else(|| format!("The `{}` enum.", model.name));
    let variants: Vec<_> = model.values.iter().map(|v| format_ident!("{}", v.variant)).collect();
    let variant_docs = model.values.iter().map(|v| {
        let wire = wire_text(&v.wire);
        match &v.description {
            Some(d) => format!("`{wire}`: {d}"),
            None => format!("`{wire}`."),
        }
    });
    let unknown_doc = "A value this version of the client does not know; it is kept as received.";
    let all_doc = format!("Every documented value of [`{}`], in spec order.", model.name);
    match model.kind {
        EnumKind::Integer => {
            let wires: Vec<i32> = model.values.iter().map(|v| v.wire.as_i64().unwrap_or_default() as i32).collect();
            quote! {
                #[doc = #doc]
                #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
                #[non_exhaustive]
                pub enum #ident {
                    #( #[doc = #variant_docs] #variants, )*
                    #[doc = #unknown_doc]
                    Unknown(i32),
                }

                impl #ident {
                    #[doc = #all_doc]
                    pub const ALL: &'static [#ident] = &[#(#ident::#variants),*];

                    /// The integer sent on the wire.
                    pub fn value(self) -> i32 {
                        match self {
                            #( #ident::#variants => #wires, )*
                            #ident::Unknown(value) => value,
                        }
                    }
                }

                impl From<i32> for #ident {
                    fn from(value: i32) -> Self {
                        match value {
                            #( #wires => #ident::#variants, )*
                            other => #ident::Unknown(other),
                        }
                    }
                }

                impl From<#ident> for i32 {
                    fn from(value: #ident) -> Self {
                        value.value()
                    }
                }

                impl ::std::fmt::Display for #ident {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        ::std::fmt::Display::fmt(&self.value(), f)
                    }
                }

                impl ::serde::Serialize for #ident {
                    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        serializer.serialize_i32(self.value())
                    }
                }

                impl<'de> ::serde::Deserialize<'de> for #ident {
                    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                        <i32 as ::serde::Deserialize>::deserialize(deserializer).map(#ident::from)
                    }
                }
            }
        }
        EnumKind::String => {
            let wires: Vec<String> = model.values.iter().map(|v| wire_text(&v.wire)).collect();
            let from_str_doc = "Parses a wire value; never fails: unlisted values become `Unknown`.";
            quote! {
                #[doc = #doc]
                #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
                #[non_exhaustive]
                pub enum #ident {
                    #( #[doc = #variant_docs] #variants, )*
                    #[doc = #unknown_doc]
                    Unknown(String),
                }

                impl #ident {
                    #[doc = #all_doc]
                    pub const ALL: &'static [#ident] = &[#(#ident::#variants),*];

                    /// The string sent on the wire.
                    pub fn as_str(&self) -> &str {
                        match self {
                            #( #ident::#variants => #wires, )*
                            #ident::Unknown(value) => value.as_str(),
                        }
                    }
                }

                impl ::std::str::FromStr for #ident {
                    type Err = ::std::convert::Infallible;
                    #[doc = #from_str_doc]
                    fn from_str(value: &str) -> Result<Self, Self::Err> {
                        Ok(Self::from(value))
                    }
                }

                impl From<&str> for #ident {
                    fn from(value: &str) -> Self {
                        match value {
                            #( #wires => #ident::#variants, )*
                            other => #ident::Unknown(other.to_owned()),
                        }
                    }
                }

                impl ::std::fmt::Display for #ident {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(self.as_str())
                    }
                }

                impl ::serde::Serialize for #ident {
                    fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        serializer.serialize_str(self.as_str())
                    }
                }

                impl<'de> ::serde::Deserialize<'de> for #ident {
                    fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                        let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                        Ok(#ident::from(value.as_ref()))
                    }
                }
            }
        }
    }
}

fn wire_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}
