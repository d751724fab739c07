//! Parsed query documents by query text. A hit skips parsing (validation still runs on
//! every request); the cache holds at most `capacity` documents and starts over when
//! full, so a stream of one-off queries cannot grow it.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::{Request, parser::types::ExecutableDocument};

/// Queries longer than this are parsed every time rather than kept.
const MAX_CACHED_QUERY: usize = 16 * 1024;

pub struct Cache {
    documents: Mutex<HashMap<String, ExecutableDocument>>,
    capacity: usize,
}

impl Cache {
    pub fn new(capacity: usize) -> Self {
        Self {
            documents: Mutex::new(HashMap::with_capacity(capacity)),
            capacity,
        }
    }

    /// Gives `request` its parsed document from the cache, parsing (and keeping) it on a
    /// miss. A query that does not parse is left for the executor to report.
    pub fn attach(&self, request: &mut Request) {
        if request.query.len() > MAX_CACHED_QUERY {
            return;
        }
        let cached = self
            .documents
            .lock()
            .ok()
            .and_then(|documents| documents.get(&request.query).cloned());
        let document = match cached {
            Some(document) => document,
            None => {
                let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
                    return;
                };
                if let Ok(mut documents) = self.documents.lock() {
                    if documents.len() >= self.capacity {
                        documents.clear();
                    }
                    documents.insert(request.query.clone(), document.clone());
                }
                document
            }
        };
        request.set_parsed_query(document);
    }
}
