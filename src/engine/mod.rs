//! The sync engine. `plan` is the pure decision logic (no I/O); around it: sync
//! definitions, the record index, the job queue, the runner (initial and incremental
//! sync), workers, troubleshooting guides and notifications.

pub mod associations;
pub mod definition;
pub mod error;
pub mod export;
pub mod hub_side;
pub mod index;
pub mod notices;
pub mod notify;
pub mod plan;
pub mod queue;
pub mod runner;
pub mod service;
pub mod troubleshoot;
pub mod worker;

pub use error::EngineError;
