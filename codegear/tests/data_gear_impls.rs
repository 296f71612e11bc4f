//! The `Clone`, `Debug`, `PartialEq`, `Eq` and `Hash` impls `#[data_gear]` writes (through
//! `DataGearField`, so that a field type lacking one is one error): they behave as the
//! standard derives do, compared here with derived twins of the same shapes.

#![allow(missing_docs, unreachable_pub)]

use std::collections::HashSet;

use codegear::prelude::*;

macro_rules! twins {
    ($($item:item)*) => {
        mod gear { use codegear::prelude::*; $( #[data_gear] $item )* }
        mod std_derived { $( #[derive(Clone, Debug, PartialEq, Eq, Hash)] $item )* }
    };
}

twins! {
    pub enum State {
        Idle,
        Holding(u64, String),
        Named { r#type: u8, queue: Vec<Option<u64>> },
    }
    pub struct Unit;
    pub struct Pair(pub u8, pub &'static str);
}

fn states() -> (Vec<gear::State>, Vec<std_derived::State>) {
    (
        vec![
            gear::State::Idle,
            gear::State::Holding(3, "x".into()),
            gear::State::Named {
                r#type: 1,
                queue: vec![Some(2), None],
            },
        ],
        vec![
            std_derived::State::Idle,
            std_derived::State::Holding(3, "x".into()),
            std_derived::State::Named {
                r#type: 1,
                queue: vec![Some(2), None],
            },
        ],
    )
}

#[test]
fn debug_prints_what_the_derive_prints() {
    let (ours, derived) = states();
    for (a, b) in ours.iter().zip(&derived) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(format!("{a:#?}"), format!("{b:#?}"));
    }
    assert_eq!(
        format!("{:?}", gear::Unit),
        format!("{:?}", std_derived::Unit)
    );
    assert_eq!(
        format!("{:?}", gear::Pair(1, "a")),
        format!("{:?}", std_derived::Pair(1, "a"))
    );
}

#[test]
fn clone_eq_and_hash_agree() {
    let (ours, _) = states();
    let mut seen = HashSet::new();
    for (i, a) in ours.iter().enumerate() {
        assert_eq!(a, &a.clone());
        for (j, b) in ours.iter().enumerate() {
            assert_eq!(a == b, i == j, "{a:?} == {b:?}");
        }
        assert!(seen.insert(a.clone()), "{a:?} hashed like another state");
    }
    assert!(seen.contains(&gear::State::Holding(3, "x".into())));
    assert!(!seen.contains(&gear::State::Holding(3, "y".into())));
    // Variants with equal fields are still different states.
    assert_ne!(gear::Pair(1, "a"), gear::Pair(2, "a"));
}

#[test]
fn the_meta_level_uses_them() {
    // A check stores, compares and prints states through these impls: a task that cycles the
    // enum through its variants reaches each state once.
    let mut world = World::new();
    let state = world.alloc_shared(gear::State::Idle);
    let task = world.reserve_task();
    world.start(task, goto!(advance(state, Next::exit())));
    let report = world.check(Check::new());
    assert!(report.holds(), "{report}");
    assert_eq!(report.states, 4, "{report}");
    world.run(Parallel::new(1)).expect("runs");
    assert_eq!(
        world.get(state).unwrap(),
        &gear::State::Named {
            r#type: 1,
            queue: vec![Some(3)]
        }
    );
}

#[code_gear]
fn advance(mut state: Mut<'_, gear::State>, next: Next<()>) -> Goto {
    let following = match &*state {
        gear::State::Idle => gear::State::Holding(3, "x".into()),
        gear::State::Holding(n, _) => gear::State::Named {
            r#type: 1,
            queue: vec![Some(*n)],
        },
        gear::State::Named { .. } => return goto!(next()),
    };
    *state = following;
    goto!(advance(state.gear(), next))
}
