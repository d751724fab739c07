//! Cursor pagination. A cursor carries its ordering's tag, every sort key of its row and
//! the row id as a tie-breaker, so a page starts exactly after (or before) that row
//! whatever was written in between: no row is repeated or skipped by inserts or deletes.

use std::cmp::Ordering as CmpOrdering;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::{Error, Result, clock};

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;
/// The page size when a client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// Relay's four pagination arguments, as the client sent them.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
}

impl PageRequest {
    pub fn first(n: i64) -> Self {
        Self {
            first: Some(n),
            ..Self::default()
        }
    }

    /// Checks the arguments against `ordering` and turns them into a window to fetch.
    pub fn window<T>(&self, ordering: &Ordering<T>) -> Result<Window> {
        let size = |n: i64, field: &'static str| {
            u64::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_PAGE_SIZE)
                .ok_or_else(|| {
                    Error::invalid(field, format!("must be between 0 and {MAX_PAGE_SIZE}"))
                })
        };
        let (limit, backward) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "last",
                    "pass either `first` or `last`, not both",
                ));
            }
            (Some(n), None) => (size(n, "first")?, false),
            (None, Some(n)) => (size(n, "last")?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, false),
        };
        let decode = |text: &Option<String>, field| {
            text.as_deref()
                .map(|t| Cursor::decode(t, ordering, field))
                .transpose()
        };
        Ok(Window {
            tag: ordering.tag,
            limit,
            backward,
            after: decode(&self.after, "after")?,
            before: decode(&self.before, "before")?,
            probe: true,
        })
    }
}

/// A validated page request. Hashable, so equal requests for many parents batch together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub(crate) tag: &'static str,
    pub(crate) limit: u64,
    pub(crate) backward: bool,
    pub(crate) after: Option<Cursor>,
    pub(crate) before: Option<Cursor>,
    /// Whether to read one row past the page, which only says whether more exist.
    pub(crate) probe: bool,
}

impl Window {
    /// With `false`, the row past the page is not read and the page reports no more rows
    /// in its direction: for a caller that will not ask (a front page's five latest
    /// threads never show "more"). Reading it costs the database a sixth of a five-row
    /// page.
    pub fn probing(self, probe: bool) -> Self {
        Self { probe, ..self }
    }
}

/// One sort-key value of a row.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Bool(bool),
    Int(i64),
    /// Microseconds since the epoch.
    Time(i64),
    Uuid(Uuid),
    Text(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Bool,
    Int,
    Time,
    Uuid,
    Text,
}

/// One column of an ordering: its name, its direction, and how to read it off a row.
pub struct SortKey<T> {
    pub column: &'static str,
    pub kind: KeyKind,
    pub descending: bool,
    pub read: fn(&T) -> Key,
}

/// A total order over rows of `T`; the last key must be unique (the id).
pub struct Ordering<T: 'static> {
    /// Written into cursors so one ordering's cursor cannot be used with another.
    pub tag: &'static str,
    pub keys: &'static [SortKey<T>],
}

impl<T: 'static> Ordering<T> {
    pub(crate) fn compare(&self, a: &T, b: &T) -> CmpOrdering {
        for key in self.keys {
            let order = (key.read)(a).cmp(&(key.read)(b));
            let order = if key.descending {
                order.reverse()
            } else {
                order
            };
            if order != CmpOrdering::Equal {
                return order;
            }
        }
        CmpOrdering::Equal
    }

    pub(crate) fn cursor(&self, row: &T) -> Cursor {
        Cursor {
            tag: self.tag,
            keys: self.keys.iter().map(|k| (k.read)(row)).collect(),
        }
    }
}

/// A decoded cursor: the sort keys of the row it points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub(crate) tag: &'static str,
    pub(crate) keys: Vec<Key>,
}

impl Cursor {
    /// The opaque text a client sends back as `after`/`before`.
    pub fn encode(&self) -> String {
        let mut text = String::from(self.tag);
        for key in &self.keys {
            text.push('|');
            match key {
                Key::Bool(b) => text.push(if *b { '1' } else { '0' }),
                Key::Int(n) | Key::Time(n) => text.push_str(&n.to_string()),
                Key::Uuid(id) => text.push_str(&id.simple().to_string()),
                Key::Text(s) => text.push_str(&URL_SAFE_NO_PAD.encode(s)),
            }
        }
        URL_SAFE_NO_PAD.encode(text)
    }

    fn decode<T>(text: &str, ordering: &Ordering<T>, field: &'static str) -> Result<Self> {
        let invalid = || Error::invalid(field, "not a cursor of a list in this order");
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let mut parts = raw.split('|');
        if parts.next() != Some(ordering.tag) {
            return Err(invalid());
        }
        let keys = ordering
            .keys
            .iter()
            .map(|key| {
                let part = parts.next()?;
                Some(match key.kind {
                    KeyKind::Bool => match part {
                        "0" => Key::Bool(false),
                        "1" => Key::Bool(true),
                        _ => return None,
                    },
                    KeyKind::Int => Key::Int(part.parse().ok()?),
                    KeyKind::Time => {
                        let micros = part.parse().ok()?;
                        clock::from_micros(micros).filter(clock::storable)?;
                        Key::Time(micros)
                    }
                    KeyKind::Uuid => Key::Uuid(Uuid::try_parse(part).ok()?),
                    KeyKind::Text => {
                        let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
                        let text = String::from_utf8(bytes).ok()?;
                        // No stored text holds NUL (`validate::text`); Postgres refuses it.
                        if text.contains('\0') {
                            return None;
                        }
                        Key::Text(text)
                    }
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid)?;
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self {
            tag: ordering.tag,
            keys,
        })
    }
}

/// A fetched row that holds a model of `T`: the model itself, or the model with more
/// joined to it (its author).
pub trait Row<T> {
    fn row(&self) -> &T;
}

/// How much of each row's author a page statement reads with it (a join).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Authors {
    /// None: the author, if asked for, is left to a loader.
    Skip,
    /// The byline's columns (`user::Card`).
    Card,
    /// The whole row.
    Full,
}

/// An author read with its row.
#[derive(Clone, Debug)]
pub enum AuthorRow {
    Card(crate::user::Card),
    Full(entity::user::Model),
}

/// A row with its author, read by the same statement (a join) instead of a second one.
#[derive(Clone, Debug)]
pub struct Authored<T> {
    pub row: T,
    /// `None` if the author was not read, or its row is missing; a deleted account is a
    /// tombstone row.
    pub author: Option<AuthorRow>,
}

impl<T> Row<T> for Authored<T> {
    fn row(&self) -> &T {
        &self.row
    }
}

/// One page of rows, each with its cursor.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub edges: Vec<Edge<T>>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

#[derive(Clone, Debug)]
pub struct Edge<T> {
    /// Encoded only if the client asks for it: most pages never show their cursors.
    pub cursor: Cursor,
    pub node: T,
}

impl<R> Page<R> {
    /// Builds a page from up to `limit + 1` rows fetched in `window`'s direction; the
    /// extra row (read only when the window probes) says that more exist.
    pub(crate) fn from_rows<T: 'static>(
        mut rows: Vec<R>,
        window: &Window,
        ordering: &Ordering<T>,
    ) -> Self
    where
        R: Row<T>,
    {
        rows.sort_by(|a, b| {
            let order = ordering.compare(a.row(), b.row());
            if window.backward {
                order.reverse()
            } else {
                order
            }
        });
        let more = rows.len() as u64 > window.limit;
        rows.truncate(window.limit as usize);
        if window.backward {
            rows.reverse();
        }
        let edges = rows
            .into_iter()
            .map(|node| Edge {
                cursor: ordering.cursor(node.row()),
                node,
            })
            .collect();
        let (has_next_page, has_previous_page) = if window.backward {
            (window.before.is_some(), more)
        } else {
            (more, window.after.is_some())
        };
        Self {
            edges,
            has_next_page,
            has_previous_page,
        }
    }

    pub fn empty() -> Self {
        Self {
            edges: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use proptest::prelude::*;

    use super::*;
    use crate::{category, reply::ReplyOrder, thread::ThreadOrder};

    fn windows(text: &str) -> Vec<Result<Window>> {
        let request = PageRequest {
            first: Some(10),
            after: Some(text.to_owned()),
            ..PageRequest::default()
        };
        vec![
            request.window(ThreadOrder::LatestActivity.ordering()),
            request.window(ThreadOrder::Oldest.ordering()),
            request.window(ReplyOrder::Top.ordering()),
            request.window(&category::BY_NAME),
        ]
    }

    proptest! {
        /// Any text is a cursor or a BAD_USER_INPUT, never a panic.
        #[test]
        fn arbitrary_cursors_are_refused_cleanly(text in ".{0,200}") {
            for window in windows(&text) {
                let clean = matches!(window, Ok(_) | Err(Error::Invalid { .. }));
                prop_assert!(clean);
            }
        }

        /// Well-encoded text of any shape reaches the key parsers, which refuse it cleanly.
        #[test]
        fn encoded_garbage_is_refused_cleanly(
            tag in prop::sample::select(vec!["thread-latest", "thread-oldest", "reply-top-up", "category-name", "x"]),
            parts in prop::collection::vec("[0-9a-z|=_-]{0,40}", 0..6),
        ) {
            let raw = format!("{tag}|{}", parts.join("|"));
            let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
            for window in windows(&text) {
                let clean = matches!(window, Ok(_) | Err(Error::Invalid { .. }));
                prop_assert!(clean);
            }
        }

        #[test]
        fn page_sizes_outside_the_range_are_refused(n in any::<i64>()) {
            let window = PageRequest::first(n).window(&category::BY_NAME);
            prop_assert_eq!(window.is_ok(), (0..=MAX_PAGE_SIZE as i64).contains(&n));
        }
    }
}
