//! The settings of one sync, as far as the decision needs them.
//!
//! These are the admin's choices from the set-up wizard (Configure and Limit steps) plus
//! what the connector tells about the app's fields. They are plain serde data so the
//! engine can keep them as JSON next to the sync row and hand them to `decide` as is.

use serde::{Deserialize, Serialize};

use super::filters::Condition;
use super::identity::{KeyFields, MatchKey};
use super::mapping::FieldMapping;
use super::stages::StageMap;

/// One of the two ends of a sync: the hub CRM or the connected app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Hub,
    App,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Hub => Side::App,
            Side::App => Side::Hub,
        }
    }

    /// How the side is named in messages shown to the admin.
    pub fn label(self) -> &'static str {
        match self {
            Side::Hub => "hub",
            Side::App => "app",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Which way data may flow, for a whole sync or for one field mapping: the wizard's
/// [`SyncDirection`](crate::model::SyncDirection), one enum for both.
pub use crate::model::SyncDirection as Direction;

impl Direction {
    /// Whether this direction lets the engine write to `side`.
    pub fn writes_to(self, side: Side) -> bool {
        match self {
            Direction::TwoWay => true,
            Direction::ToHub => side == Side::Hub,
            Direction::ToApp => side == Side::App,
        }
    }

    /// Whether data read from `side` may flow to the other side.
    pub fn reads_from(self, side: Side) -> bool {
        self.writes_to(side.other())
    }
}

/// Where one mapping's values may flow: the sync's direction narrowed by the mapping's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flows {
    pub to_hub: bool,
    pub to_app: bool,
}

impl Flows {
    /// The flows both directions allow; a mapping narrower than its sync is honoured, and
    /// a mapping can never widen its sync.
    pub fn of(sync: Direction, mapping: Direction) -> Flows {
        Flows {
            to_hub: sync.writes_to(Side::Hub) && mapping.writes_to(Side::Hub),
            to_app: sync.writes_to(Side::App) && mapping.writes_to(Side::App),
        }
    }

    pub fn writes_to(self, side: Side) -> bool {
        match side {
            Side::Hub => self.to_hub,
            Side::App => self.to_app,
        }
    }

    pub fn is_two_way(self) -> bool {
        self.to_hub && self.to_app
    }

    pub fn is_none(self) -> bool {
        !self.to_hub && !self.to_app
    }
}

/// The default app of a two-way sync: its value wins when both sides changed a field
/// (the wizard's [`DefaultApp`](crate::model::DefaultApp)).
pub use crate::model::DefaultApp as ConflictWinner;

impl ConflictWinner {
    pub fn side(self) -> Side {
        match self {
            ConflictWinner::Hub => Side::Hub,
            ConflictWinner::App => Side::App,
        }
    }
}

/// The hub object a sync is about; it chooses the default match key and object rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Contact,
    Company,
    Deal,
    Invoice,
}

/// Everything `decide` needs to know about a sync.
///
/// Field names of records are the hub's property names on the hub side and the app's
/// field names on the app side; nothing here refers to database ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncSettings {
    pub object: ObjectKind,
    pub direction: Direction,
    /// Used by two-way flows only; never overrides `direction`.
    pub conflict_winner: ConflictWinner,
    pub mappings: Vec<FieldMapping>,
    /// Conditions a hub record must meet to enter the sync (all of them).
    #[serde(default)]
    pub hub_filters: Vec<Condition>,
    /// Conditions an app record must meet to enter the sync (all of them).
    #[serde(default)]
    pub app_filters: Vec<Condition>,
    /// Contacts only: *Sync only contacts with an email address* (on by default).
    #[serde(default = "default_true")]
    pub sync_only_with_email: bool,
    /// Deals only: which hub stages pair with which app stages. `None` maps nothing, so
    /// every deal is excluded until a pipeline is mapped.
    #[serde(default)]
    pub stage_map: Option<StageMap>,
    #[serde(default)]
    pub match_key: MatchKey,
    /// Where the hub keeps the default identifiers (email, company name, domain).
    #[serde(default = "KeyFields::hub")]
    pub hub_keys: KeyFields,
    /// Where the app keeps them (told by the connector).
    #[serde(default = "KeyFields::hub")]
    pub app_keys: KeyFields,
}

fn default_true() -> bool {
    true
}

impl SyncSettings {
    /// Settings with the product defaults: default match key, email-only contacts, no
    /// filters, no mappings, no stage map, and the hub's conventional key field names on
    /// both sides.
    pub fn new(object: ObjectKind, direction: Direction, conflict_winner: ConflictWinner) -> Self {
        SyncSettings {
            object,
            direction,
            conflict_winner,
            mappings: Vec::new(),
            hub_filters: Vec::new(),
            app_filters: Vec::new(),
            sync_only_with_email: true,
            stage_map: None,
            match_key: MatchKey::Default,
            hub_keys: KeyFields::hub(),
            app_keys: KeyFields::hub(),
        }
    }

    /// The filters that apply to records of `side`.
    pub fn filters(&self, side: Side) -> &[Condition] {
        match side {
            Side::Hub => &self.hub_filters,
            Side::App => &self.app_filters,
        }
    }

    /// The key fields of `side`.
    pub fn keys(&self, side: Side) -> &KeyFields {
        match side {
            Side::Hub => &self.hub_keys,
            Side::App => &self.app_keys,
        }
    }
}
