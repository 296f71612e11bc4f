use offload::prelude::*;

fn main() -> Result<(), offload::Error> {
    let hakase = Hakase::new()?;
    // The hakase is one thread: a friend body cannot take it along.
    let friends = hakase.spawn_friends(FriendConfig::cpus("0")?, move |_| {
        hakase.try_receive();
    })?;
    friends.join()
}
