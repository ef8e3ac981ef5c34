//! Match keys: how the initial sync finds that a hub record and an app record are the same
//! customer, and how it spots duplicates.
//!
//! Identifiers are normalised so that formatting differences between two systems never
//! split one customer into two: emails are trimmed and lower-cased (and must be valid),
//! company names lose case, punctuation and legal suffixes ("ACME, Inc." = "Acme"),
//! domains come from a website URL or an email address, without `www.`. Each identifier
//! is tagged with its kind, so a company *named* "acme.com" never matches the *domain*
//! acme.com by accident.
//!
//! Matching and duplicate detection are pure here; the engine keeps the identifiers in
//! its index and asks these functions what to make of the candidates it found.

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Serialize};

use super::outcome::Exclusion;
use super::settings::{ObjectKind, Side, SyncSettings};
use super::values::{FieldType, Record, Value};

pub use crate::model::MatchKeyInput as MatchKey;

/// Where one side keeps the identifiers of the default match keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFields {
    /// Contacts' email.
    pub email: Option<String>,
    /// Companies' name.
    pub company_name: Option<String>,
    /// Companies' domain: a bare domain, a website URL or an email all work.
    pub company_domain: Option<String>,
}

impl KeyFields {
    /// The hub's property names: `email`, `name`, `domain`.
    pub fn hub() -> Self {
        KeyFields {
            email: Some("email".into()),
            company_name: Some("name".into()),
            company_domain: Some("domain".into()),
        }
    }
}

/// A normalised identifier of a record, tagged with what it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Identifier {
    Email(String),
    CompanyName(String),
    Domain(String),
    Custom(String),
}

impl Identifier {
    /// Stronger identifiers win when candidates tie on count: an email or a chosen field
    /// names one customer; a domain is shared by a company's sites; names repeat most.
    fn strength(&self) -> u8 {
        match self {
            Identifier::Email(_) => 4,
            Identifier::Custom(_) => 3,
            Identifier::Domain(_) => 2,
            Identifier::CompanyName(_) => 1,
        }
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identifier::Email(v) => write!(f, "email {v}"),
            Identifier::CompanyName(v) => write!(f, "company name '{v}'"),
            Identifier::Domain(v) => write!(f, "domain {v}"),
            Identifier::Custom(v) => write!(f, "key '{v}'"),
        }
    }
}

/// A valid email, trimmed and lower-cased; `None` when there is none or it is invalid.
///
/// Valid means what `email_address` accepts for a bare address with a dotted domain:
/// no display name (`Ann <ann@x.io>`), no `[ip]` literal, no `user@localhost`.
pub fn normalise_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let options = Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    EmailAddress::parse_with_options(&email, options).ok()?;
    Some(email)
}

/// Legal-form words dropped from the end of company names. Compared after punctuation is
/// removed, so "S.r.l." is `srl` and "S.p.A." is `spa`.
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "ug",
    "ohg",
    "sa",
    "sas",
    "sarl",
    "srl",
    "srls",
    "spa",
    "sl",
    "sapa",
    "snc",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "asa",
    "aps",
    "pty",
    "pte",
    "kk",
    "se",
    "kft",
    "sro",
];

/// A company name reduced to what identifies it: lower case, punctuation and repeated
/// whitespace gone, `&` read as "and", and legal suffixes (Inc, Ltd, GmbH, S.r.l., SpA…)
/// removed from the end. A name made only of such words keeps them ("Limited").
pub fn normalise_company_name(raw: &str) -> Option<String> {
    let lowered = raw.trim().to_lowercase();
    let mut cleaned = String::with_capacity(lowered.len());
    for c in lowered.chars() {
        match c {
            // Dots join abbreviations: "s.r.l." → "srl", "a.b.c." → "abc".
            '.' | '\'' | '’' => {}
            '&' | '+' => cleaned.push_str(" and "),
            c if c.is_alphanumeric() => cleaned.push(c),
            _ => cleaned.push(' '),
        }
    }
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    while words.len() > 1 {
        let Some(last) = words.last() else { break };
        if LEGAL_SUFFIXES.contains(last) || *last == "and" {
            words.pop();
        } else {
            break;
        }
    }
    Some(words.join(" "))
}

/// The domain of a website URL, a bare domain or an email address: lower case, without
/// `www.` and without a trailing dot. `None` for anything that has no host name (IP
/// addresses included: they say nothing about a company).
pub fn domain_from(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    // An email's domain goes through the same URL host rules as a website, so both
    // spellings of one domain normalise alike.
    let url = if !raw.contains("://") && raw.contains('@') {
        let email = normalise_email(raw.strip_prefix("mailto:").unwrap_or(raw))?;
        format!("http://{}", email.rsplit_once('@')?.1)
    } else if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    };
    let host = match url::Url::parse(&url).ok()?.host()? {
        url::Host::Domain(d) => d.to_lowercase(),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => return None,
    };
    let mut host = host.trim_end_matches('.');
    while let Some(rest) = host.strip_prefix("www.") {
        host = rest;
    }
    // A company domain has at least one dot ("localhost" is nobody's).
    (host.contains('.') && !host.starts_with('.')).then(|| host.to_string())
}

/// A custom key value: trimmed, lower-cased, inner whitespace collapsed.
pub fn normalise_custom_key(raw: &str) -> Option<String> {
    let words: Vec<String> = raw.split_whitespace().map(str::to_lowercase).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The text of a record's field, for identifiers (numbers in canonical form).
fn field_text(record: &Record, field: Option<&str>) -> Option<String> {
    Value::read_field(record, field?, FieldType::Text).map(|v| v.text())
}

/// The app field and value an app record can be looked up by under the sync's match
/// key (a contact's email, a company's domain or name, the custom key), for `find`.
pub fn app_lookup(settings: &SyncSettings, record: &Record) -> Option<(String, String)> {
    let keys = settings.keys(Side::App);
    let fields: Vec<&String> = match &settings.match_key {
        MatchKey::None => vec![],
        MatchKey::Custom { app_field, .. } => vec![app_field],
        MatchKey::Default => match settings.object {
            ObjectKind::Contact => keys.email.iter().collect(),
            ObjectKind::Company => keys
                .company_domain
                .iter()
                .chain(&keys.company_name)
                .collect(),
            _ => vec![],
        },
    };
    fields.into_iter().find_map(|f| {
        let v = field_text(record, Some(f))?;
        (!v.trim().is_empty()).then(|| (f.clone(), v.trim().to_string()))
    })
}

/// The identifiers of a record of `side` under the sync's match key. Empty when the
/// record has none, or when the object never matches by key (deals, invoices).
pub fn identifiers(settings: &SyncSettings, side: Side, record: &Record) -> Vec<Identifier> {
    let keys = settings.keys(side);
    let mut ids = Vec::new();
    match &settings.match_key {
        MatchKey::None => {}
        MatchKey::Custom {
            hub_property,
            app_field,
        } => {
            let field = match side {
                Side::Hub => hub_property,
                Side::App => app_field,
            };
            if let Some(v) = field_text(record, Some(field)).and_then(|t| normalise_custom_key(&t))
            {
                ids.push(Identifier::Custom(v));
            }
        }
        MatchKey::Default => match settings.object {
            ObjectKind::Contact => {
                if let Some(e) = valid_email(settings, side, record) {
                    ids.push(Identifier::Email(e));
                }
            }
            ObjectKind::Company => {
                let name = field_text(record, keys.company_name.as_deref());
                if let Some(n) = name.and_then(|n| normalise_company_name(&n)) {
                    ids.push(Identifier::CompanyName(n));
                }
                let domain = field_text(record, keys.company_domain.as_deref());
                if let Some(d) = domain.and_then(|d| domain_from(&d)) {
                    ids.push(Identifier::Domain(d));
                }
            }
            ObjectKind::Deal | ObjectKind::Invoice => {}
        },
    }
    ids
}

/// The record's valid email (normalised), from the side's email field.
pub fn valid_email(settings: &SyncSettings, side: Side, record: &Record) -> Option<String> {
    field_text(record, settings.keys(side).email.as_deref()).and_then(|e| normalise_email(&e))
}

/// Whether records of this sync must carry an identifier to enter it. Contacts under the
/// default key are governed by *Sync only contacts with an email address* instead.
pub fn needs_identifier(settings: &SyncSettings) -> bool {
    match (&settings.match_key, settings.object) {
        (MatchKey::None, _) => false,
        (MatchKey::Custom { .. }, _) => true,
        (MatchKey::Default, ObjectKind::Company) => true,
        (MatchKey::Default, _) => false,
    }
}

/// A record of the other side that shares an identifier, as found in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The record's id on its side.
    pub id: String,
    pub identifiers: Vec<Identifier>,
    /// The id of the record it is already paired with, if any.
    pub paired_with: Option<String>,
}

/// What the initial sync should do with a record given its candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    /// Pair with this candidate (index into the candidates), matched on this identifier.
    Matched { index: usize, on: Identifier },
    /// No candidate shares an identifier: the record goes through the engine alone.
    NoMatch,
    /// Every matching candidate is already paired with another record: this one is a
    /// duplicate of that pair.
    Taken(Exclusion),
}

/// Chooses among candidates: the one sharing the most identifiers, then the strongest
/// identifier (email > custom > domain > name), then the earliest in the given order
/// (pass them oldest first). Candidates already paired elsewhere are passed over.
pub fn choose_match(record: &[Identifier], candidates: &[Candidate]) -> MatchOutcome {
    // (index, shared identifiers, strength of the strongest, that identifier)
    let mut best: Option<(usize, usize, u8, Identifier)> = None;
    let mut taken: Option<(String, Identifier)> = None;
    for (index, c) in candidates.iter().enumerate() {
        let shared: Vec<&Identifier> = c
            .identifiers
            .iter()
            .filter(|i| record.contains(i))
            .collect();
        let Some(on) = shared.iter().max_by_key(|i| i.strength()) else {
            continue;
        };
        if let Some(first) = &c.paired_with {
            taken.get_or_insert_with(|| (first.clone(), (*on).clone()));
            continue;
        }
        let rank = (shared.len(), on.strength());
        if best.as_ref().is_none_or(|b| rank > (b.1, b.2)) {
            best = Some((index, rank.0, rank.1, (*on).clone()));
        }
    }
    match (best, taken) {
        (Some((index, _, _, on)), _) => MatchOutcome::Matched { index, on },
        (None, Some((first, on))) => MatchOutcome::Taken(Exclusion::Duplicate {
            first,
            identifier: on.to_string(),
        }),
        (None, None) => MatchOutcome::NoMatch,
    }
}

/// First seen wins: during an initial sync, the first app record with an identifier is
/// syncable; a later record sharing any identifier with it is a duplicate.
///
/// In memory and pure, for one pass over the app's records; the engine can persist the
/// same rule in its index (a unique identifier column) for resumable passes.
#[derive(Debug, Clone, Default)]
pub struct DuplicateTracker {
    first: std::collections::HashMap<Identifier, String>,
}

impl DuplicateTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `record_id` and returns `Ok` if it is the first with each of its
    /// identifiers (seeing the same record again is fine, so a resumed pass agrees with
    /// itself), or the duplicate exclusion naming the record that came first.
    pub fn check(&mut self, record_id: &str, identifiers: &[Identifier]) -> Result<(), Exclusion> {
        for id in identifiers {
            if let Some(first) = self.first.get(id) {
                if first != record_id {
                    return Err(Exclusion::Duplicate {
                        first: first.clone(),
                        identifier: id.to_string(),
                    });
                }
            }
        }
        // Only a syncable record claims its identifiers: a duplicate's other identifiers
        // stay free for the next record that has them.
        for id in identifiers {
            self.first
                .entry(id.clone())
                .or_insert_with(|| record_id.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // test names cite the rule: `subject__situation__outcome`
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: serde_json::Value) -> Record {
        match value {
            serde_json::Value::Object(map) => map,
            _ => Record::new(),
        }
    }

    #[test]
    fn matching__email_normalised_trimmed_lowercased_valid() {
        let cases = [
            ("  Ann.Smith@Example.COM ", Some("ann.smith@example.com")),
            ("ann+tag@example.co.uk", Some("ann+tag@example.co.uk")),
            ("ann@example", None),
            ("Ann <ann@example.com>", None),
            ("not an email", None),
            ("", None),
            ("ann@@example.com", None),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise_email(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn matching__company_name_normalised() {
        let cases = [
            ("ACME, Inc.", "acme"),
            ("Acme", "acme"),
            ("  acme   corporation ", "acme"),
            ("Rossi & Figli S.r.l.", "rossi and figli"),
            ("Rossi and Figli SRL", "rossi and figli"),
            ("Bianchi S.p.A.", "bianchi"),
            ("Müller GmbH", "müller"),
            ("Smith & Co.", "smith"),
            ("Acme Holdings Co., Ltd.", "acme holdings"),
            ("Limited", "limited"),
            ("O'Reilly Media", "oreilly media"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                normalise_company_name(raw).as_deref(),
                Some(want),
                "{raw:?}"
            );
        }
        assert_eq!(normalise_company_name(" ,. "), None);
    }

    #[test]
    fn matching__domain_from_url_or_email() {
        let cases = [
            ("https://www.Acme.com/about?x=1", Some("acme.com")),
            ("acme.com", Some("acme.com")),
            ("WWW.acme.com.", Some("acme.com")),
            ("http://shop.acme.co.uk:8080", Some("shop.acme.co.uk")),
            ("info@Acme.com", Some("acme.com")),
            ("mailto:info@acme.com", Some("acme.com")),
            ("http://192.168.1.1", None),
            // Same host rules for emails as for websites.
            ("x@a.0", None),
            ("localhost", None),
            ("not a domain", None),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(domain_from(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn matching__identifiers_per_match_key() {
        let mut contacts = SyncSettings::new(
            ObjectKind::Contact,
            super::super::settings::Direction::TwoWay,
            super::super::settings::ConflictWinner::Hub,
        );
        let r = record(json!({"email": " Ann@X.io ", "name": "Acme", "vat": " IT 123 "}));
        assert_eq!(
            identifiers(&contacts, Side::Hub, &r),
            [Identifier::Email("ann@x.io".into())]
        );
        contacts.match_key = MatchKey::Custom {
            hub_property: "vat".into(),
            app_field: "VAT".into(),
        };
        assert_eq!(
            identifiers(&contacts, Side::Hub, &r),
            [Identifier::Custom("it 123".into())]
        );
        // The app side reads its own field name.
        assert_eq!(identifiers(&contacts, Side::App, &r), []);
        contacts.match_key = MatchKey::None;
        assert_eq!(identifiers(&contacts, Side::Hub, &r), []);

        let mut companies = contacts.clone();
        companies.object = ObjectKind::Company;
        companies.match_key = MatchKey::Default;
        companies.app_keys.company_domain = Some("website".into());
        let app = record(json!({"name": "ACME Inc", "website": "https://www.acme.com"}));
        assert_eq!(
            identifiers(&companies, Side::App, &app),
            [
                Identifier::CompanyName("acme".into()),
                Identifier::Domain("acme.com".into())
            ]
        );
        let mut deals = companies.clone();
        deals.object = ObjectKind::Deal;
        assert_eq!(identifiers(&deals, Side::App, &app), []);
    }

    fn candidate(id: &str, ids: &[Identifier], paired: Option<&str>) -> Candidate {
        Candidate {
            id: id.into(),
            identifiers: ids.to_vec(),
            paired_with: paired.map(Into::into),
        }
    }

    #[test]
    fn matching__companies_match_on_name_or_domain() {
        let name = |s: &str| Identifier::CompanyName(s.into());
        let domain = |s: &str| Identifier::Domain(s.into());
        let app = [name("acme"), domain("acme.com")];
        let cases = [
            // Same name, different domain: still a match.
            (
                vec![candidate("h1", &[name("acme"), domain("acme.io")], None)],
                Some((0, name("acme"))),
            ),
            // Same domain, different name: a match too.
            (
                vec![candidate(
                    "h1",
                    &[name("acme corp eu"), domain("acme.com")],
                    None,
                )],
                Some((0, domain("acme.com"))),
            ),
            // Both beat one; domain beats name; earlier beats later.
            (
                vec![
                    candidate("h1", &[name("acme")], None),
                    candidate("h2", &[domain("acme.com")], None),
                    candidate("h3", &[name("acme"), domain("acme.com")], None),
                    candidate("h4", &[name("acme"), domain("acme.com")], None),
                ],
                Some((2, domain("acme.com"))),
            ),
            (vec![candidate("h1", &[name("globex")], None)], None),
        ];
        for (i, (candidates, want)) in cases.into_iter().enumerate() {
            let got = choose_match(&app, &candidates);
            let want = match want {
                Some((index, on)) => MatchOutcome::Matched { index, on },
                None => MatchOutcome::NoMatch,
            };
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn matching__candidate_already_paired_means_duplicate() {
        let email = Identifier::Email("ann@x.io".into());
        let one = std::slice::from_ref(&email);
        let got = choose_match(one, &[candidate("h1", one, Some("a7"))]);
        assert_eq!(
            got,
            MatchOutcome::Taken(Exclusion::Duplicate {
                first: "a7".into(),
                identifier: "email ann@x.io".into()
            })
        );
        // An unpaired candidate is preferred to a taken one.
        let got = choose_match(
            one,
            &[candidate("h1", one, Some("a7")), candidate("h2", one, None)],
        );
        assert_eq!(
            got,
            MatchOutcome::Matched {
                index: 1,
                on: email
            }
        );
    }

    #[test]
    fn duplicates__first_seen_wins_later_is_duplicate_naming_first() {
        let mut tracker = DuplicateTracker::new();
        let e = |s: &str| Identifier::Email(s.into());
        let name = |s: &str| Identifier::CompanyName(s.into());
        assert_eq!(tracker.check("a1", &[e("ann@x.io")]), Ok(()));
        assert_eq!(tracker.check("a2", &[e("bob@x.io")]), Ok(()));
        assert_eq!(
            tracker.check("a3", &[e("ann@x.io")]),
            Err(Exclusion::Duplicate {
                first: "a1".into(),
                identifier: "email ann@x.io".into()
            })
        );
        // The same record seen again (a resumed pass) is not its own duplicate.
        assert_eq!(tracker.check("a1", &[e("ann@x.io")]), Ok(()));
        // No identifier: nothing to be a duplicate of.
        assert_eq!(tracker.check("a4", &[]), Ok(()));
        // Companies: a shared name is enough; the duplicate does not claim its domain.
        let d = |s: &str| Identifier::Domain(s.into());
        assert_eq!(tracker.check("c1", &[name("acme"), d("acme.com")]), Ok(()));
        assert!(tracker.check("c2", &[name("acme"), d("acme.io")]).is_err());
        assert_eq!(tracker.check("c3", &[name("globex"), d("acme.io")]), Ok(()));
    }
}
