//! codegear examples: the seed's stack (pop2Test / pop2Test1) and the three-gear loop the
//! `dispatch` bench measures.

pub mod dispatch;
pub mod stack;
