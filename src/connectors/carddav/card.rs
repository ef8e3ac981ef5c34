//! A vCard as the fields Tandem maps, and back. Reading takes the preferred EMAIL and
//! TEL as `email` and `phone` and the others as lists; writing patches only the mapped
//! properties into the stored card, so what Tandem does not map (PHOTO, X-…, groups,
//! parameters) survives every round trip. vCard 3.0 and 4.0 cards keep their version;
//! new cards are written as 3.0, which every server and client reads.

use super::super::{AppField, FieldKind};
use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardValue, VCardVersion,
};
use serde_json::{Map, Value};

/// The app object of a CardDAV connection: the cards of one address book.
pub const OBJECT: &str = "cards";

/// The fields of a card, with the hub property each maps to by default.
pub fn fields() -> Vec<AppField> {
    let field = |name: &str, label: &str, kind: FieldKind, hub: Option<&str>| AppField {
        name: name.into(),
        label: label.into(),
        kind,
        required: false,
        read_only: name == "uid",
        default_hub_property: hub.map(str::to_string),
    };
    vec![
        field(
            "email",
            "Email (preferred)",
            FieldKind::Email,
            Some("email"),
        ),
        field("other_emails", "Other emails", FieldKind::String, None),
        field(
            "first_name",
            "First name",
            FieldKind::String,
            Some("firstname"),
        ),
        field(
            "last_name",
            "Last name",
            FieldKind::String,
            Some("lastname"),
        ),
        field("full_name", "Full name (FN)", FieldKind::String, None),
        field(
            "phone",
            "Phone (preferred)",
            FieldKind::Phone,
            Some("phone"),
        ),
        field("other_phones", "Other phones", FieldKind::String, None),
        field(
            "organization",
            "Organization",
            FieldKind::String,
            Some("company"),
        ),
        field("title", "Title", FieldKind::String, Some("jobtitle")),
        field("street", "Street", FieldKind::String, Some("address")),
        field("city", "City", FieldKind::String, Some("city")),
        field("postal_code", "Postal code", FieldKind::String, Some("zip")),
        field("country", "Country", FieldKind::String, Some("country")),
        field("url", "Website", FieldKind::String, Some("website")),
        field(
            "birthday",
            "Birthday",
            FieldKind::Date,
            Some("date_of_birth"),
        ),
        field("note", "Note", FieldKind::String, None),
        field("categories", "Categories", FieldKind::String, None),
        field("uid", "UID", FieldKind::String, None),
    ]
}

/// Fields held in one component of a structured property: the property, the
/// component's index and how many components the property has (N, ORG, ADR).
const STRUCTURED: [(&str, VCardProperty, usize, usize); 7] = [
    ("last_name", VCardProperty::N, 0, 5),
    ("first_name", VCardProperty::N, 1, 5),
    ("organization", VCardProperty::Org, 0, 1),
    ("street", VCardProperty::Adr, 2, 7),
    ("city", VCardProperty::Adr, 3, 7),
    ("postal_code", VCardProperty::Adr, 5, 7),
    ("country", VCardProperty::Adr, 6, 7),
];

/// Fields that are a property's whole text.
const TEXT: [(&str, VCardProperty); 3] = [
    ("title", VCardProperty::Title),
    ("url", VCardProperty::Url),
    ("note", VCardProperty::Note),
];

pub fn parse(text: &str) -> Result<VCard, String> {
    VCard::parse(text).map_err(|e| format!("the card is not a valid vCard: {e:?}"))
}

/// The mapped fields of a card; empty ones are left out.
pub fn read(card: &VCard) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |name: &str, value: String| {
        if !value.trim().is_empty() {
            out.insert(name.into(), Value::String(value.trim().to_string()));
        }
    };
    let (email, other_emails) = preferred_and_others(card, &VCardProperty::Email);
    put("email", email);
    put("other_emails", other_emails.join(", "));
    let (phone, other_phones) = preferred_and_others(card, &VCardProperty::Tel);
    put("phone", phone);
    put("other_phones", other_phones.join(", "));
    for (name, property, index, _) in STRUCTURED {
        put(name, component(card, &property, index));
    }
    for (name, property) in TEXT {
        put(name, component(card, &property, 0));
    }
    put("full_name", component(card, &VCardProperty::Fn, 0));
    put("birthday", component(card, &VCardProperty::Bday, 0));
    let categories: Vec<String> = card
        .properties(&VCardProperty::Categories)
        .flat_map(|e| e.values.iter().map(text))
        .filter(|c| !c.is_empty())
        .collect();
    put("categories", categories.join(", "));
    put("uid", card.uid().unwrap_or_default().to_string());
    out
}

/// A new card for `values`, with its UID.
pub fn create(uid: &str, values: &Map<String, Value>) -> VCard {
    let mut card = VCard {
        entries: vec![VCardEntry::new(VCardProperty::Uid).with_value(uid.to_string())],
    };
    patch(&mut card, values);
    card
}

/// Writes the mapped `values` into `card`; a null or empty value removes the property.
/// Properties not named in `values` are left as they are.
pub fn patch(card: &mut VCard, values: &Map<String, Value>) {
    let get = |name: &str| -> Option<String> {
        values.get(name).map(|v| match v {
            Value::Null => String::new(),
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        })
    };
    for (preferred, others, property) in [
        ("email", "other_emails", VCardProperty::Email),
        ("phone", "other_phones", VCardProperty::Tel),
    ] {
        if let Some(v) = get(preferred) {
            set_preferred(card, property.clone(), &v);
        }
        if let Some(v) = get(others) {
            set_others(card, property, &v);
        }
    }
    // FN follows the name when it was made from it (or is missing).
    let fn_follows_name = card.property(&VCardProperty::Fn).is_none()
        || component(card, &VCardProperty::Fn, 0) == composed_name(card);
    for (name, property, index, width) in STRUCTURED {
        if let Some(v) = get(name) {
            set_component(card, property, index, width, &v);
        }
    }
    for (name, property) in TEXT {
        if let Some(v) = get(name) {
            set_single(
                card,
                property,
                (!v.is_empty()).then_some(VCardValue::Text(v)),
            );
        }
    }
    if let Some(v) = get("birthday") {
        set_single(card, VCardProperty::Bday, date(&v));
    }
    if let Some(v) = get("categories") {
        let list: Vec<VCardValue> = split_list(&v).into_iter().map(VCardValue::Text).collect();
        card.entries.retain(|e| e.name != VCardProperty::Categories);
        if !list.is_empty() {
            card.entries
                .push(VCardEntry::new(VCardProperty::Categories).with_values(list));
        }
    }
    // FN is required: given explicitly, else made from the name (or the email).
    match get("full_name").filter(|v| !v.is_empty()) {
        Some(v) => set_single(card, VCardProperty::Fn, Some(VCardValue::Text(v))),
        None if fn_follows_name => {
            let mut name = composed_name(card);
            if name.is_empty() {
                name = preferred_and_others(card, &VCardProperty::Email).0;
            }
            set_single(card, VCardProperty::Fn, Some(VCardValue::Text(name)));
        }
        None => {}
    }
    if card.property(&VCardProperty::N).is_none() {
        // vCard 3.0 requires N.
        card.entries
            .push(VCardEntry::new(VCardProperty::N).with_values(vec![
                VCardValue::Text(
                    String::new()
                );
                5
            ]));
    }
}

/// The card as text, in its own version (3.0 for a card that names none).
pub fn write(card: &VCard) -> String {
    let mut out = String::new();
    let version = card.version().unwrap_or(VCardVersion::V3_0);
    // Writing into a String cannot fail.
    let _ = card.write_to(&mut out, version);
    out
}

/// "Given Family", as FN is usually made.
fn composed_name(card: &VCard) -> String {
    let given = component(card, &VCardProperty::N, 1);
    let family = component(card, &VCardProperty::N, 0);
    format!("{given} {family}").trim().to_string()
}

fn text(v: &VCardValue) -> String {
    match v {
        VCardValue::Text(s) => s.clone(),
        VCardValue::Component(parts) => parts.join(","),
        VCardValue::PartialDateTime(d) => match (d.year, d.month, d.day) {
            (Some(y), Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
            (None, Some(m), Some(d)) => format!("--{m:02}-{d:02}"),
            _ => String::new(),
        },
        VCardValue::Integer(i) => i.to_string(),
        VCardValue::Float(f) => f.to_string(),
        VCardValue::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Component `index` of the first `property` (`0` for a plain value).
fn component(card: &VCard, property: &VCardProperty, index: usize) -> String {
    card.property(property)
        .and_then(|e| e.values.get(index))
        .map(text)
        .unwrap_or_default()
}

fn is_preferred(e: &VCardEntry) -> bool {
    e.params.iter().any(|p| match (&p.name, &p.value) {
        (VCardParameterName::Pref, _) => true,
        (VCardParameterName::Type, VCardParameterValue::Text(t)) => t.eq_ignore_ascii_case("pref"),
        _ => false,
    })
}

/// Index of the preferred entry of `property`: the one marked PREF, else the first.
fn preferred_index(card: &VCard, property: &VCardProperty) -> Option<usize> {
    let of_property = || {
        card.entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| &e.name == property)
    };
    of_property()
        .find(|(_, e)| is_preferred(e))
        .or_else(|| of_property().next())
        .map(|(i, _)| i)
}

fn preferred_and_others(card: &VCard, property: &VCardProperty) -> (String, Vec<String>) {
    let preferred = preferred_index(card, property);
    let mut others = Vec::new();
    let mut first = String::new();
    for (i, e) in card.entries.iter().enumerate() {
        if &e.name != property {
            continue;
        }
        let value = e.values.first().map(text).unwrap_or_default();
        if Some(i) == preferred {
            first = value;
        } else if !value.is_empty() {
            others.push(value);
        }
    }
    (first, others)
}

fn set_preferred(card: &mut VCard, property: VCardProperty, value: &str) {
    match (preferred_index(card, &property), value.is_empty()) {
        (Some(i), true) => {
            card.entries.remove(i);
        }
        (Some(i), false) => card.entries[i].values = vec![VCardValue::Text(value.into())],
        (None, true) => {}
        (None, false) => {
            // 4.0 says PREF=1, 3.0 TYPE=pref.
            let pref = if card.version() == Some(VCardVersion::V4_0) {
                VCardParameter::pref(1u32)
            } else {
                VCardParameter::new(VCardParameterName::Type, "pref".to_string())
            };
            card.entries.push(
                VCardEntry::new(property)
                    .with_param(pref)
                    .with_value(value.to_string()),
            );
        }
    }
}

/// Replaces the entries of `property` other than the preferred one by `list`.
fn set_others(card: &mut VCard, property: VCardProperty, list: &str) {
    let preferred = preferred_index(card, &property);
    let mut index = 0;
    card.entries.retain(|e| {
        let keep = e.name != property || Some(index) == preferred;
        index += 1;
        keep
    });
    for value in split_list(list) {
        card.entries
            .push(VCardEntry::new(property.clone()).with_value(value));
    }
}

/// Sets component `index` of a structured property of `width` components.
fn set_component(
    card: &mut VCard,
    property: VCardProperty,
    index: usize,
    width: usize,
    value: &str,
) {
    let entry = match card.entries.iter_mut().position(|e| e.name == property) {
        Some(i) => &mut card.entries[i],
        None => {
            if value.is_empty() {
                return;
            }
            card.entries.push(VCardEntry::new(property));
            card.entries.last_mut().expect("just pushed")
        }
    };
    while entry.values.len() < width.max(index + 1) {
        entry.values.push(VCardValue::Text(String::new()));
    }
    entry.values[index] = VCardValue::Text(value.into());
}

fn set_single(card: &mut VCard, property: VCardProperty, value: Option<VCardValue>) {
    let at = card.entries.iter().position(|e| e.name == property);
    match (at, value) {
        (Some(i), Some(v)) => card.entries[i].values = vec![v],
        (Some(i), None) => {
            card.entries.remove(i);
        }
        (None, Some(v)) => card
            .entries
            .push(VCardEntry::new(property).with_values(vec![v])),
        (None, None) => {}
    }
}

/// `YYYY-MM-DD` as a vCard date; anything else stays text.
fn date(v: &str) -> Option<VCardValue> {
    if v.is_empty() {
        return None;
    }
    Some(match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => {
            use chrono::Datelike;
            VCardValue::PartialDateTime(PartialDateTime {
                year: Some(d.year() as u16),
                month: Some(d.month() as u8),
                day: Some(d.day() as u8),
                ..Default::default()
            })
        }
        Err(_) => VCardValue::Text(v.into()),
    })
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n\
        EMAIL;TYPE=INTERNET:old@example.com\r\nEMAIL;TYPE=INTERNET,PREF:ann@example.com\r\n\
        TEL;TYPE=CELL:+1 555 0100\r\nORG:Acme;Sales\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\n\
        X-SPOUSE:Bo\r\nBDAY:1990-04-01\r\nCATEGORIES:friends,work\r\nEND:VCARD\r\n";

    fn map(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_card_reads_as_its_mapped_fields() {
        let card = parse(V3).unwrap();
        let f = read(&card);
        assert_eq!(f["email"], "ann@example.com", "the PREF email");
        assert_eq!(f["other_emails"], "old@example.com");
        assert_eq!(f["first_name"], "Ann");
        assert_eq!(f["last_name"], "Lee");
        assert_eq!(f["phone"], "+1 555 0100");
        assert_eq!(f["organization"], "Acme");
        assert_eq!(f["birthday"], "1990-04-01");
        assert_eq!(f["categories"], "friends, work");
        assert_eq!(f["uid"], "u1");
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut card = parse(V3).unwrap();
        patch(
            &mut card,
            &map(json!({"email": "ann@new.example", "title": "CTO"})),
        );
        let text = write(&card);
        let again = read(&parse(&text).unwrap());
        assert_eq!(again["email"], "ann@new.example");
        assert_eq!(again["other_emails"], "old@example.com");
        assert_eq!(again["title"], "CTO");
        assert!(text.contains("VERSION:3.0"), "{text}");
        assert!(text.contains("X-SPOUSE:Bo"), "{text}");
        assert!(text.contains("PHOTO"), "{text}");
        assert!(text.contains("ORG:Acme;Sales"), "{text}");
    }

    #[test]
    fn a_new_card_has_fn_n_and_uid_and_empty_values_remove() {
        let card = create(
            "u2",
            &map(json!({"email": "bo@example.com", "first_name": "Bo"})),
        );
        let f = read(&card);
        assert_eq!(f["full_name"], "Bo");
        assert_eq!(f["uid"], "u2");
        let mut card = card;
        patch(&mut card, &map(json!({"email": null})));
        assert!(read(&card).get("email").is_none());
        let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u3\r\nFN:Cy\r\nEMAIL;PREF=1:cy@example.com\r\nEND:VCARD\r\n";
        let mut card = parse(v4).unwrap();
        assert_eq!(read(&card)["email"], "cy@example.com");
        patch(&mut card, &map(json!({"last_name": "Dee"})));
        let text = write(&card);
        assert!(text.contains("VERSION:4.0"), "{text}");
        assert_eq!(
            read(&parse(&text).unwrap())["full_name"],
            "Cy",
            "a chosen FN stays"
        );
    }
}
