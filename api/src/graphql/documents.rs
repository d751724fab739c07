//! Parsed query documents by query text, whether each has passed async-graphql's full
//! validation (`validated.rs`), whether its answers may be merged (`fast`), and its cost
//! where no variable can change it (`cost.rs`). A hit skips parsing and those walks.
//! Only documents within the request limits are kept, and the cache is bounded by what
//! its parses hold, not only by their number: it starts over when either is full, so
//! neither a stream of one-off queries nor a few huge ones can grow it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{
    Request,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::{
    cost::{self, Cost},
    fast::merges_answers,
};

/// Queries longer than this are parsed every time rather than kept.
const MAX_CACHED_QUERY: usize = 16 * 1024;
/// Selections (fields and fragments, as written) one kept document may hold: a parsed
/// selection takes a few hundred bytes, far more than its text.
const MAX_DOCUMENT_SELECTIONS: usize = 2_000;
/// Selections all kept documents may hold together (a few tens of MB at most).
const MAX_SELECTIONS: usize = 100_000;

pub struct Cache {
    documents: Mutex<Documents>,
    capacity: usize,
}

#[derive(Default)]
struct Documents {
    entries: HashMap<String, Entry>,
    selections: usize,
}

struct Entry {
    document: Arc<ExecutableDocument>,
    known: Known,
}

/// What the cache knows of a document besides its parse.
#[derive(Clone)]
pub struct Known {
    /// It passed full validation before.
    pub validated: bool,
    /// Its answers may be merged (`fast::merges_answers`).
    pub merges: bool,
    /// It came from the cache (else it was parsed for this request, and is kept only
    /// once it passes the limits: see [`Cache::keep`]).
    pub cached: bool,
    /// Where a kept document's depth and complexity are the same for any variables, the
    /// slot that holds them once counted.
    pub cost: Option<Cost>,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Self {
            documents: Mutex::new(Documents::default()),
            capacity,
        }
    }

    /// Gives `request` its parsed document, from the cache or parsed now, and says what is
    /// known of it; `None` for a query too long to keep or that does not parse (left for
    /// the executor to report).
    pub fn attach(&self, request: &mut Request) -> Option<Known> {
        if request.query.len() > MAX_CACHED_QUERY {
            return None;
        }
        let cached = self.documents.lock().ok().and_then(|documents| {
            documents
                .entries
                .get(&request.query)
                .map(|entry| (entry.document.clone(), entry.known.clone()))
        });
        // The copy is made outside the lock.
        let (document, known) = match cached {
            Some((document, known)) => (ExecutableDocument::clone(&document), known),
            None => {
                let document = async_graphql::parser::parse_query(&request.query).ok()?;
                let known = Known {
                    validated: false,
                    merges: merges_answers(&document),
                    cached: false,
                    cost: None,
                };
                (document, known)
            }
        };
        request.set_parsed_query(document);
        Some(known)
    }

    /// Keeps `query`'s document, which passed the request limits, if it is small enough.
    pub fn keep(&self, query: &str, document: &ExecutableDocument, known: Known) {
        let selections = selections(document);
        if selections > MAX_DOCUMENT_SELECTIONS {
            return;
        }
        let entry = Entry {
            document: Arc::new(document.clone()),
            known: Known {
                cached: true,
                cost: cost::is_fixed(document).then(Cost::default),
                ..known
            },
        };
        if let Ok(mut documents) = self.documents.lock() {
            if documents.entries.len() >= self.capacity
                || documents.selections + selections > MAX_SELECTIONS
            {
                *documents = Documents::default();
            }
            if documents.entries.insert(query.to_owned(), entry).is_none() {
                documents.selections += selections;
            }
        }
    }

    /// Records that `query`'s document passed full validation.
    pub fn mark_validated(&self, query: &str) {
        if let Ok(mut documents) = self.documents.lock()
            && let Some(entry) = documents.entries.get_mut(query)
        {
            entry.known.validated = true;
        }
    }
}

/// Selections written in `document`, each once (not spread).
fn selections(document: &ExecutableDocument) -> usize {
    fn of(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| {
                1 + match &item.node {
                    Selection::Field(field) => of(&field.node.selection_set.node),
                    Selection::InlineFragment(fragment) => of(&fragment.node.selection_set.node),
                    Selection::FragmentSpread(_) => 0,
                }
            })
            .sum()
    }
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, op)| of(&op.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| of(&fragment.node.selection_set.node))
        .sum();
    operations + fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Request {
        Request::new(query)
    }

    #[test]
    fn only_documents_kept_are_cached_and_their_size_is_bounded() {
        let cache = Cache::new(512);
        let small = "{ viewer { id } }";
        let known = cache.attach(&mut request(small)).unwrap();
        assert!(!known.cached, "parsed, not kept until it passes the limits");
        assert!(!cache.attach(&mut request(small)).unwrap().cached);
        let document = async_graphql::parser::parse_query(small).unwrap();
        cache.keep(small, &document, known.clone());
        assert!(cache.attach(&mut request(small)).unwrap().cached);
        // A document of more selections than one entry may hold is parsed every time.
        let wide = format!("{{ {} }}", "a ".repeat(MAX_DOCUMENT_SELECTIONS + 1));
        let document = async_graphql::parser::parse_query(&wide).unwrap();
        cache.keep(&wide, &document, known.clone());
        assert!(!cache.attach(&mut request(&wide)).unwrap().cached);
        // Documents that fill the budget together start it over.
        let large = |i: usize| format!("{{ {} }} # {i}", "a ".repeat(MAX_DOCUMENT_SELECTIONS - 1));
        let n = MAX_SELECTIONS / (MAX_DOCUMENT_SELECTIONS - 1);
        for i in 0..=n {
            let query = large(i);
            let document = async_graphql::parser::parse_query(&query).unwrap();
            cache.keep(&query, &document, known.clone());
        }
        let documents = cache.documents.lock().unwrap();
        assert!(
            documents.selections <= MAX_SELECTIONS,
            "{}",
            documents.selections
        );
        assert!(!documents.entries.contains_key(small), "started over");
    }
}
