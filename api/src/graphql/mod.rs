//! The GraphQL schema: types wrap service models, resolvers call one service function
//! (directly or through the per-request loader) and map its error.

mod batch;
mod category;
mod connection;
mod context;
mod documents;
mod enums;
pub mod error;
mod id;
mod loader;
mod mutation;
mod node;
mod reply;
mod thread;
mod user;

use std::time::Duration;

use async_graphql::{
    BatchRequest, BatchResponse, EmptySubscription, MergedObject, Schema, dataloader::DataLoader,
};
use sea_orm::DatabaseConnection;
use service::Viewer;

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

/// Limits on what one query may ask for.
#[derive(Clone, Debug)]
pub struct Limits {
    pub depth: usize,
    pub complexity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 12,
            complexity: 5_000,
        }
    }
}

/// Builds the schema; no I/O, so `print-schema` and tests can build it anywhere.
pub fn schema(limits: &Limits) -> ForumSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .finish()
}

/// The SDL that `schema.graphql` holds.
pub fn sdl() -> String {
    schema(&Limits::default()).sdl()
}

/// The schema with a cache of parsed documents: clients send the same few queries over
/// and over, and parsing is a large part of a small request's cost.
pub struct Engine {
    pub schema: ForumSchema,
    documents: documents::Cache,
}

impl Engine {
    pub fn new(limits: &Limits) -> Self {
        Self {
            schema: schema(limits),
            documents: documents::Cache::new(512),
        }
    }

    /// Executes a (batch) request for `viewer`, each operation with its own loader.
    pub async fn execute(
        &self,
        db: &DatabaseConnection,
        viewer: &Viewer,
        request: BatchRequest,
    ) -> BatchResponse {
        execute(self, db, viewer, request).await
    }
}

async fn execute(
    engine: &Engine,
    db: &DatabaseConnection,
    viewer: &Viewer,
    request: BatchRequest,
) -> BatchResponse {
    let schema = &engine.schema;
    let mut response = batch::run(|spawner| {
        let attach = |mut request: async_graphql::Request| {
            engine.documents.attach(&mut request);
            let spawner = spawner.clone();
            let loader = ForumLoader {
                db: db.clone(),
                viewer: viewer.clone(),
            };
            // No cache across batches: whether a later level could reuse an earlier one's
            // rows would depend on which batch finished first, and the statement count of
            // a request must not. Keys are still deduplicated within a batch.
            let loader =
                DataLoader::new(loader, move |task| spawner.spawn(task)).delay(Duration::ZERO);
            request.data(loader)
        };
        let request = match request {
            BatchRequest::Single(r) => BatchRequest::Single(attach(r)),
            BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(attach).collect()),
        };
        schema.execute_batch(request)
    })
    .await;
    match &mut response {
        BatchResponse::Single(r) => r.errors.iter_mut().for_each(error::classify),
        BatchResponse::Batch(rs) => rs
            .iter_mut()
            .flat_map(|r| r.errors.iter_mut())
            .for_each(error::classify),
    }
    response
}
