//! Cursor paging of the list endpoints (issue 15, "Lists that scale"): a request names
//! `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and the `cursor` the previous
//! page answered with; an answer holds at most `limit` items in the list's stable order
//! and `next_cursor` (null on the last page). A cursor is opaque to clients: base64url
//! of the list's name and the key of the last item given out, so a cursor of one list
//! is refused by another, and a page starts right after that item whatever was added
//! since. The lists page over items that are never removed (proposals, nodes,
//! attestations, evidence, sync records, revisions), so the key is always found again.
//! Proposals page in the ledger (`Ledger::proposals_page`): live ones from the state,
//! closed ones from SQLite, by the log index of their `propose` entry, which a
//! proposal keeps when it closes.

use crate::error::ApiError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use govmesh_core::stamp::Timestamp;

/// Items a page holds when the request names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Most items one page holds.
pub const MAX_LIMIT: usize = 1000;

/// Where a page starts and how many items it holds, for one list.
#[derive(Debug)]
pub(crate) struct Page {
    list: &'static str,
    pub limit: usize,
    /// The key of the last item of the previous page.
    pub after: Option<String>,
}

/// One page of a list: its items and the cursor of the next page, if any.
pub(crate) struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl Page {
    /// The page a request asks for from `list` (the endpoint's path): 400 naming
    /// `limit` or `cursor` when either is not one this list accepts.
    pub fn new(
        list: &'static str,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Page, ApiError> {
        Page::with_default(list, DEFAULT_LIMIT, limit, cursor)
    }

    /// [`Page::new`] for a list whose pages hold `default` items unless asked otherwise.
    pub fn with_default(
        list: &'static str,
        default: usize,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Page, ApiError> {
        let limit = match limit {
            None => default,
            Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(ApiError::bad_request(
                    "bad_limit",
                    format!("limit must be between 1 and {MAX_LIMIT}, not {n}"),
                ));
            }
        };
        let after = cursor.map(|c| decode(list, c)).transpose()?;
        Ok(Page { list, limit, after })
    }

    /// The cursor of the page after the item whose key is `key`.
    pub fn cursor_after(&self, key: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{key}", self.list))
    }

    /// The answer to a cursor whose item the list does not hold (400 `bad_cursor`).
    pub fn unknown_cursor(&self) -> ApiError {
        ApiError::bad_request(
            "bad_cursor",
            format!("cursor names no item of {} on this node", self.list),
        )
    }

    /// The page of `items` (in the list's stable order) that starts after the cursor's
    /// item and holds the next `limit` items that `keep`. The cursor's item is looked for
    /// among all items, kept or not, so a filter on something that changes (a
    /// proposal's status) does not lose the place. A cursor naming no item of the list
    /// is a 400.
    pub fn take<T>(
        &self,
        items: impl IntoIterator<Item = T>,
        key: impl Fn(&T) -> String,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Paged<T>, ApiError> {
        let mut it = items.into_iter();
        if let Some(after) = &self.after
            && !it.by_ref().any(|x| key(&x) == *after)
        {
            return Err(self.unknown_cursor());
        }
        let mut kept = it.filter(|x| keep(x));
        let items: Vec<T> = kept.by_ref().take(self.limit).collect();
        let next_cursor = match (items.last(), kept.next()) {
            (Some(last), Some(_)) => Some(self.cursor_after(&key(last))),
            _ => None,
        };
        Ok(Paged { items, next_cursor })
    }
}

impl Page {
    /// [`Page::take`] for a list of live observations, whose items come and go
    /// (`/v1/topology/connections`): `items` are in ascending order of `key`, and the
    /// page starts at the first item whose key is after the cursor's, whether or not
    /// that item is still there. Following the cursors gives every item present
    /// throughout the walk once, in order.
    pub fn take_ordered<T>(
        &self,
        items: impl IntoIterator<Item = T>,
        key: impl Fn(&T) -> String,
        keep: impl Fn(&T) -> bool,
    ) -> Paged<T> {
        let mut kept = items
            .into_iter()
            .skip_while(|x| self.after.as_ref().is_some_and(|a| key(x) <= *a))
            .filter(|x| keep(x));
        let items: Vec<T> = kept.by_ref().take(self.limit).collect();
        let next_cursor = match (items.last(), kept.next()) {
            (Some(last), Some(_)) => Some(self.cursor_after(&key(last))),
            _ => None,
        };
        Paged { items, next_cursor }
    }
}

/// The key a cursor of `list` carries; 400 naming `cursor` otherwise.
fn decode(list: &'static str, cursor: &str) -> Result<String, ApiError> {
    let bad =
        |why: String| ApiError::bad_request("bad_cursor", format!("cursor {cursor:?}: {why}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad("not a cursor this node gave out (not base64url)".into()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| bad("not a cursor this node gave out (not text)".into()))?;
    let Some((of, key)) = text.split_once('\n') else {
        return Err(bad("not a cursor this node gave out".into()));
    };
    if of != list {
        return Err(bad(format!("a cursor of {of}, not of {list}")));
    }
    Ok(key.to_owned())
}

/// `since` and `until` of a request: a time range, `since` inclusive, `until` exclusive;
/// 400 naming both when the range is empty.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeRange {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl TimeRange {
    pub fn new(since: Option<Timestamp>, until: Option<Timestamp>) -> Result<Self, ApiError> {
        if let (Some(s), Some(u)) = (since, until)
            && u <= s
        {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("until ({u}) must be after since ({s})"),
            ));
        }
        Ok(TimeRange { since, until })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: u64, cursor: Option<&str>) -> Page {
        Page::new("/v1/things", Some(limit), cursor).unwrap()
    }

    #[test]
    fn paging_gives_every_kept_item_once_in_order() {
        let items: Vec<u32> = (0..25).collect();
        let even = |x: &u32| x.is_multiple_of(2);
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let p = page(4, cursor.as_deref());
            let r = p.take(items.iter().copied(), u32::to_string, even).unwrap();
            assert!(r.items.len() <= 4);
            got.extend(r.items);
            match r.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, (0..25).filter(|x| x % 2 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn ordered_paging_survives_the_cursor_item_going_away() {
        let items: Vec<String> = (10..40).map(|x| x.to_string()).collect();
        let p = page(5, None).take_ordered(items.iter().cloned(), Clone::clone, |_| true);
        assert_eq!(p.items, vec!["10", "11", "12", "13", "14"]);
        // "14" is gone by the next request: the page starts at the next key.
        let rest: Vec<String> = items.iter().filter(|x| *x != "14").cloned().collect();
        let c = p.next_cursor.unwrap();
        let q = page(5, Some(&c)).take_ordered(rest.iter().cloned(), Clone::clone, |_| true);
        assert_eq!(q.items, vec!["15", "16", "17", "18", "19"]);
        let last = page(100, Some(&c)).take_ordered(rest, Clone::clone, |x| x.ends_with('9'));
        assert_eq!(last.items, vec!["19", "29", "39"]);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn a_full_last_page_has_no_next_cursor() {
        let r = page(3, None)
            .take(0..3u32, u32::to_string, |_| true)
            .unwrap();
        assert_eq!(r.items, vec![0, 1, 2]);
        assert!(r.next_cursor.is_none());
    }

    #[test]
    fn bad_limits_and_cursors_name_the_parameter() {
        for n in [0, MAX_LIMIT as u64 + 1] {
            let e = Page::new("/v1/things", Some(n), None).unwrap_err();
            assert!(e.to_string().contains("limit"), "{e}");
        }
        let other = Page::new("/v1/other", None, None)
            .unwrap()
            .cursor_after("3");
        for c in ["%%%", "bm90IGEgY3Vyc29y", other.as_str()] {
            let e = Page::new("/v1/things", None, Some(c)).unwrap_err();
            assert!(e.to_string().contains("cursor"), "{e}");
        }
        let unknown = page(1, None).cursor_after("99");
        let e = page(1, Some(&unknown))
            .take(0..3u32, u32::to_string, |_| true)
            .err()
            .unwrap();
        assert!(e.to_string().contains("cursor names no item"), "{e}");
    }
}
