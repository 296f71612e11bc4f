//! Code gears and continuations: [`CodeGear`] (a row of GearsOS's `enum Code` plus its stub),
//! [`Goto`] (the pending transition) and [`Next`] (a continuation, possibly with bound inputs).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use gears_runtime::registry::Site;

use crate::error::Error;
use crate::gear::InterfaceInfo;
use crate::heap::Heap;
use crate::value::{Args, TypeMismatch, Value};

/// How a code-gear parameter is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// An owned value.
    Value,
    /// A continuation `Next<..>`.
    Next,
    /// A data-gear handle passed on untouched (`Gear<T>`, `Gear<dyn I>`).
    Handle,
    /// A data gear borrowed exclusively for the step (`Mut<T>`, `&mut self`).
    Mut,
    /// A data gear borrowed shared for the step (`Ref<T>`, `&self`).
    Ref,
}

/// One parameter of a code gear, as declared.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Its declared type, as written.
    pub ty: &'static str,
    /// How it is passed.
    pub kind: ParamKind,
}

/// The stub of a code gear: takes its inputs out of the pending transition's arguments (values)
/// and the heap (data gears), runs the body, and writes the next transition in place. Working in
/// place keeps the trampoline from copying `Goto`s through the stack.
pub type Stub = fn(&mut Heap, &mut Goto) -> Result<(), Error>;

const NO_ID: u32 = u32::MAX;

/// Static facts about one code gear: its row in the code-gear table and its stub.
pub struct CodeGearInfo {
    /// The name shown in traces: `pop2_test`, or `SingleLinkedStack::pop2` in an impl.
    pub name: &'static str,
    /// The unique registry key: `module_path::name`.
    pub path: &'static str,
    /// The interface it implements an API of, if any.
    pub interface: Option<&'static InterfaceInfo>,
    /// Its parameters (for an API code gear, `self` first).
    pub params: &'static [Param],
    /// Where it was defined.
    pub site: Site,
    stub: Stub,
    id: AtomicU32,
    /// The name tables and traces show, set when the table is built: `name`, module-qualified
    /// only as far as needed where two modules define the same name.
    display: OnceLock<&'static str>,
}

impl CodeGearInfo {
    /// A row; `id` is assigned when the code-gear table is built.
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        path: &'static str,
        interface: Option<&'static InterfaceInfo>,
        params: &'static [Param],
        site: Site,
        stub: Stub,
    ) -> Self {
        Self {
            name,
            path,
            interface,
            params,
            site,
            stub,
            id: AtomicU32::new(NO_ID),
            display: OnceLock::new(),
        }
    }

    /// The name tables, traces and errors show: [`name`](Self::name) where it is unique among
    /// the linked code gears, else qualified by as many trailing module segments as tell the
    /// homonyms apart (`a::Cell::put` beside `b::Cell::put`).
    pub fn display_name(&self) -> &'static str {
        self.display.get().copied().unwrap_or(self.name)
    }

    pub(crate) fn set_display_name(&self, name: &'static str) {
        let _ = self.display.set(name);
    }

    /// The id in the code-gear table (name order), once a table has been built.
    pub fn id(&self) -> Option<u32> {
        match self.id.load(Ordering::Relaxed) {
            NO_ID => None,
            id => Some(id),
        }
    }

    pub(crate) fn set_id(&self, id: u32) {
        self.id.store(id, Ordering::Relaxed);
    }

    pub(crate) fn stub(&self) -> Stub {
        self.stub
    }

    /// Whether this is the exit pseudo gear that ends a run.
    pub fn is_exit(&self) -> bool {
        std::ptr::eq(self, &EXIT)
    }

    /// The parameter list as Rust source, e.g. `stack: Gear<dyn Stack>, next: Next<()>`.
    pub fn signature(&self) -> String {
        self.params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Debug for CodeGearInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.display_name(), self.signature())
    }
}

fn exit_stub(_: &mut Heap, _: &mut Goto) -> Result<(), Error> {
    Ok(())
}

/// The pseudo code gear that ends a run; its arguments are the run's outputs.
pub(crate) static EXIT: CodeGearInfo = CodeGearInfo::new(
    "exit",
    "codegear::exit",
    None,
    &[],
    Site::new(file!(), line!(), column!()),
    exit_stub,
);

/// A code gear as user code names it: `#[code_gear] fn f(..)` defines a static `f` of this type.
/// `A` is the tuple of its parameters as passed (`Mut<T>`/`Ref<T>` travel as `Gear<T>`).
///
/// It cannot be called directly: `goto!(f(..))` makes a [`Goto`] to it and `next!(f(..))` a
/// [`Next`] that will, and the meta level runs it.
pub struct CodeGear<A> {
    info: CodeGearInfo,
    _args: PhantomData<fn(A)>,
}

impl<A> CodeGear<A> {
    #[doc(hidden)]
    pub const fn new(info: CodeGearInfo) -> Self {
        Self {
            info,
            _args: PhantomData,
        }
    }
}

impl<A: Value> CodeGear<A> {
    /// Its row in the code-gear table.
    pub fn info(&'static self) -> &'static CodeGearInfo {
        &self.info
    }

    /// A transition to this code gear with all its arguments.
    pub fn goto_with(&'static self, args: A) -> Goto {
        Goto::new(&self.info, Args::new(args))
    }

    /// The continuation that goes to this code gear with its first parameters bound to
    /// `prefix` (a tuple): what `next!(f(a, ..))` expands to. The continuation receives the
    /// rest.
    pub fn bind<P>(&'static self, prefix: P) -> Next<<Self as Bind<P>>::Rest>
    where
        Self: Bind<P>,
    {
        <Self as Bind<P>>::bind(self, prefix)
    }
}

impl<A> CodeGear<A> {
    pub(crate) const fn info_const(&'static self) -> &'static CodeGearInfo {
        &self.info
    }
}

impl<A> fmt::Debug for CodeGear<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.info.fmt(f)
    }
}

/// A pending transition: the code gear to run next and its arguments. What every code gear
/// returns, and all the trampoline (the meta level) needs to continue.
///
/// `Goto` is a value: clone it, hash it, compare it. The model checker stores it as the task's
/// program counter.
#[derive(Clone)]
pub struct Goto {
    gear: &'static CodeGearInfo,
    args: Args,
}

impl Goto {
    pub(crate) fn new(gear: &'static CodeGearInfo, args: Args) -> Self {
        Self { gear, args }
    }

    /// The transition that ends the run with `outputs` (what `Next::exit()` receives), for a
    /// code gear that decides to stop without having been given a continuation.
    pub fn exit<O: Value>(outputs: O) -> Self {
        Self::new(&EXIT, Args::new(outputs))
    }

    /// The code gear it goes to.
    pub fn code_gear(&self) -> &'static CodeGearInfo {
        self.gear
    }

    /// Its arguments.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Whether it ends the run.
    pub fn is_exit(&self) -> bool {
        self.gear.is_exit()
    }

    pub(crate) fn into_parts(self) -> (&'static CodeGearInfo, Args) {
        (self.gear, self.args)
    }

    /// Used by generated stubs: moves the arguments out, leaving `()`.
    #[doc(hidden)]
    #[inline]
    pub fn __gears_take<T: Send + 'static>(&mut self) -> Result<T, Error> {
        self.args.take_in_place::<T>().map_err(Error::from)
    }
}

impl Goto {
    /// A `Debug` view of a transition to `gear` with `args`, printed like a call.
    pub fn describe<'a>(gear: &'static CodeGearInfo, args: &'a Args) -> impl fmt::Debug + 'a {
        GotoView { gear, args }
    }
}

struct GotoView<'a> {
    gear: &'static CodeGearInfo,
    args: &'a Args,
}

impl fmt::Debug for GotoView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.gear.display_name())?;
        let args = format!("{:?}", self.args);
        match args.strip_suffix(",)") {
            // `(x,)` is how Debug prints a one-tuple.
            Some(one) if args.starts_with('(') => write!(f, "{one})"),
            _ if args.starts_with('(') => f.write_str(&args),
            _ => write!(f, "({args})"),
        }
    }
}

impl PartialEq for Goto {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.gear, other.gear) && self.args == other.args
    }
}

impl Eq for Goto {}

impl Hash for Goto {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.gear.path.hash(state);
        self.args.hash(state);
    }
}

/// `code_gear(args..)`, with the argument tuple's parentheses as the call's.
impl fmt::Debug for Goto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Goto::describe(self.gear, &self.args).fmt(f)
    }
}

type Complete<O> = fn(Option<Box<Args>>, O) -> Result<Args, TypeMismatch>;

/// A continuation that takes outputs `O` (a tuple): a code gear with its first parameters
/// already bound, or [`Next::exit`].
///
/// `goto!(next(a, b))` completes it with the outputs and jumps. Binding an empty prefix (the
/// common `next!(f())`, and every `Next` passed along) allocates nothing; a non-empty prefix is
/// boxed once, when it is bound.
pub struct Next<O> {
    target: &'static CodeGearInfo,
    prefix: Option<Box<Args>>,
    complete: Complete<O>,
    _outputs: PhantomData<fn(O)>,
}

impl<O: Value> Next<O> {
    /// The continuation that ends the run; the outputs become the run's result.
    pub fn exit() -> Self {
        Self {
            target: &EXIT,
            prefix: None,
            complete: |_, outputs| Ok(Args::new(outputs)),
            _outputs: PhantomData,
        }
    }

    /// The code gear it continues with.
    pub fn code_gear(&self) -> &'static CodeGearInfo {
        self.target
    }

    /// Completes it with the outputs: the transition `goto!(next(..))` makes.
    pub fn goto_with(self, outputs: O) -> Goto {
        match (self.complete)(self.prefix, outputs) {
            Ok(args) => Goto::new(self.target, args),
            Err(mismatch) => Goto::new(&BROKEN, Args::new(mismatch.to_string())),
        }
    }
}

fn broken_stub(_: &mut Heap, goto: &mut Goto) -> Result<(), Error> {
    let message = goto.__gears_take::<String>()?;
    Err(crate::error::ErrorKind::Stopped { reason: message }.into())
}

/// Where a continuation whose bound arguments do not fit its code gear goes (unreachable through
/// the typed API; reported as an error rather than trusted).
static BROKEN: CodeGearInfo = CodeGearInfo::new(
    "<broken continuation>",
    "codegear::broken",
    None,
    &[],
    Site::new(file!(), line!(), column!()),
    broken_stub,
);

impl<O> Clone for Next<O> {
    fn clone(&self) -> Self {
        Self {
            target: self.target,
            prefix: self.prefix.clone(),
            complete: self.complete,
            _outputs: PhantomData,
        }
    }
}

impl<O> PartialEq for Next<O> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.target, other.target) && self.prefix == other.prefix
    }
}

impl<O> Eq for Next<O> {}

impl<O> Hash for Next<O> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.target.path.hash(state);
        self.prefix.hash(state);
    }
}

/// `exit`, `f(..)` or `f(a, ..)` (bound arguments, then `..` for the outputs to come).
impl<O> fmt::Debug for Next<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.target.is_exit() {
            return f.write_str("exit");
        }
        f.write_str(self.target.display_name())?;
        match &self.prefix {
            None => f.write_str("(..)"),
            Some(prefix) => {
                let bound = format!("{prefix:?}");
                let inner = bound
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .unwrap_or(&bound)
                    .trim_end_matches(',');
                write!(f, "({inner}, ..)")
            }
        }
    }
}

/// Binding prefix `P` of a code gear's parameters, leaving `Rest` for the continuation's caller.
#[diagnostic::on_unimplemented(
    message = "`next!` cannot bind `{P}` as the first arguments of this code gear",
    label = "the arguments bound here must have the types of the code gear's first parameters, in order",
    note = "`next!(f(a, b))` binds a prefix of `f`'s parameters; the continuation receives the rest"
)]
pub trait Bind<P> {
    /// The parameters left after the prefix.
    type Rest;
    /// The continuation.
    fn bind(&'static self, prefix: P) -> Next<Self::Rest>;
}

macro_rules! arity {
    ($($name:ident)*) => {
        impl<$($name: Value,)*> CodeGear<($($name,)*)> {
            /// The transition to this code gear with these arguments: what `goto!(f(..))`
            /// expands to (rustc checks the arguments against the parameters here).
            #[allow(non_snake_case, clippy::too_many_arguments)]
            pub fn goto(&'static self, $($name: $name),*) -> Goto {
                Goto::new(&self.info, Args::new(($($name,)*)))
            }
        }

        impl<$($name: Value,)*> Next<($($name,)*)> {
            /// Completes the continuation with these outputs and jumps: what `goto!(next(..))`
            /// expands to.
            #[allow(non_snake_case, clippy::too_many_arguments)]
            pub fn goto(self, $($name: $name),*) -> Goto {
                self.goto_with(($($name,)*))
            }
        }
    };
}

macro_rules! splits {
    ([$($bound:ident)*] []) => {
        bind_impl!([$($bound)*] []);
    };
    ([$($bound:ident)*] [$first:ident $($rest:ident)*]) => {
        bind_impl!([$($bound)*] [$first $($rest)*]);
        splits!([$($bound)* $first] [$($rest)*]);
    };
}

macro_rules! bind_impl {
    ([$($bound:ident)*] [$($rest:ident)*]) => {
        // Not listed ("the following other types implement trait `Bind<P>`", 66 of them) under
        // a `next!` whose arguments do not fit: the error's note says what `next!` binds.
        #[diagnostic::do_not_recommend]
        impl<$($bound: Value,)* $($rest: Value,)*> Bind<($($bound,)*)>
            for CodeGear<($($bound,)* $($rest,)*)>
        {
            type Rest = ($($rest,)*);

            #[allow(non_snake_case, unused_variables)]
            fn bind(&'static self, prefix: ($($bound,)*)) -> Next<Self::Rest> {
                let prefix = if bind_impl!(@empty $($bound)*) {
                    None
                } else {
                    Some(Box::new(Args::new(prefix)))
                };
                Next {
                    target: &self.info,
                    prefix,
                    complete: |prefix, rest| {
                        let ($($bound,)*) = match prefix {
                            Some(args) => args.take::<($($bound,)*)>()?,
                            None => Args::new(()).take::<($($bound,)*)>()?,
                        };
                        let ($($rest,)*) = rest;
                        Ok(Args::new(($($bound,)* $($rest,)*)))
                    },
                    _outputs: PhantomData,
                }
            }
        }
    };
    (@empty) => { true };
    (@empty $($any:ident)+) => { false };
}

macro_rules! all_arities {
    ($($name:ident)*) => {
        all_arities!(@each [] [$($name)*]);
    };
    (@each [$($done:ident)*] []) => {
        arity!($($done)*);
        splits!([] [$($done)*]);
    };
    (@each [$($done:ident)*] [$next:ident $($rest:ident)*]) => {
        arity!($($done)*);
        splits!([] [$($done)*]);
        all_arities!(@each [$($done)* $next] [$($rest)*]);
    };
}

// Code gears take up to 10 parameters (GearsOS code gears rarely exceed 5); `#[code_gear]` says
// so at a definition with more (`MAX_PARAMS` in the macro crate).
all_arities!(A B C D E F G H I J);

/// What `#[code_gear] fn f` defines as `f` when the definition has an error: a code gear that
/// accepts arguments of the types written (`A`, a tuple, without the bounds a real code gear
/// needs), or of any type ([`Untyped`], where a written type cannot be named in a static),
/// so that the uses of `f` (`goto!(f(..))`, `next!(f(..))`) add no errors of their own to the one
/// the macro reported. Never reached: the program does not compile.
#[doc(hidden)]
pub struct BrokenCodeGear<A>(PhantomData<fn(A)>);

impl<A> BrokenCodeGear<A> {
    /// The stand-in.
    #[doc(hidden)]
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// As [`BrokenCodeGear`], with `N` parameters of any type.
#[doc(hidden)]
pub struct Untyped<const N: usize>;

impl<const N: usize> Untyped<N> {
    /// Used by `next!(f(..))`.
    #[doc(hidden)]
    pub fn bind<P, R>(&'static self, _prefix: P) -> Next<R> {
        unreachable!("a code gear that did not compile")
    }
}

/// Binding a prefix of a broken code gear's written parameters (no bounds: see
/// [`BrokenCodeGear`]).
#[doc(hidden)]
pub trait BrokenBind<P> {
    /// The parameters left.
    type Rest;
}

impl<A> BrokenCodeGear<A> {
    /// Used by `next!(f(..))`.
    #[doc(hidden)]
    pub fn bind<P>(&'static self, _prefix: P) -> Next<<Self as BrokenBind<P>>::Rest>
    where
        Self: BrokenBind<P>,
    {
        unreachable!("a code gear that did not compile")
    }
}

macro_rules! broken_arity {
    ($($n:literal: [$($name:ident)*])*) => {$(
        impl Untyped<$n> {
            /// Used by `goto!(f(..))`.
            #[doc(hidden)]
            #[allow(non_snake_case, clippy::too_many_arguments, unused_variables)]
            pub fn goto<$($name,)*>(&'static self, $($name: $name),*) -> Goto {
                unreachable!("a code gear that did not compile")
            }
        }

        impl<$($name,)*> BrokenCodeGear<($($name,)*)> {
            /// Used by `goto!(f(..))`.
            #[doc(hidden)]
            #[allow(non_snake_case, clippy::too_many_arguments, unused_variables)]
            pub fn goto(&'static self, $($name: $name),*) -> Goto {
                unreachable!("a code gear that did not compile")
            }
        }

        broken_splits!([] [$($name)*]);
    )*};
}

macro_rules! broken_splits {
    ([$($bound:ident)*] []) => {
        impl<$($bound,)*> BrokenBind<($($bound,)*)> for BrokenCodeGear<($($bound,)*)> {
            type Rest = ();
        }
    };
    ([$($bound:ident)*] [$first:ident $($rest:ident)*]) => {
        impl<$($bound,)* $first, $($rest,)*> BrokenBind<($($bound,)*)>
            for BrokenCodeGear<($($bound,)* $first, $($rest,)*)>
        {
            type Rest = ($first, $($rest,)*);
        }
        broken_splits!([$($bound)* $first] [$($rest)*]);
    };
}

broken_arity! {
    0: [] 1: [A] 2: [A B] 3: [A B C] 4: [A B C D] 5: [A B C D E] 6: [A B C D E F]
    7: [A B C D E F G] 8: [A B C D E F G H] 9: [A B C D E F G H I] 10: [A B C D E F G H I J]
    11: [A B C D E F G H I J K] 12: [A B C D E F G H I J K L]
}
