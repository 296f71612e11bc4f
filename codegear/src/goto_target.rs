//! What `goto!(f(..))` resolves to when `f` has no `goto` method of its own: a fallback method
//! whose only job is a readable error.
//!
//! `goto!(f(a, b))` expands to `f.goto(a, b)`. Code gears, continuations and the stand-ins
//! emitted for broken code gears have an inherent `goto`, which method resolution prefers over
//! any trait method. Anything else (typically a plain `fn` that lacks
//! `#[code_gear]`) would otherwise get rustc's "no method named `goto`". The expansion
//! brings the one of `GotoFallback0`..`GotoFallback12` of the call's arity into scope (one only:
//! method lookup is by name, so two would be ambiguous), so such a call instead picks the
//! fallback, whose return type `<Self as GotoTarget>::Transition` (and `where Self: GotoTarget`) does not exist, with the
//! message on [`GotoTarget`] (a projection rather than a `where` bound, so that rustc adds no
//! "required by a bound in" note naming the fallback). The fallback is also picked for a code gear whose parameters are not values
//! (its inherent method's bounds fail); `GotoTarget` holds there, so no second error is added
//! to the one already reported at the definition.

use crate::code::{BrokenCodeGear, CodeGear, Goto, Next, Untyped};

/// What `goto!(target(args..))` and `next!(target(..))` can name: a `#[code_gear]` or a
/// continuation [`Next`]. Named in the error for anything else (typically a plain `fn` that
/// lacks `#[code_gear]`).
#[diagnostic::on_unimplemented(
    message = "`goto!`/`next!` can only name a code gear or a continuation, and this is neither",
    label = "not a `#[code_gear]` nor a `Next<(..)>` continuation",
    note = "the target's type is `{Self}`; if it is a plain `fn`, mark its definition with `#[code_gear]` (a code gear is a `fn(..) -> Goto` whose values are `Clone + Debug + Hash + Eq + Send`); a continuation's outputs are a tuple: `Next<(T,)>`"
)]
pub trait GotoTarget {
    /// What `goto!` of it is: a [`Goto`].
    type Transition;
    /// What `next!` of it is: a [`Next`].
    type Continuation<R>;
}

// Not listed as "other types that implement `GotoTarget`" under the error for a plain `fn`:
// the error's own note says what to do, and the list would point into this file.
#[diagnostic::do_not_recommend]
impl<A> GotoTarget for CodeGear<A> {
    type Transition = Goto;
    type Continuation<R> = Next<R>;
}
// A continuation's outputs are a tuple (`Next<(u64,)>`): only those have a `goto`. A
// `Next<u64>` (written through an alias; `#[code_gear]` rejects the plain spelling) is this
// trait's error, not a fallback that compiles and never runs.
macro_rules! next_targets {
    ($([$($name:ident)*])*) => {$(
        #[diagnostic::do_not_recommend]
        impl<$($name,)*> GotoTarget for Next<($($name,)*)> {
            type Transition = Goto;
            type Continuation<R> = Next<R>;
        }
    )*};
}

next_targets! {
    [] [A] [A B] [A B C] [A B C D] [A B C D E] [A B C D E F] [A B C D E F G] [A B C D E F G H]
    [A B C D E F G H I] [A B C D E F G H I J] [A B C D E F G H I J K] [A B C D E F G H I J K L]
}
#[diagnostic::do_not_recommend]
impl<A> GotoTarget for BrokenCodeGear<A> {
    type Transition = Goto;
    type Continuation<R> = Next<R>;
}
#[diagnostic::do_not_recommend]
impl<const N: usize> GotoTarget for Untyped<N> {
    type Transition = Goto;
    type Continuation<R> = Next<R>;
}

macro_rules! fallback {
    ($($trait:ident: [$($name:ident)*])*) => {$(
        /// See the [module](self): the `goto!` fallback of this arity.
        #[doc(hidden)]
        pub trait $trait {
            /// Never runs: reached only where an error is reported, or where the definition's
            /// own error was.
            #[allow(non_snake_case, clippy::too_many_arguments, unused_variables)]
            fn goto<$($name,)*>(&self, $($name: $name),*) -> <Self as GotoTarget>::Transition
            where
                Self: GotoTarget,
            {
                unreachable!("a goto! whose target did not compile")
            }
        }

        impl<T: ?Sized> $trait for T {}
    )*};
}

fallback! {
    GotoFallback0: [] GotoFallback1: [A] GotoFallback2: [A B] GotoFallback3: [A B C]
    GotoFallback4: [A B C D] GotoFallback5: [A B C D E] GotoFallback6: [A B C D E F]
    GotoFallback7: [A B C D E F G] GotoFallback8: [A B C D E F G H]
    GotoFallback9: [A B C D E F G H I] GotoFallback10: [A B C D E F G H I J]
    GotoFallback11: [A B C D E F G H I J K] GotoFallback12: [A B C D E F G H I J K L]
}

/// The `next!(f(..))` counterpart of the `goto!` fallbacks: picked where `f` has no `bind` of
/// its own, or where its own one does not apply because `f`'s parameters are not values
/// (already reported at `f`'s definition).
#[doc(hidden)]
pub trait BindFallback {
    /// Never runs (see [`GotoFallback0::goto`]).
    fn bind<P, R>(&self, _prefix: P) -> <Self as GotoTarget>::Continuation<R>
    where
        Self: GotoTarget,
    {
        unreachable!("a next! whose target did not compile")
    }
}

impl<T: ?Sized> BindFallback for T {}

/// What `goto!(gear.code_gear(..))` and `next!(gear.code_gear(..))` need: a handle to an
/// interface, [`Gear<dyn I>`](crate::Gear). Named in the error for anything else.
///
/// No type implements it: `Gear<dyn I>` has [`Gear::api`](crate::Gear::api) and
/// [`Gear::continuations`](crate::Gear::continuations) of its
/// own, and the fallback that reports the error names this trait's (never resolved) types, so
/// that the method called on them adds no second error.
#[diagnostic::on_unimplemented(
    message = "`goto!(gear.code_gear(..))` needs a `Gear<dyn Interface>` handle, and `{Self}` is not one",
    label = "not a handle to an interface",
    note = "to go to the code gear of an interface that the data gear implements, upcast the handle first: `let gear = gear.upcast::<dyn Interface>();`",
    note = "to go to a free `#[code_gear] fn`, pass the handle as an argument: `goto!(code_gear(gear, ..))`"
)]
pub trait InterfaceHandle {
    /// [`CodeGears`](crate::CodeGears) of the interface.
    type CodeGears;
    /// [`Continuations`](crate::Continuations) of the interface.
    type Continuations;
}

/// The `goto!(gear.api(..))` counterpart of the `goto!` fallbacks: picked where the receiver is
/// not a `Gear<dyn Interface>` (which has inherent `api`/`continuations`).
#[doc(hidden)]
pub trait ApiFallback {
    /// Never runs (see [`GotoFallback0::goto`]).
    fn api(&self) -> <Self as InterfaceHandle>::CodeGears
    where
        Self: InterfaceHandle,
    {
        unreachable!("a goto! whose receiver did not compile")
    }

    /// Never runs (see [`GotoFallback0::goto`]).
    fn continuations(&self) -> <Self as InterfaceHandle>::Continuations
    where
        Self: InterfaceHandle,
    {
        unreachable!("a next! whose receiver did not compile")
    }
}

impl<T: ?Sized> ApiFallback for T {}

/// What `par_goto!(world, f(args))` adds a task to: a [`World`](crate::World). Named in the
/// error for anything else (a [`Context`](crate::Context) runs one task and has no
/// `par_goto`).
#[diagnostic::on_unimplemented(
    message = "`par_goto!(world, ..)` needs a `World`, and `{Self}` is not one",
    label = "not a `World`",
    note = "parallel tasks belong to a `World` (they share its heap): create one with `World::new()`, allocate the shared data gears in it, then `par_goto!(world, code_gear(args..))` for each task, and `world.run(..)`",
    note = "inside a code gear, `par_goto!(code_gear(args..))` (no world) adds a task to the world that is running it"
)]
pub trait ParGotoTarget {
    /// What `par_goto!` returns: the new task's [`TaskId`](crate::TaskId).
    type Task;
}

impl ParGotoTarget for crate::World {
    type Task = crate::TaskId;
}

/// The `par_goto!(world, ..)` counterpart of the `goto!` fallbacks: picked where `world` is not
/// a [`World`](crate::World) (which has an inherent `par_goto`).
#[doc(hidden)]
pub trait ParGotoFallback {
    /// Never runs (see [`GotoFallback0::goto`]).
    fn par_goto(&mut self, _first: Goto) -> <Self as ParGotoTarget>::Task
    where
        Self: ParGotoTarget,
    {
        unreachable!("a par_goto! whose world did not compile")
    }
}

impl<T: ?Sized> ParGotoFallback for T {}
