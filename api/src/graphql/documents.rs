//! Parsed query documents by query text, whether each has passed async-graphql's full
//! validation (`validated.rs`), and whether its answers may be merged (`fast`). A hit
//! skips parsing and that walk; the cache holds at most
//! `capacity` documents and starts over when full, so a stream of one-off queries cannot
//! grow it.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::{Request, parser::types::ExecutableDocument};

use super::fast::merges_answers;

/// Queries longer than this are parsed every time rather than kept.
const MAX_CACHED_QUERY: usize = 16 * 1024;

pub struct Cache {
    documents: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

struct Entry {
    document: ExecutableDocument,
    known: Known,
}

/// What the cache knows of a document besides its parse.
#[derive(Clone, Copy)]
pub struct Known {
    /// It passed full validation before.
    pub validated: bool,
    /// Its answers may be merged (`fast::merges_answers`).
    pub merges: bool,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Self {
            documents: Mutex::new(HashMap::with_capacity(capacity)),
            capacity,
        }
    }

    /// Gives `request` its parsed document from the cache, parsing (and keeping) it on a
    /// miss, and says what is known of it; `None` for a query too long to keep or that
    /// does not parse (left for the executor to report).
    pub fn attach(&self, request: &mut Request) -> Option<Known> {
        if request.query.len() > MAX_CACHED_QUERY {
            return None;
        }
        let cached = self.documents.lock().ok().and_then(|documents| {
            documents
                .get(&request.query)
                .map(|entry| (entry.document.clone(), entry.known))
        });
        let (document, known) = match cached {
            Some(cached) => cached,
            None => {
                let document = async_graphql::parser::parse_query(&request.query).ok()?;
                let known = Known {
                    validated: false,
                    merges: merges_answers(&document),
                };
                if let Ok(mut documents) = self.documents.lock() {
                    if documents.len() >= self.capacity {
                        documents.clear();
                    }
                    let entry = Entry {
                        document: document.clone(),
                        known,
                    };
                    documents.insert(request.query.clone(), entry);
                }
                (document, known)
            }
        };
        request.set_parsed_query(document);
        Some(known)
    }

    /// Records that `query`'s document passed full validation.
    pub fn mark_validated(&self, query: &str) {
        if let Ok(mut documents) = self.documents.lock()
            && let Some(entry) = documents.get_mut(query)
        {
            entry.known.validated = true;
        }
    }
}
