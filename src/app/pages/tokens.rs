use crate::api::tokens::{list_tokens, CreateToken, RevokeToken};
use crate::app::components::{ErrorBox, Forbidden, Loading};
use crate::app::layout::use_user;
use crate::model::ApiError;
use crate::model::ApiTokenView;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let me = use_user();
    // Made here, not in `TokensAdmin` (created inside the `Suspend` below, which the
    // server may run again): the browser must hydrate the same resource the server made.
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    view! {
        <Title text="Private app tokens"/>
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(u)) if u.role.is_super_admin() => view! { <TokensAdmin create revoke tokens/> }.into_any(),
                    _ => view! {
                        <Forbidden
                            message="Only Super Admins can see and create private app tokens."
                            hint="Ask a Super Admin of your portal for a token, or to make you a Super Admin in Settings → Users."
                        />
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TokensAdmin(
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
    tokens: Resource<Result<Vec<ApiTokenView>, ApiError>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateToken {
            name: name.get_untracked(),
        });
    };
    view! {
        <section>
            <h1>"Private app tokens"</h1>
            <p>"A token lets a script call Tandem's API as you: "<code>"Authorization: Bearer <token>"</code>". Treat it like a password."</p>
            <form class="card form inline" on:submit=submit>
                <label>"Token name"<input name="token-name" bind:value=name placeholder="e.g. nightly export script" required/></label>
                <button type="submit" class="button primary" disabled=move || create.pending().get()>"Create token"</button>
            </form>
            {move || create.value().get().map(|r| match r {
                Ok(created) => view! {
                    <div class="secret-box" data-testid="new-token">
                        <p><strong>"Copy this token now."</strong>" It will not be shown again."</p>
                        <code class="secret">{created.secret}</code>
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">"No tokens yet. Create one above to use the API from scripts."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="tokens">
                                <thead><tr><th>"Name"</th><th>"Token"</th><th>"Acts as"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| view! { <TokenRow token=t revoke/> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TokenRow(token: ApiTokenView, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let id = token.id;
    view! {
        <tr>
            <td>{token.name}</td>
            <td><code>{token.prefix}"…"</code></td>
            <td>{token.user_email}</td>
            <td>{token.created_at.format("%Y-%m-%d").to_string()}</td>
            <td>{token.last_used_at.map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())}</td>
            <td>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! { <button class="button danger small" on:click=move |_| confirming.set(true)>"Revoke"</button> }
                >
                    <button class="button danger small" on:click=move |_| { revoke.dispatch(RevokeToken { id }); }>"Confirm revoke"</button>
                    <button class="button secondary small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </Show>
            </td>
        </tr>
    }
}
