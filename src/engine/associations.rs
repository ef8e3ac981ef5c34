//! Associations: when both ends of an association are synced (contact ↔ company,
//! deal ↔ company, deal ↔ contact, invoice → contact), the association made on one side
//! is made on the other, and one removed on one side is removed on the other, within
//! the sync's direction. Runs after a batch's pairs are committed; a failure here is
//! logged and retried with the record's next change.

use super::definition::SyncRow;
use super::plan::{Direction, Side};
use crate::connectors::Connector;
use crate::hub::{associations, ObjectType, WriteOrigin};
use sqlx::PgPool;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// The hub objects a record of hub object `object` is kept associated with (invoices
/// only with contacts). The app's names for them are those of the syncs of these objects.
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

/// What to do with one pair's associations with one object. Every id is the hub id of
/// an associated record that is itself synced (paired by the sync of that object).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AssociationPlan {
    pub add_in_hub: Vec<i64>,
    pub add_in_app: Vec<i64>,
    pub remove_in_hub: Vec<i64>,
    pub remove_in_app: Vec<i64>,
    /// Associated on both sides once the plan is carried out: next time's `last`.
    pub synced: BTreeSet<i64>,
}

/// Compares the associations on each side with those both sides had when last synced
/// (`None`: never synced): one missing on one side that both had was removed there, one
/// that neither had before was added. Removals and additions flow like values do, within
/// the sync's direction; in a one-way sync the source side's set wins.
pub fn plan_associations(
    direction: Direction,
    on_hub: &BTreeSet<i64>,
    on_app: &BTreeSet<i64>,
    last: Option<&BTreeSet<i64>>,
) -> AssociationPlan {
    let mut plan = AssociationPlan::default();
    let was_synced = |id: &i64| last.is_some_and(|l| l.contains(id));
    for &id in on_hub.union(on_app) {
        let (in_hub, in_app) = (on_hub.contains(&id), on_app.contains(&id));
        // `present` is the side that still has it; `removed_there` when the other side dropped it.
        let (present, removed_there) = match (in_hub, in_app) {
            (true, true) => {
                plan.synced.insert(id);
                continue;
            }
            (true, false) => (Side::Hub, was_synced(&id)),
            _ => (Side::App, was_synced(&id)),
        };
        let absent = present.other();
        // Removed on the absent side: remove it where it remains, if that side may be
        // written. Otherwise (new, or the removal may not flow) copy it over, if allowed.
        if removed_there && direction.writes_to(present) {
            match present {
                Side::Hub => plan.remove_in_hub.push(id),
                Side::App => plan.remove_in_app.push(id),
            }
        } else if direction.writes_to(absent) {
            match absent {
                Side::Hub => plan.add_in_hub.push(id),
                Side::App => plan.add_in_app.push(id),
            }
            plan.synced.insert(id);
        }
    }
    plan
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
    let origin = WriteOrigin::Sync(sync.id);
    for to_object in targets(&sync.hub_object) {
        let Some(to) = ObjectType::parse(to_object) else {
            continue;
        };
        // The sync of the other end, on the same connected account, and the app's name
        // of that object (app records name their associations by it).
        let other: Option<(Uuid, String)> = sqlx::query_as(
            "SELECT id, app_object FROM syncs WHERE connection_id = $1 AND hub_object = $2",
        )
        .bind(sync.connection_id)
        .bind(to_object)
        .fetch_optional(pool)
        .await?;
        let Some((other, app_to_object)) = other else {
            continue;
        };
        let app_ids: Vec<String> = pairs
            .iter()
            .flat_map(|p| {
                p.app_associations
                    .get(&app_to_object)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let mut hub_assoc: HashMap<i64, Vec<i64>> = HashMap::new();
        for p in pairs {
            hub_assoc.insert(
                p.hub_id,
                associations::all_ids(pool, sync.portal_id, (from, p.hub_id), to).await?,
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
        let hub_ids_of_pairs: Vec<i64> = pairs.iter().map(|p| p.hub_id).collect();
        let last: HashMap<i64, BTreeSet<i64>> = sqlx::query_as::<_, (i64, Option<Vec<i64>>)>(
            "SELECT hub_id, ARRAY(SELECT jsonb_array_elements_text(associations -> $3)::bigint)
             FROM sync_index WHERE sync_id = $1 AND hub_id = ANY($2) AND associations ? $3",
        )
        .bind(sync.id)
        .bind(&hub_ids_of_pairs)
        .bind(to_object)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(h, ids)| (h, ids.unwrap_or_default().into_iter().collect()))
        .collect();
        let mut synced_sets: Vec<(i64, sqlx::types::Json<BTreeSet<i64>>)> = Vec::new();
        for p in pairs {
            // Only associated records that are synced themselves take part.
            let on_hub: BTreeSet<i64> = hub_assoc
                .get(&p.hub_id)
                .into_iter()
                .flatten()
                .filter(|h| hub_to_app.contains_key(h))
                .copied()
                .collect();
            let on_app: BTreeSet<i64> = p
                .app_associations
                .get(&app_to_object)
                .into_iter()
                .flatten()
                .filter_map(|a| app_to_hub.get(a).copied())
                .collect();
            let plan = plan_associations(direction, &on_hub, &on_app, last.get(&p.hub_id));
            for (h, add) in plan
                .add_in_hub
                .iter()
                .map(|h| (h, true))
                .chain(plan.remove_in_hub.iter().map(|h| (h, false)))
            {
                let (this, other) = ((from, p.hub_id), (to, *h));
                let changed =
                    associations::set_associated(pool, sync.portal_id, this, other, add, &origin)
                        .await?;
                made += usize::from(changed);
            }
            for (h, add) in plan
                .add_in_app
                .iter()
                .map(|h| (h, true))
                .chain(plan.remove_in_app.iter().map(|h| (h, false)))
            {
                let Some(a) = hub_to_app.get(h) else { continue };
                connector
                    .set_associated(&sync.app_object, &p.app_id, (&app_to_object, a), add)
                    .await?;
                made += 1;
            }
            synced_sets.push((p.hub_id, sqlx::types::Json(plan.synced)));
        }
        let (hub_ids, sets): (Vec<i64>, Vec<_>) = synced_sets.into_iter().unzip();
        sqlx::query(
            "UPDATE sync_index i SET associations = coalesce(i.associations, '{}') || jsonb_build_object($2::text, t.ids)
             FROM UNNEST($3::bigint[], $4::jsonb[]) AS t(hub_id, ids)
             WHERE i.sync_id = $1 AND i.hub_id = t.hub_id",
        )
        .bind(sync.id)
        .bind(to_object)
        .bind(&hub_ids)
        .bind(&sets)
        .execute(pool)
        .await?;
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn first_sync_copies_each_sides_associations_to_the_other() {
        let p = plan_associations(Direction::TwoWay, &set(&[1, 2]), &set(&[2, 3]), None);
        assert_eq!(p.add_in_app, vec![1]);
        assert_eq!(p.add_in_hub, vec![3]);
        assert!(p.remove_in_app.is_empty() && p.remove_in_hub.is_empty());
        assert_eq!(p.synced, set(&[1, 2, 3]));
    }

    #[test]
    fn a_removal_on_one_side_is_made_on_the_other_in_a_two_way_sync() {
        let last = set(&[1, 2, 3]);
        // 1 removed in the app, 3 removed in the hub, 4 added in the app.
        let p = plan_associations(
            Direction::TwoWay,
            &set(&[1, 2]),
            &set(&[2, 3, 4]),
            Some(&last),
        );
        assert_eq!(p.remove_in_hub, vec![1]);
        assert_eq!(p.remove_in_app, vec![3]);
        assert_eq!(p.add_in_hub, vec![4]);
        assert!(p.add_in_app.is_empty());
        assert_eq!(p.synced, set(&[2, 4]));
    }

    #[test]
    fn in_a_one_way_sync_the_source_sides_set_wins() {
        let last = set(&[1, 2]);
        // To hub: the app dropped 1 (removed in hub); the hub dropped 2 (restored from
        // the app); 5 exists only in the hub and is left alone.
        let p = plan_associations(Direction::ToHub, &set(&[1, 5]), &set(&[2]), Some(&last));
        assert_eq!(p.remove_in_hub, vec![1]);
        assert_eq!(p.add_in_hub, vec![2]);
        assert!(p.add_in_app.is_empty() && p.remove_in_app.is_empty());
        assert_eq!(p.synced, set(&[2]));
        // To app: the mirror image.
        let p = plan_associations(Direction::ToApp, &set(&[2]), &set(&[1, 5]), Some(&last));
        assert_eq!(p.remove_in_app, vec![1]);
        assert_eq!(p.add_in_app, vec![2]);
        assert!(p.add_in_hub.is_empty() && p.remove_in_hub.is_empty());
    }

    #[test]
    fn nothing_changed_plans_nothing() {
        let last = set(&[7]);
        let p = plan_associations(Direction::TwoWay, &last, &last, Some(&last));
        assert_eq!(
            p,
            AssociationPlan {
                synced: last,
                ..Default::default()
            }
        );
    }
}
