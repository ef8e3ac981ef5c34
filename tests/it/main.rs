//! One integration-test binary: each file linked separately would hold its own copy of
//! the whole app (~0.5 GB each), which filled CI's disk.
#![allow(dead_code)]

mod common;
mod demo_app_common;
mod engine_common;

mod bottlecrm;
mod carddav;
mod connect_apps;
mod connector_errors;
mod demo_app_api;
mod demo_app_faults;
mod demo_app_oauth;
mod demo_app_paging;
mod demo_app_webhooks;
mod engine_processes;
mod engine_queue;
mod engine_sync;
mod foundation;
mod hardening;
mod hub;
mod hubspot;
mod security;
mod sync_exports;
