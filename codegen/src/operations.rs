//! What progenitor lacks per operation: a `.data()` call that unwraps the Feishu envelope into
//! `data` or a typed error, and a table of operation facts (method, path, retry safety,
//! pagination, rate limit, token types) for the runtime.

use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::OperationModel;

/// The Rust source of `vc-api/src/generated/operations.rs`: the operation table.
pub fn generate(operations: &[OperationModel]) -> TokenStream {
    let consts = operations.iter().map(operation_const);
    let all = operations.iter().map(|op| format_ident!("{}", op.id.to_uppercase()));
    quote! {
        //! The operation table: facts about every operation, for the runtime.
        use crate::operation::{Operation, TokenType};

        #(#consts)*

        /// Every operation of the spec, in spec order.
        pub const ALL: &[&Operation] = &[#(&#all),*];
    }
}

/// `.data()` and `.data_with()` for every operation's builder. These items are placed inside
/// progenitor's `builder` module, where they can reach the builder's client.
pub fn data_impls(operations: &[OperationModel]) -> Vec<syn::Item> {
    operations.iter().map(|op| syn::parse2(data_impl(op)).expect("data impl is a valid item")).collect()
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
         when no access token can be had, when the transport fails, when the API answers with \
         a non-zero `code` (whatever the HTTP status), or when the response cannot be decoded. \
         Retries follow the client's retry policy.",
        op.id
    );
    let doc_with = format!(
        "Like [`data`](Self::data), with per-call options (an explicit access token, a tenant key) for `{}`.",
        op.id
    );
    quote! {
        impl #builder<'_> {
            #[doc = #doc]
            pub async fn data(self) -> Result<#data, crate::Error> {
                self.data_with(crate::CallOptions::default()).await
            }

            #[doc = #doc_with]
            pub async fn data_with(self, options: crate::CallOptions) -> Result<#data, crate::Error> {
                let client = self.client;
                crate::call::execute(client, &crate::generated::operations::#constant, options, self, |builder| builder.send()).await
            }
        }
    }
}
