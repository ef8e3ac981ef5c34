use crate::api::auth::{current_user, Login};
use crate::app::components::ErrorBox;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || crate::api::auth::safe_next(query.read().get("next").as_deref());
    let already = Resource::new(|| (), |_| current_user());
    let login = ServerAction::<Login>::new();
    // After a successful sign-in, go where the visitor was heading.
    Effect::new(move |_| {
        if let Some(Ok(())) = login.value().get() {
            use_navigate()(&next(), Default::default());
        }
    });
    view! {
        <Title text="Sign in"/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                matches!(already.await, Ok(Some(_))).then(|| view! { <Redirect path=next()/> })
            })}
        </Suspense>
        <main class="login">
            <div class="login-card">
                <h1 class="brand-big">"Tandem"</h1>
                <p class="muted">"Sign in to your CRM hub."</p>
                <ActionForm action=login>
                    <input type="hidden" name="next" prop:value=next/>
                    <label>"Email"<input type="email" name="email" autocomplete="username" required/></label>
                    <label>"Password"<input type="password" name="password" autocomplete="current-password" required/></label>
                    <details class="portal-choice">
                        <summary>"Several portals?"</summary>
                        <label>"Portal (optional)"<input type="text" name="portal" placeholder="demo"/></label>
                    </details>
                    <button type="submit" class="button primary" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
                {move || login.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
            </div>
        </main>
    }
}
