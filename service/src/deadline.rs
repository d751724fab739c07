//! A request's deadline, as its transactions see it. A transaction whose `COMMIT` has been
//! sent may be in the database whatever happens to the request next, so a request past
//! its deadline may be dropped (and answered "nothing was written") only while none has
//! been sent; and once it is past, no transaction may send one. Both are decided on one
//! atomic, so exactly one of them wins a race.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

const SENT: u8 = 1;
const PASSED: u8 = 2;

/// What `Tx::commit` answers past the deadline, having rolled back instead.
pub(crate) const TOO_LATE: &str =
    "the request ran past its deadline before this change was committed";

/// Shared by a request's handler and its work.
#[derive(Debug, Default)]
pub struct Deadline(AtomicU8);

impl Deadline {
    /// Marks the deadline passed. True when no `COMMIT` had been sent: the work may be
    /// dropped, and nothing it did stays. False when one had: the work must be let finish,
    /// for its answer is the only one that can say what was written.
    pub fn pass(&self) -> bool {
        self.0.fetch_or(PASSED, Ordering::AcqRel) & SENT == 0
    }

    fn passed(&self) -> bool {
        self.0.load(Ordering::Acquire) & PASSED != 0
    }

    /// Claims the right to send a `COMMIT`: refused once the deadline has passed.
    fn send(&self) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s & PASSED == 0).then_some(s | SENT)
            })
            .is_ok()
    }
}

tokio::task_local! {
    static DEADLINE: Arc<Deadline>;
}

/// Runs `work` under `deadline`. Its transactions commit only while the deadline has not
/// passed, and mark it once they send a `COMMIT`.
pub async fn scope<F: Future>(deadline: Arc<Deadline>, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// Whether this task's deadline has passed (never, outside a `scope`).
pub fn passed() -> bool {
    DEADLINE.try_with(|d| d.passed()).unwrap_or(false)
}

/// Before a `COMMIT` is sent: false once the deadline has passed.
pub(crate) fn may_commit() -> bool {
    DEADLINE.try_with(|d| d.send()).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_and_the_deadline_exclude_each_other() {
        let early = Deadline::default();
        assert!(early.pass(), "nothing sent: the work may be dropped");
        assert!(!early.send(), "past the deadline nothing is sent");

        let late = Deadline::default();
        assert!(
            late.send() && late.send(),
            "one request may commit several times"
        );
        assert!(!late.passed());
        assert!(!late.pass(), "sent: the work must finish");
        assert!(late.passed() && !late.send());
    }

    #[tokio::test]
    async fn outside_a_request_everything_may_commit() {
        assert!(may_commit() && !passed());
        let deadline = Arc::new(Deadline::default());
        deadline.pass();
        assert!(scope(deadline, async { !may_commit() && passed() }).await);
    }
}
