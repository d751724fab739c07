//! Runs a request's loader batches inside the request's own task.
//!
//! async-graphql's `DataLoader` hands each batch to a spawner and, by default, waits 1 ms
//! so that sibling resolvers can add their keys first. Spawned on the runtime, a batch
//! could start on another worker before the siblings ran (splitting the batch), and the
//! wait adds latency to every level of every query. Here the spawner queues the batch
//! and the request's task polls it only after the resolvers' pass has returned
//! `Pending`: every key of a level is in, with no timer, and a page's statement count
//! does not depend on scheduling.

use std::future::Future;

use futures_channel::mpsc;
use futures_util::{
    StreamExt,
    future::{BoxFuture, Either, select},
};

/// Hands a batch to the request's task.
#[derive(Clone)]
pub struct Spawner(mpsc::UnboundedSender<BoxFuture<'static, ()>>);

impl Spawner {
    pub fn spawn(&self, task: BoxFuture<'static, ()>) {
        // The receiver lives as long as the request; after it, nobody awaits the batch.
        let _ = self.0.unbounded_send(task);
    }
}

/// Runs `work` (built with a `Spawner`) and the batches it queues, in this task.
pub async fn run<F, T>(work: impl FnOnce(Spawner) -> F) -> T
where
    F: Future<Output = T>,
{
    let (tx, rx) = mpsc::unbounded();
    let work = std::pin::pin!(work(Spawner(tx)));
    let batches = std::pin::pin!(rx.for_each_concurrent(None, |task| task));
    // `select` polls `work` first, so a level's keys are all queued before its batch runs.
    match select(work, batches).await {
        Either::Left((output, _)) => output,
        Either::Right(((), work)) => work.await,
    }
}
