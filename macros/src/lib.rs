//! spool's attribute macros: `#[spool::main]`, which runs an `async fn` as
//! the program's main task on a P (`Runtime::run`), like `#[tokio::main]`.
//!
//! The expansion names only `::spool` items (`Builder`, `Runtime::run`), so
//! it works wherever the `spool` crate is a dependency; this crate is
//! re-exported as `spool::main` and is not meant to be used directly.
//! Arguments: `procs = N` (a positive integer literal), nothing else; a bad
//! argument is a compile error naming it.

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ItemFn, Lit, Meta, Token};

/// Runs the `async fn` it marks as the main task of a new spool runtime
/// (`spool::Runtime::run`): an ordinary task on a P, as Go's main
/// goroutine is. The function keeps its name, visibility and return type
/// and loses `async`; its body must be `Send + 'static` (use
/// `Runtime::block_on` for a main that holds non-`Send` values across an
/// `.await`). `#[spool::main(procs = 4)]` sets the number of Ps (the
/// default: `SPOOL_PROCS` or one per core). A panic of the body
/// propagates, as from `Runtime::run`.
///
/// ```
/// #[spool::main(procs = 2)]
/// async fn main() {
///     let h = spool::spawn(async { 6 * 7 });
///     assert_eq!(h.await.unwrap(), 42);
///     assert_eq!(spool::Handle::current().procs(), 2);
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let procs = parse_args(args)?;
    let f: ItemFn = syn::parse2(item)?;
    if f.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            f.sig.fn_token,
            "#[spool::main] needs an `async fn`: the `async` keyword is missing",
        ));
    }
    if !f.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &f.sig.inputs,
            "#[spool::main] functions take no arguments",
        ));
    }
    if !f.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &f.sig.generics,
            "#[spool::main] functions cannot be generic",
        ));
    }
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = f;
    sig.asyncness = None;
    let procs = procs.map(|n| quote!(.procs(#n)));
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            let body = async move #block;
            ::spool::Builder::new()
                #procs
                .build()
                .unwrap_or_else(|e| panic!("spool: cannot start the runtime of #[spool::main]: {e}"))
                .run(body)
        }
    })
}

/// `procs = N`, or nothing.
fn parse_args(args: proc_macro2::TokenStream) -> syn::Result<Option<usize>> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut procs = None;
    for m in metas {
        let nv = match &m {
            Meta::NameValue(nv) if nv.path.is_ident("procs") => nv,
            _ => {
                return Err(syn::Error::new_spanned(
                    &m,
                    "unknown #[spool::main] argument: the only one is `procs = N`",
                ));
            }
        };
        if procs.is_some() {
            return Err(syn::Error::new_spanned(&m, "`procs` is given twice"));
        }
        let n = match &nv.value {
            Expr::Lit(l) => match &l.lit {
                Lit::Int(i) => i.base10_parse::<usize>().ok().filter(|&n| n > 0),
                _ => None,
            },
            _ => None,
        };
        procs = Some(n.ok_or_else(|| {
            syn::Error::new_spanned(&nv.value, "`procs` must be a positive integer literal")
        })?);
    }
    Ok(procs)
}
