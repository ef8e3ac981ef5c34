//! The `demo` connector: the bundled Demo CRM (`tandem demo-app`) over its REST API.
//! See docs/demo-app.md for the wire format.

use super::http::{AppHttp, HttpLimits, TokenSource};
use super::webhook::{verify_signature, WebhookDelivery, WebhookRejection};
use super::*;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// How messages name the app.
const NAME: &str = "the Demo CRM";
pub const APP_ID: &str = "demo";
const SIGNATURE_HEADER: &str = "x-demo-signature";
const OBJECTS: [&str; 4] = ["contacts", "companies", "deals", "invoices"];

pub struct DemoApp {
    listing: AppListing,
    base_url: String,
    client_id: String,
    client_secret: String,
    limits: HttpLimits,
}

impl DemoApp {
    pub fn new(base_url: &str, client_id: &str, client_secret: &str) -> Self {
        DemoApp {
            listing: listing(),
            base_url: base_url.trim_end_matches('/').to_string(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            limits: HttpLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }
}

pub fn listing() -> AppListing {
    AppListing {
        id: APP_ID.into(),
        name: "Demo CRM".into(),
        tagline: "The bundled demo CRM: contacts, companies, deals, invoices and email events."
            .into(),
        description:
            "A small CRM shipped with Tandem that behaves like a real one: OAuth 2.0 with \
            PKCE, a paged REST API, signed webhooks and an email-event feed. Connect one or \
            several of its accounts and sync them with your hub."
                .into(),
        category: "CRM".into(),
        objects: vec![
            ("Contacts".into(), "contacts".into()),
            ("Companies".into(), "companies".into()),
            ("Deals".into(), "deals".into()),
            ("Invoices".into(), "invoices".into()),
        ],
        two_way: true,
        event_sync: true,
        available: true,
        credential: CredentialKind::Oauth2,
        oauth: true,
        address_hint: String::new(),
    }
}

#[async_trait]
impl AppDefinition for DemoApp {
    fn listing(&self) -> &AppListing {
        &self.listing
    }

    fn oauth(&self) -> Option<OAuthMetadata> {
        Some(OAuthMetadata {
            authorize_url: format!("{}/oauth/authorize", self.base_url),
            token_url: format!("{}/oauth/token", self.base_url),
            revoke_url: Some(format!("{}/oauth/revoke", self.base_url)),
            scopes: vec!["crm.read".into(), "crm.write".into(), "webhooks".into()],
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
        })
    }

    fn verify_webhook(
        &self,
        secret: &str,
        delivery: &WebhookDelivery<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<WebhookNotice>, WebhookRejection> {
        verify_signature(
            secret,
            delivery.header(SIGNATURE_HEADER),
            delivery.body,
            now,
        )?;
        Ok(vec![parse_delivery(delivery.body)?])
    }

    fn connect(
        &self,
        _settings: &ConnectionSettings,
        tokens: Arc<dyn TokenSource>,
    ) -> Arc<dyn Connector> {
        Arc::new(DemoConnector {
            http: AppHttp::new(&self.base_url, tokens, self.limits.clone()),
        })
    }
}

#[derive(Deserialize)]
struct Delivery {
    delivery_id: String,
    #[serde(rename = "type")]
    kind: String,
    object: Option<String>,
    object_id: Option<String>,
    #[serde(default)]
    data: Value,
}

fn parse_delivery(body: &[u8]) -> Result<WebhookNotice, WebhookRejection> {
    let d: Delivery =
        serde_json::from_slice(body).map_err(|e| WebhookRejection::Malformed(e.to_string()))?;
    if d.delivery_id.trim().is_empty() {
        return Err(WebhookRejection::Malformed("delivery_id is empty".into()));
    }
    let kind = match d.kind.split_once('.') {
        Some(("email", _)) => {
            WebhookKind::Event(event_from_json(&d.data).ok_or_else(|| {
                WebhookRejection::Malformed("the event data is incomplete".into())
            })?)
        }
        Some((_, action @ ("created" | "updated" | "deleted"))) => {
            let (Some(object), Some(id)) = (d.object, d.object_id) else {
                return Err(WebhookRejection::Malformed(
                    "object and object_id are required".into(),
                ));
            };
            WebhookKind::RecordChanged {
                object,
                id,
                deleted: action == "deleted",
            }
        }
        _ => WebhookKind::Other { r#type: d.kind },
    };
    Ok(WebhookNotice {
        delivery_id: d.delivery_id,
        kind,
    })
}

pub struct DemoConnector {
    http: AppHttp,
}

impl DemoConnector {
    async fn get(&self, path: &str) -> ConnectorResult<Value> {
        self.http.json(Method::GET, path, &[], None::<&()>).await
    }
}

/// `limit` and, after the first page, the `cursor` of a listing or feed.
fn page_query(limit: usize, cursor: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = vec![("limit", limit.to_string())];
    q.extend(cursor.map(|c| ("cursor", c.to_string())));
    q
}

fn check_object(object: &str) -> ConnectorResult<()> {
    ConnectorError::check_object(NAME, &OBJECTS, object)
}

/// What an answer of the app that cannot be read is.
fn unexpected(what: &str) -> ConnectorError {
    ConnectorError::unexpected(NAME, what)
}

/// Takes the record's properties out of `v` (moved, not copied: a listing's pages are
/// read once).
fn record_from_json(v: &mut Value) -> Option<AppRecord> {
    let id = match v.get("id")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let associations = v
        .get("associations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, ids)| {
                    let ids = ids
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| match x {
                                    Value::String(s) => Some(s.clone()),
                                    Value::Number(n) => Some(n.to_string()),
                                    _ => None,
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    (k.clone(), ids)
                })
                .collect()
        })
        .unwrap_or_default();
    Some(AppRecord {
        id,
        properties: match v.get_mut("properties").map(Value::take) {
            Some(Value::Object(properties)) => properties,
            _ => Default::default(),
        },
        associations,
        updated_at: v
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        deleted: v.get("deleted").and_then(Value::as_bool).unwrap_or(false)
            || v.get("archived").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn records_from(v: &mut Value) -> ConnectorResult<Vec<AppRecord>> {
    v.get_mut("results")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| unexpected("listing"))?
        .iter_mut()
        .map(|r| record_from_json(r).ok_or_else(|| unexpected("record")))
        .collect()
}

fn cursor_of(v: &Value) -> Option<String> {
    v.get("next_cursor")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn event_from_json(v: &Value) -> Option<AppEvent> {
    let kind = match v.get("type")?.as_str()? {
        "email.opened" => EventKind::EmailOpened,
        "email.clicked" => EventKind::EmailClicked,
        _ => return None,
    };
    let text = |k: &str| match v.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some(AppEvent {
        id: text("id")?,
        kind,
        contact_id: text("contact_id")?,
        occurred_at: chrono::DateTime::parse_from_rfc3339(v.get("occurred_at")?.as_str()?)
            .ok()?
            .with_timezone(&chrono::Utc),
        properties: v
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    })
}

fn field_kind(f: &Value) -> FieldKind {
    match f.get("type").and_then(Value::as_str).unwrap_or("string") {
        "email" => FieldKind::Email,
        "phone" => FieldKind::Phone,
        "number" => FieldKind::Number,
        "bool" | "boolean" => FieldKind::Bool,
        "date" => FieldKind::Date,
        "datetime" => FieldKind::Datetime,
        "enumeration" => FieldKind::Enumeration {
            options: f
                .get("options")
                .and_then(Value::as_array)
                .map(|opts| {
                    opts.iter()
                        .filter_map(|o| match o {
                            Value::String(s) => Some(EnumOption {
                                value: s.clone(),
                                label: s.clone(),
                            }),
                            Value::Object(m) => {
                                let value = m.get("value")?.as_str()?.to_string();
                                let label = m
                                    .get("label")
                                    .and_then(Value::as_str)
                                    .unwrap_or(&value)
                                    .to_string();
                                Some(EnumOption { value, label })
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        _ => FieldKind::String,
    }
}

/// The hub property each Demo CRM field maps to by default.
fn default_hub_property(object: &str, field: &str) -> Option<&'static str> {
    Some(match (object, field) {
        ("contacts", "email") => "email",
        ("contacts", "first_name") => "firstname",
        ("contacts", "last_name") => "lastname",
        ("contacts", "phone") => "phone",
        ("contacts", "company_name") => "company",
        ("contacts", "job_title") => "jobtitle",
        ("contacts", "lifecycle_stage") => "lifecyclestage",
        ("companies", "name") => "name",
        ("companies", "domain") => "domain",
        ("companies", "industry") => "industry",
        ("companies", "city") => "city",
        ("companies", "country") => "country",
        ("companies", "employee_count") => "numberofemployees",
        ("deals", "title") => "dealname",
        ("deals", "value") => "amount",
        ("deals", "close_date") => "closedate",
        ("deals", "pipeline_id") => "pipeline",
        ("deals", "stage_id") => "dealstage",
        ("invoices", "invoice_number") => "number",
        ("invoices", "total") => "amount",
        ("invoices", "currency") => "currency",
        ("invoices", "status") => "status",
        ("invoices", "due_date") => "due_date",
        _ => return None,
    })
}

#[async_trait]
impl Connector for DemoConnector {
    async fn identity(&self) -> ConnectorResult<AccountIdentity> {
        let v = self.get("/v1/me").await?;
        let id = match v.get("account_id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(unexpected("identity")),
        };
        let name = v
            .get("account_name")
            .and_then(Value::as_str)
            .unwrap_or(&id)
            .to_string();
        Ok(AccountIdentity { id, name })
    }

    async fn objects(&self) -> ConnectorResult<Vec<AppObject>> {
        let mut out = Vec::new();
        for object in OBJECTS {
            let v = self.get(&format!("/v1/schema/{object}")).await?;
            let fields = v
                .get("fields")
                .and_then(Value::as_array)
                .ok_or_else(|| unexpected("schema"))?
                .iter()
                .filter_map(|f| {
                    let name = f.get("name")?.as_str()?.to_string();
                    Some(AppField {
                        label: f
                            .get("label")
                            .and_then(Value::as_str)
                            .unwrap_or(&name)
                            .to_string(),
                        kind: field_kind(f),
                        required: f.get("required").and_then(Value::as_bool).unwrap_or(false),
                        read_only: f.get("read_only").and_then(Value::as_bool).unwrap_or(false),
                        default_hub_property: default_hub_property(object, &name)
                            .map(str::to_string),
                        name,
                    })
                })
                .collect();
            out.push(AppObject::like_hub(
                object,
                fields,
                ("pipeline_id", "stage_id"),
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
        let q = page_query(limit.clamp(1, BATCH_SIZE), cursor);
        let mut v = self
            .http
            .json(Method::GET, &format!("/v1/{object}"), &q, None::<&()>)
            .await?;
        Ok(RecordPage {
            records: records_from(&mut v)?,
            next_cursor: cursor_of(&v),
        })
    }

    async fn changes(
        &self,
        object: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> ConnectorResult<ChangePage> {
        check_object(object)?;
        let limit = limit.clamp(1, BATCH_SIZE);
        let q = page_query(limit, cursor);
        let mut v = self
            .http
            .json(
                Method::GET,
                &format!("/v1/{object}/changes"),
                &q,
                None::<&()>,
            )
            .await?;
        let records = records_from(&mut v)?;
        let next = cursor_of(&v)
            .or_else(|| cursor.map(str::to_string))
            .ok_or_else(|| unexpected("change cursor"))?;
        Ok(ChangePage {
            has_more: records.len() >= limit,
            records,
            cursor: next,
        })
    }

    async fn latest_change_cursor(&self, object: &str) -> ConnectorResult<String> {
        check_object(object)?;
        let v = self.get(&format!("/v1/{object}/changes/latest")).await?;
        v.get("cursor")
            .or_else(|| v.get("next_cursor"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| unexpected("change cursor"))
    }

    async fn read(&self, object: &str, ids: &[String]) -> ConnectorResult<Vec<AppRecord>> {
        check_object(object)?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_SIZE) {
            let mut v = self
                .http
                .json(
                    Method::POST,
                    &format!("/v1/{object}/batch/read"),
                    &[],
                    Some(&json!({ "ids": chunk })),
                )
                .await?;
            out.extend(records_from(&mut v)?);
        }
        Ok(out)
    }

    async fn write(
        &self,
        object: &str,
        writes: Vec<RecordWrite>,
    ) -> ConnectorResult<Vec<WriteResult>> {
        check_object(object)?;
        let mut out = Vec::with_capacity(writes.len());
        for chunk in writes.chunks(BATCH_SIZE) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|w| {
                    let mut m = Map::new();
                    if let Some(id) = &w.id {
                        m.insert("id".into(), json!(id));
                    }
                    m.insert("properties".into(), Value::Object(w.properties.clone()));
                    if !w.associations.is_empty() {
                        m.insert("associations".into(), json!(w.associations));
                    }
                    if let Some(k) = &w.idempotency_key {
                        m.insert("idempotency_key".into(), json!(k));
                    }
                    Value::Object(m)
                })
                .collect();
            let mut v = self
                .http
                .json(
                    Method::POST,
                    &format!("/v1/{object}/batch"),
                    &[],
                    Some(&json!({ "inputs": inputs })),
                )
                .await?;
            let results = v
                .get_mut("results")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| unexpected("batch answer"))?;
            let mut by_index: Vec<Option<WriteResult>> = vec![None; chunk.len()];
            for (pos, r) in results.iter_mut().enumerate() {
                let index = r
                    .get("index")
                    .and_then(Value::as_u64)
                    .map(|i| i as usize)
                    .unwrap_or(pos);
                let written = matches!(
                    r.get("status").and_then(Value::as_str),
                    Some("created" | "updated")
                );
                let result = if written {
                    r.get_mut("record")
                        .and_then(record_from_json)
                        .map(Ok)
                        .ok_or_else(|| unexpected("batch record"))?
                } else {
                    let e = r.get("error").cloned().unwrap_or(Value::Null);
                    Err(ItemError {
                        code: e
                            .get("code")
                            .and_then(Value::as_str)
                            .unwrap_or("error")
                            .into(),
                        message: e
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("the Demo CRM refused this record")
                            .into(),
                        field: e.get("field").and_then(Value::as_str).map(str::to_string),
                    })
                };
                if let Some(slot) = by_index.get_mut(index) {
                    *slot = Some(result);
                }
            }
            for slot in by_index {
                out.push(slot.ok_or_else(|| unexpected("batch answer (an item is missing)"))?);
            }
        }
        Ok(out)
    }

    async fn delete(&self, object: &str, id: &str) -> ConnectorResult<()> {
        check_object(object)?;
        self.http
            .json(
                Method::DELETE,
                &format!("/v1/{object}/{id}"),
                &[],
                None::<&()>,
            )
            .await
            .map(|_| ())
    }

    async fn find(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> ConnectorResult<Vec<AppRecord>> {
        check_object(object)?;
        let mut v = self
            .http
            .json(
                Method::GET,
                &format!("/v1/{object}/search"),
                &[(field, value.to_string())],
                None::<&()>,
            )
            .await?;
        records_from(&mut v)
    }

    async fn pipelines(&self) -> ConnectorResult<Vec<Pipeline>> {
        let v = self.get("/v1/pipelines").await?;
        Pipeline::list_from(&v).ok_or_else(|| unexpected("pipelines"))
    }

    async fn set_associated(
        &self,
        object: &str,
        id: &str,
        (to_object, to_id): (&str, &str),
        associated: bool,
    ) -> ConnectorResult<()> {
        check_object(object)?;
        let method = if associated {
            Method::PUT
        } else {
            Method::DELETE
        };
        let path = format!("/v1/{object}/{id}/associations/{to_object}/{to_id}");
        self.http
            .json(method, &path, &[], None::<&()>)
            .await
            .map(|_| ())
    }

    async fn events(&self, cursor: Option<&str>, limit: usize) -> ConnectorResult<EventPage> {
        let limit = limit.clamp(1, BATCH_SIZE);
        let q = page_query(limit, cursor);
        let v = self
            .http
            .json(Method::GET, "/v1/events", &q, None::<&()>)
            .await?;
        let events: Vec<AppEvent> = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("event listing"))?
            .iter()
            .filter_map(event_from_json)
            .collect();
        let next = cursor_of(&v)
            .or_else(|| cursor.map(str::to_string))
            .unwrap_or_default();
        Ok(EventPage {
            has_more: events.len() >= limit,
            events,
            cursor: next,
        })
    }

    async fn subscribe_webhook(&self, url: &str, secret: &str) -> ConnectorResult<String> {
        let v = self
            .http
            .json(
                Method::POST,
                "/v1/webhooks",
                &[],
                Some(&json!({ "url": url, "secret": secret })),
            )
            .await?;
        match v.get("id") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(unexpected("webhook subscription")),
        }
    }

    async fn unsubscribe_webhook(&self, subscription_id: &str) -> ConnectorResult<()> {
        match self
            .http
            .json(
                Method::DELETE,
                &format!("/v1/webhooks/{subscription_id}"),
                &[],
                None::<&()>,
            )
            .await
        {
            Ok(_) | Err(ConnectorError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_into_notices() {
        let n = parse_delivery(
            br#"{"delivery_id":"d1","type":"contact.updated","object":"contacts","object_id":"42","data":{}}"#,
        )
        .unwrap();
        assert_eq!(
            n.kind,
            WebhookKind::RecordChanged {
                object: "contacts".into(),
                id: "42".into(),
                deleted: false
            }
        );
        let e = parse_delivery(
            br#"{"delivery_id":"d2","type":"email.opened","data":{"id":"e1","type":"email.opened","contact_id":"42","occurred_at":"2026-11-28T10:00:00Z","properties":{"subject":"Hi"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            e.kind,
            WebhookKind::Event(AppEvent {
                kind: EventKind::EmailOpened,
                ..
            })
        ));
        assert!(matches!(
            parse_delivery(b"not json"),
            Err(WebhookRejection::Malformed(_))
        ));
        assert!(matches!(
            parse_delivery(br#"{"delivery_id":"d3","type":"contact.deleted"}"#),
            Err(WebhookRejection::Malformed(_))
        ));
    }
}
