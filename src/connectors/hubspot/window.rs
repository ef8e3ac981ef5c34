//! Following HubSpot's changes with its search endpoint, which has no change feed: a
//! window of last-modified dates, read in ascending order, then the archived records of
//! that window (search never returns them), then the next window from the end of this
//! one minus a lookback (the search index lags writes by a few seconds).
//!
//! Search stops at 10,000 results per query, so a window with more is narrowed: the
//! next query starts at the last date read (inclusive, so records sharing it are read
//! again rather than skipped). When 10,000 records share one millisecond, that
//! millisecond is read in object-id order instead. Pure: the connector runs the queries.

use serde::{Deserialize, Serialize};

/// Results one search query can reach (`after + limit` beyond it is refused).
pub const SEARCH_CAP: u32 = 10_000;
/// The search endpoint's largest page.
pub const SEARCH_PAGE: u32 = 200;
/// How far back each window reaches into the previous one.
pub const LOOKBACK_MS: i64 = 10_000;

/// Where the change feed of one object is: the cursor the engine keeps, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Window {
    /// Last-modified dates from here (ms, inclusive)…
    pub from: i64,
    /// …to here, fixed when the window's first page is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
    /// Where this window began, for its archived records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub began: Option<i64>,
    /// The search's paging cursor inside the window (an offset at HubSpot; opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Results the current query has answered so far: it stops at the cap.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read: u32,
    /// Reading the millisecond `from` by object id, after this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_after: Option<u64>,
    /// Reading the archived records: the listing's paging cursor (`""` for its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<String>,
}

/// The next search to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `lastmodified` between `from` and `to` (inclusive), ascending, from `after`.
    Range {
        from: i64,
        to: i64,
        after: Option<String>,
    },
    /// `lastmodified == at` and `hs_object_id > after_id`, by id ascending.
    Tie { at: i64, after_id: u64 },
    /// The archived listing from this paging cursor.
    Archived { after: Option<String> },
}

/// What a search answered, reduced to what moves the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// (object id, last-modified ms) of each result, in the answer's order.
    pub results: Vec<(u64, i64)>,
    /// The paging cursor of the next page, when the app offers one.
    pub next: Option<String>,
    /// How many results the query has in all, when the app says (search does): at the
    /// cap HubSpot may offer no next page although more remain.
    pub total: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Window {
    pub fn starting_at(from: i64) -> Self {
        Window {
            from,
            ..Default::default()
        }
    }

    /// The query for this position; `now` closes a window not yet begun.
    pub fn query(&self, now: i64) -> Query {
        if let Some(after) = &self.archived {
            return Query::Archived {
                after: Some(after.clone()).filter(|a| !a.is_empty()),
            };
        }
        if let Some(after_id) = self.tie_after {
            return Query::Tie {
                at: self.from,
                after_id,
            };
        }
        Query::Range {
            from: self.from,
            to: self.to.unwrap_or(now).max(self.from),
            after: self.after.clone(),
        }
    }

    /// The earliest archive date this window reports as a deletion.
    pub fn archived_since(&self) -> i64 {
        self.began.unwrap_or(self.from) - LOOKBACK_MS
    }

    /// The position after `answer` to `query` (asked with `limit`), and whether the
    /// window has more to read now.
    pub fn advance(&self, query: &Query, answer: &Answer, limit: u32) -> (Window, bool) {
        let mut next = self.clone();
        match query {
            Query::Archived { .. } => match &answer.next {
                Some(after) => {
                    next.archived = Some(after.clone());
                    (next, true)
                }
                // The window is read: the next one overlaps it by the lookback.
                None => {
                    let to = self.to.unwrap_or(self.from);
                    (
                        Window::starting_at((to - LOOKBACK_MS).max(self.from)),
                        false,
                    )
                }
            },
            Query::Tie { at, .. } => match answer.results.last() {
                Some((id, _)) if answer.results.len() as u32 >= limit => {
                    next.tie_after = Some(*id);
                    (next, true)
                }
                // Every record of that millisecond is read: on to the next one.
                _ => {
                    next.tie_after = None;
                    next.from = at + 1;
                    (next, true)
                }
            },
            Query::Range { from, to, .. } => {
                next.to = Some(*to);
                next.began.get_or_insert(*from);
                next.read = self.read + answer.results.len() as u32;
                let beyond_cap = answer
                    .total
                    .is_some_and(|total| total > u64::from(next.read));
                match &answer.next {
                    None if !beyond_cap => {
                        next.after = None;
                        next.read = 0;
                        next.archived = Some(String::new());
                    }
                    Some(after) if next.read + limit <= SEARCH_CAP => {
                        next.after = Some(after.clone());
                    }
                    // The cap: start again from the last date read, which is inclusive.
                    _ => {
                        let last = answer.results.last().map(|(_, at)| *at).unwrap_or(*from);
                        next.after = None;
                        next.read = 0;
                        if last > *from {
                            next.from = last;
                        } else {
                            // 10,000 records in one millisecond: read it by id.
                            next.tie_after = Some(0);
                        }
                    }
                }
                (next, true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A search index as HubSpot's: sorted by date, ties in any order (here: reversed
    /// ids, the worst case for a client that assumed id order), capped at 10,000.
    fn answer(records: &[(u64, i64)], query: &Query, limit: u32) -> Answer {
        match query {
            Query::Range { from, to, after } => {
                let after: u32 = after.as_deref().map_or(0, |a| a.parse().unwrap());
                assert!(after + limit <= SEARCH_CAP, "asked past the cap");
                let mut hits: Vec<(u64, i64)> = records
                    .iter()
                    .copied()
                    .filter(|(_, at)| at >= from && at <= to)
                    .collect();
                hits.sort_by_key(|(id, at)| (*at, std::cmp::Reverse(*id)));
                let page: Vec<_> = hits
                    .iter()
                    .skip(after as usize)
                    .take(limit as usize)
                    .copied()
                    .collect();
                let end = after + page.len() as u32;
                // Like HubSpot: no next page past the cap, though `total` counts on.
                Answer {
                    results: page,
                    next: ((end as usize) < hits.len() && end + limit <= SEARCH_CAP)
                        .then(|| end.to_string()),
                    total: Some(hits.len() as u64),
                }
            }
            Query::Tie { at, after_id } => {
                let mut hits: Vec<(u64, i64)> = records
                    .iter()
                    .copied()
                    .filter(|(id, t)| t == at && id > after_id)
                    .collect();
                hits.sort();
                hits.truncate(limit as usize);
                Answer {
                    results: hits,
                    next: None,
                    total: None,
                }
            }
            Query::Archived { .. } => Answer {
                results: vec![],
                next: None,
                total: None,
            },
        }
    }

    /// Runs a window to its end and returns every id it read.
    fn read_all(records: &[(u64, i64)], now: i64) -> (BTreeSet<u64>, usize, Window) {
        let mut window = Window::starting_at(0);
        let mut seen = BTreeSet::new();
        let mut queries = 0;
        loop {
            let query = window.query(now);
            let a = answer(records, &query, SEARCH_PAGE);
            seen.extend(a.results.iter().map(|(id, _)| *id));
            queries += 1;
            assert!(queries < 10_000, "the window never ends");
            let (next, more) = window.advance(&query, &a, SEARCH_PAGE);
            window = next;
            if !more {
                return (seen, queries, window);
            }
        }
    }

    #[test]
    fn twenty_five_thousand_changes_in_a_minute_are_all_read() {
        // 25,000 records over 60 s: several share a millisecond, some at each cap boundary.
        let records: Vec<(u64, i64)> = (1..=25_000u64)
            .map(|id| (id, 1_000 + (id as i64 * 60_000) / 25_000))
            .collect();
        let (seen, queries, end) = read_all(&records, 100_000);
        assert_eq!(seen.len(), 25_000);
        assert!(queries < 200, "{queries} queries");
        assert_eq!(end, Window::starting_at(100_000 - LOOKBACK_MS));
    }

    #[test]
    fn ten_thousand_in_one_millisecond_are_read_by_id() {
        let mut records: Vec<(u64, i64)> = (1..=10_500u64).map(|id| (id, 5_000)).collect();
        records.extend((10_501..=10_600u64).map(|id| (id, 5_001 + id as i64)));
        records.push((20_000, 4_000));
        let (seen, _, _) = read_all(&records, 50_000);
        assert_eq!(seen.len(), records.len());
    }

    #[test]
    fn a_record_at_the_boundary_date_is_not_skipped() {
        // Exactly 10,000 records before the boundary millisecond, then 300 sharing it.
        let mut records: Vec<(u64, i64)> = (1..=10_000u64).map(|id| (id, id as i64)).collect();
        records.extend((10_001..=10_300u64).map(|id| (id, 10_000)));
        let (seen, _, _) = read_all(&records, 20_000);
        assert_eq!(seen.len(), records.len());
    }

    #[test]
    fn the_cursor_round_trips_as_json() {
        let w = Window {
            from: 5,
            to: Some(9),
            began: Some(1),
            after: Some("200".into()),
            read: 200,
            tie_after: None,
            archived: None,
        };
        let text = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<Window>(&text).unwrap(), w);
        assert_eq!(
            serde_json::to_string(&Window::starting_at(7)).unwrap(),
            r#"{"from":7}"#
        );
    }
}
