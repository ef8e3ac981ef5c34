//! *Settings → Integrations → Connected apps*: the apps with accounts connected to this
//! portal, and each app's page with its accounts (several per app).

use super::syncs::{SyncsResource, SyncsTab};
use crate::api::apps::{app_connections, list_connections, Disconnect};
use crate::app::components::{ErrorBox, Loading};
use crate::app::layout::use_user;
use crate::model::{ConnectionStatus, ConnectionView, CredentialKind};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn ConnectedAppsPage() -> impl IntoView {
    let apps = Resource::new(|| (), |_| list_connections());
    view! {
        <Title text="Connected apps"/>
        <section>
            <div class="page-head">
                <h1>"Connected apps"</h1>
                <a class="button primary" href="/marketplace">"Connect an app"</a>
            </div>
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match apps.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">"No apps connected yet. Find one in the "<a href="/marketplace">"Marketplace"</a>" and choose Install."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="cards">
                                {list.into_iter().map(|a| {
                                    let href = format!("/settings/integrations/connected-apps/{}", a.listing.id);
                                    let attention = a.connections.iter().filter(|c| c.status == ConnectionStatus::NeedsReconnect).count();
                                    let n = a.connections.len();
                                    view! {
                                        <a class="app-card card" href=href>
                                            <span class="app-logo" aria-hidden="true">{a.listing.name.chars().next().unwrap_or('?').to_string()}</span>
                                            <strong>{a.listing.name.clone()}</strong>
                                            <span>{format!("{n} account{}", if n == 1 { "" } else { "s" })}</span>
                                            {(attention > 0).then(|| view! { <span class="pill bad">{format!("{attention} need reconnecting")}</span> })}
                                        </a>
                                    }
                                }).collect_view()}
                            </div>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn AppPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let app_id = move || params.read().get("app").unwrap_or_default();
    let disconnect = ServerAction::<Disconnect>::new();
    let data = Resource::new(
        move || (app_id(), disconnect.version().get()),
        |(app, _)| app_connections(app),
    );
    let user = use_user();
    // The tab lives in the URL (`?tab=syncs`), so notifications and links open the right
    // one; a link to one sync (`?sync=<id>`) opens CRM Syncs.
    let tab = Memo::new(move |_| {
        let q = query.read();
        match q.get("tab").as_deref() {
            Some("syncs") => "syncs",
            Some("accounts") => "accounts",
            _ if q.get("sync").is_some() => "syncs",
            _ => "accounts",
        }
    });
    // Made here, not in the tab (which is created inside the page's `Suspend`), so the
    // server renders the sync rows and the browser hydrates the same resource.
    let syncs = SyncsResource::new(move || (tab.get() == "syncs").then(app_id));
    view! {
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                let can_manage = matches!(user.await, Ok(Some(u)) if u.can_manage_apps);
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(d) => {
                        let name = d.listing.name.clone();
                        // OAuth apps install through their consent page, the others
                        // through the form on their Marketplace page.
                        let install = match d.listing.credential {
                            CredentialKind::Oauth2 => format!("/oauth/install/{}", d.listing.id),
                            _ => format!("/marketplace/{}", d.listing.id),
                        };
                        let just = query.read_untracked().get("connected").or_else(|| query.read_untracked().get("reconnected"));
                        let just_account = just.and_then(|id| d.connections.iter().find(|c| c.id.to_string() == id).map(|c| c.account_name.clone()));
                        view! {
                            <Title text=name.clone()/>
                            <p><a href="/settings/integrations/connected-apps">"← Connected apps"</a></p>
                            <div class="page-head">
                                <h1>{name.clone()}</h1>
                                {can_manage.then(|| view! {
                                    <details class="menu">
                                        <summary class="button secondary">"Account actions"</summary>
                                        <div class="menu-panel">
                                            <a href=format!("/settings/integrations/connected-apps/{}?tab=accounts", d.listing.id)>"Manage accounts"</a>
                                            <a href=install.clone() rel="external" data-testid="connect-another">"Connect another account"</a>
                                        </div>
                                    </details>
                                })}
                            </div>
                            {just_account.map(|a| view! { <p class="success" data-testid="connected-banner">{format!("{a} is connected.")}</p> })}
                            <nav class="tabs app-tabs">
                                <a href=format!("/settings/integrations/connected-apps/{}?tab=accounts", d.listing.id)
                                    aria-current=move || (tab.get() == "accounts").then_some("page")>"Accounts"</a>
                                <a href=format!("/settings/integrations/connected-apps/{}?tab=syncs", d.listing.id)
                                    aria-current=move || (tab.get() == "syncs").then_some("page") data-testid="crm-syncs-tab">"CRM Syncs"</a>
                            </nav>
                            {
                                let connections = d.connections.clone();
                                let app = d.listing.id.clone();
                                let app_name = name.clone();
                                let install = install.clone();
                                move || if tab.get() == "syncs" {
                                    view! { <SyncsTab app=app.clone() app_name=app_name.clone() connections=connections.clone() can_manage syncs/> }.into_any()
                                } else {
                                    view! { <Accounts connections=connections.clone() can_manage disconnect install=install.clone()/> }.into_any()
                                }
                            }
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Accounts(
    connections: Vec<ConnectionView>,
    can_manage: bool,
    disconnect: ServerAction<Disconnect>,
    install: String,
) -> impl IntoView {
    if connections.is_empty() {
        return view! {
            <p class="empty" id="accounts">"No account of this app is connected. "
                {can_manage.then(|| view! { <a href=install.clone() rel="external">"Connect one"</a> })}
            </p>
        }
        .into_any();
    }
    view! {
        {move || disconnect.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
        <table class="table" id="accounts" data-testid="accounts">
            <thead><tr><th>"Account"</th><th>"Status"</th><th>"Connected by"</th><th>"Since"</th><th></th></tr></thead>
            <tbody>
                {connections.into_iter().map(|c| view! { <AccountRow c can_manage disconnect install=install.clone()/> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn AccountRow(
    c: ConnectionView,
    can_manage: bool,
    disconnect: ServerAction<Disconnect>,
    install: String,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = c.id;
    let status_class = match c.status {
        ConnectionStatus::Connected => "pill ok",
        ConnectionStatus::NeedsReconnect => "pill bad",
        ConnectionStatus::Disconnected => "pill muted",
    };
    let active = c.status == ConnectionStatus::Connected;
    view! {
        <tr data-testid="account-row">
            <td><strong>{c.account_name.clone()}</strong><br/><span class="muted small">"Account id "{c.account_id.clone()}</span></td>
            <td><span class=status_class>{c.status.label()}</span>
                {c.status_message.clone().map(|m| view! { <br/><span class="muted small">{m}</span> })}</td>
            <td>{c.connected_by.clone()}</td>
            <td>{c.created_at.format("%Y-%m-%d").to_string()}</td>
            <td>
                {(can_manage && !active).then(|| view! { <a class="button small primary" href=install.clone() rel="external">"Reconnect"</a> })}
                {(can_manage && active).then(|| view! {
                    <Show when=move || confirming.get() fallback=move || view! {
                        <button class="button danger small" on:click=move |_| confirming.set(true)>"Disconnect"</button>
                    }>
                        <span class="small">"Turns off this account's syncs; their history stays. "</span>
                        <button class="button danger small" on:click=move |_| { disconnect.dispatch(Disconnect { id }); }>"Confirm disconnect"</button>
                        <button class="button secondary small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </Show>
                })}
            </td>
        </tr>
    }
}
