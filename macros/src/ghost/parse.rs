//! Stage 1: tokens → syntax. The attribute arguments and the `impl` block, nothing checked yet
//! beyond what is needed to read them; every problem is collected, none stops the others.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, ItemImpl, Path, Token, Type};

use crate::common::{Errors, unknown_name};

/// The keys `#[ghost_scheduler(..)]` accepts, listed in errors.
pub(crate) const VALID_KEYS: &[&str] = &["model", "task", "crate"];

/// The valid values of `model = ..`.
pub(crate) const VALID_MODELS: &[&str] = &["per_cpu", "centralized"];

/// ghOSt's two scheduling models (seed 003): one agent and channel per CPU, or one global agent
/// with one channel that commits for every CPU in a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Model {
    PerCpu,
    Centralized,
}

/// The attribute arguments as written; absent ones are `None` (check reports what is required).
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) model: Option<(Model, Span)>,
    pub(crate) task: Option<Type>,
    pub(crate) krate: Option<Path>,
    /// Keys the user wrote (possibly misspelt, as the key they most likely meant) whose value
    /// was already reported: check does not report them missing as well.
    pub(crate) attempted: Vec<&'static str>,
}

/// Parses `model = .., task = .., crate = ..`, collecting every problem into `errors`.
///
/// Hand-written rather than `common::parse_args` (darling): `task = Vec<u8>` is a type, not an
/// expression, and darling reads values as expressions; the messages are `common`'s.
pub(crate) fn parse_args(attr: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            let key = Ident::parse_any(input)?;
            input.parse::<Token![=]>()?;
            let name = key.to_string();
            let duplicate = match name.as_str() {
                "model" => {
                    let value = Ident::parse_any(input)?;
                    let model = match value.to_string().as_str() {
                        "per_cpu" => Some(Model::PerCpu),
                        "centralized" => Some(Model::Centralized),
                        other => {
                            errors.push(unknown_name(
                                value.span(),
                                "ghost scheduler model",
                                other,
                                VALID_MODELS,
                            ));
                            args.attempted.push("model");
                            None
                        }
                    };
                    let duplicate = args.model.is_some();
                    if let Some(model) = model {
                        args.model.get_or_insert((model, value.span()));
                    }
                    duplicate
                }
                "task" => {
                    let ty: Type = input.parse()?;
                    let duplicate = args.task.is_some();
                    args.task.get_or_insert(ty);
                    duplicate
                }
                "crate" => {
                    let path = Path::parse_mod_style(input)?;
                    let duplicate = args.krate.is_some();
                    args.krate.get_or_insert(path);
                    duplicate
                }
                other => {
                    errors.push(unknown_name(
                        key.span(),
                        "#[ghost_scheduler] argument",
                        other,
                        VALID_KEYS,
                    ));
                    if let Some(meant) =
                        crate::common::did_you_mean(other, VALID_KEYS.iter().copied())
                    {
                        args.attempted.push(meant);
                    }
                    // Skip the value: everything up to the next top-level comma.
                    while !input.is_empty() && !input.peek(Token![,]) {
                        input.parse::<proc_macro2::TokenTree>()?;
                    }
                    false
                }
            };
            if duplicate {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("`{name}` is given twice; keep one"),
                ));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(err) = parser.parse2(attr) {
        // Whatever came before the syntax error, `model` and `task` are not reported missing too.
        args.attempted.extend(["model", "task"]);
        errors.push(syn::Error::new(
            err.span(),
            format!(
                "{err}; #[ghost_scheduler] takes `key = value` pairs separated by commas, \
                 valid keys: {}, e.g. #[ghost_scheduler(model = per_cpu, task = MyTask)]",
                list(VALID_KEYS)
            ),
        ));
    }
    args
}

/// Parses the item under the attribute; only an `impl` block is accepted.
pub(crate) fn parse_item(item: TokenStream) -> syn::Result<ItemImpl> {
    syn::parse2::<ItemImpl>(item.clone()).map_err(|err| {
        // Point at the item itself (`struct`, `fn`, ..), past its attributes.
        let tokens: Vec<proc_macro2::TokenTree> = item.into_iter().collect();
        let mut i = 0;
        while matches!(tokens.get(i), Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '#')
            && matches!(tokens.get(i + 1), Some(proc_macro2::TokenTree::Group(_)))
        {
            i += 2;
        }
        let span = tokens
            .get(i)
            .or(tokens.first())
            .map_or(err.span(), |tt| tt.span());
        syn::Error::new(
            span,
            "#[ghost_scheduler] goes on an inherent `impl` block of the scheduler type, \
             e.g. `#[ghost_scheduler(model = per_cpu, task = MyTask)] impl MyScheduler { .. }`",
        )
    })
}

/// `a`, `b`, `c` as backquoted names.
pub(crate) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
