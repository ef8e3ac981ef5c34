//! The process and its HTTP edge: the command line, the axum router, the REST API,
//! the webhook receiver, the OAuth install pages, export downloads, metrics. The top of
//! the crate: it wires the layers below together and nothing imports it.

pub mod cli;
pub mod exports;
pub mod install;
pub mod metrics;
pub mod origin;
pub mod plain_pages;
pub mod rest;
pub mod router;
pub mod seed;
pub mod webhooks;

pub use router::app;
