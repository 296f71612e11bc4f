//! Stage tests without a compiler: what each stage accepts, rejects and says.

use proc_macro2::TokenStream;
use quote::quote;

use super::{analyze, check, expand, parse};
use crate::common::Errors;

fn fifo_handlers() -> TokenStream {
    quote! {
        fn task_new(&mut self, task: &mut Task<FifoTask>, msg: &TaskNew, cx: &mut Cx) {}
        fn task_runnable(&mut self, task: &mut Task<FifoTask>, msg: &TaskWakeup, cx: &mut Cx) {}
        fn task_blocked(&mut self, task: &mut Task<FifoTask>, msg: &TaskBlocked, cx: &mut Cx) {}
        fn task_yield(&mut self, task: &mut Task<FifoTask>, msg: &TaskYield, cx: &mut Cx) {}
        fn task_preempted(&mut self, task: &mut Task<FifoTask>, msg: &TaskPreempt, cx: &mut Cx) {}
        fn task_departed(&mut self, task: &mut Task<FifoTask>, msg: &TaskDeparted, cx: &mut Cx) {}
        fn task_dead(&mut self, task: &mut Task<FifoTask>, msg: &TaskDead, cx: &mut Cx) {}
        fn pick_next(&mut self, cpu: Cpu, cx: &mut Cx) -> Option<Gtid> { None }
    }
}

/// Runs parse + check + analyze and returns the error messages.
fn errors_of(attr: TokenStream, body: TokenStream) -> Vec<String> {
    let mut errors = Errors::new();
    let args = parse::parse_args(attr, &mut errors);
    let item = parse::parse_item(quote!(impl Fifo { #body })).expect("an impl");
    let checked = check::check(&args, &item, &mut errors);
    let _ = analyze::analyze(&args, &item, checked);
    match errors.finish() {
        Ok(()) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

fn args() -> TokenStream {
    quote!(model = per_cpu, task = FifoTask)
}

#[test]
fn a_complete_scheduler_has_no_errors_and_binds_every_handler() {
    assert_eq!(errors_of(args(), fifo_handlers()), Vec::<String>::new());
    let out = expand(args(), {
        let body = fifo_handlers();
        quote!(impl Fifo { #body })
    })
    .to_string();
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("impl :: ghost_dsl :: __private :: scheduler :: Scheduler for Fifo"));
    assert!(out.contains("Model :: PerCpu"));
    for name in ["task_new", "task_runnable", "task_dead", "pick_next"] {
        assert!(
            out.contains(&format!("fn {name}")),
            "{name} missing in {out}"
        );
    }
    // Optional handlers not written keep the trait default: nothing forwards to them.
    assert!(!out.contains("fn cpu_tick"));
}

#[test]
fn crate_override_and_centralized_model_reach_the_generated_paths() {
    let body = fifo_handlers();
    let out = expand(
        quote!(model = centralized, task = FifoTask, crate = ::my_ghost),
        quote!(impl Fifo { #body }),
    )
    .to_string();
    assert!(out.contains(":: my_ghost :: __private :: scheduler :: Scheduler"));
    assert!(!out.contains("ghost_dsl"));
    assert!(out.contains("Model :: Centralized"));
}

#[test]
fn all_missing_required_handlers_are_named_in_one_error() {
    let errors = errors_of(
        args(),
        quote!(
            fn task_new(&mut self, task: &mut Task<FifoTask>, msg: &TaskNew, cx: &mut Cx) {}
        ),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    for name in [
        "task_runnable",
        "task_blocked",
        "task_yield",
        "task_preempted",
        "task_departed",
        "task_dead",
        "pick_next",
    ] {
        assert!(
            errors[0].contains(&format!("`{name}`")),
            "{name}: {}",
            errors[0]
        );
    }
    assert!(!errors[0].contains("`task_new`"));
    assert!(
        errors[0].contains("fn pick_next(&mut self, cpu: Cpu, cx: &mut Cx<'_>) -> Option<Gtid>")
    );
}

#[test]
fn unknown_handlers_suggest_the_close_one_and_helpers_pass() {
    let mut body = fifo_handlers();
    body.extend(quote! {
        fn task_nwe(&mut self) {}
        fn select_cpu(&mut self) -> usize { 0 }
        #[helper]
        fn cpu_of(&self) -> usize { 0 }
    });
    let errors = errors_of(args(), body.clone());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("unknown handler `task_nwe`; did you mean `task_new`?"),
        "{}",
        errors[0]
    );
    // The marker is consumed: it does not reach rustc.
    let out = expand(args(), quote!(impl Fifo { #body })).to_string();
    assert!(!out.contains("# [helper]"), "{out}");
    assert!(out.contains("fn select_cpu"));
}

#[test]
fn wrong_signatures_show_the_expected_one() {
    let cases = [
        (
            quote!(
                fn task_new(&mut self, task: &Task<FifoTask>, msg: &TaskNew, cx: &mut Cx) {}
            ),
            "the task parameter must be `&mut Task<..>`",
        ),
        (
            quote!(
                fn task_new(&mut self, task: &mut Task<FifoTask>, msg: &TaskWakeup, cx: &mut Cx) {}
            ),
            "the message parameter must be `&TaskNew`",
        ),
        (
            quote!(
                fn task_new(&self, task: &mut Task<FifoTask>, msg: &TaskNew, cx: &mut Cx) {}
            ),
            "the first parameter must be `&mut self`",
        ),
        (
            quote!(
                fn task_new(&mut self, task: &mut Task<FifoTask>, msg: &TaskNew) {}
            ),
            "it takes 2 parameters after `&mut self`, the handler takes 3",
        ),
        (
            quote!(
                fn task_new(&mut self, task: &mut Task<Other>, msg: &TaskNew, cx: &mut Cx) {}
            ),
            "the task type is `FifoTask` (from `task = FifoTask`), not `Other`",
        ),
        (
            quote!(
                fn task_new(
                    &mut self,
                    task: &mut Task<FifoTask>,
                    msg: &TaskNew,
                    cx: &mut Cx,
                ) -> bool {
                    true
                }
            ),
            "it must not return a value",
        ),
        (
            quote!(
                async fn task_new(
                    &mut self,
                    task: &mut Task<FifoTask>,
                    msg: &TaskNew,
                    cx: &mut Cx,
                ) {
                }
            ),
            "cannot be `async`",
        ),
    ];
    for (wrong, says) in cases {
        let body: TokenStream = fifo_handlers()
            .to_string()
            .replacen(
                "fn task_new (& mut self , task : & mut Task < FifoTask > , msg : & TaskNew , cx : & mut Cx) { }",
                &wrong.to_string(),
                1,
            )
            .parse()
            .unwrap();
        let errors = errors_of(args(), body);
        assert_eq!(errors.len(), 1, "{wrong}: {errors:?}");
        assert!(errors[0].contains(says), "{wrong}: {}", errors[0]);
        assert!(
            errors[0].contains(
                "expected: `fn task_new(&mut self, task: &mut Task<FifoTask>, msg: &TaskNew, cx: &mut Cx<'_>)`"
            ),
            "{}",
            errors[0]
        );
    }
    let errors = errors_of(
        args(),
        fifo_handlers()
            .to_string()
            .replace("-> Option < Gtid >", "-> Gtid")
            .parse()
            .unwrap(),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("it must return `Option<Gtid>`"));
}

#[test]
fn methods_named_like_the_generated_entry_points_are_errors() {
    let mut body = fifo_handlers();
    body.extend(quote!(
        fn run(&self) {}
    ));
    let errors = errors_of(args(), body.clone());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("`run` is generated by #[ghost_scheduler]"),
        "{}",
        errors[0]
    );
    let out = expand(args(), quote!(impl Fifo { #body })).to_string();
    assert!(
        !out.contains("fn run (& self)"),
        "replaced by the stand-in: {out}"
    );
}

#[test]
fn duplicates_point_at_both_definitions() {
    let mut body = fifo_handlers();
    body.extend(quote!(
        fn pick_next(&mut self, cpu: Cpu, cx: &mut Cx) -> Option<Gtid> {
            None
        }
    ));
    let errors = errors_of(args(), body);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("duplicate handler `pick_next`"));
    assert_eq!(errors[1], "`pick_next` is first defined here");
}

#[test]
fn invalid_arguments_list_the_valid_keys() {
    let errors = errors_of(quote!(modle = per_cpu, task = FifoTask), fifo_handlers());
    assert!(
        errors[0].contains(
            "unknown #[ghost_scheduler] argument `modle`; did you mean `model`? expected one of: `model`, `task`, `crate`"
        ),
        "{errors:?}"
    );
    // The misspelt key is the one error: `model` is not reported missing as well.
    assert_eq!(errors.len(), 1, "{errors:?}");
    let errors = errors_of(quote!(task = FifoTask), fifo_handlers());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("needs `model = ..`"));

    let errors = errors_of(quote!(model = per_core, task = FifoTask), fifo_handlers());
    assert!(errors[0].contains("unknown ghost scheduler model `per_core`; did you mean `per_cpu`? expected one of: `per_cpu`, `centralized`"), "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");

    let errors = errors_of(
        quote!(model = per_cpu, task = FifoTask, task = X),
        fifo_handlers(),
    );
    assert_eq!(errors, vec!["`task` is given twice; keep one".to_owned()]);

    let errors = errors_of(quote!(model per_cpu), fifo_handlers());
    assert!(
        errors[0].contains("valid keys: `model`, `task`, `crate`"),
        "{errors:?}"
    );
}

#[test]
fn on_error_the_users_impl_and_stand_in_entry_points_are_still_emitted() {
    let out = expand(
        quote!(task = FifoTask),
        quote!(impl Fifo { fn select_cpu(&self) {} }),
    )
    .to_string();
    assert!(out.contains("compile_error"));
    assert!(out.contains("fn select_cpu"));
    assert!(out.contains("pub fn run"));
    // Not an impl: the item comes back untouched beside the error.
    let out = expand(
        args(),
        quote!(
            struct Fifo;
        ),
    )
    .to_string();
    assert!(out.starts_with("struct Fifo ;"), "{out}");
    assert!(out.contains("inherent `impl` block"));
}

mod properties {
    use proc_macro2::TokenStream;
    use proptest::prelude::*;
    use quote::quote;

    use super::super::expand;
    use crate::common::fuzz::{mutations, token_stream, truncations};

    fn valid_item() -> TokenStream {
        let body = super::fifo_handlers();
        quote!(impl Fifo { #body })
    }

    #[test]
    fn every_truncation_never_panics_and_errors() {
        let attr = super::args();
        for cut_attr in truncations(&attr) {
            let out = expand(cut_attr.clone(), valid_item()).to_string();
            if cut_attr.to_string() != attr.to_string() {
                assert!(out.contains("compile_error"), "{cut_attr}: {out}");
            }
        }
        // A cut that loses a handler's signature must be an error; one that only empties a
        // body (`{ None }` → `{}`) is still a scheduler as far as the macro is concerned.
        let signatures =
            |tokens: &str| tokens.matches(") {").count() + tokens.matches("> {").count();
        let full = signatures(&valid_item().to_string());
        for cut_item in truncations(&valid_item()) {
            let out = expand(attr.clone(), cut_item.clone()).to_string();
            if signatures(&cut_item.to_string()) < full {
                assert!(out.contains("compile_error"), "{cut_item}: {out}");
            }
        }
    }

    proptest! {
        #[test]
        fn random_streams_never_panic(attr in token_stream(), item in token_stream()) {
            let _ = expand(attr, item);
        }

        #[test]
        fn mutated_items_never_panic(item in mutations(valid_item())) {
            let _ = expand(super::args(), item);
        }

        #[test]
        fn mutated_args_never_panic(attr in mutations(super::args())) {
            let _ = expand(attr, valid_item());
        }
    }
}
