//! Stage tests: expansions of valid input, every rule's error, and the never-panic property over
//! random, truncated and mutated token streams fed to every entry point.

use proc_macro2::TokenStream;
use proptest::prelude::*;
use quote::quote;

use crate::common::fuzz;

fn errors_of(tokens: &TokenStream) -> Vec<String> {
    let text = tokens.to_string();
    text.split("compile_error !")
        .skip(1)
        .map(|rest| {
            let start = rest.find('"').map_or(0, |i| i + 1);
            let end = rest[start..].find("\" }").map_or(rest.len(), |i| start + i);
            rest[start..end].to_string()
        })
        .collect()
}

fn stack_interface() -> TokenStream {
    quote! {
        pub trait Stack {
            fn push(&mut self, data: i64, next: Next<()>) -> Goto;
            fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto;
            fn is_empty(&self, next: Next<()>, when_empty: Next<()>) -> Goto;
        }
    }
}

#[test]
fn code_gear_fn_expands_to_a_static_with_stub_and_registration() {
    let out = super::code_gear(
        TokenStream::new(),
        quote! { fn pop2_test1(next: Next<()>, a: Option<i64>, b: Option<i64>) -> Goto { goto!(next()) } },
    );
    assert!(errors_of(&out).is_empty(), "{out}");
    let text = out.to_string();
    assert!(text.contains("static pop2_test1"), "{text}");
    assert!(text.contains("fn __gears_stub"), "{text}");
    assert!(text.contains("inventory :: submit"), "{text}");
}

#[test]
fn every_signature_problem_is_reported_at_once() {
    let out = super::code_gear(
        TokenStream::new(),
        quote! { async fn bad<T>(x: &u8, p: *const u8, r: Rc<u8>, (a, b): (u8, u8)) -> u8 { 0 } },
    );
    let errors = errors_of(&out);
    assert_eq!(errors.len(), 7, "{errors:#?}");
    assert!(errors[0].contains("cannot be `async`"));
    assert!(errors[1].contains("cannot be generic"));
    assert!(errors[2].contains("must return `Goto`"));
    assert!(errors[3].contains("cannot take a borrowed reference"));
    assert!(errors[4].contains("raw pointer"));
    assert!(errors[5].contains("`Rc`"));
    assert!(errors[6].contains("plain names"));
    // The user's function is still emitted under a hidden name (its body is checked), and `bad`
    // is a stand-in code gear of the same arity, so that its uses add no errors.
    let text = out.to_string();
    assert!(text.contains("async fn __gears_body"), "{text}");
    assert!(
        text.contains(
            "static bad : :: codegear :: __private :: BrokenCodeGear < (& u8 , * const u8 ,"
        ),
        "{text}"
    );
}

#[test]
fn data_gear_errors_point_at_fields_and_keep_the_item() {
    let out = super::data_gear(
        TokenStream::new(),
        quote! { struct Point<T> { x: f64, y: std::rc::Rc<u8>, ok: u8, t: T } },
    );
    let errors = errors_of(&out);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].contains("lists the instances the program uses"),
        "{errors:?}"
    );
    assert!(errors[1].contains("`f64`") && errors[1].contains("floats"));
    assert!(errors[2].contains("`std::rc::Rc<u8>`"));
    let text = out.to_string();
    assert!(text.starts_with("struct Point"), "{text}");
    // The stand-in: the impls the meta level needs, so that uses add no errors.
    assert!(text.contains("DataGear for Point < T >"), "{text}");
}

#[test]
fn a_stand_in_takes_any_types_where_the_written_ones_cannot_be_named() {
    let out = super::code_gear(
        TokenStream::new(),
        quote! { fn generic<T>(x: T, next: Next<()>) -> Goto { goto!(next()) } },
    );
    assert_eq!(errors_of(&out).len(), 1);
    let text = out.to_string();
    assert!(
        text.contains("static generic : :: codegear :: __private :: Untyped < 2usize >"),
        "{text}"
    );
}

#[test]
fn nested_floats_get_the_float_message() {
    let out = super::data_gear(
        TokenStream::new(),
        quote! { struct S { xs: Vec<f64>, ok: Vec<u8> } },
    );
    let errors = errors_of(&out);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("`Vec<f64>`") && errors[0].contains("holds `f64`"),
        "{errors:?}"
    );
}

#[test]
fn generic_data_gears_get_one_row_per_instance() {
    let out = super::data_gear(
        quote!(instances(i64, String)),
        quote! { pub struct Stack<T> { items: Vec<T> } },
    );
    assert!(errors_of(&out).is_empty(), "{out}");
    let text = out.to_string();
    assert!(text.contains("DataGear for Stack < i64 >"), "{text}");
    assert!(text.contains("DataGear for Stack < String >"), "{text}");
    assert!(
        text.contains("\"struct Stack<String> { items: Vec<String> }\""),
        "{text}"
    );
}

#[test]
fn data_gear_derives_only_what_is_missing() {
    let out = super::data_gear(
        TokenStream::new(),
        quote! { #[derive(Clone, Debug, Default)] pub struct S { items: Vec<i64> } },
    );
    let text = out.to_string();
    // The missing ones are written out (through `DataGearField`), the user's are kept.
    for written in ["PartialEq for S", "Eq for S", "Hash for S"] {
        assert!(text.contains(written), "{written}: {text}");
    }
    for kept in ["Clone for S", "Debug for S"] {
        assert!(!text.contains(kept), "{kept}: {text}");
    }
    assert!(text.contains("DataGearField > :: eq_field"), "{text}");
    assert!(text.contains("struct S { items: Vec<i64> }"), "{text}");
}

#[test]
fn unknown_attribute_arguments_list_the_valid_ones() {
    let out = super::data_gear(quote!(krate = codegear), quote! { struct S; });
    let errors = errors_of(&out);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("did you mean `crate`?"), "{errors:?}");
}

#[test]
fn crate_override_reaches_generated_paths() {
    let out = super::data_gear(quote!(crate = ::my_gears), quote! { struct S; });
    let text = out.to_string();
    assert!(text.contains(":: my_gears :: DataGear"), "{text}");
    assert!(!text.contains(":: codegear ::"), "{text}");
}

#[test]
fn interface_rules() {
    let out = super::interface(
        TokenStream::new(),
        quote! {
            trait Bad<T>: Clone {
                fn by_value(self, next: Next<()>) -> Goto;
                fn no_self(x: u8) -> Goto;
                async fn a(&mut self) -> Goto;
                fn ret(&mut self) -> u8;
                fn body(&mut self) -> Goto { todo!() }
                const X: u8;
            }
        },
    );
    let errors = errors_of(&out);
    // (A generic interface is fine: `trait Stack<T>`.)
    assert_eq!(errors.len(), 7, "{errors:#?}");
}

#[test]
fn impl_check_names_every_missing_code_gear_and_suggests_for_unknown_ones() {
    let block = quote! {
        impl Stack for SingleLinkedStack {
            fn push(&mut self, data: i64, next: Next<()>) -> Goto { goto!(next()) }
            fn peek(&mut self, next: Next<()>) -> Goto { goto!(next()) }
            fn isempty(&self, next: Next<()>, when_empty: Next<()>) -> Goto { goto!(next()) }
        }
    };
    let interface = stack_interface();
    let input = quote! { { ::codegear } {} { #interface } { #block } };
    let out = super::impl_interface(input);
    let errors = errors_of(&out);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        // `is_empty` is reported once, as `isempty`'s misspelling, not also as missing.
        errors[0].contains("does not define a code gear of interface `Stack`: `pop`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("`peek` is not declared"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains(
            "did you mean `is_empty`, which this impl does not define? rename `isempty` to `is_empty`"
        ),
        "{}",
        errors[2]
    );
    // The repaired impl still implements every declared code gear.
    let text = out.to_string();
    assert!(text.contains("fn pop (& mut self"), "{text}");
    assert!(text.contains("fn is_empty (& self"), "{text}");
    assert!(!text.contains("fn peek"), "{text}");
    assert!(!text.contains("fn isempty"), "{text}");
}

#[test]
fn goto_brings_the_fallback_of_its_arity() {
    // Through the `codegear::goto!` shim: the fallback of the call's arity only (two in scope
    // would make `goto` ambiguous for a plain `fn`).
    let expanded = super::goto::goto(quote!([::cg] f(1, x))).to_string();
    assert!(
        expanded.contains("use :: cg :: __private :: GotoFallback2 as _"),
        "{expanded}"
    );
    assert!(expanded.ends_with("(f) . goto (1 , x) }"), "{expanded}");
    // Interface calls and over-long calls have no fallback; nor has input without the root.
    let api = super::goto::goto(quote!([::cg] s.pop(k))).to_string();
    assert!(!api.contains("GotoFallback"), "{api}");
    let wide = super::goto::goto(quote!([::cg] f(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)));
    assert!(!wide.to_string().contains("GotoFallback"));
    assert_eq!(
        super::goto::goto(quote!(f(1))).to_string(),
        "(f) . goto (1)"
    );
    // `next!` has one fallback (its call takes one tuple), for code-gear calls only.
    let bind = super::goto::next(quote!([::cg] f(1))).to_string();
    assert!(
        bind.contains("use :: cg :: __private :: BindFallback as _"),
        "{bind}"
    );
    let api = super::goto::next(quote!([::cg] s.pop(k))).to_string();
    assert!(!api.contains("BindFallback"), "{api}");
    // A receiver that is not a `Gear<dyn I>` gets the API fallback's error instead of "no
    // method named `continuations`".
    assert!(api.contains("ApiFallback"), "{api}");
    assert!(api.contains("(s) . continuations () . pop (k)"), "{api}");
}

#[test]
fn goto_and_next_shapes() {
    assert_eq!(
        super::goto::expand_goto(quote!(f(1, x)))
            .unwrap()
            .to_string(),
        "(f) . goto (1 , x)"
    );
    assert_eq!(
        super::goto::expand_goto(quote!(stack.pop2(k)))
            .unwrap()
            .to_string(),
        "(stack) . api () . pop2 (k)"
    );
    assert_eq!(
        super::goto::expand_next(quote!(f(a))).unwrap().to_string(),
        "(f) . bind ((a ,))"
    );
    assert!(super::goto::expand_goto(quote!(f)).is_err());
    assert!(super::goto::expand_goto(quote!(1 + 2)).is_err());
    assert!(super::goto::expand_next(quote!()).is_err());
}

/// Runs every entry point on `tokens` in both positions; a panic fails the property.
fn run_all(tokens: &TokenStream) {
    let _ = super::code_gear(TokenStream::new(), tokens.clone());
    let _ = super::code_gear(
        tokens.clone(),
        quote!(
            fn f() -> Goto {
                goto!(g())
            }
        ),
    );
    let _ = super::data_gear(TokenStream::new(), tokens.clone());
    let _ = super::data_gear(
        tokens.clone(),
        quote!(
            struct S;
        ),
    );
    let _ = super::interface(TokenStream::new(), tokens.clone());
    let _ = super::impl_interface(tokens.clone());
    let _ = super::goto(tokens.clone());
    let _ = super::next(tokens.clone());
}

fn valid_inputs() -> Vec<TokenStream> {
    let interface = stack_interface();
    vec![
        quote! { fn pop2_test(stack: Gear<dyn Stack>, s: Mut<'_, S>, r: Ref<'_, R>, next: Next<()>) -> Goto { goto!(stack.pop2(next!(pop2_test1(next)))) } },
        quote! { #[derive(Default)] pub struct SingleLinkedStack { items: Vec<i64> } },
        quote! { pub enum E { A(u8), B { x: i64 } } },
        interface.clone(),
        quote! { { ::codegear } { #interface } { impl Stack for S { fn push(&mut self, data: i64, next: Next<()>) -> Goto { goto!(next()) } } } },
        quote! { stack.pop2(next!(f(a, b))) },
    ]
}

#[test]
fn every_truncation_of_valid_input_is_an_error_or_an_expansion_never_a_panic() {
    for valid in valid_inputs() {
        for truncated in fuzz::truncations(&valid) {
            run_all(&truncated);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_token_streams_never_panic(tokens in fuzz::token_stream()) {
        run_all(&tokens);
    }

    #[test]
    fn mutated_valid_inputs_never_panic(
        (index, mutated) in (0..6usize).prop_flat_map(|i| {
            (Just(i), fuzz::mutations(valid_inputs().swap_remove(i)))
        })
    ) {
        let _ = index;
        run_all(&mutated);
    }
}

#[test]
fn renamed_dependencies_are_found_in_both_spellings() {
    use super::renamed_in;
    let inline = "[dependencies]\ncg = { package = \"codegear\", path = \"../codegear\" }\n";
    assert_eq!(renamed_in(inline, "codegear").as_deref(), Some("cg"));
    let table = "[dev-dependencies.gears]\npackage = \"codegear\"\nversion = \"0.1\"\n";
    assert_eq!(renamed_in(table, "codegear").as_deref(), Some("gears"));
    let plain = "[dependencies]\ncodegear.workspace = true\n";
    assert_eq!(renamed_in(plain, "codegear"), None);
    let both = "[dependencies]\ncodegear = \"0.1\"\nold = { package = \"codegear\", version = \"0.0.9\" }\n";
    assert_eq!(
        renamed_in(both, "codegear"),
        None,
        "a direct dependency wins"
    );
}
