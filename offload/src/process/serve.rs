//! The hakase side of process friends: the table of symbols callable across processes, and the
//! serving of one request read from a region it trusts nothing in.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use super::region::{REPLY_ERROR, REPLY_OK, REQUEST, Region, Word};
use super::wire::{Reader, WireError, Writer};
use crate::friend::panic_message;

/// Decodes a call's arguments, calls the hakase function, encodes its value.
pub type ServeFn = fn(&mut Reader<'_>, &mut Writer) -> Result<(), WireError>;

/// A declared symbol callable from process friends (registered by `declare_exports!` for each
/// declaration whose parameter and return types all cross processes).
#[doc(hidden)]
pub struct RemoteEntry {
    name: &'static str,
    serve: ServeFn,
}

impl RemoteEntry {
    #[doc(hidden)]
    #[must_use]
    pub const fn new(name: &'static str, serve: ServeFn) -> Self {
        Self { name, serve }
    }
}

gears_runtime::registry::inventory::collect!(RemoteEntry);

/// Every remote entry, sorted by name, one per name: the same binary gives the same table in
/// the hakase and in every friend, so a symbol's index is its id on the wire.
fn table() -> &'static [&'static RemoteEntry] {
    static TABLE: OnceLock<Vec<&'static RemoteEntry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut entries: Vec<&'static RemoteEntry> =
            gears_runtime::registry::inventory::iter::<RemoteEntry>().collect();
        entries.sort_by_key(|entry| entry.name);
        // Two declarations of one name resolve the same export with the same signature
        // (`Hakase::new` refuses mismatches), so either may serve it.
        entries.dedup_by_key(|entry| entry.name);
        entries
    })
}

/// The wire id of the symbol `name`, if it is callable from process friends.
pub(crate) fn symbol_id(name: &str) -> Option<u32> {
    table()
        .binary_search_by_key(&name, |entry| entry.name)
        .ok()
        .map(|index| index as u32)
}

/// The name of the symbol whose wire id is `id`, if there is one.
pub(crate) fn symbol_name(id: u32) -> Option<&'static str> {
    table().get(id as usize).map(|entry| entry.name)
}

/// The hakase's scratch space for serving one friend: the request copied out of the region,
/// and the reply being built. Kept between requests so serving does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    request: Vec<u8>,
    reply: Writer,
}

/// Why a request was refused (sent back to the friend as the error reply's text).
fn refuse(region: &Region, why: &str) {
    let bytes = why.as_bytes();
    let len = bytes.len().min(region.data_bytes());
    region.write_data(&bytes[..len]);
    region.word(Word::Len).store(len as u32, Ordering::Relaxed);
    region
        .word(Word::State)
        .store(REPLY_ERROR, Ordering::Release);
}

/// Serves the friend's request if it has made one; returns whether it had.
///
/// Everything read from the region is checked: the symbol id against the table, the length
/// against the buffer, the arguments by their decoding (bounds, tags, UTF-8, no bytes left
/// over); the arguments are copied out before they are decoded. A request that fails a check,
/// or whose function panics, gets an error reply; nothing the friend writes is followed as an
/// address.
pub(crate) fn serve_one(region: &Region, scratch: &mut Scratch) -> bool {
    if region.word(Word::State).load(Ordering::Acquire) != REQUEST {
        return false;
    }
    let symbol = region.word(Word::Symbol).load(Ordering::Relaxed);
    let len = region.word(Word::Len).load(Ordering::Relaxed) as usize;
    let table = table();
    let Some(entry) = table.get(symbol as usize) else {
        refuse(
            region,
            &format!(
                "no exported symbol has id {symbol} (this program has {})",
                table.len()
            ),
        );
        return true;
    };
    let capacity = region.data_bytes();
    if len > capacity {
        refuse(
            region,
            &format!(
                "a request of {len} bytes for {}: the region holds {capacity}",
                entry.name
            ),
        );
        return true;
    }
    region.read_data(len, &mut scratch.request);
    scratch.reply.clear();
    let mut input = Reader::new(&scratch.request);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        (entry.serve)(&mut input, &mut scratch.reply)
    }));
    match outcome {
        Ok(Ok(())) if scratch.reply.as_bytes().len() <= capacity => {
            let reply = scratch.reply.as_bytes();
            region.write_data(reply);
            region
                .word(Word::Len)
                .store(reply.len() as u32, Ordering::Relaxed);
            region.word(Word::State).store(REPLY_OK, Ordering::Release);
        }
        Ok(Ok(())) => refuse(
            region,
            &format!(
                "{}: its value takes {} bytes, this friend's region holds {capacity} (make it \
                 larger with FriendConfig::region_bytes)",
                entry.name,
                scratch.reply.as_bytes().len()
            ),
        ),
        Ok(Err(error)) => refuse(
            region,
            &format!("bad arguments for {}: {error}", entry.name),
        ),
        Err(payload) => refuse(
            region,
            &format!(
                "{} panicked on the hakase: {}",
                entry.name,
                panic_message(&*payload)
            ),
        ),
    }
    true
}

/// Whether the friend has a request waiting. A hint.
pub(crate) fn has_request(region: &Region) -> bool {
    region.word(Word::State).load(Ordering::Relaxed) == REQUEST
}
