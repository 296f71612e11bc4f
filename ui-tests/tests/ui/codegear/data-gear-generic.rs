use codegear::prelude::*;

#[data_gear]
pub struct Slot<T> {
    value: T,
}

#[code_gear]
fn read(slot: Ref<'_, Slot<u64>>, next: Next<(u64,)>) -> Goto {
    let value = slot.value;
    goto!(next(value))
}

fn main() {
    let mut ctx = Context::new();
    let slot = ctx.alloc(Slot { value: 1u64 });
    let _ = ctx.run(goto!(read(slot, Next::exit())));
}
