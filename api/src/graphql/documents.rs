//! Parsed query documents by query text, and whether each has passed async-graphql's
//! full validation (`validated.rs`). A hit skips parsing; the cache holds at most
//! `capacity` documents and starts over when full, so a stream of one-off queries cannot
//! grow it.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::{Request, parser::types::ExecutableDocument};

/// Queries longer than this are parsed every time rather than kept.
const MAX_CACHED_QUERY: usize = 16 * 1024;

pub struct Cache {
    documents: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

struct Entry {
    document: ExecutableDocument,
    validated: bool,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Self {
            documents: Mutex::new(HashMap::with_capacity(capacity)),
            capacity,
        }
    }

    /// Gives `request` its parsed document from the cache, parsing (and keeping) it on a
    /// miss; answers whether the document has passed full validation before. A query
    /// that does not parse is left for the executor to report.
    pub fn attach(&self, request: &mut Request) -> bool {
        if request.query.len() > MAX_CACHED_QUERY {
            return false;
        }
        let cached = self.documents.lock().ok().and_then(|documents| {
            documents
                .get(&request.query)
                .map(|entry| (entry.document.clone(), entry.validated))
        });
        let (document, validated) = match cached {
            Some(cached) => cached,
            None => {
                let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
                    return false;
                };
                if let Ok(mut documents) = self.documents.lock() {
                    if documents.len() >= self.capacity {
                        documents.clear();
                    }
                    let entry = Entry {
                        document: document.clone(),
                        validated: false,
                    };
                    documents.insert(request.query.clone(), entry);
                }
                (document, false)
            }
        };
        request.set_parsed_query(document);
        validated
    }

    /// Records that `query`'s document passed full validation.
    pub fn mark_validated(&self, query: &str) {
        if let Ok(mut documents) = self.documents.lock()
            && let Some(entry) = documents.get_mut(query)
        {
            entry.validated = true;
        }
    }
}
