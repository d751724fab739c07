//! The schema's enums, mapped onto the service's.

use async_graphql::Enum;
use entity::{thread, user};
use service::{reply, thread::ThreadOrder as ServiceThreadOrder};

/// Whether a thread takes new replies.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ThreadStatus {
    /// Anyone signed in may reply.
    Open,
    /// Closed by a moderator: no new replies.
    Locked,
}

impl From<thread::Status> for ThreadStatus {
    fn from(status: thread::Status) -> Self {
        match status {
            thread::Status::Open => Self::Open,
            thread::Status::Locked => Self::Locked,
        }
    }
}

impl From<ThreadStatus> for thread::Status {
    fn from(status: ThreadStatus) -> Self {
        match status {
            ThreadStatus::Open => Self::Open,
            ThreadStatus::Locked => Self::Locked,
        }
    }
}

/// How a category's threads are ordered; pinned threads always come first.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum ThreadOrder {
    /// Most recent reply first.
    #[default]
    LatestActivity,
    /// Most recently created first.
    Newest,
    /// First created first.
    Oldest,
}

impl From<ThreadOrder> for ServiceThreadOrder {
    fn from(order: ThreadOrder) -> Self {
        match order {
            ThreadOrder::LatestActivity => Self::LatestActivity,
            ThreadOrder::Newest => Self::Newest,
            ThreadOrder::Oldest => Self::Oldest,
        }
    }
}

/// How a thread's replies are ordered.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum ReplyOrder {
    /// First posted first: reading order.
    #[default]
    Oldest,
    /// Last posted first.
    Newest,
    /// Highest score first; equal scores in posting order.
    Top,
}

impl From<ReplyOrder> for reply::ReplyOrder {
    fn from(order: ReplyOrder) -> Self {
        match order {
            ReplyOrder::Oldest => Self::Oldest,
            ReplyOrder::Newest => Self::Newest,
            ReplyOrder::Top => Self::Top,
        }
    }
}

/// What a user may do beyond posting.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Posts, replies and votes.
    Member,
    /// Also locks, pins, edits and deletes others' content.
    Moderator,
    /// Also creates categories.
    Admin,
}

impl From<user::Role> for Role {
    fn from(role: user::Role) -> Self {
        match role {
            user::Role::Member => Self::Member,
            user::Role::Moderator => Self::Moderator,
            user::Role::Admin => Self::Admin,
        }
    }
}

/// A vote on a reply.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum VoteValue {
    Up,
    Down,
}

impl VoteValue {
    pub fn from_value(value: i16) -> Option<Self> {
        match value {
            1 => Some(Self::Up),
            -1 => Some(Self::Down),
            _ => None,
        }
    }
}
