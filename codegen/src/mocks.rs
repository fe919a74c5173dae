//! Typed mocks: one function per operation returning a mock builder with a typed setter per
//! path and query parameter, a typed `body` matcher and a typed `respond`, on top of the
//! hand-written `OperationMock` of `vc-api/src/mock.rs` (wiremock underneath).

use heck::ToUpperCamelCase;
use openapiv3::{OpenAPI, Parameter, ReferenceOr, SchemaKind, Type};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::enums::EnumModel;
use crate::model::{OperationModel, ref_name};

/// Method names every mock has; a parameter of the same name gets a `_param` suffix.
const RESERVED: [&str; 7] = ["body", "respond", "fail", "respond_with", "log_id", "into_inner", "new"];

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
}

/// One path or query parameter and the Rust type its setter takes.
#[derive(Debug, Clone)]
struct ParamModel {
    name: String,
    location: Location,
    /// The setter's argument type, or `None` when the schema has no simple Rust type (the
    /// untyped `query_param` of the inner mock still matches it).
    rust: Option<TokenStream>,
    description: Option<String>,
}

/// The Rust source of `vc-api/src/generated/mocks.rs`.
pub fn generate(api: &OpenAPI, operations: &[OperationModel], enums: &[EnumModel]) -> TokenStream {
    let mut items = Vec::new();
    for (path, item) in api.paths.iter() {
        let Some(item) = item.as_item() else { continue };
        for (_, op) in item.iter() {
            let Some(model) = operations.iter().find(|m| Some(&m.id) == op.operation_id.as_ref() && &m.path == path)
            else {
                continue;
            };
            let mut params = Vec::new();
            for param in item.parameters.iter().chain(&op.parameters) {
                if let Some(param) = parameter(api, param, enums) {
                    params.retain(|p: &ParamModel| p.name != param.name);
                    params.push(param);
                }
            }
            items.push(operation_mock(model, &params, body_schema(op), error_statuses(op)));
        }
    }
    quote! {
        //! Typed mocks of every operation (feature `mock`): see [`crate::mock`].
        use crate::mock::OperationMock;

        #(#items)*
    }
}

fn resolve_parameter<'a>(api: &'a OpenAPI, param: &'a ReferenceOr<Parameter>) -> Option<&'a Parameter> {
    match param {
        ReferenceOr::Item(param) => Some(param),
        ReferenceOr::Reference { reference } => {
            api.components.as_ref()?.parameters.get(ref_name(reference)?)?.as_item()
        }
    }
}

fn parameter(api: &OpenAPI, param: &ReferenceOr<Parameter>, enums: &[EnumModel]) -> Option<ParamModel> {
    let param = resolve_parameter(api, param)?;
    let location = match param {
        Parameter::Path { .. } => Location::Path,
        Parameter::Query { .. } => Location::Query,
        _ => return None,
    };
    let data = param.parameter_data_ref();
    let rust = match &data.format {
        openapiv3::ParameterSchemaOrContent::Schema(schema) => rust_type(api, schema, enums),
        openapiv3::ParameterSchemaOrContent::Content(_) => None,
    };
    Some(ParamModel { name: data.name.clone(), location, rust, description: data.description.clone() })
}

/// The type a setter takes: `impl Into<String>` for strings, the integer type for integers,
/// `impl Into<Enum>` for the open enums (so both a variant and its wire value work).
fn rust_type(api: &OpenAPI, schema: &ReferenceOr<openapiv3::Schema>, enums: &[EnumModel]) -> Option<TokenStream> {
    let schema = match schema {
        ReferenceOr::Reference { reference } => {
            let name = ref_name(reference)?;
            if enums.iter().any(|e| e.name == name) {
                let ident = format_ident!("{}", name);
                return Some(quote!(impl Into<crate::types::#ident>));
            }
            api.components.as_ref()?.schemas.get(name)?.as_item()?
        }
        ReferenceOr::Item(schema) => schema,
    };
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(_)) => Some(quote!(impl Into<String>)),
        SchemaKind::Type(Type::Integer(integer)) => match &integer.format {
            openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int32) => Some(quote!(i32)),
            _ => Some(quote!(i64)),
        },
        SchemaKind::Type(Type::Number(_)) => Some(quote!(f64)),
        SchemaKind::Type(Type::Boolean(_)) => Some(quote!(bool)),
        _ => None,
    }
}

fn body_schema(op: &openapiv3::Operation) -> Option<String> {
    let ReferenceOr::Item(body) = op.request_body.as_ref()? else { return None };
    match body.content.get("application/json")?.schema.as_ref()? {
        ReferenceOr::Reference { reference } => ref_name(reference).map(str::to_owned),
        ReferenceOr::Item(_) => None,
    }
}

/// `(code, http_status)` pairs of `x-feishu-error-codes`.
fn error_statuses(op: &openapiv3::Operation) -> Vec<(i64, u16)> {
    op.extensions
        .get("x-feishu-error-codes")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            Some((entry.get("code")?.as_i64()?, u16::try_from(entry.get("http_status")?.as_u64()?).ok()?))
        })
        .collect()
}

fn method_ident(name: &str) -> proc_macro2::Ident {
    let name = if RESERVED.contains(&name) { format!("{name}_param") } else { name.to_owned() };
    match syn::parse_str::<syn::Ident>(&name) {
        Ok(ident) => ident,
        Err(_) => format_ident!("{}_", name),
    }
}

fn operation_mock(
    op: &OperationModel,
    params: &[ParamModel],
    body: Option<String>,
    errors: Vec<(i64, u16)>,
) -> TokenStream {
    let function = format_ident!("{}", op.id);
    let mock = format_ident!("{}Mock", op.id.to_upper_camel_case());
    let constant = format_ident!("{}", op.id.to_uppercase());
    let id = &op.id;
    let fn_doc = format!(
        "A mock of `{id}` (`{} {}`): {}.\n\n\
         It matches every `{id}` request until narrowed by its setters, and answers what \
         [`respond`]({mock}::respond) or [`fail`]({mock}::fail) says.",
        op.method, op.path, op.summary
    );
    let struct_doc = format!(
        "Mock builder of `{id}`, made by [`{id}()`]({id}()): typed matchers for its parameters{}, then a typed answer.",
        if body.is_some() { " and body" } else { "" }
    );
    let setters = params.iter().filter_map(|param| {
        let rust = param.rust.as_ref()?;
        let method = method_ident(&param.name);
        let name = &param.name;
        let (what, call) = match param.location {
            Location::Path => ("path parameter", quote!(path_param)),
            Location::Query => ("query parameter", quote!(query_param)),
        };
        let mut doc = format!("Matches only requests whose {what} `{name}` is `value`.");
        if let Some(description) = &param.description {
            doc.push_str("\n\n");
            doc.push_str(description.trim());
        }
        let text = rust.to_string();
        let value = if text == quote!(impl Into<String>).to_string() {
            quote!(value)
        } else if text.starts_with("impl") {
            quote!(value.into().to_string())
        } else {
            quote!(value.to_string())
        };
        Some(quote! {
            #[doc = #doc]
            pub fn #method(self, value: #rust) -> Self {
                Self { inner: self.inner.#call(#name, #value) }
            }
        })
    });
    let body_setter = body.as_ref().map(|schema| {
        let ty = format_ident!("{}", schema);
        let doc = format!(
            "Matches only requests whose JSON body equals `body` (a [`{schema}`](crate::types::{schema}) or its builder).\n\n\
             # Panics\n\nWhen `body` is a builder that lacks a required field or holds an invalid value."
        );
        let what = format!("{id}: the request body");
        quote! {
            #[doc = #doc]
            pub fn body<B>(self, body: B) -> Self
            where
                B: TryInto<crate::types::#ty>,
                B::Error: ::std::fmt::Display,
            {
                Self { inner: self.inner.body_json(crate::mock::typed_json::<crate::types::#ty, B>(#what, body)) }
            }
        }
    });
    let respond = if op.file_download {
        quote! {
            /// Answers with these bytes as the file (`application/octet-stream`).
            pub fn respond(self, file: impl Into<Vec<u8>>) -> ::wiremock::Mock {
                self.inner.respond_file(file.into())
            }
        }
    } else {
        let (data, doc) = match &op.data_schema {
            Some(name) => {
                let ident = format_ident!("{}", name);
                (
                    quote!(crate::types::#ident),
                    format!(
                        "Answers `{{\"code\": 0, \"msg\": \"success\", \"data\": data}}` with HTTP 200, \
                         `data` being a [`{name}`](crate::types::{name}) or its builder.\n\n\
                         # Panics\n\nWhen `data` is a builder holding an invalid value."
                    ),
                )
            }
            None => (
                quote!(::serde_json::Value),
                "Answers `{\"code\": 0, \"msg\": \"success\", \"data\": data}` with HTTP 200.".to_owned(),
            ),
        };
        let what = format!("{id}: the response data");
        quote! {
            #[doc = #doc]
            pub fn respond<D>(self, data: D) -> ::wiremock::Mock
            where
                D: TryInto<#data>,
                D::Error: ::std::fmt::Display,
            {
                self.inner.respond_data(crate::mock::typed_json::<#data, D>(#what, data))
            }
        }
    };
    let codes = errors.iter().map(|(code, _)| code);
    let statuses = errors.iter().map(|(_, status)| status);
    quote! {
        #[doc = #fn_doc]
        pub fn #function() -> #mock {
            #mock { inner: OperationMock::new(&crate::generated::operations::#constant, &[#((#codes, #statuses)),*]) }
        }

        #[doc = #struct_doc]
        #[derive(Debug, Clone)]
        #[must_use = "a mock does nothing until it answers and is mounted on a server"]
        pub struct #mock {
            inner: OperationMock,
        }

        impl #mock {
            #(#setters)*
            #body_setter
            #respond

            /// Answers with a Feishu error: `{"code": code, "msg": msg}` with the HTTP status the
            /// operation's error-code table gives for `code` (400 for codes it does not list).
            pub fn fail(self, code: i64, msg: impl Into<String>) -> ::wiremock::Mock {
                self.inner.fail(code, msg)
            }

            /// Answers with any response.
            pub fn respond_with(self, response: ::wiremock::ResponseTemplate) -> ::wiremock::Mock {
                self.inner.respond_with(response)
            }

            /// Sends this log id in the `X-Tt-Logid` header of the answer.
            pub fn log_id(self, log_id: impl Into<String>) -> Self {
                Self { inner: self.inner.log_id(log_id) }
            }

            /// The untyped mock underneath, for matchers or answers the typed ones do not cover.
            pub fn into_inner(self) -> OperationMock {
                self.inner
            }
        }
    }
}
