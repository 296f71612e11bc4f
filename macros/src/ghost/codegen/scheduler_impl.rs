//! The user's handlers bound to `ghost_dsl::scheduler::Scheduler`: one forwarding method per
//! handler the user wrote (optional ones left out keep the trait's default), the task type and
//! the model. Forwarding calls carry the user's spans, so a type mismatch points at their code.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ghost::analyze::Ir;
use crate::ghost::catalogue::Shape;
use crate::ghost::parse::Model;

pub(super) fn generate(ir: &Ir) -> TokenStream {
    let Ir {
        self_ty,
        task,
        model,
        krate,
        handlers,
        ..
    } = ir;
    let rt = quote!(#krate::__private::scheduler);
    let model = match model {
        Model::PerCpu => quote!(#rt::Model::PerCpu),
        Model::Centralized => quote!(#rt::Model::Centralized),
    };
    let methods = handlers.iter().map(|handler| {
        let user = &handler.ident;
        let name = format_ident!("{}", handler.spec.name);
        let span = user.span();
        match handler.spec.shape {
            Shape::Task { msg } => {
                let msg = format_ident!("{}", msg);
                quote_spanned! {span=>
                    #[inline]
                    fn #name(
                        &mut self,
                        task: &mut #rt::Task<#task>,
                        msg: &#rt::msg::#msg,
                        cx: &mut #rt::Cx<'_>,
                    ) {
                        <#self_ty>::#user(self, task, msg, cx)
                    }
                }
            }
            Shape::Cpu { msg } => {
                let msg = format_ident!("{}", msg);
                quote_spanned! {span=>
                    #[inline]
                    fn #name(&mut self, cpu: #rt::Cpu, msg: &#rt::msg::#msg, cx: &mut #rt::Cx<'_>) {
                        <#self_ty>::#user(self, cpu, msg, cx)
                    }
                }
            }
            Shape::PickNext => quote_spanned! {span=>
                #[inline]
                fn #name(&mut self, cpu: #rt::Cpu, cx: &mut #rt::Cx<'_>) -> ::core::option::Option<#rt::Gtid> {
                    <#self_ty>::#user(self, cpu, cx)
                }
            },
            Shape::Rpc => quote_spanned! {span=>
                #[inline]
                fn #name(
                    &mut self,
                    req: i64,
                    args: &#rt::AgentRpcArgs,
                    cx: &mut #rt::Cx<'_>,
                ) -> #rt::AgentRpcResponse {
                    <#self_ty>::#user(self, req, args, cx)
                }
            },
            Shape::CommitFailed => quote_spanned! {span=>
                #[inline]
                fn #name(
                    &mut self,
                    task: &mut #rt::Task<#task>,
                    cpu: #rt::Cpu,
                    state: #rt::TxnState,
                    cx: &mut #rt::Cx<'_>,
                ) -> #rt::FailedCommit {
                    <#self_ty>::#user(self, task, cpu, state, cx);
                    #rt::FailedCommit::Requeued
                }
            },
            Shape::EnclaveReady => quote_spanned! {span=>
                #[inline]
                fn #name(&mut self, cx: &mut #rt::Cx<'_>) {
                    <#self_ty>::#user(self, cx)
                }
            },
        }
    });
    // The task type's bound is checked here, at the user's `task = T` tokens, in our words.
    let new_task_data = quote_spanned! {task.span()=>
        #[inline]
        // `task = ()` is a scheduler without per-task state.
        #[allow(clippy::unused_unit)]
        fn new_task_data() -> #task {
            <#task as #rt::TaskData>::new_task()
        }
    };
    quote! {
        impl #rt::Scheduler for #self_ty {
            type TaskData = #task;
            const MODEL: #rt::Model = #model;
            #new_task_data
            #(#methods)*
        }
    }
}
