//! The data generator behind `tandem seed --contacts N --companies M --deals K
//! --invoices L`: realistic hub data, deterministic for a given `--seed` (ChaCha8), with
//! the messy cases syncs must cope with — emails that differ only in case or
//! surrounding whitespace, missing emails, invalid emails, unicode names, companies
//! with the same name and different domains.
//!
//! It loads with COPY (`copy_in_raw`) in chunks, in one transaction, so a million
//! contacts take seconds, not minutes. Like every write it keeps the hub's contracts:
//! `created_by: import` (the per-property metadata of every property it sets), one
//! `created` change row per record and two rows per association, written under the
//! portal's feed lock, and one NOTIFY at the end. It bypasses validation on purpose
//! (legacy data is messy); ids are reserved from the records' identity before each
//! chunk.

use super::changes;
use crate::model::crm::ObjectType;
use anyhow::Context;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::{PgConnection, PgPool};
use std::fmt::Write as _;
use uuid::Uuid;

/// Records per COPY chunk.
const CHUNK: usize = 20_000;

/// `total` rows in batches of [`CHUNK`]: each batch's first index and its size.
fn chunks(total: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..total)
        .step_by(CHUNK)
        .map(move |i| (i, (total - i).min(CHUNK as u64)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    pub contacts: u64,
    pub companies: u64,
    pub deals: u64,
    pub invoices: u64,
    /// Same seed, same data (ids aside, which come from the database).
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generated {
    pub contacts: u64,
    pub companies: u64,
    pub deals: u64,
    pub invoices: u64,
    pub associations: u64,
    pub timeline_events: u64,
}

const FIRST: &[(&str, &str)] = &[
    ("Anna", "anna"),
    ("Ben", "ben"),
    ("Clara", "clara"),
    ("David", "david"),
    ("Emma", "emma"),
    ("Felix", "felix"),
    ("Grace", "grace"),
    ("Henry", "henry"),
    ("Isabel", "isabel"),
    ("Jack", "jack"),
    ("Katherine", "katherine"),
    ("Liam", "liam"),
    ("Maria", "maria"),
    ("Noah", "noah"),
    ("Olivia", "olivia"),
    ("Paul", "paul"),
    ("Quinn", "quinn"),
    ("Rosa", "rosa"),
    ("Samuel", "samuel"),
    ("Tara", "tara"),
    ("Umar", "umar"),
    ("Vera", "vera"),
    ("William", "william"),
    ("Xavier", "xavier"),
    ("Yara", "yara"),
    ("Zoe", "zoe"),
    ("Lucas", "lucas"),
    ("Mia", "mia"),
    ("Oscar", "oscar"),
    ("Sofia", "sofia"),
    ("Thomas", "thomas"),
    ("Laura", "laura"),
    ("Daniel", "daniel"),
    ("Sarah", "sarah"),
    ("Martin", "martin"),
    ("Julia", "julia"),
    ("Peter", "peter"),
    ("Nina", "nina"),
    ("Jonas", "jonas"),
    ("Eva", "eva"),
];
const LAST: &[(&str, &str)] = &[
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Brown", "brown"),
    ("Taylor", "taylor"),
    ("Wilson", "wilson"),
    ("Davies", "davies"),
    ("Evans", "evans"),
    ("Thomas", "thomas"),
    ("Roberts", "roberts"),
    ("Walker", "walker"),
    ("Schmidt", "schmidt"),
    ("Fischer", "fischer"),
    ("Weber", "weber"),
    ("Wagner", "wagner"),
    ("Becker", "becker"),
    ("Rossi", "rossi"),
    ("Russo", "russo"),
    ("Bianchi", "bianchi"),
    ("Martin", "martin"),
    ("Bernard", "bernard"),
    ("Dubois", "dubois"),
    ("Garcia", "garcia"),
    ("Lopez", "lopez"),
    ("Novak", "novak"),
    ("Jansen", "jansen"),
    ("de Vries", "devries"),
    ("Andersen", "andersen"),
    ("Nielsen", "nielsen"),
    ("Kowalski", "kowalski"),
    ("Murphy", "murphy"),
    ("O'Brien", "obrien"),
    ("Kelly", "kelly"),
    ("Clarke", "clarke"),
    ("Hughes", "hughes"),
    ("Moreau", "moreau"),
];
/// Unicode names (with an ASCII form for email addresses).
const UNICODE_FIRST: &[(&str, &str)] = &[
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Łukasz", "lukasz"),
    ("Øyvind", "oyvind"),
    ("Renée", "renee"),
    ("Björn", "bjorn"),
    ("Ines", "ines"),
    ("Şebnem", "sebnem"),
    ("Σοφία", "sofia"),
    ("Иван", "ivan"),
    ("李", "li"),
    ("さくら", "sakura"),
    ("Dvořák", "dvorak"),
    ("Chloé", "chloe"),
    ("Jürgen", "jurgen"),
];
const UNICODE_LAST: &[(&str, &str)] = &[
    ("Müller", "mueller"),
    ("Šimić", "simic"),
    ("Ødegaard", "odegaard"),
    ("García Márquez", "garciamarquez"),
    ("Nuñez", "nunez"),
    ("Żółć", "zolc"),
    ("Παπαδόπουλος", "papadopoulos"),
    ("Смирнова", "smirnova"),
    ("王", "wang"),
    ("田中", "tanaka"),
    ("Björk", "bjork"),
    ("Lefèvre", "lefevre"),
    ("Öztürk", "ozturk"),
];
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "web.de",
    "gmx.net",
    "orange.fr",
    "icloud.com",
    "proton.me",
];
const JOBS: &[&str] = &[
    "CEO",
    "CTO",
    "Head of Sales",
    "Account Executive",
    "Marketing Manager",
    "Software Engineer",
    "Office Manager",
    "Procurement Lead",
    "Operations Director",
    "Customer Success Manager",
    "Founder",
    "Consultant",
    "CFO",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("Hamburg", "Germany"),
    ("Paris", "France"),
    ("Lyon", "France"),
    ("London", "United Kingdom"),
    ("Manchester", "United Kingdom"),
    ("Dublin", "Ireland"),
    ("Amsterdam", "Netherlands"),
    ("Milan", "Italy"),
    ("Madrid", "Spain"),
    ("Vienna", "Austria"),
    ("Zürich", "Switzerland"),
    ("Kraków", "Poland"),
    ("New York", "United States"),
    ("Austin", "United States"),
    ("Toronto", "Canada"),
    ("São Paulo", "Brazil"),
    ("Tokyo", "Japan"),
    ("Copenhagen", "Denmark"),
];
const COMPANY_A: &[&str] = &[
    "Nordwind",
    "Blue Harbor",
    "Alpine",
    "Brightline",
    "Cedar",
    "Helix",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Northstar",
    "Orchid",
    "Pioneer",
    "Quantum",
    "Redwood",
    "Silverlake",
    "Tidewater",
    "Umbra",
    "Vertex",
    "Westbrook",
    "Zenith",
    "Falkenberg",
    "Rheinland",
    "Étoile",
    "Sakura",
    "Aurora",
];
const COMPANY_B: &[&str] = &[
    "Logistics",
    "Software",
    "Analytics",
    "Foods",
    "Robotics",
    "Energy",
    "Consulting",
    "Health",
    "Media",
    "Textiles",
    "Systems",
    "Labs",
    "Partners",
    "Design",
    "Freight",
];
const LEGAL: &[&str] = &[
    "GmbH", "Ltd", "Inc.", "SAS", "S.p.A.", "B.V.", "AG", "LLC", "", "",
];
const INDUSTRIES: &[&str] = &[
    "ACCOUNTING",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "CONSUMER_GOODS",
    "EDUCATION_MANAGEMENT",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "MARKETING_AND_ADVERTISING",
    "RETAIL",
    "TELECOMMUNICATIONS",
];
const LIFECYCLE: &[(&str, u32)] = &[
    ("subscriber", 20),
    ("lead", 35),
    ("marketingqualifiedlead", 12),
    ("salesqualifiedlead", 8),
    ("opportunity", 8),
    ("customer", 14),
    ("evangelist", 2),
    ("other", 1),
];
const LEAD_STATUS: &[&str] = &[
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
];
const STAGES: &[&str] = &[
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
];
const PRODUCTS: &[&str] = &[
    "Annual licence",
    "Pilot project",
    "Support renewal",
    "Enterprise upgrade",
    "Onboarding package",
    "Hardware refresh",
    "Consulting days",
    "Expansion seats",
];
const CURRENCIES: &[(&str, u32)] = &[
    ("EUR", 50),
    ("USD", 30),
    ("GBP", 12),
    ("CHF", 5),
    ("CAD", 3),
];
const INVOICE_STATUS: &[(&str, u32)] = &[("paid", 55), ("open", 25), ("draft", 12), ("voided", 8)];

fn weighted<'a>(rng: &mut ChaCha8Rng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut n = rng.gen_range(0..total);
    for (v, w) in items {
        if n < *w {
            return v;
        }
        n -= w;
    }
    items[0].0
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).unwrap_or(&items[0])
}

fn rng_for(seed: u64, object: ObjectType) -> ChaCha8Rng {
    let salt = match object {
        ObjectType::Contacts => 1,
        ObjectType::Companies => 2,
        ObjectType::Deals => 3,
        ObjectType::Invoices => 4,
    };
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
}

/// Records are spread over 2025, in creation order.
fn created_at(rng: &mut ChaCha8Rng, i: u64, n: u64) -> DateTime<Utc> {
    let start = Utc
        .with_ymd_and_hms(2025, 1, 1, 8, 0, 0)
        .single()
        .unwrap_or_default();
    let span = 364 * 24 * 3600;
    let base = (i as i64 * span) / (n.max(1) as i64);
    start + Duration::seconds(base + rng.gen_range(0..3600))
}

/// A record generated but not yet written.
struct Row {
    props: Vec<(&'static str, String)>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
}

impl Row {
    /// A row last updated at a random hour within `days` of its creation.
    fn updated_within(
        rng: &mut ChaCha8Rng,
        days: i64,
        props: Vec<(&'static str, String)>,
        created: DateTime<Utc>,
    ) -> Row {
        let updated = created + Duration::hours(rng.gen_range(0..24 * days));
        Row {
            props,
            created,
            updated,
        }
    }
}

fn push_copy_text(buf: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\t' => buf.push_str("\\t"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            c => buf.push(c),
        }
    }
}

fn copy_ts(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// Loads generated rows of one object type: records, their change rows.
struct Loader<'a> {
    conn: &'a mut PgConnection,
    portal_id: Uuid,
    portal_text: String,
}

impl Loader<'_> {
    async fn reserve_ids(&mut self, n: usize) -> anyhow::Result<Vec<i64>> {
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('hub_records', 'id')) FROM generate_series(1, $1)")
            .bind(n as i64)
            .fetch_all(&mut *self.conn)
            .await
            .context("reserving record ids")
    }

    async fn copy(&mut self, statement: &str, data: String) -> anyhow::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut copy = self
            .conn
            .copy_in_raw(statement)
            .await
            .with_context(|| format!("starting {statement}"))?;
        copy.send(data.into_bytes())
            .await
            .context("sending COPY data")?;
        copy.finish()
            .await
            .with_context(|| format!("finishing {statement}"))?;
        Ok(())
    }

    /// Writes rows; returns their ids in order.
    async fn load(&mut self, object: ObjectType, rows: &[Row]) -> anyhow::Result<Vec<i64>> {
        let ids = self.reserve_ids(rows.len()).await?;
        let mut records = String::with_capacity(rows.len() * 700);
        let mut feed = String::with_capacity(rows.len() * 120);
        for (row, id) in rows.iter().zip(&ids) {
            let props: serde_json::Map<String, serde_json::Value> = row
                .props
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
                .collect();
            // Per-property metadata is the creation's (see hub::records): nothing to write.
            let mut names = String::from("{");
            for (n, (k, _)) in row.props.iter().enumerate() {
                if n > 0 {
                    names.push(',');
                }
                names.push_str(k);
            }
            names.push('}');
            let _ = write!(records, "{id}\t{}\t{}\t", self.portal_text, object.as_str());
            push_copy_text(&mut records, &serde_json::Value::Object(props).to_string());
            let _ = writeln!(
                records,
                "\timport\t{}\t{}",
                copy_ts(row.created),
                copy_ts(row.updated)
            );
            let _ = writeln!(
                feed,
                "{}\t{}\t{id}\tcreated\t{names}\timport\t\\N\t\\N\t\\N",
                self.portal_text,
                object.as_str()
            );
        }
        self.copy(
            "COPY hub_records (id, portal_id, object, properties, created_by, created_at, updated_at) FROM STDIN",
            records,
        )
        .await?;
        self.copy(
            "COPY hub_changes (portal_id, object, record_id, kind, properties, origin_kind, origin_id, associated_object, associated_id) FROM STDIN",
            feed,
        )
        .await?;
        Ok(ids)
    }

    /// Associates each record of `ids` with its `links` entry of `to` (if any); answers
    /// how many associations that made.
    async fn associate_each(
        &mut self,
        from: ObjectType,
        ids: &[i64],
        links: &[Option<i64>],
        to: ObjectType,
    ) -> anyhow::Result<u64> {
        let pairs: Vec<_> = ids
            .iter()
            .zip(links)
            .filter_map(|(id, link)| link.map(|l| (from, *id, to, l)))
            .collect();
        self.associate(&pairs).await?;
        Ok(pairs.len() as u64)
    }

    /// Writes associations (canonical direction) and their two change rows each.
    async fn associate(
        &mut self,
        pairs: &[(ObjectType, i64, ObjectType, i64)],
    ) -> anyhow::Result<()> {
        let mut rows = String::new();
        let mut feed = String::new();
        for (fo, fid, to, tid) in pairs {
            let p = &self.portal_text;
            let _ = writeln!(rows, "{p}\t{fo}\t{fid}\t{to}\t{tid}");
            let _ = writeln!(
                feed,
                "{p}\t{fo}\t{fid}\tassociated\t{{}}\timport\t\\N\t{to}\t{tid}"
            );
            let _ = writeln!(
                feed,
                "{p}\t{to}\t{tid}\tassociated\t{{}}\timport\t\\N\t{fo}\t{fid}"
            );
        }
        self.copy(
            "COPY hub_associations (portal_id, from_object, from_id, to_object, to_id) FROM STDIN",
            rows,
        )
        .await?;
        self.copy(
            "COPY hub_changes (portal_id, object, record_id, kind, properties, origin_kind, origin_id, associated_object, associated_id) FROM STDIN",
            feed,
        )
        .await
    }

    async fn timeline(
        &mut self,
        events: &[(i64, &'static str, DateTime<Utc>, String, String)],
    ) -> anyhow::Result<()> {
        let mut rows = String::new();
        for (record, kind, at, title, props) in events {
            let _ = write!(
                rows,
                "{}\tcontacts\t{record}\t{kind}\t{}\t",
                self.portal_text,
                copy_ts(*at)
            );
            push_copy_text(&mut rows, title);
            rows.push_str("\t\t");
            push_copy_text(&mut rows, props);
            rows.push_str("\timport\n");
        }
        self.copy(
            "COPY hub_timeline_events (portal_id, object, record_id, kind, occurred_at, title, body, properties, source) FROM STDIN",
            rows,
        )
        .await
    }
}

fn company_row(
    rng: &mut ChaCha8Rng,
    i: u64,
    n: u64,
    previous: &[(String, String)],
) -> (Row, String) {
    let created = created_at(rng, i, n);
    // 3% share the name of an earlier company under another domain (a matching case).
    let name = if !previous.is_empty() && rng.gen_bool(0.03) {
        pick(rng, previous).0.clone()
    } else {
        let legal = *pick(rng, LEGAL);
        let base = format!("{} {}", pick(rng, COMPANY_A), pick(rng, COMPANY_B));
        if legal.is_empty() {
            base
        } else {
            format!("{base} {legal}")
        }
    };
    let slug: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let tld = *pick(rng, &["com", "de", "co.uk", "fr", "io", "nl", "it"]);
    let mut props: Vec<(&'static str, String)> = vec![("name", name.clone())];
    if rng.gen_bool(0.9) {
        props.push(("domain", format!("{slug}{i}.{tld}")));
    }
    props.push(("industry", pick(rng, INDUSTRIES).to_string()));
    let (city, country) = *pick(rng, CITIES);
    props.push(("city", city.into()));
    props.push(("country", country.into()));
    props.push(("numberofemployees", rng.gen_range(2..20_000u32).to_string()));
    if rng.gen_bool(0.6) {
        props.push((
            "annualrevenue",
            (rng.gen_range(50u64..500_000) * 1000).to_string(),
        ));
    }
    if rng.gen_bool(0.7) {
        props.push((
            "phone",
            format!(
                "+{} {} {}",
                rng.gen_range(1..99),
                rng.gen_range(10..999),
                rng.gen_range(100_000..9_999_999)
            ),
        ));
    }
    props.push(("lifecyclestage", weighted(rng, LIFECYCLE).to_string()));
    (Row::updated_within(rng, 60, props, created), name)
}

/// Generates a contact; `recent` holds emails to copy for the case/whitespace twins.
fn contact_row(
    rng: &mut ChaCha8Rng,
    i: u64,
    n: u64,
    company: Option<&str>,
    recent: &mut Vec<String>,
) -> Row {
    let created = created_at(rng, i, n);
    let unicode = rng.gen_bool(0.12);
    let (first, first_ascii) = *pick(rng, if unicode { UNICODE_FIRST } else { FIRST });
    let unicode_last = unicode && rng.gen_bool(0.7);
    let (last, last_ascii) = *pick(rng, if unicode_last { UNICODE_LAST } else { LAST });
    let mut props: Vec<(&'static str, String)> = Vec::with_capacity(12);
    let roll: f64 = rng.gen();
    let email = if roll < 0.04 {
        None // no email at all
    } else if roll < 0.055 {
        // invalid addresses, as found in old spreadsheets
        Some(match rng.gen_range(0..5) {
            0 => format!("{first_ascii}.{last_ascii}@"),
            1 => format!("{first_ascii} {last_ascii}@example.com"),
            2 => format!("{first_ascii}.{last_ascii}.example.com"),
            3 => format!("{first_ascii}@@{}", pick(rng, FREE_MAIL)),
            _ => format!("@{}", pick(rng, FREE_MAIL)),
        })
    } else if roll < 0.075 && !recent.is_empty() {
        // the same address as an earlier contact, differing only in case or whitespace
        let base = pick(rng, recent).clone();
        Some(match rng.gen_range(0..3) {
            0 => base.to_uppercase(),
            1 => format!("  {base} "),
            _ => {
                let mut c = base.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or(base)
            }
        })
    } else {
        let domain = match company {
            Some(c) if rng.gen_bool(0.6) => {
                let slug: String = c
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(20)
                    .collect();
                format!("{slug}.com")
            }
            _ => pick(rng, FREE_MAIL).to_string(),
        };
        let e = format!("{first_ascii}.{last_ascii}{i}@{domain}");
        if recent.len() < 1000 {
            recent.push(e.clone());
        } else {
            let slot = rng.gen_range(0..recent.len());
            recent[slot] = e.clone();
        }
        Some(e)
    };
    if let Some(e) = email {
        props.push(("email", e));
    }
    if rng.gen_bool(0.98) {
        props.push(("firstname", first.into()));
    }
    if rng.gen_bool(0.97) {
        props.push(("lastname", last.into()));
    }
    if rng.gen_bool(0.75) {
        props.push((
            "phone",
            format!(
                "+{} {} {}",
                rng.gen_range(1..99),
                rng.gen_range(10..999),
                rng.gen_range(100_000..9_999_999)
            ),
        ));
    }
    if let Some(c) = company {
        props.push(("company", c.to_string()));
    }
    if rng.gen_bool(0.6) {
        props.push(("jobtitle", pick(rng, JOBS).to_string()));
    }
    if rng.gen_bool(0.5) {
        let (city, country) = *pick(rng, CITIES);
        props.push(("city", city.into()));
        props.push(("country", country.into()));
    }
    props.push(("lifecyclestage", weighted(rng, LIFECYCLE).to_string()));
    if rng.gen_bool(0.3) {
        props.push(("hs_lead_status", pick(rng, LEAD_STATUS).to_string()));
    }
    if rng.gen_bool(0.1) {
        props.push((
            "date_of_birth",
            format!(
                "{}-{:02}-{:02}",
                rng.gen_range(1950..2004),
                rng.gen_range(1..13),
                rng.gen_range(1..29)
            ),
        ));
    }
    if rng.gen_bool(0.05) {
        props.push(("hs_email_optout", "true".into()));
    }
    Row::updated_within(rng, 90, props, created)
}

/// Generates and loads the records; see the module docs.
pub async fn generate(
    pool: &PgPool,
    portal_id: Uuid,
    opts: &GenerateOptions,
) -> anyhow::Result<Generated> {
    let mut tx = pool.begin().await?;
    changes::lock_feed(&mut tx, portal_id).await?;
    let mut out = Generated::default();
    let mut loader = Loader {
        conn: &mut tx,
        portal_id,
        portal_text: portal_id.to_string(),
    };

    // Companies first: contacts, deals and invoices refer to them.
    let mut companies: Vec<(i64, String)> = Vec::new();
    {
        let mut rng = rng_for(opts.seed, ObjectType::Companies);
        let mut names: Vec<(String, String)> = Vec::new();
        for (i, n) in chunks(opts.companies) {
            let mut rows = Vec::with_capacity(n as usize);
            let mut chunk_names = Vec::with_capacity(n as usize);
            for k in 0..n {
                let (row, name) = company_row(&mut rng, i + k, opts.companies, &names);
                if names.len() < 500 {
                    names.push((name.clone(), String::new()));
                }
                chunk_names.push(name);
                rows.push(row);
            }
            let ids = loader.load(ObjectType::Companies, &rows).await?;
            companies.extend(ids.into_iter().zip(chunk_names));
        }
        out.companies = opts.companies;
    }

    let mut contact_ids: Vec<i64> = Vec::new();
    {
        let mut rng = rng_for(opts.seed, ObjectType::Contacts);
        let mut recent = Vec::new();
        for (i, n) in chunks(opts.contacts) {
            let mut rows = Vec::with_capacity(n as usize);
            let mut links = Vec::new();
            for k in 0..n {
                let company = (!companies.is_empty() && rng.gen_bool(0.7))
                    .then(|| pick(&mut rng, &companies).clone());
                rows.push(contact_row(
                    &mut rng,
                    i + k,
                    opts.contacts,
                    company.as_ref().map(|c| c.1.as_str()),
                    &mut recent,
                ));
                links.push(company.map(|c| c.0));
            }
            let ids = loader.load(ObjectType::Contacts, &rows).await?;
            out.associations += loader
                .associate_each(ObjectType::Contacts, &ids, &links, ObjectType::Companies)
                .await?;
            // Email engagement on about one contact in ten with an address.
            let mut events = Vec::new();
            for (row, id) in rows.iter().zip(&ids) {
                if row.props.iter().any(|(k, _)| *k == "email") && rng.gen_bool(0.1) {
                    for _ in 0..rng.gen_range(1..4) {
                        let at = row.created + Duration::hours(rng.gen_range(1..24 * 120));
                        let campaign = *pick(
                            &mut rng,
                            &[
                                "Spring newsletter",
                                "Product update",
                                "Webinar invitation",
                                "Black Friday offer",
                            ],
                        );
                        let (kind, title) = if rng.gen_bool(0.7) {
                            ("email_opened", format!("Opened email “{campaign}”"))
                        } else {
                            ("email_clicked", format!("Clicked a link in “{campaign}”"))
                        };
                        let props = serde_json::json!({ "subject": campaign }).to_string();
                        events.push((*id, kind, at, title, props));
                    }
                }
            }
            out.timeline_events += events.len() as u64;
            loader.timeline(&events).await?;
            contact_ids.extend(ids);
        }
        out.contacts = opts.contacts;
    }

    if opts.deals > 0 {
        let mut rng = rng_for(opts.seed, ObjectType::Deals);
        for (i, n) in chunks(opts.deals) {
            let mut rows = Vec::with_capacity(n as usize);
            let mut links = Vec::new();
            for k in 0..n {
                let created = created_at(&mut rng, i + k, opts.deals);
                let company = (!companies.is_empty() && rng.gen_bool(0.9))
                    .then(|| pick(&mut rng, &companies).clone());
                let title = company
                    .as_ref()
                    .map(|c| c.1.clone())
                    .unwrap_or_else(|| pick(&mut rng, COMPANY_A).to_string());
                let mut props: Vec<(&'static str, String)> = vec![
                    (
                        "dealname",
                        format!("{title} – {}", pick(&mut rng, PRODUCTS)),
                    ),
                    ("pipeline", "default".into()),
                    ("dealstage", pick(&mut rng, STAGES).to_string()),
                ];
                if rng.gen_bool(0.9) {
                    let cents = if rng.gen_bool(0.3) {
                        format!(".{:02}", rng.gen_range(1..100))
                    } else {
                        String::new()
                    };
                    props.push(("amount", format!("{}{cents}", rng.gen_range(5..2500) * 100)));
                }
                let close = created + Duration::days(rng.gen_range(7..180));
                props.push(("closedate", close.format("%Y-%m-%d").to_string()));
                props.push((
                    "dealtype",
                    pick(&mut rng, &["newbusiness", "existingbusiness"]).to_string(),
                ));
                if rng.gen_bool(0.5) {
                    props.push((
                        "hs_priority",
                        pick(&mut rng, &["low", "medium", "high"]).to_string(),
                    ));
                }
                rows.push(Row::updated_within(&mut rng, 30, props, created));
                let mut contacts = Vec::new();
                if !contact_ids.is_empty() {
                    for _ in 0..rng.gen_range(0..3) {
                        contacts.push(*pick(&mut rng, &contact_ids));
                    }
                    contacts.sort_unstable();
                    contacts.dedup();
                }
                links.push((company.map(|c| c.0), contacts));
            }
            let ids = loader.load(ObjectType::Deals, &rows).await?;
            let mut pairs = Vec::new();
            for (id, (company, contacts)) in ids.iter().zip(&links) {
                if let Some(c) = company {
                    pairs.push((ObjectType::Deals, *id, ObjectType::Companies, *c));
                }
                for c in contacts {
                    pairs.push((ObjectType::Deals, *id, ObjectType::Contacts, *c));
                }
            }
            out.associations += pairs.len() as u64;
            loader.associate(&pairs).await?;
        }
        out.deals = opts.deals;
    }

    if opts.invoices > 0 {
        let mut rng = rng_for(opts.seed, ObjectType::Invoices);
        for (i, n) in chunks(opts.invoices) {
            let mut rows = Vec::with_capacity(n as usize);
            let mut links = Vec::new();
            for k in 0..n {
                let created = created_at(&mut rng, i + k, opts.invoices);
                let issue = created.date_naive();
                let due = issue + Duration::days(*pick(&mut rng, &[14i64, 30, 30, 45, 60]));
                let mut props: Vec<(&'static str, String)> = vec![
                    (
                        "number",
                        format!("INV-{}-{:05}", issue.format("%Y"), i + k + 1),
                    ),
                    (
                        "amount",
                        format!("{}.{:02}", rng.gen_range(50..25_000), rng.gen_range(0..100)),
                    ),
                    ("currency", weighted(&mut rng, CURRENCIES).to_string()),
                    ("status", weighted(&mut rng, INVOICE_STATUS).to_string()),
                    ("issue_date", issue.format("%Y-%m-%d").to_string()),
                    ("due_date", due.format("%Y-%m-%d").to_string()),
                ];
                if rng.gen_bool(0.3) {
                    props.push(("description", pick(&mut rng, PRODUCTS).to_string()));
                }
                rows.push(Row::updated_within(&mut rng, 30, props, created));
                let contact = (!contact_ids.is_empty() && rng.gen_bool(0.9))
                    .then(|| *pick(&mut rng, &contact_ids));
                links.push(contact);
            }
            let ids = loader.load(ObjectType::Invoices, &rows).await?;
            out.associations += loader
                .associate_each(ObjectType::Invoices, &ids, &links, ObjectType::Contacts)
                .await?;
        }
        out.invoices = opts.invoices;
    }

    let last = sqlx::query_scalar::<_, i64>(
        "SELECT coalesce(max(seq), 0) FROM hub_changes WHERE portal_id = $1",
    )
    .bind(loader.portal_id)
    .fetch_one(&mut *loader.conn)
    .await?;
    changes::notify(&mut tx, portal_id, last).await?;
    tx.commit().await.context("committing the generated data")?;
    // Fresh statistics, so that the planner picks the indexes right away.
    sqlx::query("ANALYZE hub_records").execute(pool).await?;
    sqlx::query("ANALYZE hub_changes").execute(pool).await?;
    sqlx::query("ANALYZE hub_associations")
        .execute(pool)
        .await?;
    Ok(out)
}

/// The generator's options of `tandem seed`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SeedRecords {
    /// Contacts to generate.
    #[arg(long, default_value_t = 0)]
    pub contacts: u64,
    /// Companies to generate (contacts, deals and invoices get associated with them).
    #[arg(long, default_value_t = 0)]
    pub companies: u64,
    /// Deals to generate (in the default pipeline).
    #[arg(long, default_value_t = 0)]
    pub deals: u64,
    /// Invoices to generate.
    #[arg(long, default_value_t = 0)]
    pub invoices: u64,
    /// Seed of the random generator: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Generate only when the portal has no hub records yet (what `make run` uses).
    #[arg(long)]
    pub if_empty: bool,
}

impl SeedRecords {
    pub fn any(&self) -> bool {
        self.contacts + self.companies + self.deals + self.invoices > 0
    }

    pub fn options(&self) -> GenerateOptions {
        GenerateOptions {
            contacts: self.contacts,
            companies: self.companies,
            deals: self.deals,
            invoices: self.invoices,
            seed: self.seed,
        }
    }

    /// Generates the records; answers a line for the terminal.
    pub async fn run(&self, pool: &PgPool, portal_id: Uuid) -> anyhow::Result<String> {
        if self.if_empty && super::records::count_all(pool, portal_id).await? > 0 {
            return Ok("The portal already has hub records; none generated (--if-empty).".into());
        }
        let started = std::time::Instant::now();
        let g = generate(pool, portal_id, &self.options()).await?;
        Ok(format!(
            "Generated {} contacts, {} companies, {} deals, {} invoices, {} associations and {} timeline events in {:.1} s.",
            g.contacts,
            g.companies,
            g.deals,
            g.invoices,
            g.associations,
            g.timeline_events,
            started.elapsed().as_secs_f64()
        ))
    }
}
