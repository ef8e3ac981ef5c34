//! Associations: when both ends of an association are synced (contact ↔ company,
//! deal ↔ company, deal ↔ contact, invoice → contact), the association made on one side
//! is made on the other, within the sync's direction. Runs after a batch's pairs are
//! committed; a failure here is logged and retried with the record's next change.

use super::definition::SyncRow;
use super::plan::Direction;
use crate::connectors::Connector;
use crate::hub::{associations, ObjectType, WriteOrigin};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// The objects a record of `object` is kept associated with (invoices only with contacts).
pub fn targets(object: &str) -> &'static [&'static str] {
    match object {
        "contacts" => &["companies"],
        "companies" => &["contacts"],
        "deals" => &["companies", "contacts"],
        "invoices" => &["contacts"],
        _ => &[],
    }
}

/// One synced pair and the app record's associations.
pub struct Pair {
    pub hub_id: i64,
    pub app_id: String,
    pub app_associations: std::collections::BTreeMap<String, Vec<String>>,
}

pub async fn sync_pairs(
    pool: &PgPool,
    sync: &SyncRow,
    connector: &Arc<dyn Connector>,
    pairs: &[Pair],
) -> anyhow::Result<usize> {
    if pairs.is_empty() || !sync.options.0.sync_associations {
        return Ok(0);
    }
    let direction = sync.settings.0.direction;
    let Some(from) = ObjectType::parse(&sync.hub_object) else {
        return Ok(0);
    };
    let mut made = 0;
    for to_object in targets(&sync.app_object) {
        let Some(to) = ObjectType::parse(to_object) else {
            continue;
        };
        // The sync of the other end, on the same connected account.
        let other: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM syncs WHERE connection_id = $1 AND app_object = $2")
                .bind(sync.connection_id)
                .bind(to_object)
                .fetch_optional(pool)
                .await?;
        let Some(other) = other else { continue };
        let app_ids: Vec<String> = pairs
            .iter()
            .flat_map(|p| {
                p.app_associations
                    .get(*to_object)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let mut hub_assoc: HashMap<i64, Vec<i64>> = HashMap::new();
        for p in pairs {
            hub_assoc.insert(
                p.hub_id,
                associations::list_ids(pool, sync.portal_id, (from, p.hub_id), to).await?,
            );
        }
        let hub_ids: Vec<i64> = hub_assoc.values().flatten().copied().collect();
        let rows: Vec<(Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT hub_id, app_id FROM sync_index WHERE sync_id = $1 AND hub_id IS NOT NULL AND app_id IS NOT NULL
             AND (app_id = ANY($2) OR hub_id = ANY($3))",
        )
        .bind(other)
        .bind(&app_ids)
        .bind(&hub_ids)
        .fetch_all(pool)
        .await?;
        let app_to_hub: HashMap<String, i64> = rows
            .iter()
            .filter_map(|(h, a)| Some((a.clone()?, (*h)?)))
            .collect();
        let hub_to_app: HashMap<i64, String> = rows
            .iter()
            .filter_map(|(h, a)| Some(((*h)?, a.clone()?)))
            .collect();
        for p in pairs {
            let on_hub = hub_assoc.get(&p.hub_id).cloned().unwrap_or_default();
            let on_app = p
                .app_associations
                .get(*to_object)
                .cloned()
                .unwrap_or_default();
            if direction != Direction::ToApp {
                for a in &on_app {
                    if let Some(h) = app_to_hub.get(a).filter(|h| !on_hub.contains(h)) {
                        if associations::associate(
                            pool,
                            sync.portal_id,
                            (from, p.hub_id),
                            (to, *h),
                            &WriteOrigin::Sync(sync.id),
                        )
                        .await?
                        {
                            made += 1;
                        }
                    }
                }
            }
            if direction != Direction::ToHub {
                for h in &on_hub {
                    if let Some(a) = hub_to_app.get(h).filter(|a| !on_app.contains(a)) {
                        connector
                            .associate(&sync.app_object, &p.app_id, to_object, a)
                            .await?;
                        made += 1;
                    }
                }
            }
        }
    }
    Ok(made)
}
