//! Integer ranges of path and query parameters (`minimum` / `maximum`), checked by the
//! generated `.data()` before anything is sent. The progenitor view drops these bounds (typify
//! would turn them into `NonZero*` types), so this is where they are enforced; lengths and
//! patterns stay with typify's constrained types.

use openapiv3::{OpenAPI, Parameter, ReferenceOr, Schema, SchemaKind, Type};
use proc_macro2::TokenStream;
use quote::quote;

use crate::model::ref_name;

/// The documented range of one integer parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRange {
    /// The parameter's name, as in the spec.
    pub name: String,
    /// `minimum`, if any.
    pub minimum: Option<i64>,
    /// `maximum`, if any.
    pub maximum: Option<i64>,
}

/// The ranges of the operation's integer parameters that have a `minimum` or `maximum`.
pub fn param_ranges(api: &OpenAPI, op: &openapiv3::Operation) -> Vec<ParamRange> {
    let components = api.components.as_ref();
    let parameter = |p: &ReferenceOr<Parameter>| -> Option<Parameter> {
        match p {
            ReferenceOr::Item(p) => Some(p.clone()),
            ReferenceOr::Reference { reference } => {
                components?.parameters.get(ref_name(reference)?)?.as_item().cloned()
            }
        }
    };
    let schema = |s: &ReferenceOr<Schema>| -> Option<Schema> {
        match s {
            ReferenceOr::Item(s) => Some(s.clone()),
            ReferenceOr::Reference { reference } => components?.schemas.get(ref_name(reference)?)?.as_item().cloned(),
        }
    };
    let mut out = Vec::new();
    for param in op.parameters.iter().filter_map(parameter) {
        let data = param.parameter_data_ref();
        let openapiv3::ParameterSchemaOrContent::Schema(s) = &data.format else { continue };
        let Some(s) = schema(s) else { continue };
        let SchemaKind::Type(Type::Integer(integer)) = &s.schema_kind else { continue };
        if integer.minimum.is_some() || integer.maximum.is_some() {
            out.push(ParamRange { name: data.name.clone(), minimum: integer.minimum, maximum: integer.maximum });
        }
    }
    out
}

/// The expression in `.data_with()` and `.data_with_meta()` that is `Ok(())`, or
/// `Error::InvalidRequest` for the first out-of-range parameter. `operation` is the path of the
/// operation's table entry.
pub fn checks(ranges: &[ParamRange], operation: &TokenStream) -> TokenStream {
    let checks = ranges.iter().map(|range| {
        let field = crate::operations::field_ident(&range.name);
        let name = &range.name;
        let bound = |b: Option<i64>| match b {
            Some(b) => quote!(Some(#b)),
            None => quote!(None),
        };
        let (minimum, maximum) = (bound(range.minimum), bound(range.maximum));
        quote! {
            .and_then(|()| match &self.#field {
                Ok(value) => crate::range::check(#operation, #name, value, #minimum, #maximum),
                Err(_) => Ok(()),
            })
        }
    });
    quote!(Ok::<(), crate::Error>(()) #(#checks)*)
}
