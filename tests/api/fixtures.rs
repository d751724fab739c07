//! Rows written straight into a test's database, with counters as the write paths keep
//! them. Times increase by a millisecond per row, so orders are predictable.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use entity::{category, reply, thread, user, vote};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use service::Db;
use uuid::Uuid;

static TICK: AtomicI64 = AtomicI64::new(0);

/// A distinct, increasing time per call (across the whole process).
pub fn tick() -> DateTime<Utc> {
    let base = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    base + Duration::milliseconds(TICK.fetch_add(1, Ordering::Relaxed))
}

pub async fn user(db: &Db, id: &str, role: user::Role) -> user::Model {
    let now = tick();
    user::Model {
        id: id.to_owned(),
        email: Some(format!("{id}@example.com")),
        username: Some(id.to_owned()),
        first_name: Some(format!("First {id}")),
        last_name: Some("Last".to_owned()),
        image_url: Some(format!("https://img.example/{id}.png")),
        role,
        role_override: None,
        source_version: Some(1),
        deleted_at: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap()
}

pub async fn users(db: &Db, prefix: &str, n: usize) -> Vec<user::Model> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(user(db, &format!("{prefix}_{i}"), user::Role::Member).await);
    }
    out
}

pub async fn category(db: &Db, slug: &str) -> category::Model {
    category::Model {
        id: Uuid::now_v7(),
        slug: slug.to_owned(),
        name: format!("Category {slug}"),
        created_at: tick(),
        thread_count: 0,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap()
}

/// A thread whose posts are by `authors` in turn (the first post opens it).
pub async fn thread(
    db: &Db,
    category: &category::Model,
    authors: &[&user::Model],
    title: &str,
    posts: usize,
) -> (thread::Model, Vec<reply::Model>) {
    assert!(posts >= 1 && !authors.is_empty());
    let created = tick();
    let id = Uuid::now_v7();
    let mut replies = Vec::with_capacity(posts);
    let mut last = created;
    for n in 0..posts {
        let at = if n == 0 { created } else { tick() };
        last = at;
        replies.push(reply::Model {
            id: Uuid::now_v7(),
            thread_id: id,
            author_id: authors[n % authors.len()].id.clone(),
            body: format!("{title}: post {n}"),
            created_at: at,
            edited_at: None,
            deleted_at: None,
            score: 0,
            upvotes: 0,
            downvotes: 0,
        });
    }
    let thread = thread::Model {
        id,
        category_id: category.id,
        author_id: authors[0].id.clone(),
        title: title.to_owned(),
        status: thread::Status::Open,
        is_pinned: false,
        created_at: created,
        edited_at: None,
        last_activity_at: last,
        reply_count: posts as i32,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    for chunk in replies.chunks(200) {
        reply::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec(db)
        .await
        .unwrap();
    }
    category::Entity::update_many()
        .col_expr(
            category::Column::ThreadCount,
            Expr::col(category::Column::ThreadCount).add(1),
        )
        .filter(category::Column::Id.eq(category.id))
        .exec(db)
        .await
        .unwrap();
    (thread, replies)
}

/// Records `voter`'s vote on `reply` and adjusts the reply's tallies.
pub async fn vote(db: &Db, reply: &reply::Model, voter: &user::Model, value: i16) {
    vote::Model {
        reply_id: reply.id,
        voter_id: voter.id.clone(),
        value,
        created_at: tick(),
        updated_at: tick(),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    let (up, down) = if value > 0 { (1, 0) } else { (0, 1) };
    reply::Entity::update_many()
        .col_expr(
            reply::Column::Upvotes,
            Expr::col(reply::Column::Upvotes).add(up),
        )
        .col_expr(
            reply::Column::Downvotes,
            Expr::col(reply::Column::Downvotes).add(down),
        )
        .col_expr(
            reply::Column::Score,
            Expr::col(reply::Column::Score).add(value as i32),
        )
        .filter(reply::Column::Id.eq(reply.id))
        .exec(db)
        .await
        .unwrap();
}

pub async fn pin(db: &Db, thread: &thread::Model) {
    let mut active = thread.clone().into_active_model();
    active.is_pinned = sea_orm::Set(true);
    active.update(db).await.unwrap();
}

/// Marks new activity on a thread (as a reply would).
pub async fn touch(db: &Db, thread: &thread::Model) {
    let mut active = thread.clone().into_active_model();
    active.last_activity_at = sea_orm::Set(tick());
    active.update(db).await.unwrap();
}

/// `n` one-post threads in `category`, by `authors` in turn, in a few statements.
pub async fn bulk_threads(
    db: &Db,
    category: &category::Model,
    authors: &[user::Model],
    n: usize,
) -> Vec<thread::Model> {
    let mut threads = Vec::with_capacity(n);
    let mut replies = Vec::with_capacity(n);
    for i in 0..n {
        let at = tick();
        let author = &authors[i % authors.len()];
        let id = Uuid::now_v7();
        threads.push(thread::Model {
            id,
            category_id: category.id,
            author_id: author.id.clone(),
            title: format!("{} thread {i}", category.slug),
            status: thread::Status::Open,
            is_pinned: false,
            created_at: at,
            edited_at: None,
            last_activity_at: at,
            reply_count: 1,
        });
        replies.push(reply::Model {
            id: Uuid::now_v7(),
            thread_id: id,
            author_id: author.id.clone(),
            body: format!("opening post {i}"),
            created_at: at,
            edited_at: None,
            deleted_at: None,
            score: 0,
            upvotes: 0,
            downvotes: 0,
        });
    }
    for chunk in threads.chunks(200) {
        thread::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec(db)
        .await
        .unwrap();
    }
    for chunk in replies.chunks(200) {
        reply::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec(db)
        .await
        .unwrap();
    }
    category::Entity::update_many()
        .col_expr(
            category::Column::ThreadCount,
            Expr::col(category::Column::ThreadCount).add(n as i32),
        )
        .filter(category::Column::Id.eq(category.id))
        .exec(db)
        .await
        .unwrap();
    threads
}

/// Checks every counter against a fresh aggregate over the rows it summarizes.
pub async fn assert_counters_exact(db: &Db) {
    use sea_orm::{ConnectionTrait, Statement};
    let checks = [
        (
            "categories.thread_count",
            "SELECT COUNT(*) AS n FROM categories c WHERE c.thread_count <> \
             (SELECT COUNT(*) FROM threads t WHERE t.category_id = c.id)",
        ),
        (
            "threads.reply_count",
            "SELECT COUNT(*) AS n FROM threads t WHERE t.reply_count <> \
             (SELECT COUNT(*) FROM thread_replies r WHERE r.thread_id = t.id)",
        ),
        (
            "threads.last_activity_at",
            "SELECT COUNT(*) AS n FROM threads t WHERE t.last_activity_at <> \
             (SELECT MAX(r.created_at) FROM thread_replies r WHERE r.thread_id = t.id)",
        ),
        (
            "thread_replies tallies",
            "SELECT COUNT(*) AS n FROM thread_replies r WHERE \
             r.upvotes <> (SELECT COUNT(*) FROM reply_votes v WHERE v.reply_id = r.id AND v.value = 1) \
             OR r.downvotes <> (SELECT COUNT(*) FROM reply_votes v WHERE v.reply_id = r.id AND v.value = -1) \
             OR r.score <> (SELECT COALESCE(SUM(v.value), 0) FROM reply_votes v WHERE v.reply_id = r.id)",
        ),
    ];
    for (what, sql) in checks {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        let wrong: i64 = row.try_get("", "n").unwrap();
        assert_eq!(wrong, 0, "{what} differs from the rows it counts");
    }
}

/// When the reply with this global id was deleted, as stored.
pub async fn reply_deleted_at(db: &Db, id: &serde_json::Value) -> Option<DateTime<Utc>> {
    let Some(api::graphql::NodeId::Reply(id)) = id.as_str().and_then(api::graphql::NodeId::decode)
    else {
        panic!("{id} is not a reply's id");
    };
    let reply = reply::Entity::find_by_id(id).one(db).await.unwrap();
    reply.expect("the reply exists").deleted_at
}
