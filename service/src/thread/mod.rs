//! Threads: lookups and listings; starting, editing, deleting and moderating them.

mod moderate;
mod write;

pub use moderate::{set_pinned, set_status};
pub use write::{NewThread, create, delete, edit, others_replied};

use std::collections::HashMap;

use entity::thread::{self, Status};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr};
use uuid::Uuid;

use crate::{
    Result,
    any::{any_of, by_keys},
    category::Category,
    clock,
    keyset::{self, Listing, Parent, ParentKey},
    page::{Authored, Authors, Key, KeyKind, Ordering, Page, SortKey, Window},
};

pub use thread::Model as Thread;

/// How a category lists its threads; pinned threads always come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ThreadOrder {
    #[default]
    LatestActivity,
    Newest,
    Oldest,
}

impl ThreadOrder {
    pub fn ordering(self) -> &'static Ordering<Thread> {
        match self {
            Self::LatestActivity => &LATEST,
            Self::Newest => &NEWEST,
            Self::Oldest => &OLDEST,
        }
    }
}

const PINNED_FIRST: SortKey<Thread> = SortKey {
    column: "is_pinned",
    kind: KeyKind::Bool,
    descending: true,
    read: |t| Key::Bool(t.is_pinned),
};

const fn created(descending: bool) -> SortKey<Thread> {
    SortKey {
        column: "created_at",
        kind: KeyKind::Time,
        descending,
        read: |t| Key::Time(clock::to_micros(&t.created_at)),
    }
}

const fn id(descending: bool) -> SortKey<Thread> {
    SortKey {
        column: "id",
        kind: KeyKind::Uuid,
        descending,
        read: |t| Key::Uuid(t.id),
    }
}

static LATEST: Ordering<Thread> = Ordering {
    tag: "thread-latest",
    keys: &[
        PINNED_FIRST,
        SortKey {
            column: "last_activity_at",
            kind: KeyKind::Time,
            descending: true,
            read: |t| Key::Time(clock::to_micros(&t.last_activity_at)),
        },
        id(true),
    ],
};

static NEWEST: Ordering<Thread> = Ordering {
    tag: "thread-newest",
    keys: &[PINNED_FIRST, created(true), id(true)],
};

static OLDEST: Ordering<Thread> = Ordering {
    tag: "thread-oldest",
    keys: &[PINNED_FIRST, created(false), id(false)],
};

/// A user's threads, newest first.
pub static BY_AUTHOR: Ordering<Thread> = Ordering {
    tag: "thread-by-author",
    keys: &[created(true), id(true)],
};

/// Which threads of a category to list, and how.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CategoryThreads {
    pub order: ThreadOrder,
    pub status: Option<Status>,
    pub window: Window,
    /// How much of each thread's author to read in the same statement.
    pub authors: Authors,
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Thread>> {
    by_keys(db, "threads", "id", ids).await
}

impl CategoryThreads {
    fn listing<'a>(&self, filters: &'a [&'static str]) -> Listing<'a, Thread> {
        Listing {
            table: "threads",
            ordering: self.order.ordering(),
            filters,
            authors: self.authors,
        }
    }
}

/// The category with `slug` and its requested page of threads, in one statement; `None`
/// if there is no such category.
pub async fn category_with_page(
    db: &impl ConnectionTrait,
    slug: &str,
    query: &CategoryThreads,
) -> Result<Option<(Category, Page<Authored<Thread>>)>> {
    let filters = status_filter(query.status);
    let category = Parent {
        table: "categories",
        by: ParentKey::Unique("slug", slug.into()),
    };
    let listing = query.listing(filters);
    keyset::parent_with_page(db, category, &listing, "category_id", &query.window).await
}

/// The front page: a page of categories, each with its page of threads (one statement
/// on Postgres).
pub async fn categories_with_pages(
    db: &impl ConnectionTrait,
    window: &Window,
    query: &CategoryThreads,
) -> Result<(Page<Category>, HashMap<Uuid, Page<Authored<Thread>>>)> {
    let filters = status_filter(query.status);
    keyset::page_with_pages(
        db,
        (&crate::category::LISTING, window),
        (&query.listing(filters), &query.window),
        "category_id",
        |c| c.id,
        |t| t.category_id,
    )
    .await
}

/// The requested page of threads for each category, in one statement.
pub async fn pages_in_categories(
    db: &impl ConnectionTrait,
    category_ids: &[Uuid],
    query: &CategoryThreads,
) -> Result<HashMap<Uuid, Page<Authored<Thread>>>> {
    let filters = status_filter(query.status);
    let listing = query.listing(filters);
    keyset::pages_by_parent(
        db,
        &listing,
        "category_id",
        category_ids,
        &query.window,
        |t| t.category_id,
    )
    .await
}

/// The requested page of each author's threads, newest first, in one statement.
pub async fn pages_by_authors(
    db: &impl ConnectionTrait,
    author_ids: &[String],
    window: &Window,
) -> Result<HashMap<String, Page<Thread>>> {
    let listing = Listing {
        table: "threads",
        ordering: &BY_AUTHOR,
        filters: &[],
        authors: Authors::Skip,
    };
    keyset::pages_by_parent(db, &listing, "author_id", author_ids, window, |t| {
        t.author_id.clone()
    })
    .await
}

/// Threads with `status` in each category. Locked ones are counted on their partial index;
/// open ones are the category's count (a column of its row) less those, instead of a read
/// of every open thread.
pub async fn count_in_categories(
    db: &impl ConnectionTrait,
    category_ids: &[Uuid],
    status: Status,
) -> Result<HashMap<Uuid, i64>> {
    let locked = "(SELECT COUNT(*) FROM threads \
                  WHERE threads.category_id = categories.id AND threads.status = 'locked')";
    let n = match status {
        Status::Locked => locked.to_owned(),
        Status::Open => format!("CAST(categories.thread_count AS BIGINT) - {locked}"),
    };
    let rows: Vec<(Uuid, i64)> = entity::category::Entity::find()
        .select_only()
        .column(entity::category::Column::Id)
        .column_as(Expr::cust(n), "n")
        .filter(any_of(
            db.get_database_backend(),
            entity::category::Column::Id,
            category_ids.to_vec(),
        ))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

pub async fn count_by_authors(
    db: &impl ConnectionTrait,
    author_ids: &[String],
) -> Result<HashMap<String, i64>> {
    crate::count::grouped(
        db,
        thread::Entity::find().filter(any_of(
            db.get_database_backend(),
            thread::Column::AuthorId,
            author_ids.to_vec(),
        )),
        thread::Column::AuthorId,
    )
    .await
}

/// The condition for `status`, as a literal: a statement that binds the status as a
/// parameter would not be planned on the locked threads' partial indexes.
fn status_filter(status: Option<Status>) -> &'static [&'static str] {
    match status {
        None => &[],
        Some(Status::Open) => &["status = 'open'"],
        Some(Status::Locked) => &["status = 'locked'"],
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::*;

    #[test]
    fn a_status_is_written_as_it_is_stored() {
        for status in Status::iter() {
            assert_eq!(
                status_filter(Some(status)),
                [format!("status = '{}'", status.to_value()).as_str()]
            );
        }
    }
}
