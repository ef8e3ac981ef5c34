//! The sync engine. `plan` is the pure decision logic (no I/O); the runner, index and
//! queue around it do the I/O.

pub mod plan;
pub mod queue;
