//! "Did you mean" suggestions for misspelt names (handlers, keys, API names).

use proc_macro2::Span;

/// How similar (Jaro-Winkler) a candidate must be to be offered as a suggestion.
const THRESHOLD: f64 = 0.8;

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// An error for an unknown `what` called `name` at `span`: suggests the closest valid name and
/// lists all of them, e.g. "unknown argument `modle`; did you mean `model`? expected one of:
/// `model`, `task`, `crate`".
pub(crate) fn unknown_name(span: Span, what: &str, name: &str, valid: &[&str]) -> syn::Error {
    let mut message = format!("unknown {what} `{name}`");
    if let Some(suggestion) = did_you_mean(name, valid.iter().copied()) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    if valid.is_empty() {
        message.push_str("; none is accepted here");
    } else if message.ends_with('?') {
        let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
        message.push_str(&format!(" expected one of: {}", list.join(", ")));
    } else {
        let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
        message.push_str(&format!("; expected one of: {}", list.join(", ")));
    }
    syn::Error::new(span, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_and_only_close_names() {
        let valid = ["task_new", "task_dead", "pick_next"];
        assert_eq!(did_you_mean("task_nwe", valid), Some("task_new"));
        assert_eq!(did_you_mean("pick_nxt", valid), Some("pick_next"));
        assert_eq!(did_you_mean("zzz", valid), None);
    }

    #[test]
    fn unknown_name_lists_every_valid_name() {
        let e = unknown_name(Span::call_site(), "argument", "modle", &["model", "task"]);
        assert_eq!(
            e.to_string(),
            "unknown argument `modle`; did you mean `model`? expected one of: `model`, `task`"
        );
        let e = unknown_name(Span::call_site(), "argument", "x", &[]);
        assert_eq!(e.to_string(), "unknown argument `x`; none is accepted here");
    }
}
