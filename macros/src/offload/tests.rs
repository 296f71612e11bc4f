//! Unit and property tests of the offload pipeline stages, without a compiler.

use proc_macro2::TokenStream;
use proptest::prelude::*;
use quote::quote;

use super::*;
use crate::common::fuzz;

fn messages(result: syn::Result<()>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn escapes(block: TokenStream) -> Vec<String> {
    let block: syn::Block = syn::parse2(block).unwrap();
    let mut errors = Errors::new();
    check::block_escapes(&block, &mut errors);
    messages(errors.finish())
}

fn signature_errors(item: TokenStream) -> Vec<String> {
    let function: syn::ItemFn = syn::parse2(item).unwrap();
    let mut errors = Errors::new();
    check::signature(&function.sig, "exported function", &mut errors);
    messages(errors.finish())
}

#[test]
fn escapes_are_found_and_inner_control_flow_is_allowed() {
    let found = escapes(quote!({
        let a = f()?;
        if a {
            return 1;
        }
        break;
        continue 'outer;
        loop {
            break;
        }
        'inner: for x in y {
            continue 'inner;
            if x {
                break 'inner;
            }
        }
        'b: {
            break 'b 3;
        }
        let c = || {
            return 2;
        };
        let d = async { g().await? };
        fn nested() -> u8 {
            return 1;
        }
        while h() {
            break;
        }
    }));
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("`?` inside `offload!`"));
    assert!(found[1].starts_with("`return` inside `offload!`"));
    assert!(
        found[2].starts_with("`break` would leave the `offload!` block for its enclosing loop")
    );
    assert!(found[3].starts_with("`continue` would leave the `offload!` block for `'outer`"));
}

#[test]
fn exported_signatures_are_checked_all_at_once() {
    let found = signature_errors(quote! {
        async fn f<T: Copy>(x: impl Into<u8>, y: T) -> (Option<&'static u8>, *const u8) { todo!() }
    });
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(found[0].contains("cannot be `async`"));
    assert!(found[1].contains("cannot be generic"));
    assert!(found[2].contains("cannot be generic"));
    assert!(found[3].contains("returns a reference: friend code cannot use hakase memory"));
    assert!(found[4].contains("returns a raw pointer"));
    assert!(
        signature_errors(quote!(
            fn ok<'a>(msg: &'a str, n: u64) -> Vec<u8> {}
        ))
        .is_empty()
    );
}

#[test]
fn the_symbol_model_names_the_fn_pointer_type_and_the_signature() {
    let function: syn::ItemFn = syn::parse2(quote!(
        pub fn hakase_print<'a>(msg: &'a str, n: Vec<u8>) -> usize {}
    ))
    .unwrap();
    let symbol = analyze::symbol(&function.sig, &function.vis, &[]);
    assert_eq!(
        symbol.fn_type.to_string(),
        quote!(for<'a> fn(&'a str, Vec<u8>) -> usize).to_string()
    );
    assert_eq!(
        symbol.text,
        "fn hakase_print(msg: &'a str, n: Vec<u8>) -> usize"
    );
}

#[test]
fn exported_is_rewritten_at_any_depth_and_with_a_path_prefix() {
    let private = quote!(::offload::__private);
    let out = codegen::offload_block::rewrite_exported(
        quote!({
            let n = exported!(print)("x");
            format!("{}", offload::exported!(other)(1));
        }),
        &private,
        false,
    )
    .to_string();
    assert!(!out.contains("exported !"), "{out}");
    assert!(out.contains("< print as"), "{out}");
    assert!(out.contains("< other as"), "{out}");
    assert!(!out.contains("offload :: ("), "{out}");
    // Not a path: left alone, so the bare macro reports it.
    let out = codegen::offload_block::rewrite_exported(quote!(exported!(1 + 2)), &private, false);
    assert_eq!(out.to_string(), "exported ! (1 + 2)");
}

#[test]
fn exported_must_be_called_and_not_inside_nested_items() {
    let private = quote!(::offload::__private);
    let rewrite =
        |tokens| codegen::offload_block::rewrite_exported(tokens, &private, false).to_string();
    let out = rewrite(quote!({
        let f = exported!(print);
    }));
    assert!(out.contains("must be called where it stands"), "{out}");
    let out = rewrite(quote!({
        fn g() {
            exported!(print)("x")
        }
        g()
    }));
    assert!(out.contains("cannot be used inside an item"), "{out}");
    assert!(
        !out.contains("\"x\""),
        "the call's arguments go with it: {out}"
    );
    // A closure and a `fn` pointer type are not items.
    let out = rewrite(quote!({
        let h: fn(&str) = |s| exported!(print)(s);
    }));
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("< print as"), "{out}");
}

#[test]
fn errors_keep_the_users_code() {
    let out = offload(quote!({
        return 5;
    }))
    .to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("return 5"), "{out}");
    let out = export_symbol(
        quote!(),
        quote!(
            async fn f() -> u8 {
                1
            }
        ),
    )
    .to_string();
    assert!(out.starts_with("async fn f"), "{out}");
    assert!(out.contains("compile_error"), "{out}");
    let out = export_symbol(
        quote!(declared_in = x, unknown = 1),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    assert!(
        out.contains("unknown #[export_symbol] argument `unknown`"),
        "{out}"
    );
    let out = declare_exports(quote!(
        fn good(x: u8) -> u8;
        async fn bad();
    ))
    .to_string();
    assert!(out.contains("struct good"), "{out}");
    assert!(out.contains("cannot be `async`"), "{out}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_stage_panics_on_random_tokens(tokens in fuzz::token_stream()) {
        let _ = offload(tokens.clone());
        let _ = exported_outside_offload(tokens.clone());
        let _ = export_symbol(tokens.clone(), tokens.clone());
        let _ = declare_exports(tokens);
    }

    #[test]
    fn no_stage_panics_on_mutated_valid_input(
        block in fuzz::mutations(quote!({ let a = exported!(f)(1)?; 'l: loop { break 'l a; } })),
        item in fuzz::mutations(quote!(pub fn f<'a>(x: &'a str, y: u8) -> Option<Vec<u8>> { None })),
        decls in fuzz::mutations(quote!(crate = ::offload; pub fn f(x: u8) -> u8; fn g();)),
    ) {
        let _ = offload(block);
        let _ = export_symbol(quote!(declared_in = shared), item);
        let _ = declare_exports(decls);
    }
}

#[test]
fn no_stage_panics_on_truncated_valid_input() {
    for tokens in fuzz::truncations(&quote!(crate = ::x, {
        let a = exported!(f)(1)?;
        return a;
    })) {
        let _ = offload(tokens);
    }
    for tokens in fuzz::truncations(&quote!(
        #[doc = "d"]
        pub async fn f<T>(x: &T) -> &T {
            x
        }
    )) {
        let _ = export_symbol(quote!(), tokens);
    }
    for tokens in fuzz::truncations(&quote!(crate = ::offload; pub fn f(x: u8) -> *const u8;)) {
        let _ = declare_exports(tokens);
    }
}
