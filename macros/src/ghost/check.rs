//! Stage 2: the rules of the DSL. Classifies the impl's methods into handlers and helpers and
//! checks every handler's signature against the catalogue; collects all problems.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, PathArguments, ReturnType, Signature, Type};

use super::catalogue::{self, HandlerSpec, Shape};
use super::parse::{Args, Model, VALID_MODELS, list};
use crate::common::Errors;

/// The attribute that marks a method as a helper even if its name looks like a handler's.
pub(crate) const HELPER_ATTR: &str = "helper";

/// A method of the impl that implements a catalogue handler.
pub(crate) struct Handler {
    pub(crate) spec: &'static HandlerSpec,
    /// The user's method name (its span is where forwarding errors point).
    pub(crate) ident: syn::Ident,
}

/// What check accepted: the arguments that must be present, and the handlers.
pub(crate) struct Checked {
    pub(crate) model: Option<Model>,
    pub(crate) task: Option<Type>,
    pub(crate) handlers: Vec<Handler>,
}

/// Checks the arguments and the impl block; every problem goes to `errors`.
pub(crate) fn check(args: &Args, item: &ItemImpl, errors: &mut Errors) -> Checked {
    if args.model.is_none() && !args.attempted.contains(&"model") {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "#[ghost_scheduler] needs `model = ..`, one of {}: \
                 e.g. #[ghost_scheduler(model = per_cpu, task = MyTask)]",
                list(VALID_MODELS)
            ),
        ));
    }
    if args.task.is_none() && !args.attempted.contains(&"task") {
        errors.push(syn::Error::new(
            Span::call_site(),
            "#[ghost_scheduler] needs `task = T`, the type of the per-task state the scheduler \
             keeps (use `task = ()` for none): e.g. #[ghost_scheduler(model = per_cpu, task = MyTask)]",
        ));
    }
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "#[ghost_scheduler] goes on an inherent impl (`impl MyScheduler { .. }`), not on a \
             trait impl; the macro implements the scheduler traits itself",
        ));
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "a #[ghost_scheduler] impl cannot be generic: the agent is built for one concrete \
             scheduler type; remove the generic parameters",
        ));
    }

    let task_name = args
        .task
        .as_ref()
        .map_or_else(|| "T".to_owned(), |ty| ty.to_token_stream().to_string());
    let mut handlers: Vec<Handler> = Vec::new();
    for method in item.items.iter().filter_map(|item| match item {
        ImplItem::Fn(method) => Some(method),
        _ => None,
    }) {
        if is_helper(method) {
            continue;
        }
        let name = method.sig.ident.to_string();
        let Some(spec) = catalogue::lookup(&name) else {
            if catalogue::looks_like_handler(&name) {
                let hint = catalogue::closest(&name)
                    .map(|close| format!("did you mean `{close}`? "))
                    .unwrap_or_default();
                errors.push(syn::Error::new(
                    method.sig.ident.span(),
                    format!(
                        "unknown handler `{name}`; {hint}the handlers are {}; \
                         if this is a helper method, mark it `#[{HELPER_ATTR}]`",
                        list(
                            &catalogue::HANDLERS
                                .iter()
                                .map(|s| s.name)
                                .collect::<Vec<_>>()
                        )
                    ),
                ));
            }
            continue;
        };
        if let Some(first) = handlers.iter().find(|h| h.spec.name == name) {
            errors.push(syn::Error::new(
                method.sig.ident.span(),
                format!("duplicate handler `{name}`: a scheduler has one `{name}`; remove or merge this one"),
            ));
            errors.push(syn::Error::new(
                first.ident.span(),
                format!("`{name}` is first defined here"),
            ));
            continue;
        }
        if let Err(err) = check_signature(spec, &method.sig, args.task.as_ref(), &task_name) {
            errors.push(err);
        }
        handlers.push(Handler {
            spec,
            ident: method.sig.ident.clone(),
        });
    }

    let missing: Vec<&HandlerSpec> = catalogue::HANDLERS
        .iter()
        .filter(|spec| spec.required && !handlers.iter().any(|h| h.spec.name == spec.name))
        .collect();
    if !missing.is_empty() {
        let names = list(&missing.iter().map(|spec| spec.name).collect::<Vec<_>>());
        let signatures = missing
            .iter()
            .map(|spec| format!("    {} {{ .. }}", spec.expected_signature(&task_name)))
            .collect::<Vec<_>>()
            .join("\n");
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            format!(
                "this scheduler is missing the required handler{} {names}; add to this impl:\n{signatures}",
                if missing.len() == 1 { "" } else { "s" }
            ),
        ));
    }

    Checked {
        model: args.model.map(|(model, _)| model),
        task: args.task.clone(),
        handlers,
    }
}

/// Whether `method` carries `#[helper]`.
pub(crate) fn is_helper(method: &ImplItemFn) -> bool {
    method
        .attrs
        .iter()
        .any(|attr| attr.path().is_ident(HELPER_ATTR))
}

/// The parameter types a handler may have after `&mut self`.
#[derive(Clone, Copy)]
enum Param {
    TaskRef,
    MsgRef(&'static str),
    CxRef,
    Cpu,
    I64,
}

/// The return types a handler may have.
#[derive(Clone, Copy)]
enum Ret {
    Unit,
    OptionGtid,
    RpcResponse,
}

fn shape_of(spec: &HandlerSpec) -> (&'static [Param], Ret) {
    match spec.shape {
        Shape::Task { msg } => (task_params(msg), Ret::Unit),
        Shape::Cpu { msg } => (cpu_params(msg), Ret::Unit),
        Shape::PickNext => (&[Param::Cpu, Param::CxRef], Ret::OptionGtid),
        Shape::Rpc => (
            &[Param::I64, Param::MsgRef("AgentRpcArgs"), Param::CxRef],
            Ret::RpcResponse,
        ),
        Shape::EnclaveReady => (&[Param::CxRef], Ret::Unit),
    }
}

fn task_params(msg: &'static str) -> &'static [Param] {
    // A static slice per message name of the catalogue (the names are a finite set).
    macro_rules! table {
        ($($name:literal),*) => {
            match msg {
                $($name => &[Param::TaskRef, Param::MsgRef($name), Param::CxRef],)*
                _ => &[Param::TaskRef, Param::MsgRef("?"), Param::CxRef],
            }
        };
    }
    table!(
        "TaskNew",
        "TaskWakeup",
        "TaskBlocked",
        "TaskYield",
        "TaskPreempt",
        "TaskDeparted",
        "TaskDead",
        "TaskAffinityChanged"
    )
}

fn cpu_params(msg: &'static str) -> &'static [Param] {
    match msg {
        "CpuTick" => &[Param::Cpu, Param::MsgRef("CpuTick"), Param::CxRef],
        "CpuNotIdle" => &[Param::Cpu, Param::MsgRef("CpuNotIdle"), Param::CxRef],
        "CpuAvailable" => &[Param::Cpu, Param::MsgRef("CpuAvailable"), Param::CxRef],
        _ => &[Param::Cpu, Param::MsgRef("?"), Param::CxRef],
    }
}

/// Checks `sig` against `spec`; the error spans the offending part of the user's signature and
/// shows the expected signature.
fn check_signature(
    spec: &HandlerSpec,
    sig: &Signature,
    task: Option<&Type>,
    task_name: &str,
) -> syn::Result<()> {
    let expected = spec.expected_signature(task_name);
    let wrong = |span_of: &dyn ToTokens, what: &str| {
        syn::Error::new_spanned(
            span_of.to_token_stream(),
            format!(
                "handler `{}` has the wrong signature: {what}\nexpected: `{expected}`",
                spec.name
            ),
        )
    };
    if let Some(token) = &sig.constness {
        return Err(wrong(token, "a handler cannot be `const`"));
    }
    if let Some(token) = &sig.asyncness {
        return Err(wrong(
            token,
            "a handler cannot be `async` (the agent loop never waits)",
        ));
    }
    if let Some(token) = &sig.unsafety {
        return Err(wrong(token, "a handler cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        return Err(wrong(abi, "a handler cannot have an `extern` ABI"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(wrong(&sig.generics, "a handler cannot be generic"));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(wrong(variadic, "a handler cannot be variadic"));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some()
                && receiver.mutability.is_some()
                && receiver.colon_token.is_none() => {}
        Some(other) => return Err(wrong(other, "the first parameter must be `&mut self`")),
        None => return Err(wrong(sig, "the first parameter must be `&mut self`")),
    }
    let (params, ret) = shape_of(spec);
    let given: Vec<&syn::PatType> = inputs
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .collect();
    if given.len() != params.len() {
        return Err(wrong(
            &sig.inputs,
            &format!(
                "it takes {} parameter{} after `&mut self`, the handler takes {}",
                given.len(),
                if given.len() == 1 { "" } else { "s" },
                params.len()
            ),
        ));
    }
    for (param, expected_param) in given.iter().zip(params) {
        if let Some(problem) = param_problem(&param.ty, *expected_param, task) {
            return Err(wrong(*param, &problem));
        }
    }
    let ret_ok = match (&sig.output, ret) {
        (ReturnType::Default, Ret::Unit) => true,
        (ReturnType::Type(_, ty), Ret::Unit) => {
            matches!(&**ty, Type::Tuple(t) if t.elems.is_empty())
        }
        (ReturnType::Type(_, ty), Ret::OptionGtid) => path_last(ty).is_some_and(|(ident, args)| {
            ident == "Option"
                && single_type_arg(args)
                    .is_some_and(|inner| path_last(inner).is_some_and(|(ident, _)| ident == "Gtid"))
        }),
        (ReturnType::Type(_, ty), Ret::RpcResponse) => {
            path_last(ty).is_some_and(|(i, _)| i == "AgentRpcResponse")
        }
        (ReturnType::Default, _) => false,
    };
    if !ret_ok {
        let what = match ret {
            Ret::Unit => "it must not return a value",
            Ret::OptionGtid => "it must return `Option<Gtid>` (the task to run, or None to idle)",
            Ret::RpcResponse => "it must return `AgentRpcResponse`",
        };
        return match &sig.output {
            ReturnType::Default => Err(wrong(sig, what)),
            ReturnType::Type(_, ty) => Err(wrong(ty, what)),
        };
    }
    Ok(())
}

/// Why `ty` is not the expected parameter type, if it is not.
fn param_problem(ty: &Type, expected: Param, task: Option<&Type>) -> Option<String> {
    match expected {
        Param::TaskRef => {
            let task_ref = reference(ty, true)
                .and_then(path_last)
                .filter(|(ident, _)| *ident == "Task");
            let Some((_, args)) = task_ref else {
                return Some("the task parameter must be `&mut Task<..>`".to_owned());
            };
            let Some(arg) = single_type_arg(args) else {
                return Some("`Task` takes the scheduler's task type: `Task<..>`".to_owned());
            };
            // Only a clearly different name is reported here; rustc checks the exact type.
            let given = path_last(arg).map(|(ident, _)| ident.to_string());
            let declared = task.and_then(path_last).map(|(ident, _)| ident.to_string());
            match (given, declared) {
                (Some(given), Some(declared)) if given != declared => Some(format!(
                    "the task type is `{declared}` (from `task = {declared}`), not `{given}`"
                )),
                _ => None,
            }
        }
        Param::MsgRef(name) => match reference(ty, false).and_then(path_last) {
            Some((ident, _)) if ident == name => None,
            _ if name == "AgentRpcArgs" => {
                Some("the arguments parameter must be `&AgentRpcArgs`".to_owned())
            }
            _ => Some(format!("the message parameter must be `&{name}`")),
        },
        Param::CxRef => match reference(ty, true).and_then(path_last) {
            Some((ident, _)) if ident == "Cx" => None,
            _ => Some("the context parameter must be `&mut Cx`".to_owned()),
        },
        Param::Cpu => match path_last(ty) {
            Some((ident, _)) if ident == "Cpu" => None,
            _ => Some(
                "the CPU parameter must be `Cpu` (by value: it is a small copyable handle)"
                    .to_owned(),
            ),
        },
        Param::I64 => match path_last(ty) {
            Some((ident, _)) if ident == "i64" => None,
            _ => Some("the request parameter must be `i64`".to_owned()),
        },
    }
}

/// `inner` when `ty` is `&mut inner` (`mutable`) or `&inner` (not `mutable`).
fn reference(ty: &Type, mutable: bool) -> Option<&Type> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() == mutable => Some(&r.elem),
        Type::Paren(p) => reference(&p.elem, mutable),
        Type::Group(g) => reference(&g.elem, mutable),
        _ => None,
    }
}

fn path_last(ty: &Type) -> Option<(&syn::Ident, &PathArguments)> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .map(|seg| (&seg.ident, &seg.arguments)),
        Type::Paren(p) => path_last(&p.elem),
        Type::Group(g) => path_last(&g.elem),
        _ => None,
    }
}

fn single_type_arg(args: &PathArguments) -> Option<&Type> {
    match args {
        PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        },
        _ => None,
    }
}
