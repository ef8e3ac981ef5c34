//! What `decide` answers: a [`Decision`] for one record or pair.
//!
//! Every variant maps to something the engine records: a plan of writes and the
//! snapshot to store after them (state *syncing*), an [`Exclusion`] or a [`Failure`]
//! with a code, a sentence and what to do next (states *excluded*, *failed*), a deleted
//! side (state *deleted*), or a [`Skip`] for records that are simply not part of the sync.

use serde::{Deserialize, Serialize};

use super::mapping::{FieldRef, WritePolicy};
use super::settings::Side;
use super::snapshot::Snapshot;
use super::values::Record;
use crate::model::ReasonCode;

/// The decision for one record or pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// The record (pair) syncs: make these writes (maybe none), then store the snapshot.
    Sync(Plan),
    /// The record stays out of the sync for this reason.
    Excluded(Exclusion),
    /// The record cannot sync until someone fixes it; nothing was decided to be written.
    Failed(Failure),
    /// The pair's record on `side` is gone. Deletions are not propagated: nothing is
    /// written until the admin resyncs or restores it.
    Deleted { side: Side },
    /// Not part of this sync; nothing to write or record.
    Skipped(Skip),
}

impl Decision {
    /// The plan when the record syncs.
    pub fn plan(&self) -> Option<&Plan> {
        match self {
            Decision::Sync(plan) => Some(plan),
            _ => None,
        }
    }

    /// The write to `side`, if any.
    pub fn write_to(&self, side: Side) -> Option<&Write> {
        self.plan().and_then(|p| p.write_to(side))
    }

    /// Whether there is nothing at all to do: no write and no new snapshot to store.
    pub fn is_nothing(&self) -> bool {
        self.plan()
            .is_some_and(|p| p.hub.is_none() && p.app.is_none() && !p.snapshot_changed)
    }
}

/// The writes of a syncing record and what to remember afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub hub: Option<Write>,
    pub app: Option<Write>,
    /// To store in the index once every write above succeeded (never before: a failed
    /// write must be retried against the old snapshot).
    pub snapshot: Snapshot,
    /// False when `snapshot` equals the one given: the index row need not be touched.
    pub snapshot_changed: bool,
    /// Per field, what happened and why, for the record's activity log. Fields nobody
    /// changed are not listed.
    pub notes: Vec<Note>,
}

impl Plan {
    pub fn write_to(&self, side: Side) -> Option<&Write> {
        match side {
            Side::Hub => self.hub.as_ref(),
            Side::App => self.app.as_ref(),
        }
    }
}

/// A create or an update of one record, with the field values to send. A JSON `null`
/// clears the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Write {
    pub kind: WriteKind,
    pub values: Record,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Create,
    Update,
}

/// What happened to one field of a pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub hub_property: String,
    pub app_field: String,
    pub outcome: FieldOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum FieldOutcome {
    /// The value was written to `to`; `conflict` when both sides had changed it and the
    /// default app won.
    Wrote { to: Side, conflict: bool },
    /// A side changed it, but both sides already hold the same value.
    AlreadyEqual,
    /// Both sides changed it and the default app has no value: nothing is changed.
    ConflictWinnerEmpty { winner: Side },
    /// The change would flow to `to`, which the sync's or the mapping's direction
    /// excludes.
    DirectionExcludes { to: Side },
    /// The write policy keeps the value `side` already has.
    PolicyKeeps { policy: WritePolicy, side: Side },
}

/// Why a record is excluded (state *excluded*, reason shown to the admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Exclusion {
    #[error("The {side} record does not meet the filter \u{201c}{condition}\u{201d}.")]
    FilterNotMet { side: Side, condition: String },
    #[error("Duplicate: app record {first} has the same {identifier} and was seen first.")]
    Duplicate { first: String, identifier: String },
    #[error("The {side} record has no value for the match key, so it cannot be matched.")]
    NoIdentifier { side: Side },
    #[error("The contact has no valid email address.")]
    NoValidEmail { side: Side },
    #[error(
        "The deal is in {side} stage '{}' of pipeline '{}', which is not mapped.",
        .stage.as_deref().unwrap_or("(none)"),
        .pipeline.as_deref().unwrap_or("")
    )]
    UnmappedStage {
        side: Side,
        pipeline: Option<String>,
        stage: Option<String>,
    },
}

impl Exclusion {
    /// A stable code for the index, the API and the troubleshooting guide.
    pub fn code(&self) -> ReasonCode {
        match self {
            Exclusion::FilterNotMet { .. } => ReasonCode::FilterNotMet,
            Exclusion::Duplicate { .. } => ReasonCode::Duplicate,
            Exclusion::NoIdentifier { .. } => ReasonCode::NoIdentifier,
            Exclusion::NoValidEmail { .. } => ReasonCode::NoValidEmail,
            Exclusion::UnmappedStage { .. } => ReasonCode::UnmappedStage,
        }
    }

    /// What the admin can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Exclusion::FilterNotMet { .. } => {
                "Filters decide which records enter the sync. Change the record, or the \
                 filters in the sync settings (Limit step), if it should sync."
            }
            Exclusion::Duplicate { .. } => {
                "Merge or correct the duplicate in the app; the first record keeps syncing."
            }
            Exclusion::NoIdentifier { .. } => {
                "Fill in the match key field on the record, or change the match key in the \
                 sync settings."
            }
            Exclusion::NoValidEmail { .. } => {
                "Add a valid email address to the contact, or untick \u{201c}Sync only \
                 contacts with an email address\u{201d} in the sync settings (Limit step)."
            }
            Exclusion::UnmappedStage { .. } => {
                "Map the stage in the sync settings (Limit step: Auto-map or Map another \
                 pipeline)."
            }
        }
    }
}

/// Why a record failed (state *failed*). Permanent: retried when either side changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum Failure {
    #[error("The value of {field} cannot be written to {target}: {reason}.")]
    TypeConversion {
        field: FieldRef,
        target: FieldRef,
        reason: String,
    },
    #[error("The app requires field '{app_field}' (mapped from hub property '{hub_property}'), and this record has no value for it.")]
    RequiredFieldMissing {
        app_field: String,
        hub_property: String,
    },
}

impl Failure {
    /// A stable code for the index, the API and the troubleshooting guide.
    pub fn code(&self) -> ReasonCode {
        match self {
            Failure::TypeConversion { .. } => ReasonCode::TypeConversion,
            Failure::RequiredFieldMissing { .. } => ReasonCode::RequiredFieldMissing,
        }
    }

    /// The field concerned, as the index shows it.
    pub fn field(&self) -> String {
        match self {
            Failure::TypeConversion { field, .. } => field.to_string(),
            Failure::RequiredFieldMissing { app_field, .. } => {
                FieldRef::new(Side::App, app_field).to_string()
            }
        }
    }

    /// What the admin can do about it.
    pub fn hint(&self) -> String {
        match self {
            Failure::TypeConversion { field, target, .. } => format!(
                "Correct the value of {field} on the {} record, or change the mapping to \
                 {target} in the sync settings. The record is retried when it changes.",
                field.side
            ),
            Failure::RequiredFieldMissing { hub_property, .. } => format!(
                "Fill in hub property '{hub_property}' on the record, and check that its \
                 mapping is on and syncs to the app. The record is retried when it changes."
            ),
        }
    }
}

/// Why a record is not part of the sync at all (nothing is recorded for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "skip")]
pub enum Skip {
    /// The record exists only on `side`, and the sync never copies records from there.
    DirectionExcludes { side: Side },
    /// Neither record exists.
    NoRecord,
}
