//! What progenitor lacks per operation: a `.data()` call that unwraps the Feishu envelope into
//! `data` or a typed error, and a table of operation facts (method, path, retry safety,
//! pagination, rate limit, token types) for the runtime.

use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{OperationModel, PaginationModel, TokenLocation};

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

/// `.data()` and `.data_with()` for every operation's builder, and `.pages()` / `.stream()` for
/// paginated ones. These items are placed inside progenitor's `builder` module, where they can
/// reach the builder's client.
pub fn data_impls(operations: &[OperationModel]) -> Vec<syn::Item> {
    let tokens = operations.iter().map(|op| {
        let pages = op.pagination.as_ref().map(|p| pagination_impl(op, p));
        (data_impl(op), meta_impl(op), pages)
    });
    let mut items = Vec::new();
    for (data, meta, pages) in tokens {
        let file: syn::File = syn::parse2(quote!(#data #meta #pages)).expect("generated impls are valid items");
        items.extend(file.items);
    }
    items
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
    let rate_limits = op.rate_limits.iter().map(|(requests, window)| quote!((#requests, #window)));
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
            rate_limits: &[#(#rate_limits),*],
            token_types: &[#(#tokens),*],
        };
    }
}

/// `.pages()` and `.stream()` on a paginated operation's builder, with the trait impls they use.
fn pagination_impl(op: &OperationModel, pagination: &PaginationModel) -> TokenStream {
    let builder = format_ident!("{}", op.id.to_upper_camel_case());
    let constant = format_ident!("{}", op.id.to_uppercase());
    let data = format_ident!("{}", op.data_schema.as_deref().unwrap_or_default());
    let item = format_ident!("{}", pagination.item_schema);
    let items = field_ident(&pagination.items);
    let with_token = match pagination.token_in {
        TokenLocation::Query => quote!(self.page_token(token)),
        TokenLocation::Body => quote!(self.body_map(|body| body.page_token(token))),
    };
    let pages_doc = format!(
        "Every page of `{}`, starting at this request's `page_token` (the first page if none), \
         one request per page as the stream is polled. Stops after the page with `has_more` false; \
         ends with [`crate::Error::Pagination`] if the server repeats a `page_token`.",
        op.id
    );
    let stream_doc = format!(
        "Every item (`{}`) of every page of `{}`, holding one page in memory at a time. \
         See [`pages`](Self::pages) for how pagination ends.",
        pagination.items, op.id
    );
    quote! {
        impl crate::pagination::Page for types::#data {
            type Item = types::#item;
            fn has_more(&self) -> bool {
                self.has_more.unwrap_or(false)
            }
            fn next_page_token(&self) -> Option<&str> {
                self.page_token.as_deref()
            }
            fn items(&self) -> &[types::#item] {
                &self.#items
            }
            fn into_items(self) -> Vec<types::#item> {
                self.#items
            }
        }

        impl crate::pagination::PageRequest for #builder<'_> {
            type Page = types::#data;
            const OPERATION: &'static crate::Operation = &crate::generated::operations::#constant;
            fn with_page_token(self, token: String) -> Self {
                #with_token
            }
            fn fetch(self, options: crate::CallOptions) -> impl ::std::future::Future<Output = Result<types::#data, crate::Error>> + Send {
                self.data_with(options)
            }
        }

        impl<'a> #builder<'a> {
            #[doc = #pages_doc]
            pub fn pages(self) -> impl ::futures_core::Stream<Item = Result<types::#data, crate::Error>> + Send + 'a {
                crate::pagination::pages(self, crate::CallOptions::default())
            }

            /// Like [`pages`](Self::pages), with per-call options applied to every page.
            pub fn pages_with(self, options: crate::CallOptions) -> impl ::futures_core::Stream<Item = Result<types::#data, crate::Error>> + Send + 'a {
                crate::pagination::pages(self, options)
            }

            #[doc = #stream_doc]
            pub fn stream(self) -> impl ::futures_core::Stream<Item = Result<types::#item, crate::Error>> + Send + 'a {
                crate::pagination::items(self, crate::CallOptions::default())
            }

            /// Like [`stream`](Self::stream), with per-call options applied to every page.
            pub fn stream_with(self, options: crate::CallOptions) -> impl ::futures_core::Stream<Item = Result<types::#item, crate::Error>> + Send + 'a {
                crate::pagination::items(self, options)
            }
        }
    }
}

/// A field name as progenitor spells it in Rust (keywords get a trailing `_`).
pub(crate) fn field_ident(name: &str) -> proc_macro2::Ident {
    match syn::parse_str::<syn::Ident>(name) {
        Ok(ident) => ident,
        Err(_) => format_ident!("{}_", name),
    }
}

/// `.data_with_meta()`: the data with the answer's HTTP status and log id.
fn meta_impl(op: &OperationModel) -> TokenStream {
    let builder = format_ident!("{}", op.id.to_upper_camel_case());
    let constant = format_ident!("{}", op.id.to_uppercase());
    let data = data_type(op);
    let doc = format!(
        "Like [`data_with`](Self::data_with), also returning the HTTP status and the log id \
         (`X-Tt-Logid`) of the answer that carried the data of `{}`.",
        op.id
    );
    let answer = answer_type(op);
    let range_checks = crate::ranges::checks(&op.ranges, &quote!(&crate::generated::operations::#constant));
    quote! {
        impl #builder<'_> {
            #[doc = #doc]
            pub fn data_with_meta(self, options: crate::CallOptions) -> impl ::std::future::Future<Output = Result<crate::Response<#data>, crate::Error>> + Send {
                let checked = #range_checks;
                crate::call::execute_with_meta::<_, #answer, _>(self.client, &crate::generated::operations::#constant, options, self, checked, Self::request)
            }
        }
    }
}

/// How the runtime reads the answer of `op`: a JSON envelope around `data`, or a file.
fn answer_type(op: &OperationModel) -> TokenStream {
    if op.file_download {
        quote!(crate::response::File)
    } else {
        let data = data_type(op);
        quote!(crate::response::Json<#data>)
    }
}

/// The type `.data()` returns for `op`.
fn data_type(op: &OperationModel) -> TokenStream {
    match &op.data_schema {
        _ if op.file_download => quote!(crate::Download),
        Some(name) => {
            let ident = format_ident!("{}", name);
            quote!(types::#ident)
        }
        None => quote!(::serde_json::Value),
    }
}

fn data_impl(op: &OperationModel) -> TokenStream {
    let builder = format_ident!("{}", op.id.to_upper_camel_case());
    let constant = format_ident!("{}", op.id.to_uppercase());
    let data = data_type(op);
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
    let range_checks = crate::ranges::checks(&op.ranges, &quote!(&crate::generated::operations::#constant));
    let answer = answer_type(op);
    // Plain functions returning the runtime's future, not `async fn`s around it: every async
    // layer would move the whole call's state once more per call.
    quote! {
        impl #builder<'_> {
            #[doc = #doc]
            pub fn data(self) -> impl ::std::future::Future<Output = Result<#data, crate::Error>> + Send {
                self.data_with(crate::CallOptions::default())
            }

            #[doc = #doc_with]
            pub fn data_with(self, options: crate::CallOptions) -> impl ::std::future::Future<Output = Result<#data, crate::Error>> + Send {
                let checked = #range_checks;
                crate::call::execute::<_, #answer, _>(self.client, &crate::generated::operations::#constant, options, self, checked, Self::request)
            }
        }
    }
}
