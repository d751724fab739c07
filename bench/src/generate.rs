//! Generates a realistic forum in a fresh Postgres database, fast: rows stream through
//! `COPY` on three connections at once (threads, replies, votes) with foreign-key
//! triggers off and secondary indexes dropped, then the indexes are rebuilt once.
//!
//! Reply counts per thread follow a power law (most threads have a few replies, some have
//! thousands) and thread 0 has exactly `big_thread` replies (the TOP-order workload's
//! thread). Votes per reply are exponential around the mean. Every counter (reply counts,
//! last activity, thread counts, tallies) is computed from the rows as they are written,
//! and the table CHECKs verify the tallies during the load.

use std::{collections::HashSet, error::Error, fmt::Write as _, time::Instant};

use chrono::{DateTime, Duration, Utc};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, postgres::PgCopyIn};
use uuid::Uuid;

use crate::rng::Rng;

pub type BoxError = Box<dyn Error + Send + Sync>;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Scale {
    pub name: &'static str,
    pub users: usize,
    pub categories: usize,
    pub threads: usize,
    pub replies: usize,
    pub mean_votes: f64,
    pub big_thread: usize,
}

impl Scale {
    pub fn named(name: &str) -> Option<Self> {
        let scale = |name, users, categories, threads, replies, big_thread| Self {
            name,
            users,
            categories,
            threads,
            replies,
            // Whole votes per reply are the floor of an exponential draw: its mean is
            // about half a vote below this, so 3.5 gives the 3 votes per reply wanted.
            mean_votes: 3.5,
            big_thread,
        };
        match name {
            "smoke" => Some(scale("smoke", 300, 6, 1_000, 20_000, 2_000)),
            "default" => Some(scale("default", 10_000, 20, 50_000, 1_000_000, 5_000)),
            "large" => Some(scale("large", 40_000, 40, 200_000, 4_000_000, 5_000)),
            _ => None,
        }
    }
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub users: usize,
    pub categories: usize,
    pub threads: usize,
    pub pinned: usize,
    pub locked: usize,
    pub replies: usize,
    pub votes: usize,
    pub largest_thread: usize,
    pub seconds: f64,
}

const TOPICS: [&str; 40] = [
    "General",
    "Announcements",
    "Help",
    "Show and tell",
    "Rust",
    "Databases",
    "Web",
    "Mobile",
    "Design",
    "Security",
    "Jobs",
    "Meta",
    "Off topic",
    "Hardware",
    "Games",
    "Music",
    "Books",
    "Travel",
    "Cooking",
    "Science",
    "Math",
    "Robotics",
    "Cloud",
    "DevOps",
    "Testing",
    "Compilers",
    "Networking",
    "Embedded",
    "Data",
    "Machine learning",
    "Open source",
    "Events",
    "Feedback",
    "Tutorials",
    "Questions",
    "Ideas",
    "Releases",
    "Community",
    "Education",
    "Careers",
];

const WORDS: [&str; 48] = [
    "the", "a", "server", "query", "index", "thread", "reply", "vote", "works", "fails", "why",
    "how", "when", "fast", "slow", "cache", "pool", "token", "user", "forum", "rust", "async",
    "page", "cursor", "lock", "pin", "order", "count", "score", "build", "test", "deploy", "think",
    "maybe", "indeed", "great", "issue", "fix", "bug", "feature", "release", "docs", "schema",
    "type", "field", "error", "value", "row",
];

const FIRST: [&str; 16] = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Edsger",
    "Frances",
    "Donald",
    "Hedy",
    "John",
    "Katherine",
    "Niklaus",
];
const LAST: [&str; 12] = [
    "Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie",
    "Perlman", "Dijkstra", "Allen", "Knuth",
];

/// A COPY stream whose rows are buffered and sent a megabyte at a time.
struct Stream<'c> {
    copy: PgCopyIn<&'c mut PgConnection>,
    buf: String,
    rows: usize,
}

impl<'c> Stream<'c> {
    async fn open(conn: &'c mut PgConnection, statement: &str) -> Result<Self, BoxError> {
        Ok(Self {
            copy: conn.copy_in_raw(statement).await?,
            buf: String::with_capacity(1 << 21),
            rows: 0,
        })
    }

    /// Appends one row (fields already in COPY text form).
    async fn row(&mut self, fields: &[&str]) -> Result<(), BoxError> {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.buf.push('\t');
            }
            self.buf.push_str(field);
        }
        self.buf.push('\n');
        self.rows += 1;
        if self.buf.len() >= 1 << 20 {
            self.copy.send(self.buf.as_bytes()).await?;
            self.buf.clear();
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<usize, BoxError> {
        if !self.buf.is_empty() {
            self.copy.send(self.buf.as_bytes()).await?;
        }
        self.copy.finish().await?;
        Ok(self.rows)
    }
}

/// Text for a COPY field: backslash, tab and line breaks escaped.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

fn uuid_at(t: DateTime<Utc>, rng: &mut Rng) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis(t.timestamp_millis() as u64, &rng.bytes::<10>())
        .into_uuid()
}

fn sentence(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = min + rng.below(max - min + 1);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick::<&str>(&WORDS));
    }
    out
}

pub fn user_id(i: usize) -> String {
    format!("user_bench_{i:06}")
}

/// Reply counts per thread: a power law over a shuffled ranking, thread 0 fixed.
fn reply_counts(scale: &Scale, rng: &mut Rng) -> Vec<usize> {
    let n = scale.threads;
    let big = scale.big_thread.min(scale.replies / 2).max(1);
    let mut counts = vec![1usize; n];
    counts[0] = big;
    let spare = scale.replies.saturating_sub(big + n - 1);
    let mut ranks: Vec<usize> = (0..n - 1).collect();
    for i in (1..ranks.len()).rev() {
        ranks.swap(i, rng.below(i + 1));
    }
    let weight = |rank: usize| 1.0 / (rank as f64 + 8.0).powf(1.15);
    let total: f64 = (0..n - 1).map(weight).sum();
    let mut given = 0;
    for (t, rank) in ranks.iter().enumerate() {
        let extra = (spare as f64 * weight(*rank) / total) as usize;
        counts[t + 1] += extra;
        given += extra;
    }
    for _ in given..spare {
        counts[1 + rng.below(n - 1)] += 1;
    }
    counts
}

/// Drops `database` if it exists, creates and migrates it, and fills it.
pub async fn generate(
    admin_url: &str,
    database: &str,
    scale: &Scale,
    seed: u64,
) -> Result<Summary, BoxError> {
    let started = Instant::now();
    let mut admin = PgConnection::connect(admin_url).await?;
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
        )))
        .await?;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .await?;
    admin.close().await?;
    let url = with_database(admin_url, database);
    api::database::migrate(&url).await?;

    let mut main = bulk_connection(&url).await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' \
         AND tablename IN ('threads', 'thread_replies', 'reply_votes') \
         AND indexname NOT LIKE '%_pkey'",
    )
    .fetch_all(&mut main)
    .await?;
    for (name, _) in &indexes {
        main.execute(AssertSqlSafe(format!("DROP INDEX {name}")))
            .await?;
    }

    let rng = Rng::new(seed);
    let now = Utc::now();
    let start = now - Duration::days(365);
    let mut summary = Summary::default();

    // Users: a few admins and moderators, everyone else a member.
    let mut users = Stream::open(
        &mut main,
        "COPY \"user\" (id, email, username, first_name, last_name, image_url, role, \
         source_version, created_at, updated_at) FROM STDIN",
    )
    .await?;
    let mut names = rng.fork(1);
    for i in 0..scale.users {
        let (first, last) = (*names.pick(FIRST.as_slice()), *names.pick(LAST.as_slice()));
        let id = user_id(i);
        let role = match i {
            0..5 => "admin",
            5..50 => "moderator",
            _ => "member",
        };
        let joined = time(start + Duration::minutes(i as i64));
        users
            .row(&[
                &id,
                &format!("{id}@example.com"),
                &format!("{}{i}", first.to_lowercase()),
                first,
                last,
                &format!("https://img.example/{id}.png"),
                role,
                "1",
                &joined,
                &joined,
            ])
            .await?;
    }
    summary.users = users.finish().await?;

    // Categories, each with its share of threads.
    let mut placing = rng.fork(2);
    let category_of: Vec<usize> = (0..scale.threads)
        .map(|t| {
            if t == 0 {
                0
            } else {
                placing.below(scale.categories)
            }
        })
        .collect();
    let mut per_category = vec![0usize; scale.categories];
    for c in &category_of {
        per_category[*c] += 1;
    }
    let mut ids = rng.fork(3);
    let category_ids: Vec<Uuid> = (0..scale.categories)
        .map(|_| uuid_at(start, &mut ids))
        .collect();
    let mut categories = Stream::open(
        &mut main,
        "COPY categories (id, slug, name, created_at, thread_count) FROM STDIN",
    )
    .await?;
    for c in 0..scale.categories {
        let name = TOPICS[c % TOPICS.len()];
        let slug = format!("{}-{c}", name.to_lowercase().replace(' ', "-"));
        categories
            .row(&[
                &category_ids[c].to_string(),
                &slug,
                name,
                &time(start),
                &per_category[c].to_string(),
            ])
            .await?;
    }
    summary.categories = categories.finish().await?;

    // Threads, their replies and the replies' votes, as three concurrent streams.
    let counts = reply_counts(scale, &mut rng.fork(4));
    summary.largest_thread = counts.iter().copied().max().unwrap_or(0);
    let (mut conn_t, mut conn_r, mut conn_v) = (
        bulk_connection(&url).await?,
        bulk_connection(&url).await?,
        bulk_connection(&url).await?,
    );
    let mut threads = Stream::open(
        &mut conn_t,
        "COPY threads (id, category_id, author_id, title, status, is_pinned, created_at, \
         last_activity_at, reply_count) FROM STDIN",
    )
    .await?;
    let mut replies = Stream::open(
        &mut conn_r,
        "COPY thread_replies (id, thread_id, author_id, body, created_at, score, upvotes, \
         downvotes) FROM STDIN",
    )
    .await?;
    let mut votes = Stream::open(
        &mut conn_v,
        "COPY reply_votes (reply_id, voter_id, value, created_at, updated_at) FROM STDIN",
    )
    .await?;
    let span = (now - start).num_seconds() - 3600;
    let mut voters = HashSet::new();
    let mut reply_index = 0u64;
    for (t, count) in counts.iter().enumerate() {
        let mut r = rng.fork(1_000_000 + t as u64);
        let created = if t == 0 {
            start + Duration::days(30)
        } else {
            start + Duration::seconds((r.unit() * span as f64 * 0.9) as i64)
        };
        let pinned = t != 0 && r.chance(0.01);
        let locked = t != 0 && r.chance(0.05);
        summary.pinned += usize::from(pinned);
        summary.locked += usize::from(locked);
        let thread_id = uuid_at(created, &mut r);
        let author = r.below(scale.users);
        // Gaps shrink in busy threads so that they still end before now.
        let room = (now - created).num_seconds().max(60) as f64;
        let mean_gap = (room / (*count as f64 + 1.0)).min(4.0 * 3600.0);
        let mut at = created;
        for j in 0..*count {
            if j > 0 {
                let gap = (-(1.0 - r.unit()).ln() * mean_gap).max(0.001);
                at += Duration::microseconds((gap * 1e6) as i64);
            }
            let replier = if j == 0 { author } else { r.below(scale.users) };
            let reply_id = uuid_at(at, &mut r);
            let reply_id_text = reply_id.to_string();
            let stamp = time(at);
            let mut v = rng.fork(u64::MAX - reply_index);
            reply_index += 1;
            let n_votes = ((-(1.0 - v.unit()).ln() * scale.mean_votes) as usize)
                .min(200)
                .min(scale.users - 1);
            voters.clear();
            let (mut up, mut down) = (0i32, 0i32);
            while voters.len() < n_votes {
                let voter = v.below(scale.users);
                if voter == replier || !voters.insert(voter) {
                    continue;
                }
                let value = if v.chance(0.75) { 1 } else { -1 };
                if value == 1 {
                    up += 1;
                } else {
                    down += 1;
                }
                votes
                    .row(&[
                        &reply_id_text,
                        &user_id(voter),
                        if value == 1 { "1" } else { "-1" },
                        &stamp,
                        &stamp,
                    ])
                    .await?;
            }
            let mut body = sentence(&mut r, 8, 60);
            let _ = write!(body, " (#{j})");
            replies
                .row(&[
                    &reply_id_text,
                    &thread_id.to_string(),
                    &user_id(replier),
                    &text(&body),
                    &stamp,
                    &(up - down).to_string(),
                    &up.to_string(),
                    &down.to_string(),
                ])
                .await?;
        }
        let mut title = sentence(&mut r, 3, 9);
        let _ = write!(title, " {t}");
        threads
            .row(&[
                &thread_id.to_string(),
                &category_ids[category_of[t]].to_string(),
                &user_id(author),
                &text(&title),
                if locked { "locked" } else { "open" },
                if pinned { "t" } else { "f" },
                &time(created),
                &time(at),
                &count.to_string(),
            ])
            .await?;
    }
    summary.threads = threads.finish().await?;
    summary.replies = replies.finish().await?;
    summary.votes = votes.finish().await?;

    main.execute("SET maintenance_work_mem = '256MB'").await?;
    for (_, definition) in &indexes {
        main.execute(AssertSqlSafe(definition.clone())).await?;
    }
    main.execute("VACUUM ANALYZE").await?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// A connection that skips foreign-key triggers (rows are generated consistent).
async fn bulk_connection(url: &str) -> Result<PgConnection, BoxError> {
    let mut conn = PgConnection::connect(url).await?;
    conn.execute("SET session_replication_role = replica")
        .await?;
    Ok(conn)
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}
