//! The finishing pass over progenitor's and typify's builders, done on the syntax tree of the
//! generated client (never on the committed file):
//! - one public way to send: progenitor's raw `send()` (no token, retries, envelope check or
//!   tracing) becomes the crate-private `request(&self)`, which only builds the request
//!   ([`crate::send`]), so `.data()` and its siblings are what users call; the builders'
//!   constructors are crate-private too (`client.<operation>()` is the way to get one);
//! - every setter of every request builder and body builder is documented from the spec: the
//!   parameter's or field's description, whether it is required, its documented length, range or
//!   pattern, its enum values, its default and the spec's example;
//! - optional setters take the value itself (`.owner_id("ou_...")`, `.status(true)`), and a
//!   `set_<name>(Option<..>)` beside each clears it or passes an `Option` through;
//! - generated structs with named fields are `#[non_exhaustive]`: the API may add optional fields
//!   without breaking users, who build values through builders or `Default`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_yaml::Value;

use crate::error::{CodegenError, Result};

/// What the rewritten builders say about sending, shared by the generated docs.
const SEND_NOTE: &str = "Send it with [`data`](Self::data) (or `data_with`, and `pages` / `stream` when the operation \
                         pages): that is the one way to send, through the client's token handling, retries, envelope \
                         check and tracing.";

/// Applies the finishing pass to progenitor's output for the bundled spec `doc`.
pub fn refine(client: TokenStream, doc: &Value) -> Result<TokenStream> {
    let mut file: syn::File = syn::parse2(client).map_err(|e| syntax(e.to_string()))?;
    let spec = Spec::new(doc);
    for item in &mut file.items {
        match item {
            syn::Item::Mod(module) if module.ident == "builder" => {
                if let Some((_, items)) = module.content.as_mut() {
                    refine_request_builders(items, &spec)?;
                }
            }
            syn::Item::Mod(module) if module.ident == "types" => {
                if let Some((_, items)) = module.content.as_mut() {
                    refine_types(items, &spec)?;
                }
            }
            syn::Item::Impl(block) if self_name(&block.self_ty).as_deref() == Some("Client") => {
                rewrite_client_examples(block);
            }
            _ => {}
        }
    }
    Ok(quote!(#file))
}

fn syntax(message: String) -> CodegenError {
    CodegenError::Syntax { file: crate::paths::CLIENT.to_owned(), message }
}

/// The parts of the spec the docs come from.
struct Spec<'a> {
    doc: &'a Value,
    /// Operation builder name (`RoomList`) -> (operation id, parameters, body schema name).
    operations: BTreeMap<String, OperationSpec<'a>>,
}

struct OperationSpec<'a> {
    id: String,
    parameters: Vec<&'a Value>,
    body: Option<String>,
}

impl<'a> Spec<'a> {
    fn new(doc: &'a Value) -> Self {
        let mut operations = BTreeMap::new();
        for (_, item) in doc.get("paths").and_then(Value::as_mapping).into_iter().flatten() {
            let shared: Vec<&Value> =
                item.get("parameters").and_then(Value::as_sequence).into_iter().flatten().collect();
            for (method, op) in item.as_mapping().into_iter().flatten() {
                if method.as_str() == Some("parameters") {
                    continue;
                }
                let Some(id) = op.get("operationId").and_then(Value::as_str) else { continue };
                let mut parameters: Vec<&Value> = Vec::new();
                let own = op.get("parameters").and_then(Value::as_sequence).into_iter().flatten();
                for param in shared.iter().copied().chain(own) {
                    let param = resolve(doc, param);
                    let name = param.get("name");
                    parameters.retain(|p| p.get("name") != name);
                    parameters.push(param);
                }
                let body = op
                    .get("requestBody")
                    .and_then(|b| b.get("content"))
                    .and_then(|c| c.get("application/json"))
                    .and_then(|m| m.get("schema"))
                    .and_then(|s| s.get("$ref"))
                    .and_then(Value::as_str)
                    .and_then(crate::model::ref_name)
                    .map(str::to_owned);
                operations.insert(id.to_upper_camel_case(), OperationSpec { id: id.to_owned(), parameters, body });
            }
        }
        Spec { doc, operations }
    }

    fn schema(&self, name: &str) -> Option<&'a Value> {
        self.doc.get("components")?.get("schemas")?.get(name)
    }
}

/// Follows one `$ref` (to a component schema or parameter); other values are returned as they are.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return value };
    let mut target = doc;
    for key in reference.trim_start_matches("#/").split('/') {
        match target.get(key) {
            Some(next) => target = next,
            None => return value,
        }
    }
    target
}

fn ref_target(value: &Value) -> Option<&str> {
    value.get("$ref").and_then(Value::as_str).and_then(crate::model::ref_name)
}

fn self_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// A setter's name as the spec spells the field (`type_` -> `type`).
fn spec_name(method: &syn::Ident) -> String {
    let name = method.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

fn lookup<'a>(properties: &'a Value, method: &syn::Ident) -> Option<(String, &'a Value)> {
    let name = spec_name(method);
    let trimmed = name.strip_suffix('_').unwrap_or(&name);
    let found = properties.as_mapping()?.iter().find(|(key, _)| {
        key.as_str().is_some_and(|key| key == name || key.to_snake_case() == name || key.to_snake_case() == trimmed)
    })?;
    Some((found.0.as_str()?.to_owned(), found.1))
}

/// Field types of the named-field structs among `items`, by struct name.
fn struct_fields(items: &[syn::Item]) -> BTreeMap<String, BTreeMap<String, syn::Type>> {
    let mut out = BTreeMap::new();
    for item in items {
        if let syn::Item::Struct(s) = item
            && let syn::Fields::Named(fields) = &s.fields
        {
            let fields =
                fields.named.iter().filter_map(|f| Some((f.ident.as_ref()?.to_string(), f.ty.clone()))).collect();
            out.insert(s.ident.to_string(), fields);
        }
    }
    out
}

/// `T` of a builder field typed `Result<Option<T>, _>`: the field is optional.
fn optional_inner(ty: &syn::Type) -> Option<syn::Type> {
    let result = last_segment_args(ty, "Result")?;
    let syn::GenericArgument::Type(first) = result.first()? else { return None };
    let option = last_segment_args(first, "Option")?;
    match option.first()? {
        syn::GenericArgument::Type(inner) => Some(inner.clone()),
        _ => None,
    }
}

fn last_segment_args<'t>(
    ty: &'t syn::Type,
    name: &str,
) -> Option<&'t syn::punctuated::Punctuated<syn::GenericArgument, syn::token::Comma>> {
    let syn::Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => Some(&args.args),
        _ => None,
    }
}

fn doc_attrs(text: &str) -> Vec<syn::Attribute> {
    let mut attrs: Vec<syn::Attribute> = Vec::new();
    for line in text.lines() {
        let line = format!(" {line}");
        attrs.push(syn::parse_quote!(#[doc = #line]));
    }
    attrs
}

fn set_doc(attrs: &mut Vec<syn::Attribute>, text: &str) {
    attrs.retain(|a| !a.path().is_ident("doc"));
    let mut docs = doc_attrs(text);
    docs.append(attrs);
    *attrs = docs;
}

fn crate_private() -> syn::Visibility {
    syn::parse_quote!(pub(crate))
}

/// progenitor's request builders: crate-private `send` and `new`, documented setters, `set_*`
/// for optional parameters.
fn refine_request_builders(items: &mut [syn::Item], spec: &Spec<'_>) -> Result<()> {
    let fields = struct_fields(items);
    for item in items.iter_mut() {
        match item {
            syn::Item::Struct(s) => {
                if let Some(op) = spec.operations.get(&s.ident.to_string()) {
                    let doc = format!(
                        "Request builder of `{}`, made by [`Client::{}`](crate::Client::{}): one setter per \
                         parameter, then send.\n\n{SEND_NOTE}",
                        op.id, op.id, op.id
                    );
                    set_doc(&mut s.attrs, &doc);
                }
            }
            syn::Item::Impl(block) if block.trait_.is_none() => {
                let Some(name) = self_name(&block.self_ty) else { continue };
                let Some(op) = spec.operations.get(&name) else { continue };
                let Some(field_types) = fields.get(&name) else { continue };
                let mut extra = Vec::new();
                for member in &mut block.items {
                    let syn::ImplItem::Fn(method) = member else { continue };
                    match method.sig.ident.to_string().as_str() {
                        "new" => {
                            method.vis = crate_private();
                            let doc = format!(
                                "Starts the request; users call [`Client::{}`](crate::Client::{}).",
                                op.id, op.id
                            );
                            set_doc(&mut method.attrs, &doc);
                        }
                        "send" => {
                            crate::send::into_request(method, &op.id)?;
                            method.vis = crate_private();
                            let doc = "Checks the parameters and builds the request, without the access token: the \
                                       runtime's `data_with` sends it, once per attempt.";
                            set_doc(&mut method.attrs, doc);
                        }
                        "body" => {
                            let schema = op.body.clone().unwrap_or_default();
                            let doc = format!(
                                "The request body: a [`{schema}`](crate::types::{schema}) or its builder \
                                 ([`{schema}::builder()`](crate::types::{schema}::builder)). Missing required \
                                 fields and invalid values are reported by `data()` as `Error::InvalidRequest`, \
                                 before anything is sent."
                            );
                            set_doc(&mut method.attrs, &doc);
                        }
                        "body_map" => {
                            let doc = "Changes the request body's builder in place, e.g. to set one field on a body \
                                       given earlier.";
                            set_doc(&mut method.attrs, doc);
                        }
                        _ => {
                            let ident = method.sig.ident.clone();
                            let name = spec_name(&ident);
                            let Some(param) = op.parameters.iter().find(|p| {
                                p.get("name")
                                    .and_then(Value::as_str)
                                    .is_some_and(|n| n.to_snake_case() == name.trim_end_matches('_'))
                            }) else {
                                return Err(syntax(format!(
                                    "request builder {} has a setter `{ident}` for no parameter of `{}`",
                                    name, op.id
                                )));
                            };
                            let optional = field_types.get(&ident.to_string()).and_then(optional_inner);
                            let schema = param.get("schema").unwrap_or(&Value::Null);
                            let required = param.get("required").and_then(Value::as_bool).unwrap_or(false);
                            let what = match param.get("in").and_then(Value::as_str) {
                                Some("path") => "Path parameter",
                                Some("query") => "Query parameter",
                                _ => "Parameter",
                            };
                            let doc = describe(
                                spec,
                                param,
                                schema,
                                &Setter { what, required, clear: optional.is_some(), ident: &ident },
                            );
                            set_doc(&mut method.attrs, &doc);
                            if let Some(inner) = optional {
                                extra.push(clear_setter(&ident, &inner, &name, quote!(Ok(value))));
                            }
                        }
                    }
                }
                block.items.extend(extra);
            }
            _ => {}
        }
    }
    Ok(())
}

fn clear_setter(ident: &syn::Ident, inner: &syn::Type, name: &str, assign: TokenStream) -> syn::ImplItem {
    let set = format_ident!("set_{}", ident.to_string().trim_start_matches("r#"));
    let doc = format!(
        "Sets `{name}` from an `Option`: `None` leaves it out (the default), `Some` is the same as \
         [`{ident}`](Self::{ident})."
    );
    syn::parse_quote! {
        #[doc = #doc]
        pub fn #set(mut self, value: ::std::option::Option<#inner>) -> Self {
            self.#ident = #assign;
            self
        }
    }
}

/// typify's types: `#[non_exhaustive]` structs, documented builder setters, plain optional
/// setters plus `set_*`.
fn refine_types(items: &mut [syn::Item], spec: &Spec<'_>) -> Result<()> {
    for item in items.iter_mut() {
        match item {
            syn::Item::Struct(s)
                if matches!(s.fields, syn::Fields::Named(_))
                    && !s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) =>
            {
                s.attrs.push(syn::parse_quote!(#[non_exhaustive]));
            }
            syn::Item::Impl(block) if block.trait_.is_none() => {
                // `Foo::builder()`: say what the builder is for.
                let Some(name) = self_name(&block.self_ty) else { continue };
                for member in &mut block.items {
                    if let syn::ImplItem::Fn(method) = member
                        && method.sig.ident == "builder"
                    {
                        let doc = format!(
                            "A builder of [`{name}`]: one setter per field, each documented with the field; \
                             pass it where a `{name}` is expected (request `body`, mock data) or finish it \
                             with `{name}::try_from(builder)`, which reports missing required fields."
                        );
                        set_doc(&mut method.attrs, &doc);
                    }
                }
            }
            syn::Item::Mod(module) if module.ident == "builder" => {
                if let Some((_, content)) = module.content.as_mut() {
                    refine_body_builders(content, spec)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn refine_body_builders(items: &mut [syn::Item], spec: &Spec<'_>) -> Result<()> {
    let fields = struct_fields(items);
    for item in items.iter_mut() {
        let syn::Item::Impl(block) = item else { continue };
        if block.trait_.is_some() {
            continue;
        }
        let Some(name) = self_name(&block.self_ty) else { continue };
        let Some(schema) = spec.schema(&name) else {
            return Err(syntax(format!("typify builder {name} has no component schema")));
        };
        let properties = schema.get("properties").unwrap_or(&Value::Null);
        let required = crate::model::required_fields(schema);
        let field_types = fields.get(&name).cloned().unwrap_or_default();
        let mut extra = Vec::new();
        for member in &mut block.items {
            let syn::ImplItem::Fn(method) = member else { continue };
            let ident = method.sig.ident.clone();
            let Some((field, property)) = lookup(properties, &ident) else {
                return Err(syntax(format!("typify builder {name} has a setter `{ident}` for no field of the schema")));
            };
            let optional = field_types.get(&ident.to_string()).and_then(optional_inner);
            if let Some(inner) = &optional {
                if field_types.contains_key(&format!("set_{ident}")) {
                    return Err(syntax(format!("schema {name} has fields `{ident}` and `set_{ident}`")));
                }
                *method = plain_optional_setter(&ident, inner);
                extra.push(clear_setter(&ident, inner, &field, quote!(Ok(value))));
            }
            let setter = Setter {
                what: "Field",
                required: required.contains(&field.as_str()),
                clear: optional.is_some(),
                ident: &ident,
            };
            let doc = describe(spec, property, property, &setter);
            set_doc(&mut method.attrs, &doc);
        }
        block.items.extend(extra);
    }
    Ok(())
}

/// An optional field's setter taking the value itself (anything that converts to it).
fn plain_optional_setter(ident: &syn::Ident, inner: &syn::Type) -> syn::ImplItemFn {
    let message = format!("error converting supplied value for {}: {{e}}", ident.to_string().trim_start_matches("r#"));
    syn::parse_quote! {
        pub fn #ident<T>(mut self, value: T) -> Self
        where
            T: ::std::convert::TryInto<#inner>,
            T::Error: ::std::fmt::Display,
        {
            self.#ident = value.try_into().map(::std::option::Option::Some).map_err(|e| format!(#message));
            self
        }
    }
}

struct Setter<'i> {
    /// "Path parameter", "Query parameter", "Field".
    what: &'static str,
    required: bool,
    /// Whether a `set_*` setter exists beside it.
    clear: bool,
    ident: &'i syn::Ident,
}

/// The doc of one setter: `holder` is the parameter or property (description, example), `schema`
/// its schema (which may be a `$ref`).
fn describe(spec: &Spec<'_>, holder: &Value, schema: &Value, setter: &Setter<'_>) -> String {
    let target_name = ref_target(schema);
    let target = resolve(spec.doc, schema);
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(|s| s.trim().to_owned());
    let description = text(holder, "description")
        .or_else(|| text(schema, "description"))
        .or_else(|| text(target, "description"))
        .unwrap_or_else(|| format!("Sets `{}`.", spec_name(setter.ident)));
    let mut out = description;
    out.push_str("\n\n");
    if setter.required {
        let _ = writeln!(out, "- {}, required.", setter.what);
    } else if setter.clear {
        let set = format!("set_{}", setter.ident.to_string().trim_start_matches("r#"));
        let _ = writeln!(
            out,
            "- {}, optional; [`{set}`](Self::{set}) takes an `Option` (`None` leaves it out).",
            setter.what
        );
    } else {
        let _ = writeln!(out, "- {}, optional (empty when not set).", setter.what);
    }
    // Bounds may sit on the property itself or on a primitive schema it refers to.
    let primitive = target.get("properties").is_none();
    let sources: Vec<&Value> = if primitive && target_name.is_some() { vec![schema, target] } else { vec![schema] };
    let num = |key: &str| sources.iter().find_map(|s| s.get(key)).map(value_text);
    bound_line(&mut out, "Length", num("minLength"), num("maxLength"), "characters");
    bound_line(&mut out, "Range", num("minimum"), num("maximum"), "");
    bound_line(&mut out, "Items", num("minItems"), num("maxItems"), "");
    if let Some(pattern) = num("pattern") {
        let _ = writeln!(out, "- Pattern: `{pattern}`.");
    }
    enum_lines(&mut out, spec, schema, target_name, target);
    if let (Some(object), false) = (target_name, primitive) {
        let _ = writeln!(
            out,
            "- A [`{object}`](crate::types::{object}) or its builder ([`{object}::builder()`](crate::types::{object}::builder))."
        );
    }
    if let Some(items) = schema.get("items")
        && let Some(item) = ref_target(items)
        && resolve(spec.doc, items).get("properties").is_some()
    {
        let _ = writeln!(out, "- Each item is a [`{item}`](crate::types::{item}).");
    }
    let default = sources.iter().find_map(|s| s.get("default"));
    if let Some(default) = default {
        let _ = writeln!(out, "- Default: `{}`.", value_text(default));
    }
    let example = holder.get("example").or_else(|| sources.iter().find_map(|s| s.get("example")));
    if let Some(example) = example {
        let _ = writeln!(out, "- Example: `{}`.", value_text(example).replace('`', "'"));
    }
    out.trim_end().to_owned()
}

fn bound_line(out: &mut String, label: &str, min: Option<String>, max: Option<String>, unit: &str) {
    let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
    let text = match (min, max) {
        (Some(min), Some(max)) => format!("{min} to {max}{unit}"),
        (Some(min), None) => format!("at least {min}{unit}"),
        (None, Some(max)) => format!("at most {max}{unit}"),
        (None, None) => return,
    };
    let _ = writeln!(out, "- {label}: {text}.");
}

/// The enum values a field takes: of the schema it refers to, or of its items.
fn enum_lines(out: &mut String, spec: &Spec<'_>, schema: &Value, name: Option<&str>, target: &Value) {
    let (name, target, each) = if target.get("enum").is_some() {
        (name, target, "")
    } else if let Some(items) = schema.get("items").or_else(|| target.get("items"))
        && resolve(spec.doc, items).get("enum").is_some()
    {
        (ref_target(items), resolve(spec.doc, items), " (each item)")
    } else {
        return;
    };
    let values = target.get("enum").and_then(Value::as_sequence).cloned().unwrap_or_default();
    let list = |key: &str| -> Vec<String> {
        target
            .get(key)
            .and_then(Value::as_sequence)
            .map(|s| s.iter().map(|v| v.as_str().unwrap_or_default().trim().to_owned()).collect())
            .unwrap_or_default()
    };
    let (variants, descriptions) = (list("x-enum-varnames"), list("x-enum-descriptions"));
    match name {
        Some(name) => {
            let _ = writeln!(out, "- Values{each}: a [`{name}`](crate::types::{name}) or its wire value:");
        }
        None => {
            let _ = writeln!(out, "- Values{each}:");
        }
    }
    for (i, value) in values.iter().enumerate() {
        let mut line = format!("  - `{}`", value_text(value));
        if let (Some(name), Some(variant)) = (name, variants.get(i)) {
            let _ = write!(line, " ([`{variant}`](crate::types::{name}::{variant}))");
        }
        if let Some(description) = descriptions.get(i).filter(|d| !d.is_empty()) {
            let _ = write!(line, ": {description}");
        }
        let _ = writeln!(out, "{line}");
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// progenitor's example on each `Client` method ends with `.send()`: show `.data()` instead.
fn rewrite_client_examples(block: &mut syn::ItemImpl) {
    for member in &mut block.items {
        let syn::ImplItem::Fn(method) = member else { continue };
        for attr in &mut method.attrs {
            let syn::Meta::NameValue(meta) = &mut attr.meta else { continue };
            let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }) = &meta.value else { continue };
            let value = text.value();
            if !value.contains(".send()") {
                continue;
            }
            let value = value
                .replace("let response = ", "let data = ")
                .replace("    .send()\n    .await;", "    .data()\n    .await?;");
            meta.value = syn::parse_quote!(#value);
        }
    }
}
