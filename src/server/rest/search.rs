//! Search: filter groups (an OR of ANDs), a sort, words to find, and paging.

use super::{
    object_json, parse_after, rest_cursor, selection, value_text, Body, Caller, ObjectPath,
    RestError, RestResult, LIST_DEFAULT,
};
use crate::hub::records::{self, Filter, FilterOp, ListQuery, Sort, SortDir};
use crate::hub::schema;
use crate::model::ApiError;
use crate::platform::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

const SEARCH_MAX: usize = 200;
/// Search `total` counts at most this many (HubSpot's search stops at 10,000 too).
const TOTAL_CAP: i64 = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchBody {
    #[serde(default)]
    filter_groups: Vec<FilterGroupIn>,
    #[serde(default)]
    sorts: Vec<SortIn>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<Value>,
}

#[derive(Deserialize)]
struct FilterGroupIn {
    #[serde(default)]
    filters: Vec<FilterIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterIn {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    high_value: Option<Value>,
    #[serde(default)]
    values: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SortIn {
    Text(String),
    Object {
        #[serde(rename = "propertyName")]
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
}

fn search_query(body: &SearchBody) -> Result<ListQuery, RestError> {
    if body.filter_groups.len() > 5 {
        return Err(RestError(ApiError::field(
            "filterGroups",
            "At most 5 filter groups.",
        )));
    }
    let total: usize = body.filter_groups.iter().map(|g| g.filters.len()).sum();
    if total > 18 || body.filter_groups.iter().any(|g| g.filters.len() > 6) {
        return Err(RestError(ApiError::field(
            "filterGroups",
            "At most 6 filters per group and 18 in all.",
        )));
    }
    let mut groups = Vec::new();
    for (g, group) in body.filter_groups.iter().enumerate() {
        let mut filters = Vec::new();
        for (f, filter) in group.filters.iter().enumerate() {
            let op = FilterOp::parse(&filter.operator).ok_or_else(|| {
                RestError(ApiError::field(
                    &format!("filterGroups[{g}].filters[{f}].operator"),
                    format!(
                        "“{}” is not an operator; use EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN or NOT_CONTAINS_TOKEN.",
                        filter.operator
                    ),
                ))
            })?;
            filters.push(Filter {
                property: filter.property_name.clone(),
                op,
                value: filter.value.as_ref().and_then(value_text),
                high_value: filter.high_value.as_ref().and_then(value_text),
                values: filter
                    .values
                    .iter()
                    .flatten()
                    .filter_map(value_text)
                    .collect(),
            });
        }
        if !filters.is_empty() {
            groups.push(filters);
        }
    }
    let sort = match body.sorts.first() {
        None => Sort::by_id(),
        Some(SortIn::Text(s)) => match s.strip_prefix('-') {
            Some(p) => Sort {
                property: p.to_string(),
                dir: SortDir::Desc,
            },
            None => Sort {
                property: s.clone(),
                dir: SortDir::Asc,
            },
        },
        Some(SortIn::Object {
            property_name,
            direction,
        }) => Sort {
            property: property_name.clone(),
            dir: if direction
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING"))
            {
                SortDir::Desc
            } else {
                SortDir::Asc
            },
        },
    };
    let after = body.after.as_ref().and_then(value_text);
    let after = parse_after(after.as_deref().filter(|a| *a != "0"))?;
    // A cursor made for another sort is refused by `records::list` (400).
    let limit = body.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=SEARCH_MAX).contains(&limit) {
        return Err(RestError(ApiError::field(
            "limit",
            format!("limit must be from 1 to {SEARCH_MAX}."),
        )));
    }
    Ok(ListQuery {
        archived: false,
        search: body.query.clone().filter(|q| !q.trim().is_empty()),
        filter_groups: groups,
        sort,
        after,
        before: None,
        limit,
    })
}

pub(super) async fn search_objects(
    State(state): State<AppState>,
    caller: Caller,
    ObjectPath(object): ObjectPath,
    Body(body): Body<SearchBody>,
) -> RestResult {
    let portal = caller.principal.portal_id;
    let q = search_query(&body)?;
    let schema = schema::load(&state.pool, portal, object).await?;
    let page = records::list_with_schema(&state.pool, &schema, portal, &q).await?;
    let total = records::count_capped(&state.pool, &schema, portal, &q, TOTAL_CAP).await?;
    let sel = selection(object, body.properties.clone());
    let results: Vec<Value> = page.records.iter().map(|r| object_json(r, &sel)).collect();
    let mut out = json!({ "total": total, "results": results });
    if let Some(next) = page.next {
        out["paging"] = json!({ "next": { "after": rest_cursor(&next) } });
    }
    Ok(Json(out).into_response())
}
