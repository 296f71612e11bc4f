use offload::process::Wire;

#[derive(Wire)]
pub struct Point {
    x: i32,
}

mod shared {
    offload::declare_exports! {
        #[remote]
        pub fn hakase_move(point: &mut super::Point, near: &super::Point) -> (u8, u8, u8, u8, u8);
    }
}

fn main() {
    let mut point = Point { x: 1 };
    let near = Point { x: 2 };
    let _ = shared::hakase_move::remote(&mut point, &near);
}
