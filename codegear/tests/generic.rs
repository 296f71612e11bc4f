//! Generics (the seed's `Stack<Type>`): a generic interface implemented by a generic data gear,
//! used with several types in one program; the tables list each instance.

#![allow(missing_docs, unreachable_pub)]

use codegear::prelude::*;

#[interface]
pub trait Stack<T> {
    fn push(&mut self, data: T, next: Next<()>) -> Goto;
    fn pop2(&mut self, next: Next<(Option<T>, Option<T>)>) -> Goto;
}

#[data_gear(instances(i64, String))]
#[derive(Default)]
pub struct SingleLinkedStack<T> {
    items: Vec<T>,
}

#[code_gear(instances(i64, String))]
impl<T: codegear::Value> Stack<T> for SingleLinkedStack<T> {
    fn push(&mut self, data: T, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
    fn pop2(&mut self, next: Next<(Option<T>, Option<T>)>) -> Goto {
        let a = self.items.pop();
        let b = self.items.pop();
        goto!(next(a, b))
    }
}

/// A concrete implementation of one instance of the generic interface.
#[data_gear]
#[derive(Default)]
pub struct Counting {
    pushed: u64,
}

#[code_gear]
impl Stack<u8> for Counting {
    fn push(&mut self, _data: u8, next: Next<()>) -> Goto {
        self.pushed += 1;
        goto!(next())
    }
    fn pop2(&mut self, next: Next<(Option<u8>, Option<u8>)>) -> Goto {
        goto!(next(None, None))
    }
}

#[code_gear]
fn push_two_ints(stack: Gear<dyn Stack<i64>>, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
    goto!(stack.push(1, next!(push_int_then_pop(stack, next))))
}

#[code_gear]
fn push_int_then_pop(stack: Gear<dyn Stack<i64>>, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
    goto!(stack.push(2, next!(pop_ints(stack, next))))
}

#[code_gear]
fn pop_ints(stack: Gear<dyn Stack<i64>>, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
    goto!(stack.pop2(next))
}

#[code_gear]
fn push_word(
    stack: Gear<dyn Stack<String>>,
    word: String,
    next: Next<(Option<String>, Option<String>)>,
) -> Goto {
    goto!(stack.push(word, next!(pop_words(stack, next))))
}

#[code_gear]
fn pop_words(stack: Gear<dyn Stack<String>>, next: Next<(Option<String>, Option<String>)>) -> Goto {
    goto!(stack.pop2(next))
}

#[test]
fn one_generic_interface_with_several_types_in_one_program() {
    let mut ctx = Context::new();
    let ints = ctx.alloc(SingleLinkedStack::<i64>::default());
    let words = ctx.alloc(SingleLinkedStack::<String> {
        items: vec!["first".to_string()],
    });
    let exit = ctx
        .run(goto!(push_two_ints(ints.upcast(), Next::exit())))
        .unwrap();
    assert_eq!(
        exit.outputs.take::<(Option<i64>, Option<i64>)>().unwrap(),
        (Some(2), Some(1))
    );
    let exit = ctx
        .run(goto!(push_word(
            words.upcast(),
            "second".into(),
            Next::exit()
        )))
        .unwrap();
    assert_eq!(
        exit.outputs
            .take::<(Option<String>, Option<String>)>()
            .unwrap(),
        (Some("second".into()), Some("first".into()))
    );
    assert!(ctx.get(ints).unwrap().items.is_empty());

    let counting: Gear<dyn Stack<u8>> = ctx.alloc(Counting::default()).upcast();
    let _ = counting;
}

#[test]
fn the_tables_list_each_instance() {
    let ctx = Context::new();
    let described = ctx.describe();
    for needle in [
        "C_SingleLinkedStack<i64>_push",
        "C_SingleLinkedStack<String>_pop2",
        "C_Counting_push",
        "SingleLinkedStack<String>::push(self: Mut<SingleLinkedStack<String>>, data: String, next: Next<()>)  [impl Stack]",
        "D_SingleLinkedStack<i64> = ",
        "// struct SingleLinkedStack<String> { items: Vec<String> }",
        "typedef struct Stack<T> {",
        "__code pop2(&mut self, next: Next<(Option<T>, Option<T>)>);",
        "} Stack<T>;  // implemented by: Counting, SingleLinkedStack<String>, SingleLinkedStack<i64>",
    ] {
        assert!(
            described.contains(needle),
            "{needle} missing from\n{described}"
        );
    }
    let names: Vec<&str> = ctx.code_gears().map(|g| g.display_name()).collect();
    assert!(names.contains(&"SingleLinkedStack<i64>::pop2"), "{names:?}");
}

#[test]
fn handles_and_traces_name_the_instance() {
    let mut ctx = Context::new();
    let ints = ctx.alloc(SingleLinkedStack::<i64>::default());
    let words: Gear<dyn Stack<String>> = ctx.alloc(SingleLinkedStack::<String>::default()).upcast();
    let owner = ints.raw().owner();
    assert_eq!(
        format!("{ints:?}"),
        format!("SingleLinkedStack<i64>#{owner}.0")
    );
    assert_eq!(
        format!("{:?}", ints.upcast::<dyn Stack<i64>>()),
        format!("dyn Stack<i64>#{owner}.0")
    );
    assert_eq!(format!("{words:?}"), format!("dyn Stack<String>#{owner}.1"));
    let record = codegear::Record::default();
    ctx.replace_meta(codegear::Selector::All, record.clone());
    ctx.run(goto!(push_word(words, "w".into(), Next::exit())))
        .unwrap();
    let lines = record.lines.lock().unwrap().clone();
    assert_eq!(
        lines[0],
        format!("0: push_word(dyn Stack<String>#{owner}.1, \"w\", exit)"),
        "{lines:?}"
    );
}

#[test]
fn selectors_take_all_instances_or_one() {
    // By interface: every instance's API code gears (and the concrete `Stack<u8>` impl's).
    assert_eq!(
        Context::new().replace_meta(
            codegear::Selector::interface("Stack"),
            codegear::Record::default()
        ),
        6
    );
    // One instance, by name.
    assert_eq!(
        Context::new().replace_meta(
            codegear::Selector::name("SingleLinkedStack<i64>::*"),
            codegear::Record::default()
        ),
        2
    );
}
