//! Behaviour of `gears_runtime::cpu_list`: parsing and its errors, canonical printing, set
//! algebra against a `BTreeSet` model, and thread pinning.

use std::collections::BTreeSet;

use gears_runtime::cpu_list::{
    AffinityError, CpuList, CpuListParseError, CpuListParseErrorKind as Kind, MAX_CPUS,
    parse_cpu_str,
};
use proptest::prelude::*;

fn list(s: &str) -> CpuList {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn parse_err(input: &str) -> CpuListParseError {
    match parse_cpu_str(input) {
        Ok(l) => panic!("{input:?} should not parse, got {l:?}"),
        Err(e) => e,
    }
}

/// Checks kind, span, the part the span selects, and that the message quotes both the input and
/// the part. Returns the message so callers can pin it exactly.
fn check_err(input: &str, kind: Kind, span: std::ops::Range<usize>, part: &str) -> String {
    let err = parse_err(input);
    assert_eq!(err.kind(), kind, "kind for {input:?}");
    assert_eq!(err.span(), span, "span for {input:?}");
    assert_eq!(err.part(), part, "part for {input:?}");
    assert_eq!(&input[err.span()], part);
    assert_eq!(err.input(), input);
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        msg.starts_with(&format!("invalid CPU list {input:?}: ")),
        "message {msg:?} should quote the input"
    );
    // An empty part has nothing to quote; the offset locates it.
    if !part.trim().is_empty() {
        assert!(
            msg.contains(&format!("{part:?}")),
            "message {msg:?} should quote the part"
        );
    }
    assert!(
        msg.contains(&format!("at byte {}", span.start)),
        "message {msg:?} should give the offset"
    );
    msg
}

#[test]
fn reversed_range() {
    let msg = check_err("3-1", Kind::ReversedRange { start: 3, end: 1 }, 0..3, "3-1");
    assert_eq!(
        msg,
        r#"invalid CPU list "3-1": range "3-1" at byte 0 is reversed (write "1-3")"#
    );
    let msg = check_err(
        "0, 10-07\n",
        Kind::ReversedRange { start: 10, end: 7 },
        3..8,
        "10-07",
    );
    assert!(msg.ends_with(r#"is reversed (write "7-10")"#), "{msg}");
}

#[test]
fn not_a_number() {
    let msg = check_err("a", Kind::NotANumber, 0..1, "a");
    assert_eq!(
        msg,
        r#"invalid CPU list "a": part "a" at byte 0 is not a CPU number or range (expected "N" or "A-B")"#
    );
    check_err("0,1-x", Kind::NotANumber, 2..5, "1-x");
    check_err("x-1", Kind::NotANumber, 0..3, "x-1");
    check_err("+1", Kind::NotANumber, 0..2, "+1");
    check_err("1-2-3", Kind::NotANumber, 0..5, "1-2-3");
    check_err("1 2", Kind::NotANumber, 0..3, "1 2");
    check_err("0-7:2/4", Kind::NotANumber, 0..7, "0-7:2/4");
    check_err("0,é", Kind::NotANumber, 2..4, "é");
}

#[test]
fn missing_range_end() {
    let msg = check_err("0-", Kind::MissingRangeEnd, 0..2, "0-");
    assert_eq!(
        msg,
        r#"invalid CPU list "0-": range "0-" at byte 0 has no end (expected "A-B")"#
    );
    check_err("1,4- ,5", Kind::MissingRangeEnd, 2..4, "4-");
}

#[test]
fn missing_range_start() {
    let msg = check_err("-3", Kind::MissingRangeStart, 0..2, "-3");
    assert_eq!(
        msg,
        r#"invalid CPU list "-3": range "-3" at byte 0 has no start (expected "A-B")"#
    );
    check_err("0,-", Kind::MissingRangeStart, 2..3, "-");
}

#[test]
fn empty_part() {
    let msg = check_err("0,,1", Kind::EmptyPart, 2..2, "");
    assert_eq!(
        msg,
        r#"invalid CPU list "0,,1": empty part at byte 2 (two commas in a row)"#
    );
    let msg = check_err("0,", Kind::EmptyPart, 2..2, "");
    assert_eq!(
        msg,
        r#"invalid CPU list "0,": empty part at byte 2 (trailing comma)"#
    );
    let msg = check_err(",", Kind::EmptyPart, 0..0, "");
    assert_eq!(
        msg,
        r#"invalid CPU list ",": empty part at byte 0 (leading comma)"#
    );
    // A blank part is as empty as a missing one; the span covers the blank.
    check_err(" 0, ,1", Kind::EmptyPart, 3..4, " ");
    check_err("  ,3\n", Kind::EmptyPart, 2..2, "");
}

#[test]
fn cpu_out_of_range() {
    let msg = check_err("512", Kind::CpuOutOfRange { cpu: 512 }, 0..3, "512");
    assert_eq!(
        msg,
        r#"invalid CPU list "512": CPU 512 in part "512" at byte 0 is out of range (CPUs must be below MAX_CPUS = 512)"#
    );
    check_err("0-600", Kind::CpuOutOfRange { cpu: 600 }, 0..5, "0-600");
    check_err(
        "1,1000-2",
        Kind::CpuOutOfRange { cpu: 1000 },
        2..8,
        "1000-2",
    );
    assert_eq!(list("511").len(), 1);
}

#[test]
fn overflow() {
    let big = "99999999999999999999999";
    let msg = check_err(big, Kind::Overflow, 0..big.len(), big);
    assert_eq!(
        msg,
        format!(
            r#"invalid CPU list "{big}": part "{big}" at byte 0 has a number too large for usize (CPUs must be below MAX_CPUS = 512)"#
        )
    );
    let input = format!("0-{big}");
    check_err(&input, Kind::Overflow, 0..input.len(), &input);
}

#[test]
fn first_error_wins() {
    // Reported in input order, so the user fixes the leftmost problem first.
    assert_eq!(parse_err("a,,3-1").kind(), Kind::NotANumber);
    assert_eq!(
        parse_err("0,3-1,a").kind(),
        Kind::ReversedRange { start: 3, end: 1 }
    );
}

#[test]
fn parse_accepts_sysfs_forms() {
    assert_eq!(list(""), CpuList::new());
    assert_eq!(list("\n"), CpuList::new());
    assert_eq!(list("  \t\n"), CpuList::new());
    assert_eq!(list("0-3\n"), CpuList::try_from_cpus(0..4).unwrap());
    assert_eq!(
        list(" 0 , 2-3 "),
        CpuList::try_from_cpus([0, 2, 3]).unwrap()
    );
    assert_eq!(list("007"), CpuList::single(7).unwrap());
    assert_eq!(list("5-5"), CpuList::single(5).unwrap());
    // Overlapping and unordered parts are a union.
    assert_eq!(list("4-6,0,5,1-2"), list("0-2,4-6"));
    assert_eq!(list("0-511").len(), MAX_CPUS);
}

#[test]
fn canonical_printing() {
    for (input, printed) in [
        ("4,0-1", "0-1,4"),
        ("0,1,2", "0-2"),
        ("0,1", "0-1"),
        ("511", "511"),
        ("510,511", "510-511"),
        ("", ""),
        ("0-511", "0-511"),
        ("63-64", "63-64"),
        ("0,2,4", "0,2,4"),
        ("1-3,2-5,9,7-8", "1-5,7-9"),
    ] {
        let l = list(input);
        assert_eq!(l.to_string(), printed, "printing {input:?}");
        assert_eq!(format!("{l:?}"), format!("CpuList({printed:?})"));
    }
}

#[test]
fn insert_remove_contains() {
    let mut l = CpuList::new();
    assert!(l.is_empty());
    assert_eq!(l, CpuList::default());
    assert_eq!(l.first(), None);
    assert_eq!(l.insert(3), Ok(true));
    assert_eq!(l.insert(3), Ok(false));
    assert_eq!(l.insert(511), Ok(true));
    let err = l.insert(512).unwrap_err();
    assert_eq!(err.cpu(), 512);
    assert_eq!(
        err.to_string(),
        "CPU 512 is out of range (a CpuList holds CPUs below MAX_CPUS = 512)"
    );
    assert!(l.insert(usize::MAX).is_err());
    assert_eq!(l.to_string(), "3,511");
    assert!(l.contains(3) && l.contains(511));
    assert!(!l.contains(4) && !l.contains(512) && !l.contains(usize::MAX));
    assert_eq!(l.len(), 2);
    assert_eq!(l.first(), Some(3));
    assert!(l.remove(3));
    assert!(!l.remove(3));
    assert!(!l.remove(usize::MAX));
    assert_eq!(l.first(), Some(511));
    assert_eq!(CpuList::single(600).unwrap_err().cpu(), 600);
    assert_eq!(
        CpuList::try_from_cpus([1, 700, 800]).unwrap_err().cpu(),
        700
    );
}

#[test]
#[expect(clippy::op_ref, reason = "exercises the by-reference operator impls")]
fn set_algebra() {
    let a = list("0-3,64,100-101");
    let b = list("2-5,100,511");
    assert_eq!(a.union(&b), list("0-5,64,100-101,511"));
    assert_eq!(a.intersection(&b), list("2-3,100"));
    assert_eq!(a.difference(&b), list("0-1,64,101"));
    assert_eq!(b.difference(&a), list("4-5,511"));
    assert_eq!(a | b, a.union(&b));
    assert_eq!(&a | &b, a.union(&b));
    assert_eq!(a & b, a.intersection(&b));
    assert_eq!(&a & &b, a.intersection(&b));
    assert_eq!(a - b, a.difference(&b));
    assert_eq!(&a - &b, a.difference(&b));
    let mut c = a;
    c |= b;
    assert_eq!(c, a | b);
    c &= a;
    assert_eq!(c, a);
    c -= b;
    assert_eq!(c, a - b);
    assert!(a.intersection(&b).is_subset(&a));
    assert!(!a.is_subset(&b));
    assert!(CpuList::new().is_subset(&CpuList::new()));
    assert!(a.is_subset(&a));
}

#[test]
fn iteration() {
    let l = list("0,5,63-65,127,128,511");
    let expected = [0, 5, 63, 64, 65, 127, 128, 511];
    assert_eq!(l.iter().collect::<Vec<_>>(), expected);
    assert_eq!((&l).into_iter().collect::<Vec<_>>(), expected);
    assert_eq!(l.into_iter().collect::<Vec<_>>(), expected);
    let mut seen = Vec::new();
    for cpu in &l {
        seen.push(cpu);
    }
    assert_eq!(seen, expected);

    let mut it = l.iter();
    assert_eq!(it.len(), 8);
    it.next();
    it.next();
    assert_eq!(it.len(), 6);
    assert_eq!(it.size_hint(), (6, Some(6)));
    assert_eq!(it.by_ref().count(), 6);
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);

    assert_eq!(expected.into_iter().collect::<CpuList>(), l);
    let mut e = CpuList::new();
    e.extend([511, 0]);
    e.extend(vec![5, 63]);
    assert_eq!(e.to_string(), "0,5,63,511");
}

#[test]
#[should_panic(expected = "CPU 512 is out of range")]
fn collect_panics_on_out_of_range_cpu() {
    let _: CpuList = [0, 512].into_iter().collect();
}

fn to_list(cpus: &BTreeSet<usize>) -> CpuList {
    CpuList::try_from_cpus(cpus.iter().copied()).unwrap()
}

fn to_model(l: &CpuList) -> BTreeSet<usize> {
    l.iter().collect()
}

/// Sparse sets, and dense ones (each CPU in with probability 1/2) that make long and short runs.
fn any_cpu_set() -> impl Strategy<Value = BTreeSet<usize>> {
    prop_oneof![
        prop::collection::btree_set(0..MAX_CPUS, 0..40),
        prop::collection::vec(any::<bool>(), MAX_CPUS).prop_map(|bits| bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
            .collect()),
    ]
}

proptest! {
    // Persistence wants a lib.rs or main.rs beside the test, which an integration test lacks;
    // a failure prints its minimal input instead.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn print_then_parse_round_trips(cpus in any_cpu_set()) {
        let l = to_list(&cpus);
        let printed = l.to_string();
        prop_assert_eq!(parse_cpu_str(&printed), Ok(l));
        // Canonical: no part is a single CPU adjacent to its neighbour.
        prop_assert_eq!(list(&printed).to_string(), printed);
    }

    #[test]
    fn parse_never_panics_and_is_consistent(
        input in prop_oneof![
            "[0-9, \\-]{0,24}",
            "[0-9]{1,3}(-[0-9]{1,3})?(,[ ]?[0-9]{1,3}(-[0-9]{1,3})?){0,6}\n?",
            "[0-9]{15,25}(-[0-9]{0,25})?",
            any::<String>(),
        ]
    ) {
        match parse_cpu_str(&input) {
            Ok(l) => {
                let printed = l.to_string();
                prop_assert_eq!(parse_cpu_str(&printed), Ok(l));
            }
            Err(e) => {
                prop_assert_eq!(e.input(), input.as_str());
                let span = e.span();
                prop_assert!(span.start <= span.end && span.end <= input.len());
                prop_assert!(input.get(span.clone()).is_some(), "span {:?} splits a char", span);
                let msg = e.to_string();
                let quoted_input = format!("invalid CPU list {:?}: ", input);
                prop_assert!(msg.starts_with(&quoted_input), "{}", msg);
            }
        }
    }

    #[test]
    fn set_algebra_matches_btreeset(
        a in any_cpu_set(),
        b in any_cpu_set(),
        probes in prop::collection::vec(0..MAX_CPUS + 100, 0..20),
    ) {
        let (la, lb) = (to_list(&a), to_list(&b));
        prop_assert_eq!(to_model(&la.union(&lb)), &a | &b);
        prop_assert_eq!(to_model(&la.intersection(&lb)), &a & &b);
        prop_assert_eq!(to_model(&la.difference(&lb)), &a - &b);
        prop_assert_eq!(la.len(), a.len());
        prop_assert_eq!(la.is_empty(), a.is_empty());
        prop_assert_eq!(la.first(), a.first().copied());
        prop_assert_eq!(la.iter().len(), a.len());
        prop_assert_eq!(la.is_subset(&lb), a.is_subset(&b));
        prop_assert_eq!(la.intersection(&lb).is_subset(&la), true);
        prop_assert_eq!(to_model(&la), a.clone());

        let (mut l, mut model) = (la, a.clone());
        for (i, &cpu) in probes.iter().enumerate() {
            prop_assert_eq!(l.contains(cpu), model.contains(&cpu));
            if i % 2 == 0 {
                match l.insert(cpu) {
                    Ok(added) => prop_assert_eq!(added, model.insert(cpu)),
                    Err(e) => {
                        prop_assert!(cpu >= MAX_CPUS);
                        prop_assert_eq!(e.cpu(), cpu);
                    }
                }
            } else {
                prop_assert_eq!(l.remove(cpu), model.remove(&cpu));
            }
            prop_assert_eq!(to_model(&l), model.clone());
        }
    }
}

#[test]
fn pin_current_thread_to_first_allowed_cpu() {
    std::thread::spawn(|| {
        let allowed = CpuList::current_thread_affinity().expect("read affinity");
        assert!(!allowed.is_empty(), "a running thread may run somewhere");
        let first = allowed.first().unwrap();
        let target = CpuList::single(first).unwrap();
        target.pin_current_thread().expect("pin to an allowed CPU");
        assert_eq!(CpuList::current_thread_affinity().unwrap(), target);
        // Widening back to the original mask is allowed too.
        allowed.pin_current_thread().expect("restore affinity");
        assert_eq!(CpuList::current_thread_affinity().unwrap(), allowed);
    })
    .join()
    .unwrap();
}

#[test]
fn pin_to_empty_list_is_an_error() {
    let err = CpuList::new().pin_current_thread().unwrap_err();
    assert!(matches!(err, AffinityError::EmptyList), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot pin the current thread to an empty CPU list"
    );
}

#[test]
fn pin_to_impossible_cpu_reports_the_os_error() {
    // Only meaningful where CPU 511 does not exist; sysfs says which CPUs could ever exist.
    let Ok(possible) = std::fs::read_to_string("/sys/devices/system/cpu/possible") else {
        eprintln!("skipped: /sys/devices/system/cpu/possible unreadable");
        return;
    };
    let possible = list(&possible);
    if possible.contains(MAX_CPUS - 1) {
        eprintln!("skipped: CPU {} is possible here", MAX_CPUS - 1);
        return;
    }
    std::thread::spawn(move || {
        let before = CpuList::current_thread_affinity().unwrap();
        assert!(before.is_subset(&possible));
        let err = CpuList::single(MAX_CPUS - 1)
            .unwrap()
            .pin_current_thread()
            .unwrap_err();
        println!("{err}");
        match &err {
            AffinityError::SetAffinity { cpus, error } => {
                assert_eq!(cpus.to_string(), "511");
                assert_eq!(error.raw_os_error(), Some(22), "EINVAL");
            }
            other => panic!("expected SetAffinity, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "cannot pin the current thread to CPUs \"511\": sched_setaffinity failed"
        );
        let source = std::error::Error::source(&err).expect("the OS error is the source");
        assert_eq!(
            source
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error),
            Some(22)
        );
        // A failed call leaves the mask alone.
        assert_eq!(CpuList::current_thread_affinity().unwrap(), before);
    })
    .join()
    .unwrap();
}
