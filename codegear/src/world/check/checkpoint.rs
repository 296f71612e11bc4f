//! Checkpoints: a check's state saved to a file when a bound stops it, and resumed from there in
//! another process ([`Check::checkpoint`](super::Check::checkpoint),
//! [`World::resume`](crate::World::resume)).
//!
//! # What is saved
//!
//! Fingerprints are stable across worlds and processes (`fingerprint.rs`), so the visited set
//! is saved as it is: per stored state its key (fingerprint or symmetry key) and its parent
//! link `(parent, step label)`. The frontier is saved as the *indices* of its states, in the
//! order they would have been expanded, the state being expanded when the bound hit first (it
//! is expanded again, from scratch; the transitions it had counted are taken back). Data-gear
//! values are user types with no serialization, so frontier states are not written out:
//! resuming rebuilds each one by replaying its path of steps from the initial state, as
//! counterexamples are rebuilt, and checks that the replay reaches the saved key. Then come the
//! counters, the terminal states, and what partial-order reduction and liveness keep (the
//! first state of each breadth-first level, the properties' recorded reads, the state graph's
//! edges, postponed tasks and labels).
//!
//! # The file
//!
//! Little-endian: the magic `GEARSCK\0`, the format version, the program's fingerprint (its
//! initial state's, with the numbers of slots and tasks), the check's signature (its
//! properties by name and the options that decide what is explored), the body, and a 64-bit
//! checksum of everything before it. A file is written next to its destination and renamed
//! over it, so a crash while saving leaves the previous checkpoint whole. Reading checks the
//! magic, the version, the length of every section against what is left, and the checksum
//! before anything else; a truncated or corrupted file, another program's, or one written by a
//! check with other properties is a [`CheckpointError`], never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The first bytes of a checkpoint file.
const MAGIC: [u8; 8] = *b"GEARSCK\0";
/// The format this build writes and reads.
pub(super) const VERSION: u32 = 1;

/// Why a checkpoint could not be written or resumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file could not be read.
    #[error("cannot read checkpoint {path}")]
    Read {
        /// The checkpoint file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write checkpoint {path}")]
    Write {
        /// The checkpoint file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with a checkpoint's magic bytes.
    #[error(
        "{path} is not a gears checkpoint (wrong magic bytes): pass a file written by a check with `Check::checkpoint`"
    )]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
    },
    /// The file was written in another format version.
    #[error(
        "checkpoint {path} has format version {found}, this build reads version {expected}: resume it with the build that wrote it"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The file ends before its contents do.
    #[error("checkpoint {path} is truncated ({detail}): it was not written completely")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is missing.
        detail: String,
    },
    /// The file's contents do not match its checksum, or are inconsistent.
    #[error("checkpoint {path} is corrupted ({detail})")]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// What does not match.
        detail: String,
    },
    /// The file was written for another program (another initial state, or other numbers of
    /// data gears or tasks).
    #[error(
        "checkpoint {path} was written for another program (initial state {found:#018x} with {found_slots} data gears and {found_tasks} tasks; this world: {expected:#018x}, {expected_slots} and {expected_tasks}): resume it on the world it was checked on"
    )]
    OtherProgram {
        /// The file.
        path: PathBuf,
        /// This world's initial fingerprint.
        expected: u64,
        /// The checkpoint's.
        found: u64,
        /// This world's number of data gears.
        expected_slots: u32,
        /// The checkpoint's.
        found_slots: u32,
        /// This world's number of tasks.
        expected_tasks: u32,
        /// The checkpoint's.
        found_tasks: u32,
    },
    /// The file was written by a check with other properties or options.
    #[error(
        "checkpoint {path} was written by another check: it checked `{found}`, this one checks `{expected}`; resume with the same properties and options (only the bounds may change)"
    )]
    OtherCheck {
        /// The file.
        path: PathBuf,
        /// This check's signature.
        expected: String,
        /// The checkpoint's.
        found: String,
    },
    /// Replaying a saved state's path did not reach the state that was saved: the program's
    /// steps are not those that were checked (same initial state, other code).
    #[error(
        "resuming checkpoint {path}: replaying the steps to saved state {state} did not reach it: the program's code gears are not the ones that were checked"
    )]
    Diverged {
        /// The file.
        path: PathBuf,
        /// The index of the saved state.
        state: u32,
        /// The step that failed during the replay, if one did.
        #[source]
        source: Option<crate::error::Error>,
    },
}

/// A check's saved state (see the module documentation).
#[derive(Debug, Default, PartialEq)]
pub(super) struct Saved {
    pub(super) program: u64,
    pub(super) slots: u32,
    pub(super) tasks: u32,
    pub(super) signature: String,
    pub(super) transitions: u64,
    pub(super) depth: u32,
    pub(super) peak_frontier: u64,
    pub(super) reduced: u64,
    /// Per stored state: its key in the visited set.
    pub(super) keys: Vec<u64>,
    /// Per stored state but the initial one: `(parent, label)`.
    pub(super) parents: Vec<(u32, u32)>,
    /// The states left to expand, in the order they are expanded.
    pub(super) frontier: Vec<u32>,
    pub(super) terminal: Vec<u64>,
    pub(super) level_first: Vec<u32>,
    pub(super) read_slots: Vec<bool>,
    pub(super) read_tasks: Vec<bool>,
    /// With liveness properties: the graph.
    pub(super) graph: Option<SavedGraph>,
}

#[derive(Debug, Default, PartialEq)]
pub(super) struct SavedGraph {
    pub(super) edges: Vec<(u32, u32, u32)>,
    pub(super) postponed: Vec<(u32, u32)>,
    pub(super) labels: Vec<Vec<u64>>,
}

/// A 64-bit checksum, eight bytes at a time (multiply, rotate, xor-fold): catches truncation,
/// flipped bits and shuffled words, not an adversary.
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = K ^ (bytes.len() as u64);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

struct Out(Vec<u8>);

impl Out {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }
    fn u32s(&mut self, v: &[u32]) {
        self.len(v.len());
        for &x in v {
            self.u32(x);
        }
    }
    fn u64s(&mut self, v: &[u64]) {
        self.len(v.len());
        for &x in v {
            self.u64(x);
        }
    }
    fn pairs(&mut self, v: &[(u32, u32)]) {
        self.len(v.len());
        for &(a, b) in v {
            self.u32(a);
            self.u32(b);
        }
    }
    fn bools(&mut self, v: &[bool]) {
        self.len(v.len());
        self.0.extend(v.iter().map(|&b| u8::from(b)));
    }
}

impl Saved {
    /// The file's bytes.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Out(Vec::with_capacity(64 + self.keys.len() * 16));
        out.0.extend_from_slice(&MAGIC);
        out.u32(VERSION);
        out.u64(self.program);
        out.u32(self.slots);
        out.u32(self.tasks);
        out.len(self.signature.len());
        out.0.extend_from_slice(self.signature.as_bytes());
        out.u64(self.transitions);
        out.u32(self.depth);
        out.u64(self.peak_frontier);
        out.u64(self.reduced);
        out.u64s(&self.keys);
        out.pairs(&self.parents);
        out.u32s(&self.frontier);
        out.u64s(&self.terminal);
        out.u32s(&self.level_first);
        out.bools(&self.read_slots);
        out.bools(&self.read_tasks);
        match &self.graph {
            None => out.u32(0),
            Some(graph) => {
                out.u32(1);
                out.len(graph.edges.len());
                for &(a, b, c) in &graph.edges {
                    out.u32(a);
                    out.u32(b);
                    out.u32(c);
                }
                out.pairs(&graph.postponed);
                out.len(graph.labels.len());
                for bits in &graph.labels {
                    out.u64s(bits);
                }
            }
        }
        let sum = checksum(&out.0);
        out.u64(sum);
        out.0
    }

    /// Writes the checkpoint next to `path` and renames it over `path`.
    pub(super) fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let error = |source| CheckpointError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".partial");
        let temporary = PathBuf::from(temporary);
        let mut file = std::fs::File::create(&temporary).map_err(error)?;
        file.write_all(&self.encode()).map_err(error)?;
        file.sync_all().map_err(error)?;
        drop(file);
        std::fs::rename(&temporary, path).map_err(error)
    }

    /// Reads and validates a checkpoint file (format, lengths, checksum, internal consistency;
    /// whether it fits the world and the check is the caller's to ask).
    ///
    /// The magic bytes are read and checked before the rest, so that a path to something that
    /// is not a checkpoint and never ends (`/dev/zero`, a pipe) is rejected after a few bytes
    /// instead of being read into memory.
    pub(super) fn read(path: &Path) -> Result<Self, CheckpointError> {
        use std::io::Read;
        let error = |source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(error)?;
        let capacity = file.metadata().map_or(0, |m| m.len() as usize);
        let mut bytes = Vec::with_capacity(capacity.min(1 << 30));
        let mut file = file;
        (&mut file)
            .take(MAGIC.len() as u64)
            .read_to_end(&mut bytes)
            .map_err(error)?;
        if bytes[..] != MAGIC {
            return Self::decode(&bytes, path);
        }
        file.read_to_end(&mut bytes).map_err(error)?;
        Self::decode(&bytes, path)
    }

    pub(super) fn decode(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let path_buf = || path.to_path_buf();
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                return Err(CheckpointError::Truncated {
                    path: path_buf(),
                    detail: format!("{} bytes, not even the magic", bytes.len()),
                });
            }
            return Err(CheckpointError::NotACheckpoint { path: path_buf() });
        }
        let mut input = In {
            bytes,
            at: MAGIC.len(),
            end: bytes.len(),
            path,
        };
        let version = input.u32("the version")?;
        if version != VERSION {
            return Err(CheckpointError::Version {
                path: path_buf(),
                found: version,
                expected: VERSION,
            });
        }
        if bytes.len() < MAGIC.len() + 4 + 8 {
            return Err(CheckpointError::Truncated {
                path: path_buf(),
                detail: "no checksum".into(),
            });
        }
        let body_end = bytes.len() - 8;
        let stored = u64::from_le_bytes(bytes[body_end..].try_into().expect("8 bytes"));
        if checksum(&bytes[..body_end]) != stored {
            // A file cut short fails its checksum too; say which it looks like.
            return Err(CheckpointError::Corrupted {
                path: path_buf(),
                detail:
                    "the checksum does not match the contents: the file was truncated or altered"
                        .into(),
            });
        }
        input.end = body_end;
        let mut saved = Saved {
            program: input.u64("the program fingerprint")?,
            slots: input.u32("the number of data gears")?,
            tasks: input.u32("the number of tasks")?,
            ..Saved::default()
        };
        let len = input.len(1, "the signature")?;
        saved.signature = String::from_utf8(input.take(len, "the signature")?.to_vec())
            .map_err(|_| input.corrupted("the signature is not UTF-8"))?;
        saved.transitions = input.u64("the counters")?;
        saved.depth = input.u32("the counters")?;
        saved.peak_frontier = input.u64("the counters")?;
        saved.reduced = input.u64("the counters")?;
        saved.keys = input.u64s("the visited states")?;
        saved.parents = input.pairs("the parent links")?;
        saved.frontier = input.u32s("the frontier")?;
        saved.terminal = input.u64s("the terminal states")?;
        saved.level_first = input.u32s("the levels")?;
        saved.read_slots = input.bools("the recorded reads")?;
        saved.read_tasks = input.bools("the recorded reads")?;
        saved.graph = match input.u32("the state graph")? {
            0 => None,
            1 => {
                let len = input.len(12, "the edges")?;
                let mut edges = Vec::with_capacity(len);
                for _ in 0..len {
                    edges.push((
                        input.u32("the edges")?,
                        input.u32("the edges")?,
                        input.u32("the edges")?,
                    ));
                }
                let postponed = input.pairs("the postponed tasks")?;
                let slots = input.len(8, "the labels")?;
                let mut labels = Vec::with_capacity(slots);
                for _ in 0..slots {
                    labels.push(input.u64s("the labels")?);
                }
                Some(SavedGraph {
                    edges,
                    postponed,
                    labels,
                })
            }
            other => return Err(input.corrupted(&format!("state graph tag {other}"))),
        };
        if input.at != input.end {
            return Err(input.corrupted("bytes after the contents"));
        }
        saved.validate(path)?;
        Ok(saved)
    }

    /// Indices in range, parents before children: what the explorer relies on.
    fn validate(&self, path: &Path) -> Result<(), CheckpointError> {
        let corrupted = |detail: String| CheckpointError::Corrupted {
            path: path.to_path_buf(),
            detail,
        };
        let states = self.keys.len();
        if states == 0 || states > u32::MAX as usize || self.parents.len() != states - 1 {
            return Err(corrupted(format!(
                "{states} states with {} parent links",
                self.parents.len()
            )));
        }
        for (i, &(parent, _)) in self.parents.iter().enumerate() {
            if parent as usize > i {
                return Err(corrupted(format!(
                    "state {} has a later parent {parent}",
                    i + 1
                )));
            }
        }
        if let Some(&bad) = self.frontier.iter().find(|&&s| s as usize >= states) {
            return Err(corrupted(format!("frontier state {bad} of {states}")));
        }
        if self.level_first.iter().any(|&s| s as usize > states) {
            return Err(corrupted("a level starts past the states".into()));
        }
        if let Some(graph) = &self.graph {
            let in_range = |s: u32| (s as usize) < states;
            if !graph
                .edges
                .iter()
                .all(|&(a, b, _)| in_range(a) && in_range(b))
                || !graph.postponed.iter().all(|&(s, _)| in_range(s))
            {
                return Err(corrupted("an edge names a state not stored".into()));
            }
            if graph
                .labels
                .iter()
                .any(|bits| bits.len() < states.div_ceil(64))
            {
                return Err(corrupted("labels missing for some states".into()));
            }
        }
        Ok(())
    }
}

/// A cursor over a checkpoint's bytes whose every read is checked against what is left.
struct In<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    path: &'a Path,
}

impl In<'_> {
    fn truncated(&self, what: &str) -> CheckpointError {
        CheckpointError::Truncated {
            path: self.path.to_path_buf(),
            detail: format!("it ends inside {what}"),
        }
    }

    fn corrupted(&self, detail: &str) -> CheckpointError {
        CheckpointError::Corrupted {
            path: self.path.to_path_buf(),
            detail: detail.into(),
        }
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&[u8], CheckpointError> {
        if self.end - self.at < len {
            return Err(self.truncated(what));
        }
        let out = &self.bytes[self.at..self.at + len];
        self.at += len;
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, CheckpointError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self, what: &str) -> Result<u64, CheckpointError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    /// A section's length, checked against the bytes left for elements of `size` bytes (so a
    /// corrupted length cannot ask for a huge allocation).
    fn len(&mut self, size: usize, what: &str) -> Result<usize, CheckpointError> {
        let len = self.u64(what)?;
        let left = (self.end - self.at) as u64;
        if len
            .checked_mul(size as u64)
            .is_none_or(|bytes| bytes > left)
        {
            return Err(self.truncated(what));
        }
        Ok(len as usize)
    }

    fn u32s(&mut self, what: &str) -> Result<Vec<u32>, CheckpointError> {
        let len = self.len(4, what)?;
        (0..len).map(|_| self.u32(what)).collect()
    }

    fn u64s(&mut self, what: &str) -> Result<Vec<u64>, CheckpointError> {
        let len = self.len(8, what)?;
        (0..len).map(|_| self.u64(what)).collect()
    }

    fn pairs(&mut self, what: &str) -> Result<Vec<(u32, u32)>, CheckpointError> {
        let len = self.len(8, what)?;
        (0..len)
            .map(|_| Ok((self.u32(what)?, self.u32(what)?)))
            .collect()
    }

    fn bools(&mut self, what: &str) -> Result<Vec<bool>, CheckpointError> {
        let len = self.len(1, what)?;
        let bytes = self.take(len, what)?;
        if bytes.iter().any(|&b| b > 1) {
            return Err(self.corrupted("a flag is neither 0 nor 1"));
        }
        Ok(bytes.iter().map(|&b| b == 1).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Saved {
        Saved {
            program: 0x1234_5678_9abc_def0,
            slots: 3,
            tasks: 2,
            signature: "always [a]".into(),
            transitions: 99,
            depth: 4,
            peak_frontier: 7,
            reduced: 1,
            keys: vec![10, 20, 30, 40],
            parents: vec![(0, 1), (0, 2), (1, 1 << 24)],
            frontier: vec![2, 3],
            terminal: vec![40],
            level_first: vec![0, 1, 3],
            read_slots: vec![true, false, true],
            read_tasks: vec![false, true],
            graph: Some(SavedGraph {
                edges: vec![(0, 1, 1), (0, 2, 2), (1, 3, 1 << 24), (3, 0, 0)],
                postponed: vec![(1, 0)],
                labels: vec![vec![0b1010]],
            }),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let saved = sample();
        let bytes = saved.encode();
        let back = Saved::decode(&bytes, Path::new("x")).unwrap();
        assert_eq!(back, saved);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error_not_a_panic() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            let error = Saved::decode(&bytes[..len], Path::new("x")).unwrap_err();
            assert!(
                matches!(
                    error,
                    CheckpointError::Truncated { .. } | CheckpointError::Corrupted { .. }
                ),
                "{len}: {error}"
            );
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            let error = Saved::decode(&bad, Path::new("x")).unwrap_err();
            let expected = if at < MAGIC.len() {
                matches!(error, CheckpointError::NotACheckpoint { .. })
            } else if at < MAGIC.len() + 4 {
                matches!(error, CheckpointError::Version { .. })
            } else {
                matches!(error, CheckpointError::Corrupted { .. })
            };
            assert!(expected, "byte {at}: {error}");
        }
    }
}
