//! *Settings → Import & export*: *Go to import* offers *Connect an app*, which opens the
//! Marketplace search in a dialog.

use super::marketplace::AppSearch;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ImportExportPage() -> impl IntoView {
    let importing = RwSignal::new(false);
    let dialog = RwSignal::new(false);
    view! {
        <Title text="Import & export"/>
        <section>
            <h1>"Import & export"</h1>
            <p>"Bring records into your hub, once from a file or continuously from an app."</p>
            <button class="button primary" on:click=move |_| importing.set(true)>"Go to import"</button>
            <Show when=move || importing.get()>
                <div class="cards">
                    <button class="app-card card" on:click=move |_| dialog.set(true) data-testid="connect-an-app">
                        <strong>"Connect an app"</strong>
                        <p>"Sync records continuously with another CRM, an address book or a marketing tool."</p>
                    </button>
                    <div class="app-card card disabled">
                        <strong>"Import a file"</strong>
                        <p class="muted">"CSV and Excel import is not part of this version yet."</p>
                    </div>
                </div>
            </Show>
            <Show when=move || dialog.get()>
                <div class="dialog-backdrop" on:click=move |_| dialog.set(false)></div>
                <div class="dialog" role="dialog" aria-modal="true" aria-label="Connect an app">
                    <div class="page-head">
                        <h2>"Connect an app"</h2>
                        <button class="button secondary small" on:click=move |_| dialog.set(false)>"Close"</button>
                    </div>
                    <AppSearch/>
                </div>
            </Show>
        </section>
    }
}
