//! The list page of one object type: search box, sortable columns, keyset paging with
//! Next / Previous, "Show archived", and the create dialog. Its state lives in the URL
//! (`?q=&sort=&dir=&archived=1&after=|before=`), so links, reloads and the back button
//! work, and the page renders on the server before it hydrates.

use super::create::CreateDialog;
use super::{enc, short_time};
use crate::api::crm::{crm_schema, list_crm_records};
use crate::app::components::{ErrorBox, Loading};
use crate::model::crm::{ListRequest, ObjectSchemaView, ObjectType, RecordView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

const PAGE_SIZE: u32 = 25;

/// The URL of the list with these parameters.
fn list_url(object: ObjectType, r: &ListRequest) -> String {
    let mut parts = Vec::new();
    if let Some(q) = r.search.as_deref().filter(|q| !q.is_empty()) {
        parts.push(format!("q={}", enc(q)));
    }
    if let Some(s) = r.sort.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("sort={}", enc(s)));
        parts.push(format!("dir={}", if r.descending { "desc" } else { "asc" }));
    }
    if r.archived {
        parts.push("archived=1".into());
    }
    if let Some(a) = &r.after {
        parts.push(format!("after={}", enc(a)));
    }
    if let Some(b) = &r.before {
        parts.push(format!("before={}", enc(b)));
    }
    if parts.is_empty() {
        object.path()
    } else {
        format!("{}?{}", object.path(), parts.join("&"))
    }
}

#[component]
pub fn CrmListPage(object: ObjectType) -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| {
        let q = query.read();
        ListRequest {
            search: q.get("q").filter(|s| !s.trim().is_empty()),
            sort: q.get("sort").filter(|s| !s.is_empty()),
            descending: q.get("dir").as_deref() == Some("desc"),
            archived: q.get("archived").as_deref() == Some("1"),
            after: q.get("after"),
            before: q.get("before"),
            limit: Some(PAGE_SIZE),
        }
    });
    let schema = Resource::new(move || object, crm_schema);
    let page = Resource::new(move || request.get(), move |r| list_crm_records(object, r));
    let creating = RwSignal::new(false);
    let search = RwSignal::new(request.get_untracked().search.unwrap_or_default());
    // Back and forward change the URL: the search box follows.
    Effect::new(move |_| search.set(request.get().search.unwrap_or_default()));

    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let r = ListRequest {
            search: Some(search.get_untracked()),
            after: None,
            before: None,
            ..request.get_untracked()
        };
        use_navigate()(&list_url(object, &r), Default::default());
    };
    let archived_link = move || {
        let r = request.get();
        let flipped = ListRequest {
            archived: !r.archived,
            after: None,
            before: None,
            ..r
        };
        list_url(object, &flipped)
    };

    view! {
        <Title text=object.label()/>
        <section class="crm-list" data-testid="crm-list">
            <div class="page-head">
                <h1>{move || if request.get().archived { format!("Archived {}", object.as_str()) } else { object.label().to_string() }}</h1>
                <button class="button primary" on:click=move |_| creating.set(true)>{format!("Create {}", object.singular())}</button>
            </div>
            <div class="toolbar">
                <form class="search" role="search" method="get" action=object.path() on:submit=on_search>
                    <input type="search" name="q" aria-label=format!("Search {}", object.as_str())
                        placeholder=format!("Search {}…", object.as_str()) bind:value=search/>
                    <button type="submit" class="button secondary">"Search"</button>
                </form>
                <a href=archived_link class="toggle" data-testid="show-archived">
                    {move || if request.get().archived { "Show active" } else { "Show archived" }}
                </a>
            </div>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    let schema = match schema.await {
                        Ok(s) => s,
                        Err(e) => return view! { <ErrorBox error=e/> }.into_any(),
                    };
                    let dialog_schema = schema.clone();
                    let dialog = move || creating.get().then(|| view! { <CreateDialog object schema=dialog_schema.clone() open=creating/> });
                    match page.await {
                        Err(e) => view! { {dialog} <ErrorBox error=e/> }.into_any(),
                        Ok(p) => {
                            let r = request.get_untracked();
                            view! { {dialog} <RecordTable object schema request=r page=p/> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RecordTable(
    object: ObjectType,
    schema: ObjectSchemaView,
    request: ListRequest,
    page: crate::model::crm::RecordPage,
) -> impl IntoView {
    if page.records.is_empty() && page.prev.is_none() {
        let message = match (&request.search, request.archived) {
            (Some(q), _) => format!(
                "No {} match “{q}”. Try another word, or clear the search.",
                object.as_str()
            ),
            (None, true) => format!(
                "No archived {}. Archived records show up here and can be restored.",
                object.as_str()
            ),
            (None, false) => format!(
                "No {} yet. Create the first one with “Create {}”.",
                object.as_str(),
                object.singular()
            ),
        };
        return view! { <p class="empty" data-testid="empty">{message}</p> }.into_any();
    }
    let columns: Vec<String> = schema.list_columns.clone();
    let header = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let label = if i == 0 && object == ObjectType::Contacts {
                "Name".to_string()
            } else {
                schema
                    .property(name)
                    .map(|p| p.label.clone())
                    .unwrap_or_else(|| name.clone())
            };
            let sorted_here = match request.sort.as_deref() {
                Some(s) => s == name,
                None => name == "createdate",
            };
            let descending = if request.sort.is_some() {
                request.descending
            } else {
                true
            };
            let arrow = if sorted_here {
                if descending {
                    " ↓"
                } else {
                    " ↑"
                }
            } else {
                ""
            };
            let aria = if sorted_here {
                if descending {
                    "descending"
                } else {
                    "ascending"
                }
            } else {
                "none"
            };
            if schema.sortable.contains(name) {
                let next = ListRequest {
                    sort: Some(name.clone()),
                    descending: sorted_here && !descending,
                    after: None,
                    before: None,
                    ..request.clone()
                };
                let href = list_url(object, &next);
                view! { <th aria-sort=aria><a href=href>{label}{arrow}</a></th> }.into_any()
            } else {
                view! { <th>{label}</th> }.into_any()
            }
        })
        .collect_view();
    let rows = page
        .records
        .iter()
        .map(|r| view! { <RecordRow object schema=schema.clone() columns=columns.clone() record=r.clone()/> })
        .collect_view();
    let prev = page.prev.clone().map(|c| {
        list_url(
            object,
            &ListRequest {
                before: Some(c),
                after: None,
                ..request.clone()
            },
        )
    });
    let next = page.next.clone().map(|c| {
        list_url(
            object,
            &ListRequest {
                after: Some(c),
                before: None,
                ..request.clone()
            },
        )
    });
    view! {
        <div class="table-wrap">
            <table class="table records" data-testid="records">
                <thead><tr>{header}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {match prev {
                Some(href) => view! { <a href=href class="button secondary" rel="prev">"← Previous"</a> }.into_any(),
                None => view! { <span class="button secondary disabled" aria-disabled="true">"← Previous"</span> }.into_any(),
            }}
            {match next {
                Some(href) => view! { <a href=href class="button secondary" rel="next">"Next →"</a> }.into_any(),
                None => view! { <span class="button secondary disabled" aria-disabled="true">"Next →"</span> }.into_any(),
            }}
        </nav>
    }
    .into_any()
}

#[component]
fn RecordRow(
    object: ObjectType,
    schema: ObjectSchemaView,
    columns: Vec<String>,
    record: RecordView,
) -> impl IntoView {
    let href = format!("{}/{}", object.path(), record.id);
    let cells = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if i == 0 {
                let name = record.display_name.clone();
                return view! { <td><A href=href.clone()>{name}</A></td> }.into_any();
            }
            let text = match (name.as_str(), record.properties.get(name)) {
                ("createdate", _) => short_time(record.created_at),
                (_, Some(v)) => schema
                    .property(name)
                    .map(|p| p.display_value(v))
                    .unwrap_or_else(|| v.clone()),
                (_, None) => String::new(),
            };
            view! { <td>{text}</td> }.into_any()
        })
        .collect_view();
    view! { <tr data-id=record.id>{cells}</tr> }
}
