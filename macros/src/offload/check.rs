//! The rules of the offload DSL, each reported with a span on the user's tokens.

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::common::Errors;

/// `return`, `?`, `break` and `continue` that would leave an offloaded block.
///
/// The block runs as a closure on the hakase, so each of them would silently mean something else
/// (returning from the closure) or not compile with a confusing message. Nested closures, async
/// blocks and items have their own control flow and are skipped; loops and labelled blocks
/// inside the offloaded block may be left with `break`/`continue`.
pub(crate) fn block_escapes(block: &syn::Block, errors: &mut Errors) {
    let mut visitor = Escapes {
        errors,
        loops: 0,
        labels: Vec::new(),
    };
    visitor.visit_block(block);
}

struct Escapes<'e> {
    errors: &'e mut Errors,
    /// Unlabelled loops entered inside the block.
    loops: usize,
    /// Labels of loops and blocks entered inside the block.
    labels: Vec<String>,
}

impl Escapes<'_> {
    fn in_loop(&mut self, label: Option<&syn::Label>, body: impl FnOnce(&mut Self)) {
        let labels = self.labels.len();
        if let Some(label) = label {
            self.labels.push(label.name.ident.to_string());
        }
        self.loops += 1;
        body(self);
        self.loops -= 1;
        self.labels.truncate(labels);
    }

    fn jump(&mut self, keyword: &str, label: Option<&syn::Lifetime>, at: proc_macro2::Span) {
        let leaves = match label {
            Some(label) => !self.labels.contains(&label.ident.to_string()),
            None => self.loops == 0,
        };
        if leaves {
            let (target, jump) = match label {
                Some(label) => (format!("`{label}`"), format!("{keyword} {label}")),
                None => ("its enclosing loop".to_owned(), keyword.to_owned()),
            };
            self.errors.error_at(
                at,
                format!(
                    "`{keyword}` would leave the `offload!` block for {target}: the block runs on \
                     the hakase as a closure and must end by producing its value; return a value \
                     from the block and `{keyword}` after it, e.g. \
                     `if offload!({{ .. }}) {{ {jump} }}`"
                ),
            );
        }
    }
}

impl<'ast> Visit<'ast> for Escapes<'_> {
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_expr_return(&mut self, node: &'ast syn::ExprReturn) {
        self.errors.error_at(
            node.return_token.span,
            "`return` inside `offload!` would return from the offloaded block (which runs on the \
             hakase as a closure), not from the enclosing function; make the value the block's \
             last expression, and return after the block: `let v = offload!({ .. }); return v;`",
        );
        visit::visit_expr_return(self, node);
    }

    fn visit_expr_try(&mut self, node: &'ast syn::ExprTry) {
        self.errors.error_at(
            node.question_token.span(),
            "`?` inside `offload!` would leave the offloaded block early (it runs on the hakase \
             as a closure); make the `Result` the block's value and apply `?` outside: \
             `offload!({ .. })?`",
        );
        visit::visit_expr_try(self, node);
    }

    fn visit_expr_break(&mut self, node: &'ast syn::ExprBreak) {
        self.jump("break", node.label.as_ref(), node.span());
        visit::visit_expr_break(self, node);
    }

    fn visit_expr_continue(&mut self, node: &'ast syn::ExprContinue) {
        self.jump("continue", node.label.as_ref(), node.span());
    }

    fn visit_expr_loop(&mut self, node: &'ast syn::ExprLoop) {
        self.in_loop(node.label.as_ref(), |v| v.visit_block(&node.body));
    }

    fn visit_expr_while(&mut self, node: &'ast syn::ExprWhile) {
        self.visit_expr(&node.cond);
        self.in_loop(node.label.as_ref(), |v| v.visit_block(&node.body));
    }

    fn visit_expr_for_loop(&mut self, node: &'ast syn::ExprForLoop) {
        self.visit_expr(&node.expr);
        self.in_loop(node.label.as_ref(), |v| v.visit_block(&node.body));
    }

    fn visit_expr_block(&mut self, node: &'ast syn::ExprBlock) {
        let labels = self.labels.len();
        if let Some(label) = &node.label {
            self.labels.push(label.name.ident.to_string());
        }
        self.visit_block(&node.block);
        self.labels.truncate(labels);
    }
}

/// The rules for a function friends call by name: free, synchronous, not generic, and returning
/// nothing that points into hakase memory. `what` names it in messages.
pub(crate) fn signature(sig: &syn::Signature, what: &str, errors: &mut Errors) {
    let name = &sig.ident;
    if let Some(asyncness) = &sig.asyncness {
        errors.error(
            asyncness,
            format!(
                "{what} `{name}` cannot be `async`: the hakase runs it to completion inside an \
                 offloaded block and hands back its value, not a future; make it a plain `fn` \
                 (and wait for any future inside it)"
            ),
        );
    }
    let generic = |errors: &mut Errors, at: &dyn quote::ToTokens| {
        errors.error(
            at,
            format!(
                "{what} `{name}` cannot be generic: an exported symbol is one function at one \
                 address, which friends look up by name; export one function per concrete type"
            ),
        );
    };
    for param in &sig.generics.params {
        if !matches!(param, syn::GenericParam::Lifetime(_)) {
            generic(errors, param);
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        generic(errors, where_clause);
    }
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(receiver) => errors.error(
                receiver,
                format!(
                    "{what} `{name}` cannot take `self`: exported symbols are free functions that \
                     friends call by name; pass the value as an ordinary argument"
                ),
            ),
            syn::FnArg::Typed(typed) => {
                if let syn::Type::ImplTrait(_) = &*typed.ty {
                    generic(errors, &typed.ty);
                }
            }
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(
            variadic,
            format!("{what} `{name}` cannot be variadic: declare each argument"),
        );
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        let mut returns = HakasePointers { what, name, errors };
        returns.visit_type(ty);
    }
}

/// Finds the parts of a return type through which a friend would get hakase memory.
struct HakasePointers<'a, 'e> {
    what: &'a str,
    name: &'a syn::Ident,
    errors: &'e mut Errors,
}

impl HakasePointers<'_, '_> {
    fn report(&mut self, at: &dyn quote::ToTokens, kind: &str) {
        let (what, name) = (self.what, self.name);
        self.errors.error(
            at,
            format!(
                "{what} `{name}` returns {kind}: friend code cannot use hakase memory, so an \
                 address the hakase hands back is useless to the friend (as Toshokan warns); \
                 return an owned value instead (e.g. `T`, `String`, `Vec<T>`)"
            ),
        );
    }
}

impl<'ast> Visit<'ast> for HakasePointers<'_, '_> {
    fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
        self.report(node, "a reference");
    }

    fn visit_type_ptr(&mut self, node: &'ast syn::TypePtr) {
        self.report(node, "a raw pointer");
    }

    fn visit_type_bare_fn(&mut self, node: &'ast syn::TypeBareFn) {
        self.report(node, "a function pointer (a hakase code address)");
    }

    fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
        let (what, name) = (self.what, self.name);
        self.errors.error(
            node,
            format!(
                "{what} `{name}` cannot return `impl Trait`: friends call it through a `fn` \
                 pointer type, which must name the return type; return a concrete type"
            ),
        );
    }
}
