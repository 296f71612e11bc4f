//! Tokens as the user would write them: the one place types and paths become text for tables
//! (`describe()`), signatures and messages. `TokenStream::to_string` spaces every token
//! (`Gear < dyn Queue >`) and stripping the spaces glues words (`Gear<dynQueue>`); this walks the
//! tokens and puts a space only where Rust source has one.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;

/// `Gear<dyn Queue>`, `Mut<'_, Counter>`, `Option<(i64, i64)>`, `&'a mut [u8; 4]`, `a::b::C`.
pub(crate) fn tokens_text(tokens: &impl ToTokens) -> String {
    let mut out = String::new();
    write_stream(&mut out, tokens.to_token_stream());
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Nothing yet, or an opening delimiter / a joint punctuation: no space before the next.
    Glue,
    /// An identifier or literal: a space before another word.
    Word,
    /// A keyword that a group follows with a space (`mut [u8]`, `dyn (A)`).
    Keyword,
    /// `,` `;` or a spaced operator: a space before anything.
    Space,
}

fn write_stream(out: &mut String, tokens: TokenStream) {
    let mut last = Last::Glue;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident) => {
                if last != Last::Glue {
                    out.push(' ');
                }
                let text = ident.to_string();
                out.push_str(&text);
                last = if matches!(
                    text.as_str(),
                    "mut" | "dyn" | "impl" | "const" | "as" | "in"
                ) {
                    Last::Keyword
                } else {
                    Last::Word
                };
            }
            TokenTree::Literal(literal) => {
                if last != Last::Glue {
                    out.push(' ');
                }
                out.push_str(&literal.to_string());
                last = Last::Word;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                if matches!(last, Last::Space | Last::Keyword)
                    || (last == Last::Word && open == "{ ")
                {
                    out.push(' ');
                }
                out.push_str(open);
                write_stream(out, group.stream());
                out.push_str(close);
                last = Last::Word;
            }
            TokenTree::Punct(punct) => {
                let c = punct.as_char();
                let joint = punct.spacing() == Spacing::Joint;
                match c {
                    ',' | ';' => {
                        out.push(c);
                        last = Last::Space;
                    }
                    // `T: Bound`, `A + B`, `Item = T`, `-> T`: spaced like rustfmt.
                    ':' if !joint && !out.ends_with(':') => {
                        out.push_str(": ");
                        last = Last::Glue;
                    }
                    '+' | '=' if !joint => {
                        out.push(' ');
                        out.push(c);
                        out.push(' ');
                        last = Last::Glue;
                    }
                    '-' if joint
                        && matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '>') =>
                    {
                        tokens.next();
                        out.push_str(" -> ");
                        last = Last::Glue;
                    }
                    '\'' => {
                        if last != Last::Glue {
                            out.push(' ');
                        }
                        out.push(c);
                        last = Last::Glue;
                    }
                    '&' | '*' if last != Last::Glue => {
                        out.push(' ');
                        out.push(c);
                        last = Last::Glue;
                    }
                    _ => {
                        out.push(c);
                        last = Last::Glue;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tokens_text;

    #[test]
    fn types_print_as_written() {
        for (ty, expected) in [
            (quote::quote!(Gear<dyn Queue>), "Gear<dyn Queue>"),
            (quote::quote!(Mut<'_, Counter>), "Mut<'_, Counter>"),
            (quote::quote!(Option<(i64, i64)>), "Option<(i64, i64)>"),
            (quote::quote!(&'a mut [u8; 4]), "&'a mut [u8; 4]"),
            (quote::quote!(a::b::C<T>), "a::b::C<T>"),
            (quote::quote!(Vec<f64>), "Vec<f64>"),
            (
                quote::quote!(Box<dyn Fn(u8) -> u8 + Send>),
                "Box<dyn Fn(u8) -> u8 + Send>",
            ),
            (quote::quote!(Next<()>), "Next<()>"),
            (quote::quote!(*const u8), "*const u8"),
            (quote::quote!(HashMap<K, Vec<V>>), "HashMap<K, Vec<V>>"),
        ] {
            assert_eq!(tokens_text(&ty), expected);
        }
    }
}
