//! The one place where progenitor is configured.

use progenitor_impl::{GenerationSettings, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;

use crate::enums::{EnumKind, EnumModel};

/// Path prefix under which generated code names the runtime's types. The external crate path
/// works inside vc-api too (`extern crate self as vc_api`) and in code generated for other
/// crates, such as mocks.
pub const RUNTIME: &str = "::vc_api";

/// progenitor settings: builder interface with merged tags, our runtime state as the client's
/// inner type, hooks required from the runtime, open enums and the generic envelope swapped in.
pub fn generation_settings(enums: &[EnumModel], envelopes: &[(String, Option<String>)]) -> GenerationSettings {
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_inner_type(quote!(crate::ClientState))
        .with_hooks(HooksMode::Expected)
        .with_derive("PartialEq");
    for model in enums {
        let impls = match model.kind {
            EnumKind::Integer => vec![TypeImpl::Display],
            EnumKind::String => vec![TypeImpl::Display, TypeImpl::FromStr, TypeImpl::FromStringIrrefutable],
        };
        settings.with_replacement(&model.name, format!("{RUNTIME}::types::{}", model.name), impls.into_iter());
    }
    for (envelope, data) in envelopes {
        let data = match data {
            Some(data) => format!("{RUNTIME}::types::{data}"),
            None => "::serde_json::Value".to_owned(),
        };
        settings.with_replacement(envelope, format!("{RUNTIME}::Envelope<{data}>"), std::iter::empty());
    }
    settings
}
