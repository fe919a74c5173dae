//! What progenitor lacks per operation: a `.data()` call that unwraps the Feishu envelope into
//! `data` or a typed error, and a table of operation facts (method, path, retry safety,
//! pagination, rate limit, token types) for the runtime.

use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::OperationModel;

/// The Rust source of `vc-api/src/generated/operations.rs`.
pub fn generate(operations: &[OperationModel]) -> TokenStream {
    let data_impls = operations.iter().map(data_impl);
    let consts = operations.iter().map(operation_const);
    let all = operations.iter().map(|op| format_ident!("{}", op.id.to_uppercase()));
    quote! {
        //! Per-operation glue: `.data()` on every request builder, and the operation table.
        use crate::generated::client::builder;
        use crate::generated::client::types;
        use crate::operation::{Operation, TokenType};

        #(#consts)*

        /// Every operation of the spec, in spec order.
        pub const ALL: &[&Operation] = &[#(&#all),*];

        #(#data_impls)*
    }
}

fn operation_const(op: &OperationModel) -> TokenStream {
    let ident = format_ident!("{}", op.id.to_uppercase());
    let doc = format!("`{} {}`: {}", op.method, op.path, op.summary);
    let (id, method, path, tag) = (&op.id, &op.method, &op.path, &op.tag);
    let read_only = op.read_only;
    let items = match &op.pagination_items {
        Some(items) => quote!(Some(#items)),
        None => quote!(None),
    };
    let rate_limit = match op.rate_limit {
        Some((requests, window)) => quote!(Some((#requests, #window))),
        None => quote!(None),
    };
    let tokens = op.token_types.iter().filter_map(|t| match t.as_str() {
        "tenant_access_token" => Some(quote!(TokenType::Tenant)),
        "user_access_token" => Some(quote!(TokenType::User)),
        "app_access_token" => Some(quote!(TokenType::App)),
        _ => None,
    });
    quote! {
        #[doc = #doc]
        pub const #ident: Operation = Operation {
            id: #id,
            method: #method,
            path: #path,
            tag: #tag,
            read_only: #read_only,
            pagination_items: #items,
            rate_limit: #rate_limit,
            token_types: &[#(#tokens),*],
        };
    }
}

fn data_impl(op: &OperationModel) -> TokenStream {
    let builder = format_ident!("{}", op.id.to_upper_camel_case());
    let constant = format_ident!("{}", op.id.to_uppercase());
    let data = match &op.data_schema {
        Some(name) => {
            let ident = format_ident!("{}", name);
            quote!(types::#ident)
        }
        None => quote!(::serde_json::Value),
    };
    let doc = format!(
        "Sends `{}` and returns the response's `data`.\n\n\
         Fails with [`crate::Error`] when the request is invalid (before anything is sent), \
         when the transport fails, when the API answers with a non-zero `code` \
         (whatever the HTTP status), or when the response cannot be decoded.",
        op.id
    );
    quote! {
        impl builder::#builder<'_> {
            #[doc = #doc]
            pub async fn data(self) -> Result<#data, crate::Error> {
                crate::response::envelope_data(&#constant, self.send().await).await
            }
        }
    }
}
