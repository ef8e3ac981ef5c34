//! The authenticated frame every page lives in: top navigation, notification bell, user
//! menu, and the settings side menu.

use super::components::{use_interval, ErrorBox, Loading};
use crate::api::auth::{current_user, Logout};
use crate::api::notifications::{list_notifications, MarkNotificationsRead};
use crate::model::ApiError;
use crate::model::WhoAmI;
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;

/// The signed-in user, fetched once per frame; pages await it for role checks.
#[derive(Clone, Copy)]
pub struct UserResource(pub Resource<Result<Option<WhoAmI>, ApiError>>);

pub fn use_user() -> Resource<Result<Option<WhoAmI>, ApiError>> {
    expect_context::<UserResource>().0
}

/// The frame is rendered once, outside any `Suspend`: a page created inside a re-running
/// `Suspend` would create its resources twice on the server, and the browser would then
/// hydrate them against the wrong data. Only the parts that need the user wait for it.
#[component]
pub fn AuthedLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    provide_context(UserResource(user));
    // Provided here, not in the bell: pages (an export dialog) are not inside the bell.
    provide_context(NotificationsVersion(RwSignal::new(0)));
    let location = use_location();
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Tandem"</a>
            <nav class="mainnav" aria-label="Main">
                <A href="/contacts">"Contacts"</A>
                <A href="/companies">"Companies"</A>
                <A href="/deals">"Deals"</A>
                <A href="/invoices">"Invoices"</A>
                <A href="/marketplace">"Marketplace"</A>
                <A href="/settings">"Settings"</A>
            </nav>
            <div class="topbar-right">
                <NotificationBell/>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! { <UserMenu user=u logout/> }.into_any(),
                            Ok(None) => {
                                let next = location.pathname.get_untracked();
                                let path = format!("/login?next={}", urlencode(&next));
                                view! { <Redirect path=path/> }.into_any()
                            }
                            Err(e) => view! { <span class="error" role="alert">{e.message}</span> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </header>
        <div class="page">
            <Outlet/>
        </div>
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn UserMenu(user: WhoAmI, logout: ServerAction<Logout>) -> impl IntoView {
    let initials: String = user
        .name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    view! {
        <details class="user-menu">
            <summary aria-label="User menu" data-testid="user-menu">
                <span class="avatar">{initials}</span>
            </summary>
            <div class="user-menu-panel">
                <p class="who"><strong>{user.name.clone()}</strong><br/>{user.email.clone()}</p>
                <p class="muted">{user.role.label()}" · "{user.portal_name.clone()}</p>
                <ActionForm action=logout>
                    <button type="submit" class="button secondary">"Sign out"</button>
                </ActionForm>
            </div>
        </details>
    }
}

/// Bumped when something a page did may have produced a notification (an export is
/// ready): the bell reloads.
#[derive(Clone, Copy)]
pub struct NotificationsVersion(pub RwSignal<u32>);

/// What tells the bell to reload. Taken while the component is set up (contexts are
/// not reachable from an async task later); a no-op outside the authenticated frame.
pub fn notifications_refresher() -> impl Fn() + Copy + 'static {
    let version = use_context::<NotificationsVersion>();
    move || {
        if let Some(v) = version {
            v.0.try_update(|n| *n += 1);
        }
    }
}

/// What a notification is about, as a small icon.
fn notification_icon(kind: &str) -> &'static str {
    match kind {
        "sync_completed" => "✓",
        "export_ready" => "⇩",
        "export_failed" | "sync_turned_off" => "!",
        "reconnect_needed" => "⚠",
        _ => "•",
    }
}

/// A notification's link: downloads leave the app's router (`/exports/…` is a file).
#[component]
pub fn NotificationLink(link: String, #[prop(into)] label: String) -> impl IntoView {
    if link.starts_with("/exports/") {
        view! { <a href=link rel="external" download="">{label}</a> }.into_any()
    } else {
        view! { <a href=link>{label}</a> }.into_any()
    }
}

#[component]
fn NotificationBell() -> AnyView {
    let version = expect_context::<NotificationsVersion>().0;
    let notes = super::components::local_resource(move || version.get(), |_| list_notifications());
    let open = RwSignal::new(false);
    let mark = ServerAction::<MarkNotificationsRead>::new();
    Effect::new(move |_| {
        if mark.version().get() > 0 {
            version.update(|v| *v += 1);
        }
    });
    // New notifications (a sync completed, an export is ready) show up without a reload.
    use_interval(30_000, move || {
        version.try_update(|v| *v += 1);
    });
    let unread = move || {
        notes
            .get()
            .and_then(Result::ok)
            .map(|n| n.unread)
            .unwrap_or(0)
    };
    view! {
        <div class="bell-menu" on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }>
            <button type="button" class="bell" aria-label=move || format!("Notifications, {} unread", unread()) data-testid="bell"
                aria-haspopup="true" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/>
                </svg>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match notes.await {
                            Ok(n) if n.unread > 0 => Some(view! { <span class="badge" data-testid="bell-count">{n.unread}</span> }),
                            _ => None,
                        }
                    })}
                </Transition>
            </button>
            <Show when=move || open.get()>
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
                <div class="bell-panel" role="dialog" aria-label="Notifications" data-testid="bell-panel">
                    <div class="page-head">
                        <strong>"Notifications"</strong>
                        <button type="button" class="link" on:click=move |_| { mark.dispatch(MarkNotificationsRead {}); }>"Mark all as read"</button>
                    </div>
                    <Transition fallback=|| view! { <Loading/> }>
                        {move || Suspend::new(async move {
                            match notes.await {
                                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                                Ok(list) if list.items.is_empty() => view! {
                                    <p class="muted small">"Nothing yet. You will hear here when a sync finishes, an export is ready or an app needs reconnecting."</p>
                                }.into_any(),
                                Ok(list) => view! {
                                    <ul class="bell-items">
                                        {list.items.into_iter().take(8).map(|n| view! {
                                            <li class:unread=!n.read data-kind=n.kind.clone() data-testid="bell-item">
                                                <span class=format!("icon kind-{}", n.kind) aria-hidden="true">{notification_icon(&n.kind)}</span>
                                                <div>
                                                    <strong>{n.title}</strong>
                                                    <p class="small">{n.body}</p>
                                                    <span class="muted small">{n.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</span>
                                                    {n.link.map(|l| view! { " · " <NotificationLink link=l label="Open"/> })}
                                                </div>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any(),
                            }
                        })}
                    </Transition>
                    <a href="/notifications" class="small" on:click=move |_| open.set(false)>"All notifications"</a>
                </div>
            </Show>
        </div>
    }
    // Erased: the frame's view type is otherwise too deep for the compiler's layout pass.
    .into_any()
}

#[component]
pub fn SettingsLayout() -> impl IntoView {
    view! {
        <div class="settings">
            <aside class="sidemenu" aria-label="Settings">
                <h2>"Settings"</h2>
                <h3>"Integrations"</h3>
                <A href="/settings/integrations/connected-apps">"Connected apps"</A>
                <h3>"Data"</h3>
                <A href="/settings/import-export">"Import & export"</A>
                <A href="/settings/properties">"Properties"</A>
                <h3>"Account"</h3>
                <A href="/settings/users">"Users"</A>
                <A href="/settings/tokens">"Private app tokens"</A>
            </aside>
            <div class="settings-body">
                <Outlet/>
            </div>
        </div>
    }
}
