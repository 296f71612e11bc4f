//! The seed's stack (GearsOS `Stack` interface, `SingleLinkedStack`, and the `StackTest` chain
//! `pop2Test` → `pop2Test1`), in codegear.

use codegear::prelude::*;

#[interface]
/// GearsOS's `Stack` interface: API code gears with continuations, one of them with two.
pub trait Stack {
    /// Pushes `data`, then continues with `next`.
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
    /// Pops one value into `next`.
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto;
    /// Pops two values into `next`.
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto;
    /// Continues with `next`, or with `when_empty` if the stack is empty.
    fn is_empty(&self, next: Next<()>, when_empty: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
/// The implementation (GearsOS keeps a linked list; a `Vec` is the Rust way to hold the same).
pub struct SingleLinkedStack {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for SingleLinkedStack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto {
        let data = self.items.pop();
        goto!(next(data))
    }
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
        let data = self.items.pop();
        let data1 = self.items.pop();
        goto!(next(data, data1))
    }
    fn is_empty(&self, next: Next<()>, when_empty: Next<()>) -> Goto {
        if self.items.is_empty() {
            goto!(when_empty())
        } else {
            goto!(next())
        }
    }
}

#[data_gear]
#[derive(Default)]
/// What the test chain printed, kept as a data gear so that tests can read it back.
pub struct Output {
    /// Printed lines, in order.
    pub lines: Vec<String>,
}

#[code_gear]
/// `StackTest::insertTest1`: pushes 1 and 2, then goes to `pop2_test`.
pub fn insert_test(stack: Gear<dyn Stack>, out: Gear<Output>, next: Next<()>) -> Goto {
    goto!(stack.push(1, next!(insert_test2(stack, out, next))))
}

#[code_gear]
/// The second push.
pub fn insert_test2(stack: Gear<dyn Stack>, out: Gear<Output>, next: Next<()>) -> Goto {
    goto!(stack.push(2, next!(pop2_test(stack, out, next))))
}

#[code_gear]
/// `pop2Test`: calls the interface's `pop2` with `pop2_test1` as its continuation.
pub fn pop2_test(stack: Gear<dyn Stack>, out: Gear<Output>, next: Next<()>) -> Goto {
    goto!(stack.pop2(next!(pop2_test1(out, next))))
}

#[code_gear]
/// `pop2Test1`: receives the two popped values after its own inputs, prints them.
pub fn pop2_test1(
    out: Mut<'_, Output>,
    next: Next<()>,
    data: Option<i64>,
    data1: Option<i64>,
) -> Goto {
    let mut out = out;
    let line = format!("pop2Test1: {data:?} {data1:?}");
    println!("{line}");
    out.lines.push(line);
    goto!(next())
}

/// Runs the chain in a fresh context; returns the context (for its tables) and the output gear.
pub fn run() -> Result<(Context, Gear<Output>, u64), codegear::Error> {
    let mut ctx = Context::new();
    let stack = ctx
        .alloc(SingleLinkedStack::default())
        .upcast::<dyn Stack>();
    let out = ctx.alloc(Output::default());
    let exit = ctx.run(goto!(insert_test(stack, out, Next::exit())))?;
    Ok((ctx, out, exit.steps))
}
