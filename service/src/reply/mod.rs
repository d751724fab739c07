//! Replies: lookups and listings; adding, editing and deleting them.

mod write;

pub use write::{add, delete, edit};

use std::collections::HashMap;

use entity::reply;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    Result,
    any::{any_of, by_keys},
    clock,
    keyset::{self, Listing, Parent, ParentKey},
    page::{Authored, Authors, Key, KeyKind, Ordering, Page, SortKey, Window},
    thread::Thread,
};

pub use reply::Model as Reply;

/// How a thread lists its replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ReplyOrder {
    #[default]
    Oldest,
    Newest,
    /// Best score first; equal scores oldest first.
    Top,
}

impl ReplyOrder {
    pub fn ordering(self) -> &'static Ordering<Reply> {
        match self {
            Self::Oldest => &OLDEST,
            Self::Newest => &NEWEST,
            Self::Top => &TOP,
        }
    }
}

const fn created(descending: bool) -> SortKey<Reply> {
    SortKey {
        column: "created_at",
        kind: KeyKind::Time,
        descending,
        read: |r| Key::Time(clock::to_micros(&r.created_at)),
    }
}

const fn id(descending: bool) -> SortKey<Reply> {
    SortKey {
        column: "id",
        kind: KeyKind::Uuid,
        descending,
        read: |r| Key::Uuid(r.id),
    }
}

static OLDEST: Ordering<Reply> = Ordering {
    tag: "reply-oldest",
    keys: &[created(false), id(false)],
};

static NEWEST: Ordering<Reply> = Ordering {
    tag: "reply-newest",
    keys: &[created(true), id(true)],
};

/// Best score first, ties oldest first. Keyed on `-score` so that every key runs the same
/// way: a page past a cursor is then one row comparison, one range of the index on
/// `(thread_id, (-score), created_at, id)` (see the migration that made it). The tag
/// changed with the key, so a cursor written before is refused, not misread.
static TOP: Ordering<Reply> = Ordering {
    tag: "reply-top-up",
    keys: &[
        SortKey {
            column: "(-score)",
            kind: KeyKind::Int,
            descending: false,
            read: |r| Key::Int(-i64::from(r.score)),
        },
        created(false),
        id(false),
    ],
};

/// A user's replies, newest first.
pub static BY_AUTHOR: Ordering<Reply> = Ordering {
    tag: "reply-by-author",
    keys: &[created(true), id(true)],
};

/// Which replies of a thread to list, and how.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThreadReplies {
    pub order: ReplyOrder,
    pub window: Window,
    /// How much of each reply's author to read in the same statement.
    pub authors: Authors,
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Reply>> {
    by_keys(db, "thread_replies", "id", ids).await
}

impl ThreadReplies {
    fn listing(&self) -> Listing<'static, Reply> {
        Listing {
            table: "thread_replies",
            ordering: self.order.ordering(),
            filters: &[],
            authors: self.authors,
        }
    }
}

/// The thread and its requested page of replies, in one statement; `None` if there is no
/// such thread.
pub async fn thread_with_page(
    db: &impl ConnectionTrait,
    thread_id: Uuid,
    query: &ThreadReplies,
) -> Result<Option<(Thread, Page<Authored<Reply>>)>> {
    let thread = Parent {
        table: "threads",
        by: ParentKey::Id(thread_id),
    };
    keyset::parent_with_page(db, thread, &query.listing(), "thread_id", &query.window).await
}

/// The requested page of replies for each thread, in one statement.
pub async fn pages_in_threads(
    db: &impl ConnectionTrait,
    thread_ids: &[Uuid],
    query: &ThreadReplies,
) -> Result<HashMap<Uuid, Page<Authored<Reply>>>> {
    let listing = query.listing();
    keyset::pages_by_parent(db, &listing, "thread_id", thread_ids, &query.window, |r| {
        r.thread_id
    })
    .await
}

/// The requested page of each author's replies, newest first, in one statement.
pub async fn pages_by_authors(
    db: &impl ConnectionTrait,
    author_ids: &[String],
    window: &Window,
) -> Result<HashMap<String, Page<Reply>>> {
    let listing = Listing {
        table: "thread_replies",
        ordering: &BY_AUTHOR,
        filters: &[],
        authors: Authors::Skip,
    };
    keyset::pages_by_parent(db, &listing, "author_id", author_ids, window, |r| {
        r.author_id.clone()
    })
    .await
}

pub async fn count_by_authors(
    db: &impl ConnectionTrait,
    author_ids: &[String],
) -> Result<HashMap<String, i64>> {
    crate::count::grouped(
        db,
        reply::Entity::find().filter(any_of(
            db.get_database_backend(),
            reply::Column::AuthorId,
            author_ids.to_vec(),
        )),
        reply::Column::AuthorId,
    )
    .await
}
