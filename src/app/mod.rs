//! The Leptos UI: the HTML shell, the routes and the authenticated frame. Pages talk to
//! the server only through `crate::api` server functions.

pub mod components;
pub mod layout;
pub mod pages;

use crate::model::crm::ObjectType;
use components::NotFound;
use layout::{AuthedLayout, SettingsLayout};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};
use pages::*;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                // In the shell, not `leptos_meta::Stylesheet`: with cargo-leptos's
                // `--cfg erase_components` that one breaks hydration (leptos#3946).
                <link rel="stylesheet" id="leptos" href="/pkg/tandem.css"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Browser tests wait for this mark before they click: it appears once the page is
    // interactive (effects run only in the browser, after hydration).
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title formatter=|text: String| {
            if text.is_empty() { "Tandem".to_string() } else { format!("{text} · Tandem") }
        }/>
        // Pages render whole on the server (`Async`): they are small, and it lets a page
        // answer with its real status (302 to the login, 403, 404) instead of a streamed 200.
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=AuthedLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=HomePage/>
                    <Route path=path!("contacts") view=|| view! { <CrmListPage object=ObjectType::Contacts/> }/>
                    <Route path=path!("contacts/:id") view=|| view! { <CrmRecordPage object=ObjectType::Contacts/> }/>
                    <Route path=path!("companies") view=|| view! { <CrmListPage object=ObjectType::Companies/> }/>
                    <Route path=path!("companies/:id") view=|| view! { <CrmRecordPage object=ObjectType::Companies/> }/>
                    <Route path=path!("deals") view=|| view! { <CrmListPage object=ObjectType::Deals/> }/>
                    <Route path=path!("deals/:id") view=|| view! { <CrmRecordPage object=ObjectType::Deals/> }/>
                    <Route path=path!("invoices") view=|| view! { <CrmListPage object=ObjectType::Invoices/> }/>
                    <Route path=path!("invoices/:id") view=|| view! { <CrmRecordPage object=ObjectType::Invoices/> }/>
                    <Route path=path!("marketplace") view=MarketplacePage/>
                    <Route path=path!("marketplace/:app") view=AppListingPage/>
                    <Route path=path!("notifications") view=NotificationsPage/>
                    <ParentRoute path=path!("settings") view=SettingsLayout>
                        <Route path=path!("") view=|| view! { <Redirect path="/settings/integrations/connected-apps"/> }/>
                        <Route path=path!("integrations/connected-apps") view=ConnectedAppsPage/>
                        <Route path=path!("integrations/connected-apps/:app") view=AppPage/>
                        <Route path=path!("integrations/connected-apps/:app/syncs/new") view=NewSyncPage/>
                        <Route path=path!("integrations/syncs/:id") view=SyncRecordsPage/>
                        <Route path=path!("integrations/syncs/:id/edit") view=EditSyncPage/>
                        <Route path=path!("integrations/exports/:id") view=ExportPage/>
                        <Route path=path!("import-export") view=ImportExportPage/>
                        <Route path=path!("users") view=UsersPage/>
                        <Route path=path!("tokens") view=TokensPage/>
                        <Route path=path!("properties") view=PropertiesPage/>
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
