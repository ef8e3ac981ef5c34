use crate::app::layout::use_user;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let user = use_user();
    view! {
        <Title text="Home"/>
        <section class="home">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let name = user.await.ok().flatten().map(|u| u.name).unwrap_or_default();
                    view! { <h1 data-testid="welcome">"Welcome, "{name}</h1> }
                })}
            </Suspense>
            <p>"Tandem keeps your customer records in one place and in sync with the apps you use."</p>
            <ol class="steps">
                <li><a href="/contacts">"Look at your contacts, companies, deals and invoices"</a></li>
                <li><a href="/marketplace">"Connect an app from the Marketplace"</a></li>
                <li><a href="/settings/integrations/connected-apps">"Set up a sync in Connected apps"</a></li>
                <li><a href="/settings/tokens">"Create a private app token to script it all"</a></li>
            </ol>
        </section>
    }
}
