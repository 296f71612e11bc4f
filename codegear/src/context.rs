//! [`Context`]: the data-gear heap, the tables, the metas, and the trampoline that runs
//! transitions until `Next::exit()`.

use crate::code::{CodeGearInfo, Goto};
use crate::error::{Error, ErrorKind};
use crate::gear::{DataGear, Gear};
use crate::heap::Heap;
use crate::meta::{Meta, Selector, Transition};
use crate::tables::Tables;
use crate::value::Args;

/// What a run ends with.
#[derive(Debug)]
pub struct Exit {
    /// Transitions taken (code gears run).
    pub steps: u64,
    /// The outputs passed to `Next::exit()` (a tuple, `()` for `Next<()>`).
    pub outputs: Args,
}

#[derive(Default)]
struct Metas {
    installed: Vec<Box<dyn Meta>>,
    /// Per code-gear id, the meta that replaces the default for it.
    by_gear: Vec<Option<u16>>,
    /// For code gears that have no id (not in the table).
    fallback: Option<u16>,
}

impl Metas {
    fn for_gear(&self, gear: &CodeGearInfo) -> Option<usize> {
        let slot = match gear.id() {
            Some(id) => self.by_gear.get(id as usize).copied().flatten(),
            None => self.fallback,
        };
        slot.map(usize::from)
    }
}

/// A GearsOS context: the data gears of one task, the code-gear tables, and the meta level
/// that runs every transition.
///
/// A context never calls a code gear directly: [`Context::run`] takes the first [`Goto`] and,
/// until a continuation reaches `Next::exit()`, asks the next code gear's stub to fetch its
/// inputs and run, with the metas installed for that code gear around it.
pub struct Context {
    heap: Heap,
    tables: &'static Tables,
    metas: Metas,
    steps: u64,
    task: usize,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("task", &self.task)
            .field("steps", &self.steps)
            .field("heap", &self.heap)
            .field("metas", &self.metas.installed.len())
            .finish()
    }
}

impl Context {
    /// A context with the tables of every code gear, data gear and interface linked into the
    /// program.
    ///
    /// # Panics
    /// If two registrations share a name, which only a broken build can do; see
    /// [`Context::try_new`] to handle that.
    pub fn new() -> Self {
        Self::try_new().unwrap_or_else(|error| panic!("{error}"))
    }

    /// As [`Context::new`], with the registry error as an error.
    ///
    /// # Errors
    /// [`ErrorKind::Registry`] listing every duplicated name.
    pub fn try_new() -> Result<Self, Error> {
        let tables = Tables::get().map_err(|e| Error::new(ErrorKind::Registry(e.clone())))?;
        Ok(Self {
            heap: Heap::new(),
            tables,
            metas: Metas::default(),
            steps: 0,
            task: 0,
        })
    }

    /// Stores a data gear and returns its handle.
    pub fn alloc<T: DataGear>(&mut self, value: T) -> Gear<T> {
        self.heap.alloc(value)
    }

    /// The data gear behind a handle.
    ///
    /// # Errors
    /// Foreign, stale or mistyped handles (see [`Heap::get`]).
    pub fn get<T: DataGear>(&self, gear: Gear<T>) -> Result<&T, Error> {
        self.heap.get(gear)
    }

    /// The heap.
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// The heap, mutably (for metas and tests that set up state).
    pub fn heap_mut(&mut self) -> &mut Heap {
        &mut self.heap
    }

    /// The tables.
    pub fn tables(&self) -> &'static Tables {
        self.tables
    }

    /// Code gears in id order (GearsOS's `enum Code`).
    pub fn code_gears(&self) -> impl ExactSizeIterator<Item = &'static CodeGearInfo> {
        self.tables.code_gears()
    }

    /// Data gear types in id order (GearsOS's `enum DataType`).
    pub fn data_gears(&self) -> impl ExactSizeIterator<Item = &'static crate::DataGearInfo> {
        self.tables.data_gears()
    }

    /// The tables as GearsOS's generated `context.h`, readable.
    pub fn describe(&self) -> String {
        self.tables.describe()
    }

    /// Transitions taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Sets the task number metas see (for contexts that are tasks of a world).
    pub fn set_task(&mut self, task: usize) {
        self.task = task;
    }

    /// Replaces the meta of every code gear `selector` matches with `meta` (later replacements
    /// win where they overlap), as GearsOS's meta.pm `replaceMeta` does. Returns how many code
    /// gears it now covers.
    pub fn replace_meta(&mut self, selector: Selector, meta: impl Meta + 'static) -> usize {
        let index = u16::try_from(self.metas.installed.len()).expect("fewer than 65536 metas");
        self.metas.installed.push(Box::new(meta));
        self.metas
            .by_gear
            .resize(self.tables.code_gear_count(), None);
        let mut covered = 0;
        for gear in self.tables.code_gears() {
            if let Some(id) = gear.id().filter(|_| selector.matches(gear)) {
                self.metas.by_gear[id as usize] = Some(index);
                covered += 1;
            }
        }
        if matches!(selector, Selector::All) {
            self.metas.fallback = Some(index);
        }
        covered
    }

    /// Builder form of [`Context::replace_meta`].
    pub fn with_meta(mut self, selector: Selector, meta: impl Meta + 'static) -> Self {
        self.replace_meta(selector, meta);
        self
    }

    /// Runs transitions from `start` until a continuation reaches `Next::exit()`.
    ///
    /// # Errors
    /// The first error of a stub (aliased `Mut`, stale or foreign handle) or a meta (step
    /// limit), with the code gear and step it happened at.
    pub fn run(&mut self, start: Goto) -> Result<Exit, Error> {
        let mut goto = start;
        if self.metas.installed.is_empty() {
            // The default meta is plain dispatch: nothing to look up per transition.
            while !goto.is_exit() {
                let gear = goto.code_gear();
                (gear.stub())(&mut self.heap, &mut goto)
                    .map_err(|error| error.at(gear.name, self.steps))?;
                self.steps += 1;
            }
        } else {
            while !goto.is_exit() {
                self.step_in_place(&mut goto)?;
            }
        }
        let (_, outputs) = goto.into_parts();
        Ok(Exit {
            steps: self.steps,
            outputs,
        })
    }

    /// Runs one transition and returns the next (the exit transition is returned unchanged).
    ///
    /// # Errors
    /// As [`Context::run`].
    pub fn step(&mut self, goto: Goto) -> Result<Goto, Error> {
        let mut goto = goto;
        self.step_in_place(&mut goto)?;
        Ok(goto)
    }

    /// As [`Context::step`], replacing `goto` with the next transition. On error `goto` holds
    /// what is left of the transition that failed.
    ///
    /// # Errors
    /// As [`Context::run`].
    #[inline]
    pub fn step_in_place(&mut self, goto: &mut Goto) -> Result<(), Error> {
        if goto.is_exit() {
            return Ok(());
        }
        let gear = goto.code_gear();
        match self.metas.for_gear(gear) {
            None => (gear.stub())(&mut self.heap, goto),
            Some(meta) => self.step_with_meta(meta, goto),
        }
        .map_err(|error| error.at(gear.name, self.steps))?;
        self.steps += 1;
        Ok(())
    }

    #[cold]
    fn step_with_meta(&mut self, meta: usize, goto: &mut Goto) -> Result<(), Error> {
        let gear = goto.code_gear();
        let seen = goto.args().clone();
        let transition = Transition {
            task: self.task,
            step: self.steps,
            code_gear: gear,
            args: &seen,
        };
        self.metas.installed[meta]
            .before(&transition)
            .map_err(|stop| Error::new(stop.0))?;
        (gear.stub())(&mut self.heap, goto)?;
        self.metas.installed[meta]
            .after(&transition, goto)
            .map_err(|stop| Error::new(stop.0))?;
        Ok(())
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}
