//! Turns the VC v1 OpenAPI spec (`spec/src/*.yaml`) into the committed outputs: the bundled
//! `spec/openapi.yaml` and the Rust sources under `vc-api/src/generated/`, plus the crates' own
//! copies of shared files ([`copies`]: `vc-spec/openapi.yaml`, `vc-api/README.md`), which are
//! real files rather than symbolic links so that a checkout without symlink support still builds.
//!
//! Flow: [`bundle`] merges the sources, [`lint`] checks the conventions, progenitor generates the
//! client from an adapted view of the spec, and our own generators ([`enums`], [`operations`], [`events`], [`mocks`])
//! add what progenitor lacks; [`builders`] finishes progenitor's and typify's builders (one public
//! way to send, documented setters, plain optional setters, `#[non_exhaustive]` types); [`events`] types the webhook events. Output is deterministic: the same spec always gives the same bytes.
//!
//! [`docs_drift`] compares doc page snapshots (`spec/docs/`) with the spec (`cargo xtask docs-drift`).

pub mod builders;
pub mod bundle;
pub mod docs_drift;
pub mod enums;
pub mod error;
pub mod events;
pub mod files;
pub mod lint;
pub mod mocks;
pub mod model;
pub mod operations;
pub mod progenitor_view;
pub mod ranges;
pub mod render;
pub mod send;
pub mod settings;

use std::path::Path;

pub use error::{CodegenError, Result};
pub use files::{GeneratedFile, Mode};

/// Output paths, relative to the workspace root.
pub mod paths {
    /// The spec sources.
    pub const SPEC_SOURCES: &str = "spec/src";
    /// The bundled spec.
    pub const BUNDLED_SPEC: &str = "spec/openapi.yaml";
    /// progenitor's client (types, builders).
    pub const CLIENT: &str = "vc-api/src/generated/client.rs";
    /// Open enums.
    pub const ENUMS: &str = "vc-api/src/generated/enums.rs";
    /// `.data()` calls and the operation table.
    pub const OPERATIONS: &str = "vc-api/src/generated/operations.rs";
    /// The typed `Event` enum.
    pub const EVENTS: &str = "vc-api/src/generated/events.rs";
    /// Typed mocks (feature `mock`).
    pub const MOCKS: &str = "vc-api/src/generated/mocks.rs";
    /// vc-spec's copy of the bundled spec (compiled in with `include_str!` and packaged with
    /// the crate).
    pub const SPEC_COPY: &str = "vc-spec/openapi.yaml";
    /// The repository's README, the hand-written original of [`README_COPY`].
    pub const README: &str = "README.md";
    /// vc-api's copy of the README (its crate documentation and its crates.io page).
    pub const README_COPY: &str = "vc-api/README.md";
}

/// Generates every output file from the spec sources under `root` (the workspace root), and the
/// [`copies`] of the bundled spec and of the README.
pub fn generate_workspace(root: &Path) -> Result<Vec<GeneratedFile>> {
    let doc = bundle::bundle_dir(&root.join(paths::SPEC_SOURCES))?;
    let mut files = generate(&doc)?;
    let readme_path = root.join(paths::README);
    let readme =
        std::fs::read_to_string(&readme_path).map_err(|source| CodegenError::Io { path: readme_path, source })?;
    files.extend(copies(&files, &readme));
    Ok(files)
}

/// The crates' byte-identical copies of shared files: vc-spec's `openapi.yaml` (of the bundled
/// spec among `generated`) and vc-api's `README.md` (of the repository's `readme`). A crate can
/// only compile in and package files inside its own directory; copies instead of symbolic links
/// keep a Windows checkout without symlink support working.
pub fn copies(generated: &[GeneratedFile], readme: &str) -> Vec<GeneratedFile> {
    let spec = generated.iter().find(|f| f.path == paths::BUNDLED_SPEC).map(|f| f.contents.clone());
    spec.map(|contents| GeneratedFile { path: paths::SPEC_COPY.into(), contents })
        .into_iter()
        .chain([GeneratedFile { path: paths::README_COPY.into(), contents: readme.to_owned() }])
        .collect()
}

/// Generates every output file from a bundled spec document.
pub fn generate(doc: &serde_yaml::Value) -> Result<Vec<GeneratedFile>> {
    let api = model::parse(doc)?;
    lint::check(doc, &api)?;
    let operations = model::operations(&api)?;
    let enums = enums::enum_models(doc)?;
    let events = events::event_models(doc)?;
    let client = generate_client(doc, &api, &enums)?;
    let client = builders::refine(client, doc)?;
    let client = add_to_builder_module(client, operations::data_impls(&operations))?;
    let client = hide_constructors(client)?;
    Ok(vec![
        GeneratedFile { path: paths::BUNDLED_SPEC.into(), contents: bundle::render(doc) },
        GeneratedFile {
            path: paths::CLIENT.into(),
            // progenitor documents each method with an `ignore` code block; as plain text it
            // still reads the same but no longer shows up as an ignored doctest.
            contents: render::rust_file(paths::CLIENT, client)?.replace("```ignore", "```text"),
        },
        GeneratedFile {
            path: paths::ENUMS.into(),
            contents: render::rust_file(paths::ENUMS, enums::generate(&enums))?,
        },
        GeneratedFile {
            path: paths::OPERATIONS.into(),
            contents: render::rust_file(paths::OPERATIONS, operations::generate(&operations))?,
        },
        GeneratedFile {
            path: paths::EVENTS.into(),
            contents: render::rust_file(paths::EVENTS, events::generate(&events))?,
        },
        GeneratedFile {
            path: paths::MOCKS.into(),
            contents: render::rust_file(paths::MOCKS, mocks::generate(&api, &operations, &enums))?,
        },
    ])
}

/// Runs progenitor on the adapted view of the spec. A progenitor error or panic becomes a
/// [`CodegenError::Progenitor`] naming the first operation that fails on its own.
pub fn generate_client(
    doc: &serde_yaml::Value,
    api: &openapiv3::OpenAPI,
    enums: &[enums::EnumModel],
) -> Result<proc_macro2::TokenStream> {
    let view = progenitor_view::progenitor_view(doc);
    let view_api = model::parse(&view)?;
    let envelopes: Vec<(String, Option<String>)> = model::operations(api)?
        .into_iter()
        .zip(all_operations(&view_api))
        .filter_map(|(op, raw)| model::envelope_schema(raw).map(|env| (env, op.data_schema)))
        .collect();
    let settings = settings::generation_settings(enums, &envelopes);
    match run_progenitor(&settings, &view_api) {
        Ok(tokens) => Ok(tokens),
        Err(message) => Err(CodegenError::Progenitor { operation: failing_operation(&settings, &view_api), message }),
    }
}

/// Appends `items` to progenitor's `pub mod builder`, where they may use the builders' private
/// fields.
fn add_to_builder_module(client: proc_macro2::TokenStream, items: Vec<syn::Item>) -> Result<proc_macro2::TokenStream> {
    let mut file: syn::File = syn::parse2(client)
        .map_err(|e| CodegenError::Syntax { file: paths::CLIENT.to_owned(), message: e.to_string() })?;
    let builder = file.items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(module) if module.ident == "builder" => module.content.as_mut(),
        _ => None,
    });
    let Some((_, content)) = builder else {
        return Err(CodegenError::Syntax {
            file: paths::CLIENT.to_owned(),
            message: "progenitor's output has no `builder` module".to_owned(),
        });
    };
    content.extend(items);
    Ok(quote::quote!(#file))
}

/// Replaces progenitor's public `Client::new` / `Client::new_with_client` (which skip the
/// runtime's setup, and `new` unwraps) by one crate-private `Client::from_parts`: the only
/// public way to a client is `ClientBuilder`.
fn hide_constructors(client: proc_macro2::TokenStream) -> Result<proc_macro2::TokenStream> {
    let mut file: syn::File = syn::parse2(client)
        .map_err(|e| CodegenError::Syntax { file: paths::CLIENT.to_owned(), message: e.to_string() })?;
    let constructors = file.items.iter_mut().find_map(|item| match item {
        syn::Item::Impl(block)
            if block.trait_.is_none()
                && block
                    .items
                    .iter()
                    .any(|i| matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "new_with_client")) =>
        {
            Some(block)
        }
        _ => None,
    });
    let Some(block) = constructors else {
        return Err(CodegenError::Syntax {
            file: paths::CLIENT.to_owned(),
            message: "progenitor's output has no `Client::new_with_client`".to_owned(),
        });
    };
    block.items = vec![syn::parse_quote! {
        /// A client from its parts; `ClientBuilder::build` is the only caller.
        pub(crate) fn from_parts(baseurl: &str, client: reqwest::Client, inner: crate::ClientState) -> Self {
            Self { baseurl: baseurl.to_string(), client, inner }
        }
    }];
    Ok(quote::quote!(#file))
}

fn all_operations(api: &openapiv3::OpenAPI) -> Vec<&openapiv3::Operation> {
    api.paths.iter().filter_map(|(_, item)| item.as_item()).flat_map(|item| item.iter().map(|(_, op)| op)).collect()
}

fn run_progenitor(
    settings: &progenitor_impl::GenerationSettings,
    api: &openapiv3::OpenAPI,
) -> std::result::Result<proc_macro2::TokenStream, String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        progenitor_impl::Generator::new(settings).generate_tokens(api)
    }));
    match outcome {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panic without a message".to_owned())),
    }
}

/// Re-runs progenitor with one operation at a time to single out the one that fails.
fn failing_operation(settings: &progenitor_impl::GenerationSettings, api: &openapiv3::OpenAPI) -> Option<String> {
    for (path, item) in api.paths.iter() {
        let item = item.as_item()?;
        for (method, op) in item.iter() {
            let mut single_item = openapiv3::PathItem { parameters: item.parameters.clone(), ..Default::default() };
            match method {
                "get" => single_item.get = Some(op.clone()),
                "put" => single_item.put = Some(op.clone()),
                "post" => single_item.post = Some(op.clone()),
                "delete" => single_item.delete = Some(op.clone()),
                "patch" => single_item.patch = Some(op.clone()),
                "head" => single_item.head = Some(op.clone()),
                "options" => single_item.options = Some(op.clone()),
                _ => single_item.trace = Some(op.clone()),
            }
            let mut single = api.clone();
            single.paths.paths.clear();
            single.paths.paths.insert(path.clone(), openapiv3::ReferenceOr::Item(single_item));
            if run_progenitor(settings, &single).is_err() {
                return Some(op.operation_id.clone().unwrap_or_else(|| format!("{} {path}", method.to_uppercase())));
            }
        }
    }
    None
}
