use crate::api::users::{list_users, CreateUser};
use crate::app::components::{ErrorBox, Loading};
use crate::app::layout::use_user;
use crate::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn UsersPage() -> impl IntoView {
    let me = use_user();
    let create = ServerAction::<CreateUser>::new();
    let users = Resource::new(move || create.version().get(), |_| list_users());
    view! {
        <Title text="Users"/>
        <section>
            <h1>"Users"</h1>
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="users">
                                <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! {
                                        <tr><td>{u.name}</td><td>{u.email}</td><td>{u.role.label()}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(u)) if u.role.is_super_admin());
                    admin.then(|| view! { <AddUserForm create/> })
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn AddUserForm(create: ServerAction<CreateUser>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("user".to_string());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let role = match role.get_untracked().as_str() {
            "super_admin" => Role::SuperAdmin,
            "app_marketplace" => Role::AppMarketplace,
            _ => Role::User,
        };
        create.dispatch(CreateUser {
            email: email.get_untracked(),
            name: name.get_untracked(),
            password: password.get_untracked(),
            role,
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            email.set(String::new());
            name.set(String::new());
            password.set(String::new());
        }
    });
    view! {
        <form class="card form" on:submit=submit>
            <h2>"Add a user"</h2>
            <label>"Name"<input name="name" bind:value=name required/></label>
            <label>"Email"<input name="email" type="email" bind:value=email required/></label>
            <label>"Initial password"<input name="password" type="password" bind:value=password required minlength="8"/></label>
            <label>"Role"
                <select name="role" bind:value=role>
                    <option value="user">"User: views records and sync status"</option>
                    <option value="app_marketplace">"App Marketplace: installs apps, manages syncs"</option>
                    <option value="super_admin">"Super Admin: everything"</option>
                </select>
            </label>
            <button type="submit" class="button primary" disabled=move || create.pending().get()>"Add user"</button>
            {move || create.value().get().map(|r| match r {
                Ok(u) => view! { <p class="success">{format!("{} can now sign in.", u.email)}</p> }.into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
        </form>
    }
}
