//! The hub CRM: the hub side of every sync — contacts, companies, deals and invoices
//! with typed properties, associations, deal pipelines, the change feed, timeline
//! events and the data generator (the HubSpot-shaped REST API over it is `server::rest`).
//!
//! # What the sync engine can rely on
//!
//! **Records** (`records`) are portal-scoped; every function takes the portal id and a
//! record of another portal is simply not found. Ids are stable `i64`s (a bigint
//! identity; the REST API shows them as strings, like HubSpot). Property values live in
//! a jsonb column as normalised text, so custom properties need no DDL; list sorting
//! and search use expression indexes (migrations/20261128000100_hub.sql).
//!
//! **Per-property provenance**: every record keeps, for each property ever set or
//! cleared, when it last changed and by whom ([`records::Record::meta`],
//! [`crate::model::crm::PropertyChange`]).
//!
//! **One write path**: every write takes a [`WriteOrigin`] — `User(id)`,
//! `ApiToken(id)`, `Sync(id)`, `Import`, `System`:
//! [`records::create`], [`records::update`] (partial patch, returns what changed; a
//! no-op writes nothing), [`records::set_archived`] (soft delete and restore),
//! the `_many` batch forms, [`associations::set_associated`].
//! Reads: [`records::get`] (archived included), [`records::get_many`],
//! [`records::find_contacts_by_email`] (trimmed, case-insensitive),
//! [`records::find_companies`] (name or domain), [`records::scan`] (id order, in pages),
//! [`records::list`] (the pages' and REST API's keyset-paged list and search).
//!
//! **Change feed** (`changes`): each write appends rows to `hub_changes` in the same
//! transaction, ordered by `seq` within a portal, carrying the origin (so a sync
//! recognises its own echoes), and NOTIFYs `hub_changes` with `<portal_id>:<seq>`.
//! Consumers resume with [`changes::read_after`] and wake with
//! [`changes::ChangeListener`].
//!
//! **Validation** (`schema`): one error per field, as `Refused::validation` with the
//! property names as fields (server functions) or the HubSpot error shape (REST).
//!
//! **Timeline** (`timeline`): [`timeline::insert`] attaches events (idempotent with an
//! external id); shown on the record page.

pub mod associations;
pub mod changes;
pub mod error;
pub mod generator;
pub mod pipelines;
pub mod records;
pub mod schema;
pub mod timeline;

pub use crate::model::crm::{ObjectType, WriteOrigin};
pub use error::HubError;
