//! Sync pages: the app page's *CRM Syncs* tab (object view with live status, record
//! view with *Restore all deleted records*), the set-up wizard (new and edit), a sync's
//! record lists with the detail and troubleshooting panel, and exports. Everything goes
//! through the server functions of `crate::api::syncs`.

mod chart;
mod export;
mod object_view;
mod record_view;
mod records;
mod wizard;

pub use chart::HourChart;
pub use export::ExportPage;
pub use object_view::{SyncsResource, SyncsTab};
pub use records::SyncRecordsPage;
pub use wizard::{EditSyncPage, NewSyncPage};

pub use crate::app::components::use_interval;

use crate::model::{RecordState, SyncPhase, SyncView};
use leptos::prelude::*;
use uuid::Uuid;

/// The record list of a sync, in one state (`None`: the default list).
pub fn records_url(sync: Uuid, state: Option<RecordState>) -> String {
    match state {
        Some(s) => format!("/settings/integrations/syncs/{sync}?state={s}"),
        None => format!("/settings/integrations/syncs/{sync}"),
    }
}

pub fn edit_url(sync: Uuid) -> String {
    format!("/settings/integrations/syncs/{sync}/edit")
}

pub fn new_url(app: &str, connection: Uuid) -> String {
    format!("/settings/integrations/connected-apps/{app}/syncs/new?connection={connection}")
}

/// The app page, on its CRM Syncs tab, with one sync picked out.
pub fn app_syncs_url(app: &str, sync: Option<Uuid>) -> String {
    match sync {
        Some(s) => format!("/settings/integrations/connected-apps/{app}?tab=syncs&sync={s}"),
        None => format!("/settings/integrations/connected-apps/{app}?tab=syncs"),
    }
}

/// "Contacts" for `contacts`.
pub fn object_label(object: &str) -> String {
    crate::model::capitalised(object)
}

pub fn state_class(state: RecordState) -> &'static str {
    match state {
        RecordState::Syncing => "pill ok",
        RecordState::Failed | RecordState::Deleted => "pill bad",
        RecordState::Excluded => "pill warn",
        RecordState::Queued | RecordState::Indexed | RecordState::Pending => "pill",
    }
}

/// A record's state as a table cell, with the side a deletion came from.
pub fn state_cell(state: RecordState, deleted_side: Option<String>) -> impl IntoView {
    view! {
        <td data-label="State">
            <span class=state_class(state)>{state.label()}</span>
            {deleted_side.map(|s| view! { <span class="muted small">{format!(" in {s}")}</span> })}
        </td>
    }
}

/// 1,234,567.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A sync still in its initial sync: its status is polled.
pub fn is_busy(s: &SyncView) -> bool {
    matches!(s.phase, SyncPhase::Scanning | SyncPhase::Syncing)
}

/// The phase tracker: *scanning → syncing → listening for changes*, the current one
/// marked, with the initial sync's progress.
#[component]
pub fn PhaseTracker(#[prop(into)] sync: Signal<Option<SyncView>>) -> impl IntoView {
    let step = move |phase: SyncPhase| {
        move || {
            let current = sync.with(|s| s.as_ref().map(|s| s.phase));
            let order = |p: SyncPhase| match p {
                SyncPhase::Scanning => 0,
                SyncPhase::Syncing => 1,
                SyncPhase::Listening => 2,
                SyncPhase::Off => 3,
            };
            match current {
                Some(SyncPhase::Off) | None => "step",
                Some(c) if c == phase => "step current",
                Some(c) if order(c) > order(phase) => "step done",
                _ => "step",
            }
        }
    };
    let detail = move || {
        sync.with(|s| {
            s.as_ref().map(|s| match s.phase {
                SyncPhase::Off => {
                    "The sync is off: nothing flows until it is turned on.".to_string()
                }
                SyncPhase::Listening => match s.initial_completed_at {
                    Some(t) => format!(
                        "Initial sync completed {}. Changes on either side flow within seconds.",
                        t.format("%Y-%m-%d %H:%M UTC")
                    ),
                    None => "Changes on either side flow within seconds.".to_string(),
                },
                _ => format!(
                    "{}: {} of {} ({}% of the initial sync)",
                    s.progress.step_label,
                    thousands(s.progress.done),
                    thousands(s.progress.total),
                    s.progress.percent
                ),
            })
        })
    };
    view! {
        <div class="phase-tracker" role="tooltip">
            <ol>
                <li class=step(SyncPhase::Scanning)>"Scanning"</li>
                <li class=step(SyncPhase::Syncing)>"Syncing"</li>
                <li class=step(SyncPhase::Listening)>"Listening for changes"</li>
            </ol>
            <p class="small">{detail}</p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn urls() {
        let id = Uuid::nil();
        assert_eq!(
            records_url(id, Some(RecordState::Failed)),
            format!("/settings/integrations/syncs/{id}?state=failed")
        );
        assert_eq!(
            edit_url(id),
            format!("/settings/integrations/syncs/{id}/edit")
        );
        assert_eq!(object_label("contacts"), "Contacts");
    }
}
