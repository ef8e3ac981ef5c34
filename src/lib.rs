//! Tandem: a self-hostable CRM hub with two-way data sync.
//!
//! One crate, two builds: the server binary (feature `ssr`) and the WASM bundle that
//! hydrates the pages (feature `hydrate`). Modules marked `ssr` never reach the browser.
// The sync pages' view types are deep: a build without erased components (a RUSTFLAGS
// in the environment replaces the one in .cargo/config.toml) needs more than the
// compiler's default 128.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod model;

#[cfg(feature = "ssr")]
pub mod connectors;
#[cfg(feature = "ssr")]
pub mod engine;
#[cfg(feature = "ssr")]
pub mod hub;
#[cfg(feature = "ssr")]
pub mod platform;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod support;

#[cfg(feature = "ssr")]
pub mod demo_app;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronous hydration: a route's view is loaded on demand (see `app::lazy_pages`)
    // before its HTML is hydrated.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // Browser tests wait for this mark before they click: it appears once the whole
        // page, the lazily loaded route included, is interactive.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
