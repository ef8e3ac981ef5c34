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
use leptos_router::{lazy_route, path, Lazy, LazyRoute, SsrMode};
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
                    <Route path=path!("contacts") view={Lazy::<ContactsList>::new()}/>
                    <Route path=path!("contacts/:id") view={Lazy::<ContactRecord>::new()}/>
                    <Route path=path!("companies") view={Lazy::<CompaniesList>::new()}/>
                    <Route path=path!("companies/:id") view={Lazy::<CompanyRecord>::new()}/>
                    <Route path=path!("deals") view={Lazy::<DealsList>::new()}/>
                    <Route path=path!("deals/:id") view={Lazy::<DealRecord>::new()}/>
                    <Route path=path!("invoices") view={Lazy::<InvoicesList>::new()}/>
                    <Route path=path!("invoices/:id") view={Lazy::<InvoiceRecord>::new()}/>
                    <Route path=path!("marketplace") view={Lazy::<Marketplace>::new()}/>
                    <Route path=path!("marketplace/:app") view={Lazy::<AppListing>::new()}/>
                    <Route path=path!("notifications") view={Lazy::<Notifications>::new()}/>
                    <ParentRoute path=path!("settings") view=SettingsLayout>
                        <Route path=path!("") view=|| view! { <Redirect path="/settings/integrations/connected-apps"/> }/>
                        <Route path=path!("integrations/connected-apps") view={Lazy::<ConnectedApps>::new()}/>
                        <Route path=path!("integrations/connected-apps/:app") view={Lazy::<ConnectedApp>::new()}/>
                        <Route path=path!("integrations/connected-apps/:app/syncs/new") view={Lazy::<NewSync>::new()}/>
                        <Route path=path!("integrations/syncs/:id") view={Lazy::<SyncRecords>::new()}/>
                        <Route path=path!("integrations/syncs/:id/edit") view={Lazy::<EditSync>::new()}/>
                        <Route path=path!("integrations/exports/:id") view={Lazy::<Export>::new()}/>
                        <Route path=path!("import-export") view={Lazy::<ImportExport>::new()}/>
                        <Route path=path!("users") view={Lazy::<Users>::new()}/>
                        <Route path=path!("tokens") view={Lazy::<Tokens>::new()}/>
                        <Route path=path!("properties") view={Lazy::<Properties>::new()}/>
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Every page behind the frame is its own WASM chunk (`cargo leptos build --split`): the
/// first download holds the frame, the login and the home page, and a page's code is
/// fetched when the router first needs it (during hydration, or on navigation). Each
/// route is a unit struct whose `view` the `lazy_route` macro turns into a split point.
macro_rules! lazy_pages {
    ($($route:ident => $page:expr;)*) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                $page.into_any()
            }
        }
    )*};
}

lazy_pages! {
    ContactsList => view! { <CrmListPage object=ObjectType::Contacts/> };
    ContactRecord => view! { <CrmRecordPage object=ObjectType::Contacts/> };
    CompaniesList => view! { <CrmListPage object=ObjectType::Companies/> };
    CompanyRecord => view! { <CrmRecordPage object=ObjectType::Companies/> };
    DealsList => view! { <CrmListPage object=ObjectType::Deals/> };
    DealRecord => view! { <CrmRecordPage object=ObjectType::Deals/> };
    InvoicesList => view! { <CrmListPage object=ObjectType::Invoices/> };
    InvoiceRecord => view! { <CrmRecordPage object=ObjectType::Invoices/> };
    Marketplace => view! { <MarketplacePage/> };
    AppListing => view! { <AppListingPage/> };
    Notifications => view! { <NotificationsPage/> };
    ConnectedApps => view! { <ConnectedAppsPage/> };
    ConnectedApp => view! { <AppPage/> };
    NewSync => view! { <NewSyncPage/> };
    SyncRecords => view! { <SyncRecordsPage/> };
    EditSync => view! { <EditSyncPage/> };
    Export => view! { <ExportPage/> };
    ImportExport => view! { <ImportExportPage/> };
    Users => view! { <UsersPage/> };
    Tokens => view! { <TokensPage/> };
    Properties => view! { <PropertiesPage/> };
}
