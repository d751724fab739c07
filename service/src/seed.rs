//! Demo data for a first run: a few categories, users (a moderator and an admin among
//! them), threads with replies and votes. Counters are computed from the rows they
//! summarize, as the write paths keep them.

use chrono::{DateTime, Duration, Utc};
use entity::{category, reply, thread, user, vote};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::{Result, clock, db};

/// The transaction-scoped advisory lock that seeding instances take turns on.
/// (The migrations' lock, `0x666f_7275_6d00`, plus one: "forum" in ASCII, unlikely to be
/// another application's.)
const SEED_LOCK: i64 = 0x666f_7275_6d01;

/// Users of the demo, as (Clerk id, first name, last name, role).
pub const DEMO_USERS: [(&str, &str, &str, user::Role); 5] = [
    ("user_demo_admin", "Ada", "Admin", user::Role::Admin),
    (
        "user_demo_moderator",
        "Mo",
        "Derator",
        user::Role::Moderator,
    ),
    ("user_demo_alice", "Alice", "Liddell", user::Role::Member),
    ("user_demo_bob", "Bob", "Builder", user::Role::Member),
    ("user_demo_carol", "Carol", "Singer", user::Role::Member),
];

const CATEGORIES: [(&str, &str); 4] = [
    ("announcements", "Announcements"),
    ("general", "General"),
    ("help", "Help & support"),
    ("show-and-tell", "Show and tell"),
];

/// (category slug, title, pinned, locked, posts as (author index, body)).
type DemoThread = (
    &'static str,
    &'static str,
    bool,
    bool,
    &'static [(usize, &'static str)],
);

const THREADS: [DemoThread; 6] = [
    (
        "announcements",
        "Welcome to the forum",
        true,
        true,
        &[(
            0,
            "Be kind, stay on topic, and have fun. Moderators may lock or pin threads.",
        )],
    ),
    (
        "general",
        "What are you reading this week?",
        false,
        false,
        &[
            (
                2,
                "I'm halfway through a book on distributed systems. Yourselves?",
            ),
            (3, "A cookbook. It counts."),
            (4, "Poetry, mostly. Short and satisfying."),
            (2, "Any recommendations for something lighter?"),
        ],
    ),
    (
        "general",
        "Tabs or spaces?",
        false,
        false,
        &[
            (3, "Settle it once and for all."),
            (4, "Whatever the formatter says."),
            (1, "Keep it civil, please."),
        ],
    ),
    (
        "help",
        "Cannot reset my password",
        false,
        false,
        &[
            (
                4,
                "The reset link says it expired, even right after I request it.",
            ),
            (
                1,
                "Check that your clock is right; the link is time-limited.",
            ),
            (4, "That was it, thanks!"),
        ],
    ),
    (
        "help",
        "How do I format code in a reply?",
        true,
        false,
        &[(
            0,
            "Indent it by four spaces or wrap it in triple backticks.",
        )],
    ),
    (
        "show-and-tell",
        "I built a tiny weather station",
        false,
        false,
        &[
            (
                3,
                "A microcontroller, a sensor and a solar panel. Readings every minute.",
            ),
            (2, "Nice! How long does the battery last?"),
            (3, "Three rainy days so far without sun."),
        ],
    ),
];

/// (thread index, post index, voter index, value).
const VOTES: [(usize, usize, usize, i16); 9] = [
    (1, 0, 3, 1),
    (1, 0, 4, 1),
    (1, 1, 2, 1),
    (1, 2, 3, -1),
    (2, 1, 2, 1),
    (2, 1, 3, 1),
    (3, 1, 4, 1),
    (5, 0, 2, 1),
    (5, 0, 4, 1),
];

/// Seeds the demo forum if there are no categories yet. Returns whether it did.
pub async fn demo_if_empty<C>(db: &C) -> Result<bool>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db::begin_write(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Instances that start together would each find no category and each seed (the
        // second failing on the first's users): they take turns, and the second finds the
        // first's. SQLite's writers already queue at `BEGIN IMMEDIATE`.
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SEED_LOCK})"))
            .await?;
    }
    if category::Entity::find().count(&txn).await? > 0 {
        return Ok(false);
    }
    let now = clock::now();
    let start = now - Duration::days(7);

    for (id, first, last, role) in DEMO_USERS {
        // An operator may have given a demo user a role before the first start.
        if user::Entity::find_by_id(id).one(&txn).await?.is_some() {
            continue;
        }
        user::Model {
            id: id.to_owned(),
            email: Some(format!("{}@example.com", first.to_lowercase())),
            username: Some(first.to_lowercase()),
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            image_url: None,
            role,
            role_override: None,
            source_version: None,
            deleted_at: None,
            created_at: start,
            updated_at: start,
        }
        .into_active_model()
        .insert(&txn)
        .await?;
    }

    let mut categories = Vec::new();
    for (slug, name) in CATEGORIES {
        let model = category::Model {
            id: Uuid::now_v7(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            created_at: start,
            thread_count: THREADS.iter().filter(|t| t.0 == slug).count() as i32,
        };
        categories.push(model.clone().into_active_model().insert(&txn).await?);
    }

    let mut replies: Vec<Vec<reply::Model>> = Vec::new();
    for (i, (slug, title, pinned, locked, posts)) in THREADS.iter().enumerate() {
        let category = categories.iter().find(|c| c.slug == *slug);
        let Some(category) = category else { continue };
        let opened = start + Duration::hours(6 * i as i64 + 1);
        let at = |n: usize| -> DateTime<Utc> { opened + Duration::minutes(37 * n as i64) };
        let thread = thread::Model {
            id: Uuid::now_v7(),
            category_id: category.id,
            author_id: DEMO_USERS[posts[0].0].0.to_owned(),
            title: (*title).to_owned(),
            status: if *locked {
                thread::Status::Locked
            } else {
                thread::Status::Open
            },
            is_pinned: *pinned,
            created_at: opened,
            edited_at: None,
            last_activity_at: at(posts.len() - 1),
            reply_count: posts.len() as i32,
        }
        .into_active_model()
        .insert(&txn)
        .await?;
        let mut rows = Vec::new();
        for (n, (author, body)) in posts.iter().enumerate() {
            let tally = |value: i16| {
                VOTES
                    .iter()
                    .filter(|v| v.0 == i && v.1 == n && v.3 == value)
                    .count() as i32
            };
            let (up, down) = (tally(1), tally(-1));
            let model = reply::Model {
                id: Uuid::now_v7(),
                thread_id: thread.id,
                author_id: DEMO_USERS[*author].0.to_owned(),
                body: (*body).to_owned(),
                created_at: at(n),
                edited_at: None,
                deleted_at: None,
                score: up - down,
                upvotes: up,
                downvotes: down,
            };
            rows.push(model.into_active_model().insert(&txn).await?);
        }
        replies.push(rows);
    }

    for (t, p, voter, value) in VOTES {
        let Some(reply) = replies.get(t).and_then(|r| r.get(p)) else {
            continue;
        };
        vote::Model {
            reply_id: reply.id,
            voter_id: DEMO_USERS[voter].0.to_owned(),
            value,
            created_at: now,
            updated_at: now,
        }
        .into_active_model()
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}
