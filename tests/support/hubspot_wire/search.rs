//! `POST /crm/v3/objects/{object}/search`: filter groups (ORed) of filters (ANDed), one sort,
//! offset paging and HubSpot's cap of 10,000 results per query.
//!
//! Candidates come from an index when the single filter group bounds the last-modified date
//! (the (modified, id) index) or `hs_object_id` (the id-ordered table); otherwise every record
//! is scanned. Either way each candidate is checked against every filter.

use crate::error::{ApiError, Body};
use crate::schema::{parse_instant, ObjectType, PropKind, PropertyDef};
use crate::store::Record;
use crate::{lock, Shared};
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::ops::Bound;

/// HubSpot answers at most 10,000 results of one query, however it is paged.
const RESULT_CAP: usize = 10_000;
const MAX_LIMIT: usize = 200;
const MAX_GROUPS: usize = 5;
const MAX_FILTERS_PER_GROUP: usize = 6;
const MAX_FILTERS: usize = 18;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    sorts: Vec<SortSpec>,
    #[serde(default)]
    properties: Vec<String>,
    limit: Option<Value>,
    after: Option<Value>,
    query: Option<String>,
}

#[derive(Deserialize)]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: String,
    operator: String,
    value: Option<Value>,
    high_value: Option<Value>,
    values: Option<Vec<Value>>,
}

/// Sorts come as objects or as HubSpot's string form (`"-createdate"` is descending).
#[derive(Deserialize)]
#[serde(untagged)]
enum SortSpec {
    Text(String),
    #[serde(rename_all = "camelCase")]
    Object {
        property_name: String,
        direction: Option<String>,
    },
}

/// A comparable value: numbers, instants (ms) and ids as numbers, text lower-cased.
#[derive(Clone, PartialEq, PartialOrd)]
enum Key {
    Num(f64),
    Text(String),
}

fn compare(a: &Key, b: &Key) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

struct Compiled {
    def: &'static PropertyDef,
    op: Op,
    low: Option<Key>,
    high: Option<Key>,
    set: Vec<Key>,
    token: String,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Turns a filter value into the property's comparable form; dates may be ms or ISO 8601.
fn key_of(def: &PropertyDef, raw: &str) -> Option<Key> {
    match def.kind {
        PropKind::Number => raw.trim().parse::<f64>().ok().map(Key::Num),
        PropKind::Datetime => parse_instant(raw).map(|ms| Key::Num(ms as f64)),
        PropKind::String | PropKind::Enumeration => Some(Key::Text(raw.to_lowercase())),
    }
}

/// A record's value of a property in comparable form; the built-ins skip formatting.
fn record_key(obj: ObjectType, r: &Record, def: &PropertyDef) -> Option<Key> {
    match def.name {
        "hs_object_id" => Some(Key::Num(r.id as f64)),
        "createdate" => Some(Key::Num(r.created_ms as f64)),
        n if n == obj.modified_property() => Some(Key::Num(r.updated_ms as f64)),
        n => r.props.get(n).and_then(|v| key_of(def, v)),
    }
}

fn property(obj: ObjectType, name: &str) -> Result<&'static PropertyDef, ApiError> {
    obj.property(name).ok_or_else(|| {
        ApiError::validation(format!(
            "There was a problem with the request: property {name} does not exist on {}.",
            obj.name()
        ))
    })
}

fn compile(obj: ObjectType, f: &Filter) -> Result<Compiled, ApiError> {
    let def = property(obj, &f.property_name)?;
    let op = match f.operator.as_str() {
        "EQ" => Op::Eq,
        "NEQ" => Op::Neq,
        "LT" => Op::Lt,
        "LTE" => Op::Lte,
        "GT" => Op::Gt,
        "GTE" => Op::Gte,
        "BETWEEN" => Op::Between,
        "IN" => Op::In,
        "NOT_IN" => Op::NotIn,
        "HAS_PROPERTY" => Op::HasProperty,
        "NOT_HAS_PROPERTY" => Op::NotHasProperty,
        "CONTAINS_TOKEN" => Op::ContainsToken,
        "NOT_CONTAINS_TOKEN" => Op::NotContainsToken,
        other => {
            return Err(ApiError::validation(format!(
                "There was a problem with the request: unknown filter operator {other}."
            )))
        }
    };
    let typed = |v: &Option<Value>, what: &str| -> Result<Key, ApiError> {
        let raw = v.as_ref().map(text_of).ok_or_else(|| {
            ApiError::validation(format!(
                "Filter on {} with operator {} needs a {what}.",
                def.name, f.operator
            ))
        })?;
        key_of(def, &raw).ok_or_else(|| {
            ApiError::validation(format!(
                "Filter value {raw} is not valid for the {} property {}.",
                def.kind.type_name(),
                def.name
            ))
        })
    };
    let mut c = Compiled {
        def,
        op,
        low: None,
        high: None,
        set: Vec::new(),
        token: String::new(),
    };
    match op {
        Op::Eq | Op::Neq | Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
            c.low = Some(typed(&f.value, "value")?)
        }
        Op::Between => {
            c.low = Some(typed(&f.value, "value")?);
            c.high = Some(typed(&f.high_value, "highValue")?);
        }
        Op::In | Op::NotIn => {
            for v in f.values.as_deref().unwrap_or_default() {
                c.set.push(typed(&Some(v.clone()), "values")?);
            }
        }
        Op::ContainsToken | Op::NotContainsToken => {
            c.token = f
                .value
                .as_ref()
                .map(text_of)
                .unwrap_or_default()
                .to_lowercase();
        }
        Op::HasProperty | Op::NotHasProperty => {}
    }
    Ok(c)
}

/// `*` matches any run of characters; without one, the token must equal a word of the value
/// (words split at anything but letters and digits) or the whole value.
fn contains_token(value: &str, token: &str) -> bool {
    let value = value.to_lowercase();
    if token.contains('*') {
        return glob(&value, token);
    }
    value == token
        || value
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == token)
}

fn glob(value: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

impl Compiled {
    fn matches(&self, obj: ObjectType, r: &Record) -> bool {
        let key = record_key(obj, r, self.def);
        let cmp = |want: &Option<Key>, ok: fn(Ordering) -> bool| match (&key, want) {
            (Some(k), Some(w)) => ok(compare(k, w)),
            _ => false,
        };
        match self.op {
            Op::Eq => cmp(&self.low, Ordering::is_eq),
            // Chosen (the docs are silent): a record without the property is "not equal"
            // (and "not in"); use HAS_PROPERTY alongside to exclude those.
            Op::Neq => key.is_none() || cmp(&self.low, Ordering::is_ne),
            Op::Lt => cmp(&self.low, Ordering::is_lt),
            Op::Lte => cmp(&self.low, Ordering::is_le),
            Op::Gt => cmp(&self.low, Ordering::is_gt),
            Op::Gte => cmp(&self.low, Ordering::is_ge),
            Op::Between => cmp(&self.low, Ordering::is_ge) && cmp(&self.high, Ordering::is_le),
            Op::In => key
                .as_ref()
                .is_some_and(|k| self.set.iter().any(|s| compare(k, s).is_eq())),
            Op::NotIn => key
                .as_ref()
                .is_none_or(|k| !self.set.iter().any(|s| compare(k, s).is_eq())),
            Op::HasProperty => key.is_some(),
            Op::NotHasProperty => key.is_none(),
            Op::ContainsToken | Op::NotContainsToken => {
                let found = r
                    .value(obj, self.def.name)
                    .is_some_and(|v| contains_token(&v, &self.token));
                found == (self.op == Op::ContainsToken)
            }
        }
    }

    /// The inclusive integer range this filter allows on a numeric built-in, if it bounds one.
    fn bounds(&self) -> Option<(i64, i64)> {
        let num = |k: &Option<Key>| match k {
            Some(Key::Num(n)) => Some(*n),
            _ => None,
        };
        let (lo, hi) = match self.op {
            Op::Eq => (num(&self.low)?.ceil(), num(&self.low)?.floor()),
            Op::Gte => (num(&self.low)?.ceil(), f64::MAX),
            Op::Gt => (num(&self.low)?.floor() + 1.0, f64::MAX),
            Op::Lte => (f64::MIN, num(&self.low)?.floor()),
            Op::Lt => (f64::MIN, num(&self.low)?.ceil() - 1.0),
            Op::Between => (num(&self.low)?.ceil(), num(&self.high)?.floor()),
            _ => return None,
        };
        // `as` saturates, which is what an open bound wants.
        Some((lo as i64, hi as i64))
    }
}

/// Where the candidates come from: an index range, or every record.
enum Source {
    Modified(i64, i64),
    Ids(i64, i64),
    Scan,
}

fn narrow(range: Option<(i64, i64)>, b: (i64, i64)) -> Option<(i64, i64)> {
    Some(match range {
        Some((lo, hi)) => (lo.max(b.0), hi.min(b.1)),
        None => b,
    })
}

fn source(obj: ObjectType, groups: &[Vec<Compiled>]) -> Source {
    let [group] = groups else {
        return Source::Scan;
    };
    let (mut modified, mut ids) = (None, None);
    for f in group {
        let Some(b) = f.bounds() else { continue };
        if f.def.name == obj.modified_property() {
            modified = narrow(modified, b);
        } else if f.def.name == "hs_object_id" {
            ids = narrow(ids, b);
        }
    }
    match (modified, ids) {
        (Some((lo, hi)), _) => Source::Modified(lo, hi),
        (None, Some((lo, hi))) => Source::Ids(lo, hi),
        (None, None) => Source::Scan,
    }
}

fn number(v: &Option<Value>, name: &str, default: usize) -> Result<usize, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(v) => text_of(v).trim().parse::<usize>().map_err(|_| {
            ApiError::validation(format!("{name} must be a non-negative integer, got {v}"))
        }),
    }
}

struct Sort {
    def: &'static PropertyDef,
    descending: bool,
}

fn sort_of(obj: ObjectType, sorts: &[SortSpec]) -> Result<Option<Sort>, ApiError> {
    // HubSpot documents that only one sorting rule can be applied to a search.
    let [spec] = sorts else {
        return match sorts.len() {
            0 => Ok(None),
            _ => Err(ApiError::validation(
                "Only one sort can be applied to a search.",
            )),
        };
    };
    let (name, descending) = match spec {
        SortSpec::Text(s) => match s.strip_prefix('-') {
            Some(rest) => (rest.to_string(), true),
            None => (s.clone(), false),
        },
        SortSpec::Object {
            property_name,
            direction,
        } => match direction.as_deref().unwrap_or("ASCENDING") {
            "ASCENDING" => (property_name.clone(), false),
            "DESCENDING" => (property_name.clone(), true),
            other => {
                return Err(ApiError::validation(format!(
                    "Unknown sort direction {other}."
                )))
            }
        },
    };
    Ok(Some(Sort {
        def: property(obj, &name)?,
        descending,
    }))
}

pub async fn search(
    State(app): State<Shared>,
    Path(object): Path<String>,
    Body(req): Body<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&object)?;
    let limit = number(&req.limit, "limit", 10)?;
    let after = number(&req.after, "after", 0)?;
    if limit > MAX_LIMIT {
        return Err(ApiError::validation(format!(
            "limit must be at most {MAX_LIMIT}, got {limit}"
        )));
    }
    if req.filter_groups.len() > MAX_GROUPS {
        return Err(ApiError::validation(format!(
            "A search can have at most {MAX_GROUPS} filterGroups, got {}",
            req.filter_groups.len()
        )));
    }
    let mut total_filters = 0;
    for g in &req.filter_groups {
        if g.filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(ApiError::validation(format!(
                "A filterGroup can have at most {MAX_FILTERS_PER_GROUP} filters, got {}",
                g.filters.len()
            )));
        }
        total_filters += g.filters.len();
    }
    if total_filters > MAX_FILTERS {
        return Err(ApiError::validation(format!(
            "A search can have at most {MAX_FILTERS} filters in all, got {total_filters}"
        )));
    }
    // Like HubSpot (whose search sits on a result window of 10,000): a page reaching past the
    // 10,000th result is refused, whatever `total` says.
    if after + limit > RESULT_CAP {
        return Err(ApiError::validation(format!(
            "The search results are limited to {RESULT_CAP} records: after ({after}) + limit ({limit}) \
             go past it. Narrow the filters (e.g. by a date range) instead of paging further."
        )));
    }
    let groups = req
        .filter_groups
        .iter()
        .map(|g| {
            g.filters
                .iter()
                .map(|f| compile(obj, f))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sort = sort_of(obj, &req.sorts)?;
    let query = req
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let names = crate::objects::selection(obj, &req.properties, std::iter::empty());

    let store = lock(&app.store);
    let table = store.table(obj);
    let keep = |r: &Record| {
        (groups.is_empty() || groups.iter().any(|g| g.iter().all(|f| f.matches(obj, r))))
            && query.as_ref().is_none_or(|q| {
                obj.text_search_properties().iter().any(|p| {
                    r.props
                        .get(*p)
                        .is_some_and(|v| v.to_lowercase().contains(q))
                })
            })
    };
    let src = source(obj, &groups);
    let mut hits: Vec<&Record> = match src {
        Source::Modified(lo, hi) if lo <= hi => table
            .by_modified
            .range((lo, 0)..=(hi, u64::MAX))
            .filter_map(|(_, id)| table.records.get(id))
            .filter(|r| keep(r))
            .collect(),
        Source::Ids(lo, hi) if lo <= hi => table
            .records
            .range((
                Bound::Included(lo.max(0) as u64),
                Bound::Included(hi.max(0) as u64),
            ))
            .map(|(_, r)| r)
            .filter(|r| r.archived_ms.is_none() && keep(r))
            .collect(),
        Source::Scan => table
            .records
            .values()
            .filter(|r| r.archived_ms.is_none() && keep(r))
            .collect(),
        Source::Modified(..) | Source::Ids(..) => Vec::new(),
    };
    // Ties go by id ascending. Real HubSpot does not promise any order among equal sort keys,
    // so clients must not depend on it (they should page by a strictly increasing key).
    match &sort {
        Some(s)
            if s.def.name == obj.modified_property()
                && !s.descending
                && matches!(src, Source::Modified(..)) => {}
        Some(s) => {
            let mut keyed: Vec<(Option<Key>, &Record)> = hits
                .iter()
                .map(|r| (record_key(obj, r, s.def), *r))
                .collect();
            keyed.sort_by(|(ka, ra), (kb, rb)| {
                let by_key = match (ka, kb) {
                    (Some(a), Some(b)) if s.descending => compare(b, a),
                    (Some(a), Some(b)) => compare(a, b),
                    // Records without the property come last either way.
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                by_key.then(ra.id.cmp(&rb.id))
            });
            hits = keyed.into_iter().map(|(_, r)| r).collect();
        }
        None if matches!(src, Source::Modified(..)) => hits.sort_by_key(|r| r.id),
        None => {}
    }
    let total = hits.len();
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|r| store.render(obj, r.id, &names, &[]))
        .collect();
    let next = after + limit;
    let mut out = json!({ "total": total, "results": results });
    if limit > 0 && next < total && next < RESULT_CAP {
        out["paging"] = json!({ "next": { "after": next.to_string() } });
    }
    Ok(Json(out))
}
