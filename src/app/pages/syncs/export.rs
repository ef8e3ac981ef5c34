//! *More → Export*: choose CSV or XLSX, the server makes the file in the background,
//! and the dialog shows the download link when it is ready (it also arrives in the
//! notification centre, and by email when SMTP is configured). The export's own page
//! (`/settings/integrations/exports/:id`) is where an expired or not-yet-signed-in
//! download link lands.

use super::use_interval;
use crate::api::syncs::{export_status, export_sync_records};
use crate::app::components::{set_page_status, use_uuid_param, ErrorBox, Loading};
use crate::app::layout::notifications_refresher;
use crate::model::ApiError;
use crate::model::{ExportFormat, ExportStatus, ExportView, RecordState};
use leptos::prelude::*;
use leptos_meta::Title;
use uuid::Uuid;

fn running(v: &ExportView) -> bool {
    matches!(v.status, ExportStatus::Queued | ExportStatus::Running)
}

/// Polls an export until it is ready or failed; tells the bell when it is done.
fn poll(export: RwSignal<Option<ExportView>>) {
    let busy = StoredValue::new(false);
    let refresh_notifications = notifications_refresher();
    use_interval(1000, move || {
        let Some(v) = export.get_untracked().filter(running) else {
            return;
        };
        if busy.get_value() {
            return;
        }
        busy.set_value(true);
        leptos::task::spawn_local(async move {
            if let Ok(now) = export_status(v.id).await {
                let done = !running(&now);
                export.try_set(Some(now));
                if done {
                    refresh_notifications();
                }
            }
            busy.try_update_value(|b| *b = false);
        });
    });
}

#[component]
fn ExportState(export: RwSignal<Option<ExportView>>) -> impl IntoView {
    move || {
        export.get().map(|v| match v.status {
            ExportStatus::Queued | ExportStatus::Running => view! {
                <p class="loading" role="status" data-testid="export-status" data-status="running">
                    <span class="spinner" aria-hidden="true"></span>{format!("Preparing {}…", v.file_name)}
                </p>
            }
            .into_any(),
            ExportStatus::Ready => {
                let href = v.download_url.clone().unwrap_or_default();
                view! {
                    <p role="status" data-testid="export-status" data-status="ready">
                        <a class="button primary" href=href rel="external" download=v.file_name.clone() data-testid="download-export">
                            {format!("Download {}", v.file_name)}
                        </a>
                        <span class="muted small">{format!(" {} records · the link works for 24 hours", super::thousands(v.rows))}</span>
                    </p>
                }
                .into_any()
            }
            ExportStatus::Failed => view! {
                <div class="error-box" role="alert" data-testid="export-status" data-status="failed">
                    <strong>"The export failed."</strong>
                    <p class="hint">{v.error.unwrap_or_default()}" Try again; if it keeps failing, the server log has the details."</p>
                </div>
            }
            .into_any(),
            ExportStatus::Expired => view! {
                <p class="notice" data-testid="export-status" data-status="expired">"This download link expired. Start a new export from the record list (More → Export)."</p>
            }
            .into_any(),
        })
    }
}

/// The export dialog of a record list.
#[component]
pub fn ExportDialog(
    open: RwSignal<bool>,
    sync_id: Uuid,
    #[prop(into)] state: Signal<Option<RecordState>>,
    #[prop(into)] reason: Signal<Option<String>>,
    #[prop(into)] search: Signal<Option<String>>,
    /// "failed contacts".
    #[prop(into)]
    what: Signal<String>,
) -> impl IntoView {
    let format = RwSignal::new(ExportFormat::Csv);
    let export: RwSignal<Option<ExportView>> = RwSignal::new(None);
    let error: RwSignal<Option<ApiError>> = RwSignal::new(None);
    poll(export);
    let start = move |_| {
        error.set(None);
        export.set(None);
        leptos::task::spawn_local(async move {
            let r = export_sync_records(
                sync_id,
                state.get_untracked().map(|s| s.to_string()),
                format.get_untracked(),
                reason.get_untracked(),
                search.get_untracked(),
            )
            .await;
            match r {
                Ok(v) => {
                    export.try_set(Some(v));
                }
                Err(e) => {
                    error.try_set(Some(e));
                }
            }
        });
    };
    let close = move |_| {
        open.set(false);
        export.set(None);
        error.set(None);
    };
    let choice = move |f: ExportFormat| {
        view! {
            <label class="check">
                <input type="radio" name="export-format" value=f.extension() prop:checked=move || format.get() == f
                    on:change=move |_| format.set(f)/>
                {f.label()}
            </label>
        }
    };
    view! {
        <Show when=move || open.get()>
            <div class="dialog-backdrop" on:click=close></div>
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="export-title" data-testid="export-dialog">
                <h2 id="export-title">{move || format!("Export {}", what.get())}</h2>
                <fieldset class="checks">
                    <legend>"File format"</legend>
                    {choice(ExportFormat::Csv)}
                    {choice(ExportFormat::Xlsx)}
                </fieldset>
                <p class="hint">"The file is made in the background, so you can leave this page: the link also arrives in the notification centre (and by email when emails are set up). It works for 24 hours."</p>
                {move || error.get().map(|e| view! { <ErrorBox error=e/> })}
                <ExportState export/>
                <div class="actions">
                    <button type="button" class="button primary" on:click=start
                        disabled=move || export.with(|e| e.as_ref().is_some_and(running))>"Export"</button>
                    <button type="button" class="button secondary" on:click=close>"Close"</button>
                </div>
            </div>
        </Show>
    }
}

/// `/settings/integrations/exports/:id`: an export's state and its download link.
#[component]
pub fn ExportPage() -> impl IntoView {
    let id = use_uuid_param("id");
    let loaded = crate::app::components::local_resource(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => export_status(id).await,
                None => Err(ApiError::not_found("The export")),
            }
        },
    );
    view! {
        <Title text="Export"/>
        <section class="export-page" data-testid="export-page">
            <h1>"Export"</h1>
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match loaded.await {
                        Ok(v) => {
                            let title = v.title.clone();
                            let created = v.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
                            let export = RwSignal::new(Some(v));
                            poll(export);
                            view! {
                                <p><strong>{title}</strong><br/><span class="muted small">{format!("Started {created}")}</span></p>
                                <ExportState export/>
                            }
                            .into_any()
                        }
                        Err(e) => {
                            set_page_status(e.status.max(400));
                            view! { <ErrorBox error=e/> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
