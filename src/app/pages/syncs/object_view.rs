//! The app page's *CRM Syncs* tab. *Object view*: one row per sync with its object pair
//! and direction, live status (progress bar and phase tracker during the initial
//! sync), counts that open the record lists, the last 24 hours as a small chart, and
//! the *More* menu. *Record view*: see `record_view`. Status is polled every two
//! seconds while an initial sync runs (less often otherwise, never in a hidden tab).

use super::chart::HourChart;
use super::record_view::RecordView;
use super::{
    edit_url, is_busy, new_url, object_label, records_url, thousands, use_interval, PhaseTracker,
};
use crate::api::syncs::{delete_sync, list_syncs, sync_chart, turn_off_sync, turn_on_sync};
use crate::app::components::{ClientOnly, ErrorBox, Loading, Menu};
use crate::model::ApiError;
use crate::model::{ConnectionStatus, ConnectionView, RecordState, SyncPhase, SyncView};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

fn of_app(list: Vec<SyncView>, app: &str) -> Vec<SyncView> {
    list.into_iter()
        .filter(|s| s.connection.app == app)
        .collect()
}

/// The syncs of one app (none while `app` answers `None`: the tab is not shown).
#[derive(Clone, Copy)]
pub struct SyncsResource(Resource<Result<Vec<SyncView>, ApiError>>);

impl SyncsResource {
    pub fn new(app: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        SyncsResource(Resource::new(app, |app| async move {
            match app {
                Some(app) => list_syncs(None).await.map(|l| of_app(l, &app)),
                None => Ok(Vec::new()),
            }
        }))
    }
}

#[component]
pub fn SyncsTab(
    app: String,
    app_name: String,
    connections: Vec<ConnectionView>,
    can_manage: bool,
    syncs: SyncsResource,
) -> impl IntoView {
    let syncs = syncs.0;
    let query = use_query_map();
    let record_view = move || query.read().get("view").as_deref() == Some("records");
    let focus = Memo::new(move |_| {
        query
            .read()
            .get("sync")
            .and_then(|s| Uuid::parse_str(&s).ok())
    });
    let base = format!("/settings/integrations/connected-apps/{app}?tab=syncs");
    let records_href = format!("{base}&view=records");
    let connected: Vec<ConnectionView> = connections
        .into_iter()
        .filter(|c| c.status == ConnectionStatus::Connected)
        .collect();
    let setup =
        can_manage.then(|| view! { <SetUpButton app=app.clone() connected=connected.clone()/> });
    view! {
        <section class="syncs-tab" data-testid="syncs-tab">
            <div class="page-head">
                <nav class="subtabs" aria-label="Sync views">
                    <a href=base.clone() class:active=move || !record_view() aria-current=move || (!record_view()).then_some("page")>"Object view"</a>
                    <a href=records_href class:active=record_view aria-current=move || record_view().then_some("page")>"Record view"</a>
                </nav>
                {setup}
            </div>
            <Transition fallback=|| view! { <Loading/> }>
                {move || {
                    let app = app.clone();
                    let app_name = app_name.clone();
                    Suspend::new(async move {
                        match syncs.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty" data-testid="no-syncs">
                                    <p><strong>"No syncs yet."</strong></p>
                                    <p>{format!("A sync keeps one kind of record — contacts, companies, deals or invoices — the same in {app_name} and in your hub, one way or both ways.")}</p>
                                    {if can_manage { "Choose “Set up sync” to start." } else { "Someone with the App Marketplace permission can set one up." }}
                                </div>
                            }.into_any(),
                            // The record view loads its rows in the browser; rendered there
                            // only (its server copy did not hydrate).
                            Ok(list) => if record_view() {
                                view! { <ClientOnly><RecordView syncs=list.clone() app_name=app_name.clone() can_manage/></ClientOnly> }.into_any()
                            } else {
                                view! { <SyncTable initial=list app app_name can_manage focus/> }.into_any()
                            },
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn SetUpButton(app: String, connected: Vec<ConnectionView>) -> impl IntoView {
    match connected.len() {
        0 => view! { <span class="muted small">"Connect an account to set up a sync."</span> }.into_any(),
        1 => view! { <a class="button primary" href=new_url(&app, connected[0].id) data-testid="set-up-sync">"Set up sync"</a> }.into_any(),
        _ => view! {
            <Menu label="Set up sync" primary=true testid="set-up-sync">
                {connected.iter().map(|c| view! { <a href=new_url(&app, c.id) role="menuitem">{format!("For {}", c.account_name)}</a> }).collect_view()}
            </Menu>
        }
        .into_any(),
    }
}

#[component]
fn SyncTable(
    initial: Vec<SyncView>,
    app: String,
    app_name: String,
    can_manage: bool,
    focus: Memo<Option<Uuid>>,
) -> impl IntoView {
    let several_accounts = {
        let mut ids: Vec<Uuid> = initial.iter().map(|s| s.connection.id).collect();
        ids.sort();
        ids.dedup();
        ids.len() > 1
    };
    let syncs = RwSignal::new(initial);
    // Bumped now and then: the charts reload.
    let chart_version = RwSignal::new(0u32);
    let busy = StoredValue::new(false);
    let ticks = StoredValue::new(0u32);
    let poll_app = app.clone();
    use_interval(2000, move || {
        let t = ticks.get_value().wrapping_add(1);
        ticks.set_value(t);
        let running = syncs.with_untracked(|v| v.iter().any(is_busy));
        // Every 2 s during an initial sync; every 20 s while listening (counts move slowly).
        if busy.get_value() || !(running || t.is_multiple_of(10)) {
            return;
        }
        busy.set_value(true);
        let app = poll_app.clone();
        leptos::task::spawn_local(async move {
            if let Ok(list) = list_syncs(None).await {
                syncs.try_set(of_app(list, &app));
            }
            if t.is_multiple_of(15) || running {
                chart_version.try_update(|v| *v += 1);
            }
            busy.try_update_value(|b| *b = false);
        });
    });
    let ids = move || syncs.with(|v| v.iter().map(|s| s.id).collect::<Vec<_>>());
    view! {
        <div class="table-wrap">
            <table class="table stack syncs" data-testid="syncs">
                <thead>
                    <tr>
                        <th>"Objects"</th>
                        <th>"Status"</th>
                        <th class="num">"Syncing"</th>
                        <th class="num">"Failed"</th>
                        <th class="num">"Excluded"</th>
                        <th>"Last 24 hours"</th>
                        <th><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=ids key=|id| *id let:id>
                        <SyncRowView id syncs app_name=app_name.clone() can_manage several_accounts focus chart_version/>
                    </For>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn SyncRowView(
    id: Uuid,
    syncs: RwSignal<Vec<SyncView>>,
    app_name: String,
    can_manage: bool,
    several_accounts: bool,
    focus: Memo<Option<Uuid>>,
    chart_version: RwSignal<u32>,
) -> impl IntoView {
    let sync = Memo::new(move |_| syncs.with(|v| v.iter().find(|s| s.id == id).cloned()));
    let get = move |f: fn(&SyncView) -> String| {
        move || sync.with(|s| s.as_ref().map(f).unwrap_or_default())
    };
    let first = sync.get_untracked();
    let (hub_object, app_object, account) = first
        .as_ref()
        .map(|s| {
            (
                s.hub_object.clone(),
                s.app_object.clone(),
                s.connection.account_name.clone(),
            )
        })
        .unwrap_or_default();
    let arrows =
        move || sync.with(|s| s.as_ref().map(|s| s.input.direction.arrows()).unwrap_or(""));
    let direction =
        move || sync.with(|s| s.as_ref().map(|s| s.input.direction.label()).unwrap_or(""));
    let phase = move || sync.with(|s| s.as_ref().map(|s| s.phase));
    let percent = move || sync.with(|s| s.as_ref().map(|s| s.progress.percent).unwrap_or(0));
    // Loaded in the browser only (effects do not run on the server): a resource per row
    // inside the table's own transition does not hydrate reliably, and the page's first
    // render does not wait for 24 hourly points.
    let chart: RwSignal<Option<Result<Vec<crate::model::HourPoint>, ApiError>>> =
        RwSignal::new(None);
    Effect::new(move |_| {
        chart_version.track();
        leptos::task::spawn_local(async move {
            let points = sync_chart(id).await;
            chart.try_set(Some(points));
        });
    });
    let error: RwSignal<Option<ApiError>> = RwSignal::new(None);
    let confirming = RwSignal::new(false);
    let working = RwSignal::new(false);

    let switch = move |on: bool| {
        working.set(true);
        leptos::task::spawn_local(async move {
            let r = if on {
                turn_on_sync(id).await
            } else {
                turn_off_sync(id).await
            };
            match r {
                Ok(v) => {
                    syncs.try_update(|list| {
                        if let Some(s) = list.iter_mut().find(|s| s.id == id) {
                            *s = v;
                        }
                    });
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
            working.try_set(false);
        });
    };
    let remove = move |_| {
        working.set(true);
        leptos::task::spawn_local(async move {
            match delete_sync(id).await {
                Ok(()) => {
                    syncs.try_update(|list| list.retain(|s| s.id != id));
                }
                Err(e) => {
                    error.try_set(Some(e));
                    working.try_set(false);
                }
            }
        });
    };

    let status = move || {
        match phase() {
        Some(SyncPhase::Scanning) | Some(SyncPhase::Syncing) => view! {
            <span class="status-line"><span class="spinner" aria-hidden="true"></span>
                {move || sync.with(|s| s.as_ref().map(|s| s.phase.label()).unwrap_or(""))}
                " · " {move || format!("{}%", percent())}</span>
            <span class="progress" role="progressbar" aria-label="Initial sync progress" aria-valuemin="0" aria-valuemax="100"
                aria-valuenow=move || percent().to_string()>
                <span style=move || format!("width: {}%", percent())></span>
            </span>
        }
        .into_any(),
        Some(SyncPhase::Listening) => view! { <span class="status-line"><span class="dot ok" aria-hidden="true"></span>"Listening for changes"</span> }.into_any(),
        _ => view! { <span class="status-line"><span class="dot" aria-hidden="true"></span>"Off"</span> }.into_any(),
    }
    };
    let count = move |state: RecordState| {
        let n = move || sync.with(|s| s.as_ref().map_or(0, |s| s.counts.of(state)));
        let href = records_url(id, Some(state));
        view! {
            <a href=href data-testid=format!("count-{state}") aria-label=move || format!("{} {state} records", n())>
                {move || thousands(n())}
            </a>
        }
    };
    let enabled = move || sync.with(|s| s.as_ref().is_some_and(|s| s.enabled));
    let label = format!("{} with {app_name}", object_label(&hub_object));
    view! {
        <tr data-testid="sync-row" data-sync=id.to_string() data-object=hub_object.clone() class:focus=move || focus.get() == Some(id)>
            <td data-label="Objects">
                <span class="pair">
                    <strong>{format!("Hub {}", hub_object)}</strong>
                    <span class="arrows" title=direction aria-label=direction>{arrows}</span>
                    <strong>{format!("{app_name} {app_object}")}</strong>
                </span>
                {several_accounts.then(|| view! { <br/><span class="muted small">{account.clone()}</span> })}
            </td>
            <td data-label="Status">
                <div class="status" tabindex="0" data-testid="sync-status" data-phase=move || get(|s| format!("{:?}", s.phase).to_lowercase())()>
                    {status}
                    <PhaseTracker sync=Signal::derive(move || sync.get())/>
                </div>
                {move || sync.with(|s| s.as_ref().and_then(|s| s.last_error.clone())).map(|e| view! { <p class="small bad-text">"⚠ "{e}</p> })}
            </td>
            <td data-label="Syncing" class="num">{count(RecordState::Syncing)}</td>
            <td data-label="Failed" class="num">{count(RecordState::Failed)}</td>
            <td data-label="Excluded" class="num">{count(RecordState::Excluded)}</td>
            <td data-label="Last 24 hours">
                {move || match chart.get() {
                    None => view! { <span class="muted small">"…"</span> }.into_any(),
                    Some(Ok(points)) => view! { <HourChart points/> }.into_any(),
                    Some(Err(_)) => view! { <span class="muted small">"Chart unavailable"</span> }.into_any(),
                }}
            </td>
            <td data-label="">
                {can_manage.then(|| view! {
                    <Menu label="More" testid="sync-more">
                        <a href=edit_url(id) role="menuitem">"Edit settings"</a>
                        <Show when=enabled fallback=move || view! {
                            <button type="button" role="menuitem" on:click=move |_| switch(true) disabled=working>"Turn on"</button>
                        }>
                            <button type="button" role="menuitem" on:click=move |_| switch(false) disabled=working>"Turn off"</button>
                        </Show>
                        <button type="button" role="menuitem" class="danger-text" on:click=move |_| confirming.set(true)>"Delete"</button>
                    </Menu>
                })}
                {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
                <Show when=move || confirming.get()>
                    <div class="dialog-backdrop" on:click=move |_| confirming.set(false)></div>
                    <div class="dialog" role="dialog" aria-modal="true" aria-label="Delete sync">
                        <h2>{format!("Delete the sync of {label}?")}</h2>
                        <p>"The sync stops and its record index and history are removed. Records stay as they are in both places. To pause it instead, choose Turn off."</p>
                        <div class="actions">
                            <button type="button" class="button danger" on:click=remove disabled=working>"Delete sync"</button>
                            <button type="button" class="button secondary" on:click=move |_| confirming.set(false)>"Cancel"</button>
                        </div>
                    </div>
                </Show>
            </td>
        </tr>
    }
}
