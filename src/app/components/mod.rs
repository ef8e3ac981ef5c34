//! Small building blocks shared by pages: error and empty states, placeholders.

use crate::model::ApiError;
use leptos::prelude::*;

/// A readable error: the sentence, what to do, and the fields concerned. Never raw JSON.
#[component]
pub fn ErrorBox(error: ApiError) -> impl IntoView {
    let hint = error.hint.clone();
    let fields = error.fields.clone();
    view! {
        <div class="error-box" role="alert">
            <strong>{error.message.clone()}</strong>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            {(!fields.is_empty()).then(|| view! {
                <ul>
                    {fields.into_iter().map(|f| view! { <li><code>{f.field}</code>": "{f.message}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading"><span class="spinner" aria-hidden="true"></span>"Loading…"</p> }
}

/// Sets the HTTP status of the server-rendered page (404, 403…); nothing in the browser.
pub fn set_page_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(code) {
            res.set_status(status);
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_page_status(404);
    view! {
        <main class="centered">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link is mistyped."</p>
            <a class="button" href="/">"Go to the start page"</a>
        </main>
    }
}

/// A 403 page: says what is missing and who can grant it.
#[component]
pub fn Forbidden(#[prop(into)] message: String, #[prop(into)] hint: String) -> impl IntoView {
    set_page_status(403);
    view! {
        <section class="forbidden" data-testid="forbidden">
            <h1>"403 · Not allowed"</h1>
            <p>{message}</p>
            <p class="hint">{hint}</p>
        </section>
    }
}

/// A page whose part of Tandem has not been built yet: says so, links nowhere dead.
#[component]
pub fn ComingSoon(#[prop(into)] title: String, #[prop(into)] body: String) -> impl IntoView {
    view! {
        <section class="coming-soon">
            <h1>{title}</h1>
            <p>{body}</p>
            <p class="hint">"This part of Tandem is not built yet; the rest of the app works as usual."</p>
        </section>
    }
}

/// A button that opens a small menu of links and buttons (*More*, *Actions*). Choosing
/// an item, clicking outside or pressing Escape closes it.
#[component]
pub fn Menu(
    #[prop(into)] label: String,
    #[prop(optional, into)] testid: String,
    #[prop(optional)] primary: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let class = if primary {
        "button primary"
    } else {
        "button secondary"
    };
    view! {
        <div class="menu" on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }>
            <button type="button" class=class aria-haspopup="menu" data-testid=testid
                aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                {label}" ▾"
            </button>
            <Show when=move || open.get()>
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
                <div class="menu-panel" role="menu" on:click=move |_| open.set(false)>{children()}</div>
            </Show>
        </div>
    }
}

/// Renders its children in the browser only, once hydrated: the server and the
/// hydrating browser both render nothing there, so they cannot disagree. For parts
/// that load everything in the browser anyway.
#[component]
pub fn ClientOnly(children: ChildrenFn) -> impl IntoView {
    let mounted = RwSignal::new(false);
    Effect::new(move |_| mounted.set(true));
    view! { <Show when=move || mounted.get()>{children()}</Show> }
}

/// Calls `tick` every `period_ms` in the browser while the page is visible, until the
/// component that called this is gone. Nothing happens on the server.
pub fn use_interval(period_ms: u64, tick: impl Fn() + Clone + 'static) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let tick = tick.clone();
        let handle = set_interval_with_handle(
            move || {
                let hidden = web_sys::window()
                    .and_then(|w| w.document())
                    .map(|d| d.hidden())
                    .unwrap_or(false);
                if !hidden {
                    tick();
                }
            },
            std::time::Duration::from_millis(period_ms),
        );
        if let Ok(h) = handle {
            on_cleanup(move || h.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (period_ms, tick);
}

/// A resource loaded in the browser only: the server renders the `Suspense`/`Transition`
/// fallback and the browser hydrates that same fallback, then loads. Used by the sync
/// pages, whose data (live counts, progress) would be stale by hydration anyway, and
/// whose server-side resources inside the frame's `Suspend` did not always find their
/// serialized values when hydrating (an unrecoverable hydration panic).
pub fn local_resource<K, T, Fut>(
    key: impl Fn() -> K + 'static,
    fetch: impl Fn(K) -> Fut + 'static,
) -> LocalResource<T>
where
    K: 'static,
    T: 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    LocalResource::new(move || fetch(key()))
}

/// The route parameter `name` (`/…/:id`) as a UUID; `None` when it is missing or not one.
pub fn use_uuid_param(name: &'static str) -> Memo<Option<uuid::Uuid>> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| {
        params
            .read()
            .get(name)
            .and_then(|s| uuid::Uuid::parse_str(&s).ok())
    })
}
