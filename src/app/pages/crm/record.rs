//! The record page: properties with inline editing (and who changed each, when),
//! archive / restore, the associations panel and the timeline.

use super::fields::{input_value, PropertyInput};
use super::short_time;
use crate::api::crm::{
    crm_schema, get_crm_record, list_crm_associations, list_crm_records, list_crm_timeline,
    AddCrmNote, ArchiveCrmRecord, AssociateCrmRecords, DissociateCrmRecords, RestoreCrmRecord,
    UpdateCrmRecord,
};
use crate::app::components::{local_resource, set_page_status, ErrorBox, Loading};
use crate::model::crm::{
    AssociationView, ListRequest, ObjectSchemaView, ObjectType, PropertyDef, RecordView,
    TimelineEventView,
};
use crate::model::ApiError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use std::collections::BTreeMap;

#[component]
pub fn CrmRecordPage(object: ObjectType) -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<i64>().ok()));
    // Bumped by every write on the page; the record refetches.
    let version = RwSignal::new(0u32);
    let schema = Resource::new(move || object, crm_schema);
    let record = Resource::new(
        move || (id.get(), version.get()),
        move |(id, _)| async move {
            match id {
                Some(id) => get_crm_record(object, id).await,
                None => Err(ApiError::not_found("This record")),
            }
        },
    );
    let panels = Panels::new(object, id);
    view! {
        <section class="crm-record" data-testid="crm-record">
            <a href=object.path() class="back">{format!("← {}", object.label())}</a>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    let schema = match schema.await {
                        Ok(s) => s,
                        Err(e) => return view! { <ErrorBox error=e/> }.into_any(),
                    };
                    match record.await {
                        Ok(r) => view! { <RecordBody object schema record=r version panels/> }.into_any(),
                        Err(e) if e.status == 404 => {
                            set_page_status(404);
                            view! {
                                <Title text="Not found"/>
                                <div class="empty" data-testid="not-found">
                                    <p><strong>{format!("This {} does not exist.", object.singular())}</strong></p>
                                    <p>"It may have been deleted, or it belongs to another portal."</p>
                                </div>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The side panels' data and the actions that change it. Created with the page, not
/// inside the `Suspend` that shows the record: the server may run a `Suspend` again, and
/// resources created there would be created twice on the server but once in the browser,
/// which would then hydrate them from the wrong serialized values (a panic).
#[derive(Clone, Copy)]
struct Panels {
    associate: ServerAction<AssociateCrmRecords>,
    dissociate: ServerAction<DissociateCrmRecords>,
    note: ServerAction<AddCrmNote>,
    links: Resource<Result<Vec<AssociationView>, ApiError>>,
    events: Resource<Result<Vec<TimelineEventView>, ApiError>>,
}

impl Panels {
    fn new(object: ObjectType, id: Memo<Option<i64>>) -> Self {
        let associate = ServerAction::<AssociateCrmRecords>::new();
        let dissociate = ServerAction::<DissociateCrmRecords>::new();
        let note = ServerAction::<AddCrmNote>::new();
        let links = Resource::new(
            move || {
                (
                    id.get(),
                    associate.version().get(),
                    dissociate.version().get(),
                )
            },
            move |(id, _, _)| async move {
                match id {
                    Some(id) => list_crm_associations(object, id).await,
                    None => Ok(Vec::new()),
                }
            },
        );
        let events = Resource::new(
            move || (id.get(), note.version().get()),
            move |(id, _)| async move {
                match id {
                    Some(id) => list_crm_timeline(object, id).await,
                    None => Ok(Vec::new()),
                }
            },
        );
        Panels {
            associate,
            dissociate,
            note,
            links,
            events,
        }
    }
}

#[component]
fn RecordBody(
    object: ObjectType,
    schema: ObjectSchemaView,
    record: RecordView,
    version: RwSignal<u32>,
    panels: Panels,
) -> impl IntoView {
    let archive = ServerAction::<ArchiveCrmRecord>::new();
    let restore = ServerAction::<RestoreCrmRecord>::new();
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        if matches!(archive.value().get(), Some(Ok(_)))
            || matches!(restore.value().get(), Some(Ok(_)))
        {
            version.update(|v| *v += 1);
        }
    });
    let id = record.id;
    let archived = record.archived_at;
    let name = record.display_name.clone();
    let editable = archived.is_none();
    let props = schema
        .properties
        .iter()
        .map(|def| {
            view! { <PropertyRow object id def=def.clone() record=record.clone() editable version/> }
        })
        .collect_view();
    let action_error = move || {
        archive
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| restore.value().get().and_then(Result::err))
    };
    view! {
        <Title text=name.clone()/>
        <div class="page-head">
            <div>
                <p class="muted kicker">{object.singular()}</p>
                <h1 data-testid="record-name">{name}</h1>
            </div>
            <div class="actions">
                {match archived {
                    Some(at) => view! {
                        <button class="button primary" on:click=move |_| { restore.dispatch(RestoreCrmRecord { object, id }); }
                            disabled=move || restore.pending().get()>"Restore"</button>
                        <span class="badge-archived" data-testid="archived-badge">{format!("Archived {}", short_time(at))}</span>
                    }.into_any(),
                    None => view! {
                        <Show when=move || confirming.get()
                            fallback=move || view! { <button class="button danger" on:click=move |_| confirming.set(true)>"Archive"</button> }>
                            <span class="confirm">{format!("Archive this {}?", object.singular())}</span>
                            <button class="button danger" on:click=move |_| { archive.dispatch(ArchiveCrmRecord { object, id }); }
                                disabled=move || archive.pending().get()>"Yes, archive"</button>
                            <button class="button secondary" on:click=move |_| confirming.set(false)>"Cancel"</button>
                        </Show>
                    }.into_any(),
                }}
            </div>
        </div>
        {move || action_error().map(|e| view! { <ErrorBox error=e/> })}
        {archived.map(|_| view! {
            <p class="notice">{format!("This {} is archived: it is hidden from lists and syncs until you restore it.", object.singular())}</p>
        })}
        <div class="record-grid">
            <section class="card properties" aria-label="Properties">
                <h2>"Properties"</h2>
                <dl>{props}</dl>
            </section>
            <div class="side">
                <AssociationsPanel object id panels/>
                <TimelinePanel object id panels/>
            </div>
        </div>
    }
}

#[component]
fn PropertyRow(
    object: ObjectType,
    id: i64,
    def: PropertyDef,
    record: RecordView,
    editable: bool,
    version: RwSignal<u32>,
) -> impl IntoView {
    let update = ServerAction::<UpdateCrmRecord>::new();
    let editing = RwSignal::new(false);
    let stored = record.properties.get(&def.name).cloned();
    let draft = RwSignal::new(input_value(&def, stored.as_deref()));
    let shown = stored.as_deref().map(|v| def.display_value(v));
    let change = record.changes.get(&def.name).cloned();
    let name = def.name.clone();
    let label = def.label.clone();
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            editing.set(false);
            version.update(|v| *v += 1);
        }
    });
    let save = {
        let name = name.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let mut properties = BTreeMap::new();
            properties.insert(name.clone(), Value::String(draft.get_untracked()));
            update.dispatch(UpdateCrmRecord {
                object,
                id,
                properties,
            });
        }
    };
    let can_edit = editable && !def.computed && !def.read_only;
    let field = StoredValue::new(name.clone());
    let error = move || {
        update.value().get().and_then(Result::err).map(|e| {
            field
                .with_value(|n| e.field_message(n).map(String::from))
                .unwrap_or(e.message)
        })
    };
    let edit_label = format!("Edit {label}");
    let input_def = def.clone();
    view! {
        <div class="prop" data-property=name.clone()>
            <dt>{label.clone()}{def.required.then_some(" *")}</dt>
            <dd>
                <Show when=move || editing.get()
                    fallback={
                        let shown = shown.clone();
                        let edit_label = edit_label.clone();
                        move || view! {
                            <span class="value">{shown.clone().unwrap_or_else(|| "—".into())}</span>
                            {can_edit.then(|| view! {
                                <button class="button small secondary edit" aria-label=edit_label.clone() on:click=move |_| editing.set(true)>"Edit"</button>
                            })}
                        }
                    }>
                    <form class="inline-edit" on:submit=save.clone() novalidate>
                        <PropertyInput def=input_def.clone() value=draft aria_label=label.clone()/>
                        <button type="submit" class="button small primary" disabled=move || update.pending().get()>"Save"</button>
                        <button type="button" class="button small secondary" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </form>
                    {move || error().map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
                </Show>
                {change.map(|c| view! {
                    <span class="changed">{format!("Changed {} by {}", short_time(c.at), c.source.describe())}</span>
                })}
            </dd>
        </div>
    }
}

#[component]
fn AssociationsPanel(object: ObjectType, id: i64, panels: Panels) -> impl IntoView {
    let Panels {
        associate,
        dissociate,
        links,
        ..
    } = panels;
    let error = move || {
        associate
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| dissociate.value().get().and_then(Result::err))
    };
    view! {
        <section class="card associations" aria-label="Associations" data-testid="associations">
            <h2>"Associations"</h2>
            {move || error().map(|e| view! { <ErrorBox error=e/> })}
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match links.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) => object.associable().iter().map(|to| {
                            let to = *to;
                            let mine: Vec<_> = list.iter().filter(|a| a.object == to).cloned().collect();
                            let count = mine.len();
                            view! {
                                <div class="assoc-group">
                                    <h3>{format!("{} ({count})", to.label())}</h3>
                                    <ul>
                                        {mine.into_iter().map(|a| {
                                            let href = format!("{}/{}", a.object.path(), a.id);
                                            let remove_label = format!("Remove {}", a.display_name);
                                            let to_id = a.id;
                                            view! {
                                                <li>
                                                    <A href=href>{a.display_name.clone()}</A>
                                                    {a.archived.then_some(view! { <span class="muted">" (archived)"</span> })}
                                                    <button class="button small secondary" aria-label=remove_label
                                                        on:click=move |_| { dissociate.dispatch(DissociateCrmRecords { object, id, to_object: to, to_id }); }>"Remove"</button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                    <AddAssociation object id to associate/>
                                </div>
                            }
                        }).collect_view().into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AddAssociation(
    object: ObjectType,
    id: i64,
    to: ObjectType,
    associate: ServerAction<AssociateCrmRecords>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    // Only ever loaded in the browser, once the picker is open.
    let results = local_resource(
        move || (open.get(), text.get()),
        move |(open, text)| async move {
            if !open {
                return Ok(Vec::new());
            }
            let req = ListRequest {
                search: Some(text).filter(|t| !t.trim().is_empty()),
                limit: Some(5),
                ..ListRequest::default()
            };
            list_crm_records(to, req).await.map(|p| p.records)
        },
    );
    view! {
        <Show when=move || open.get()
            fallback=move || view! {
                <button class="button small secondary" on:click=move |_| open.set(true)>{format!("Add {}", to.singular())}</button>
            }>
            <div class="assoc-add">
                <input type="search" aria-label=format!("Find a {} to add", to.singular()) placeholder=format!("Find a {}…", to.singular()) bind:value=text/>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match results.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(list) if list.is_empty() => view! { <p class="muted">"Nothing found."</p> }.into_any(),
                            Ok(list) => view! {
                                <ul class="picker">
                                    {list.into_iter().map(|r| {
                                        let to_id = r.id;
                                        view! {
                                            <li><button class="link" on:click=move |_| {
                                                associate.dispatch(AssociateCrmRecords { object, id, to_object: to, to_id });
                                                open.set(false);
                                                text.set(String::new());
                                            }>{r.display_name}</button></li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })}
                </Transition>
                <button class="button small secondary" on:click=move |_| open.set(false)>"Cancel"</button>
            </div>
        </Show>
    }
}

#[component]
fn TimelinePanel(object: ObjectType, id: i64, panels: Panels) -> impl IntoView {
    let Panels { note, events, .. } = panels;
    let body = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(_)) = note.value().get() {
            body.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        note.dispatch(AddCrmNote {
            object,
            id,
            body: body.get_untracked(),
        });
    };
    view! {
        <section class="card timeline" aria-label="Timeline" data-testid="timeline">
            <h2>"Timeline"</h2>
            <form class="note-form" on:submit=submit>
                <textarea aria-label="Note" placeholder="Add a note…" bind:value=body rows="2"></textarea>
                <button type="submit" class="button small primary" disabled=move || note.pending().get()>"Add note"</button>
            </form>
            {move || note.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="muted">"Nothing has happened yet. Email opens and clicks from synced apps, and notes, show up here."</p> }.into_any(),
                        Ok(list) => view! {
                            <ol class="events">
                                {list.into_iter().map(|e| {
                                    let icon = match e.kind.as_str() {
                                        "email_opened" => "✉️",
                                        "email_clicked" => "🔗",
                                        "note" => "📝",
                                        _ => "•",
                                    };
                                    view! {
                                        <li class=format!("event {}", e.kind)>
                                            <span class="icon" aria-hidden="true">{icon}</span>
                                            <div>
                                                <strong>{e.title}</strong>
                                                <span class="muted">{format!(" · {} · {}", short_time(e.occurred_at), e.source.describe())}</span>
                                                {(!e.body.is_empty() && e.kind == "note").then(|| view! { <p class="body">{e.body.clone()}</p> })}
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ol>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
