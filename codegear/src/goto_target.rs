//! What `goto!(f(..))` resolves to when `f` has no `__gears_goto` of its own: a fallback method
//! whose only job is a readable error.
//!
//! `goto!(f(a, b))` expands to a method call on `f`. Code gears, continuations and the stand-ins
//! emitted for broken code gears have an inherent `__gears_goto`, which method resolution
//! prefers over any trait method. Anything else (typically a plain `fn` that lacks
//! `#[code_gear]`) would otherwise get rustc's "no method named `__gears_goto`". The expansion
//! brings the one of `GotoFallback0`..`GotoFallback12` of the call's arity into scope (one only:
//! method lookup is by name, so two would be ambiguous), so such a call instead picks the
//! fallback, whose `Self: GotoTarget` bound fails with the message on
//! [`GotoTarget`]. The fallback is also picked for a code gear whose parameters are not values
//! (its inherent method's bounds fail); `GotoTarget` holds there, so no second error is added
//! to the one already reported at the definition.

use crate::code::{BrokenCodeGear, CodeGear, Goto, Next, Untyped};

/// What `goto!(target(args..))` can jump to: a `#[code_gear]` or a continuation.
#[diagnostic::on_unimplemented(
    message = "`goto!`/`next!` can only name a code gear or a continuation, and this is neither",
    label = "not a `#[code_gear]` nor a `Next<(..)>` continuation",
    note = "the target's type is `{Self}`; if it is a plain `fn`, mark its definition with `#[code_gear]` (a code gear is a `fn(..) -> Goto` whose values are `Clone + Debug + Hash + Eq + Send`)"
)]
pub trait GotoTarget {}

impl<A> GotoTarget for CodeGear<A> {}
impl<A> GotoTarget for BrokenCodeGear<A> {}
impl<const N: usize> GotoTarget for Untyped<N> {}
impl<O> GotoTarget for Next<O> {}

macro_rules! fallback {
    ($($trait:ident: [$($name:ident)*])*) => {$(
        /// See the [module](self): the `goto!` fallback of this arity.
        #[doc(hidden)]
        pub trait $trait {
            /// Never runs: reached only where an error is reported, or where the definition's
            /// own error was.
            #[allow(non_snake_case, clippy::too_many_arguments)]
            fn __gears_goto<$($name,)*>(&self, $($name: $name),*) -> Goto
            where
                Self: GotoTarget;
        }

        impl<T: ?Sized> $trait for T {
            #[allow(non_snake_case, clippy::too_many_arguments, unused_variables)]
            fn __gears_goto<$($name,)*>(&self, $($name: $name),*) -> Goto
            where
                Self: GotoTarget,
            {
                unreachable!("a goto! whose target did not compile")
            }
        }
    )*};
}

fallback! {
    GotoFallback0: [] GotoFallback1: [A] GotoFallback2: [A B] GotoFallback3: [A B C]
    GotoFallback4: [A B C D] GotoFallback5: [A B C D E] GotoFallback6: [A B C D E F]
    GotoFallback7: [A B C D E F G] GotoFallback8: [A B C D E F G H]
    GotoFallback9: [A B C D E F G H I] GotoFallback10: [A B C D E F G H I J]
    GotoFallback11: [A B C D E F G H I J K] GotoFallback12: [A B C D E F G H I J K L]
}

/// The `next!(f(..))` counterpart of the `goto!` fallbacks: picked where `f` has no
/// `__gears_bind` of its own, or where its own one does not apply because `f`'s parameters are
/// not values (already reported at `f`'s definition).
#[doc(hidden)]
pub trait BindFallback {
    /// Never runs (see [`GotoFallback0::__gears_goto`]).
    fn __gears_bind<P, R>(&self, prefix: P) -> Next<R>
    where
        Self: GotoTarget;
}

impl<T: ?Sized> BindFallback for T {
    fn __gears_bind<P, R>(&self, _prefix: P) -> Next<R>
    where
        Self: GotoTarget,
    {
        unreachable!("a next! whose target did not compile")
    }
}
