//! Topologies: the synthetic test machines, sysfs parsing (on a fake tree and on this machine),
//! and CPU-list checks against a machine.

use std::fs;
use std::path::{Path, PathBuf};

use ghost_dsl::{PerCpu, Topology};

fn list(t: &Topology, cpu: usize, l3: bool) -> String {
    let cpu = t.cpu(cpu).unwrap();
    if l3 {
        t.l3_siblings(cpu)
    } else {
        t.siblings(cpu)
    }
    .to_string()
}

#[test]
fn test_topology_numbers_cpus_as_linux_does() {
    let t = Topology::test_default();
    assert_eq!(t.num_cpus(), 8);
    assert_eq!(t.all_cpus().to_string(), "0-7");
    let c4 = t.cpu(4).unwrap();
    assert_eq!(
        (c4.id(), c4.core(), c4.smt_idx(), c4.numa_node()),
        (4, 0, 1, 0)
    );
    assert_eq!(list(&t, 0, false), "0,4");
    assert_eq!(list(&t, 7, false), "3,7");
    assert_eq!(list(&t, 5, true), "0-7");
    assert_eq!(t.cpu(8), None);

    let two = Topology::test(2, 2, 2).unwrap();
    assert_eq!(two.num_nodes(), 2);
    assert_eq!(list(&two, 0, true), "0-1,4-5");
    assert_eq!(list(&two, 6, true), "2-3,6-7");
    assert_eq!(two.cpu(6).unwrap().numa_node(), 1);
    assert_eq!(two.cpus_on_node(1).to_string(), "2-3,6-7");
    assert!(two.cpus_on_node(5).is_empty());
}

#[test]
fn cpu_lists_are_checked_against_the_machine() {
    let t = Topology::test_default();
    assert_eq!(t.parse_cpu_str("0-1,4").unwrap().to_string(), "0-1,4");
    let cpus: Vec<usize> = t
        .cpus(&t.parse_cpu_str("1,5").unwrap())
        .map(|c| c.id())
        .collect();
    assert_eq!(cpus, [1, 5]);
    let err = t.parse_cpu_str("6-9").unwrap_err().to_string();
    assert_eq!(err, "cpu8 is not on this machine (its CPUs are 0-7)");
    let err = t.parse_cpu_str("3-1").unwrap_err().to_string();
    assert!(err.contains("reversed"), "{err}");
    assert!(t.to_cpu_list(&[0, 7]).is_ok());
    let err = Topology::test(1, 0, 2).unwrap_err().to_string();
    assert!(
        err.contains("has 0 CPUs; it needs between 1 and 512"),
        "{err}"
    );
    assert!(Topology::test(1, 600, 1).is_err());
}

/// A directory laid out like /sys/devices/system/cpu, removed on drop.
struct FakeSysfs(PathBuf);

impl FakeSysfs {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("ghost-dsl-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        Self(root)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn dir(&self, rel: &str) {
        fs::create_dir_all(self.0.join(rel)).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for FakeSysfs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Two sockets of one dual-thread core each: cpus 0,2 share core 0 on node 0, cpus 1,3 core 1
/// on node 1; L3 described for socket 0 only.
fn two_socket_machine(name: &str) -> FakeSysfs {
    let fs = FakeSysfs::new(name);
    fs.write("online", "0-3\n");
    for (cpu, siblings, node) in [(0, "0,2", 0), (1, "1,3", 1), (2, "0,2", 0), (3, "1,3", 1)] {
        fs.write(
            &format!("cpu{cpu}/topology/thread_siblings_list"),
            &format!("{siblings}\n"),
        );
        fs.dir(&format!("cpu{cpu}/node{node}"));
        if node == 0 {
            fs.write(&format!("cpu{cpu}/cache/index3/shared_cpu_list"), "0,2\n");
        }
    }
    fs
}

#[test]
fn sysfs_tree_is_read() {
    let fs = two_socket_machine("ok");
    let t = Topology::from_sysfs_root(fs.path()).unwrap();
    assert_eq!(t.num_cpus(), 4);
    let c3 = t.cpu(3).unwrap();
    assert_eq!((c3.core(), c3.smt_idx(), c3.numa_node()), (1, 1, 1));
    assert_eq!(list(&t, 2, false), "0,2");
    assert_eq!(list(&t, 0, true), "0,2");
    // No L3 entry: the NUMA node stands in.
    assert_eq!(list(&t, 1, true), "1,3");
    assert_eq!(t.cpus_on_node(1).to_string(), "1,3");
}

#[test]
fn sysfs_errors_name_the_file() {
    let fs = two_socket_machine("missing");
    fs::remove_file(fs.path().join("cpu2/topology/thread_siblings_list")).unwrap();
    let err = Topology::from_sysfs_root(fs.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read the CPU topology from "),
        "{err}"
    );
    assert!(err.contains("cpu2/topology/thread_siblings_list"), "{err}");

    let fs = two_socket_machine("garbled");
    fs.write("online", "0-x\n");
    let err = Topology::from_sysfs_root(fs.path())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("unexpected CPU topology in "), "{err}");
    assert!(err.contains("online"), "{err}");

    let fs = two_socket_machine("not-own-sibling");
    fs.write("cpu1/topology/thread_siblings_list", "3\n");
    let err = Topology::from_sysfs_root(fs.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cpu1 is not in its own siblings list `3`"),
        "{err}"
    );
}

#[test]
fn this_machine_topology_is_consistent() {
    if !Path::new("/sys/devices/system/cpu/online").exists() {
        eprintln!("skipped: no /sys/devices/system/cpu on this machine");
        return;
    }
    let t = Topology::from_sysfs().unwrap();
    assert!(t.num_cpus() >= 1);
    for cpu in t.cpus(t.all_cpus()) {
        assert!(t.siblings(cpu).contains(cpu.id()));
        assert!(t.l3_siblings(cpu).contains(cpu.id()));
        assert!(
            t.siblings(cpu)
                .iter()
                .all(|s| t.siblings(t.cpu(s).unwrap()).contains(cpu.id()))
        );
        assert_eq!(cpu.core(), t.siblings(cpu).first().unwrap());
    }
}

#[test]
fn per_cpu_slots_are_indexed_by_cpu() {
    let t = Topology::test_default();
    let mut counts: PerCpu<u32> = PerCpu::default();
    for cpu in t.cpus(t.all_cpus()) {
        counts[cpu] += cpu.id() as u32;
    }
    assert_eq!(counts[t.cpu(7).unwrap()], 7);
    assert_eq!(*counts.by_id(3), 3);
    *counts.by_id_mut(3) = 30;
    assert_eq!(counts[t.cpu(3).unwrap()], 30);
}
