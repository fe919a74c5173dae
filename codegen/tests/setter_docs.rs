//! The committed client as a user meets it, checked against the spec: every path and query
//! parameter of every operation and every field of every request body (and of the schemas
//! request bodies use) has a public setter documented with its description, optional ones a
//! `set_*` beside them; progenitor's raw `send` and the builders' constructors are not public;
//! generated structs are `#[non_exhaustive]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn spec() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(root().join(codegen::paths::BUNDLED_SPEC)).unwrap()).unwrap()
}

fn client() -> syn::File {
    syn::parse_file(&std::fs::read_to_string(root().join(codegen::paths::CLIENT)).unwrap()).unwrap()
}

fn module<'a>(items: &'a [syn::Item], name: &str) -> &'a [syn::Item] {
    items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == name => m.content.as_ref().map(|(_, items)| items.as_slice()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no module {name}"))
}

/// A public method as a user sees it: its doc text (whitespace collapsed).
struct Method {
    public: bool,
    doc: String,
}

/// Methods of the inherent impls of each type among `items`.
fn methods(items: &[syn::Item]) -> BTreeMap<String, BTreeMap<String, Method>> {
    let mut out: BTreeMap<String, BTreeMap<String, Method>> = BTreeMap::new();
    for item in items {
        let syn::Item::Impl(block) = item else { continue };
        if block.trait_.is_some() {
            continue;
        }
        let syn::Type::Path(path) = &*block.self_ty else { continue };
        let name = path.path.segments.last().unwrap().ident.to_string();
        for member in &block.items {
            let syn::ImplItem::Fn(f) = member else { continue };
            let doc = f
                .attrs
                .iter()
                .filter_map(|a| match &a.meta {
                    syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n");
            let public = matches!(f.vis, syn::Visibility::Public(_));
            out.entry(name.clone())
                .or_default()
                .insert(f.sig.ident.to_string(), Method { public, doc: collapse(&doc) });
        }
    }
    out
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => r.trim_start_matches("#/").split('/').fold(spec, |v, k| &v[k]),
        None => value,
    }
}

fn ref_name(value: &Value) -> Option<String> {
    value.get("$ref")?.as_str()?.rsplit('/').next().map(str::to_owned)
}

/// Checks one setter; returns a problem or nothing.
fn check_setter(
    setters: Option<&BTreeMap<String, Method>>,
    owner: &str,
    name: &str,
    description: Option<String>,
    optional: bool,
) -> Option<String> {
    let method = name.to_snake_case();
    let Some(setter) = setters.and_then(|s| s.get(&method).or_else(|| s.get(&format!("{method}_")))) else {
        return Some(format!("{owner}: no setter `{method}`"));
    };
    if !setter.public {
        return Some(format!("{owner}: setter `{method}` is not public"));
    }
    match description {
        Some(d) if !setter.doc.contains(&collapse(&d)) => {
            return Some(format!("{owner}.{method}: doc lacks the description {d:?}"));
        }
        None if setter.doc.is_empty() => return Some(format!("{owner}.{method}: undocumented")),
        _ => {}
    }
    if optional
        && !setters.is_some_and(|s| s.get(&format!("set_{}", method.trim_end_matches('_'))).is_some_and(|m| m.public))
    {
        return Some(format!("{owner}: optional `{method}` has no public `set_{method}`"));
    }
    None
}

#[test]
fn every_parameter_and_body_field_has_a_documented_setter() {
    let spec = spec();
    let client = client();
    let request_builders = methods(module(&client.items, "builder"));
    let body_builders = methods(module(module(&client.items, "types"), "builder"));
    let mut problems = Vec::new();
    let (mut parameters, mut body_schemas) = (0, BTreeSet::new());
    for (_, item) in spec["paths"].as_mapping().unwrap() {
        let shared = item.get("parameters").and_then(Value::as_sequence).cloned().unwrap_or_default();
        for (method, op) in item.as_mapping().unwrap() {
            if method.as_str() == Some("parameters") {
                continue;
            }
            let id = op["operationId"].as_str().unwrap();
            let builder = id.to_upper_camel_case();
            let own = op.get("parameters").and_then(Value::as_sequence).cloned().unwrap_or_default();
            for param in shared.iter().chain(&own) {
                let param = resolve(&spec, param);
                let name = param["name"].as_str().unwrap();
                parameters += 1;
                let description = param.get("description").and_then(Value::as_str).map(str::to_owned);
                let optional = !param.get("required").and_then(Value::as_bool).unwrap_or(false);
                problems.extend(check_setter(request_builders.get(&builder), &builder, name, description, optional));
            }
            if let Some(schema) = op.get("requestBody").map(|b| &b["content"]["application/json"]["schema"]) {
                body_schemas.insert(ref_name(schema).expect("request bodies are $refs"));
            }
        }
    }
    // The schemas a request body uses, through fields and array items.
    let mut pending: Vec<String> = body_schemas.iter().cloned().collect();
    let mut input = BTreeSet::new();
    while let Some(name) = pending.pop() {
        let schema = &spec["components"]["schemas"][name.as_str()];
        if schema.get("properties").is_none() || !input.insert(name) {
            continue;
        }
        for (_, property) in schema["properties"].as_mapping().unwrap() {
            for candidate in [Some(property), property.get("items")].into_iter().flatten() {
                pending.extend(ref_name(candidate));
            }
        }
    }
    let mut fields = 0;
    for name in &input {
        let schema = &spec["components"]["schemas"][name.as_str()];
        let required = codegen::model::required_fields(schema);
        for (field, property) in schema["properties"].as_mapping().unwrap() {
            let field = field.as_str().unwrap();
            fields += 1;
            let description = property
                .get("description")
                .or_else(|| resolve(&spec, property).get("description"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            // Arrays default to empty and fields with a `default` hold it, rather than being
            // optional: no `set_*` for them.
            let target = resolve(&spec, property);
            let optional = !required.contains(&field)
                && target.get("type").and_then(Value::as_str) != Some("array")
                && property.get("default").or_else(|| target.get("default")).is_none();
            problems.extend(check_setter(body_builders.get(name), name, field, description, optional));
        }
    }
    eprintln!(
        "{parameters} parameters of {} operations, {fields} fields of {} schemas reached from {} request bodies: \
         each has a documented setter",
        request_builders.len(),
        input.len(),
        body_schemas.len()
    );
    assert!(problems.is_empty(), "{} setter problem(s):\n{}", problems.len(), problems.join("\n"));
    assert!(parameters > 100 && fields > 100, "the spec has {parameters} parameters and {fields} body fields");
}

#[test]
fn setter_docs_carry_range_enum_values_and_example() {
    let client = client();
    let builders = methods(module(&client.items, "builder"));
    let page_size = &builders["RoomList"]["page_size"].doc;
    assert!(page_size.contains("Range:") && page_size.contains("Example: `10`"), "{page_size}");
    let user_id_type = &builders["RoomList"]["user_id_type"].doc;
    for value in ["`open_id`", "`union_id`", "`user_id`", "Default: `open_id`"] {
        assert!(user_id_type.contains(value), "{user_id_type}");
    }
    let bodies = methods(module(module(&client.items, "types"), "builder"));
    let name = &bodies["RoomCreateRequest"]["name"].doc;
    assert!(
        name.contains("Display name of the room.") && name.contains("required") && name.contains("Example:"),
        "{name}"
    );
}

#[test]
fn progenitor_send_and_builder_constructors_are_not_public() {
    let client = client();
    let builders = methods(module(&client.items, "builder"));
    let mut with_data = 0;
    for (name, methods) in &builders {
        for hidden in ["send", "new"] {
            if let Some(m) = methods.get(hidden) {
                assert!(!m.public, "{name}::{hidden} is public");
            }
        }
        if methods.get("data").is_some_and(|m| m.public) && methods.get("data_with").is_some_and(|m| m.public) {
            with_data += 1;
        }
    }
    let operations = spec()["paths"]
        .as_mapping()
        .unwrap()
        .iter()
        .flat_map(|(_, item)| item.as_mapping().unwrap().keys().filter(|k| k.as_str() != Some("parameters")))
        .count();
    assert_eq!(with_data, operations, "every operation's builder sends through data() and data_with()");
}

#[test]
fn generated_structs_with_fields_are_non_exhaustive() {
    let client = client();
    let mut count = 0;
    for item in module(&client.items, "types") {
        if let syn::Item::Struct(s) = item
            && matches!(s.fields, syn::Fields::Named(_))
        {
            count += 1;
            assert!(s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")), "{} is exhaustive", s.ident);
        }
    }
    assert!(count > 100, "{count} structs");
}
