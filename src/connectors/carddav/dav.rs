//! The WebDAV side of CardDAV: the XML bodies Tandem sends and the `multistatus`
//! answers it reads (RFC 4918, RFC 6352, RFC 6578). Elements are matched by their local
//! name: servers differ in prefixes and default namespaces, and no name we read is used
//! by two of the namespaces involved.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::HashMap;

/// One `<response>` of a multistatus answer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DavResponse {
    pub href: String,
    /// The response's own status: a sync-collection member deleted since the token is a
    /// 404 here.
    pub status: Option<u16>,
    /// Properties the server answered with 200, by local name: their text, or the href
    /// they hold (`current-user-principal`, `addressbook-home-set`).
    pub props: HashMap<String, String>,
    /// `resourcetype` holds `addressbook`.
    pub is_addressbook: bool,
}

impl DavResponse {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props.get(name).map(String::as_str)
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Multistatus {
    pub responses: Vec<DavResponse>,
    /// The token a sync-collection REPORT answers with.
    pub sync_token: Option<String>,
}

fn invalid(e: impl std::fmt::Display) -> String {
    format!("the server's XML answer is not valid: {e}")
}

/// The status code of a `HTTP/1.1 404 Not Found` line.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reads a `207 Multi-Status` body.
pub fn parse_multistatus(xml: &str) -> Result<Multistatus, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Multistatus::default();
    // Local names of the open elements, outermost first.
    let mut stack: Vec<String> = Vec::new();
    let mut response: Option<DavResponse> = None;
    let mut propstat: HashMap<String, String> = HashMap::new();
    let mut propstat_ok = true;
    let mut propstat_addressbook = false;
    let mut text = String::new();
    loop {
        let event = reader.read_event().map_err(invalid)?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                opened(
                    &name,
                    &mut response,
                    &mut propstat,
                    &mut propstat_ok,
                    &mut propstat_addressbook,
                );
                stack.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "addressbook" && stack.last().is_some_and(|p| p == "resourcetype") {
                    propstat_addressbook = true;
                }
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(invalid)?),
            // `&amp;` and `&#38;` arrive apart from the text around them.
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(invalid)? {
                Some(c) => text.push(c),
                None => {
                    let name = r.decode().map_err(invalid)?;
                    let resolved = resolve_predefined_entity(&name).ok_or_else(|| {
                        format!("the server's XML answer uses an unknown entity &{name};")
                    })?;
                    text.push_str(resolved);
                }
            },
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::End(_) => {
                let Some(name) = stack.pop() else { break };
                let parent = stack.last().map(String::as_str);
                let value = std::mem::take(&mut text);
                match (name.as_str(), parent) {
                    ("href", Some("response")) => {
                        if let Some(r) = response.as_mut() {
                            r.href = value.trim().to_string();
                        }
                    }
                    ("status", Some("response")) => {
                        if let Some(r) = response.as_mut() {
                            r.status = status_code(&value);
                        }
                    }
                    ("status", Some("propstat")) => {
                        propstat_ok = status_code(&value).is_some_and(|c| (200..300).contains(&c));
                    }
                    ("addressbook", Some("resourcetype")) => propstat_addressbook = true,
                    ("sync-token", Some("multistatus")) => {
                        out.sync_token = Some(value.trim().to_string())
                    }
                    // A property's value, or the href inside it.
                    (_, Some("prop")) => {
                        propstat
                            .entry(name)
                            .or_insert_with(|| value.trim().to_string());
                    }
                    ("href", Some(prop))
                        if stack.len() >= 2 && stack[stack.len() - 2] == "prop" =>
                    {
                        propstat.insert(prop.to_string(), value.trim().to_string());
                    }
                    ("propstat", _) => {
                        if let Some(r) = response.as_mut() {
                            if propstat_ok {
                                r.props.extend(propstat.drain());
                                r.is_addressbook |= propstat_addressbook;
                            }
                        }
                        propstat.clear();
                    }
                    ("response", _) => {
                        if let Some(r) = response.take() {
                            out.responses.push(r);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn opened(
    name: &str,
    response: &mut Option<DavResponse>,
    propstat: &mut HashMap<String, String>,
    ok: &mut bool,
    addressbook: &mut bool,
) {
    match name {
        "response" => *response = Some(DavResponse::default()),
        "propstat" => {
            propstat.clear();
            *ok = true;
            *addressbook = false;
        }
        _ => {}
    }
}

/// `PROPFIND` for the principal and its address book home (discovery).
pub const PROPFIND_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:current-user-principal/><card:addressbook-home-set/></d:prop>
</d:propfind>"#;

/// `PROPFIND` (Depth 1) of the collections of a home: which are address books.
pub const PROPFIND_COLLECTIONS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/">
  <d:prop><d:resourcetype/><d:displayname/><d:sync-token/><cs:getctag/></d:prop>
</d:propfind>"#;

/// `PROPFIND` (Depth 1) of an address book's members: their etags.
pub const PROPFIND_ETAGS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"#;

/// `REPORT addressbook-multiget` of the cards at `hrefs`.
pub fn multiget(hrefs: &[&str]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><card:address-data/></d:prop>
"#,
    );
    for h in hrefs {
        body.push_str(&format!("  <d:href>{}</d:href>\n", escape(*h)));
    }
    body.push_str("</card:addressbook-multiget>");
    body
}

/// `REPORT sync-collection` after `token` (empty: everything). No `DAV:limit`: some
/// servers then drop changes instead of paging them.
pub fn sync_collection(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:">
  <d:sync-token>{}</d:sync-token>
  <d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop>
</d:sync-collection>"#,
        escape(token)
    )
}

/// `REPORT addressbook-query` of the cards with this email (a creation's reconciliation).
pub fn query_email(email: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><card:address-data/></d:prop>
  <card:filter>
    <card:prop-filter name="EMAIL">
      <card:text-match collation="i;unicode-casemap" match-type="equals">{}</card:text-match>
    </card:prop-filter>
  </card:filter>
</card:addressbook-query>"#,
        escape(email.trim())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_answer_gives_members_deletions_and_the_new_token() {
        let xml = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
  <response><href>/ann/book/a.vcf</href>
    <propstat><prop><getetag>"e1"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat>
  </response>
  <response><href>/ann/book/b.vcf</href><status>HTTP/1.1 404 Not Found</status></response>
  <sync-token>http://radicale.org/ns/sync/abc</sync-token>
</multistatus>"#;
        let m = parse_multistatus(xml).unwrap();
        assert_eq!(m.responses.len(), 2);
        assert_eq!(m.responses[0].href, "/ann/book/a.vcf");
        assert_eq!(m.responses[0].prop("getetag"), Some("\"e1\""));
        assert_eq!(m.responses[1].status, Some(404));
        assert_eq!(
            m.sync_token.as_deref(),
            Some("http://radicale.org/ns/sync/abc")
        );
    }

    #[test]
    fn prefixed_discovery_answers_give_hrefs_and_address_books() {
        let xml = r#"<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">
  <d:response><d:href>/ann/</d:href>
    <d:propstat><d:prop>
      <d:current-user-principal><d:href>/ann/</d:href></d:current-user-principal>
      <c:addressbook-home-set><d:href>/ann/</d:href></c:addressbook-home-set>
    </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
  </d:response>
  <d:response><d:href>/ann/book/</d:href>
    <d:propstat><d:prop>
      <d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>
      <d:displayname>Friends &amp; family</d:displayname>
    </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
    <d:propstat><d:prop><d:sync-token/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>
  </d:response>
</d:multistatus>"#;
        let m = parse_multistatus(xml).unwrap();
        assert_eq!(m.responses[0].prop("current-user-principal"), Some("/ann/"));
        assert_eq!(m.responses[0].prop("addressbook-home-set"), Some("/ann/"));
        assert!(!m.responses[0].is_addressbook);
        assert!(m.responses[1].is_addressbook);
        assert_eq!(m.responses[1].prop("displayname"), Some("Friends & family"));
        assert_eq!(
            m.responses[1].prop("sync-token"),
            None,
            "a 404 propstat is left out"
        );
    }

    #[test]
    fn card_data_arrives_whole() {
        let xml = "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><response><href>/a.vcf</href><propstat><prop><getetag>\"1\"</getetag><C:address-data>BEGIN:VCARD\r\nFN:Ann &amp; Bo\r\nEND:VCARD\r\n</C:address-data></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";
        let m = parse_multistatus(xml).unwrap();
        assert_eq!(
            m.responses[0].prop("address-data"),
            Some("BEGIN:VCARD\r\nFN:Ann & Bo\r\nEND:VCARD")
        );
    }
}
