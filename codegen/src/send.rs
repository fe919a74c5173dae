//! progenitor's `send()` of each request builder, cut down to the part the runtime needs: a
//! synchronous `request(&self)` that checks the parameters and builds the `reqwest::Request`.
//! Sending it (rate limit, access token, the HTTP exchange, reading the answer) is the runtime's
//! (`vc-api/src/call.rs`), once per attempt; building from `&self` means the builder is never
//! cloned for an attempt, only the request body's builder when there is one.
//!
//! Also dropped on the way: the `api-version` header progenitor adds from the spec's
//! `info.version` (the Feishu API has no such header), and progenitor's path encoding is
//! replaced by the runtime's, which neither copies the value nor allocates when it needs no
//! escaping.
//!
//! The rewrite checks the shape it expects (a `200` answer, progenitor's hooks, one `build()`)
//! and fails the generation otherwise, so a progenitor upgrade that changes `send()` is noticed.

use quote::ToTokens;

use crate::error::{CodegenError, Result};

/// Replaces `method` (progenitor's `send`) with `request`; `operation` names it in errors.
pub fn into_request(method: &mut syn::ImplItemFn, operation: &str) -> Result<()> {
    let fail = |message: &str| CodegenError::Syntax {
        file: crate::paths::CLIENT.to_owned(),
        message: format!("send() of `{operation}`: {message}"),
    };
    let stmts = std::mem::take(&mut method.block.stmts);
    let rest_text: String = stmts.iter().map(|s| s.to_token_stream().to_string()).collect::<Vec<_>>().join("\n");
    for expected in
        ["client . pre (", "client . exec (", "client . post (", "200u16 =>", "_ => Err (Error :: UnexpectedResponse"]
    {
        if !rest_text.contains(expected) {
            return Err(fail(&format!("expected `{expected}` in progenitor's output")));
        }
    }
    if rest_text.matches("u16 =>").count() != 1 {
        return Err(fail("expected exactly one status code (200) in progenitor's output"));
    }
    let mut kept = Vec::new();
    let mut built = false;
    for mut stmt in stmts {
        let text = stmt.to_token_stream().to_string();
        if text.contains("header_map") {
            // Only the `api-version` header goes into progenitor's header map here.
            if text.contains("HeaderMap :: with_capacity") || text.contains("\"api-version\"") {
                continue;
            }
            if !text.contains(". headers (header_map)") {
                return Err(fail("a header other than `api-version` in progenitor's header map"));
            }
        }
        let last = text.contains(". build () ?");
        if let syn::Stmt::Local(local) = &mut stmt {
            borrow_parameter(local);
            use_runtime_path_encoding(local);
            if last {
                drop_header_map(local);
            }
        }
        if last {
            kept.push(stmt);
            built = true;
            break;
        }
        kept.push(stmt);
    }
    if !built {
        return Err(fail("no `.build()?` in progenitor's output"));
    }
    kept.push(syn::Stmt::Expr(syn::parse_quote!(Ok(request)), None));
    method.block.stmts = kept;
    method.sig = syn::parse_quote! {
        fn request(&self) -> Result<::reqwest::Request, Error<()>>
    };
    Ok(())
}

/// `let x = x.map_err(Error::InvalidRequest)?;` on the builder's `Result` field becomes a borrow
/// of the value (`x.as_ref().map_err(..)`); a body (`body.and_then(|v| T::try_from(v) ..)`) is
/// converted from a clone of its builder.
fn borrow_parameter(local: &mut syn::Local) {
    let syn::Pat::Ident(binding) = &local.pat else { return };
    let name = binding.ident.clone();
    let Some(init) = &mut local.init else { return };
    let mut expr = &mut *init.expr;
    if let syn::Expr::Try(try_expr) = expr {
        expr = &mut *try_expr.expr;
    }
    // Down the method chain to the call on the field itself (counted first: the borrow checker
    // does not follow a loop that descends through `&mut` and then uses where it stopped).
    let mut depth = 0;
    let mut probe = &*expr;
    while let syn::Expr::MethodCall(call) = probe {
        if !matches!(&*call.receiver, syn::Expr::MethodCall(_)) {
            break;
        }
        probe = &*call.receiver;
        depth += 1;
    }
    let syn::Expr::MethodCall(mut_first) = expr else { return };
    let mut call = mut_first;
    for _ in 0..depth {
        let syn::Expr::MethodCall(inner) = &mut *call.receiver else { return };
        call = inner;
    }
    let syn::Expr::Path(receiver) = &*call.receiver else { return };
    if !receiver.path.is_ident(&name) {
        return;
    }
    if call.method == "map_err"
        && call.args.len() == 1
        && call.args[0].to_token_stream().to_string() == "Error :: InvalidRequest"
    {
        *call = syn::parse_quote!(#name.as_ref().map_err(|e| Error::InvalidRequest(e.clone())));
    } else {
        *call.receiver = syn::parse_quote!(#name.clone());
    }
}

/// `encode_path(&x.to_string())` in the URL's `format!` becomes
/// `crate::call::encode_path(x.as_str())`.
fn use_runtime_path_encoding(local: &mut syn::Local) {
    let Some(init) = &mut local.init else { return };
    let syn::Expr::Macro(mac) = &mut *init.expr else { return };
    if !mac.mac.path.is_ident("format") {
        return;
    }
    let text = mac.mac.tokens.to_string();
    if !text.contains("encode_path") {
        return;
    }
    // `encode_path(&x.to_string())` copies a string only to read it: `x.as_str()` does.
    let mut replaced = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("encode_path (& ") {
        replaced.push_str(&rest[..start]);
        let after = &rest[start + "encode_path (& ".len()..];
        let name_len = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
        let (name, tail) = after.split_at(name_len);
        match tail.strip_prefix(" . to_string ())") {
            Some(tail) if !name.is_empty() => {
                replaced.push_str(&format!("crate :: call :: encode_path ({name} . as_str ())"));
                rest = tail;
            }
            _ => {
                replaced.push_str("crate :: call :: encode_path (& ");
                rest = after;
            }
        }
    }
    replaced.push_str(rest);
    if let Ok(tokens) = replaced.parse() {
        mac.mac.tokens = tokens;
    }
}

/// Removes `.headers(header_map)` from the request's builder chain.
fn drop_header_map(local: &mut syn::Local) {
    let Some(init) = &mut local.init else { return };
    let mut expr = &mut *init.expr;
    if let syn::Expr::Try(try_expr) = expr {
        expr = &mut *try_expr.expr;
    }
    let syn::Expr::MethodCall(call) = expr else { return };
    // The request chain is `client.client.get(url).header(..)...headers(header_map).build()`:
    // the `.headers(header_map)` call is found by its depth below `.build()`.
    let mut depth = 0;
    let mut probe = &*call.receiver;
    loop {
        match probe {
            syn::Expr::MethodCall(inner)
                if inner.method == "headers"
                    && inner.args.len() == 1
                    && inner.args[0].to_token_stream().to_string() == "header_map" =>
            {
                break;
            }
            syn::Expr::MethodCall(inner) => {
                probe = &*inner.receiver;
                depth += 1;
            }
            _ => return,
        }
    }
    let mut slot = &mut *call.receiver;
    for _ in 0..depth {
        let syn::Expr::MethodCall(inner) = slot else { return };
        slot = &mut *inner.receiver;
    }
    let syn::Expr::MethodCall(headers) = slot else { return };
    let below = std::mem::replace(&mut *headers.receiver, syn::parse_quote!(()));
    *slot = below;
}
