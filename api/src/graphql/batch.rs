//! Runs a request's loader batches inside the request's own task, one level at a time.
//!
//! async-graphql's `DataLoader` hands each batch to a spawner and, by default, waits 1 ms
//! so that sibling resolvers can add their keys first. Spawned on the runtime, a batch may
//! start before its siblings ran (splitting it), and the wait adds latency to every level
//! of every query. Here the spawner only queues the batch. The request's resolvers are
//! polled until they are stalled, that is, until a poll returns `Pending` without having
//! woken itself (large lists are polled in slices that wake themselves to continue), and
//! only then do the queued batches run. Every key of a level is in by then: a page's
//! statement count does not depend on its length or on scheduling, and no timer is used.

use std::{
    future::Future,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_channel::mpsc;
use futures_util::{StreamExt, future::BoxFuture};

/// Consecutive self-wakes after which the task yields to the runtime anyway, so that a
/// resolver that keeps waking itself cannot hold a worker thread.
const MAX_PASSES: usize = 64;

/// Hands a batch to the request's task.
#[derive(Clone)]
pub struct Spawner(mpsc::UnboundedSender<BoxFuture<'static, ()>>);

impl Spawner {
    pub fn spawn(&self, task: BoxFuture<'static, ()>) {
        // The receiver lives as long as the request; after it, nobody awaits the batch.
        let _ = self.0.unbounded_send(task);
    }
}

/// Remembers that its side (the resolvers, or the batches) was woken, and passes the
/// wake on to the request's task.
struct Flag {
    woken: AtomicBool,
    task: std::sync::Mutex<Option<Waker>>,
}

impl Flag {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            // Both sides start out needing a poll.
            woken: AtomicBool::new(true),
            task: std::sync::Mutex::new(None),
        })
    }

    fn take(&self) -> bool {
        self.woken.swap(false, Ordering::AcqRel)
    }

    fn is_set(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }

    fn register(&self, waker: &Waker) {
        if let Ok(mut task) = self.task.lock()
            && !task.as_ref().is_some_and(|t| t.will_wake(waker))
        {
            *task = Some(waker.clone());
        }
    }
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Ok(task) = self.task.lock()
            && let Some(task) = task.as_ref()
        {
            task.wake_by_ref();
        }
    }
}

/// Runs `work` (built with a `Spawner`) and the batches it queues, in this task. Each side
/// is polled only when it was woken: database I/O wakes the batches alone, a batch's
/// result wakes the resolvers.
pub async fn run<F, T>(work: impl FnOnce(Spawner) -> F) -> T
where
    F: Future<Output = T>,
{
    let (tx, rx) = mpsc::unbounded();
    let mut work = pin!(work(Spawner(tx)));
    let mut batches = pin!(rx.for_each_concurrent(None, |task| task));
    let mut batches_done = false;
    let (resolvers, loads) = (Flag::new(), Flag::new());
    let (resolvers_waker, loads_waker) =
        (Waker::from(resolvers.clone()), Waker::from(loads.clone()));
    std::future::poll_fn(move |cx| {
        resolvers.register(cx.waker());
        loads.register(cx.waker());
        for _ in 0..MAX_PASSES {
            if resolvers.take() {
                if let Poll::Ready(output) = work
                    .as_mut()
                    .poll(&mut Context::from_waker(&resolvers_waker))
                {
                    return Poll::Ready(output);
                }
                if resolvers.is_set() {
                    // Woken while polled: more of this level can resolve before its
                    // batches are complete.
                    continue;
                }
            }
            // The resolvers are stalled on loads (or I/O): the level's batches are complete.
            if loads.take() && !batches_done {
                batches_done = batches
                    .as_mut()
                    .poll(&mut Context::from_waker(&loads_waker))
                    .is_ready();
            }
            if !resolvers.is_set() && !loads.is_set() {
                return Poll::Pending;
            }
        }
        // Still making progress after many passes: let the batches run too (a resolver
        // that spins while it waits cannot starve them), and come back after others had
        // a turn.
        if !batches_done {
            loads.take();
            batches_done = batches
                .as_mut()
                .poll(&mut Context::from_waker(&loads_waker))
                .is_ready();
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, convert::Infallible, sync::Mutex};

    use async_graphql::dataloader::{DataLoader, Loader};
    use futures_util::future::join_all;

    use super::*;

    struct Recorder(Arc<Mutex<Vec<usize>>>);

    impl Loader<u32> for Recorder {
        type Value = u32;
        type Error = Infallible;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Infallible> {
            self.0.lock().map(|mut b| b.push(keys.len())).ok();
            tokio::task::yield_now().await;
            Ok(keys.iter().map(|k| (*k, k * 2)).collect())
        }
    }

    /// Returns `Pending` once, having woken its own waker (as a budgeted future does).
    async fn wake_and_yield() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    #[tokio::test]
    async fn one_batch_per_level_whatever_the_width() {
        for width in [1u32, 31, 500] {
            let batches = Arc::new(Mutex::new(Vec::new()));
            let recorder = Recorder(batches.clone());
            let values = run(|spawner| async move {
                let loader = DataLoader::new(recorder, move |t| spawner.spawn(t))
                    .delay(std::time::Duration::ZERO);
                // A wide level whose items each wake themselves once before loading: the
                // `FuturesUnordered` under `join_all` then polls them in slices.
                let items = (0..width).map(|k| {
                    let loader = &loader;
                    async move {
                        wake_and_yield().await;
                        loader.load_one(k).await.ok().flatten()
                    }
                });
                join_all(items).await
            })
            .await;
            assert_eq!(values.len(), width as usize);
            assert!(
                values
                    .iter()
                    .enumerate()
                    .all(|(k, v)| *v == Some(k as u32 * 2))
            );
            assert_eq!(
                *batches.lock().unwrap_or_else(|e| e.into_inner()),
                vec![width as usize]
            );
        }
    }
}
