//! The Marketplace: app cards with search, a listing page per app with *Install*, and
//! the same search in the import page's *Connect an app* dialog.

use crate::api::apps::{app_connections, list_apps};
use crate::app::components::{ErrorBox, Loading};
use crate::app::layout::use_user;
use crate::model::AppListing;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

fn matches(app: &AppListing, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty()
        || [&app.name, &app.tagline, &app.category]
            .iter()
            .any(|s| s.to_lowercase().contains(&q))
        || app
            .objects
            .iter()
            .any(|(o, _)| o.to_lowercase().contains(&q))
}

/// Search box and cards; used by the Marketplace page and the *Connect an app* dialog.
#[component]
pub fn AppSearch() -> impl IntoView {
    let apps = Resource::new(|| (), |_| list_apps());
    let query = RwSignal::new(String::new());
    view! {
        <input class="search" type="search" placeholder="Search apps (name, category, object)"
            aria-label="Search apps" bind:value=query/>
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match apps.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) => view! {
                        <div class="cards" data-testid="app-cards">
                            {move || {
                                let shown: Vec<AppListing> = list.iter().filter(|a| matches(a, &query.get())).cloned().collect();
                                if shown.is_empty() {
                                    view! { <p class="empty">"No app matches “"{query.get()}"”. Try another name or a category such as CRM."</p> }.into_any()
                                } else {
                                    shown.into_iter().map(|a| view! { <AppCard app=a/> }).collect_view().into_any()
                                }
                            }}
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AppCard(app: AppListing) -> impl IntoView {
    let href = format!("/marketplace/{}", app.id);
    view! {
        <a class="app-card card" href=href data-testid=format!("app-{}", app.id)>
            <span class="app-logo" aria-hidden="true">{app.name.chars().next().unwrap_or('?').to_string()}</span>
            <strong>{app.name.clone()}</strong>
            <span class="muted small">{app.category.clone()}</span>
            <p>{app.tagline.clone()}</p>
            <span class="badges">
                {app.two_way.then(|| view! { <span class="pill">"Two-way sync"</span> })}
                {app.event_sync.then(|| view! { <span class="pill">"Email events"</span> })}
                {(!app.available).then(|| view! { <span class="pill muted">"Planned"</span> })}
            </span>
        </a>
    }
}

#[component]
pub fn MarketplacePage() -> impl IntoView {
    view! {
        <Title text="Marketplace"/>
        <section>
            <h1>"Marketplace"</h1>
            <p class="muted">"Connect the apps your team uses, then keep their records in sync with your hub."</p>
            <AppSearch/>
        </section>
    }
}

#[component]
pub fn AppListingPage() -> impl IntoView {
    let params = use_params_map();
    let app_id = move || params.read().get("app").unwrap_or_default();
    let data = Resource::new(app_id, app_connections);
    let user = use_user();
    view! {
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                let can_install = matches!(user.await, Ok(Some(u)) if u.can_manage_apps);
                match data.await {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(d) => {
                        let l = d.listing;
                        let connected = d.connections.len();
                        let install = format!("/oauth/install/{}", l.id);
                        let manage = format!("/settings/integrations/connected-apps/{}", l.id);
                        view! {
                            <Title text=l.name.clone()/>
                            <p><a href="/marketplace">"← Marketplace"</a></p>
                            <div class="listing">
                                <div class="listing-main">
                                    <h1>{l.name.clone()}</h1>
                                    <p class="lead">{l.tagline.clone()}</p>
                                    <p>{l.description.clone()}</p>
                                    <h2>"What it syncs"</h2>
                                    <table class="table">
                                        <thead><tr><th>{format!("{} object", l.name)}</th><th>"Hub object"</th><th>"Directions"</th></tr></thead>
                                        <tbody>
                                            {l.objects.iter().map(|(a, h)| view! {
                                                <tr><td>{a.clone()}</td><td>{h.clone()}</td>
                                                <td>{if l.two_way { "Two-way, to hub only, or to app only" } else { "One-way" }}</td></tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <p>{if l.event_sync { "Email opens and clicks sync to your hub contacts' timelines." } else { "No event sync." }}</p>
                                </div>
                                <aside class="listing-side card">
                                    {if !l.available {
                                        view! { <p data-testid="install-unavailable">"This app is planned and cannot be installed in this version of Tandem."</p> }.into_any()
                                    } else if can_install {
                                        view! {
                                            <a class="button primary" href=install rel="external" data-testid="install">"Install"</a>
                                            <p class="hint">"You will sign in to "{l.name.clone()}" and allow Tandem to access the account."</p>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <p data-testid="install-not-allowed">"Only Super Admins and users with the App Marketplace permission can install apps."</p>
                                            <p class="hint">"Ask a Super Admin of your portal to install it, or to give you that permission in Settings → Users."</p>
                                        }.into_any()
                                    }}
                                    {(connected > 0).then(|| view! {
                                        <p>{format!("{connected} account(s) connected. ")}<a href=manage>"Manage accounts"</a></p>
                                    })}
                                </aside>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
