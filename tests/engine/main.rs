//! Engine tests, all on burn's CPU backend (flex). One binary: each extra test binary would
//! link all of burn again.

mod checkpoint;
mod common;
mod data;
mod math;
mod schedule;
mod training;
