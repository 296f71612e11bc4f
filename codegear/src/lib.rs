//! codegear: GearsOS-style code gears and data gears for Rust.
//!
//! A program is a set of **code gears** (`#[code_gear] fn f(..) -> Goto`) that never return to
//! their caller: each ends with `goto!(next(..))`, naming the code gear to run next. **Data
//! gears** (`#[data_gear]`) are the state they work on, kept in a [`Context`]'s heap and handed
//! to code gears as [`Mut`]/[`Ref`] views. **Interfaces** (`#[interface] trait`) group API code
//! gears that several data gears implement (`#[code_gear] impl I for D`).
//!
//! Everything GearsOS's Perl scripts generated (stubs, `enum Code`, `enum DataType`,
//! `context.h`, per-implementation API tables) the macros generate here, at compile time, and
//! the [`Context`] builds its tables from their registrations. Every transition goes through the
//! meta level: [`Context::run`] is a trampoline, and [`Meta`]s installed per code gear (by name
//! pattern or interface, like meta.pm's `replaceMeta`) see each one.
//!
//! ```
//! use codegear::prelude::*;
//!
//! #[data_gear]
//! #[derive(Default)]
//! pub struct Counter { value: u64 }
//!
//! #[code_gear]
//! fn count_to(counter: Mut<'_, Counter>, limit: u64, next: Next<(u64,)>) -> Goto {
//!     let mut counter = counter;
//!     if counter.value == limit {
//!         return goto!(next(counter.value));
//!     }
//!     counter.value += 1;
//!     goto!(count_to(counter.gear(), limit, next))
//! }
//!
//! let mut ctx = Context::new();
//! let counter = ctx.alloc(Counter::default());
//! let exit = ctx.run(goto!(count_to(counter, 5, Next::exit()))).unwrap();
//! assert_eq!(exit.outputs.take::<(u64,)>().unwrap(), (5,));
//! assert_eq!(exit.steps, 6);
//! ```
//!
//! # Compile-time errors
//!
//! The macros check the code-gear shape and say what is wrong at the user's tokens; the full
//! catalogue, with the exact messages, is in the workspace's `ui-tests`. The main ones:
//!
//! An implementation that leaves out code gears of its interface (all are named, like GearsOS's
//! "Not define eating"):
//!
//! ```compile_fail
//! use codegear::prelude::*;
//! #[interface]
//! pub trait Phils {
//!     fn thinking(&mut self, next: Next<()>) -> Goto;
//!     fn eating(&mut self, next: Next<()>) -> Goto;
//! }
//! #[data_gear]
//! pub struct PhilsImpl { id: u32 }
//! #[code_gear]
//! impl Phils for PhilsImpl {
//!     fn thinking(&mut self, next: Next<()>) -> Goto { goto!(next()) }
//! }
//! ```
//!
//! A code gear that returns to its caller instead of going to the next code gear:
//!
//! ```compile_fail
//! use codegear::prelude::*;
//! #[code_gear]
//! fn add(a: i64, b: i64) -> i64 { a + b }
//! ```
//!
//! A parameter that cannot travel in a continuation (a reference, `Rc`, a raw pointer, a float):
//!
//! ```compile_fail
//! use codegear::prelude::*;
//! #[code_gear]
//! fn greet(name: &str, next: Next<()>) -> Goto { goto!(next()) }
//! ```
//!
//! A call of an API the interface does not have, or arguments of the wrong type:
//!
//! ```compile_fail
//! use codegear::prelude::*;
//! #[interface]
//! pub trait Stack { fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto; }
//! #[code_gear]
//! fn test(stack: Gear<dyn Stack>, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
//!     goto!(stack.pop3(next))
//! }
//! ```
//!
//! ```compile_fail
//! use codegear::prelude::*;
//! #[code_gear]
//! fn add(a: i64, b: i64, next: Next<(i64,)>) -> Goto { goto!(next(a + b)) }
//! #[code_gear]
//! fn start(next: Next<(i64,)>) -> Goto { goto!(add(1, "two", next)) }
//! ```
//!
//! # Generics
//!
//! An interface may be generic over types (the seed's `Stack<Type>`); a generic data gear or
//! implementation lists the instances the program uses, and each gets its own rows in the tables
//! (Rust registers an item once, at link time, not once per use). Free code gears are not
//! generic: a code gear is one row of the code-gear table.
//!
//! ```
//! use codegear::prelude::*;
//!
//! #[interface]
//! pub trait Stack<T> {
//!     fn push(&mut self, data: T, next: Next<()>) -> Goto;
//!     fn pop(&mut self, next: Next<(Option<T>,)>) -> Goto;
//! }
//!
//! #[data_gear(instances(i64, String))]
//! #[derive(Default)]
//! pub struct SingleLinkedStack<T> { items: Vec<T> }
//!
//! #[code_gear(instances(i64, String))]
//! impl<T: codegear::Value> Stack<T> for SingleLinkedStack<T> {
//!     fn push(&mut self, data: T, next: Next<()>) -> Goto { self.items.push(data); goto!(next()) }
//!     fn pop(&mut self, next: Next<(Option<T>,)>) -> Goto { let top = self.items.pop(); goto!(next(top)) }
//! }
//!
//! #[code_gear]
//! fn push_then_pop(stack: Gear<dyn Stack<String>>, next: Next<(Option<String>,)>) -> Goto {
//!     // `next!(gear.api(..))`: an interface code gear as the continuation.
//!     goto!(stack.push("seed".to_string(), next!(stack.pop(next))))
//! }
//!
//! let mut ctx = Context::new();
//! let words = ctx.alloc(SingleLinkedStack::<String>::default()).upcast::<dyn Stack<String>>();
//! let exit = ctx.run(goto!(push_then_pop(words, Next::exit()))).unwrap();
//! assert_eq!(exit.outputs.take::<(Option<String>,)>().unwrap(), (Some("seed".to_string()),));
//! assert!(ctx.describe().contains("C_SingleLinkedStack<String>_push"));
//! ```
//!
//! A use at a type the list leaves out is the compile error "`SingleLinkedStack<u8>` is not a
//! data gear".
//!
//! # Metas
//!
//! A [`Meta`] sees every transition of the code gears a [`Selector`] picks (by glob, regular
//! expression, or interface) and may redirect it ([`Redirect`]): run it, send it elsewhere, insert
//! steps before it, or stop. Metas go on a [`Context`] ([`Context::replace_meta`]) or on a
//! [`World`] ([`World::replace_meta`], [`World::replace_task_meta`], and
//! [`World::observe_meta`] for observers that also see the steps [`World::check`] explores).
//!
//! ```
//! use codegear::prelude::*;
//! use codegear::{Meta, Redirect, Selector, Transition};
//!
//! #[code_gear]
//! fn count(n: u64, next: Next<(u64,)>) -> Goto {
//!     if n == 0 { goto!(next(0)) } else { goto!(count(n - 1, next)) }
//! }
//!
//! /// meta.pm's `replaceMeta`: sends every `count` with `n == 3` straight to the exit.
//! struct Shortcut;
//! impl Meta for Shortcut {
//!     fn redirect(&mut self, t: &Transition<'_>) -> Redirect {
//!         match t.args.clone().take::<(u64, Next<(u64,)>)>() {
//!             Ok((3, _)) => Redirect::To(Goto::exit((3u64,))),
//!             _ => Redirect::Run,
//!         }
//!     }
//! }
//!
//! let mut ctx = Context::new();
//! ctx.replace_meta(Selector::regex("^count$").unwrap(), Shortcut);
//! let exit = ctx.run(goto!(count(10, Next::exit()))).unwrap();
//! assert_eq!(exit.outputs.take::<(u64,)>().unwrap(), (3,));
//! ```
//!
//! # Model checking and state
//!
//! A program state is the [`Heap`] plus the pending [`Goto`] of each task. Both are plain values:
//! `Goto` carries its arguments inline ([`Args`], cloned, hashed and compared through one vtable
//! per argument type), and a heap's slots share their data gears through `Arc`, copied only when
//! a later step takes one as `Mut`. Cloning a state therefore costs one `Arc` increment per data
//! gear and a copy of the pending arguments, and two states compare slot by slot, short-cutting
//! on shared `Arc`s.
//!
//! # Linking
//!
//! Code gears register themselves through `inventory`: a crate that only defines gears must be
//! linked (used by something, or `use that_crate as _;`), or its gears are missing from the
//! tables. Running a `Goto` works regardless; only `describe()`, metas by selector and ids need
//! the tables.
//!
//! # Platform
//!
//! Built and tested on Linux (x86-64), the only system the workspace's CI runs. codegear itself
//! needs nothing Linux-specific (the context, the meta level, the checker and parallel runs use
//! `std` only; pinning a parallel run's workers is the one call that reports
//! `AffinityError::Unsupported` elsewhere).

mod code;
mod context;
mod error;
mod gear;
mod goto_target;
mod heap;
mod meta;
mod tables;
mod value;
mod world;
mod world_meta;

pub use code::{Bind, CodeGear, CodeGearInfo, Goto, Next, Param, ParamKind};
pub use context::{Context, Exit};
pub use error::{Error, ErrorKind, PoolFailure};
pub use gear::{
    CodeGears, Continuations, DataGear, DataGearInfo, Gear, GearTarget, Implements, Interface,
    InterfaceInfo, Mut, RawGear, Ref,
};
pub use goto_target::{GotoTarget, InterfaceHandle, ParGotoTarget};
pub use heap::{DataGearObject, Heap};
pub use meta::{
    Meta, Pattern, PatternError, Record, Redirect, Selector, StepLimit, Stop, Tracing, Transition,
};
pub use tables::Tables;
pub use value::{Args, CodeGearValue, DataGearField, INLINE_BYTES, TypeMismatch, Value};
pub use world::{
    Bound, Check, CheckpointError, Fairness, Parallel, Report, RunStats, TaskId, TraceStep,
    Verdict, View, Violation, ViolationKind, World,
};

pub use gears_macros::{code_gear, data_gear, interface};

/// `par_goto!(world, f(args))`: adds a task to a [`World`] whose first transition is
/// `goto!(f(args))`, and returns its [`TaskId`] (GearsOS's `par goto`); `par_goto!(f(args))`
/// inside a code gear adds a task to the world running it, from the end of the current step.
#[macro_export]
macro_rules! par_goto {
    // As `goto!`: a shim that hands the expansion this crate's path.
    ($($input:tt)*) => {
        $crate::__private::par_goto! { [$crate] $($input)* }
    };
}

/// `next!(f(first_args))`: the continuation that runs code gear `f` with its first parameters
/// bound (the continuation's caller supplies the rest); `next!(gear.api(args))`: an interface
/// code gear with all its arguments bound.
#[macro_export]
macro_rules! next {
    // As `goto!`: a shim that hands the expansion this crate's path.
    ($($input:tt)*) => {
        $crate::__private::next! { [$crate] $($input)* }
    };
}

/// `goto!(f(args))`, `goto!(next(args))`, `goto!(gear.api(args))`: the transition a code gear
/// ends with (GearsOS's `goto f(args)`).
///
/// `f` is a `#[code_gear]` (its arguments are checked against its parameters), `next` a
/// continuation `Next<(..)>` (the arguments complete it), `gear` a `Gear<dyn Interface>` (the
/// call goes through the implementation's API table). The expression is the `Goto` the code
/// gear returns.
#[macro_export]
macro_rules! goto {
    // A `macro_rules!` shim only to hand the expansion this crate's path (`$crate`), which works
    // however the dependency is named.
    ($($input:tt)*) => {
        $crate::__private::goto! { [$crate] $($input)* }
    };
}

/// Everything a module of code gears needs: `use codegear::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Check, Context, Error, Gear, Goto, Mut, Next, Parallel, Ref, World, choose, code_gear,
        data_gear, goto, interface, next, par_goto,
    };
}

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use crate::code::{BrokenCodeGear, Stub, Untyped};
    pub use crate::goto_target::{
        ApiFallback, BindFallback, GotoFallback0, GotoFallback1, GotoFallback2, GotoFallback3,
        GotoFallback4, GotoFallback5, GotoFallback6, GotoFallback7, GotoFallback8, GotoFallback9,
        GotoFallback10, GotoFallback11, GotoFallback12, ParGotoFallback,
    };
    pub use crate::heap::downcast_mut;
    pub use crate::tables::{
        CodeGearEntry, DataGearEntry, ImplEntry, InterfaceEntry, interface_display,
        interface_display_with,
    };
    pub use crate::world::par_goto_from_code_gear;

    /// What `par_goto!` evaluates to after reporting a compile error: a task id that names no
    /// task (never used: the program did not compile).
    pub fn invalid_task() -> crate::TaskId {
        crate::World::invalid_task()
    }
    pub use gears_macros::__codegear_impl_interface as impl_interface;
    pub use gears_macros::{goto, next, par_goto};
    pub use gears_runtime;
    pub use gears_runtime::registry::{Site, inventory};
}
