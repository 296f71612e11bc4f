//! The sandbox as a hostile friend meets it: every system call an escape or I/O needs, tried
//! raw (no libc wrapper that could refuse first), from a sandboxed thread friend and from a
//! process friend. Each must fail with `EPERM`, and the friend must go on making requests
//! afterwards. Each scenario runs in a child process with a time limit (this binary re-executes
//! itself), so a hole (a fork, an exec, a mapping) fails its test instead of the suite.

use std::sync::Mutex;
use std::time::Duration;

use offload::prelude::*;

mod common;
use common::{assert_child_passed, is_child, run_child};
use offload::OnDenied;

mod shared {
    offload::declare_exports! {
        pub fn hakase_probe_report(lines: Vec<String>) -> usize;
    }
}

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Collects what a friend saw.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_probe_report(lines: Vec<String>) -> usize {
    let n = lines.len();
    SEEN.lock().unwrap().extend(lines);
    n
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The x32 ABI's bit in a system call number: the same calls, numbered differently. An allow
/// list of x86-64 numbers must not let them through.
const X32: libc::c_long = 0x4000_0000;

/// One raw system call with six arguments; "name ret errno". A call that would have forked
/// (returns 0 in a child) ends that child at once, so a hole shows as a return value.
fn attempt(name: &str, nr: libc::c_long, args: [usize; 6]) -> String {
    // SAFETY: each call below is chosen so that, were the filter to let it through, it would
    // fail on its arguments, act on a fresh private object, or (fork, vfork, clone) be ended at
    // once in the child; the test then fails on the return value instead of an errno.
    let r = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    let e = if r < 0 { errno() } else { 0 };
    if r == 0 && matches!(name, "fork" | "vfork" | "clone SIGCHLD") {
        // SAFETY: in a forked child: end it without touching anything shared.
        unsafe { libc::syscall(libc::SYS_exit_group, 0) };
    }
    format!("{name} {r} {e}")
}

/// Every attempt, in order. Pointers point to live, valid buffers, so what refuses a call is
/// the filter, not a bad address.
fn attempts() -> Vec<String> {
    let path = c"/etc/hostname";
    let argv = [c"/bin/true".as_ptr(), core::ptr::null()];
    let envp = [core::ptr::null::<libc::c_char>()];
    // clone3's arguments with flags no kernel accepts, so even a hole would be EINVAL.
    let clone_args = [u64::MAX; 11];
    let mut buffer = [0u8; 64];
    let iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    let stack_page = (&raw const buffer as usize) & !4095;
    let rwx = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as usize;
    let anon_private = (libc::MAP_ANONYMOUS | libc::MAP_PRIVATE) as usize;
    let anon_shared = (libc::MAP_ANONYMOUS | libc::MAP_SHARED) as usize;
    let p = |ptr: *const libc::c_char| ptr as usize;
    let at_fdcwd = libc::AT_FDCWD as usize;
    let int80 = int80_getpid();
    let int80 = format!(
        "int 0x80 getpid {} {}",
        int80.max(-1),
        if int80 < 0 { -int80 } else { 0 }
    );
    vec![
        int80,
        attempt(
            "openat",
            libc::SYS_openat,
            [at_fdcwd, p(path.as_ptr()), 0, 0, 0, 0],
        ),
        attempt("open", libc::SYS_open, [p(path.as_ptr()), 0, 0, 0, 0, 0]),
        attempt(
            "x32 openat",
            X32 | libc::SYS_openat,
            [at_fdcwd, p(path.as_ptr()), 0, 0, 0, 0],
        ),
        attempt("x32 getpid", X32 | libc::SYS_getpid, [0; 6]),
        attempt(
            "socket inet",
            libc::SYS_socket,
            [
                libc::AF_INET as usize,
                libc::SOCK_STREAM as usize,
                0,
                0,
                0,
                0,
            ],
        ),
        attempt(
            "socket unix",
            libc::SYS_socket,
            [
                libc::AF_UNIX as usize,
                libc::SOCK_DGRAM as usize,
                0,
                0,
                0,
                0,
            ],
        ),
        attempt(
            "socketpair",
            libc::SYS_socketpair,
            [
                libc::AF_UNIX as usize,
                libc::SOCK_STREAM as usize,
                0,
                buffer.as_ptr() as usize,
                0,
                0,
            ],
        ),
        attempt(
            "ptrace traceme",
            libc::SYS_ptrace,
            [libc::PTRACE_TRACEME as usize, 0, 0, 0, 0, 0],
        ),
        attempt(
            "ptrace attach parent",
            libc::SYS_ptrace,
            [
                libc::PTRACE_ATTACH as usize,
                std::os::unix::process::parent_id() as usize,
                0,
                0,
                0,
                0,
            ],
        ),
        attempt(
            "execve",
            libc::SYS_execve,
            [
                p(argv[0]),
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
                0,
                0,
                0,
            ],
        ),
        attempt(
            "execveat",
            libc::SYS_execveat,
            [
                at_fdcwd,
                p(argv[0]),
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
                0,
                0,
            ],
        ),
        attempt(
            "clone3",
            libc::SYS_clone3,
            [
                clone_args.as_ptr() as usize,
                std::mem::size_of_val(&clone_args),
                0,
                0,
                0,
                0,
            ],
        ),
        attempt("clone3 null", libc::SYS_clone3, [0; 6]),
        // CLONE_SIGHAND without CLONE_VM: EINVAL were it let through.
        attempt(
            "clone odd flags",
            libc::SYS_clone,
            [libc::CLONE_SIGHAND as usize, 0, 0, 0, 0, 0],
        ),
        attempt(
            "clone SIGCHLD",
            libc::SYS_clone,
            [libc::SIGCHLD as usize, 0, 0, 0, 0, 0],
        ),
        attempt("fork", libc::SYS_fork, [0; 6]),
        attempt("vfork", libc::SYS_vfork, [0; 6]),
        attempt(
            "mmap rwx",
            libc::SYS_mmap,
            [0, 4096, rwx, anon_private, usize::MAX, 0],
        ),
        attempt(
            "mmap rx shared",
            libc::SYS_mmap,
            [
                0,
                4096,
                (libc::PROT_READ | libc::PROT_EXEC) as usize,
                anon_shared,
                usize::MAX,
                0,
            ],
        ),
        attempt(
            "mmap exec in high bits",
            libc::SYS_mmap,
            [0, 4096, rwx | (1 << 32), anon_private, usize::MAX, 0],
        ),
        attempt(
            "mprotect stack rwx",
            libc::SYS_mprotect,
            [stack_page, 4096, rwx, 0, 0, 0],
        ),
        attempt(
            "pkey_mprotect",
            libc::SYS_pkey_mprotect,
            [stack_page, 4096, rwx, 0, 0, 0],
        ),
        attempt(
            "prctl set name",
            libc::SYS_prctl,
            [
                libc::PR_SET_NAME as usize,
                p(c"escaped".as_ptr()),
                0,
                0,
                0,
                0,
            ],
        ),
        attempt(
            "prctl set dumpable",
            libc::SYS_prctl,
            [libc::PR_SET_DUMPABLE as usize, 1, 0, 0, 0, 0],
        ),
        attempt(
            "prctl seccomp strict",
            libc::SYS_prctl,
            [libc::PR_SET_SECCOMP as usize, 1, 0, 0, 0, 0],
        ),
        attempt("seccomp", libc::SYS_seccomp, [0, 0, 0, 0, 0, 0]),
        attempt(
            "personality query",
            libc::SYS_personality,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
        attempt(
            "personality read implies exec",
            libc::SYS_personality,
            [0x0040_0000, 0, 0, 0, 0, 0],
        ),
        attempt(
            "memfd_create",
            libc::SYS_memfd_create,
            [p(c"x".as_ptr()), 0, 0, 0, 0, 0],
        ),
        attempt(
            "process_vm_writev",
            libc::SYS_process_vm_writev,
            [
                std::process::id() as usize,
                &raw const iov as usize,
                1,
                &raw const iov as usize,
                1,
                0,
            ],
        ),
        attempt(
            "io_uring_setup",
            libc::SYS_io_uring_setup,
            [1, buffer.as_mut_ptr() as usize, 0, 0, 0, 0],
        ),
        attempt("userfaultfd", libc::SYS_userfaultfd, [0; 6]),
        attempt("bpf", libc::SYS_bpf, [0, 0, 0, 0, 0, 0]),
        attempt("perf_event_open", libc::SYS_perf_event_open, [0; 6]),
        attempt(
            "kill parent 0",
            libc::SYS_kill,
            [std::os::unix::process::parent_id() as usize, 0, 0, 0, 0, 0],
        ),
        attempt("tkill self", libc::SYS_tkill, [0, 0, 0, 0, 0, 0]),
        attempt(
            "unshare user",
            libc::SYS_unshare,
            [libc::CLONE_NEWUSER as usize, 0, 0, 0, 0, 0],
        ),
        attempt("setns", libc::SYS_setns, [0, 0, 0, 0, 0, 0]),
        attempt("chdir", libc::SYS_chdir, [p(c"/".as_ptr()), 0, 0, 0, 0, 0]),
        attempt(
            "write stderr",
            libc::SYS_write,
            [2, buffer.as_ptr() as usize, 1, 0, 0, 0],
        ),
        attempt("dup fd 0", libc::SYS_dup, [0, 0, 0, 0, 0, 0]),
        attempt(
            "ioctl",
            libc::SYS_ioctl,
            [
                0,
                libc::TIOCGWINSZ as usize,
                buffer.as_mut_ptr() as usize,
                0,
                0,
                0,
            ],
        ),
        attempt("membarrier", libc::SYS_membarrier, [0, 0, 0, 0, 0, 0]),
        attempt(
            "sched_setaffinity",
            libc::SYS_sched_setaffinity,
            [0, 8, buffer.as_ptr() as usize, 0, 0, 0],
        ),
        attempt("setpriority", libc::SYS_setpriority, [0, 0, 0, 0, 0, 0]),
        attempt(
            "rt_sigaction sigsys",
            libc::SYS_rt_sigaction,
            [libc::SIGSYS as usize, 0, 0, 8, 0, 0],
        ),
        attempt(
            "rt_sigaction sigsys, high bits set",
            libc::SYS_rt_sigaction,
            [libc::SIGSYS as usize | (1 << 32), 0, 0, 8, 0, 0],
        ),
    ]
}

/// What every attempt must give: `-1 EPERM`.
fn assert_all_refused(seen: &[String]) {
    // As many as `attempts` makes: a friend that stopped early (a crash mid-battery) must not
    // pass with half the list.
    assert_eq!(seen.len(), ATTEMPTS, "{seen:#?}");
    let holes: Vec<&String> = seen
        .iter()
        .filter(|line| !line.ends_with(&format!(" -1 {}", libc::EPERM)))
        .collect();
    assert!(
        holes.is_empty(),
        "calls the sandbox let through: {holes:#?}"
    );
}

/// How many calls `attempts` tries.
const ATTEMPTS: usize = 48;

#[test]
fn a_sandboxed_thread_friend_is_refused_every_escape_and_goes_on() {
    const CASE: &str = "a_sandboxed_thread_friend_is_refused_every_escape_and_goes_on";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(30)));
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0")
        .unwrap()
        .sandbox(Sandbox::NoSyscalls);
    let friends = hakase
        .spawn_friends(config, |_| {
            let seen = attempts();
            // Refused calls leave the friend able to ask: the request is served.
            let n = offload!(move { hakase_probe_report(seen) });
            assert_eq!(n, ATTEMPTS);
        })
        .unwrap();
    friends.join().unwrap();
    let seen = std::mem::take(&mut *SEEN.lock().unwrap());
    println!("{seen:#?}");
    assert_all_refused(&seen);
}

fn process_prober(_: FriendId) {
    let seen = attempts();
    assert_eq!(shared::hakase_probe_report::remote(seen), Ok(ATTEMPTS));
    // And again: the friend is not left in a broken state.
    assert_eq!(shared::hakase_probe_report::remote(Vec::new()), Ok(0));
}

#[test]
fn a_process_friend_is_refused_every_escape_and_goes_on() {
    const CASE: &str = "a_process_friend_is_refused_every_escape_and_goes_on";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(30)));
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0").unwrap().process();
    hakase
        .spawn_friends(config, process_prober)
        .unwrap()
        .join()
        .unwrap();
    let seen = std::mem::take(&mut *SEEN.lock().unwrap());
    println!("{seen:#?}");
    assert_all_refused(&seen);
}

/// The i386 getpid (20) through `int 0x80`: the value it returns (negative: an errno).
fn int80_getpid() -> isize {
    let r: isize;
    // SAFETY: the i386 getpid through int 0x80: no arguments, no memory touched.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("eax") 20isize => r, options(nostack));
    }
    r
}

/// The i386 system call entry (`int 0x80`) from a 64-bit sandboxed friend: the filter sees
/// another architecture, whose numbers its allow list does not speak. The call is denied like
/// any other (seccompiler alone would end the whole process with `SIGSYS`, without a word).
#[test]
fn the_i386_entry_from_a_sandboxed_friend_is_refused_like_any_call() {
    const CASE: &str = "the_i386_entry_from_a_sandboxed_friend_is_refused_like_any_call";
    if !is_child(CASE) {
        let output = assert_child_passed(CASE, Duration::from_secs(30));
        assert!(output.contains("int 0x80 getpid: -1"), "{output}");
        return;
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0")
        .unwrap()
        .sandbox(Sandbox::NoSyscalls);
    let friends = hakase
        .spawn_friends(config, |_| {
            let r = int80_getpid();
            assert_eq!(r, -(libc::EPERM as isize), "int 0x80 getpid returned {r}");
            // Refused, the friend goes on and is served.
            offload!({ println!("int 0x80 getpid: -1 (EPERM)") });
        })
        .unwrap();
    friends.join().unwrap();
}

#[test]
fn the_i386_entry_under_kill_on_denied_is_reported_as_such() {
    const CASE: &str = "the_i386_entry_under_kill_on_denied_is_reported_as_such";
    if !is_child(CASE) {
        let ended = run_child(CASE, Duration::from_secs(30));
        assert_eq!(ended.signal, Some(libc::SIGSYS), "{}", ended.output);
        assert!(
            ended.output.contains(
                "offload: friend 0 made the system call number 20 through another \
                 architecture's entry (int 0x80: an i386 call), which its sandbox denies"
            ),
            "{}",
            ended.output
        );
        return;
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0")
        .unwrap()
        .sandbox(Sandbox::NoSyscalls)
        .on_denied(OnDenied::KillProcess);
    let friends = hakase
        .spawn_friends(config, |_| {
            int80_getpid();
        })
        .unwrap();
    let _ = friends.join();
    unreachable!("the denied call ends the process");
}
