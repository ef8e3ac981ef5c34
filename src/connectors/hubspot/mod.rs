//! The `hubspot` connector: contacts, companies and deals with a HubSpot portal through
//! its CRM v3 API (and v4 associations), connected with a private-app token or through
//! OAuth 2.0. Tandem's own `/api/crm/v3` speaks the same API, so this connector also
//! syncs one Tandem hub with another.
//!
//! Listing pages with `after`; changes through search on the last-modified date (see
//! [`window`]); writes in batches of 100, contacts upserted by email (HubSpot's creates
//! are not idempotent, and its email is unique); associations read and written with v4.
//! HubSpot's limits: the account's rolling window (`X-HubSpot-RateLimit-*`, 429s) in
//! [`AppHttp`], and the search endpoint's own few requests a second here.

pub mod notices;
pub mod window;

use super::http::{AppHttp, HttpLimits, RateHeaders, StaticToken, TokenSource};
use super::webhook::{WebhookDelivery, WebhookRejection};
use super::*;
use crate::model::CredentialInput;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;
use window::{Answer, Query, Window, SEARCH_PAGE};

/// How messages name the app.
const NAME: &str = "HubSpot";
pub const APP_ID: &str = "hubspot";
const OBJECTS: [&str; 3] = ["contacts", "companies", "deals"];
/// Listing pages and batch writes hold at most this many records.
const PAGE: usize = 100;
/// HubSpot's search endpoint answers 4 requests a second per token: one every 260 ms
/// stays under it whatever the network's jitter.
const SEARCH_EVERY: Duration = Duration::from_millis(260);

/// Where Tandem finds HubSpot and how hard it may call it (`TANDEM_HUBSPOT_*`).
#[derive(Debug, Clone)]
pub struct HubSpotConfig {
    /// The API's root (`https://api.hubapi.com`).
    pub api_url: String,
    pub authorize_url: String,
    pub token_url: String,
    /// Tandem's public app at HubSpot (client id, client secret): OAuth installs and
    /// webhook signatures.
    pub client: Option<(String, String)>,
    /// The account's limit: requests per rolling window.
    pub rate_limit: (u32, Duration),
    /// How often search is asked for changes.
    pub poll_every: Duration,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        HubSpotConfig {
            api_url: "https://api.hubapi.com".into(),
            authorize_url: "https://app.hubspot.com/oauth/authorize".into(),
            token_url: "https://api.hubapi.com/oauth/v1/token".into(),
            client: None,
            // A private app on HubSpot's free and Starter tiers.
            rate_limit: (100, Duration::from_secs(10)),
            poll_every: Duration::from_secs(10),
        }
    }
}

pub fn listing() -> AppListing {
    AppListing {
        id: APP_ID.into(),
        name: "HubSpot".into(),
        tagline: "Contacts, companies and deals with a HubSpot portal through its CRM v3 API."
            .into(),
        description: "Connect a HubSpot portal with a private app token (Settings → \
            Integrations → Private apps, with the CRM object scopes) or by signing in to \
            HubSpot. Tandem pairs contacts by email and companies by domain, keeps deals' \
            pipelines and stages, and syncs associations both ways."
            .into(),
        category: "CRM".into(),
        objects: vec![
            ("Contacts".into(), "contacts".into()),
            ("Companies".into(), "companies".into()),
            ("Deals".into(), "deals".into()),
        ],
        two_way: true,
        event_sync: false,
        available: true,
        credential: CredentialKind::ApiKey,
        oauth: true,
        address_hint: "empty: HubSpot's own (api.hubapi.com)".into(),
    }
}

pub struct HubSpotApp {
    listing: AppListing,
    config: HubSpotConfig,
}

impl HubSpotApp {
    pub fn new(config: HubSpotConfig) -> Self {
        HubSpotApp {
            listing: listing(),
            config,
        }
    }

    /// Stays under the rolling window: 98% of it (the 2% absorb the time requests take
    /// to arrive); the answers' headers pause us when another client of the account
    /// used the rest.
    fn limits(&self, max_attempts: usize) -> HttpLimits {
        let (max, per) = self.config.rate_limit;
        HttpLimits {
            requests: (max - max / 50).max(1),
            per,
            rate_headers: Some(RateHeaders {
                remaining: "x-hubspot-ratelimit-remaining",
                interval_ms: "x-hubspot-ratelimit-interval-milliseconds",
            }),
            max_attempts,
            ..HttpLimits::default()
        }
    }

    fn http(&self, base_url: &str, tokens: Arc<dyn TokenSource>) -> AppHttp {
        AppHttp::new(
            base_url,
            tokens,
            self.limits(HttpLimits::default().max_attempts),
        )
    }
}

#[async_trait]
impl AppDefinition for HubSpotApp {
    fn listing(&self) -> &AppListing {
        &self.listing
    }

    fn oauth(&self) -> Option<OAuthMetadata> {
        let (client_id, client_secret) = self.config.client.clone()?;
        Some(OAuthMetadata {
            authorize_url: self.config.authorize_url.clone(),
            token_url: self.config.token_url.clone(),
            revoke_url: None,
            scopes: [
                "crm.objects.contacts.read",
                "crm.objects.contacts.write",
                "crm.objects.companies.read",
                "crm.objects.companies.write",
                "crm.objects.deals.read",
                "crm.objects.deals.write",
                "crm.schemas.contacts.read",
                "crm.schemas.companies.read",
                "crm.schemas.deals.read",
            ]
            .map(String::from)
            .to_vec(),
            client_id,
            client_secret,
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            change_notices: ChangeNotices::Polling(self.config.poll_every),
            // A create sent twice makes two records: a retried one is looked up first
            // (contacts are upserted by email, which is unique there).
            idempotent_creates: false,
            batch_size: PAGE,
            associations: true,
            events: false,
            change_feed: true,
        }
    }

    async fn verify_credentials(&self, input: &CredentialInput) -> ConnectorResult<Verified> {
        let base_url = match input.url.trim() {
            "" => self.config.api_url.clone(),
            url => url.trim_end_matches('/').to_string(),
        };
        if url::Url::parse(&base_url).is_err() {
            return Err(ConnectorError::Invalid {
                code: "url".into(),
                message: format!("“{base_url}” is not a URL; leave it empty for HubSpot's API"),
                field: Some("url".into()),
            });
        }
        // One attempt: a person is looking at the form.
        let http = AppHttp::new(
            &base_url,
            Arc::new(StaticToken(input.secret.trim().to_string())),
            HttpLimits {
                timeout: Duration::from_secs(10),
                ..self.limits(1)
            },
        );
        let identity = HubSpotConnector::new(http).identity().await?;
        Ok(Verified::Account {
            identity,
            settings: ConnectionSettings {
                base_url: Some(base_url),
                ..Default::default()
            },
        })
    }

    fn verify_webhook(
        &self,
        _secret: &str,
        delivery: &WebhookDelivery<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<WebhookNotice>, WebhookRejection> {
        // HubSpot signs with the app's client secret, not a secret of the subscription.
        let Some((_, secret)) = &self.config.client else {
            return Err(WebhookRejection::Malformed(
                "HubSpot webhooks need TANDEM_HUBSPOT_CLIENT_SECRET".into(),
            ));
        };
        notices::verify(
            secret,
            delivery.method.as_str(),
            delivery.url,
            delivery.header(notices::SIGNATURE_HEADER),
            delivery.header(notices::TIMESTAMP_HEADER),
            delivery.body,
            now,
        )
    }

    fn connect(
        &self,
        settings: &ConnectionSettings,
        tokens: Arc<dyn TokenSource>,
    ) -> Arc<dyn Connector> {
        let base_url = settings
            .base_url
            .clone()
            .unwrap_or_else(|| self.config.api_url.clone());
        Arc::new(HubSpotConnector::new(self.http(&base_url, tokens)))
    }
}

pub struct HubSpotConnector {
    http: AppHttp,
    searches: DefaultDirectRateLimiter,
    /// The properties each object's records are read with, from its schema.
    properties: Mutex<HashMap<String, Vec<String>>>,
}

fn check_object(object: &str) -> ConnectorResult<()> {
    ConnectorError::check_object(NAME, &OBJECTS, object)
}

/// The date property search orders changes by: `lastmodifieddate` for contacts,
/// `hs_lastmodifieddate` for the others where the schema has it (HubSpot's) and
/// `lastmodifieddate` where not (Tandem's).
fn modified_property(object: &str, properties: &[String]) -> &'static str {
    if object != "contacts" && properties.iter().any(|p| p == "hs_lastmodifieddate") {
        "hs_lastmodifieddate"
    } else {
        "lastmodifieddate"
    }
}

/// The objects a record's associations are read for.
fn associated_objects(object: &str) -> impl Iterator<Item = &'static str> + '_ {
    OBJECTS.into_iter().filter(move |o| *o != object)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// HubSpot's dates: ISO 8601, or epoch milliseconds in some places.
fn millis(v: &Value) -> Option<i64> {
    let s = text(v)?;
    s.parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|d| d.timestamp_millis())
    })
}

/// The ids under `key` of a list of associated records, each once: HubSpot lists one
/// entry per association type (primary, unlabeled) of the same record.
fn ids_in(list: Option<&Value>, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get(key).and_then(text))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// What an answer of the app that cannot be read is.
fn unexpected(what: &str) -> ConnectorError {
    ConnectorError::unexpected(NAME, what)
}

fn record_from_json(v: &Value) -> Option<AppRecord> {
    let id = text(v.get("id")?)?;
    let mut associations = BTreeMap::new();
    if let Some(map) = v.get("associations").and_then(Value::as_object) {
        for (object, list) in map {
            associations.insert(object.clone(), ids_in(list.get("results"), "id"));
        }
    }
    Some(AppRecord {
        id,
        properties: v
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        associations,
        updated_at: v
            .get("updatedAt")
            .and_then(millis)
            .and_then(chrono::DateTime::from_timestamp_millis),
        deleted: v.get("archived").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn results(v: &Value) -> ConnectorResult<Vec<AppRecord>> {
    v.get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| unexpected("listing"))?
        .iter()
        .map(|r| record_from_json(r).ok_or_else(|| unexpected("record")))
        .collect()
}

fn next_after(v: &Value) -> Option<String> {
    v.pointer("/paging/next/after").and_then(text)
}

/// HubSpot's property types, as the engine converts them.
fn field_kind(p: &Value) -> FieldKind {
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
    let field_type = p.get("fieldType").and_then(Value::as_str);
    match p.get("type").and_then(Value::as_str).unwrap_or("string") {
        "number" => FieldKind::Number,
        "bool" => FieldKind::Bool,
        "date" => FieldKind::Date,
        "datetime" => FieldKind::Datetime,
        "enumeration" if field_type == Some("booleancheckbox") => FieldKind::Bool,
        "enumeration" => FieldKind::Enumeration {
            options: p
                .get("options")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    let value = o.get("value").and_then(text)?;
                    let label = o.get("label").and_then(text).unwrap_or(value.clone());
                    Some(EnumOption { value, label })
                })
                .collect(),
        },
        _ if name == "email" => FieldKind::Email,
        _ if field_type == Some("phonenumber") => FieldKind::Phone,
        _ => FieldKind::String,
    }
}

fn item_error(message: String, field: Option<String>) -> ItemError {
    ItemError {
        code: "hubspot".into(),
        message,
        field,
    }
}

impl HubSpotConnector {
    fn new(http: AppHttp) -> Self {
        let quota = Quota::with_period(SEARCH_EVERY)
            .expect("a positive period")
            .allow_burst(NonZeroU32::MIN);
        HubSpotConnector {
            http,
            searches: RateLimiter::direct(quota),
            properties: Mutex::new(HashMap::new()),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> ConnectorResult<Value> {
        self.http.json(method, path, query, body).await
    }

    async fn search(&self, object: &str, body: Value) -> ConnectorResult<Value> {
        self.searches.until_ready().await;
        self.call(
            Method::POST,
            &format!("/crm/v3/objects/{object}/search"),
            &[],
            Some(&body),
        )
        .await
    }

    /// The object's schema, as HubSpot lists it (hidden properties left out).
    async fn schema(&self, object: &str) -> ConnectorResult<Vec<Value>> {
        let v = self
            .call(
                Method::GET,
                &format!("/crm/v3/properties/{object}"),
                &[],
                None,
            )
            .await?;
        let all = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("property list"))?;
        Ok(all
            .iter()
            .filter(|p| !p.get("hidden").and_then(Value::as_bool).unwrap_or(false))
            .cloned()
            .collect())
    }

    /// The property names records of `object` are read with (asked once).
    async fn properties_of(&self, object: &str) -> ConnectorResult<Vec<String>> {
        if let Some(known) = self
            .properties
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(object)
        {
            return Ok(known.clone());
        }
        let names: Vec<String> = self
            .schema(object)
            .await?
            .iter()
            .filter_map(|p| p.get("name").and_then(text))
            .collect();
        self.properties
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(object.to_string(), names.clone());
        Ok(names)
    }

    /// Each record's associations, from v4's batch read: search and batch answers carry
    /// none, and a record read without them would look as if it had lost them all.
    async fn fill_associations(
        &self,
        object: &str,
        records: &mut [AppRecord],
    ) -> ConnectorResult<()> {
        let ids: Vec<Value> = records
            .iter()
            .filter(|r| !r.deleted)
            .map(|r| json!({ "id": r.id }))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        for to in associated_objects(object) {
            let mut found: HashMap<String, Vec<String>> = HashMap::new();
            let mut answers = Vec::new();
            for chunk in ids.chunks(PAGE) {
                answers.push(
                    self.call(
                        Method::POST,
                        &format!("/crm/v4/associations/{object}/{to}/batch/read"),
                        &[],
                        Some(&json!({ "inputs": chunk })),
                    )
                    .await?,
                );
            }
            for r in answers
                .iter()
                .flat_map(|v| v.get("results").and_then(Value::as_array))
                .flatten()
            {
                let Some(from) = r.pointer("/from/id").and_then(text) else {
                    continue;
                };
                found.insert(from, ids_in(r.get("to"), "toObjectId"));
            }
            for r in records.iter_mut().filter(|r| !r.deleted) {
                r.associations
                    .insert(to.to_string(), found.remove(&r.id).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// One search of the change window, as records and what moves the window.
    async fn window_page(
        &self,
        object: &str,
        window: &Window,
        query: &Query,
    ) -> ConnectorResult<(Vec<AppRecord>, Answer)> {
        let properties = self.properties_of(object).await?;
        let modified = modified_property(object, &properties);
        let filter = |name: &str, op: &str, value: String| json!({ "propertyName": name, "operator": op, "value": value });
        let (filters, sort, after) = match query {
            Query::Range { from, to, after } => (
                vec![
                    filter(modified, "GTE", from.to_string()),
                    filter(modified, "LTE", to.to_string()),
                ],
                modified,
                after.clone(),
            ),
            Query::Tie { at, after_id } => (
                vec![
                    filter(modified, "EQ", at.to_string()),
                    filter("hs_object_id", "GT", after_id.to_string()),
                ],
                "hs_object_id",
                None,
            ),
            Query::Archived { after } => {
                let mut q = vec![
                    ("archived", "true".to_string()),
                    ("limit", PAGE.to_string()),
                ];
                if let Some(a) = after {
                    q.push(("after", a.clone()));
                }
                let v = self
                    .call(Method::GET, &format!("/crm/v3/objects/{object}"), &q, None)
                    .await?;
                let since = window.archived_since();
                let gone: Vec<AppRecord> = v
                    .get("results")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|r| r.get("archivedAt").and_then(millis).unwrap_or(i64::MAX) >= since)
                    .filter_map(record_from_json)
                    .map(|r| AppRecord { deleted: true, ..r })
                    .collect();
                let next = next_after(&v);
                return Ok((
                    gone,
                    Answer {
                        results: Vec::new(),
                        next,
                        total: None,
                    },
                ));
            }
        };
        let mut body = json!({
            "filterGroups": [{ "filters": filters }],
            "sorts": [{ "propertyName": sort, "direction": "ASCENDING" }],
            "properties": properties,
            "limit": SEARCH_PAGE,
        });
        if let Some(after) = after {
            body["after"] = json!(after);
        }
        let v = self.search(object, body).await?;
        let mut records = results(&v)?;
        let answer = Answer {
            results: records
                .iter()
                .map(|r| {
                    let at = r.properties.get(modified).and_then(millis).unwrap_or(0);
                    (r.id.parse().unwrap_or(0), at)
                })
                .collect(),
            next: next_after(&v),
            total: v.get("total").and_then(Value::as_u64),
        };
        self.fill_associations(object, &mut records).await?;
        Ok((records, answer))
    }

    /// Writes one batch; a batch HubSpot refuses as a whole (one bad input fails them
    /// all) is written again one record at a time, so that only the bad one fails.
    async fn write_batch(
        &self,
        object: &str,
        action: &str,
        inputs: Vec<Value>,
    ) -> ConnectorResult<Vec<WriteResult>> {
        let path = format!("/crm/v3/objects/{object}/batch/{action}");
        match self
            .call(Method::POST, &path, &[], Some(&json!({ "inputs": inputs })))
            .await
        {
            Ok(v) => batch_results(&v, &inputs, action),
            Err(ConnectorError::Invalid { .. }) if inputs.len() > 1 => {
                let mut out = Vec::with_capacity(inputs.len());
                for input in inputs {
                    out.extend(Box::pin(self.write_batch(object, action, vec![input])).await?);
                }
                Ok(out)
            }
            Err(ConnectorError::Invalid { message, field, .. }) => {
                Ok(vec![Err(item_error(message, field))])
            }
            Err(e) => Err(e),
        }
    }
}

/// A batch answer matched back to its inputs: by id for updates, by email for upserts,
/// in order for creates (HubSpot answers a batch create in input order).
fn batch_results(v: &Value, inputs: &[Value], action: &str) -> ConnectorResult<Vec<WriteResult>> {
    let records = results(v)?;
    if action == "create" {
        if records.len() != inputs.len() {
            return Err(unexpected("batch answer (records missing)"));
        }
        return Ok(records.into_iter().map(Ok).collect());
    }
    let failed: HashMap<String, String> = v
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("HubSpot refused this record")
                .to_string();
            e.pointer("/context/ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(text)
                .map(move |id| (id, message.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let key_of = |r: &AppRecord| match action {
        "upsert" => r
            .properties
            .get("email")
            .and_then(text)
            .map(|e| e.to_lowercase())
            .unwrap_or_default(),
        _ => r.id.clone(),
    };
    let mut by_key: HashMap<String, AppRecord> =
        records.into_iter().map(|r| (key_of(&r), r)).collect();
    inputs
        .iter()
        .map(|input| {
            let key = input.get("id").and_then(text).unwrap_or_default();
            let key = if action == "upsert" {
                key.to_lowercase()
            } else {
                key
            };
            Ok(match by_key.remove(&key) {
                Some(r) => Ok(r),
                None => Err(item_error(
                    failed
                        .get(&key)
                        .cloned()
                        .unwrap_or_else(|| "HubSpot did not write this record".into()),
                    None,
                )),
            })
        })
        .collect()
}

#[async_trait]
impl Connector for HubSpotConnector {
    async fn identity(&self) -> ConnectorResult<AccountIdentity> {
        let v = self
            .call(Method::GET, "/account-info/v3/details", &[], None)
            .await?;
        let id = v
            .get("portalId")
            .and_then(text)
            .ok_or_else(|| unexpected("account answer"))?;
        let domain = v.get("uiDomain").and_then(Value::as_str);
        Ok(AccountIdentity {
            name: match domain {
                Some(d) => format!("HubSpot portal {id} ({d})"),
                None => format!("HubSpot portal {id}"),
            },
            id,
        })
    }

    async fn objects(&self) -> ConnectorResult<Vec<AppObject>> {
        let mut out = Vec::new();
        for object in OBJECTS {
            let schema = self.schema(object).await?;
            let fields = schema
                .iter()
                .filter_map(|p| {
                    let name = p.get("name").and_then(text)?;
                    let read_only = p
                        .pointer("/modificationMetadata/readOnlyValue")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    Some(AppField {
                        label: p.get("label").and_then(text).unwrap_or(name.clone()),
                        kind: field_kind(p),
                        required: false,
                        read_only,
                        // Tandem's hub speaks HubSpot's property names.
                        default_hub_property: (!read_only).then(|| name.clone()),
                        name,
                    })
                })
                .collect();
            out.push(AppObject::like_hub(
                object,
                fields,
                ("pipeline", "dealstage"),
            ));
        }
        Ok(out)
    }

    async fn list(
        &self,
        object: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> ConnectorResult<RecordPage> {
        check_object(object)?;
        let mut q = vec![
            ("limit", limit.clamp(1, PAGE).to_string()),
            ("properties", self.properties_of(object).await?.join(",")),
            (
                "associations",
                associated_objects(object).collect::<Vec<_>>().join(","),
            ),
        ];
        if let Some(c) = cursor {
            q.push(("after", c.to_string()));
        }
        let v = self
            .call(Method::GET, &format!("/crm/v3/objects/{object}"), &q, None)
            .await?;
        let mut records = results(&v)?;
        // A listing names no association kind a record lacks: it has none of them.
        for r in &mut records {
            for to in associated_objects(object) {
                r.associations.entry(to.to_string()).or_default();
            }
        }
        Ok(RecordPage {
            records,
            next_cursor: next_after(&v),
        })
    }

    async fn changes(
        &self,
        object: &str,
        cursor: Option<&str>,
        _limit: usize,
    ) -> ConnectorResult<ChangePage> {
        check_object(object)?;
        let window: Window = match cursor {
            None => Window::starting_at(0),
            Some(c) => serde_json::from_str(c).map_err(|_| ConnectorError::CursorExpired {
                message: "the change position is not one this version of Tandem wrote".into(),
            })?,
        };
        let query = window.query(chrono::Utc::now().timestamp_millis());
        let (records, answer) = self.window_page(object, &window, &query).await?;
        let limit = match query {
            Query::Archived { .. } => PAGE as u32,
            _ => SEARCH_PAGE,
        };
        let (next, has_more) = window.advance(&query, &answer, limit);
        Ok(ChangePage {
            records,
            cursor: serde_json::to_string(&next).map_err(|_| unexpected("cursor"))?,
            has_more,
        })
    }

    async fn latest_change_cursor(&self, object: &str) -> ConnectorResult<String> {
        check_object(object)?;
        let now = chrono::Utc::now().timestamp_millis();
        serde_json::to_string(&Window::starting_at(now - window::LOOKBACK_MS))
            .map_err(|_| unexpected("cursor"))
    }

    async fn read(&self, object: &str, ids: &[String]) -> ConnectorResult<Vec<AppRecord>> {
        check_object(object)?;
        let properties = self.properties_of(object).await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let v = self
                .call(
                    Method::POST,
                    &format!("/crm/v3/objects/{object}/batch/read"),
                    &[],
                    Some(&json!({ "inputs": inputs, "properties": properties })),
                )
                .await?;
            // Missing ids are reported as errors (207) and left out: deleted there.
            let mut records = results(&v)?;
            self.fill_associations(object, &mut records).await?;
            out.extend(records);
        }
        Ok(out)
    }

    async fn write(
        &self,
        object: &str,
        writes: Vec<RecordWrite>,
    ) -> ConnectorResult<Vec<WriteResult>> {
        check_object(object)?;
        // Creates, upserts (contacts with an email) and updates go in separate batches;
        // the answers are put back in the order of `writes`.
        let mut groups: BTreeMap<&str, Vec<(usize, Value)>> = BTreeMap::new();
        for (i, w) in writes.iter().enumerate() {
            let properties: Map<String, Value> = w
                .properties
                .iter()
                // HubSpot clears a property given an empty string.
                .map(|(k, v)| (k.clone(), if v.is_null() { json!("") } else { v.clone() }))
                .collect();
            let email = (object == "contacts")
                .then(|| properties.get("email").and_then(text))
                .flatten()
                .filter(|e| !e.trim().is_empty());
            let (action, input) = match (&w.id, email) {
                (Some(id), _) => ("update", json!({ "id": id, "properties": properties })),
                (None, Some(email)) => (
                    "upsert",
                    json!({ "idProperty": "email", "id": email, "properties": properties }),
                ),
                (None, None) => ("create", json!({ "properties": properties })),
            };
            groups.entry(action).or_default().push((i, input));
        }
        let mut out: Vec<Option<WriteResult>> = vec![None; writes.len()];
        for (action, items) in groups {
            for chunk in items.chunks(PAGE) {
                let inputs = chunk.iter().map(|(_, v)| v.clone()).collect();
                let written = self.write_batch(object, action, inputs).await?;
                for ((i, _), result) in chunk.iter().zip(written) {
                    out[*i] = Some(result);
                }
            }
        }
        let mut written: Vec<AppRecord> = out
            .iter()
            .filter_map(|r| r.as_ref().and_then(|r| r.as_ref().ok()).cloned())
            .collect();
        self.fill_associations(object, &mut written).await?;
        let mut by_id: HashMap<String, AppRecord> =
            written.into_iter().map(|r| (r.id.clone(), r)).collect();
        out.into_iter()
            .map(|r| match r {
                Some(Ok(r)) => Ok(Ok(by_id.remove(&r.id).unwrap_or(r))),
                Some(Err(e)) => Ok(Err(e)),
                None => Err(unexpected("batch answer (a record is missing)")),
            })
            .collect()
    }

    async fn delete(&self, object: &str, id: &str) -> ConnectorResult<()> {
        check_object(object)?;
        match self
            .call(
                Method::DELETE,
                &format!("/crm/v3/objects/{object}/{id}"),
                &[],
                None,
            )
            .await
        {
            // Already gone there: the deletion is done.
            Ok(_) | Err(ConnectorError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn find(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> ConnectorResult<Vec<AppRecord>> {
        check_object(object)?;
        let body = json!({
            "filterGroups": [{ "filters": [
                { "propertyName": field, "operator": "EQ", "value": value }
            ] }],
            "properties": self.properties_of(object).await?,
            "limit": 10,
        });
        let v = self.search(object, body).await?;
        let mut records = results(&v)?;
        self.fill_associations(object, &mut records).await?;
        Ok(records)
    }

    async fn pipelines(&self) -> ConnectorResult<Vec<Pipeline>> {
        let v = self
            .call(Method::GET, "/crm/v3/pipelines/deals", &[], None)
            .await?;
        Pipeline::list_from(&v).ok_or_else(|| unexpected("pipeline list"))
    }

    async fn set_associated(
        &self,
        object: &str,
        id: &str,
        (to_object, to_id): (&str, &str),
        associated: bool,
    ) -> ConnectorResult<()> {
        check_object(object)?;
        check_object(to_object)?;
        let (method, path) = if associated {
            (
                Method::PUT,
                format!("/crm/v4/objects/{object}/{id}/associations/default/{to_object}/{to_id}"),
            )
        } else {
            (
                Method::DELETE,
                format!("/crm/v4/objects/{object}/{id}/associations/{to_object}/{to_id}"),
            )
        };
        match self.call(method, &path, &[], None).await {
            Ok(_) => Ok(()),
            // Removing an association of a record deleted there: nothing left to remove.
            Err(ConnectorError::NotFound { .. }) if !associated => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn subscribe_webhook(&self, _url: &str, _secret: &str) -> ConnectorResult<String> {
        // HubSpot sends an app's webhooks to the one target URL of its settings page (see
        // the README), signed with the client secret: nothing to subscribe per account.
        Ok("hubspot-app-settings".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_with_their_deduplicated_associations() {
        let r = record_from_json(&json!({
            "id": "51", "properties": {"email": "a@b.c", "lastmodifieddate": "2026-12-03T10:00:00.123Z"},
            "createdAt": "2026-12-01T00:00:00Z", "updatedAt": "2026-12-03T10:00:00.123Z",
            "archived": false,
            "associations": {"companies": {"results": [
                {"id": "7", "type": "contact_to_company"},
                {"id": "7", "type": "contact_to_company_unlabeled"}
            ]}}
        }))
        .unwrap();
        assert_eq!(r.associations["companies"], vec!["7".to_string()]);
        assert_eq!(
            r.updated_at.unwrap().timestamp_millis(),
            millis(&json!("2026-12-03T10:00:00.123Z")).unwrap()
        );
        assert_eq!(millis(&json!("1764756000000")), Some(1_764_756_000_000));
    }

    #[test]
    fn batch_answers_are_matched_back_to_their_inputs() {
        let inputs = vec![json!({"id": "1"}), json!({"id": "2"})];
        let answer = json!({
            "status": "COMPLETE",
            "results": [{"id": "2", "properties": {}}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND",
                        "message": "Object not found", "context": {"ids": ["1"]}}]
        });
        let out = batch_results(&answer, &inputs, "update").unwrap();
        assert_eq!(out[0].as_ref().unwrap_err().message, "Object not found");
        assert_eq!(out[1].as_ref().unwrap().id, "2");

        let upserts = vec![json!({"idProperty": "email", "id": "A@b.c"})];
        let answer =
            json!({"results": [{"id": "9", "new": false, "properties": {"email": "a@b.c"}}]});
        assert_eq!(
            batch_results(&answer, &upserts, "upsert").unwrap()[0]
                .as_ref()
                .unwrap()
                .id,
            "9"
        );
    }

    #[test]
    fn property_types_become_field_kinds() {
        assert_eq!(
            field_kind(&json!({"name": "email", "type": "string"})),
            FieldKind::Email
        );
        assert_eq!(
            field_kind(&json!({"name": "phone", "type": "string", "fieldType": "phonenumber"})),
            FieldKind::Phone
        );
        assert_eq!(
            field_kind(&json!({"name": "amount", "type": "number"})),
            FieldKind::Number
        );
        assert_eq!(
            field_kind(
                &json!({"name": "x", "type": "enumeration", "fieldType": "booleancheckbox"})
            ),
            FieldKind::Bool
        );
        assert!(matches!(
            field_kind(&json!({"name": "lifecyclestage", "type": "enumeration",
                "options": [{"value": "lead", "label": "Lead"}]})),
            FieldKind::Enumeration { options } if options[0].label == "Lead"
        ));
    }
}
