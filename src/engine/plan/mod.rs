//! `engine::plan`: the sync engine's decisions, as pure functions.
//!
//! Everything that decides *what* a sync does lives here, apart from *how* it is done:
//! no database, no HTTP, no clock, no async. The runner reads records and the index,
//! calls into this module, and carries out the answer. Keeping the rules pure is what
//! lets every rule of SPEC §2 have a table-driven test and lets a property test replay
//! thousands of edit sequences in a second — the only practical way to be sure a
//! two-way sync converges and never ping-pongs.
//!
//! The parts, one concept each:
//!
//! * [`settings`]: a sync's settings ([`SyncSettings`], [`Direction`], [`ConflictWinner`]).
//! * [`values`]: property values, read leniently and compared for sync purposes.
//! * [`identity`]: match keys and identifiers (email, company name, domain), candidate
//!   choice and the first-seen-wins [`DuplicateTracker`].
//! * [`mapping`]: [`FieldMapping`]s, the save-time type check, sync-time conversion.
//! * [`filters`]: the conditions records must meet to enter a sync.
//! * [`stages`]: deal stage maps and [`auto_map`].
//! * [`snapshot`]: the last synced values of a pair.
//! * [`decide()`]: the decision itself, answered as a [`Decision`] ([`outcome`]).
//!
//! How the runner uses it:
//!
//! * **Initial sync.** Hub indexing: store [`identifiers`] of every hub record. App pass:
//!   for each app record, compute its identifiers, ask the [`DuplicateTracker`] (a later
//!   record sharing an identifier is [`Exclusion::Duplicate`]), look the identifiers up
//!   in the index and [`choose_match`] among the hub candidates; then
//!   `decide(settings, hub, Some(app), Pairing::New)` (hub `None` when nothing matched).
//!   Hub pass: `decide(settings, Some(hub), None, Pairing::New)` for hub records still
//!   unpaired. Records already paired go through `Pairing::Paired(&snapshot)` instead.
//! * **Incremental sync.** For a changed record, fetch its twin (if paired) and call
//!   `decide(settings, hub, app, Pairing::Paired(&snapshot))`; an unpaired record is
//!   `Pairing::New` as in the initial sync.
//! * **Carrying out a decision.** [`Decision::Sync`]: send [`Plan::hub`] / [`Plan::app`]
//!   (creates first record a pending index row, for crash reconciliation), and only when
//!   they all succeeded store [`Plan::snapshot`] (skip the row update when
//!   `snapshot_changed` is false) and mark the pair *syncing*. [`Decision::Excluded`] /
//!   [`Decision::Failed`]: record the state with `code()`, the message (`Display`),
//!   `hint()`, and keep the old snapshot. [`Decision::Deleted`]: mark that side
//!   *deleted*. [`Decision::Skipped`]: nothing.

pub mod decide;
pub mod filters;
pub mod identity;
pub mod mapping;
pub mod outcome;
pub mod settings;
pub mod snapshot;
pub mod stages;
pub mod values;

#[cfg(test)]
mod tests;

pub use decide::{decide, Pairing};
pub use filters::{first_unmet, Condition, Operator};
pub use identity::{
    app_lookup, choose_match, domain_from, identifiers, normalise_company_name,
    normalise_custom_key, normalise_email, valid_email, Candidate, DuplicateTracker, Identifier,
    KeyFields, MatchKey, MatchOutcome,
};
pub use mapping::{
    check_mapping, check_mappings, compatibility, convert, Compatibility, FieldMapping, FieldRef,
    MappingError, OptionMap, OptionPair, WritePolicy,
};
pub use outcome::{Decision, Exclusion, Failure, FieldOutcome, Note, Plan, Skip, Write, WriteKind};
pub use settings::{ConflictWinner, Direction, Flows, ObjectKind, Side, SyncSettings};
pub use snapshot::Snapshot;
pub use stages::{
    auto_map, similarity, Stage, StageFields, StageMap, StagePair, StageRef, AUTO_MAP_THRESHOLD,
};
pub use values::{FieldType, Record, Value};
