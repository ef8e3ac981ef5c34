//! The `bottlecrm` connector: contacts, accounts and opportunities with a BottleCRM
//! server (the open-source CRM, PyPI `django-crm`), connected with its address and a
//! personal access token. See docs/bottlecrm.md for what its API does.
//!
//! BottleCRM has no change feed and no "changed since" filter, so each look at its
//! changes compares the whole listing with what the sync knows (deletions are hard
//! there: a record missing from it, or a 404 on read, is deleted). Its signed webhooks
//! only say "look now". A create refused because the contact's email is taken (unique
//! per organisation) is matched to that contact instead of failing.

use super::http::{AppHttp, HttpLimits, StaticToken, TokenSource};
use super::webhook::{verify_signature, WebhookDelivery, WebhookRejection};
use super::*;
use crate::model::CredentialInput;
use reqwest::Method;
use serde_json::{Map, Value};
use std::time::Duration;

pub const APP_ID: &str = "bottlecrm";
/// How messages name the app.
const NAME: &str = "BottleCRM";
const OBJECTS: [&str; 3] = ["contacts", "accounts", "opportunities"];
const SIGNATURE_HEADER: &str = "x-bottlecrm-signature";
/// Records per listing page.
const PAGE: usize = 100;
/// The change position: there is none, the listing is compared every time.
const NO_FEED: &str = "listing";

pub fn listing() -> AppListing {
    AppListing {
        id: APP_ID.into(),
        name: NAME.into(),
        tagline: "Contacts, accounts and opportunities with BottleCRM, the open-source CRM.".into(),
        description: "Connect a BottleCRM server with its address and a personal access \
            token (Profile → Access tokens). Tandem pairs contacts by email and accounts by \
            name, keeps opportunities' pipelines and stages, and compares BottleCRM's \
            records with the hub's on every poll: BottleCRM has no change feed."
            .into(),
        category: "CRM".into(),
        objects: vec![
            ("Contacts".into(), "contacts".into()),
            ("Accounts".into(), "companies".into()),
            ("Opportunities".into(), "deals".into()),
        ],
        two_way: true,
        event_sync: false,
        available: true,
        credential: CredentialKind::ApiKey,
        oauth: false,
        address_hint: "https://crm.example.com".into(),
    }
}

pub struct BottleCrmApp {
    listing: AppListing,
    limits: HttpLimits,
    poll_every: Duration,
}

impl BottleCrmApp {
    pub fn new(limits: HttpLimits, poll_every: Duration) -> Self {
        BottleCrmApp {
            listing: listing(),
            limits,
            poll_every,
        }
    }
}

/// The hub object each BottleCRM object syncs with.
fn hub_object(object: &str) -> &'static str {
    match object {
        "accounts" => "companies",
        "opportunities" => "deals",
        _ => "contacts",
    }
}

fn check_object(object: &str) -> ConnectorResult<()> {
    ConnectorError::check_object(NAME, &OBJECTS, object)
}

/// A field and the hub property it maps to by default.
fn field(name: &str, label: &str, kind: FieldKind, hub: &str) -> AppField {
    AppField {
        name: name.into(),
        label: label.into(),
        kind,
        required: false,
        read_only: false,
        default_hub_property: Some(hub.into()).filter(|h: &String| !h.is_empty()),
    }
}

fn required(mut f: AppField) -> AppField {
    f.required = true;
    f
}

/// BottleCRM's fields (its schema is fixed; custom fields are not synced yet).
fn fields(object: &str) -> Vec<AppField> {
    use FieldKind::*;
    match object {
        "contacts" => vec![
            required(field("first_name", "First name", String, "firstname")),
            required(field("last_name", "Last name", String, "lastname")),
            field("email", "Email", Email, "email"),
            field("phone", "Phone", Phone, "phone"),
            field("title", "Title", String, "jobtitle"),
            field("department", "Department", String, ""),
            field("address_line", "Address", String, "address"),
            field("city", "City", String, "city"),
            field("postcode", "Postcode", String, "zip"),
            field("country", "Country", String, "country"),
            field("description", "Description", String, ""),
        ],
        "accounts" => vec![
            required(field("name", "Name", String, "name")),
            field("phone", "Phone", Phone, "phone"),
            field("website", "Website", String, "website"),
            field("address_line", "Address", String, "address"),
            field("city", "City", String, "city"),
            field("postcode", "Postcode", String, "zip"),
            field("country", "Country", String, "country"),
            field(
                "number_of_employees",
                "Employees",
                Number,
                "numberofemployees",
            ),
            field("annual_revenue", "Annual revenue", Number, "annualrevenue"),
            field("description", "Description", String, "description"),
        ],
        _ => vec![
            required(field("name", "Name", String, "dealname")),
            field("amount", "Amount", Number, "amount"),
            field("closed_on", "Closed on", Date, "closedate"),
            field("probability", "Probability", Number, ""),
            field("pipeline", "Pipeline", String, ""),
            field("stage", "Stage", String, ""),
            field("description", "Description", String, "description"),
        ],
    }
}

/// The records of a listing page and how many there are in all. Accounts come in two
/// lists (open and closed), paged with the same offset.
fn page_of(object: &str, v: &Value) -> ConnectorResult<(Vec<AppRecord>, u64)> {
    let lists: Vec<(&str, &str)> = match object {
        "contacts" => vec![("/results", "/count")],
        "opportunities" => vec![("/opportunities", "/opportunities_count")],
        _ => vec![
            (
                "/active_accounts/open_accounts",
                "/active_accounts/open_accounts_count",
            ),
            (
                "/closed_accounts/close_accounts",
                "/closed_accounts/close_accounts_count",
            ),
        ],
    };
    let mut records = Vec::new();
    let mut total = 0;
    for (list, count) in lists {
        let items = v
            .pointer(list)
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("listing"))?;
        for item in items {
            records.push(record_from_json(object, item).ok_or_else(|| unexpected("record"))?);
        }
        total = total.max(v.pointer(count).and_then(Value::as_u64).unwrap_or(0));
    }
    Ok((records, total))
}

fn unexpected(what: &str) -> ConnectorError {
    ConnectorError::unexpected(NAME, what)
}

fn record_from_json(object: &str, v: &Value) -> Option<AppRecord> {
    let id = v.get("id")?.as_str()?.to_string();
    let properties: Map<String, Value> = fields(object)
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                v.get(&f.name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    Some(AppRecord {
        id,
        properties,
        associations: Default::default(),
        updated_at: v
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        deleted: false,
    })
}

/// `{"errors":{"email":["Contact already exists with this email"]}}`, as an item error
/// naming its field (the engine shows the field beside the message).
fn refusal(body: &Value) -> ItemError {
    let (field, message) = body
        .get("errors")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
        .map(|(f, msgs)| {
            let text = match msgs {
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (Some(f.clone()), text)
        })
        .unwrap_or((None, "BottleCRM refused the record".into()));
    ItemError {
        code: "bottlecrm".into(),
        message,
        field,
    }
}

#[async_trait]
impl AppDefinition for BottleCrmApp {
    fn listing(&self) -> &AppListing {
        &self.listing
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            change_notices: ChangeNotices::Polling(self.poll_every),
            idempotent_creates: false,
            batch_size: PAGE,
            associations: false,
            events: false,
            change_feed: false,
        }
    }

    async fn verify_credentials(&self, input: &CredentialInput) -> ConnectorResult<Verified> {
        let base_url = input.url.trim().trim_end_matches('/').to_string();
        if url::Url::parse(&base_url).is_err() {
            return Err(ConnectorError::Invalid {
                code: "url".into(),
                message: "enter your BottleCRM server's address, e.g. https://crm.example.com"
                    .into(),
                field: Some("url".into()),
            });
        }
        let http = AppHttp::new(
            &base_url,
            Arc::new(StaticToken(input.secret.trim().to_string())),
            HttpLimits {
                max_attempts: 1,
                timeout: Duration::from_secs(10),
                ..self.limits.clone()
            },
        );
        // BottleCRM answers an unknown token with 403, as it does a missing one.
        let identity = BottleCrmConnector { http }
            .identity()
            .await
            .map_err(|e| match e {
                ConnectorError::Permission { .. } => ConnectorError::AuthExpired,
                other => other,
            })?;
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
        settings: &ConnectionSettings,
        tokens: Arc<dyn TokenSource>,
    ) -> Arc<dyn Connector> {
        let base_url = settings.base_url.clone().unwrap_or_default();
        Arc::new(BottleCrmConnector {
            http: AppHttp::new(&base_url, tokens, self.limits.clone()),
        })
    }
}

/// `{id, event: "contact.updated", created_at, org_id, data: {id, …}}`.
fn parse_delivery(body: &[u8]) -> Result<WebhookNotice, WebhookRejection> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| WebhookRejection::Malformed(e.to_string()))?;
    let delivery_id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| WebhookRejection::Malformed("the delivery has no id".into()))?;
    let event = v.get("event").and_then(Value::as_str).unwrap_or_default();
    let object = match event.split_once('.').map(|(o, _)| o) {
        Some("contact") => Some("contacts"),
        Some("account") => Some("accounts"),
        Some("deal") => Some("opportunities"),
        _ => None,
    };
    let kind = match (object, v.pointer("/data/id").and_then(Value::as_str)) {
        (Some(object), Some(id)) => WebhookKind::RecordChanged {
            object: object.into(),
            id: id.into(),
            deleted: event.ends_with(".deleted"),
        },
        _ => WebhookKind::Other {
            r#type: event.into(),
        },
    };
    Ok(WebhookNotice {
        delivery_id: delivery_id.into(),
        kind,
    })
}

pub struct BottleCrmConnector {
    http: AppHttp,
}

/// What a record's read answer holds it under.
fn detail_key(object: &str) -> &'static str {
    match object {
        "contacts" => "contact_obj",
        "accounts" => "account_obj",
        _ => "opportunity_obj",
    }
}

impl BottleCrmConnector {
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> ConnectorResult<Value> {
        self.http.json(method, path, query, body).await
    }

    /// One record, or `None` when BottleCRM has it no more (deletes are hard there).
    async fn get(&self, object: &str, id: &str) -> ConnectorResult<Option<AppRecord>> {
        match self
            .call(Method::GET, &format!("/api/{object}/{id}/"), &[], None)
            .await
        {
            Ok(v) => Ok(Some(
                v.get(detail_key(object))
                    .and_then(|r| record_from_json(object, r))
                    .ok_or_else(|| unexpected("record"))?,
            )),
            Err(ConnectorError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or updates one record and reads it back (writes answer only an id).
    async fn write_one(&self, object: &str, w: &RecordWrite) -> ConnectorResult<WriteResult> {
        let body = Value::Object(w.properties.clone());
        let (method, path) = match &w.id {
            Some(id) => (Method::PATCH, format!("/api/{object}/{id}/")),
            None => (Method::POST, format!("/api/{object}/")),
        };
        let answer = self
            .http
            .send(method, &path, &[reqwest::StatusCode::BAD_REQUEST], |r| {
                r.json(&body)
            })
            .await?;
        let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if answer.status == reqwest::StatusCode::BAD_REQUEST {
            let refused = refusal(&v);
            // The contact's email is taken: that contact is the one to write.
            if object == "contacts" && w.id.is_none() && refused.field.as_deref() == Some("email") {
                let email = w.properties.get("email").and_then(Value::as_str);
                if let Some(existing) = match email {
                    Some(e) => self.find(object, "email", e).await?.into_iter().next(),
                    None => None,
                } {
                    let update = RecordWrite {
                        id: Some(existing.id),
                        ..w.clone()
                    };
                    return Box::pin(self.write_one(object, &update)).await;
                }
            }
            return Ok(Err(refused));
        }
        let id = match &w.id {
            Some(id) => id.clone(),
            None => v
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| unexpected("create answer"))?
                .to_string(),
        };
        self.get(object, &id)
            .await?
            .map(Ok)
            .ok_or_else(|| unexpected("write (the record is gone)"))
    }
}

#[async_trait]
impl Connector for BottleCrmConnector {
    async fn identity(&self) -> ConnectorResult<AccountIdentity> {
        let v = self.call(Method::GET, "/api/org/", &[], None).await?;
        let org = v
            .pointer("/profile_org_list/0/org")
            .ok_or_else(|| unexpected("organisation answer"))?;
        let id = org
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| unexpected("organisation answer"))?;
        let name = org.get("name").and_then(Value::as_str).unwrap_or(id);
        Ok(AccountIdentity {
            id: id.into(),
            name: format!("{name} (BottleCRM)"),
        })
    }

    async fn objects(&self) -> ConnectorResult<Vec<AppObject>> {
        Ok(OBJECTS
            .iter()
            .map(|object| {
                let hub = hub_object(object);
                AppObject {
                    name: object.to_string(),
                    label: crate::model::capitalised(object),
                    hub_object: hub.into(),
                    fields: fields(object),
                    // Account names are unique per organisation, as emails are.
                    identifier_fields: match hub {
                        "companies" => vec!["name".into()],
                        other => identifier_fields(other),
                    },
                    pipeline_fields: (hub == "deals").then(|| ("pipeline".into(), "stage".into())),
                }
            })
            .collect())
    }

    async fn list(
        &self,
        object: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> ConnectorResult<RecordPage> {
        check_object(object)?;
        let offset: u64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let limit = limit.clamp(1, PAGE) as u64;
        let v = self
            .call(
                Method::GET,
                &format!("/api/{object}/"),
                &[("limit", limit.to_string()), ("offset", offset.to_string())],
                None,
            )
            .await?;
        let (records, total) = page_of(object, &v)?;
        Ok(RecordPage {
            records,
            next_cursor: (offset + limit < total).then(|| (offset + limit).to_string()),
        })
    }

    async fn changes(
        &self,
        _object: &str,
        _cursor: Option<&str>,
        _limit: usize,
    ) -> ConnectorResult<ChangePage> {
        // Never asked (no change feed in the capabilities); a relisting if it were.
        Err(ConnectorError::CursorExpired {
            message: "BottleCRM has no change feed".into(),
        })
    }

    async fn latest_change_cursor(&self, object: &str) -> ConnectorResult<String> {
        check_object(object)?;
        Ok(NO_FEED.into())
    }

    async fn read(&self, object: &str, ids: &[String]) -> ConnectorResult<Vec<AppRecord>> {
        check_object(object)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.get(object, id).await?);
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
        for w in &writes {
            out.push(self.write_one(object, w).await?);
        }
        Ok(out)
    }

    async fn delete(&self, object: &str, id: &str) -> ConnectorResult<()> {
        check_object(object)?;
        match self
            .call(Method::DELETE, &format!("/api/{object}/{id}/"), &[], None)
            .await
        {
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
        let v = self
            .call(
                Method::GET,
                &format!("/api/{object}/"),
                &[(field, value.to_string()), ("limit", PAGE.to_string())],
                None,
            )
            .await?;
        // The filters match parts of words: keep the records that equal the value.
        let wanted = value.trim().to_lowercase();
        Ok(page_of(object, &v)?
            .0
            .into_iter()
            .filter(|r| {
                r.properties
                    .get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.trim().to_lowercase() == wanted)
            })
            .collect())
    }

    async fn pipelines(&self) -> ConnectorResult<Vec<Pipeline>> {
        let v = self
            .call(Method::GET, "/api/opportunities/pipelines/", &[], None)
            .await?;
        let list = v
            .get("pipelines")
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("pipeline list"))?;
        // An opportunity names its pipeline by id and its stage by code.
        Ok(list
            .iter()
            .filter_map(|p| {
                let stages = p.get("stages")?.as_array()?;
                Some(Pipeline {
                    id: p.get("id")?.as_str()?.into(),
                    label: p.get("name")?.as_str()?.into(),
                    stages: stages
                        .iter()
                        .filter_map(|s| {
                            Some(Stage {
                                id: s.get("code")?.as_str()?.into(),
                                label: s.get("label")?.as_str()?.into(),
                                display_order: s.get("order")?.as_i64()? as i32,
                            })
                        })
                        .collect(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deliveries_name_the_record_that_changed() {
        let n = parse_delivery(
            br#"{"id":"d1","event":"deal.updated","created_at":"2026-12-03T10:00:00Z","org_id":"o","data":{"id":"u1","name":"Big"}}"#,
        )
        .unwrap();
        assert_eq!(n.delivery_id, "d1");
        assert_eq!(
            n.kind,
            WebhookKind::RecordChanged {
                object: "opportunities".into(),
                id: "u1".into(),
                deleted: false
            }
        );
        let gone =
            parse_delivery(br#"{"id":"d2","event":"contact.deleted","data":{"id":"c9"}}"#).unwrap();
        assert!(matches!(
            gone.kind,
            WebhookKind::RecordChanged { deleted: true, .. }
        ));
        let other =
            parse_delivery(br#"{"id":"d3","event":"invoice.paid","data":{"id":"i"}}"#).unwrap();
        assert!(matches!(other.kind, WebhookKind::Other { .. }));
        assert!(parse_delivery(br#"{"event":"contact.created"}"#).is_err());
    }

    #[test]
    fn a_refusal_names_its_field() {
        let e = refusal(
            &json!({"error": true, "errors": {"email": ["Contact already exists with this email"]}}),
        );
        assert_eq!(e.field.as_deref(), Some("email"));
        assert_eq!(e.message, "Contact already exists with this email");
    }

    #[test]
    fn both_halves_of_the_account_listing_are_read() {
        let v = json!({
            "active_accounts": {"open_accounts": [{"id": "a", "name": "Acme"}], "open_accounts_count": 3},
            "closed_accounts": {"close_accounts": [{"id": "b", "name": "Old"}], "close_accounts_count": 1},
        });
        let (records, total) = page_of("accounts", &v).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(total, 3);
        assert_eq!(records[0].properties["name"], "Acme");
    }
}
