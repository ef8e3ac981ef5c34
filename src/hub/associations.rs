//! Associations between records: contact ↔ company, deal ↔ company, deal ↔ contact and
//! invoice → contact (an invoice's contacts; seen from the contact too).
//!
//! A pair is stored once, in its canonical direction (see [`canonical`]), and read from
//! either end. Adding or removing one appends two change rows, one for each end
//! (`associated` / `dissociated`, with the other end in `associated_object/_id`), so a
//! consumer that follows only one object type still sees it. Adding an existing
//! association or removing a missing one changes nothing and appends nothing.

use super::changes::{self, ChangeKind, NewChange};
use super::HubError;
use crate::model::crm::{AssociationView, ObjectType, WriteOrigin};
use crate::model::Refused;
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The stored direction of a pair of object types, or `None` when they cannot be
/// associated. Returns `(from, to, swapped)`.
pub fn canonical(a: ObjectType, b: ObjectType) -> Option<(ObjectType, ObjectType, bool)> {
    use ObjectType::*;
    let pairs = [
        (Contacts, Companies),
        (Deals, Companies),
        (Deals, Contacts),
        (Invoices, Contacts),
    ];
    if pairs.contains(&(a, b)) {
        Some((a, b, false))
    } else if pairs.contains(&(b, a)) {
        Some((b, a, true))
    } else {
        None
    }
}

/// HubSpot's label for a direction: `contact_to_company`.
pub fn type_label(from: ObjectType, to: ObjectType) -> String {
    format!("{}_to_{}", from.singular(), to.singular())
}

fn not_associable(a: ObjectType, b: ObjectType) -> HubError {
    Refused::bad_request(format!("{a} cannot be associated with {b}."))
        .with_hint("Associations exist between contacts and companies, deals and companies, deals and contacts, and invoices and contacts.").into()
}

/// Both records must exist in the portal (archived ones too); else 404.
async fn check_ends(
    pool: &PgPool,
    portal_id: Uuid,
    a: (ObjectType, i64),
    b: (ObjectType, i64),
) -> Result<(), HubError> {
    let found: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, object FROM hub_records WHERE portal_id = $1 AND id = ANY($2)")
            .bind(portal_id)
            .bind([a.1, b.1])
            .fetch_all(pool)
            .await?;
    for (object, id) in [a, b] {
        if !found
            .iter()
            .any(|(fid, fo)| *fid == id && fo == object.as_str())
        {
            return Err(Refused::missing(format!(
                "There is no {} with id {id}.",
                object.singular()
            ))
            .with_hint("It may have been deleted, or it belongs to another portal.")
            .into());
        }
    }
    Ok(())
}

/// Associates two records (in either order) when `add`, else removes their
/// association. `Ok(false)`: they already were (or were not) associated.
pub async fn set_associated(
    pool: &PgPool,
    portal_id: Uuid,
    a: (ObjectType, i64),
    b: (ObjectType, i64),
    add: bool,
    origin: &WriteOrigin,
) -> Result<bool, HubError> {
    let (_, _, swapped) = canonical(a.0, b.0).ok_or_else(|| not_associable(a.0, b.0))?;
    check_ends(pool, portal_id, a, b).await?;
    let (from, to) = if swapped { (b, a) } else { (a, b) };
    let mut tx = pool.begin().await?;
    let affected = if add {
        sqlx::query(
            "INSERT INTO hub_associations (portal_id, from_object, from_id, to_object, to_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(portal_id)
        .bind(from.0.as_str())
        .bind(from.1)
        .bind(to.0.as_str())
        .bind(to.1)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        sqlx::query(
            "DELETE FROM hub_associations WHERE portal_id = $1 AND from_id = $2 AND to_id = $3",
        )
        .bind(portal_id)
        .bind(from.1)
        .bind(to.1)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    };
    if affected == 0 {
        return Ok(false);
    }
    let kind = if add {
        ChangeKind::Associated
    } else {
        ChangeKind::Dissociated
    };
    for (this, other) in [(from, to), (to, from)] {
        changes::append(
            &mut tx,
            NewChange {
                portal_id,
                object: this.0,
                record_id: this.1,
                kind,
                properties: &[],
                origin,
                associated: Some(other),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// A page of the ids of the records of type `to` associated with a record, in id
/// order, after the id `after` (0: from the start).
pub async fn list_ids(
    pool: &PgPool,
    portal_id: Uuid,
    from: (ObjectType, i64),
    to: ObjectType,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, HubError> {
    let (_, _, swapped) = canonical(from.0, to).ok_or_else(|| not_associable(from.0, to))?;
    // Keyset paging in the query: a record with a million associations sends a page.
    let sql = if swapped {
        "SELECT from_id FROM hub_associations WHERE portal_id = $1 AND to_id = $2 AND from_object = $3
           AND from_id > $4 ORDER BY from_id LIMIT $5"
    } else {
        "SELECT to_id FROM hub_associations WHERE portal_id = $1 AND from_id = $2 AND to_object = $3
           AND to_id > $4 ORDER BY to_id LIMIT $5"
    };
    Ok(sqlx::query_scalar(sql)
        .bind(portal_id)
        .bind(from.1)
        .bind(to.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// Every id [`list_ids`] pages through, for callers that must compare whole sets (the
/// sync of associations: a cut-off list would read as removals).
pub async fn all_ids(
    pool: &PgPool,
    portal_id: Uuid,
    from: (ObjectType, i64),
    to: ObjectType,
) -> Result<Vec<i64>, HubError> {
    const PAGE: i64 = 1000;
    let mut ids = Vec::new();
    loop {
        let after = ids.last().copied().unwrap_or(0);
        let page = list_ids(pool, portal_id, from, to, after, PAGE).await?;
        let last_page = (page.len() as i64) < PAGE;
        ids.extend(page);
        if last_page {
            return Ok(ids);
        }
    }
}

#[derive(sqlx::FromRow)]
struct LinkedRow {
    object: String,
    id: i64,
    properties: sqlx::types::Json<BTreeMap<String, serde_json::Value>>,
    archived: bool,
}

/// Every record associated with one, of every associable type, with display names
/// (the record page's associations panel). At most `limit_per_type` per type.
pub async fn list_all(
    pool: &PgPool,
    portal_id: Uuid,
    from: (ObjectType, i64),
    limit_per_type: i64,
) -> Result<Vec<AssociationView>, HubError> {
    // Limited in the query: a record with a million associations sends back a page.
    let rows: Vec<LinkedRow> = sqlx::query_as(
        "SELECT object, id, properties, archived FROM (
             SELECT r.object, r.id, r.properties, r.archived_at IS NOT NULL AS archived,
                    row_number() OVER (PARTITION BY r.object ORDER BY r.id) AS n
             FROM (SELECT to_id AS id FROM hub_associations WHERE portal_id = $1 AND from_id = $2
                   UNION SELECT from_id FROM hub_associations WHERE portal_id = $1 AND to_id = $2) a
             JOIN hub_records r ON r.id = a.id AND r.portal_id = $1) t
         WHERE n <= $3
         ORDER BY object, id",
    )
    .bind(portal_id)
    .bind(from.1)
    .bind(limit_per_type)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let object = ObjectType::parse(&r.object)?;
            let mut props: BTreeMap<String, String> = r
                .properties
                .0
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect();
            props.insert("hs_object_id".into(), r.id.to_string());
            Some(AssociationView {
                object,
                id: r.id,
                display_name: object.display_name(&props),
                archived: r.archived,
            })
        })
        .collect())
}
