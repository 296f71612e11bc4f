//! Inputs for the never-panic property tests every pipeline stage runs: random token streams,
//! every truncation of a valid input, and single-token mutations of it.
//!
//! A stage under test takes these as `proc_macro2::TokenStream`s and must return `Result`: a
//! panic fails the property (proptest reports it with a shrunk input).

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::sample::select;

/// Words that steer random streams towards what the macros look at (keywords, DSL names).
const WORDS: &[&str] = &[
    "fn",
    "impl",
    "trait",
    "struct",
    "enum",
    "for",
    "dyn",
    "mut",
    "self",
    "Self",
    "pub",
    "async",
    "where",
    "return",
    "break",
    "continue",
    "loop",
    "while",
    "let",
    "if",
    "else",
    "match",
    "move",
    "crate",
    "unsafe",
    "const",
    "static",
    "type",
    "use",
    "mod",
    "goto",
    "next",
    "exit",
    "Goto",
    "Next",
    "Gear",
    "Mut",
    "Ref",
    "Option",
    "Box",
    "Rc",
    "i64",
    "u8",
    "x",
    "y",
    "a",
    "b",
    "T",
    "push",
    "pop",
    "model",
    "per_cpu",
    "centralized",
    "task",
    "task_new",
    "pick_next",
    "offload",
    "exported",
    "Stack",
    "Context",
];

/// Punctuation characters a macro might split on.
const PUNCTS: &[char] = &[
    ':', ';', ',', '&', '*', '<', '>', '=', '-', '!', '#', '.', '?', '|', '+', '/', '@',
];

const DELIMITERS: &[Delimiter] = &[
    Delimiter::Parenthesis,
    Delimiter::Brace,
    Delimiter::Bracket,
    Delimiter::None,
];

/// One random token that is not a group.
pub(crate) fn leaf() -> impl Strategy<Value = TokenTree> {
    prop_oneof![
        4 => select(WORDS).prop_map(|w| TokenTree::Ident(Ident::new(w, Span::call_site()))),
        3 => (select(PUNCTS), any::<bool>()).prop_map(|(c, joint)| {
            let spacing = if joint { Spacing::Joint } else { Spacing::Alone };
            TokenTree::Punct(Punct::new(c, spacing))
        }),
        1 => any::<u32>().prop_map(|n| TokenTree::Literal(Literal::u32_unsuffixed(n))),
        1 => "[a-z ]{0,6}".prop_map(|s| TokenTree::Literal(Literal::string(&s))),
    ]
}

/// Random token streams with nested groups.
pub(crate) fn token_stream() -> impl Strategy<Value = TokenStream> {
    let tree = leaf().prop_recursive(4, 64, 8, |inner| {
        (select(DELIMITERS), prop::collection::vec(inner, 0..8)).prop_map(|(delimiter, trees)| {
            TokenTree::Group(Group::new(delimiter, trees.into_iter().collect()))
        })
    });
    prop::collection::vec(tree, 0..24).prop_map(|trees| trees.into_iter().collect())
}

/// Every prefix of `tokens`, cutting inside groups too (the group is closed where it is cut,
/// since a token stream cannot hold an unbalanced delimiter).
pub(crate) fn truncations(tokens: &TokenStream) -> Vec<TokenStream> {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = Vec::new();
    for cut in 0..=trees.len() {
        let prefix: TokenStream = trees[..cut].iter().cloned().collect();
        if let Some(TokenTree::Group(group)) = trees.get(cut) {
            for inner in truncations(&group.stream()) {
                let mut truncated = prefix.clone();
                truncated.extend([TokenTree::Group(Group::new(group.delimiter(), inner))]);
                out.push(truncated);
            }
        }
        out.push(prefix);
    }
    out
}

/// How a mutation changes the chosen token.
#[derive(Clone, Copy, Debug)]
enum Edit {
    Replace,
    Delete,
    InsertBefore,
}

/// `tokens` with one leaf token (at any depth) replaced, deleted, or preceded by a random one.
pub(crate) fn mutations(tokens: TokenStream) -> impl Strategy<Value = TokenStream> {
    let leaves = count_leaves(&tokens).max(1);
    (
        0..leaves,
        leaf(),
        select(&[Edit::Replace, Edit::Delete, Edit::InsertBefore][..]),
    )
        .prop_map(move |(index, token, edit)| {
            let mut remaining = index;
            mutate(&tokens, &mut remaining, &token, edit)
        })
}

fn count_leaves(tokens: &TokenStream) -> usize {
    tokens
        .clone()
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => count_leaves(&group.stream()),
            _ => 1,
        })
        .sum()
}

fn mutate(
    tokens: &TokenStream,
    remaining: &mut usize,
    token: &TokenTree,
    edit: Edit,
) -> TokenStream {
    let mut out = TokenStream::new();
    for tree in tokens.clone() {
        match tree {
            TokenTree::Group(group) => {
                let inner = mutate(&group.stream(), remaining, token, edit);
                let mut rebuilt = Group::new(group.delimiter(), inner);
                rebuilt.set_span(group.span());
                out.extend([TokenTree::Group(rebuilt)]);
            }
            leaf if *remaining == 0 => {
                *remaining = usize::MAX;
                match edit {
                    Edit::Replace => out.extend([token.clone()]),
                    Edit::Delete => {}
                    Edit::InsertBefore => out.extend([token.clone(), leaf]),
                }
            }
            leaf => {
                *remaining = remaining.saturating_sub(1);
                out.extend([leaf]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn truncations_cover_every_cut_including_inside_groups() {
        let cuts: Vec<String> = truncations(&quote!(a (b c) d))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            cuts,
            ["", "a ()", "a (b)", "a (b c)", "a", "a (b c)", "a (b c) d"]
        );
    }

    proptest! {
        #[test]
        fn mutations_change_exactly_one_leaf(mutated in mutations(quote!(fn f(x: u8) {}))) {
            let before = count_leaves(&quote!(fn f(x: u8) {})) as i64;
            let after = count_leaves(&mutated) as i64;
            prop_assert!((after - before).abs() <= 1);
        }
    }
}
