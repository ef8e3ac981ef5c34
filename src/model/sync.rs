//! Syncs as the wizard, the status views and scripts see them. The server turns a
//! [`SyncInput`] into the engine's settings after checking it against both schemas.

use super::ConnectionView;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which way data may flow, for a whole sync or one field mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncDirection {
    /// New and updated records flow both ways; pairs are merged.
    #[default]
    TwoWay,
    /// Only the hub is written to.
    ToHub,
    /// Only the app is written to.
    ToApp,
}

impl SyncDirection {
    pub fn label(self) -> &'static str {
        match self {
            SyncDirection::TwoWay => "Two-way",
            SyncDirection::ToHub => "To hub only",
            SyncDirection::ToApp => "To app only",
        }
    }
    pub fn arrows(self) -> &'static str {
        match self {
            SyncDirection::TwoWay => "⇄",
            SyncDirection::ToHub => "←",
            SyncDirection::ToApp => "→",
        }
    }
}

/// Whose value wins when both sides changed a field (two-way syncs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultApp {
    #[default]
    Hub,
    App,
}

/// When a mapping may write to the side it flows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WritePolicy {
    /// Every change flows.
    #[default]
    Always,
    /// Never overwrite a value the other side already has; fill it only when empty.
    OnlyIfEmpty,
    /// Only when the sync creates the record on the other side.
    OnCreateOnly,
}

impl WritePolicy {
    pub fn label(self) -> &'static str {
        match self {
            WritePolicy::Always => "Always",
            WritePolicy::OnlyIfEmpty => "Only if empty",
            WritePolicy::OnCreateOnly => "On create only",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionPairInput {
    pub hub: String,
    pub app: String,
}

/// One field mapping: app field ↔ hub property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingInput {
    pub hub_property: String,
    pub app_field: String,
    #[serde(default)]
    pub direction: SyncDirection,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub write_policy: WritePolicy,
    /// Enumeration options paired by value; empty pairs options with equal values.
    #[serde(default)]
    pub options: Vec<OptionPairInput>,
    /// Added by the admin (not one of the connector's defaults).
    #[serde(default)]
    pub custom: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SideInput {
    Hub,
    App,
}

/// What a filter condition tests, with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op", content = "value")]
pub enum FilterOp {
    Equals(String),
    NotEquals(String),
    Contains(String),
    IsKnown,
    IsUnknown,
    GreaterThan(String),
    LessThan(String),
    InList(Vec<String>),
}

impl FilterOp {
    pub fn label(&self) -> String {
        match self {
            FilterOp::Equals(v) => format!("is {v}"),
            FilterOp::NotEquals(v) => format!("is not {v}"),
            FilterOp::Contains(v) => format!("contains {v}"),
            FilterOp::IsKnown => "is known".into(),
            FilterOp::IsUnknown => "is unknown".into(),
            FilterOp::GreaterThan(v) => format!("is greater than {v}"),
            FilterOp::LessThan(v) => format!("is less than {v}"),
            FilterOp::InList(v) => format!("is any of {}", v.join(", ")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterInput {
    pub side: SideInput,
    pub field: String,
    #[serde(flatten)]
    pub op: FilterOp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePairInput {
    pub hub_pipeline: String,
    pub hub_stage: String,
    pub app_pipeline: String,
    pub app_stage: String,
}

/// How a sync matches records at the initial sync.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MatchKeyInput {
    /// Per object: contacts by email; companies by name **or** domain; deals and invoices
    /// never by key (only through an existing pair).
    #[default]
    Default,
    /// A field pair chosen by the admin, compared as normalised text.
    Custom {
        hub_property: String,
        app_field: String,
    },
    /// No matching: records pair only by being created by the sync.
    None,
}

/// Everything the set-up wizard saves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInput {
    pub connection_id: Uuid,
    pub app_object: String,
    pub hub_object: String,
    #[serde(default)]
    pub direction: SyncDirection,
    #[serde(default)]
    pub conflict_winner: DefaultApp,
    /// All mappings (defaults and custom); empty means "the connector's defaults".
    #[serde(default)]
    pub mappings: Vec<MappingInput>,
    #[serde(default)]
    pub filters: Vec<FilterInput>,
    #[serde(default = "yes")]
    pub sync_only_with_email: bool,
    #[serde(default)]
    pub stage_pairs: Vec<StagePairInput>,
    #[serde(default)]
    pub match_key: MatchKeyInput,
    #[serde(default)]
    pub propagate_deletes: bool,
    #[serde(default)]
    pub event_sync: bool,
    #[serde(default = "yes")]
    pub sync_associations: bool,
}

impl SyncInput {
    /// A two-way sync of one object pair with every setting at its default: the
    /// connector's mappings, no filters, only contacts with an email, the hub wins.
    pub fn new(
        connection_id: Uuid,
        app_object: impl Into<String>,
        hub_object: impl Into<String>,
    ) -> Self {
        SyncInput {
            connection_id,
            app_object: app_object.into(),
            hub_object: hub_object.into(),
            direction: SyncDirection::TwoWay,
            conflict_winner: DefaultApp::Hub,
            mappings: vec![],
            filters: vec![],
            sync_only_with_email: true,
            stage_pairs: vec![],
            match_key: MatchKeyInput::Default,
            propagate_deletes: false,
            event_sync: false,
            sync_associations: true,
        }
    }
}

/// Where a sync is in its life; stored as its snake_case name in `syncs.phase`, except
/// `off`, which is a disabled sync whatever its stored phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// The initial sync reads the hub into the index.
    Scanning,
    /// The initial sync pairs and writes records.
    Syncing,
    /// The initial sync is done: changes are picked up as they come.
    Listening,
    Off,
}

impl SyncPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPhase::Scanning => "scanning",
            SyncPhase::Syncing => "syncing",
            SyncPhase::Listening => "listening",
            SyncPhase::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<SyncPhase> {
        [
            SyncPhase::Scanning,
            SyncPhase::Syncing,
            SyncPhase::Listening,
            SyncPhase::Off,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            SyncPhase::Scanning => "Scanning",
            SyncPhase::Syncing => "Syncing",
            SyncPhase::Listening => "Listening for changes",
            SyncPhase::Off => "Off",
        }
    }
}

/// Where a record of a sync stands; stored as its snake_case name in `sync_index.state`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Paired and kept in sync.
    #[default]
    Syncing,
    /// Could not sync; the reason says why and how to fix it.
    Failed,
    /// Outside the filters, a duplicate, or without identifier.
    Excluded,
    /// Deleted on one side.
    Deleted,
    /// A change notice arrived and waits for its turn.
    Queued,
    /// Internal, during an initial sync: read into the index, not yet decided.
    Indexed,
    /// Internal: an app create was sent with this row's idempotency key, its answer not
    /// yet recorded (a crash is reconciled from it).
    Pending,
}

impl RecordState {
    /// The states people see (lists, counts, filters), in their order.
    pub const ALL: [RecordState; 5] = [
        RecordState::Syncing,
        RecordState::Failed,
        RecordState::Excluded,
        RecordState::Deleted,
        RecordState::Queued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Syncing => "syncing",
            RecordState::Failed => "failed",
            RecordState::Excluded => "excluded",
            RecordState::Deleted => "deleted",
            RecordState::Queued => "queued",
            RecordState::Indexed => "indexed",
            RecordState::Pending => "pending",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RecordState::Syncing => "Syncing",
            RecordState::Failed => "Failed",
            RecordState::Excluded => "Excluded",
            RecordState::Deleted => "Deleted",
            RecordState::Queued | RecordState::Indexed | RecordState::Pending => "Queued",
        }
    }

    pub fn parse(s: &str) -> Option<RecordState> {
        RecordState::ALL
            .into_iter()
            .chain([RecordState::Indexed, RecordState::Pending])
            .find(|st| st.as_str() == s)
    }

    /// The state as people see it: the internal steps of an initial sync wait for their
    /// turn like a queued record.
    pub fn visible(self) -> RecordState {
        match self {
            RecordState::Indexed | RecordState::Pending => RecordState::Queued,
            other => other,
        }
    }
}

impl std::fmt::Display for RecordState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "ssr")]
super::text_column!(RecordState);

/// Why a record failed, was excluded or was deleted: stored as its snake_case name in
/// `sync_index.reason_code`, and the key of its troubleshooting guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    TypeConversion,
    RequiredFieldMissing,
    AppValidation,
    AppNotFound,
    HubValidation,
    HubConflict,
    AppError,
    FilterNotMet,
    Duplicate,
    NoIdentifier,
    NoValidEmail,
    UnmappedStage,
    Deleted,
    /// A stop nobody foresaw; its message has the details.
    Unknown,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 14] = [
        ReasonCode::TypeConversion,
        ReasonCode::RequiredFieldMissing,
        ReasonCode::AppValidation,
        ReasonCode::AppNotFound,
        ReasonCode::HubValidation,
        ReasonCode::HubConflict,
        ReasonCode::AppError,
        ReasonCode::FilterNotMet,
        ReasonCode::Duplicate,
        ReasonCode::NoIdentifier,
        ReasonCode::NoValidEmail,
        ReasonCode::UnmappedStage,
        ReasonCode::Deleted,
        ReasonCode::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::TypeConversion => "type_conversion",
            ReasonCode::RequiredFieldMissing => "required_field_missing",
            ReasonCode::AppValidation => "app_validation",
            ReasonCode::AppNotFound => "app_not_found",
            ReasonCode::HubValidation => "hub_validation",
            ReasonCode::HubConflict => "hub_conflict",
            ReasonCode::AppError => "app_error",
            ReasonCode::FilterNotMet => "filter_not_met",
            ReasonCode::Duplicate => "duplicate",
            ReasonCode::NoIdentifier => "no_identifier",
            ReasonCode::NoValidEmail => "no_valid_email",
            ReasonCode::UnmappedStage => "unmapped_stage",
            ReasonCode::Deleted => "deleted",
            ReasonCode::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "ssr")]
super::text_column!(ReasonCode);

/// The steps of an initial sync, in order; stored as its snake_case name in `syncs.step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialStep {
    /// Reading the hub's records into the index.
    #[default]
    HubIndex,
    /// Reading the app's records and pairing them.
    AppPass,
    /// Sending the hub's unpaired records to the app.
    HubPass,
    Done,
}

impl InitialStep {
    pub fn as_str(self) -> &'static str {
        match self {
            InitialStep::HubIndex => "hub_index",
            InitialStep::AppPass => "app_pass",
            InitialStep::HubPass => "hub_pass",
            InitialStep::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<InitialStep> {
        [
            InitialStep::HubIndex,
            InitialStep::AppPass,
            InitialStep::HubPass,
            InitialStep::Done,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

#[cfg(feature = "ssr")]
super::text_column!(SyncPhase);
#[cfg(feature = "ssr")]
super::text_column!(InitialStep);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncCounts {
    pub syncing: i64,
    pub failed: i64,
    pub excluded: i64,
    pub deleted: i64,
    pub queued: i64,
}

impl SyncCounts {
    /// From (state, count) rows; counters of internal states are left out.
    pub fn from_rows(rows: &[(RecordState, i64)]) -> Self {
        let mut c = SyncCounts::default();
        for &(state, n) in rows {
            let n = n.max(0);
            match state {
                RecordState::Syncing => c.syncing = n,
                RecordState::Failed => c.failed = n,
                RecordState::Excluded => c.excluded = n,
                RecordState::Deleted => c.deleted = n,
                RecordState::Queued => c.queued = n,
                RecordState::Indexed | RecordState::Pending => {}
            }
        }
        c
    }

    pub fn of(&self, state: RecordState) -> i64 {
        match state {
            RecordState::Syncing => self.syncing,
            RecordState::Failed => self.failed,
            RecordState::Excluded => self.excluded,
            RecordState::Deleted => self.deleted,
            RecordState::Queued => self.queued,
            RecordState::Indexed | RecordState::Pending => 0,
        }
    }
}

/// Initial sync progress: records done of an estimated total, for the current step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncProgress {
    pub step: InitialStep,
    pub step_label: String,
    pub done: i64,
    pub total: i64,
    /// 0–100 over the whole initial sync.
    pub percent: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncView {
    pub id: Uuid,
    pub connection: ConnectionView,
    pub hub_object: String,
    pub app_object: String,
    pub enabled: bool,
    pub phase: SyncPhase,
    pub progress: SyncProgress,
    pub counts: SyncCounts,
    pub input: SyncInput,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub initial_completed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The type of a hub property or app field, as the engine converts and compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    #[default]
    Text,
    Number,
    Bool,
    Date,
    // Saved sync settings before this type was shared spell it `date_time`.
    #[serde(rename = "datetime", alias = "date_time")]
    DateTime,
    /// One option out of a fixed list, compared by option value.
    Enumeration,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Enumeration => "enumeration",
        }
    }

    /// How the type is named in messages shown to the admin.
    pub fn label(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "a number",
            FieldType::Bool => "a yes/no value",
            FieldType::Date => "a date",
            FieldType::DateTime => "a date and time",
            FieldType::Enumeration => "a list of options",
        }
    }
}

/// As in messages: "a number".
impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A field or property offered in the mapping editor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldOption {
    pub name: String,
    pub label: String,
    pub kind: FieldType,
    pub required: bool,
    pub read_only: bool,
    /// Enumeration options as (value, label).
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineOption {
    pub id: String,
    pub label: String,
    /// (stage id, label), in order.
    pub stages: Vec<(String, String)>,
}

/// An object pair the wizard's *Select* step offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectPairOption {
    pub app_object: String,
    pub app_label: String,
    pub hub_object: String,
    /// The existing sync of this app object, if there is one (edit it instead).
    pub existing_sync: Option<Uuid>,
}

/// What the wizard needs for one object pair: both sides' fields, the connector's
/// default mappings, and pipelines with an auto-mapped suggestion for deals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncFieldChoices {
    pub app_fields: Vec<FieldOption>,
    pub hub_properties: Vec<FieldOption>,
    pub default_mappings: Vec<MappingInput>,
    pub hub_pipelines: Vec<PipelineOption>,
    pub app_pipelines: Vec<PipelineOption>,
    pub suggested_stage_pairs: Vec<StagePairInput>,
    pub supports_events: bool,
}

/// One row of a sync's record list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecordRow {
    pub index_id: i64,
    pub hub_id: Option<i64>,
    pub app_id: Option<String>,
    pub label: String,
    pub state: RecordState,
    pub reason_code: Option<ReasonCode>,
    pub message: Option<String>,
    pub field: Option<String>,
    pub deleted_side: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Failures (or exclusions) of one cause, so a thousand rows of one problem are one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonGroup {
    pub code: ReasonCode,
    pub title: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecordPage {
    pub rows: Vec<SyncRecordRow>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<i64>,
    pub groups: Vec<ReasonGroup>,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityView {
    pub at: chrono::DateTime<chrono::Utc>,
    pub kind: String,
    pub message: String,
}

/// The *Troubleshoot* panel: what the reason means, how to fix it, where to go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TroubleshootView {
    pub code: ReasonCode,
    pub title: String,
    pub what: String,
    pub fix: String,
    /// Links (label, href) to the record or the setting concerned.
    pub links: Vec<(String, String)>,
}

/// One mapped field on both sides, for the record's detail panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldValues {
    pub hub_property: String,
    pub app_field: String,
    pub hub_value: Option<String>,
    pub app_value: Option<String>,
    /// This mapping is the one the failure names.
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRecordDetails {
    pub row: SyncRecordRow,
    pub fields: Vec<FieldValues>,
    pub activity: Vec<ActivityView>,
    pub hint: Option<String>,
    pub troubleshoot: Option<TroubleshootView>,
}

/// Records synced and failed in one hour, for the status chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourPoint {
    pub hour: chrono::DateTime<chrono::Utc>,
    pub synced: i64,
    pub failed: i64,
}

/// A deleted record that *Restore all deleted records* would bring back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreCandidate {
    pub sync_id: Uuid,
    pub index_id: i64,
    pub label: String,
    pub deleted_side: String,
    pub deleted_at: chrono::DateTime<chrono::Utc>,
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            ExportFormat::Xlsx => "Excel (XLSX)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Waiting for a worker.
    Queued,
    Running,
    /// The file can be downloaded from `download_url` until `expires_at`.
    Ready,
    Failed,
    /// The file was removed after its link expired.
    Expired,
}

/// An export of a sync's record list, made in the background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportView {
    pub id: Uuid,
    pub sync_id: Option<Uuid>,
    /// "Failed contacts · Demo CRM (acme)".
    pub title: String,
    pub format: ExportFormat,
    pub status: ExportStatus,
    /// Rows written (when ready).
    pub rows: i64,
    pub file_name: String,
    /// `/exports/{id}`, only while the file can be downloaded.
    pub download_url: Option<String>,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}
