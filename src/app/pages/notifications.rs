use crate::api::notifications::{list_notifications, MarkNotificationsRead};
use crate::app::components::{ErrorBox, Loading};
use crate::app::layout::NotificationLink;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let mark = ServerAction::<MarkNotificationsRead>::new();
    let notes = Resource::new(move || mark.version().get(), |_| list_notifications());
    view! {
        <Title text="Notifications"/>
        <section>
            <div class="page-head">
                <h1>"Notifications"</h1>
                <button class="button secondary" on:click=move |_| { mark.dispatch(MarkNotificationsRead {}); }>
                    "Mark all as read"
                </button>
            </div>
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match notes.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) if list.items.is_empty() => view! {
                            <p class="empty">"No notifications yet. You will hear here when a sync finishes, an export is ready or an app needs reconnecting."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="notifications">
                                {list.items.into_iter().map(|n| view! {
                                    <li class:unread=!n.read>
                                        <strong>{n.title}</strong>
                                        <span class="muted">{n.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</span>
                                        <p>{n.body}</p>
                                        {n.link.map(|l| view! { <NotificationLink link=l label="Open"/> })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
