//! *Record view* of the CRM Syncs tab: the records of the app's syncs with their state,
//! one record type at a time, searchable, and *More → Restore all deleted records*
//! (record type and destination, *Review before restoring*, then *Restore all N*).

use super::export::ExportDialog;
use super::records::{list_url, ListQuery};
use super::{object_label, state_cell, thousands};
use crate::api::syncs::{list_sync_records, preview_restore_deleted, restore_deleted};
use crate::app::components::{ErrorBox, Loading, Menu};
use crate::model::ApiError;
use crate::model::{RecordState, RestoreCandidate, SideInput, SyncView};
use leptos::prelude::*;
use uuid::Uuid;

const PAGE_SIZE: i64 = 50;
/// Rows of the review list shown before "and N more".
const REVIEW_ROWS: usize = 200;

fn sync_label(s: &SyncView, several_accounts: bool) -> String {
    if several_accounts {
        format!(
            "{} · {}",
            object_label(&s.hub_object),
            s.connection.account_name
        )
    } else {
        object_label(&s.hub_object)
    }
}

#[component]
pub fn RecordView(syncs: Vec<SyncView>, app_name: String, can_manage: bool) -> impl IntoView {
    let several = {
        let mut ids: Vec<Uuid> = syncs.iter().map(|s| s.connection.id).collect();
        ids.sort();
        ids.dedup();
        ids.len() > 1
    };
    let options: Vec<(Uuid, String)> = syncs
        .iter()
        .map(|s| (s.id, sync_label(s, several)))
        .collect();
    let chosen = RwSignal::new(syncs.first().map(|s| s.id).unwrap_or_default());
    let state: RwSignal<Option<RecordState>> = RwSignal::new(None);
    let search = RwSignal::new(String::new());
    let applied = RwSignal::new(None::<String>);
    let after = RwSignal::new(None::<i64>);
    // Bumped by Search: the list reloads even when nothing else changed.
    let version = RwSignal::new(0u32);
    let page = crate::app::components::local_resource(
        move || {
            (
                chosen.get(),
                state.get(),
                applied.get(),
                after.get(),
                version.get(),
            )
        },
        |(id, state, search, after, _)| {
            list_sync_records(
                id,
                state.map(|s| s.to_string()),
                None,
                search,
                after,
                Some(PAGE_SIZE),
            )
        },
    );
    let exporting = RwSignal::new(false);
    let restoring = RwSignal::new(false);
    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        after.set(None);
        applied.set(Some(search.get_untracked()).filter(|s| !s.trim().is_empty()));
        version.update(|v| *v += 1);
    };
    let objects: Vec<(Uuid, String)> = syncs.iter().map(|s| (s.id, s.hub_object.clone())).collect();
    let hub_object_of = move |id: Uuid| {
        objects
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    };
    let what = {
        let hub_object_of = hub_object_of.clone();
        Signal::derive(move || {
            let st = state.get();
            let object = hub_object_of(chosen.get());
            match st {
                None => format!("all {object}"),
                Some(st) => format!("{} {object}", st.label().to_lowercase()),
            }
        })
    };
    let export_state = Signal::derive(move || state.get());
    let export_search = Signal::derive(move || applied.get());
    view! {
        <div class="toolbar record-view" data-testid="record-view">
            <div class="filters">
                <label>"Record type"
                    <select aria-label="Record type" on:change=move |ev| {
                        if let Ok(id) = Uuid::parse_str(&event_target_value(&ev)) {
                            after.set(None);
                            chosen.set(id);
                        }
                    }>
                        {options.into_iter().map(|(id, label)| view! { <option value=id.to_string() selected=move || chosen.get() == id>{label}</option> }).collect_view()}
                    </select>
                </label>
                <label>"State"
                    <select aria-label="State" on:change=move |ev| { after.set(None); state.set(RecordState::parse(&event_target_value(&ev))); }>
                        <option value="">"All states"</option>
                        {RecordState::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <form class="search" role="search" on:submit=on_search>
                <input type="search" aria-label="Search records" placeholder="Search by name, email or id…" bind:value=search/>
                <button type="submit" class="button secondary">"Search"</button>
            </form>
            <Menu label="More" testid="record-view-more">
                <button type="button" role="menuitem" on:click=move |_| exporting.set(true)>"Export"</button>
                {can_manage.then(|| view! {
                    <button type="button" role="menuitem" on:click=move |_| restoring.set(true)>"Restore all deleted records"</button>
                })}
            </Menu>
        </div>
        {move || {
            let id = chosen.get();
            view! { <ExportDialog open=exporting sync_id=id state=export_state reason=Signal::derive(|| None::<String>) search=export_search what/> }
        }}
        {can_manage.then(|| view! { <RestoreDialog open=restoring syncs=syncs.clone() app_name=app_name.clone() several/> })}
        <Transition fallback=|| view! { <Loading/> }>
            {move || {
                let hub_object_of = hub_object_of.clone();
                Suspend::new(async move {
                    match page.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(p) if p.rows.is_empty() => view! {
                            <p class="empty" data-testid="records-empty">{match applied.get_untracked() {
                                Some(q) => format!("No records match “{q}”."),
                                None => "No records in this state yet.".to_string(),
                            }}</p>
                        }.into_any(),
                        Ok(p) => {
                            let sync_id = chosen.get_untracked();
                            let object = hub_object_of(sync_id);
                            let next = p.next_after;
                            view! {
                                <div class="table-wrap">
                                    <table class="table stack records" data-testid="record-view-list">
                                        <thead><tr><th>"Record"</th><th>"Type"</th><th>"State"</th><th>"Reason"</th><th>"Updated"</th></tr></thead>
                                        <tbody>
                                            {p.rows.into_iter().map(|r| {
                                                let href = list_url(sync_id, &ListQuery { state: r.state, record: Some(r.index_id), ..Default::default() });
                                                let label = if r.label.trim().is_empty() { format!("Record {}", r.index_id) } else { r.label.clone() };
                                                view! {
                                                    <tr data-testid="record-view-row">
                                                        <td data-label="Record"><a href=href>{label}</a></td>
                                                        <td data-label="Type">{object_label(&object)}</td>
                                                        {state_cell(r.state, r.deleted_side.clone())}
                                                        <td data-label="Reason" class="reason">{r.message.clone().unwrap_or_default()}</td>
                                                        <td data-label="Updated">{r.updated_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    <button type="button" class="button secondary" disabled=move || after.get().is_none() on:click=move |_| after.set(None)>"← First page"</button>
                                    <button type="button" class="button secondary" disabled=next.is_none() on:click=move |_| after.set(next)>"Next page →"</button>
                                </nav>
                            }.into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn RestoreDialog(
    open: RwSignal<bool>,
    syncs: Vec<SyncView>,
    app_name: String,
    several: bool,
) -> impl IntoView {
    // Record types: one per (account, hub object).
    let mut kinds: Vec<(Uuid, String, String)> = Vec::new();
    for s in &syncs {
        if !kinds
            .iter()
            .any(|(c, o, _)| *c == s.connection.id && *o == s.hub_object)
        {
            kinds.push((
                s.connection.id,
                s.hub_object.clone(),
                sync_label(s, several),
            ));
        }
    }
    let kinds = StoredValue::new(kinds);
    let app_name = StoredValue::new(app_name);
    let kind = RwSignal::new(0usize);
    let dest = RwSignal::new(SideInput::App);
    let preview: RwSignal<Option<Vec<RestoreCandidate>>> = RwSignal::new(None);
    let done: RwSignal<Option<i64>> = RwSignal::new(None);
    let error: RwSignal<Option<ApiError>> = RwSignal::new(None);
    let working = RwSignal::new(false);
    let reset = move || {
        preview.set(None);
        done.set(None);
        error.set(None);
    };
    let chosen = move || kinds.with_value(|k| k.get(kind.get_untracked()).cloned());
    let review = move |_| {
        let Some((connection, object, _)) = chosen() else {
            return;
        };
        reset();
        working.set(true);
        leptos::task::spawn_local(async move {
            match preview_restore_deleted(connection, object, dest.get_untracked()).await {
                Ok(list) => {
                    preview.try_set(Some(list));
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            working.try_set(false);
        });
    };
    let restore = move |_| {
        let Some((connection, object, _)) = chosen() else {
            return;
        };
        let ids: Vec<i64> =
            preview.with_untracked(|p| p.iter().flatten().map(|c| c.index_id).collect());
        if ids.is_empty() {
            return;
        }
        working.set(true);
        leptos::task::spawn_local(async move {
            match restore_deleted(connection, object, dest.get_untracked(), ids).await {
                Ok(n) => {
                    done.try_set(Some(n));
                    preview.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            working.try_set(false);
        });
    };
    let close = move |_| {
        open.set(false);
        reset();
    };
    let dest_label = move |d: SideInput| match d {
        SideInput::Hub => "the hub".to_string(),
        SideInput::App => app_name.get_value(),
    };
    view! {
        <Show when=move || open.get()>
            <div class="dialog-backdrop" on:click=close></div>
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="restore-title" data-testid="restore-dialog">
                <h2 id="restore-title">"Restore all deleted records"</h2>
                <p class="hint">"Records deleted on one side are created again there from the other side's copy, and sync again."</p>
                <div class="form inline">
                    <label>"Record type"
                        <select on:change=move |ev| { kind.set(event_target_value(&ev).parse().unwrap_or(0)); reset(); }>
                            {kinds.with_value(|k| k.iter().enumerate().map(|(i, (_, _, label))| view! { <option value=i.to_string()>{label.clone()}</option> }).collect_view())}
                        </select>
                    </label>
                    <label>"Restore in"
                        <select on:change=move |ev| { dest.set(if event_target_value(&ev) == "hub" { SideInput::Hub } else { SideInput::App }); reset(); }>
                            <option value="app" selected=true>{move || { let a = app_name.get_value(); format!("{a} (deleted in {a})") }}</option>
                            <option value="hub">"The hub (deleted in the hub)"</option>
                        </select>
                    </label>
                    <button type="button" class="button secondary" on:click=review disabled=working>"Review before restoring"</button>
                </div>
                {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
                {move || done.get().map(|n| view! {
                    <p class="success" role="status" data-testid="restore-done">
                        {format!("{} record{} will be restored in {}. They appear among the syncing records as they are created.", thousands(n), if n == 1 { "" } else { "s" }, dest_label(dest.get_untracked()))}
                    </p>
                })}
                {move || preview.get().map(|list| {
                    let n = list.len();
                    if n == 0 {
                        return view! { <p class="empty" data-testid="restore-none">"No deleted records of this type to restore there."</p> }.into_any();
                    }
                    let more = n.saturating_sub(REVIEW_ROWS);
                    let where_ = dest_label(dest.get_untracked());
                    view! {
                        <div class="table-wrap review-list">
                            <table class="table" data-testid="restore-review">
                                <thead><tr><th>"Record"</th><th>"Deleted in"</th><th>"Deleted"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().take(REVIEW_ROWS).map(|c| view! {
                                        <tr><td>{c.label}</td><td>{c.deleted_side}</td><td>{c.deleted_at.format("%Y-%m-%d %H:%M").to_string()}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        {(more > 0).then(|| view! { <p class="muted small">{format!("…and {} more.", thousands(more as i64))}</p> })}
                        <p>
                            <button type="button" class="button primary" on:click=restore disabled=working data-testid="restore-all">
                                {format!("Restore all {}", thousands(n as i64))}
                            </button>
                            <span class="muted small">{format!(" in {where_}")}</span>
                        </p>
                    }.into_any()
                })}
                <div class="actions">
                    <button type="button" class="button secondary" on:click=close>"Close"</button>
                </div>
            </div>
        </Show>
    }
}
