//! The change feed: an ordered log of every hub write, for the sync engine.
//!
//! Every create, update, archive and restore of a record, and every association change
//! (one row for each end), appends a row to `hub_changes` **in the same transaction**
//! as the write, and sends `pg_notify('hub_changes', '<portal_id>:<seq>:<origin>')` (delivered at
//! commit). A row carries the portal, object, record id, kind, the names of the
//! properties that changed and the [`WriteOrigin`] — `sync:<id>` when a sync wrote it,
//! so the engine can skip its own echoes. A write that changes nothing (same values
//! written back) appends nothing.
//!
//! Ordering: `seq` is one identity for the whole database. Before appending, a writer
//! takes a transaction-scoped advisory lock for its portal ([`lock_feed`]) and keeps it
//! until commit, so within one portal rows become visible strictly in `seq` order: once
//! a reader has seen `seq = N` of a portal, no row of that portal with a smaller seq can
//! appear later. A consumer therefore keeps one number per portal, its position, and
//! resumes with [`read_after`]. (Rolled-back writes leave gaps in `seq`; that is fine.)
//!
//! Waking up: [`ChangeListener`] LISTENs on the channel; a notice arrives within
//! milliseconds of the commit. Notices are hints, not the data: they are lost while the
//! listening connection is down, so a consumer loops "read_after until empty, then wait
//! for a notice or a timeout (say 5 s)", which both reacts in milliseconds and recovers
//! from a missed notice.

use crate::model::crm::{ObjectType, WriteOrigin};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// The NOTIFY channel; payload `<portal_id>:<seq>:<origin>` (bulk loaders: `<portal_id>:<seq>`).
pub const CHANNEL: &str = "hub_changes";
/// First key of the per-portal advisory lock that orders the feed.
const FEED_LOCK: i32 = 1_751_474_001;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Archived,
    Restored,
    Associated,
    Dissociated,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Archived => "archived",
            ChangeKind::Restored => "restored",
            ChangeKind::Associated => "associated",
            ChangeKind::Dissociated => "dissociated",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Archived,
            ChangeKind::Restored,
            ChangeKind::Associated,
            ChangeKind::Dissociated,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One row of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub portal_id: Uuid,
    pub object: ObjectType,
    pub record_id: i64,
    pub kind: ChangeKind,
    /// Created: the properties set; updated: those that changed; otherwise empty.
    pub properties: Vec<String>,
    pub origin: WriteOrigin,
    /// Association changes: the other end.
    pub associated: Option<(ObjectType, i64)>,
    pub at: DateTime<Utc>,
}

/// What a writer appends.
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    pub portal_id: Uuid,
    pub object: ObjectType,
    pub record_id: i64,
    pub kind: ChangeKind,
    pub properties: &'a [String],
    pub origin: &'a WriteOrigin,
    pub associated: Option<(ObjectType, i64)>,
}

/// Feed rows a batch writer keeps until the end of its transaction and appends just
/// before the commit ([`Deferred::append`]): the portal's feed lock is then held for the
/// commit only, not for the whole batch, so other writers of the portal (people, other
/// syncs, the next batch of the same sync) are not held up by it. One portal and one
/// origin, as [`append_many`] takes them.
#[derive(Debug, Default)]
#[must_use = "deferred feed rows must be appended before the commit"]
pub struct Deferred {
    rows: Vec<DeferredRow>,
}

#[derive(Debug)]
struct DeferredRow {
    portal_id: Uuid,
    object: ObjectType,
    record_id: i64,
    kind: ChangeKind,
    properties: Vec<String>,
    origin: WriteOrigin,
}

impl Deferred {
    pub fn push(&mut self, c: &NewChange<'_>) {
        debug_assert!(
            c.associated.is_none(),
            "association rows are appended at once"
        );
        self.rows.push(DeferredRow {
            portal_id: c.portal_id,
            object: c.object,
            record_id: c.record_id,
            kind: c.kind,
            properties: c.properties.to_vec(),
            origin: *c.origin,
        });
    }

    /// Appends the rows kept, in the order they were pushed.
    pub async fn append(self, conn: &mut PgConnection) -> sqlx::Result<()> {
        let rows: Vec<NewChange<'_>> = self
            .rows
            .iter()
            .map(|r| NewChange {
                portal_id: r.portal_id,
                object: r.object,
                record_id: r.record_id,
                kind: r.kind,
                properties: &r.properties,
                origin: &r.origin,
                associated: None,
            })
            .collect();
        append_many(conn, &rows).await?;
        Ok(())
    }
}

/// Takes the portal's feed lock until the end of the transaction (see the module docs).
/// [`append`] does it; bulk loaders that COPY into `hub_changes` call it first.
pub async fn lock_feed(conn: &mut PgConnection, portal_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind(FEED_LOCK)
        .bind(portal_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends one row and notifies; call inside the write's transaction, as its last step.
pub async fn append(conn: &mut PgConnection, c: NewChange<'_>) -> sqlx::Result<i64> {
    let seqs = append_many(conn, std::slice::from_ref(&c)).await?;
    Ok(seqs.last().copied().unwrap_or_default())
}

/// Appends rows of one portal and one origin in one statement, with one notice for the
/// last (notices are wake-ups: a reader reads everything after its position anyway).
pub async fn append_many(
    conn: &mut PgConnection,
    rows: &[NewChange<'_>],
) -> sqlx::Result<Vec<i64>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    debug_assert!(rows
        .iter()
        .all(|c| c.portal_id == first.portal_id && c.origin == first.origin));
    lock_feed(&mut *conn, first.portal_id).await?;
    // Ragged text arrays cannot travel in a Postgres array: the names go as JSON.
    let names: Vec<sqlx::types::Json<&[String]>> = rows
        .iter()
        .map(|c| sqlx::types::Json(c.properties))
        .collect();
    let seqs: Vec<i64> = sqlx::query_scalar(
        "WITH ins AS (
            INSERT INTO hub_changes (portal_id, object, record_id, kind, properties, origin_kind, origin_id,
                                     associated_object, associated_id)
            SELECT $1, t.object, t.record_id, t.kind, ARRAY(SELECT jsonb_array_elements_text(t.names)),
                   $2, $3, t.associated_object, t.associated_id
            FROM UNNEST($4::text[], $5::bigint[], $6::text[], $7::jsonb[], $8::text[], $9::bigint[])
                 WITH ORDINALITY AS t(object, record_id, kind, names, associated_object, associated_id, n)
            ORDER BY t.n
            RETURNING seq),
         notice AS (SELECT pg_notify($10, $1::text || ':' || max(seq) || ':' || $11) FROM ins)
         SELECT ins.seq FROM ins, notice ORDER BY ins.seq",
    )
    .bind(first.portal_id)
    .bind(first.origin.kind())
    .bind(first.origin.id())
    .bind(rows.iter().map(|c| c.object.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.record_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>())
    .bind(names)
    .bind(rows.iter().map(|c| c.associated.map(|(o, _)| o.as_str())).collect::<Vec<_>>())
    .bind(rows.iter().map(|c| c.associated.map(|(_, id)| id)).collect::<Vec<_>>())
    .bind(CHANNEL)
    .bind(first.origin.to_string())
    .fetch_all(&mut *conn)
    .await?;
    Ok(seqs)
}

/// Sends the notice for a position (bulk loaders, after their COPY).
pub async fn notify(conn: &mut PgConnection, portal_id: Uuid, seq: i64) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{portal_id}:{seq}"))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    portal_id: Uuid,
    object: String,
    record_id: i64,
    kind: String,
    properties: Vec<String>,
    origin_kind: String,
    origin_id: Option<Uuid>,
    associated_object: Option<String>,
    associated_id: Option<i64>,
    at: DateTime<Utc>,
}

impl ChangeRow {
    fn into_change(self) -> Option<Change> {
        Some(Change {
            seq: self.seq,
            portal_id: self.portal_id,
            object: ObjectType::parse(&self.object)?,
            record_id: self.record_id,
            kind: ChangeKind::parse(&self.kind)?,
            properties: self.properties,
            origin: WriteOrigin::from_parts(&self.origin_kind, self.origin_id)?,
            associated: match (
                self.associated_object
                    .as_deref()
                    .and_then(ObjectType::parse),
                self.associated_id,
            ) {
                (Some(o), Some(id)) => Some((o, id)),
                _ => None,
            },
            at: self.at,
        })
    }
}

const CHANGE_COLUMNS: &str = "seq, portal_id, object, record_id, kind, properties, origin_kind,
    origin_id, associated_object, associated_id, at";

/// The portal's changes with `seq > after_seq`, oldest first, at most `limit`.
pub async fn read_after(
    pool: &PgPool,
    portal_id: Uuid,
    after_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<Change>> {
    let rows: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM hub_changes WHERE portal_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    ))
    .bind(portal_id)
    .bind(after_seq)
    .bind(limit.clamp(1, 10_000))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(ChangeRow::into_change)
        .collect())
}

/// A page of the feed read past one consumer's own changes.
#[derive(Debug)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// The position read up to: the next page starts after it.
    pub reached: i64,
    /// The page was full: more changes may follow `reached`.
    pub more: bool,
}

/// The portal's changes after `after_seq` not written by `skip` (a consumer's own writes),
/// oldest first, at most `limit`. Skipping happens in the query, so a long run of one's
/// own changes (a sync's initial writes) is passed over in one read. Page and position
/// come from one snapshot: writers take the feed lock until they commit, so no change
/// below the position can appear later.
pub async fn read_after_skipping(
    pool: &PgPool,
    portal_id: Uuid,
    after_seq: i64,
    limit: i64,
    skip: &WriteOrigin,
) -> sqlx::Result<FeedPage> {
    let limit = limit.clamp(1, 10_000);
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let page: Vec<ChangeRow> = sqlx::query_as(&format!(
        "SELECT {CHANGE_COLUMNS} FROM hub_changes
         WHERE portal_id = $1 AND seq > $2
           AND NOT (origin_kind = $4 AND origin_id IS NOT DISTINCT FROM $5)
         ORDER BY seq LIMIT $3"
    ))
    .bind(portal_id)
    .bind(after_seq)
    .bind(limit)
    .bind(skip.kind())
    .bind(skip.id())
    .fetch_all(&mut *tx)
    .await?;
    let top = last_seq(&mut *tx, portal_id).await?;
    tx.commit().await?;
    let more = page.len() as i64 >= limit;
    // A full page may stop short of the top: go on from its last change.
    let reached = match page.last() {
        Some(last) if more => last.seq,
        _ => top.max(after_seq),
    };
    Ok(FeedPage {
        changes: page
            .into_iter()
            .filter_map(ChangeRow::into_change)
            .collect(),
        reached,
        more,
    })
}

/// The portal's latest position (0 when it has no changes): where a consumer that
/// wants only future changes starts.
pub async fn last_seq<'e>(db: impl sqlx::PgExecutor<'e>, portal_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM hub_changes WHERE portal_id = $1")
        .bind(portal_id)
        .fetch_one(db)
        .await
}

/// A notice that a portal's feed reached `seq`, by a write of `origin` (unknown for bulk
/// loaders' notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeNotice {
    pub portal_id: Uuid,
    pub seq: i64,
    pub origin: Option<WriteOrigin>,
}

impl ChangeNotice {
    /// `<portal_id>:<seq>` or `<portal_id>:<seq>:<origin>`.
    pub fn parse(payload: &str) -> Option<ChangeNotice> {
        let mut parts = payload.splitn(3, ':');
        Some(ChangeNotice {
            portal_id: Uuid::parse_str(parts.next()?).ok()?,
            seq: parts.next()?.parse().ok()?,
            origin: parts.next().and_then(|o| o.parse().ok()),
        })
    }
}

/// LISTENs for change notices on its own connection (reconnects by itself when the
/// connection drops; notices sent meanwhile are lost — see the module docs).
pub struct ChangeListener {
    inner: PgListener,
}

impl ChangeListener {
    pub async fn connect(pool: &PgPool) -> sqlx::Result<ChangeListener> {
        let mut inner = PgListener::connect_with(pool).await?;
        inner.listen(CHANNEL).await?;
        Ok(ChangeListener { inner })
    }

    /// The next notice of any portal.
    pub async fn recv(&mut self) -> sqlx::Result<ChangeNotice> {
        loop {
            let n = self.inner.recv().await?;
            if let Some(notice) = ChangeNotice::parse(n.payload()) {
                return Ok(notice);
            }
        }
    }

    /// Waits for a notice of one portal; `None` when `timeout` passes first.
    pub async fn wait_for_portal(
        &mut self,
        portal_id: Uuid,
        timeout: Duration,
    ) -> sqlx::Result<Option<ChangeNotice>> {
        let wait = async {
            loop {
                let n = self.recv().await?;
                if n.portal_id == portal_id {
                    return Ok::<_, sqlx::Error>(n);
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }
}
