use offload::prelude::*;

fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    let n = offload!({
        let n: u32 = text.parse()?;
        if n == 0 {
            return Ok(0);
        }
        n
    });
    Ok(n)
}

fn scan(items: &[u32]) -> u32 {
    let mut total = 0;
    'outer: for &item in items {
        offload!({
            if item == 0 {
                continue;
            }
            if item > 100 {
                break 'outer;
            }
            for x in 0..item {
                if x > 3 {
                    break; // fine: the loop is inside the block
                }
            }
            total += item;
        });
    }
    total
}

fn main() {
    let _ = parse("1");
    let _ = scan(&[1]);
}
