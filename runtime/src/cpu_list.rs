//! CPU bitmaps over a fixed [`MAX_CPUS`], the Linux cpulist format (`"0-1,4"`), and thread pinning.
//!
//! [`CpuList`] plays the role of ghOSt's `CpuList` (`lib/topology.h`) with Rust set spelling:
//!
//! | ghOSt                            | here                                                 |
//! |----------------------------------|------------------------------------------------------|
//! | `Set(cpu)`                       | [`CpuList::insert`] (returns `Result`, never panics) |
//! | `Clear(cpu)`                     | [`CpuList::remove`]                                  |
//! | `IsSet(cpu)`                     | [`CpuList::contains`]                                |
//! | `Size()` / `Empty()`             | [`CpuList::len`] / [`CpuList::is_empty`]             |
//! | `Front()`                        | [`CpuList::first`]                                   |
//! | `Union`, `+`                     | [`CpuList::union`], operator [`BitOr`]               |
//! | `Intersection`                   | [`CpuList::intersection`], operator [`BitAnd`]       |
//! | `Subtract`, `-`                  | [`CpuList::difference`], operator [`Sub`]            |
//! | range-based `for`                | [`CpuList::iter`], `for cpu in &list`                |
//! | `Topology::ParseCpuStr`          | [`parse_cpu_str`], [`str::parse`]                    |
//! | `ToCpuSet` + `sched_setaffinity` | [`CpuList::pin_current_thread`]                      |
//!
//! Printing differs: ghOSt's `CpuMaskStr` is a hex cpumask (`"1,ffffffff"`), while
//! [`Display`](fmt::Display) here prints the cpulist form that [`parse_cpu_str`] reads back.
//!
//! No input makes anything here panic except a CPU `>= MAX_CPUS` fed to the [`FromIterator`] or
//! [`Extend`] impls, whose signatures leave no room for an error; [`CpuList::try_from_cpus`] is
//! their fallible twin.

use std::fmt;
use std::io;
use std::iter::FusedIterator;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Range, Sub, SubAssign};
use std::str::FromStr;

// Thread affinity is Linux's (sched_setaffinity); elsewhere the two calls that need it return
// `AffinityError::Unsupported` and everything else in this module works.
#[cfg(target_os = "linux")]
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
#[cfg(target_os = "linux")]
use nix::unistd::Pid;

/// The number of CPUs a [`CpuList`] can hold: CPUs `0..MAX_CPUS`. Same bound as ghOSt.
pub const MAX_CPUS: usize = 512;

const WORD_BITS: usize = u64::BITS as usize;
const WORDS: usize = MAX_CPUS / WORD_BITS;

// Converting to nix's CpuSet relies on every CpuList fitting in it; checked here rather than at
// each `CpuSet::set`.
#[cfg(target_os = "linux")]
const _: () = assert!(MAX_CPUS <= CpuSet::count());
const _: () = assert!(MAX_CPUS.is_multiple_of(WORD_BITS));

/// A set of CPU numbers below [`MAX_CPUS`], stored as a fixed-size bitmap.
///
/// It is `Copy` (64 bytes), compares and hashes by content, and the [`Default`] is the empty
/// list. [`Display`](fmt::Display) prints the canonical Linux cpulist form (`"0-1,4"`) and
/// [`FromStr`] parses it (see [`parse_cpu_str`]).
///
/// CPU arguments are plain `usize`. [`insert`](Self::insert) and [`single`](Self::single) reject
/// a CPU `>= MAX_CPUS` with [`CpuOutOfRange`]; [`contains`](Self::contains) and
/// [`remove`](Self::remove) answer `false` for one, because such a CPU is never in a list.
///
/// # Example
///
/// ```
/// use gears_runtime::cpu_list::{CpuList, MAX_CPUS};
///
/// let mut workers: CpuList = "0-3,8".parse()?;
/// workers.insert(9)?;
/// assert!(workers.insert(MAX_CPUS).is_err());
///
/// let reserved: CpuList = "2-3".parse()?;
/// let usable = workers - reserved;
/// assert_eq!(usable.to_string(), "0-1,8-9");
/// assert_eq!(usable.iter().collect::<Vec<_>>(), [0, 1, 8, 9]);
/// assert_eq!(usable.first(), Some(0));
/// assert!(usable.is_subset(&workers));
/// assert_eq!(format!("{usable:?}"), r#"CpuList("0-1,8-9")"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuList {
    words: [u64; WORDS],
}

impl CpuList {
    /// The empty list.
    #[must_use]
    pub const fn new() -> Self {
        CpuList { words: [0; WORDS] }
    }

    /// The list holding only `cpu`: what a worker pinned to one CPU needs.
    ///
    /// # Errors
    ///
    /// [`CpuOutOfRange`] if `cpu >= MAX_CPUS`.
    pub fn single(cpu: usize) -> Result<Self, CpuOutOfRange> {
        let mut list = CpuList::new();
        list.insert(cpu)?;
        Ok(list)
    }

    /// Collects `cpus` into a list, or returns the first CPU `>= MAX_CPUS`.
    ///
    /// This is the non-panicking form of `cpus.into_iter().collect::<CpuList>()`.
    ///
    /// # Errors
    ///
    /// [`CpuOutOfRange`] for the first CPU `>= MAX_CPUS`.
    pub fn try_from_cpus(cpus: impl IntoIterator<Item = usize>) -> Result<Self, CpuOutOfRange> {
        let mut list = CpuList::new();
        for cpu in cpus {
            list.insert(cpu)?;
        }
        Ok(list)
    }

    /// Adds `cpu` (ghOSt's `Set`). Returns whether it was newly added.
    ///
    /// # Errors
    ///
    /// [`CpuOutOfRange`] if `cpu >= MAX_CPUS`; the list is left unchanged.
    pub fn insert(&mut self, cpu: usize) -> Result<bool, CpuOutOfRange> {
        if cpu >= MAX_CPUS {
            return Err(CpuOutOfRange { cpu });
        }
        let (word, bit) = (cpu / WORD_BITS, 1u64 << (cpu % WORD_BITS));
        let added = self.words[word] & bit == 0;
        self.words[word] |= bit;
        Ok(added)
    }

    /// Removes `cpu`. Returns whether it was present; a CPU `>= MAX_CPUS` never is.
    pub fn remove(&mut self, cpu: usize) -> bool {
        if cpu >= MAX_CPUS {
            return false;
        }
        let (word, bit) = (cpu / WORD_BITS, 1u64 << (cpu % WORD_BITS));
        let present = self.words[word] & bit != 0;
        self.words[word] &= !bit;
        present
    }

    /// Whether `cpu` is in the list; `false` for any CPU `>= MAX_CPUS`.
    #[must_use]
    pub fn contains(&self, cpu: usize) -> bool {
        cpu < MAX_CPUS && self.words[cpu / WORD_BITS] & (1u64 << (cpu % WORD_BITS)) != 0
    }

    /// The number of CPUs in the list.
    #[must_use]
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the list holds no CPU.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The CPUs in ascending order.
    #[must_use]
    pub fn iter(&self) -> Iter {
        Iter {
            words: self.words,
            word: 0,
            remaining: self.len(),
        }
    }

    /// The lowest CPU, or `None` if the list is empty.
    #[must_use]
    pub fn first(&self) -> Option<usize> {
        self.words
            .iter()
            .enumerate()
            .find(|&(_, &w)| w != 0)
            .map(|(i, w)| i * WORD_BITS + w.trailing_zeros() as usize)
    }

    /// CPUs in `self` or `other` (also `self | other`).
    #[must_use]
    pub fn union(&self, other: &CpuList) -> CpuList {
        self.zip_with(other, |a, b| a | b)
    }

    /// CPUs in both `self` and `other` (also `self & other`).
    #[must_use]
    pub fn intersection(&self, other: &CpuList) -> CpuList {
        self.zip_with(other, |a, b| a & b)
    }

    /// CPUs in `self` but not in `other` (also `self - other`; ghOSt's `Subtract`).
    #[must_use]
    pub fn difference(&self, other: &CpuList) -> CpuList {
        self.zip_with(other, |a, b| a & !b)
    }

    /// Whether every CPU of `self` is also in `other`.
    #[must_use]
    pub fn is_subset(&self, other: &CpuList) -> bool {
        self.difference(other).is_empty()
    }

    /// Restricts the calling thread to the CPUs of this list (`sched_setaffinity` on the calling
    /// thread, not the whole process).
    ///
    /// # Errors
    ///
    /// [`AffinityError::EmptyList`] for an empty list, without a system call;
    /// [`AffinityError::SetAffinity`] if the kernel refuses, e.g. `EINVAL` when no CPU of the
    /// list is online and allowed for the thread; [`AffinityError::Unsupported`] on a system
    /// other than Linux.
    pub fn pin_current_thread(&self) -> Result<(), AffinityError> {
        if self.is_empty() {
            return Err(AffinityError::EmptyList);
        }
        #[cfg(not(target_os = "linux"))]
        return Err(AffinityError::Unsupported);
        #[cfg(target_os = "linux")]
        self.pin_current_thread_linux()
    }

    #[cfg(target_os = "linux")]
    fn pin_current_thread_linux(&self) -> Result<(), AffinityError> {
        let mut set = CpuSet::new();
        for cpu in self {
            set.set(cpu)
                .expect("every CPU of a CpuList fits in a CpuSet (asserted at compile time)");
        }
        // Pid 0 means the calling thread to sched_setaffinity(2).
        sched_setaffinity(Pid::from_raw(0), &set).map_err(|errno| AffinityError::SetAffinity {
            cpus: *self,
            error: io::Error::from(errno),
        })
    }

    /// The CPUs the calling thread may run on (`sched_getaffinity` on the calling thread).
    ///
    /// # Errors
    ///
    /// [`AffinityError::GetAffinity`] if the system call fails; [`AffinityError::OutOfRange`] if
    /// the thread may run on a CPU `>= MAX_CPUS`, rather than silently dropping that CPU;
    /// [`AffinityError::Unsupported`] on a system other than Linux.
    pub fn current_thread_affinity() -> Result<CpuList, AffinityError> {
        #[cfg(not(target_os = "linux"))]
        return Err(AffinityError::Unsupported);
        #[cfg(target_os = "linux")]
        Self::current_thread_affinity_linux()
    }

    #[cfg(target_os = "linux")]
    fn current_thread_affinity_linux() -> Result<CpuList, AffinityError> {
        let set =
            sched_getaffinity(Pid::from_raw(0)).map_err(|errno| AffinityError::GetAffinity {
                error: io::Error::from(errno),
            })?;
        let mut list = CpuList::new();
        for cpu in (0..CpuSet::count()).filter(|&cpu| set.is_set(cpu) == Ok(true)) {
            list.insert(cpu).map_err(AffinityError::OutOfRange)?;
        }
        Ok(list)
    }

    fn zip_with(&self, other: &CpuList, op: impl Fn(u64, u64) -> u64) -> CpuList {
        CpuList {
            words: std::array::from_fn(|i| op(self.words[i], other.words[i])),
        }
    }
}

/// Canonical Linux cpulist: ascending, runs of two or more consecutive CPUs as `A-B`, parts
/// joined by `,`, the empty list as the empty string.
impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cpus = self.iter();
        let Some(mut start) = cpus.next() else {
            return Ok(());
        };
        let mut end = start;
        let mut sep = "";
        let mut write_run = |f: &mut fmt::Formatter<'_>, start: usize, end: usize| {
            let result = if start == end {
                write!(f, "{sep}{start}")
            } else {
                write!(f, "{sep}{start}-{end}")
            };
            sep = ",";
            result
        };
        for cpu in cpus {
            if cpu != end + 1 {
                write_run(f, start, end)?;
                start = cpu;
            }
            end = cpu;
        }
        write_run(f, start, end)
    }
}

/// Prints `CpuList("0-1,4")`: the list string is far more readable than the bitmap words.
impl fmt::Debug for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuList(\"{self}\")")
    }
}

/// Parses the Linux cpulist format; see [`parse_cpu_str`].
impl FromStr for CpuList {
    type Err = CpuListParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_cpu_str(s)
    }
}

/// # Panics
///
/// If a CPU is `>= MAX_CPUS`; use [`CpuList::try_from_cpus`] to get an error instead.
impl FromIterator<usize> for CpuList {
    fn from_iter<I: IntoIterator<Item = usize>>(cpus: I) -> Self {
        let mut list = CpuList::new();
        list.extend(cpus);
        list
    }
}

/// # Panics
///
/// If a CPU is `>= MAX_CPUS`; use [`CpuList::insert`] to get an error instead.
impl Extend<usize> for CpuList {
    fn extend<I: IntoIterator<Item = usize>>(&mut self, cpus: I) {
        for cpu in cpus {
            if let Err(e) = self.insert(cpu) {
                panic!("{e}");
            }
        }
    }
}

impl IntoIterator for &CpuList {
    type Item = usize;
    type IntoIter = Iter;

    fn into_iter(self) -> Iter {
        self.iter()
    }
}

impl IntoIterator for CpuList {
    type Item = usize;
    type IntoIter = Iter;

    fn into_iter(self) -> Iter {
        self.iter()
    }
}

macro_rules! set_operator {
    ($Op:ident::$op:ident, $OpAssign:ident::$op_assign:ident, $method:ident) => {
        #[doc = concat!("Same as [`CpuList::", stringify!($method), "`].")]
        impl $Op for CpuList {
            type Output = CpuList;

            fn $op(self, rhs: CpuList) -> CpuList {
                self.$method(&rhs)
            }
        }

        #[doc = concat!("Same as [`CpuList::", stringify!($method), "`].")]
        impl $Op for &CpuList {
            type Output = CpuList;

            fn $op(self, rhs: &CpuList) -> CpuList {
                self.$method(rhs)
            }
        }

        #[doc = concat!("In-place [`CpuList::", stringify!($method), "`].")]
        impl $OpAssign for CpuList {
            fn $op_assign(&mut self, rhs: CpuList) {
                *self = self.$method(&rhs);
            }
        }
    };
}

set_operator!(BitOr::bitor, BitOrAssign::bitor_assign, union);
set_operator!(BitAnd::bitand, BitAndAssign::bitand_assign, intersection);
set_operator!(Sub::sub, SubAssign::sub_assign, difference);

/// Iterator over the CPUs of a [`CpuList`] in ascending order, from [`CpuList::iter`].
///
/// It owns a copy of the bitmap, so it does not borrow the list.
#[derive(Clone, Debug)]
pub struct Iter {
    words: [u64; WORDS],
    word: usize,
    remaining: usize,
}

impl Iterator for Iter {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while let Some(w) = self.words.get_mut(self.word) {
            if *w != 0 {
                let bit = w.trailing_zeros() as usize;
                *w &= *w - 1;
                self.remaining -= 1;
                return Some(self.word * WORD_BITS + bit);
            }
            self.word += 1;
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter {}

impl FusedIterator for Iter {}

/// A CPU number at or beyond [`MAX_CPUS`] was given where a [`CpuList`] member was needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("CPU {cpu} is out of range (a CpuList holds CPUs below MAX_CPUS = {MAX_CPUS})")]
pub struct CpuOutOfRange {
    cpu: usize,
}

impl CpuOutOfRange {
    /// The rejected CPU number.
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

/// Parses a Linux cpulist such as `"0-3,8,10-11"` (ghOSt's `ParseCpuStr`).
///
/// The format is comma-separated parts, each a decimal CPU `N` or an inclusive range `A-B` with
/// `A <= B`, every CPU below [`MAX_CPUS`]. Whitespace around the whole input (sysfs files end in
/// a newline) and around each part is ignored, and a blank input is the empty list (sysfs
/// `offline` is usually empty). Parts may overlap and come in any order. The kernel's stride form
/// (`0-7:2/4`) is not accepted.
///
/// Never panics.
///
/// # Errors
///
/// The first malformed part, in input order, as a [`CpuListParseError`] that says what is wrong
/// ([`kind`](CpuListParseError::kind)) and where ([`span`](CpuListParseError::span)).
///
/// # Example
///
/// ```
/// use gears_runtime::cpu_list::{CpuListParseErrorKind, parse_cpu_str};
///
/// let online = parse_cpu_str("0-3,8\n")?;
/// assert_eq!(online.len(), 5);
/// assert_eq!(online.to_string(), "0-3,8");
/// assert!(parse_cpu_str("")?.is_empty());
///
/// let err = parse_cpu_str("0,3-1").unwrap_err();
/// assert_eq!(err.kind(), CpuListParseErrorKind::ReversedRange { start: 3, end: 1 });
/// assert_eq!(err.span(), 2..5);
/// assert_eq!(
///     err.to_string(),
///     r#"invalid CPU list "0,3-1": range "3-1" at byte 2 is reversed (write "1-3")"#,
/// );
/// # Ok::<(), gears_runtime::cpu_list::CpuListParseError>(())
/// ```
pub fn parse_cpu_str(input: &str) -> Result<CpuList, CpuListParseError> {
    let body = input.trim();
    let mut list = CpuList::new();
    if body.is_empty() {
        return Ok(list);
    }
    // Offsets are reported against `input`, not `body`, so users can find the part they wrote.
    let mut raw_start = input.len() - input.trim_start().len();
    for raw in body.split(',') {
        let lead = raw.len() - raw.trim_start().len();
        let part = raw.trim();
        let span = if part.is_empty() {
            raw_start..raw_start + raw.len()
        } else {
            raw_start + lead..raw_start + lead + part.len()
        };
        let (lo, hi) = parse_part(part).map_err(|kind| CpuListParseError {
            input: input.to_owned(),
            span,
            kind,
        })?;
        for cpu in lo..=hi {
            // parse_part only returns CPUs below MAX_CPUS.
            let _ = list.insert(cpu);
        }
        raw_start += raw.len() + 1;
    }
    Ok(list)
}

fn parse_part(part: &str) -> Result<(usize, usize), CpuListParseErrorKind> {
    use CpuListParseErrorKind as Kind;
    if part.is_empty() {
        return Err(Kind::EmptyPart);
    }
    let Some((start, end)) = part.split_once('-') else {
        let cpu = parse_cpu(part)?;
        return Ok((cpu, cpu));
    };
    if start.is_empty() {
        return Err(Kind::MissingRangeStart);
    }
    let start = parse_cpu(start)?;
    if end.is_empty() {
        return Err(Kind::MissingRangeEnd);
    }
    let end = parse_cpu(end)?;
    if start > end {
        return Err(Kind::ReversedRange { start, end });
    }
    Ok((start, end))
}

fn parse_cpu(digits: &str) -> Result<usize, CpuListParseErrorKind> {
    // Checked by hand because usize::from_str also takes a leading '+'.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CpuListParseErrorKind::NotANumber);
    }
    // Only digits remain, so the only possible failure is overflow.
    let cpu = digits
        .parse()
        .map_err(|_| CpuListParseErrorKind::Overflow)?;
    if cpu >= MAX_CPUS {
        return Err(CpuListParseErrorKind::CpuOutOfRange { cpu });
    }
    Ok(cpu)
}

/// What is wrong with one part of a CPU list; see [`CpuListParseError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CpuListParseErrorKind {
    /// A part is empty or blank: a leading, trailing or doubled comma (`",1"`, `"0,"`, `"0,,1"`).
    EmptyPart,
    /// A part is neither a decimal number nor a range of two (`"a"`, `"+1"`, `"1-2-3"`).
    NotANumber,
    /// A range has nothing before its `-` (`"-3"`).
    MissingRangeStart,
    /// A range has nothing after its `-` (`"0-"`).
    MissingRangeEnd,
    /// A range `A-B` with `A > B` (`"3-1"`).
    ReversedRange {
        /// The first number written (`A`).
        start: usize,
        /// The second number written (`B`).
        end: usize,
    },
    /// A CPU at or beyond [`MAX_CPUS`] (`"512"`).
    CpuOutOfRange {
        /// The CPU as written.
        cpu: usize,
    },
    /// A number too large for `usize` (`"99999999999999999999"`).
    Overflow,
}

/// Why [`parse_cpu_str`] rejected its input: the [kind](Self::kind) of problem, the byte
/// [span](Self::span) of the offending part in the original input, and the input itself.
///
/// `Display` quotes the input and points at the part, e.g.
/// `invalid CPU list "3-1": range "3-1" at byte 0 is reversed (write "1-3")`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", fmt::from_fn(|f| self.render(f)))]
pub struct CpuListParseError {
    input: String,
    span: Range<usize>,
    kind: CpuListParseErrorKind,
}

impl CpuListParseError {
    /// What is wrong.
    pub fn kind(&self) -> CpuListParseErrorKind {
        self.kind
    }

    /// Byte offsets of the offending part in [`input`](Self::input), without surrounding
    /// whitespace; for an [`EmptyPart`](CpuListParseErrorKind::EmptyPart), the (possibly blank,
    /// possibly zero-length) gap where the part should be.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The offending part, `&self.input()[self.span()]`.
    pub fn part(&self) -> &str {
        self.input.get(self.span.clone()).unwrap_or_default()
    }

    /// The whole input that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    fn empty_part_reason(&self) -> &'static str {
        let before = self.input.get(..self.span.start).unwrap_or_default();
        let after = self.input.get(self.span.end..).unwrap_or_default();
        match (before.trim().is_empty(), after.trim().is_empty()) {
            (true, _) => "leading comma",
            (false, true) => "trailing comma",
            (false, false) => "two commas in a row",
        }
    }
}

impl CpuListParseError {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CpuListParseErrorKind as Kind;
        write!(f, "invalid CPU list {:?}: ", self.input)?;
        let (part, at) = (self.part(), self.span.start);
        match self.kind {
            Kind::EmptyPart => write!(f, "empty part at byte {at} ({})", self.empty_part_reason()),
            Kind::NotANumber => write!(
                f,
                "part {part:?} at byte {at} is not a CPU number or range (expected \"N\" or \"A-B\")"
            ),
            Kind::MissingRangeStart => {
                write!(
                    f,
                    "range {part:?} at byte {at} has no start (expected \"A-B\")"
                )
            }
            Kind::MissingRangeEnd => {
                write!(
                    f,
                    "range {part:?} at byte {at} has no end (expected \"A-B\")"
                )
            }
            Kind::ReversedRange { start, end } => write!(
                f,
                "range {part:?} at byte {at} is reversed (write \"{end}-{start}\")"
            ),
            Kind::CpuOutOfRange { cpu } => write!(
                f,
                "CPU {cpu} in part {part:?} at byte {at} is out of range \
                 (CPUs must be below MAX_CPUS = {MAX_CPUS})"
            ),
            Kind::Overflow => write!(
                f,
                "part {part:?} at byte {at} has a number too large for usize \
                 (CPUs must be below MAX_CPUS = {MAX_CPUS})"
            ),
        }
    }
}

/// Why pinning the calling thread or reading its affinity failed.
///
/// The OS error, where there is one, is the [`source`](std::error::Error::source); `Display`
/// says which call failed and does not repeat it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AffinityError {
    /// [`CpuList::pin_current_thread`] was given an empty list; no system call was made.
    #[error("cannot pin the current thread to an empty CPU list")]
    EmptyList,
    /// `sched_setaffinity` failed, typically `EINVAL` because none of `cpus` is online and
    /// allowed for this thread (cgroup cpuset).
    #[error("cannot pin the current thread to CPUs \"{cpus}\": sched_setaffinity failed")]
    SetAffinity {
        /// The list the thread was to be pinned to.
        cpus: CpuList,
        /// The OS error.
        #[source]
        error: io::Error,
    },
    /// `sched_getaffinity` failed.
    #[error("cannot read the current thread's CPU affinity: sched_getaffinity failed")]
    GetAffinity {
        /// The OS error.
        #[source]
        error: io::Error,
    },
    /// The thread may run on a CPU at or beyond [`MAX_CPUS`], which a [`CpuList`] cannot hold.
    #[error("the current thread's CPU affinity does not fit in a CpuList")]
    OutOfRange(#[source] CpuOutOfRange),
    /// Not on Linux: gears sets thread affinity with Linux's `sched_setaffinity` only.
    #[error(
        "thread affinity is supported on Linux only (sched_setaffinity); this is {}",
        std::env::consts::OS
    )]
    Unsupported,
}
