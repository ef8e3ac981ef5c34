//! The `carddav` connector: contacts with any CardDAV address book (Nextcloud, iCloud,
//! Fastmail, Radicale, …), connected with a server URL, a user name and an (app)
//! password. Cards are read with `addressbook-multiget`, changes with `sync-collection`
//! (RFC 6578), and every write is conditional on the card's ETag so that a card changed
//! meanwhile is read again and patched, never overwritten.

pub mod card;
pub mod dav;

use super::http::{Answer, AppHttp, HttpLimits, StaticToken, TokenSource};
use super::*;
use crate::model::{CredentialInput, InstallChoice};
use dav::{parse_multistatus, DavResponse, Multistatus};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

pub const APP_ID: &str = "carddav";
/// The connection setting saying how changes are followed: `sync-collection`, or
/// `etags` for servers without it (each poll compares every card's ETag).
const CHANGE_TRACKING: &str = "change_tracking";
const ETAGS: &str = "etags";
/// Prefix of an ETag-comparison cursor: the JSON map of href → ETag last seen.
const ETAG_CURSOR: &str = "etags:";
/// Cards asked for in one `addressbook-multiget`.
const MULTIGET_CHUNK: usize = 100;
/// Writes in flight at once for one batch.
const WRITES_IN_FLIGHT: usize = 4;
/// A card changed between our read and our write is read and patched again this often.
const PATCH_ATTEMPTS: usize = 3;

pub fn listing() -> AppListing {
    AppListing {
        id: APP_ID.into(),
        name: "CardDAV address book".into(),
        tagline: "Contacts with any CardDAV address book: Nextcloud, iCloud, Fastmail, Radicale."
            .into(),
        description: "Connect an address book with its server URL, your user name and a \
            password (an app password where the server offers them). Tandem finds the \
            address book, pairs its cards with your hub contacts by email, and keeps both \
            in sync: edits, new cards and deletions. Photos and other card details Tandem \
            does not map stay untouched."
            .into(),
        category: "Address book".into(),
        objects: vec![("Address book cards".into(), "contacts".into())],
        two_way: true,
        event_sync: false,
        available: true,
        credential: CredentialKind::Basic,
        oauth: false,
        address_hint: "https://dav.example.com/".into(),
    }
}

pub struct CardDavApp {
    listing: AppListing,
    limits: HttpLimits,
    poll_every: Duration,
}

impl Default for CardDavApp {
    fn default() -> Self {
        CardDavApp {
            listing: listing(),
            limits: HttpLimits::default(),
            poll_every: Duration::from_secs(30),
        }
    }
}

impl CardDavApp {
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn polled_every(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }
}

/// `scheme://host:port` of a URL, and its path.
fn split_url(url: &str) -> Result<(String, String), String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| format!("“{url}” is not a URL ({e}); enter it as https://server/…"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("“{url}” is not an http or https URL."));
    }
    let origin = parsed.origin().ascii_serialization();
    Ok((origin, parsed.path().to_string()))
}

#[async_trait]
impl AppDefinition for CardDavApp {
    fn listing(&self) -> &AppListing {
        &self.listing
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            change_notices: ChangeNotices::Polling(self.poll_every),
            // A create is a PUT to a name made from its idempotency key, with
            // If-None-Match: a retry finds the first card instead of making a second.
            idempotent_creates: true,
            batch_size: BATCH_SIZE,
            associations: false,
            events: false,
            change_feed: true,
        }
    }

    async fn verify_credentials(&self, input: &CredentialInput) -> ConnectorResult<Verified> {
        let (origin, path) = split_url(&input.url).map_err(|message| ConnectorError::Invalid {
            code: "url".into(),
            message,
            field: Some("url".into()),
        })?;
        // One attempt: a person is looking at the form. A large address book can take a
        // busy server a while to describe, so the wait is not short.
        let limits = HttpLimits {
            max_attempts: 1,
            timeout: Duration::from_secs(30),
            ..self.limits.clone()
        };
        let http = AppHttp::new(&origin, Arc::new(StaticToken(input.secret.clone())), limits)
            .with_basic_auth(input.username.trim());
        let books = discover(&http, &path).await?;
        let chosen = match (books.as_slice(), input.choice.as_deref()) {
            ([], _) => {
                return Err(ConnectorError::NotFound {
                    message: "the account has no address book; create one on the server first"
                        .into(),
                })
            }
            ([only], None) => only.clone(),
            (_, Some(choice)) => books
                .iter()
                .find(|b| b.href == choice)
                .cloned()
                .ok_or_else(|| ConnectorError::NotFound {
                    message: format!("the server has no address book at {choice}"),
                })?,
            (several, None) => {
                return Ok(Verified::Choose(
                    several
                        .iter()
                        .map(|b| InstallChoice {
                            id: b.href.clone(),
                            label: b.name.clone(),
                        })
                        .collect(),
                ))
            }
        };
        let username = input.username.trim().to_string();
        Ok(Verified::Account {
            identity: AccountIdentity {
                id: format!("{origin}{}", chosen.href),
                name: format!("{} ({username})", chosen.name),
            },
            settings: ConnectionSettings {
                base_url: Some(format!("{origin}{}", chosen.href)),
                username: Some(username),
                extras: serde_json::Map::from_iter([
                    ("address_book".to_string(), Value::String(chosen.name)),
                    (
                        CHANGE_TRACKING.to_string(),
                        Value::String(
                            if chosen.syncs {
                                "sync-collection"
                            } else {
                                ETAGS
                            }
                            .into(),
                        ),
                    ),
                ]),
            },
        })
    }

    fn connect(
        &self,
        settings: &ConnectionSettings,
        tokens: Arc<dyn TokenSource>,
    ) -> Arc<dyn Connector> {
        let book_url = settings.base_url.clone().unwrap_or_default();
        let (origin, book) = split_url(&book_url).unwrap_or_default();
        let mut http = AppHttp::new(&origin, tokens, self.limits.clone());
        if let Some(user) = &settings.username {
            http = http.with_basic_auth(user);
        }
        Arc::new(CardDavConnector {
            http,
            book: if book.ends_with('/') {
                book
            } else {
                format!("{book}/")
            },
            name: settings
                .extras
                .get("address_book")
                .and_then(Value::as_str)
                .unwrap_or("Address book")
                .to_string(),
            listing: Mutex::new(None),
            by_etags: settings.extras.get(CHANGE_TRACKING).and_then(Value::as_str) == Some(ETAGS),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Book {
    href: String,
    name: String,
    /// The address book reports a sync-token: changes come from sync-collection.
    syncs: bool,
}

/// The address books the credentials reach from `path`: `path` itself when it is one,
/// else those of the user's address book home (RFC 6352 §7.1, RFC 5397).
async fn discover(http: &AppHttp, path: &str) -> ConnectorResult<Vec<Book>> {
    let here = if path.is_empty() { "/" } else { path };
    let answer = propfind(http, here, "1", dav::PROPFIND_COLLECTIONS).await?;
    let books = books_of(&answer);
    if !books.is_empty() {
        return Ok(books);
    }
    // Not an address book (nor the home of some): follow the principal to its home.
    let principal = propfind(http, here, "0", dav::PROPFIND_PRINCIPAL).await?;
    let principal_href = principal
        .responses
        .iter()
        .find_map(|r| r.prop("current-user-principal"))
        .map(str::to_string);
    let home = match principal
        .responses
        .iter()
        .find_map(|r| r.prop("addressbook-home-set"))
    {
        Some(home) => home.to_string(),
        None => {
            let principal_href = principal_href
                .ok_or_else(|| not_carddav("it does not name the signed-in user's principal"))?;
            let answer = propfind(http, &principal_href, "0", dav::PROPFIND_PRINCIPAL).await?;
            answer
                .responses
                .iter()
                .find_map(|r| r.prop("addressbook-home-set"))
                .map(str::to_string)
                .ok_or_else(|| not_carddav("the user has no address book home"))?
        }
    };
    let answer = propfind(http, &home, "1", dav::PROPFIND_COLLECTIONS).await?;
    Ok(books_of(&answer))
}

fn books_of(answer: &Multistatus) -> Vec<Book> {
    let mut books: Vec<Book> = answer
        .responses
        .iter()
        .filter(|r| r.is_addressbook)
        .map(|r| Book {
            href: r.href.clone(),
            name: r
                .prop("displayname")
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    r.href
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_string()
                }),
            syncs: r.prop("sync-token").is_some_and(|t| !t.is_empty()),
        })
        .collect();
    books.sort_by(|a, b| a.href.cmp(&b.href));
    books
}

fn not_carddav(why: &str) -> ConnectorError {
    ConnectorError::Permanent {
        message: format!("this URL does not look like a CardDAV server: {why}"),
    }
}

/// Statuses a web server that is not a WebDAV one answers a PROPFIND with: they mean
/// "not CardDAV here" (or "nothing here"), not a failure to retry.
const NOT_DAV: [StatusCode; 4] = [
    StatusCode::BAD_REQUEST,
    StatusCode::NOT_FOUND,
    StatusCode::METHOD_NOT_ALLOWED,
    StatusCode::NOT_IMPLEMENTED,
];

async fn propfind(
    http: &AppHttp,
    path: &str,
    depth: &str,
    body: &str,
) -> ConnectorResult<Multistatus> {
    let answer = xml_request(http, b"PROPFIND", path, depth, body.to_string(), &NOT_DAV).await?;
    multistatus(&answer)
}

/// A WebDAV request with an XML body (PROPFIND, REPORT) and its `Depth`.
async fn xml_request(
    http: &AppHttp,
    method: &[u8],
    path: &str,
    depth: &str,
    body: String,
    accept: &[StatusCode],
) -> ConnectorResult<Answer> {
    let method = Method::from_bytes(method).expect("a valid method");
    http.send(method, path, accept, |r| {
        r.header("Depth", depth)
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body.clone())
    })
    .await
}

fn multistatus(answer: &Answer) -> ConnectorResult<Multistatus> {
    if answer.status == StatusCode::NOT_FOUND {
        return Err(ConnectorError::NotFound {
            message: "there is no address book (nor anything else) at this address on the \
                      server (HTTP 404)"
                .into(),
        });
    }
    if answer.status != StatusCode::MULTI_STATUS {
        return Err(not_carddav(&format!(
            "it answered HTTP {} where a WebDAV server answers 207 Multi-Status",
            answer.status.as_u16()
        )));
    }
    parse_multistatus(&answer.body).map_err(|e| not_carddav(&e))
}

/// One connected address book.
pub struct CardDavConnector {
    http: AppHttp,
    /// The address book's path, ending in `/`.
    book: String,
    name: String,
    /// The server has no sync-collection: changes are found by comparing ETags.
    by_etags: bool,
    /// The members of the listing in progress, read once when it starts (cursor
    /// `None`) and paged from memory: the listing is then one PROPFIND, not one a page.
    listing: Mutex<Option<Vec<String>>>,
}

/// A card as stored: where it is, its version tag and its text.
struct StoredCard {
    href: String,
    etag: Option<String>,
    text: String,
}

impl CardDavConnector {
    fn check(&self, object: &str) -> ConnectorResult<()> {
        if object == card::OBJECT {
            Ok(())
        } else {
            Err(ConnectorError::NotFound {
                message: format!("an address book has no object “{object}”; it has cards"),
            })
        }
    }

    /// A REPORT on the address book.
    async fn report(
        &self,
        depth: &str,
        body: String,
        accept: &[StatusCode],
    ) -> ConnectorResult<Answer> {
        xml_request(&self.http, b"REPORT", &self.book, depth, body, accept).await
    }

    /// The members' hrefs, sorted (the address book itself left out).
    async fn members(&self) -> ConnectorResult<Vec<String>> {
        Ok(self.etags().await?.into_keys().collect())
    }

    /// Every member's href with its ETag, in href order (the address book left out).
    async fn etags(&self) -> ConnectorResult<BTreeMap<String, String>> {
        let answer = propfind(&self.http, &self.book, "1", dav::PROPFIND_ETAGS).await?;
        Ok(answer
            .responses
            .into_iter()
            .filter(|r| r.href.trim_end_matches('/') != self.book.trim_end_matches('/'))
            .map(|r| {
                let etag = r.prop("getetag").unwrap_or_default().to_string();
                (r.href, etag)
            })
            .collect())
    }

    /// Changes by ETag comparison, for servers without sync-collection.
    async fn changes_by_etags(&self, cursor: Option<&str>) -> ConnectorResult<ChangePage> {
        let before: BTreeMap<String, String> = match cursor.map(|c| c.strip_prefix(ETAG_CURSOR)) {
            None => BTreeMap::new(),
            Some(Some(json)) => serde_json::from_str(json).map_err(|_| expired_etags())?,
            Some(None) => return Err(expired_etags()),
        };
        let now = self.etags().await?;
        let (changed, deleted) = etag_changes(&before, &now);
        let mut records = self.records(&self.multiget(&changed).await?);
        records.extend(deleted.into_iter().map(tombstone));
        Ok(ChangePage {
            records,
            cursor: etag_cursor(&now),
            has_more: false,
        })
    }

    /// The cards at `hrefs`, read in chunks; missing ones are left out.
    async fn multiget(&self, hrefs: &[String]) -> ConnectorResult<Vec<StoredCard>> {
        let mut out = Vec::with_capacity(hrefs.len());
        for chunk in hrefs.chunks(MULTIGET_CHUNK) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let answer = self.report("1", dav::multiget(&refs), &[]).await?;
            out.extend(
                multistatus(&answer)?
                    .responses
                    .into_iter()
                    .filter_map(stored),
            );
        }
        Ok(out)
    }

    async fn get(&self, href: &str) -> ConnectorResult<Option<StoredCard>> {
        let answer = self
            .http
            .send(Method::GET, href, &[StatusCode::NOT_FOUND], |r| r)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(StoredCard {
            href: href.to_string(),
            etag: answer.header("etag").map(str::to_string),
            text: answer.body,
        }))
    }

    /// PUT of a card: a create when `etag` is `None` (If-None-Match), else an update of
    /// that version (If-Match). `Ok(false)`: the precondition failed (412).
    async fn put(&self, href: &str, etag: Option<&str>, text: &str) -> ConnectorResult<bool> {
        let answer = self
            .http
            .send(Method::PUT, href, &[StatusCode::PRECONDITION_FAILED], |r| {
                let r = r
                    .header("Content-Type", "text/vcard; charset=utf-8")
                    .body(text.to_string());
                match etag {
                    Some(tag) => r.header("If-Match", tag),
                    None => r.header("If-None-Match", "*"),
                }
            })
            .await?;
        Ok(answer.status != StatusCode::PRECONDITION_FAILED)
    }

    fn record(&self, stored: &StoredCard) -> ConnectorResult<AppRecord> {
        let parsed = card::parse(&stored.text).map_err(|message| ConnectorError::Invalid {
            code: "invalid_card".into(),
            message: format!("{}: {message}", stored.href),
            field: None,
        })?;
        Ok(AppRecord {
            id: stored.href.clone(),
            properties: card::read(&parsed),
            associations: Default::default(),
            updated_at: None,
            deleted: false,
        })
    }

    fn records(&self, cards: &[StoredCard]) -> Vec<AppRecord> {
        // A card no vCard parser can read is skipped, not a reason to stop the sync.
        cards
            .iter()
            .filter_map(|c| match self.record(c) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(href = %c.href, error = %e, "unreadable card skipped");
                    None
                }
            })
            .collect()
    }

    async fn sync_token(&self) -> ConnectorResult<String> {
        let answer = propfind(&self.http, &self.book, "0", dav::PROPFIND_COLLECTIONS).await?;
        answer
            .responses
            .iter()
            .find_map(|r| r.prop("sync-token"))
            .map(str::to_string)
            .ok_or_else(|| ConnectorError::Permanent {
                message: "the address book reports no sync-token; this server cannot \
                          follow changes (RFC 6578)"
                    .into(),
            })
    }

    async fn write_one(&self, w: RecordWrite) -> ConnectorResult<WriteResult> {
        match &w.id {
            None => self.create(w).await,
            Some(href) => self.update(href, &w).await,
        }
    }

    async fn create(&self, w: RecordWrite) -> ConnectorResult<WriteResult> {
        let name = w
            .idempotency_key
            .as_deref()
            .map(|k| {
                k.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
            .filter(|k: &String| !k.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let href = format!("{}{name}.vcf", self.book);
        let text = card::write(&card::create(&name, &w.properties));
        match self.put(&href, None, &text).await {
            // Created now, or by an earlier attempt with the same key.
            Ok(_) => {}
            // 409: the UID is another card's; 400: the server could not read the card.
            Err(ConnectorError::Invalid { message, .. }) => {
                let uid_taken = message.starts_with("HTTP 409");
                return Ok(Err(ItemError {
                    code: if uid_taken {
                        "conflict"
                    } else {
                        "invalid_card"
                    }
                    .into(),
                    message: if uid_taken {
                        "the address book refused the card: another card already has its UID".into()
                    } else {
                        format!("the address book refused the card ({message})")
                    },
                    field: uid_taken.then(|| "uid".to_string()),
                }));
            }
            Err(e) => return Err(e),
        }
        let stored = self
            .get(&href)
            .await?
            .ok_or_else(|| ConnectorError::Transient {
                message: "the card just written cannot be read back".into(),
            })?;
        Ok(Ok(self.record(&stored)?))
    }

    /// Patches the mapped fields into the stored card. A 412 means the card changed
    /// since our read: it is read again and patched again, so the app's change to other
    /// fields is kept as well as ours.
    async fn update(&self, href: &str, w: &RecordWrite) -> ConnectorResult<WriteResult> {
        for _ in 0..PATCH_ATTEMPTS {
            let Some(stored) = self.get(href).await? else {
                return Ok(Err(ItemError {
                    code: "not_found".into(),
                    message: format!("the card {href} is no longer in the address book"),
                    field: None,
                }));
            };
            let mut parsed = match card::parse(&stored.text) {
                Ok(c) => c,
                Err(message) => {
                    return Ok(Err(ItemError {
                        code: "invalid_card".into(),
                        message,
                        field: None,
                    }))
                }
            };
            card::patch(&mut parsed, &w.properties);
            let text = card::write(&parsed);
            let etag = stored.etag.as_deref().unwrap_or("*");
            if self.put(href, Some(etag), &text).await? {
                let fresh = self.get(href).await?.unwrap_or(StoredCard {
                    href: href.to_string(),
                    etag: None,
                    text,
                });
                return Ok(Ok(self.record(&fresh)?));
            }
        }
        Err(ConnectorError::Transient {
            message: format!("the card {href} kept changing while Tandem wrote it"),
        })
    }
}

/// Hrefs that are new or changed since `before`, and those gone.
fn etag_changes(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let changed = now
        .iter()
        .filter(|(href, etag)| before.get(*href) != Some(*etag))
        .map(|(href, _)| href.clone())
        .collect();
    let deleted = before
        .keys()
        .filter(|h| !now.contains_key(*h))
        .cloned()
        .collect();
    (changed, deleted)
}

fn etag_cursor(etags: &BTreeMap<String, String>) -> String {
    format!(
        "{ETAG_CURSOR}{}",
        serde_json::to_string(etags).unwrap_or_default()
    )
}

fn expired_etags() -> ConnectorError {
    ConnectorError::CursorExpired {
        message: "the saved card versions are not readable".into(),
    }
}

/// A card deleted in the address book.
fn tombstone(href: String) -> AppRecord {
    AppRecord {
        id: href,
        properties: Default::default(),
        associations: Default::default(),
        updated_at: None,
        deleted: true,
    }
}

/// A multistatus member that carried its card.
fn stored(r: DavResponse) -> Option<StoredCard> {
    let text = r.props.get("address-data")?.clone();
    Some(StoredCard {
        etag: r.props.get("getetag").cloned(),
        href: r.href,
        text,
    })
}

#[async_trait]
impl Connector for CardDavConnector {
    async fn identity(&self) -> ConnectorResult<AccountIdentity> {
        Ok(AccountIdentity {
            id: format!("{}{}", self.http.base_url(), self.book),
            name: self.name.clone(),
        })
    }

    async fn objects(&self) -> ConnectorResult<Vec<AppObject>> {
        Ok(vec![AppObject {
            name: card::OBJECT.into(),
            label: "Address book cards".into(),
            hub_object: "contacts".into(),
            fields: card::fields(),
            identifier_fields: vec!["email".into()],
            pipeline_fields: None,
        }])
    }

    async fn list(
        &self,
        object: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> ConnectorResult<RecordPage> {
        self.check(object)?;
        let cached = self
            .listing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let members = match (cursor, cached) {
            (Some(_), Some(m)) => m,
            _ => {
                let m = self.members().await?;
                *self.listing.lock().unwrap_or_else(|p| p.into_inner()) = Some(m.clone());
                m
            }
        };
        // The cursor is the last href of the previous page: members sort by href.
        let start = cursor.map_or(0, |c| members.partition_point(|h| h.as_str() <= c));
        let page: Vec<String> = members
            .iter()
            .skip(start)
            .take(limit.max(1))
            .cloned()
            .collect();
        let cards = self.multiget(&page).await?;
        let next_cursor = (start + page.len() < members.len())
            .then(|| page.last().cloned())
            .flatten();
        Ok(RecordPage {
            records: self.records(&cards),
            next_cursor,
        })
    }

    async fn changes(
        &self,
        object: &str,
        cursor: Option<&str>,
        _limit: usize,
    ) -> ConnectorResult<ChangePage> {
        self.check(object)?;
        if self.by_etags {
            return self.changes_by_etags(cursor).await;
        }
        let body = dav::sync_collection(cursor.unwrap_or(""));
        let refused = [StatusCode::FORBIDDEN, StatusCode::CONFLICT];
        let answer = self.report("0", body, &refused).await?;
        if matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::CONFLICT) {
            return Err(if answer.body.contains("valid-sync-token") {
                ConnectorError::CursorExpired {
                    message: "the address book no longer accepts Tandem's sync token".into(),
                }
            } else {
                ConnectorError::Permission {
                    message: format!(
                        "the server refused to report changes (HTTP {})",
                        answer.status.as_u16()
                    ),
                }
            });
        }
        let m = multistatus(&answer)?;
        let token = m
            .sync_token
            .clone()
            .ok_or_else(|| ConnectorError::Permanent {
                message: "the server's change report has no sync-token".into(),
            })?;
        let mut changed = Vec::new();
        let mut records = Vec::new();
        for r in m.responses {
            if r.href.trim_end_matches('/') == self.book.trim_end_matches('/') {
                continue;
            }
            if r.status == Some(404) {
                records.push(tombstone(r.href));
            } else {
                changed.push(r.href);
            }
        }
        let cards = self.multiget(&changed).await?;
        // A card listed as changed but gone by the time we read it was deleted.
        let found: std::collections::HashSet<&str> =
            cards.iter().map(|c| c.href.as_str()).collect();
        let gone: Vec<AppRecord> = changed
            .iter()
            .filter(|h| !found.contains(h.as_str()))
            .map(|h| tombstone(h.clone()))
            .collect();
        records.extend(self.records(&cards));
        records.extend(gone);
        Ok(ChangePage {
            records,
            cursor: token,
            has_more: false,
        })
    }

    async fn latest_change_cursor(&self, object: &str) -> ConnectorResult<String> {
        self.check(object)?;
        if self.by_etags {
            Ok(etag_cursor(&self.etags().await?))
        } else {
            self.sync_token().await
        }
    }

    async fn read(&self, object: &str, ids: &[String]) -> ConnectorResult<Vec<AppRecord>> {
        self.check(object)?;
        let cards = self.multiget(ids).await?;
        Ok(self.records(&cards))
    }

    async fn write(
        &self,
        object: &str,
        writes: Vec<RecordWrite>,
    ) -> ConnectorResult<Vec<WriteResult>> {
        self.check(object)?;
        stream::iter(writes.into_iter().map(|w| self.write_one(w)))
            .buffered(WRITES_IN_FLIGHT)
            .try_collect()
            .await
    }

    async fn delete(&self, object: &str, id: &str) -> ConnectorResult<()> {
        self.check(object)?;
        for _ in 0..PATCH_ATTEMPTS {
            let Some(stored) = self.get(id).await? else {
                return Ok(());
            };
            let etag = stored.etag.unwrap_or_else(|| "*".into());
            let answer = self
                .http
                .send(
                    Method::DELETE,
                    id,
                    &[StatusCode::PRECONDITION_FAILED, StatusCode::NOT_FOUND],
                    |r| r.header("If-Match", etag.as_str()),
                )
                .await?;
            if answer.status != StatusCode::PRECONDITION_FAILED {
                return Ok(());
            }
        }
        Err(ConnectorError::Transient {
            message: format!("the card {id} kept changing while Tandem deleted it"),
        })
    }

    async fn find(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> ConnectorResult<Vec<AppRecord>> {
        self.check(object)?;
        if field != "email" {
            return Ok(Vec::new());
        }
        let answer = self.report("1", dav::query_email(value), &[]).await?;
        let cards: Vec<StoredCard> = multistatus(&answer)?
            .responses
            .into_iter()
            .filter_map(stored)
            .collect();
        // The server's text match may be looser than ours: keep exact matches only.
        Ok(self
            .records(&cards)
            .into_iter()
            .filter(|r| {
                let emails = [r.properties.get("email"), r.properties.get("other_emails")];
                emails
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|e| {
                        e.split(',')
                            .any(|one| one.trim().eq_ignore_ascii_case(value.trim()))
                    })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_changes_are_new_changed_and_gone_cards() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(h, e)| (h.to_string(), e.to_string()))
                .collect()
        };
        let before = map(&[("/a.vcf", "1"), ("/b.vcf", "1"), ("/c.vcf", "1")]);
        let now = map(&[("/a.vcf", "1"), ("/b.vcf", "2"), ("/d.vcf", "1")]);
        let (changed, deleted) = etag_changes(&before, &now);
        assert_eq!(changed, vec!["/b.vcf", "/d.vcf"]);
        assert_eq!(deleted, vec!["/c.vcf"]);
        assert_eq!(etag_changes(&now, &now), (vec![], vec![]));
    }
}
