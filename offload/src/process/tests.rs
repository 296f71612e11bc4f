//! The hakase against a hostile friend: random and adversarial bytes written into a real
//! region (a sealed memfd mapped here), served by the hakase's own code. Every request must
//! get a reply, an error unless its bytes are a valid call, and an exported function must run
//! only with arguments that are exactly what the bytes encode.

// The exported functions are `pub` as the macros want, in a private test module.
#![allow(unreachable_pub)]

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::region::{
    DEFAULT_DATA_BYTES as DATA_BYTES, IDLE, Layout, REPLY_ERROR, REPLY_OK, REQUEST, Region, Word,
};
use super::serve::{Scratch, serve_one, symbol_id};
use super::wire::{Reader, Wire, Writer};

mod decl {
    crate::declare_exports! {
        crate = crate;
        pub fn hostile_probe(a: u32, s: &str, v: &[u16], flag: bool) -> u32;
        pub fn hostile_panics(x: u8) -> u8;
    }
}

/// The arguments of one probe call.
type ProbeCall = (u32, String, Vec<u16>, bool);

/// Every call the probe received.
static CALLS: Mutex<Vec<ProbeCall>> = Mutex::new(Vec::new());

#[crate::export_symbol(crate = crate, declared_in = decl)]
pub fn hostile_probe(a: u32, s: &str, v: &[u16], flag: bool) -> u32 {
    CALLS
        .lock()
        .unwrap()
        .push((a, s.to_owned(), v.to_vec(), flag));
    a.wrapping_add(v.len() as u32)
}

#[crate::export_symbol(crate = crate, declared_in = decl)]
pub fn hostile_panics(x: u8) -> u8 {
    assert!(x == 0, "hostile_panics panics");
    x
}

/// A deterministic generator (xorshift64*), so a failure is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn encode_probe(a: u32, s: &str, v: &[u16], flag: bool) -> Vec<u8> {
    let mut out = Writer::new();
    a.encode(&mut out);
    s.to_owned().encode(&mut out);
    v.to_vec().encode(&mut out);
    flag.encode(&mut out);
    out.as_bytes().to_vec()
}

/// Writes a request as a hostile friend may: any symbol, any length word, any bytes.
fn request(region: &Region, symbol: u32, len: u32, bytes: &[u8]) {
    region.write_data(&bytes[..bytes.len().min(DATA_BYTES)]);
    region.word(Word::Symbol).store(symbol, Ordering::Relaxed);
    region.word(Word::Len).store(len, Ordering::Relaxed);
    region.word(Word::State).store(REQUEST, Ordering::Release);
}

/// Serves one request and returns the reply: `Ok(bytes)` or `Err(why)`.
fn reply(region: &Region, scratch: &mut Scratch) -> Result<Vec<u8>, String> {
    assert!(serve_one(region, scratch), "the request was not served");
    let state = region.word(Word::State).load(Ordering::Acquire);
    let len = region.word(Word::Len).load(Ordering::Relaxed) as usize;
    assert!(len <= DATA_BYTES);
    let mut bytes = Vec::new();
    region.read_data(len, &mut bytes);
    region.word(Word::State).store(IDLE, Ordering::Release);
    match state {
        REPLY_OK => Ok(bytes),
        REPLY_ERROR => Err(String::from_utf8(bytes).expect("the hakase's reasons are UTF-8")),
        other => panic!("state {other} after serving"),
    }
}

#[test]
fn adversarial_requests_get_error_replies() {
    let (region, _fd) = Region::create(Layout::new(DATA_BYTES)).unwrap();
    let mut scratch = Scratch::default();
    let probe = symbol_id("hostile_probe").unwrap();
    let good = encode_probe(7, "hé", &[1, 2], true);

    // A valid call works, with exactly its arguments.
    request(&region, probe, good.len() as u32, &good);
    let value = reply(&region, &mut scratch).unwrap();
    assert_eq!(u32::decode(&mut Reader::new(&value)), Ok(9));
    assert_eq!(
        CALLS.lock().unwrap().pop(),
        Some((7, "hé".to_owned(), vec![1, 2], true))
    );

    let cases: Vec<(&str, u32, u32, Vec<u8>, &str)> = vec![
        (
            "unknown symbol",
            u32::MAX,
            0,
            vec![],
            "no exported symbol has id",
        ),
        (
            "length past the buffer",
            probe,
            u32::MAX,
            vec![],
            "the region holds",
        ),
        (
            "length just past",
            probe,
            DATA_BYTES as u32 + 1,
            vec![],
            "the region holds",
        ),
        ("truncated", probe, 3, good.clone(), "truncated"),
        (
            "trailing bytes",
            probe,
            good.len() as u32 + 1,
            [good.clone(), vec![0]].concat(),
            "bytes after",
        ),
        (
            "not UTF-8",
            probe,
            0,
            [
                &7u32.to_le_bytes()[..],
                &[2, 0, 0, 0, 0xc3, 0x28],
                &[0, 0, 0, 0],
                &[1],
            ]
            .concat(),
            "not UTF-8",
        ),
        (
            "a huge vector length",
            probe,
            0,
            [
                &7u32.to_le_bytes()[..],
                &[0, 0, 0, 0],
                &[0xff, 0xff, 0xff, 0x7f],
                &[1],
            ]
            .concat(),
            "does not fit",
        ),
        (
            "a bool that is 2",
            probe,
            0,
            [&7u32.to_le_bytes()[..], &[0, 0, 0, 0], &[0, 0, 0, 0], &[2]].concat(),
            "tag 2 is not a value of bool",
        ),
    ];
    for (what, symbol, len, bytes, expect) in cases {
        let len = if len == 0 { bytes.len() as u32 } else { len };
        request(&region, symbol, len, &bytes);
        let why = reply(&region, &mut scratch).expect_err(what);
        assert!(why.contains(expect), "{what}: {why}");
    }
    // A panicking function is an error reply too; the hakase goes on.
    let panics = symbol_id("hostile_panics").unwrap();
    request(&region, panics, 1, &[1]);
    let why = reply(&region, &mut scratch).unwrap_err();
    assert!(why.contains("hostile_panics panics"), "{why}");
    // No call was made by any of them.
    assert!(CALLS.lock().unwrap().is_empty());
    // A state that is not a request is not served.
    region.word(Word::State).store(0xdead, Ordering::Release);
    assert!(!serve_one(&region, &mut scratch));
}

#[test]
fn random_bytes_never_make_a_wrong_call() {
    let (region, _fd) = Region::create(Layout::new(DATA_BYTES)).unwrap();
    let mut scratch = Scratch::default();
    let probe = symbol_id("hostile_probe").unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut ok = 0;
    for round in 0..20_000 {
        // Mostly the probe (so decoding is what gets tested), sometimes any id.
        let symbol = match rng.below(8) {
            0 => rng.next() as u32,
            1 => rng.below(4) as u32,
            _ => probe,
        };
        // Either random bytes, or a valid call with some bytes flipped or cut.
        let mut bytes: Vec<u8> = if rng.below(2) == 0 {
            (0..rng.below(64)).map(|_| rng.next() as u8).collect()
        } else {
            let s: String = (0..rng.below(6))
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect();
            let v: Vec<u16> = (0..rng.below(5)).map(|_| rng.next() as u16).collect();
            let mut bytes = encode_probe(rng.next() as u32, &s, &v, rng.below(2) == 1);
            for _ in 0..rng.below(3) {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] = rng.next() as u8;
            }
            bytes.truncate(bytes.len() - rng.below(3).min(bytes.len() as u64) as usize);
            bytes
        };
        if rng.below(16) == 0 {
            bytes.extend_from_slice(&[0xff; 8]);
        }
        let len = match rng.below(16) {
            0 => rng.next() as u32,
            _ => bytes.len() as u32,
        };
        request(&region, symbol, len, &bytes);
        let outcome = reply(&region, &mut scratch);
        let call = CALLS.lock().unwrap().pop();
        match outcome {
            Ok(value) => {
                ok += 1;
                // The function ran once, with exactly what the bytes encode.
                assert_eq!(symbol, probe, "round {round}");
                let (a, s, v, flag) = call.unwrap_or_else(|| panic!("round {round}: no call"));
                assert_eq!(
                    encode_probe(a, &s, &v, flag),
                    bytes[..len as usize],
                    "round {round}"
                );
                assert_eq!(
                    u32::decode(&mut Reader::new(&value)),
                    Ok(a.wrapping_add(v.len() as u32))
                );
            }
            Err(_) => {
                if symbol == probe {
                    assert!(
                        call.is_none(),
                        "round {round}: a refused request made a call"
                    );
                }
            }
        }
    }
    // The generator makes enough valid calls that the check above means something.
    assert!(ok > 1000, "only {ok} valid calls");
}
