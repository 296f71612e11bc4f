//! Scheduler tracepoints (`sched:sched_switch`) through `perf_event_open`, one ring buffer per
//! enclave CPU, so that the monitor learns which managed threads were switched out asleep or
//! switched back in since its last poll, instead of sampling every committed thread's
//! `/proc/self/task/<tid>/stat`.
//!
//! Needs root (or `perf_event_paranoid` ≤ -1 with `CAP_PERFMON`) and the tracepoint's id from
//! tracefs: read from `/sys/kernel/tracing` or `/sys/kernel/debug/tracing` when mounted;
//! otherwise, as root, tracefs is mounted on a private temporary directory just long enough to
//! read the id and the record layout, then unmounted (the events stay open). When any step
//! fails, [`Tracepoints::open`] says why and the monitor polls `/proc` alone.

use std::io;
use std::sync::atomic::{Ordering, fence};

/// `PERF_TYPE_TRACEPOINT`.
const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_SAMPLE_RAW`.
const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `PERF_RECORD_SAMPLE`.
const PERF_RECORD_SAMPLE: u32 = 9;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// Data pages per ring (a power of two): 64 KiB, about a thousand switches between polls.
const RING_PAGES: usize = 16;
/// Offset of `data_head` in `struct perf_event_mmap_page` (`data_tail` follows).
const DATA_HEAD: usize = 1024;

/// `struct perf_event_attr` (version 8, 128 bytes), the fields this module sets.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved2: u16,
    aux_sample_size: u32,
    reserved3: u32,
    sig_data: u64,
    config3: u64,
}

/// Where `sched_switch`'s fields are in its raw record.
#[derive(Clone, Copy, Debug)]
struct Layout {
    prev_pid: usize,
    prev_state: usize,
    next_pid: usize,
}

/// One switch on a CPU: who left (and in which state), who came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Switch {
    pub(crate) prev_tid: i32,
    /// `prev_state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)` was set: it went to sleep.
    pub(crate) prev_asleep: bool,
    pub(crate) next_tid: i32,
}

/// One CPU's event and its ring.
struct Ring {
    fd: i32,
    base: *mut u8,
    len: usize,
    page: usize,
    tail: u64,
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are the mapping made in `open_ring`, unmapped once; `fd` is the
        // event it maps, closed once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
        // SAFETY: as above.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// The open tracepoints of an enclave's CPUs.
pub(crate) struct Tracepoints {
    rings: Vec<Ring>,
    layout: Layout,
}

// SAFETY: the rings are plain memory mappings and file descriptors owned by this value; the
// monitor thread is their only user.
unsafe impl Send for Tracepoints {}

fn read_tracefs(root: &str) -> io::Result<(u64, String)> {
    let dir = format!("{root}/events/sched/sched_switch");
    let id = std::fs::read_to_string(format!("{dir}/id"))?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| io::Error::other("a tracepoint id that is not a number"))?;
    Ok((id, std::fs::read_to_string(format!("{dir}/format"))?))
}

/// The tracepoint id and format of `sched_switch`, mounting tracefs briefly if needed.
fn switch_tracepoint() -> io::Result<(u64, String)> {
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if let Ok(found) = read_tracefs(root) {
            return Ok(found);
        }
    }
    let dir = std::env::temp_dir().join(format!("gears-tracefs-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let c_dir = std::ffi::CString::new(dir.to_string_lossy().as_bytes())
        .map_err(|_| io::Error::other("a temporary path with a NUL byte"))?;
    // SAFETY: NUL-terminated strings for source, target and type; no data.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            c_dir.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        let _ = std::fs::remove_dir(&dir);
        return Err(err);
    }
    let found = read_tracefs(&dir.to_string_lossy());
    // SAFETY: the target mounted just above; MNT_DETACH so that a busy mount still goes.
    unsafe {
        libc::umount2(c_dir.as_ptr(), libc::MNT_DETACH);
    }
    let _ = std::fs::remove_dir(&dir);
    found
}

/// The byte offset of `field` in a tracefs `format` text (`field:pid_t prev_pid;\toffset:24;`).
fn offset_of(format: &str, field: &str) -> Option<usize> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?;
        let (decl, rest) = decl.split_once(';')?;
        let name = decl.split_whitespace().last()?.split('[').next()?;
        if name != field {
            return None;
        }
        let offset = rest.trim().strip_prefix("offset:")?;
        offset.split(';').next()?.trim().parse().ok()
    })
}

fn open_ring(id: u64, cpu: usize) -> io::Result<Ring> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id,
        sample_period: 1,
        sample_type: PERF_SAMPLE_RAW,
        ..PerfEventAttr::default()
    };
    let cpu = i32::try_from(cpu).map_err(|_| io::Error::other("a CPU number out of range"))?;
    // SAFETY: `attr` is a valid perf_event_attr of the size it declares; pid -1 with a CPU is
    // "every task on that CPU"; no group.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            -1,
            cpu,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = fd as i32;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let len = page * (1 + RING_PAGES);
    // SAFETY: a fresh shared mapping of the event's ring (metadata page + data pages).
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        // SAFETY: the descriptor opened above.
        unsafe { libc::close(fd) };
        return Err(err);
    }
    Ok(Ring {
        fd,
        base: base.cast(),
        len,
        page,
        tail: 0,
    })
}

impl Tracepoints {
    /// `sched_switch` on each of `cpus`.
    ///
    /// # Errors
    ///
    /// Why the tracepoints cannot be used here (no permission, no tracefs, no such event).
    pub(crate) fn open(cpus: &[usize]) -> io::Result<Self> {
        let (id, format) = switch_tracepoint()?;
        let field = |name| {
            offset_of(&format, name)
                .ok_or_else(|| io::Error::other(format!("sched_switch has no field {name}")))
        };
        let layout = Layout {
            prev_pid: field("prev_pid")?,
            prev_state: field("prev_state")?,
            next_pid: field("next_pid")?,
        };
        let rings = cpus
            .iter()
            .map(|&cpu| open_ring(id, cpu))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self { rings, layout })
    }

    /// Every switch recorded since the last call, per CPU in order (a ring that overflowed
    /// loses its oldest records; the monitor's `/proc` confirmation covers the gap).
    pub(crate) fn drain(&mut self, out: &mut Vec<Switch>) {
        let layout = self.layout;
        for ring in &mut self.rings {
            ring.drain(layout, out);
        }
    }
}

impl Ring {
    fn drain(&mut self, layout: Layout, out: &mut Vec<Switch>) {
        let data_len = (self.page * RING_PAGES) as u64;
        // SAFETY: `base + DATA_HEAD` is `data_head` in the metadata page, an aligned u64 the
        // kernel writes; read volatile, then fence so that the records it covers are visible.
        let head =
            unsafe { std::ptr::read_volatile(self.base.wrapping_add(DATA_HEAD).cast::<u64>()) };
        fence(Ordering::Acquire);
        let mut tail = self.tail.max(head.saturating_sub(data_len));
        let mut record = Vec::new();
        while tail + 8 <= head {
            let header = self.copy(tail, 8, data_len);
            let kind = u32::from_ne_bytes(header[0..4].try_into().expect("4 bytes"));
            let size = u64::from(u16::from_ne_bytes(
                header[6..8].try_into().expect("2 bytes"),
            ));
            if size < 8 || tail + size > head {
                break;
            }
            if kind == PERF_RECORD_SAMPLE {
                record.clear();
                record.extend_from_slice(&self.copy(tail + 8, size as usize - 8, data_len));
                if let Some(switch) = parse(&record, layout) {
                    out.push(switch);
                }
            }
            tail += size;
        }
        self.tail = tail;
        fence(Ordering::Release);
        // SAFETY: `data_tail` follows `data_head`; writing it hands the space back to the
        // kernel (after the fence, every read above is done).
        unsafe {
            std::ptr::write_volatile(self.base.wrapping_add(DATA_HEAD + 8).cast::<u64>(), tail);
        }
    }

    /// `len` bytes of the data area from ring position `at`, across the wrap.
    fn copy(&self, at: u64, len: usize, data_len: u64) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(len);
        for k in 0..len as u64 {
            let pos = ((at + k) % data_len) as usize;
            // SAFETY: `page + pos` is inside the mapping (`pos < data_len`, the data area
            // starts one page in); the kernel wrote it before `data_head`, which we read first.
            bytes.push(unsafe { *self.base.wrapping_add(self.page + pos) });
        }
        bytes
    }
}

/// A `PERF_SAMPLE_RAW` body: `u32` size, then the tracepoint record.
fn parse(body: &[u8], layout: Layout) -> Option<Switch> {
    let raw_len = u32::from_ne_bytes(body.get(0..4)?.try_into().ok()?) as usize;
    let raw = body.get(4..4 + raw_len)?;
    let i32_at = |off: usize| Some(i32::from_ne_bytes(raw.get(off..off + 4)?.try_into().ok()?));
    let state = i64::from_ne_bytes(
        raw.get(layout.prev_state..layout.prev_state + 8)?
            .try_into()
            .ok()?,
    );
    Some(Switch {
        prev_tid: i32_at(layout.prev_pid)?,
        prev_asleep: state & 0x3 != 0,
        next_tid: i32_at(layout.next_pid)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str = "name: sched_switch\nID: 372\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
        \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
        \tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\
        \tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n";

    #[test]
    fn reads_field_offsets_from_the_format() {
        assert_eq!(offset_of(FORMAT, "prev_pid"), Some(24));
        assert_eq!(offset_of(FORMAT, "prev_state"), Some(32));
        assert_eq!(offset_of(FORMAT, "next_pid"), Some(56));
        assert_eq!(offset_of(FORMAT, "prev_comm"), Some(8));
        assert_eq!(offset_of(FORMAT, "nope"), None);
    }

    #[test]
    fn parses_a_raw_switch_record() {
        let layout = Layout {
            prev_pid: 24,
            prev_state: 32,
            next_pid: 56,
        };
        let mut raw = vec![0u8; 64];
        raw[24..28].copy_from_slice(&41i32.to_ne_bytes());
        raw[32..40].copy_from_slice(&1i64.to_ne_bytes());
        raw[56..60].copy_from_slice(&42i32.to_ne_bytes());
        let mut body = (raw.len() as u32).to_ne_bytes().to_vec();
        body.extend_from_slice(&raw);
        assert_eq!(
            parse(&body, layout),
            Some(Switch {
                prev_tid: 41,
                prev_asleep: true,
                next_tid: 42
            })
        );
        assert_eq!(parse(&body[..20], layout), None);
    }
}
