//! A sync's record lists (`/settings/integrations/syncs/:id?state=failed`): one tab per
//! state with its count, failures grouped by cause (one expired token is one line, not
//! a thousand), search, keyset paging, *Actions* (resync deleted, retry failed),
//! *More → Export*, and a record's detail panel (`&record=<index id>`) with the values on
//! both sides, the mapping that failed, the sync activity and the *Troubleshoot* guide.
//! The state of the page lives in the URL, so links from counts, notifications and
//! troubleshooting guides open exactly the list meant.

use super::export::ExportDialog;
use super::{
    app_syncs_url, edit_url, is_busy, object_label, state_cell, state_class, thousands,
    use_interval,
};
use crate::api::syncs::{
    list_sync_records, resync_deleted, retry_failed, sync_record_detail, sync_status,
};
use crate::app::components::{set_page_status, use_uuid_param, ErrorBox, Loading, Menu};
use crate::app::layout::use_user;
use crate::app::pages::crm::enc;
use crate::model::ApiError;
use crate::model::{RecordState, SideInput, SyncRecordDetails, SyncRecordPage, SyncView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use uuid::Uuid;

const PAGE_SIZE: i64 = 50;

/// What the list shows; all of it is in the URL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub state: RecordState,
    pub reason: Option<String>,
    pub search: Option<String>,
    pub after: Option<i64>,
    pub record: Option<i64>,
}

impl ListQuery {
    /// The query a list URL carries; what is missing or unknown falls back to the
    /// syncing tab.
    pub fn from_query(q: &ParamsMap) -> Self {
        ListQuery {
            state: q
                .get("state")
                .and_then(|s| RecordState::parse(&s))
                .unwrap_or_default(),
            reason: q.get("reason").filter(|s| !s.is_empty()),
            search: q.get("q").filter(|s| !s.trim().is_empty()),
            after: q.get("after").and_then(|s| s.parse().ok()),
            record: q.get("record").and_then(|s| s.parse().ok()),
        }
    }
}

/// The page's URL for a query.
pub fn list_url(sync: Uuid, q: &ListQuery) -> String {
    let mut parts = vec![format!("state={}", q.state)];
    if let Some(r) = q.reason.as_deref().filter(|r| !r.is_empty()) {
        parts.push(format!("reason={}", enc(r)));
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("q={}", enc(s)));
    }
    if let Some(a) = q.after {
        parts.push(format!("after={a}"));
    }
    if let Some(r) = q.record {
        parts.push(format!("record={r}"));
    }
    format!("/settings/integrations/syncs/{sync}?{}", parts.join("&"))
}

fn hub_record_url(hub_object: &str, id: i64) -> String {
    format!("/{hub_object}/{id}")
}

#[component]
pub fn SyncRecordsPage() -> impl IntoView {
    let query = use_query_map();
    let id = use_uuid_param("id");
    let q = Memo::new(move |_| ListQuery::from_query(&query.read()));
    // Bumped after an action and while the sync is busy: status and list reload.
    let version = RwSignal::new(0u32);
    let sync = crate::app::components::local_resource(
        move || (id.get(), version.get()),
        |(id, _)| async move {
            match id {
                Some(id) => sync_status(id).await,
                None => Err(ApiError::not_found("The sync")),
            }
        },
    );
    let list_key = Memo::new(move |_| {
        let q = q.get();
        (q.state, q.reason, q.search, q.after)
    });
    let page = crate::app::components::local_resource(
        move || (id.get(), list_key.get(), version.get()),
        |(id, (state, reason, search, after), _)| async move {
            match id {
                Some(id) => {
                    list_sync_records(
                        id,
                        Some(state.to_string()),
                        reason,
                        search,
                        after,
                        Some(PAGE_SIZE),
                    )
                    .await
                }
                None => Err(ApiError::not_found("The sync")),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match sync.await {
                    Ok(s) => view! { <RecordsBody sync=s q page version/> }.into_any(),
                    Err(e) => {
                        if e.status == 404 {
                            set_page_status(404);
                        }
                        view! { <Title text="Sync"/> <ErrorBox error=e/> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn RecordsBody(
    sync: SyncView,
    q: Memo<ListQuery>,
    page: LocalResource<Result<SyncRecordPage, ApiError>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let user = use_user();
    let id = sync.id;
    let app = sync.connection.app.clone();
    let app_name = sync.connection.app_name.clone();
    let hub_object = sync.hub_object.clone();
    let title = format!(
        "{} ⇄ {} {}",
        object_label(&sync.hub_object),
        app_name,
        sync.app_object
    );
    let arrows = sync.input.direction.arrows();
    let counts = sync.counts;
    let busy = is_busy(&sync);
    let search = RwSignal::new(q.get_untracked().search.unwrap_or_default());
    let message: RwSignal<Option<String>> = RwSignal::new(None);
    let error: RwSignal<Option<ApiError>> = RwSignal::new(None);
    let exporting = RwSignal::new(false);
    let refresh_for = StoredValue::new(0u32);
    // While an initial sync runs, or shortly after an action, the lists move: reload.
    use_interval(3000, move || {
        let left = refresh_for.get_value();
        if busy || left > 0 {
            refresh_for.set_value(left.saturating_sub(1));
            version.try_update(|v| *v += 1);
        }
    });
    let app_name = StoredValue::new(app_name);
    let act = move |what: &'static str| {
        message.set(None);
        error.set(None);
        let name = app_name.get_value();
        leptos::task::spawn_local(async move {
            let result = match what {
                "resync_hub" => resync_deleted(id, SideInput::Hub).await.map(|n| {
                    format!(
                        "{} deleted record{} will be created again in the hub.",
                        thousands(n),
                        if n == 1 { "" } else { "s" }
                    )
                }),
                "resync_app" => resync_deleted(id, SideInput::App).await.map(|n| {
                    format!(
                        "{} deleted record{} will be created again in {name}.",
                        thousands(n),
                        if n == 1 { "" } else { "s" }
                    )
                }),
                _ => retry_failed(id).await.map(|n| {
                    format!(
                        "{} failed record{} will be retried.",
                        thousands(n),
                        if n == 1 { "" } else { "s" }
                    )
                }),
            };
            match result {
                Ok(m) => {
                    message.try_set(Some(m));
                    refresh_for.try_update_value(|r| *r = 10);
                    version.try_update(|v| *v += 1);
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = ListQuery {
            search: Some(search.get_untracked()),
            after: None,
            record: None,
            ..q.get_untracked()
        };
        use_navigate()(&list_url(id, &next), Default::default());
    };
    let tab = move |state: RecordState, n: i64| {
        let href = list_url(
            id,
            &ListQuery {
                state,
                ..Default::default()
            },
        );
        view! {
            <a href=href class:active=move || q.get().state == state aria-current=move || (q.get().state == state).then_some("page")
                data-testid=format!("tab-{state}")>
                {state.label()}" "<span class="count">{thousands(n)}</span>
            </a>
        }
    };
    let app_name_actions = sync.connection.app_name.clone();
    let back = app_syncs_url(&app, Some(id));
    let export_state = Signal::derive(move || Some(q.get().state));
    let export_reason = Signal::derive(move || q.get().reason);
    let export_search = Signal::derive(move || q.get().search);
    let export_what = {
        let hub_object = hub_object.clone();
        Signal::derive(move || format!("{} {}", q.get().state.label().to_lowercase(), hub_object))
    };
    let detail_hub_object = hub_object.clone();
    view! {
        <Title text=format!("{} records", title.clone())/>
        <section class="sync-records" data-testid="sync-records">
            <a class="back" href=back>{format!("← {}", sync.connection.app_name)}</a>
            <div class="page-head">
                <div>
                    <h1>{format!("Hub {} {arrows} {} {}", sync.hub_object, sync.connection.app_name, sync.app_object)}</h1>
                    <p class="muted small">{format!("{} · {} · {}", sync.connection.account_name, sync.input.direction.label(), sync.phase.label())}</p>
                </div>
                <div class="actions">
                    <Suspense fallback=|| ()>
                        {move || {
                            let name = app_name_actions.clone();
                            Suspend::new(async move {
                                let can_manage = matches!(user.await, Ok(Some(u)) if u.can_manage_apps);
                                can_manage.then(|| view! {
                                    <Menu label="Actions" testid="record-actions">
                                        <button type="button" role="menuitem" on:click=move |_| act("resync_hub")>"Resync deleted records in hub"</button>
                                        <button type="button" role="menuitem" on:click=move |_| act("resync_app")>{format!("Resync deleted records in {name}")}</button>
                                        <button type="button" role="menuitem" on:click=move |_| act("retry")>"Retry all failed"</button>
                                        <a href=edit_url(id) role="menuitem">"Edit sync settings"</a>
                                    </Menu>
                                })
                            })
                        }}
                    </Suspense>
                    <Menu label="More" testid="records-more">
                        <button type="button" role="menuitem" on:click=move |_| exporting.set(true)>"Export"</button>
                    </Menu>
                </div>
            </div>
            {move || message.get().map(|m| view! { <p class="success" role="status" data-testid="action-message">{m}</p> })}
            {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
            <ExportDialog open=exporting sync_id=id state=export_state reason=export_reason search=export_search what=export_what/>
            <nav class="tabs state-tabs" aria-label="Record states">
                {tab(RecordState::Syncing, counts.syncing)}
                {tab(RecordState::Failed, counts.failed)}
                {tab(RecordState::Excluded, counts.excluded)}
                {tab(RecordState::Deleted, counts.deleted)}
                {(counts.queued > 0).then(|| tab(RecordState::Queued, counts.queued))}
            </nav>
            <form class="search" role="search" on:submit=on_search>
                <input type="search" name="q" aria-label="Search records" placeholder="Search by name, email or id…" bind:value=search/>
                <button type="submit" class="button secondary">"Search"</button>
            </form>
            <Transition fallback=|| view! { <Loading/> }>
                {move || {
                    let hub_object = hub_object.clone();
                    Suspend::new(async move {
                        match page.await {
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                            Ok(p) => view! { <RecordList sync_id=id hub_object q=q.get_untracked() page=p/> }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || q.get().record.map(|record| view! {
                <RecordDetail sync_id=id index_id=record hub_object=detail_hub_object.clone() version/>
            })}
        </section>
    }
}

#[component]
fn RecordList(
    sync_id: Uuid,
    hub_object: String,
    q: ListQuery,
    page: SyncRecordPage,
) -> impl IntoView {
    let groups = (!page.groups.is_empty()).then(|| {
        let all = list_url(sync_id, &ListQuery { reason: None, after: None, record: None, ..q.clone() });
        let total: i64 = page.groups.iter().map(|g| g.count).sum();
        view! {
            <div class="reason-groups" data-testid="reason-groups" aria-label="Causes">
                <a href=all class="chip" class:active=q.reason.is_none()>{format!("All causes · {}", thousands(total))}</a>
                {page.groups.iter().map(|g| {
                    let href = list_url(sync_id, &ListQuery { reason: Some(g.code.to_string()), after: None, record: None, ..q.clone() });
                    view! {
                        <a href=href class="chip" class:active=q.reason.as_deref() == Some(g.code.as_str()) data-testid="reason-group" data-code=g.code.as_str()>
                            {g.title.clone()}" · "<strong>{thousands(g.count)}</strong>
                        </a>
                    }
                }).collect_view()}
            </div>
        }
    });
    if page.rows.is_empty() {
        let message = match (&q.search, q.after.is_some(), q.state) {
            (Some(s), _, _) => format!("No {} records match “{s}”. Try a name, an email or an id.", q.state.label().to_lowercase()),
            (None, true, _) => "No more records.".to_string(),
            (None, false, RecordState::Syncing) => "No records are syncing yet. They appear here as soon as they are paired.".to_string(),
            (None, false, RecordState::Failed) => "Nothing failed. Records that cannot sync appear here with the reason and how to fix it.".to_string(),
            (None, false, RecordState::Excluded) => "No record is excluded. Records outside the filters, duplicates and records without identifier appear here.".to_string(),
            (None, false, RecordState::Deleted) => "No record was deleted on one side.".to_string(),
            _ => "No records.".to_string(),
        };
        return view! { {groups} <p class="empty" data-testid="records-empty">{message}</p> }
            .into_any();
    }
    let show_reason = q.state != RecordState::Syncing;
    let next = page.next_after.map(|a| {
        list_url(
            sync_id,
            &ListQuery {
                after: Some(a),
                record: None,
                ..q.clone()
            },
        )
    });
    let first = q.after.map(|_| {
        list_url(
            sync_id,
            &ListQuery {
                after: None,
                record: None,
                ..q.clone()
            },
        )
    });
    let summary = if q.search.is_none() && q.reason.is_none() {
        format!(
            "{} {} record{}",
            thousands(page.total),
            q.state.label().to_lowercase(),
            if page.total == 1 { "" } else { "s" }
        )
    } else {
        format!("{} shown", page.rows.len())
    };
    view! {
        {groups}
        <p class="muted small">{summary}</p>
        <div class="table-wrap">
            <table class="table stack records" data-testid="sync-record-list">
                <thead>
                    <tr>
                        <th>"Record"</th>
                        <th>"State"</th>
                        {show_reason.then(|| view! { <th>"Reason"</th> })}
                        <th>"Hub"</th>
                        <th>"App id"</th>
                        <th>"Updated"</th>
                    </tr>
                </thead>
                <tbody>
                    {page.rows.into_iter().map(|r| {
                        let open = list_url(sync_id, &ListQuery { record: Some(r.index_id), ..q.clone() });
                        let label = if r.label.trim().is_empty() { format!("Record {}", r.index_id) } else { r.label.clone() };
                        let hub = r.hub_id.map(|h| view! { <a href=hub_record_url(&hub_object, h)>{format!("#{h}")}</a> });
                        view! {
                            <tr data-testid="sync-record-row">
                                <td data-label="Record"><a href=open data-testid="open-record">{label}</a></td>
                                {state_cell(r.state, r.deleted_side.clone())}
                                {show_reason.then(|| view! {
                                    <td data-label="Reason" class="reason"><span>{r.message.clone().unwrap_or_default()}
                                        {r.field.clone().map(|f| view! { <br/><span class="muted small">"Field "<code>{f}</code></span> })}</span></td>
                                })}
                                <td data-label="Hub">{hub}</td>
                                <td data-label="App id">{r.app_id.clone().unwrap_or_default()}</td>
                                <td data-label="Updated">{r.updated_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {first.map(|href| view! { <a href=href class="button secondary">"← First page"</a> })}
            {match next {
                Some(href) => view! { <a href=href class="button secondary" rel="next">"Next page →"</a> }.into_any(),
                None => view! { <span class="button secondary disabled" aria-disabled="true">"Next page →"</span> }.into_any(),
            }}
        </nav>
    }
    .into_any()
}

#[component]
fn RecordDetail(
    sync_id: Uuid,
    index_id: i64,
    hub_object: String,
    version: RwSignal<u32>,
) -> impl IntoView {
    let detail = crate::app::components::local_resource(
        move || version.get(),
        move |_| sync_record_detail(sync_id, index_id),
    );
    let query = use_query_map();
    let close = move || {
        let back = ListQuery {
            record: None,
            ..ListQuery::from_query(&query.read())
        };
        list_url(sync_id, &back)
    };
    view! {
        <div class="dialog-backdrop"></div>
        <aside class="detail-panel" role="dialog" aria-modal="true" aria-label="Record details" data-testid="record-detail">
            <a class="close" href=close aria-label="Close">"×"</a>
            <Transition fallback=|| view! { <Loading/> }>
                {move || {
                    let hub_object = hub_object.clone();
                    Suspend::new(async move {
                        match detail.await {
                            Ok(d) => view! { <DetailBody d hub_object/> }.into_any(),
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </aside>
    }
}

#[component]
fn DetailBody(d: SyncRecordDetails, hub_object: String) -> impl IntoView {
    let r = d.row;
    let label = if r.label.trim().is_empty() {
        format!("Record {}", r.index_id)
    } else {
        r.label.clone()
    };
    view! {
        <h2>{label}</h2>
        <p>
            <span class=state_class(r.state) data-testid="detail-state">{r.state.label()}</span>
            {r.deleted_side.clone().map(|s| view! { <span class="muted">{format!(" — deleted in the {s}")}</span> })}
        </p>
        {r.message.clone().map(|m| view! {
            <div class="reason-box" data-testid="detail-reason">
                <strong>{m}</strong>
                {d.hint.clone().map(|h| view! { <p class="hint">{h}</p> })}
            </div>
        })}
        <p class="small">
            {r.hub_id.map(|h| view! { <a href=hub_record_url(&hub_object, h)>{format!("Hub record #{h}")}</a> " · " })}
            {r.app_id.clone().map(|a| view! { <span>{format!("App id {a}")}</span> })}
            {r.last_synced_at.map(|t| view! { <span class="muted">{format!(" · last synced {}", t.format("%Y-%m-%d %H:%M UTC"))}</span> })}
        </p>
        <h3>"Values on both sides"</h3>
        {if d.fields.is_empty() {
            view! { <p class="muted">"No mapped fields."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="table values" data-testid="detail-values">
                        <thead><tr><th>"Hub property"</th><th>"Hub value"</th><th>"App field"</th><th>"App value"</th></tr></thead>
                        <tbody>
                            {d.fields.into_iter().map(|f| view! {
                                <tr class:failed-mapping=f.failed data-failed=f.failed.to_string()>
                                    <td><code>{f.hub_property}</code>{f.failed.then(|| view! { <span class="pill bad">"failed"</span> })}</td>
                                    <td>{f.hub_value.unwrap_or_else(|| "—".into())}</td>
                                    <td><code>{f.app_field}</code></td>
                                    <td>{f.app_value.unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
        {d.troubleshoot.map(|t| view! {
            <details class="troubleshoot" data-testid="troubleshoot" data-code=t.code.as_str()>
                <summary class="button secondary">"Troubleshoot"</summary>
                <h3>{t.title}</h3>
                <h4>"What it means"</h4>
                <p>{t.what}</p>
                <h4>"How to fix it"</h4>
                <p>{t.fix}</p>
                <ul class="links">
                    {t.links.into_iter().map(|(label, href)| view! { <li><a href=href>{label}</a></li> }).collect_view()}
                </ul>
            </details>
        })}
        <h3>"Sync activity"</h3>
        {if d.activity.is_empty() {
            view! { <p class="muted">"No activity recorded yet."</p> }.into_any()
        } else {
            view! {
                <ol class="activity" data-testid="detail-activity">
                    {d.activity.into_iter().map(|a| view! {
                        <li>
                            <time class="muted small">{a.at.format("%Y-%m-%d %H:%M:%S").to_string()}</time>
                            <span class="pill">{a.kind.replace('_', " ")}</span>
                            <span>{a.message}</span>
                        </li>
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_urls_carry_the_whole_state() {
        let id = Uuid::nil();
        let q = ListQuery {
            state: RecordState::Failed,
            reason: Some("hub_validation".into()),
            search: Some("ada lovelace".into()),
            after: Some(50),
            record: Some(7),
        };
        assert_eq!(
            list_url(id, &q),
            format!("/settings/integrations/syncs/{id}?state=failed&reason=hub_validation&q=ada%20lovelace&after=50&record=7")
        );
        assert_eq!(
            list_url(
                id,
                &ListQuery {
                    state: RecordState::Syncing,
                    ..Default::default()
                }
            ),
            format!("/settings/integrations/syncs/{id}?state=syncing")
        );
    }
}
