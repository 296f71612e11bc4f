//! ghOSt schedulers written against ghost-dsl.

pub mod hand_fifo;
