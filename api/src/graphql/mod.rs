//! The GraphQL schema: types wrap service models, resolvers call one service function
//! (directly or through the per-request loader) and map its error.

mod batch;
mod category;
mod connection;
mod context;
mod cost;
mod documents;
mod enums;
pub mod error;
mod fast;
mod id;
pub mod json;
mod limits;
mod loader;
mod mutation;
mod node;
mod nulls;
mod reply;
mod thread;
mod timestamp;
mod user;
mod validated;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_graphql::{
    BatchRequest, BatchResponse, EmptySubscription, MergedObject, Request, Response, Schema,
    SchemaBuilder, ServerError, ValidationMode, dataloader::DataLoader,
};
use sea_orm::{ConnectionTrait, DbBackend};
use service::Db;

use crate::auth::Identity;
use cost::Cost;

pub use id::NodeId;
use loader::ForumLoader;
use mutation::Mutation;

/// The query root, merged from one part per domain.
#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    category::CategoryQuery,
    thread::ThreadQuery,
    node::NodeQuery,
);

pub type ForumSchema = Schema<Query, Mutation, EmptySubscription>;

/// Limits on what one request may ask for. Past any of them the request is refused with
/// `QUERY_TOO_COMPLEX` before anything runs.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Deepest selection.
    pub depth: usize,
    /// Fields counted once per row a connection may return (`first`/`last`).
    pub complexity: usize,
    /// Aliased fields in one document.
    pub aliases: usize,
    /// Fields at the root of one operation.
    pub root_fields: usize,
    /// Operations in one batched HTTP request.
    pub batch: usize,
    /// Bytes of query text.
    pub query_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 16,
            complexity: 20_000,
            aliases: 50,
            root_fields: 20,
            batch: 10,
            // Room for the longest reply body (20,000 characters, up to four bytes each)
            // written into the query text rather than sent as a variable.
            query_bytes: 96 * 1024,
        }
    }
}

/// Builds the schema; no I/O, so `print-schema` and tests can build it anywhere.
pub fn schema(limits: &Limits) -> ForumSchema {
    schema_with(limits, ValidationMode::Strict)
}

fn schema_with(limits: &Limits, validation: ValidationMode) -> ForumSchema {
    builder(limits, validation).finish()
}

fn builder(
    limits: &Limits,
    validation: ValidationMode,
) -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .validation_mode(validation)
}

/// The SDL that `schema.graphql` holds.
pub fn sdl() -> String {
    schema(&Limits::default()).sdl()
}

/// The schema with a cache of parsed documents (clients send the same few queries over
/// and over, and parsing is a large part of a small request's cost) and the limits
/// checked before anything runs.
pub struct Engine {
    pub schema: ForumSchema,
    /// The same schema under async-graphql's fast validation, for documents that passed
    /// the full one before and whose variables fit their types (`validated.rs`).
    fast_validation: ForumSchema,
    /// The same again, for those among them whose depth and complexity are known
    /// (`cost.rs`): its extension answers validation. A schema of its own, because any
    /// installed extension makes async-graphql's execution slower for every request.
    known_cost: ForumSchema,
    documents: documents::Cache,
    limits: Limits,
    /// Made on the first failed field, off the start-up path.
    field_types: OnceLock<Arc<nulls::FieldTypes>>,
}

/// One operation ready to run; `validated` if its document passed full validation before
/// and its variables plainly fit their types (then fast validation is enough).
struct Operation {
    request: Request,
    /// The query's text and operation name, for after the run: the cache's key, and what
    /// a failed field's path is read against.
    query: String,
    name: Option<String>,
    validated: bool,
    /// The operation is a mutation (its resolvers read the schema's field types).
    mutates: bool,
    /// The document asks for a key twice where async-graphql merges the answers.
    merges: bool,
    /// Its depth and complexity, where no variable can change them.
    cost: Option<Cost>,
}

/// A request whose operations passed (or failed) the limits, ready to run.
pub struct Prepared {
    operations: Vec<Result<Operation, ServerError>>,
    batch: bool,
    /// How many of the operations are mutations (for rate limiting).
    pub mutations: u32,
}

impl Engine {
    pub fn new(limits: &Limits) -> Self {
        Self {
            field_types: OnceLock::new(),
            schema: schema(limits),
            fast_validation: schema_with(limits, ValidationMode::Fast),
            known_cost: builder(limits, ValidationMode::Fast)
                .extension(cost::KnownCost::default())
                .finish(),
            documents: documents::Cache::new(512),
            limits: limits.clone(),
        }
    }

    /// Parses and checks each operation. A batch over the limit is refused whole.
    pub fn prepare(&self, request: BatchRequest) -> Result<Prepared, ServerError> {
        let (operations, batch) = match request {
            BatchRequest::Single(r) => (vec![r], false),
            BatchRequest::Batch(rs) => (rs, true),
        };
        if operations.len() > self.limits.batch {
            return Err(limits::too_complex(format!(
                "the batch has {} operations (at most {})",
                operations.len(),
                self.limits.batch
            )));
        }
        let mut mutations = 0;
        let operations = operations
            .into_iter()
            .map(|mut request| {
                limits::check_text(&request.query, &self.limits)?;
                let known = self.documents.attach(&mut request);
                let mut validated = known.as_ref().is_some_and(|k| k.validated);
                let (mut merges, mut parsed, mut mutates) = (false, false, false);
                let name = request.operation_name.clone();
                // Aside while the document is borrowed (`parsed_query` takes `&mut`).
                let mut variables = std::mem::take(&mut request.variables);
                // A query that does not parse is left for the executor to report.
                if let Ok(document) = request.parsed_query() {
                    // Counted first, so that GET refuses a mutation as such even when it
                    // is also over a limit.
                    let made = limits::mutations(document, name.as_deref());
                    mutations += made;
                    mutates = made > 0;
                    // A kept document passed the whole-document limits when it was kept:
                    // only its operation is checked again, off the walk of every field.
                    if !known.as_ref().is_some_and(|k| k.cached) {
                        limits::check_whole(document, &self.limits)?;
                    }
                    limits::check_roots(document, name.as_deref(), &self.limits)?;
                    validated = validated
                        && validated::variables_fit(document, name.as_deref(), &variables);
                    validated::fill_defaults(document, name.as_deref(), &mut variables);
                    merges = known
                        .as_ref()
                        .map_or_else(|| fast::merges_answers(document), |k| k.merges);
                    parsed = true;
                }
                request.variables = variables;
                // It picks the schema that reads it (`cost::KnownCost`).
                let cost = known
                    .as_ref()
                    .and_then(|k| k.cost.clone())
                    .filter(|_| validated);
                // The executor reads the text only to parse it: with the document
                // attached, the text moves on with the operation instead of a copy.
                let query = if parsed {
                    std::mem::take(&mut request.query)
                } else {
                    request.query.clone()
                };
                // Kept only now that it passed the limits: a refused document must not
                // take the cache's room (or memory).
                if let Some(known) = known.filter(|k| parsed && !k.cached)
                    && let Ok(document) = request.parsed_query()
                {
                    self.documents.keep(&query, document, known);
                }
                Ok(Operation {
                    request,
                    query,
                    name,
                    validated,
                    mutates,
                    merges,
                    cost,
                })
            })
            .collect();
        Ok(Prepared {
            operations,
            batch,
            mutations,
        })
    }

    /// The schema's field types, read from its SDL on first use.
    fn field_types(&self) -> Arc<nulls::FieldTypes> {
        self.field_types
            .get_or_init(|| Arc::new(nulls::FieldTypes::new(&self.schema.sdl())))
            .clone()
    }

    /// Executes the prepared operations for `identity`, each with its own loader. Their
    /// data may hold lists written as JSON already (`json::prewritten`): the answer is
    /// for `json::to_vec`, not for serde.
    pub async fn run(&self, prepared: Prepared, db: &Db, identity: &Identity) -> BatchResponse {
        let mut responses = batch::run(|spawner| async move {
            let mut responses = Vec::with_capacity(prepared.operations.len());
            for operation in prepared.operations {
                let response = match operation {
                    Ok(Operation {
                        request,
                        query,
                        name,
                        validated,
                        mutates,
                        merges,
                        cost,
                    }) => {
                        let schema = match (validated, &cost) {
                            (true, Some(_)) => &self.known_cost,
                            (true, None) => &self.fast_validation,
                            (false, _) => &self.schema,
                        };
                        let loader = ForumLoader {
                            db: db.clone(),
                            viewer: identity.viewer.clone(),
                            me: identity.user.clone(),
                        };
                        let spawner = spawner.clone();
                        // No cache across batches: whether a later level could reuse an
                        // earlier one's rows would depend on which batch finished first,
                        // and the statement count of a request must not. Keys are still
                        // deduplicated within a batch.
                        // Postgres takes a level's keys as one array, however many; SQLite
                        // binds one parameter per key, and keeps async-graphql's 1,000.
                        let batch = match db.get_database_backend() {
                            DbBackend::Postgres => usize::MAX,
                            _ => 1000,
                        };
                        let loader = DataLoader::new(loader, move |task| spawner.spawn(task))
                            .delay(Duration::ZERO)
                            .max_batch_size(batch);
                        let mut request = request.data(loader);
                        if merges {
                            request = request.data(fast::Merging);
                        }
                        if mutates {
                            request = request.data(self.field_types());
                        }
                        if let Some(cost) = cost {
                            request = request.data(cost);
                        }
                        let mut response = schema.execute(request).await;
                        if !json::is_request_error(&response) {
                            // It ran, so validation passed (it fails before anything runs).
                            if !validated {
                                self.documents.mark_validated(&query);
                            }
                            if response.errors.iter().any(|e| !e.path.is_empty())
                                && let Ok(document) = async_graphql::parser::parse_query(&query)
                            {
                                nulls::restore(
                                    &self.field_types(),
                                    &document,
                                    name.as_deref(),
                                    &mut response,
                                );
                            }
                        }
                        response
                    }
                    Err(error) => Response::from_errors(vec![error]),
                };
                responses.push(response);
            }
            responses
        })
        .await;
        for response in &mut responses {
            response.errors.iter_mut().for_each(error::classify);
        }
        match (prepared.batch, responses.pop()) {
            (false, Some(single)) if responses.is_empty() => BatchResponse::Single(single),
            (_, last) => {
                responses.extend(last);
                BatchResponse::Batch(responses)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{BatchRequest, Request};

    use super::*;

    #[test]
    fn a_refused_document_is_not_kept() {
        let engine = Engine::new(&Limits::default());
        let kept = |query: &str| {
            engine
                .documents
                .attach(&mut Request::new(query))
                .is_some_and(|k| k.cached)
        };
        let refused = format!("{{ {} }}", "a ".repeat(25));
        let prepared = engine.prepare(BatchRequest::Single(Request::new(refused.clone())));
        assert!(prepared.is_ok_and(|p| {
            p.operations[0]
                .as_ref()
                .is_err_and(|e| e.message.contains("root fields"))
        }));
        assert!(!kept(&refused));
        let fine = "{ categories { totalCount } }";
        assert!(
            engine
                .prepare(BatchRequest::Single(Request::new(fine)))
                .is_ok()
        );
        assert!(kept(fine));
    }
}
