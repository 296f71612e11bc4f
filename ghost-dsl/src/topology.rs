//! Machine topology: [`Topology`] and its [`Cpu`]s, as ghOSt's `lib/topology.h` defines them.
//!
//! ghOSt's `Cpu` is a pointer to a `CpuRep` owned by the `Topology` singleton, so copying it is
//! free and `cpu.siblings()` follows the pointer. Here [`Cpu`] is a small `Copy` value with no
//! lifetime (so schedulers can keep it in their task structs); the CPU lists it is related to
//! (`siblings`, `l3_siblings`) live in the [`Topology`] and are asked for there:
//! [`Topology::siblings`], [`Topology::l3_siblings`].
//!
//! A topology comes from the running machine ([`Topology::from_sysfs`], reading
//! `/sys/devices/system/cpu`) or is built for tests ([`Topology::test`]), which is what the
//! simulated enclave uses so that results do not depend on the machine.

use std::fmt;
use std::io;
use std::ops::{Index, IndexMut};
use std::path::{Path, PathBuf};

use crate::{CpuList, MAX_CPUS, parse_cpu_str};

/// One logical CPU: its number, its core, its index among its SMT siblings and its NUMA node.
///
/// Obtained from a [`Topology`] ([`Topology::cpu`], [`Topology::cpus`]); never built by hand, as
/// in ghOSt. Two `Cpu`s compare equal when their ids are equal (and order and hash by id):
/// within a topology the id determines the rest, and one compare is what the agent's hot path
/// pays for every message.
#[derive(Clone, Copy, Debug)]
pub struct Cpu {
    id: u16,
    core: u16,
    smt_idx: u16,
    numa_node: u16,
}

impl PartialEq for Cpu {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Cpu {}

impl PartialOrd for Cpu {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cpu {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl std::hash::Hash for Cpu {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl Cpu {
    /// A stand-in for an id the topology lacks (a hole in sysfs numbering); never in an enclave.
    pub(crate) const fn placeholder(id: usize) -> Self {
        Self {
            id: id as u16,
            core: id as u16,
            smt_idx: 0,
            numa_node: 0,
        }
    }

    /// The CPU number (`cpu` in ghOSt's `CpuRep`), below [`MAX_CPUS`].
    pub const fn id(self) -> usize {
        self.id as usize
    }

    /// The core this CPU belongs to: the lowest CPU number among its SMT siblings, which is unique
    /// machine-wide (sysfs's `core_id` repeats across sockets).
    pub const fn core(self) -> usize {
        self.core as usize
    }

    /// This CPU's position among its SMT siblings (0 for the first hardware thread of the core).
    pub const fn smt_idx(self) -> usize {
        self.smt_idx as usize
    }

    /// The NUMA node of this CPU.
    pub const fn numa_node(self) -> usize {
        self.numa_node as usize
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu{}", self.id)
    }
}

/// What [`Topology`] keeps per CPU (ghOSt's `Cpu::CpuRep`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CpuRep {
    cpu: Cpu,
    siblings: CpuList,
    l3_siblings: CpuList,
}

/// The machine's CPUs, cores, L3 domains and NUMA nodes.
///
/// Invariants: CPU ids are below [`MAX_CPUS`] and listed in [`all_cpus`](Self::all_cpus); each
/// CPU is in its own `siblings` and `l3_siblings`; siblings lists are consistent (if `a` lists
/// `b`, `b` lists `a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    all_cpus: CpuList,
    /// Indexed by CPU id; `None` for ids that are not present (offline or beyond the machine).
    reps: Vec<Option<CpuRep>>,
    cpus_on_node: Vec<CpuList>,
}

impl Topology {
    /// Reads the running machine's topology from `/sys/devices/system/cpu`.
    ///
    /// # Errors
    ///
    /// [`TopologyError`] naming the file that could not be read or parsed.
    pub fn from_sysfs() -> Result<Self, TopologyError> {
        Self::from_sysfs_root(Path::new("/sys/devices/system/cpu"))
    }

    /// Reads a topology from a directory laid out like `/sys/devices/system/cpu` (for tests and
    /// for machines whose sysfs is mounted elsewhere).
    ///
    /// Reads `online`, then per CPU `cpuN/topology/thread_siblings_list`,
    /// `cpuN/cache/index3/shared_cpu_list` (when a CPU has no L3 entry, its L3 domain is taken to
    /// be its NUMA node, as on machines whose caches are not described) and the `cpuN/nodeM`
    /// link (node 0 when there is none, as on kernels without NUMA).
    ///
    /// # Errors
    ///
    /// [`TopologyError`] naming the file that could not be read or parsed.
    pub fn from_sysfs_root(root: &Path) -> Result<Self, TopologyError> {
        let online = read_cpu_list(&root.join("online"))?;
        let mut reps: Vec<Option<CpuRep>> = Vec::new();
        let mut l3_missing = Vec::new();
        for id in &online {
            let dir = root.join(format!("cpu{id}"));
            let siblings = read_cpu_list(&dir.join("topology/thread_siblings_list"))?;
            if !siblings.contains(id) {
                return Err(TopologyError::inconsistent(
                    dir.join("topology/thread_siblings_list"),
                    format!("cpu{id} is not in its own siblings list `{siblings}`"),
                ));
            }
            let l3_path = dir.join("cache/index3/shared_cpu_list");
            let l3_siblings = if l3_path.exists() {
                read_cpu_list(&l3_path)?
            } else {
                l3_missing.push(id);
                CpuList::new()
            };
            let numa_node = read_numa_node(&dir)?;
            let core = siblings.first().unwrap_or(id);
            let smt_idx = siblings.iter().position(|s| s == id).unwrap_or(0);
            if reps.len() <= id {
                reps.resize(id + 1, None);
            }
            reps[id] = Some(CpuRep {
                cpu: Cpu {
                    id: narrow(id),
                    core: narrow(core),
                    smt_idx: narrow(smt_idx),
                    numa_node: narrow(numa_node),
                },
                siblings,
                l3_siblings,
            });
        }
        Self::finish(online, reps, &l3_missing)
    }

    /// A synthetic machine: `sockets` sockets of `cores_per_socket` cores with `smt` hardware
    /// threads each; one L3 domain and one NUMA node per socket. CPUs are numbered as Linux
    /// numbers them on x86: first thread of every core, then the second thread of every core,
    /// so the siblings of CPU 0 on a 4-core SMT-2 machine are `0,4`.
    ///
    /// # Errors
    ///
    /// [`TopologyError::TooLarge`] when the machine would have no CPU or more than [`MAX_CPUS`].
    pub fn test(
        sockets: usize,
        cores_per_socket: usize,
        smt: usize,
    ) -> Result<Self, TopologyError> {
        let cores = sockets * cores_per_socket;
        let n = cores * smt;
        if n == 0 || n > MAX_CPUS {
            return Err(TopologyError::TooLarge {
                sockets,
                cores_per_socket,
                smt,
            });
        }
        let mut reps = vec![None; n];
        for thread in 0..smt {
            for core in 0..cores {
                let id = thread * cores + core;
                let socket = core / cores_per_socket;
                let siblings: CpuList = (0..smt).map(|t| t * cores + core).collect();
                let l3_siblings: CpuList = (0..smt)
                    .flat_map(|t| {
                        (socket * cores_per_socket..(socket + 1) * cores_per_socket)
                            .map(move |c| t * cores + c)
                    })
                    .collect();
                reps[id] = Some(CpuRep {
                    cpu: Cpu {
                        id: narrow(id),
                        core: narrow(core),
                        smt_idx: narrow(thread),
                        numa_node: narrow(socket),
                    },
                    siblings,
                    l3_siblings,
                });
            }
        }
        Self::finish((0..n).collect(), reps, &[])
    }

    /// The fixed test machine the simulator uses by default: 1 socket, 4 cores, 2 SMT threads
    /// (CPUs 0-7, siblings `{i, i+4}`).
    pub fn test_default() -> Self {
        Self::test(1, 4, 2).expect("1x4x2 is within MAX_CPUS")
    }

    fn finish(
        all_cpus: CpuList,
        mut reps: Vec<Option<CpuRep>>,
        l3_missing: &[usize],
    ) -> Result<Self, TopologyError> {
        let nodes = reps
            .iter()
            .flatten()
            .map(|r| r.cpu.numa_node() + 1)
            .max()
            .unwrap_or(0);
        let mut cpus_on_node = vec![CpuList::new(); nodes];
        for rep in reps.iter().flatten() {
            cpus_on_node[rep.cpu.numa_node()]
                .insert(rep.cpu.id())
                .expect("ids are below MAX_CPUS");
        }
        for &id in l3_missing {
            if let Some(rep) = reps[id].as_mut() {
                rep.l3_siblings = cpus_on_node[rep.cpu.numa_node()];
            }
        }
        Ok(Self {
            all_cpus,
            reps,
            cpus_on_node,
        })
    }

    /// The number of CPUs.
    pub fn num_cpus(&self) -> usize {
        self.all_cpus.len()
    }

    /// All CPUs of the machine (`all_cpus()` in ghOSt).
    pub fn all_cpus(&self) -> &CpuList {
        &self.all_cpus
    }

    /// The CPU with number `id`, or `None` when the machine has no such CPU.
    pub fn cpu(&self, id: usize) -> Option<Cpu> {
        self.rep(id).map(|r| r.cpu)
    }

    /// The CPUs of `list` that this machine has, in order (ghOSt's range-for over a `CpuList`).
    pub fn cpus<'a>(&'a self, list: &'a CpuList) -> impl Iterator<Item = Cpu> + 'a {
        list.iter().filter_map(|id| self.cpu(id))
    }

    /// The hardware threads sharing `cpu`'s core, `cpu` included.
    pub fn siblings(&self, cpu: Cpu) -> &CpuList {
        &self.rep_of(cpu).siblings
    }

    /// The CPUs sharing `cpu`'s L3 cache, `cpu` included.
    pub fn l3_siblings(&self, cpu: Cpu) -> &CpuList {
        &self.rep_of(cpu).l3_siblings
    }

    /// The CPUs on NUMA node `node` (empty for a node the machine does not have).
    pub fn cpus_on_node(&self, node: usize) -> CpuList {
        self.cpus_on_node.get(node).copied().unwrap_or_default()
    }

    /// The number of NUMA nodes.
    pub fn num_nodes(&self) -> usize {
        self.cpus_on_node.len()
    }

    /// ghOSt's `ToCpuList`: the CPUs of `ids` as a list, checking that this machine has them.
    ///
    /// # Errors
    ///
    /// [`TopologyError::NoSuchCpu`] for the first id the machine does not have.
    pub fn to_cpu_list(&self, ids: &[usize]) -> Result<CpuList, TopologyError> {
        let mut list = CpuList::new();
        for &id in ids {
            if self.rep(id).is_none() {
                return Err(TopologyError::NoSuchCpu {
                    cpu: id,
                    machine: self.all_cpus,
                });
            }
            list.insert(id).expect("present CPUs are below MAX_CPUS");
        }
        Ok(list)
    }

    /// ghOSt's `ParseCpuStr`: parses `"0-1,4"` and checks that this machine has those CPUs.
    ///
    /// # Errors
    ///
    /// [`TopologyError::Parse`] for a malformed string, [`TopologyError::NoSuchCpu`] for a CPU the
    /// machine does not have.
    pub fn parse_cpu_str(&self, s: &str) -> Result<CpuList, TopologyError> {
        let list = parse_cpu_str(s).map_err(TopologyError::Parse)?;
        let ids: Vec<usize> = list.iter().collect();
        self.to_cpu_list(&ids)
    }

    fn rep(&self, id: usize) -> Option<&CpuRep> {
        self.reps.get(id).and_then(Option::as_ref)
    }

    fn rep_of(&self, cpu: Cpu) -> &CpuRep {
        self.rep(cpu.id())
            .expect("a Cpu is only obtained from the Topology that knows it")
    }
}

fn narrow(v: usize) -> u16 {
    u16::try_from(v).expect("values below MAX_CPUS fit in u16")
}

fn read_to_string(path: &Path) -> Result<String, TopologyError> {
    std::fs::read_to_string(path).map_err(|source| TopologyError::Io {
        path: path.to_owned(),
        source,
    })
}

fn read_cpu_list(path: &Path) -> Result<CpuList, TopologyError> {
    let text = read_to_string(path)?;
    parse_cpu_str(text.trim())
        .map_err(|e| TopologyError::inconsistent(path.to_owned(), e.to_string()))
}

fn read_numa_node(cpu_dir: &Path) -> Result<usize, TopologyError> {
    let entries = std::fs::read_dir(cpu_dir).map_err(|source| TopologyError::Io {
        path: cpu_dir.to_owned(),
        source,
    })?;
    let mut nodes: Vec<usize> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_prefix("node")?.parse().ok()
        })
        .collect();
    nodes.sort_unstable();
    match nodes.first() {
        Some(&n) if n < MAX_CPUS => Ok(n),
        Some(&n) => Err(TopologyError::inconsistent(
            cpu_dir.join(format!("node{n}")),
            format!("NUMA node {n} is beyond the supported {MAX_CPUS}"),
        )),
        None => Ok(0),
    }
}

/// Why a [`Topology`] could not be built or a CPU list does not fit it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// A sysfs file could not be read.
    #[error("cannot read the CPU topology from {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error from the OS.
        source: io::Error,
    },
    /// A sysfs file held something unexpected.
    #[error("unexpected CPU topology in {}: {reason}", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// [`Topology::test`] was asked for no CPU or more than [`MAX_CPUS`].
    #[error(
        "a test topology of {sockets} socket(s) x {cores_per_socket} core(s) x {smt} thread(s) \
         has {} CPUs; it needs between 1 and {MAX_CPUS}",
        sockets * cores_per_socket * smt
    )]
    TooLarge {
        /// Requested sockets.
        sockets: usize,
        /// Requested cores per socket.
        cores_per_socket: usize,
        /// Requested hardware threads per core.
        smt: usize,
    },
    /// A CPU list names a CPU this machine does not have.
    #[error("cpu{cpu} is not on this machine (its CPUs are {machine})")]
    NoSuchCpu {
        /// The CPU.
        cpu: usize,
        /// The machine's CPUs.
        machine: CpuList,
    },
    /// A CPU string did not parse.
    #[error(transparent)]
    Parse(crate::CpuListParseError),
}

impl TopologyError {
    fn inconsistent(path: PathBuf, reason: String) -> Self {
        Self::Inconsistent { path, reason }
    }
}

/// One `T` per possible CPU (ghOSt's `T state_[MAX_CPUS]` arrays), indexed by [`Cpu`].
///
/// Holds [`MAX_CPUS`] slots allocated once, so indexing never fails for a real [`Cpu`] and never
/// allocates.
#[derive(Clone, Debug)]
pub struct PerCpu<T> {
    slots: Box<[T]>,
}

impl<T: Default> Default for PerCpu<T> {
    fn default() -> Self {
        Self {
            slots: (0..MAX_CPUS).map(|_| T::default()).collect(),
        }
    }
}

impl<T> PerCpu<T> {
    /// The slot of CPU `id` (for code that holds ids rather than [`Cpu`]s).
    ///
    /// # Panics
    ///
    /// If `id >= MAX_CPUS`.
    pub fn by_id(&self, id: usize) -> &T {
        &self.slots[id]
    }

    /// The slot of CPU `id`, mutably.
    ///
    /// # Panics
    ///
    /// If `id >= MAX_CPUS`.
    pub fn by_id_mut(&mut self, id: usize) -> &mut T {
        &mut self.slots[id]
    }
}

impl<T> Index<Cpu> for PerCpu<T> {
    type Output = T;
    fn index(&self, cpu: Cpu) -> &T {
        &self.slots[cpu.id()]
    }
}

impl<T> IndexMut<Cpu> for PerCpu<T> {
    fn index_mut(&mut self, cpu: Cpu) -> &mut T {
        &mut self.slots[cpu.id()]
    }
}
