//! `tandem demo-app seed`: fills an account with deterministic, realistically messy data
//! — emails differing only by case or spaces, contacts without email, invalid emails,
//! unicode names, companies sharing a name but not a domain (and the reverse) — fast
//! enough for 100,000 contacts (COPY in one transaction). The account and its admin
//! user `<account>-admin` / `demo` are created when missing, with two deal pipelines.

use super::db;
use super::records::{self, Sequence};
use chrono::{DateTime, Duration, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

pub const DEMO_PASSWORD: &str = "demo";

/// The stages of the main pipeline: close to, but not the same as, the hub's
/// HubSpot-style defaults, so auto-mapping has real work to do.
pub const SALES_STAGES: [&str; 7] = [
    "Appointment Set",
    "Qualified",
    "Presentation Given",
    "Decision Maker Bought In",
    "Contract Sent",
    "Won",
    "Lost",
];
pub const RENEWAL_STAGES: [&str; 4] = ["Renewal Due", "In Negotiation", "Renewed", "Churned"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOptions {
    pub account: String,
    #[serde(default)]
    pub contacts: u32,
    #[serde(default)]
    pub companies: u32,
    #[serde(default)]
    pub deals: u32,
    #[serde(default)]
    pub invoices: u32,
    /// Email events; `None`: one for every fourth contact.
    #[serde(default)]
    pub events: Option<u32>,
    /// Add nothing when the account already has records.
    #[serde(default)]
    pub if_empty: bool,
}

impl SeedOptions {
    pub fn empty(account: &str) -> Self {
        SeedOptions {
            account: account.to_string(),
            contacts: 0,
            companies: 0,
            deals: 0,
            invoices: 0,
            events: Some(0),
            if_empty: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    pub account: String,
    pub account_id: String,
    pub username: String,
    pub password: String,
    /// Whether anything was added (`false` with `if_empty` on a filled account).
    pub seeded: bool,
    pub contacts: u32,
    pub companies: u32,
    pub deals: u32,
    pub invoices: u32,
    pub events: u32,
}

pub fn check_account_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid account name: use lower-case letters, digits and dashes, like `acme`."
        ))
    }
}

pub fn admin_username(account: &str) -> String {
    format!("{account}-admin")
}

fn label_of(account: &str) -> String {
    account
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The account, its admin user and its pipelines, created when missing.
pub async fn ensure_account(pool: &PgPool, account: &str) -> anyhow::Result<db::Account> {
    check_account_name(account).map_err(anyhow::Error::msg)?;
    let acc = db::ensure_account(pool, account, &label_of(account)).await?;
    db::ensure_user(
        pool,
        acc.id,
        &admin_username(account),
        &format!("{} Admin", label_of(account)),
        DEMO_PASSWORD,
    )
    .await?;
    let mut tx = pool.begin().await?;
    // Serialises concurrent seeds of the same account.
    let seq = Sequence::lock(&mut tx, acc.id).await?;
    let has: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pipelines WHERE account_id = $1)")
            .bind(acc.id)
            .fetch_one(&mut *tx)
            .await?;
    if !has {
        records::create_pipeline(&mut tx, acc.id, "Sales Process", 0, &SALES_STAGES).await?;
        records::create_pipeline(&mut tx, acc.id, "Renewals", 1, &RENEWAL_STAGES).await?;
    }
    seq.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(acc)
}

pub async fn seed(pool: &PgPool, opts: &SeedOptions) -> anyhow::Result<SeedReport> {
    let account = ensure_account(pool, &opts.account).await?;
    let mut report = SeedReport {
        account: account.name.clone(),
        account_id: account.id.to_string(),
        username: admin_username(&account.name),
        password: DEMO_PASSWORD.into(),
        seeded: false,
        contacts: 0,
        companies: 0,
        deals: 0,
        invoices: 0,
        events: 0,
    };
    let mut tx = pool.begin().await?;
    let mut seq = Sequence::lock(&mut tx, account.id).await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM records WHERE account_id = $1")
        .bind(account.id)
        .fetch_one(&mut *tx)
        .await?;
    if opts.if_empty && existing > 0 {
        return Ok(report);
    }
    // Same account and same starting point → same data; a second seed adds new data.
    let digest = Sha256::digest(format!("{}:{existing}", account.name).as_bytes());
    let mut seed_bytes = [0u8; 32];
    seed_bytes.copy_from_slice(&digest);
    let mut rng = ChaCha8Rng::from_seed(seed_bytes);
    let stages = records::pipelines(&mut tx, account.id).await?;
    let now = Utc::now();

    let total = (opts.companies + opts.contacts + opts.deals + opts.invoices) as i64;
    // Ids are taken up front so that associations can be written with COPY too.
    let sequence: String = sqlx::query_scalar("SELECT pg_get_serial_sequence('records', 'id')")
        .fetch_one(&mut *tx)
        .await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT nextval($1::regclass) FROM generate_series(1, $2)")
            .bind(&sequence)
            .bind(total)
            .fetch_all(&mut *tx)
            .await?;
    let mut ids = ids.into_iter();
    let mut rows = RecordRows::new(account.id);
    let mut links: Vec<(i64, &'static str, i64, &'static str)> = Vec::new();

    // Companies.
    let mut companies: Vec<(i64, String)> = Vec::new();
    let mut domains: Vec<String> = Vec::new();
    for i in 0..opts.companies {
        let id = ids.next().unwrap_or_default();
        let roll: f64 = rng.gen();
        let (name, domain) = if roll < 0.06 && !companies.is_empty() {
            // The same name as an earlier company, another domain (a subsidiary, a typo).
            let (_, earlier) = companies[rng.gen_range(0..companies.len())].clone();
            let d = format!(
                "{}-{}.{}",
                slug(&earlier),
                ["group", "intl", "hq"][rng.gen_range(0..3)],
                pick(&mut rng, TLDS)
            );
            (earlier, Some(d))
        } else if roll < 0.10 && !domains.is_empty() {
            // Another name for an earlier domain (rebranding, legal vs trading name).
            let d = domains[rng.gen_range(0..domains.len())].clone();
            (
                format!(
                    "{} {}",
                    pick(&mut rng, COMPANY_WORDS),
                    pick(&mut rng, COMPANY_SUFFIXES)
                ),
                Some(d),
            )
        } else {
            let base = COMPANY_NAMES[i as usize % COMPANY_NAMES.len()];
            let name = if (i as usize) < COMPANY_NAMES.len() {
                base.to_string()
            } else {
                format!(
                    "{base} {} {}",
                    pick(&mut rng, COMPANY_SUFFIXES),
                    i / COMPANY_NAMES.len() as u32
                )
            };
            let domain = (rng.gen::<f64>() >= 0.1)
                .then(|| format!("{}.{}", slug(&name), pick(&mut rng, TLDS)));
            (name, domain)
        };
        let (city, country) = *pick(&mut rng, CITIES);
        let mut p = Map::new();
        p.insert("name".into(), json!(name));
        if let Some(d) = &domain {
            p.insert("domain".into(), json!(d));
            domains.push(d.clone());
        }
        p.insert(
            "industry".into(),
            json!(pick(&mut rng, super::objects::INDUSTRIES).0),
        );
        p.insert("city".into(), json!(city));
        p.insert("country".into(), json!(country));
        if rng.gen_bool(0.85) {
            p.insert("employee_count".into(), json!(rng.gen_range(1..5000)));
        }
        let (created, updated) = times(&mut rng, now);
        rows.push(id, "companies", &p, created, updated, seq.advance());
        companies.push((id, name));
    }

    // Contacts.
    let mut emails: Vec<String> = Vec::new();
    let mut contacts: Vec<i64> = Vec::new();
    let mut with_email: Vec<i64> = Vec::new();
    for i in 0..opts.contacts {
        let id = ids.next().unwrap_or_default();
        let (first, first_ascii) = *pick(&mut rng, FIRST_NAMES);
        let (last, last_ascii) = *pick(&mut rng, LAST_NAMES);
        let company = (!companies.is_empty() && rng.gen_bool(0.75))
            .then(|| companies[rng.gen_range(0..companies.len())].clone());
        let domain = match &company {
            Some((_, name)) => format!("{}.{}", slug(name), pick(&mut rng, TLDS)),
            None => pick(&mut rng, FREEMAIL).to_string(),
        };
        let local = format!("{first_ascii}.{last_ascii}{i}").to_lowercase();
        let roll: f64 = rng.gen();
        let email = if roll < 0.04 {
            None
        } else if roll < 0.07 {
            Some(match rng.gen_range(0..5) {
                0 => format!("{local}@"),
                1 => format!("{local} at {domain}"),
                2 => format!("{local}@@{domain}"),
                3 => format!("@{domain}"),
                _ => format!("{local}@{domain}."),
            })
        } else if roll < 0.12 && !emails.is_empty() {
            // Someone entered twice: the same address in other case or with spaces.
            let earlier = emails[rng.gen_range(0..emails.len())].clone();
            Some(match rng.gen_range(0..3) {
                0 => earlier.to_uppercase(),
                1 => format!("  {earlier} "),
                _ => capitalise_parts(&earlier),
            })
        } else {
            let e = format!("{local}@{domain}");
            emails.push(e.clone());
            Some(e)
        };
        let mut p = Map::new();
        if let Some(e) = &email {
            p.insert("email".into(), json!(e));
        }
        if rng.gen_bool(0.95) {
            p.insert("first_name".into(), json!(first));
        }
        // A contact always has an email or a last name, as the app requires.
        if email.is_none() || rng.gen_bool(0.95) {
            p.insert("last_name".into(), json!(last));
        }
        if rng.gen_bool(0.8) {
            p.insert("phone".into(), json!(phone(&mut rng)));
        }
        if let Some((_, name)) = &company {
            p.insert("company_name".into(), json!(name));
        }
        if rng.gen_bool(0.7) {
            p.insert("job_title".into(), json!(pick(&mut rng, JOB_TITLES)));
        }
        if rng.gen_bool(0.9) {
            p.insert(
                "lifecycle_stage".into(),
                json!(pick(&mut rng, super::objects::LIFECYCLE_STAGES).0),
            );
        }
        let (created, updated) = times(&mut rng, now);
        rows.push(id, "contacts", &p, created, updated, seq.advance());
        if let Some((company_id, _)) = company {
            links.push((id, "contacts", company_id, "companies"));
        }
        contacts.push(id);
        if email.is_some() {
            with_email.push(id);
        }
    }

    // Deals.
    for _ in 0..opts.deals {
        let id = ids.next().unwrap_or_default();
        let pipeline = if stages.len() > 1 && rng.gen_bool(0.15) {
            &stages[1]
        } else {
            &stages[0]
        };
        let stage = pipeline
            .stages
            .choose(&mut rng)
            .map(|s| s.id)
            .unwrap_or_default();
        let company =
            (!companies.is_empty()).then(|| companies[rng.gen_range(0..companies.len())].clone());
        let title = match &company {
            Some((_, name)) => format!("{name} – {}", pick(&mut rng, PRODUCTS)),
            None => pick(&mut rng, PRODUCTS).to_string(),
        };
        let mut p = Map::new();
        p.insert("title".into(), json!(title));
        let value: f64 = (rng.gen_range(500.0..200_000.0_f64) * 100.0).round() / 100.0;
        p.insert("value".into(), json!(value));
        p.insert(
            "currency".into(),
            json!(pick(&mut rng, super::objects::CURRENCIES).0),
        );
        p.insert("pipeline_id".into(), json!(pipeline.id.to_string()));
        p.insert("stage_id".into(), json!(stage.to_string()));
        if rng.gen_bool(0.8) {
            let close = now.date_naive() + Duration::days(rng.gen_range(-180..180));
            p.insert(
                "close_date".into(),
                json!(close.format("%Y-%m-%d").to_string()),
            );
        }
        let (created, updated) = times(&mut rng, now);
        rows.push(id, "deals", &p, created, updated, seq.advance());
        if let Some((company_id, _)) = company {
            links.push((id, "deals", company_id, "companies"));
        }
        if !contacts.is_empty() {
            for _ in 0..rng.gen_range(1..=2) {
                let c = contacts[rng.gen_range(0..contacts.len())];
                if !links.iter().rev().take(3).any(|l| l.0 == id && l.2 == c) {
                    links.push((id, "deals", c, "contacts"));
                }
            }
        }
    }

    // Invoices.
    let year = now.format("%Y").to_string();
    for i in 0..opts.invoices {
        let id = ids.next().unwrap_or_default();
        let mut p = Map::new();
        p.insert(
            "invoice_number".into(),
            json!(format!("INV-{year}-{:05}", existing as u32 + i + 1)),
        );
        let total: f64 = (rng.gen_range(50.0..50_000.0_f64) * 100.0).round() / 100.0;
        p.insert("total".into(), json!(total));
        p.insert(
            "currency".into(),
            json!(pick(&mut rng, super::objects::CURRENCIES).0),
        );
        p.insert(
            "status".into(),
            json!(pick(&mut rng, super::objects::INVOICE_STATUSES).0),
        );
        let due = now.date_naive() + Duration::days(rng.gen_range(-90..60));
        p.insert("due_date".into(), json!(due.format("%Y-%m-%d").to_string()));
        let (created, updated) = times(&mut rng, now);
        rows.push(id, "invoices", &p, created, updated, seq.advance());
        if !contacts.is_empty() {
            links.push((
                id,
                "invoices",
                contacts[rng.gen_range(0..contacts.len())],
                "contacts",
            ));
        }
    }

    rows.copy(&mut tx).await?;
    copy_links(&mut tx, account.id, &links).await?;

    // Email events of contacts that have an email.
    let n_events = opts.events.unwrap_or(opts.contacts / 4);
    let mut events_csv = String::new();
    let mut n_written = 0u32;
    if !with_email.is_empty() {
        for _ in 0..n_events {
            let contact = with_email[rng.gen_range(0..with_email.len())];
            let clicked = rng.gen_bool(0.3);
            let subject = *pick(&mut rng, SUBJECTS);
            let mut props = json!({"subject": subject, "campaign": format!("{} newsletter", label_of(&account.name))});
            if clicked {
                props["url"] = json!(format!(
                    "https://www.{}.example/{}",
                    account.name,
                    pick(&mut rng, PAGES)
                ));
            }
            let at = now - Duration::seconds(rng.gen_range(60..60 * 60 * 24 * 60));
            csv_row(
                &mut events_csv,
                &[
                    &account.id.to_string(),
                    &contact.to_string(),
                    if clicked {
                        "email.clicked"
                    } else {
                        "email.opened"
                    },
                    &at.to_rfc3339(),
                    &props.to_string(),
                    &seq.advance().to_string(),
                ],
            );
            n_written += 1;
        }
        copy_csv(
            &mut tx,
            "COPY email_events (account_id, contact_id, type, occurred_at, properties, seq) FROM STDIN WITH (FORMAT csv)",
            events_csv,
        )
        .await?;
    }

    seq.finish(&mut tx).await?;
    tx.commit().await?;
    report.seeded = true;
    report.companies = opts.companies;
    report.contacts = opts.contacts;
    report.deals = opts.deals;
    report.invoices = opts.invoices;
    report.events = n_written;
    Ok(report)
}

/// Records as CSV for COPY, sent in chunks so 100,000 rows never sit in one buffer.
struct RecordRows {
    account: String,
    buf: String,
    chunks: Vec<String>,
}

impl RecordRows {
    fn new(account_id: i64) -> Self {
        RecordRows {
            account: account_id.to_string(),
            buf: String::new(),
            chunks: Vec::new(),
        }
    }

    fn push(
        &mut self,
        id: i64,
        object: &str,
        p: &Map<String, Value>,
        created: DateTime<Utc>,
        updated: DateTime<Utc>,
        seq: i64,
    ) {
        let props = Value::Object(p.clone()).to_string();
        csv_row(
            &mut self.buf,
            &[
                &id.to_string(),
                &self.account,
                object,
                &props,
                &created.to_rfc3339(),
                &updated.to_rfc3339(),
                &seq.to_string(),
            ],
        );
        if self.buf.len() > 1 << 20 {
            self.chunks.push(std::mem::take(&mut self.buf));
        }
    }

    async fn copy(mut self, conn: &mut PgConnection) -> sqlx::Result<()> {
        self.chunks.push(std::mem::take(&mut self.buf));
        let mut copy = conn
            .copy_in_raw(
                "COPY records (id, account_id, object, properties, created_at, updated_at, change_seq)
                 FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        for chunk in self.chunks {
            copy.send(chunk.into_bytes()).await?;
        }
        copy.finish().await?;
        Ok(())
    }
}

async fn copy_links(
    conn: &mut PgConnection,
    account_id: i64,
    links: &[(i64, &str, i64, &str)],
) -> sqlx::Result<()> {
    let mut csv = String::new();
    let mut seen = std::collections::HashSet::new();
    for (from, from_object, to, to_object) in links {
        if seen.insert((*from, *to)) {
            csv_row(
                &mut csv,
                &[
                    &account_id.to_string(),
                    &from.to_string(),
                    from_object,
                    &to.to_string(),
                    to_object,
                ],
            );
        }
    }
    copy_csv(
        conn,
        "COPY associations (account_id, from_id, from_object, to_id, to_object) FROM STDIN WITH (FORMAT csv)",
        csv,
    )
    .await
}

async fn copy_csv(conn: &mut PgConnection, statement: &str, csv: String) -> sqlx::Result<()> {
    if csv.is_empty() {
        return Ok(());
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(csv.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// One CSV line; every field quoted, quotes doubled.
fn csv_row(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    }
    out.push('\n');
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// Created within the last two years, updated some time after.
fn times(rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let created = now - Duration::seconds(rng.gen_range(3600..730 * 24 * 3600));
    let span = (now - created).num_seconds().max(1);
    let updated = created + Duration::seconds(rng.gen_range(0..span));
    (created, updated)
}

fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        let c = match c {
            'ä' | 'á' | 'à' | 'ã' | 'â' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'ö' | 'ó' | 'ô' | 'ø' => 'o',
            'ü' | 'ú' => 'u',
            'í' | 'ï' => 'i',
            'ç' => 'c',
            'ł' => 'l',
            'ß' => 's',
            c => c.to_ascii_lowercase(),
        };
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

fn capitalise_parts(email: &str) -> String {
    email
        .split('.')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn phone(rng: &mut ChaCha8Rng) -> String {
    let n: u32 = rng.gen_range(1000..9999);
    match rng.gen_range(0..5) {
        0 => format!("+44 20 7946 {n}"),
        1 => format!("(555) 010-{n}"),
        2 => format!("+49 30 1234{n}"),
        3 => format!("0033 1 42 68 {n}"),
        _ => format!("+1-202-555-{n}"),
    }
}

const FIRST_NAMES: &[(&str, &str)] = &[
    ("Anna", "anna"),
    ("Ben", "ben"),
    ("Chloé", "chloe"),
    ("David", "david"),
    ("Émile", "emile"),
    ("Fatima", "fatima"),
    ("Giulia", "giulia"),
    ("Hannah", "hannah"),
    ("Igor", "igor"),
    ("Jürgen", "juergen"),
    ("Kenji", "kenji"),
    ("Łukasz", "lukasz"),
    ("María José", "mariajose"),
    ("Noor", "noor"),
    ("Olivia", "olivia"),
    ("Priya", "priya"),
    ("Renée", "renee"),
    ("Saoirse", "saoirse"),
    ("Tomás", "tomas"),
    ("Zoë", "zoe"),
    ("Wei", "wei"),
    ("Ólafur", "olafur"),
    ("Sam", "sam"),
    ("Aisha", "aisha"),
];
const LAST_NAMES: &[(&str, &str)] = &[
    ("Müller", "mueller"),
    ("García", "garcia"),
    ("Nguyễn", "nguyen"),
    ("O'Brien", "obrien"),
    ("Kowalski", "kowalski"),
    ("Søndergaard", "sondergaard"),
    ("Dvořák", "dvorak"),
    ("Smith", "smith"),
    ("Jones", "jones"),
    ("Rossi", "rossi"),
    ("Silva", "silva"),
    ("Yamamoto", "yamamoto"),
    ("Öztürk", "ozturk"),
    ("Lefèvre", "lefevre"),
    ("Papadopoulos", "papadopoulos"),
    ("李", "li"),
    ("van der Berg", "vanderberg"),
    ("Ivanova", "ivanova"),
    ("Andersson", "andersson"),
    ("Kim", "kim"),
];
const COMPANY_NAMES: &[&str] = &[
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Wonka Industries",
    "Cyberdyne Systems",
    "Soylent",
    "Tyrell Corporation",
    "Vandelay Industries",
    "Pied Piper",
    "Dunder Mifflin",
    "Aperture Science",
    "Black Mesa",
    "Nakatomi Trading",
    "Oceanic Airlines",
    "Massive Dynamic",
    "Müller & Söhne GmbH",
    "São Paulo Comércio",
    "Société Lumière",
    "Kraków Software",
    "Bluth Company",
    "Sirius Cybernetics",
    "Gekko & Co",
    "Prestige Worldwide",
    "Los Pollos Hermanos",
    "Monarch Solutions",
    "Zenith Analytics",
];
const COMPANY_WORDS: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Adventure",
    "Litware",
    "Proseware",
];
const COMPANY_SUFFIXES: &[&str] = &["Labs", "Group", "Holdings", "Ltd", "GmbH", "S.A.", "Inc."];
const TLDS: &[&str] = &["com", "io", "de", "co.uk", "fr"];
const FREEMAIL: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.fr",
    "web.de",
    "proton.me",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "Germany"),
    ("München", "Germany"),
    ("London", "United Kingdom"),
    ("Paris", "France"),
    ("Zürich", "Switzerland"),
    ("New York", "United States"),
    ("San Francisco", "United States"),
    ("São Paulo", "Brazil"),
    ("Kraków", "Poland"),
    ("Tokyo", "Japan"),
    ("Milano", "Italy"),
    ("Amsterdam", "Netherlands"),
];
const JOB_TITLES: &[&str] = &[
    "CEO",
    "CTO",
    "Head of Sales",
    "Marketing Manager",
    "Account Executive",
    "Software Engineer",
    "Office Manager",
    "Procurement Lead",
    "VP Operations",
];
const PRODUCTS: &[&str] = &[
    "Annual licence",
    "Onboarding package",
    "Support renewal",
    "Enterprise plan",
    "Pilot project",
    "Training",
];
const SUBJECTS: &[&str] = &[
    "Your monthly product update",
    "Invitation: customer webinar",
    "Spring offer — 20% off",
    "Your invoice is ready",
    "We miss you!",
];
const PAGES: &[&str] = &[
    "pricing",
    "webinar",
    "blog/new-features",
    "offer",
    "docs/getting-started",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_labels() {
        assert_eq!(slug("Müller & Söhne GmbH"), "muller-sohne-gmbh");
        assert_eq!(slug("S.A. Kraków"), "s-a-krakow");
        assert_eq!(label_of("acme"), "Acme");
        assert_eq!(label_of("big-co"), "Big Co");
        assert!(check_account_name("acme-2").is_ok());
        assert!(check_account_name("Acme").is_err());
        assert!(check_account_name("").is_err());
    }

    #[test]
    fn csv_quotes_everything() {
        let mut s = String::new();
        csv_row(&mut s, &["a", "{\"k\":\"v, w\"}", ""]);
        assert_eq!(s, "\"a\",\"{\"\"k\"\":\"\"v, w\"\"}\",\"\"\n");
    }
}
