//! The Marketplace: app cards with search, a listing page per app with *Install*, and
//! the same search in the import page's *Connect an app* dialog.

use crate::api::apps::{app_connections, list_apps, InstallWithCredentials};
use crate::app::components::{ErrorBox, Loading};
use crate::app::layout::use_user;
use crate::model::{AppListing, CredentialInput, CredentialInstall, CredentialKind};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

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
                                    } else if can_install && l.credential != CredentialKind::Oauth2 {
                                        view! {
                                            <CredentialInstallForm app=l.id.clone() kind=l.credential address_hint=l.address_hint.clone()/>
                                            {l.oauth.then(|| view! {
                                                <p class="hint">"Or sign in to "{l.name.clone()}" and allow Tandem to access the account (needs Tandem's app there, see the README):"</p>
                                                <a class="button secondary" href=install.clone() rel="external" data-testid="install-oauth">{format!("Sign in with {}", l.name)}</a>
                                            })}
                                        }.into_any()
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

/// *Install* of an app connected with a server URL, a user name and a password: the
/// app checks them before anything is stored; several address books ask for a choice.
#[component]
fn CredentialInstallForm(app: String, kind: CredentialKind, address_hint: String) -> impl IntoView {
    let install = ServerAction::<InstallWithCredentials>::new();
    let (url, username, secret) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let choice = RwSignal::new(String::new());
    let manage = format!("/settings/integrations/connected-apps/{app}");
    let app_id = app.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        install.dispatch(InstallWithCredentials {
            app: app_id.clone(),
            input: CredentialInput {
                url: url.get_untracked(),
                username: username.get_untracked(),
                secret: secret.get_untracked(),
                choice: Some(choice.get_untracked()).filter(|c| !c.is_empty()),
            },
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(CredentialInstall::Connected { connection_id, .. })) = install.value().get()
        {
            use_navigate()(
                &format!("{manage}?connected={connection_id}"),
                Default::default(),
            );
        }
    });
    let error = move || install.value().get().and_then(Result::err);
    let field_error = move |f: &'static str| {
        move || {
            error()
                .and_then(|e| e.field_message(f).map(String::from))
                .map(|m| view! { <span class="field-error" role="alert" data-testid=format!("error-{f}")>{m}</span> })
        }
    };
    let choices = move || match install.value().get() {
        Some(Ok(CredentialInstall::Choose { choices })) => Some(choices),
        _ => None,
    };
    view! {
        <form class="form" on:submit=submit novalidate data-testid="credential-install">
            {if kind == CredentialKind::ApiKey {
                view! {
                    <label>"Access token"<input name="secret" type="password" bind:value=secret autocomplete="off" placeholder="pat-eu1-…"/>{field_error("secret")}</label>
                    <label>"API address"<input name="url" type="url" bind:value=url placeholder=address_hint/>{field_error("url")}</label>
                }.into_any()
            } else {
                view! {
                    <label>"Server URL"<input name="url" type="url" bind:value=url placeholder=address_hint autocomplete="url"/>{field_error("url")}</label>
                    <label>"User name"<input name="username" bind:value=username autocomplete="username"/>{field_error("username")}</label>
                    <label>"Password or app password"<input name="secret" type="password" bind:value=secret autocomplete="current-password"/>{field_error("secret")}</label>
                }.into_any()
            }}
            {move || choices().map(|list| view! {
                <label>"Address book"
                    <select name="choice" data-testid="choice" on:change=move |ev| choice.set(event_target_value(&ev))>
                        <option value="">"— pick one —"</option>
                        {list.into_iter().map(|c| view! { <option value=c.id>{c.label}</option> }).collect_view()}
                    </select>
                </label>
                <p class="hint">"These credentials reach several address books: pick the one to sync."</p>
            })}
            <button type="submit" class="button primary" data-testid="install" disabled=move || install.pending().get()>
                {move || if install.pending().get() { "Checking…" } else { "Install" }}
            </button>
            <p class="hint">"Tandem checks these with the app before saving them; the secret is stored encrypted."</p>
            {move || error().map(|e| view! { <ErrorBox error=e/> })}
        </form>
    }
}
