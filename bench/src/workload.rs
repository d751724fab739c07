//! The four workloads (with the thread page in three shapes), each as a GraphQL request to
//! the service and as the hand-written SQL that answers the same question: the ceiling.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use serde_json::json;
use std::ops::{Deref, DerefMut};

use sqlx::{Connection, PgConnection, PgPool, Postgres, pool::PoolConnection};
use uuid::Uuid;

use api::graphql::NodeId;

use crate::{generate::BoxError, rng::Rng, server::HttpClient};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// (c) all categories with their 5 latest threads and authors.
    FrontPage,
    /// (a) a category by slug: 25 threads pinned first by latest activity, with authors.
    CategoryPage,
    /// (b) a thread: 50 replies oldest first, with authors and tallies.
    ThreadPage,
    /// (b) the same on a thread of about 5,000 replies.
    BigThreadOldest,
    /// (b) the same thread in TOP order.
    BigThreadTop,
    /// (d) a signed-in user casts (or flips) a vote.
    CastVote,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Self::FrontPage,
        Self::CategoryPage,
        Self::ThreadPage,
        Self::BigThreadOldest,
        Self::BigThreadTop,
        Self::CastVote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::FrontPage => "front page",
            Self::CategoryPage => "category page",
            Self::ThreadPage => "thread page",
            Self::BigThreadOldest => "5k thread, oldest",
            Self::BigThreadTop => "5k thread, top",
            Self::CastVote => "castVote",
        }
    }

    /// Statements the hand-written SQL runs per request (BEGIN/COMMIT not counted).
    pub fn sql_statements(self) -> u32 {
        match self {
            Self::CastVote => 3,
            _ => 1,
        }
    }
}

/// What the workloads draw their variables from (a fixed sample of the database).
pub struct Data {
    pub slugs: Vec<String>,
    pub threads: Vec<Uuid>,
    pub big_thread: (Uuid, i32),
    /// Replies to vote on, with their authors (who may not vote on them).
    pub votable: Vec<(Uuid, String)>,
    /// Voters and their session tokens.
    pub voters: Vec<(String, String)>,
}

impl Data {
    pub async fn load(pool: &PgPool, token: impl Fn(&str) -> String) -> Result<Self, BoxError> {
        let slugs = sqlx::query_scalar("SELECT slug FROM categories ORDER BY slug")
            .fetch_all(pool)
            .await?;
        let threads =
            sqlx::query_scalar("SELECT id FROM threads ORDER BY md5(id::text) LIMIT 20000")
                .fetch_all(pool)
                .await?;
        let big_thread = sqlx::query_as(
            "SELECT id, reply_count FROM threads ORDER BY abs(reply_count - 5000), id LIMIT 1",
        )
        .fetch_one(pool)
        .await?;
        let votable = sqlx::query_as(
            "SELECT id, author_id FROM thread_replies ORDER BY md5(id::text) LIMIT 20000",
        )
        .fetch_all(pool)
        .await?;
        let voter_ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM \"user\" ORDER BY md5(id) LIMIT 1000")
                .fetch_all(pool)
                .await?;
        let voters = voter_ids
            .into_iter()
            .map(|id| {
                let t = token(&id);
                (id, t)
            })
            .collect();
        Ok(Self {
            slugs,
            threads,
            big_thread,
            votable,
            voters,
        })
    }
}

const FRONT_PAGE: &str = "{ categories(first: 20) { nodes { slug name threadCount
  threads(first: 5) { nodes { id title replyCount lastActivityAt isPinned author { displayName } } } } } }";
const CATEGORY_PAGE: &str = "query($slug: String!) { category(slug: $slug) { name threadCount
  threads(first: 25) { pageInfo { hasNextPage endCursor } nodes { id title status isPinned replyCount lastActivityAt
    author { displayName } } } } }";
const THREAD_PAGE: &str = "query($id: ID!, $order: ReplyOrder!) { thread(id: $id) { title status replyCount
  replies(first: 50, orderBy: $order) { pageInfo { hasNextPage endCursor } nodes { id body createdAt isDeleted
    score upvotes downvotes author { displayName imageUrl } } } } }";
const CAST_VOTE: &str = "mutation($input: CastVoteInput!) { castVote(input: $input) { reply { id score upvotes downvotes viewerVote } } }";

fn thread_gid(id: Uuid) -> String {
    NodeId::Thread(id).encode().0
}

fn reply_gid(id: Uuid) -> String {
    NodeId::Reply(id).encode().0
}

/// A vote to cast: a reply, someone else to vote on it, and a direction.
fn vote(data: &Data, rng: &mut Rng) -> (Uuid, usize, bool) {
    loop {
        let (reply, author) = rng.pick(&data.votable);
        let voter = rng.below(data.voters.len());
        if &data.voters[voter].0 != author {
            return (*reply, voter, rng.chance(0.5));
        }
    }
}

/// One request of `workload` to the service.
pub async fn service(workload: Workload, targets: &Targets, rng: &mut Rng) -> Result<(), String> {
    let (data, client, url) = (
        &*targets.data,
        &targets.client,
        targets.graphql_url.as_str(),
    );
    let (query, variables, token) = match workload {
        Workload::FrontPage => (FRONT_PAGE, json!({}), None),
        Workload::CategoryPage => (
            CATEGORY_PAGE,
            json!({ "slug": rng.pick(&data.slugs) }),
            None,
        ),
        Workload::ThreadPage => {
            let id = thread_gid(*rng.pick(&data.threads));
            (THREAD_PAGE, json!({ "id": id, "order": "OLDEST" }), None)
        }
        Workload::BigThreadOldest | Workload::BigThreadTop => {
            let order = if workload == Workload::BigThreadTop {
                "TOP"
            } else {
                "OLDEST"
            };
            (
                THREAD_PAGE,
                json!({ "id": thread_gid(data.big_thread.0), "order": order }),
                None,
            )
        }
        Workload::CastVote => {
            let (reply, voter, up) = vote(data, rng);
            let input =
                json!({ "replyId": reply_gid(reply), "value": if up { "UP" } else { "DOWN" } });
            (
                CAST_VOTE,
                json!({ "input": input }),
                Some(&data.voters[voter].1),
            )
        }
    };
    let body = json!({ "query": query, "variables": variables }).to_string();
    let mut request = Request::post(url).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() || !bytes.starts_with(b"{\"data\":") || memmem(&bytes, b"\"errors\":[")
    {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    Ok(())
}

fn memmem(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One request of `workload` as hand-written SQL.
pub async fn sql(
    workload: Workload,
    data: &Data,
    source: &mut Source<'_>,
    rng: &mut Rng,
) -> Result<(), String> {
    let e = |e: sqlx::Error| e.to_string();
    match workload {
        // The categories' page and each one's threads in one statement, as the service
        // reads them (`keyset::page_with_pages`): the categories' rows, then their threads
        // through a LATERAL join, each padded with NULLs where the other has columns.
        Workload::FrontPage => {
            let rows = sqlx::query(
                "WITH c AS (SELECT id, slug, name, thread_count FROM categories \
                   ORDER BY name, id LIMIT 20) \
                 SELECT id, slug, name, thread_count, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                 NULL, NULL FROM c \
                 UNION ALL SELECT NULL, NULL, NULL, NULL, t.category_id, t.id, t.title, \
                 t.reply_count, t.last_activity_at, t.is_pinned, u.first_name, u.last_name, \
                 u.username FROM c CROSS JOIN LATERAL ( \
                   SELECT * FROM threads WHERE category_id = c.id \
                   ORDER BY is_pinned DESC, last_activity_at DESC, id DESC LIMIT 5) t \
                 JOIN \"user\" u ON u.id = t.author_id",
            )
            .fetch_all(&mut *source.conn().await.map_err(e)?)
            .await
            .map_err(e)?;
            if rows.is_empty() {
                return Err("no categories".into());
            }
        }
        // A page and its parent in one statement, as the service reads them
        // (`keyset::parent_with_page`): the parent's row and the page's rows, each padded
        // with NULLs where the other has columns.
        Workload::CategoryPage => {
            let rows = sqlx::query(
                "SELECT id, name, thread_count, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                 NULL FROM categories WHERE slug = $1 \
                 UNION ALL (SELECT NULL, NULL, NULL, t.id, t.title, t.status, t.is_pinned, \
                 t.reply_count, t.last_activity_at, u.first_name, u.last_name, u.username \
                 FROM threads t JOIN \"user\" u ON u.id = t.author_id \
                 WHERE t.category_id = (SELECT id FROM categories WHERE slug = $1) \
                 ORDER BY t.is_pinned DESC, t.last_activity_at DESC, t.id DESC LIMIT 26)",
            )
            .bind(rng.pick(&data.slugs))
            .fetch_all(&mut *source.conn().await.map_err(e)?)
            .await
            .map_err(e)?;
            if rows.is_empty() {
                return Err("no such category".to_owned());
            }
        }
        Workload::ThreadPage | Workload::BigThreadOldest | Workload::BigThreadTop => {
            let id = match workload {
                Workload::ThreadPage => *rng.pick(&data.threads),
                _ => data.big_thread.0,
            };
            let order = if workload == Workload::BigThreadTop {
                "-r.score, r.created_at, r.id"
            } else {
                "r.created_at, r.id"
            };
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, title, status, reply_count, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
                 NULL, NULL, NULL, NULL FROM threads WHERE id = $1 \
                 UNION ALL (SELECT NULL, NULL, NULL, NULL, r.id, r.body, r.created_at, \
                 r.deleted_at, r.score, r.upvotes, r.downvotes, u.first_name, u.last_name, \
                 u.username, u.image_url FROM thread_replies r \
                 JOIN \"user\" u ON u.id = r.author_id WHERE r.thread_id = $1 \
                 ORDER BY {order} LIMIT 51)"
            )))
            .bind(id)
            .fetch_all(&mut *source.conn().await.map_err(e)?)
            .await
            .map_err(e)?;
            if rows.is_empty() {
                return Err("no such thread".to_owned());
            }
        }
        Workload::CastVote => {
            let (reply, voter, up) = vote(data, rng);
            let voter = &data.voters[voter].0;
            let value: i16 = if up { 1 } else { -1 };
            let mut conn = source.conn().await.map_err(e)?;
            let mut txn = conn.begin().await.map_err(e)?;
            sqlx::query("SELECT role, deleted_at FROM \"user\" WHERE id = $1")
                .bind(voter)
                .fetch_one(&mut *txn)
                .await
                .map_err(e)?;
            sqlx::query(
                "SELECT author_id, deleted_at FROM thread_replies WHERE id = $1 FOR UPDATE",
            )
            .bind(reply)
            .fetch_one(&mut *txn)
            .await
            .map_err(e)?;
            // The old vote, the new one and the tallies in one statement, as the service
            // writes them (`service::vote`).
            let (up, down) = (i32::from(value == 1), i32::from(value == -1));
            sqlx::query(
                "WITH old AS (SELECT value FROM reply_votes WHERE reply_id = $1 AND voter_id = $2), \
                 vote AS (INSERT INTO reply_votes AS v (reply_id, voter_id, value, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (reply_id, voter_id) DO UPDATE \
                 SET value = excluded.value, updated_at = excluded.updated_at WHERE v.value <> excluded.value) \
                 UPDATE thread_replies \
                 SET upvotes = upvotes + $5 - (SELECT count(*) FROM old WHERE value = 1), \
                 downvotes = downvotes + $6 - (SELECT count(*) FROM old WHERE value = -1), \
                 score = score + $5 - $6 - (SELECT coalesce(sum(value), 0) FROM old) \
                 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM old WHERE value = $3) \
                 RETURNING score, upvotes, downvotes",
            )
            .bind(reply)
            .bind(voter)
            .bind(value)
            .bind(Utc::now())
            .bind(up)
            .bind(down)
            .fetch_optional(&mut *txn)
            .await
            .map_err(e)?;
            txn.commit().await.map_err(e)?;
        }
    }
    Ok(())
}

/// Shared handles a worker needs.
pub struct Targets {
    pub data: Arc<Data>,
    pub client: HttpClient,
    pub graphql_url: String,
    pub pool: PgPool,
    /// The hand-written SQL's connections between requests, for `Ceiling::Kept`.
    pub kept: Mutex<Vec<PoolConnection<Postgres>>>,
}

/// How the hand-written SQL takes its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ceiling {
    /// From sqlx's pool for each statement, as a plain sqlx program does (sqlx pings each
    /// connection given back: a round trip per statement).
    Pool,
    /// One connection per request, kept between requests without that ping, as the
    /// service keeps its reads' connections.
    Kept,
}

/// The connection(s) one request of hand-written SQL runs on.
pub struct Source<'a> {
    pool: &'a PgPool,
    held: Option<PoolConnection<Postgres>>,
}

impl<'a> Source<'a> {
    /// Each statement from the pool.
    pub fn pooled(pool: &'a PgPool) -> Self {
        Self { pool, held: None }
    }

    /// Every statement on `targets`' kept connection (or a new one from the pool).
    pub async fn kept(targets: &'a Targets) -> Result<Self, String> {
        let kept = targets.kept.lock().map_or(None, |mut kept| kept.pop());
        let held = match kept {
            Some(conn) => conn,
            None => targets.pool.acquire().await.map_err(|e| e.to_string())?,
        };
        Ok(Self {
            pool: &targets.pool,
            held: Some(held),
        })
    }

    /// Gives a kept connection back for the next request (after a request that succeeded).
    pub fn keep(self, targets: &Targets) {
        if let (Some(conn), Ok(mut kept)) = (self.held, targets.kept.lock()) {
            kept.push(conn);
        }
    }

    async fn conn(&mut self) -> Result<Conn<'_>, sqlx::Error> {
        Ok(match &mut self.held {
            Some(conn) => Conn::Held(conn),
            None => Conn::Pooled(self.pool.acquire().await?),
        })
    }
}

enum Conn<'a> {
    Held(&'a mut PoolConnection<Postgres>),
    Pooled(PoolConnection<Postgres>),
}

impl Deref for Conn<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Self::Held(conn) => conn,
            Self::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Self::Held(conn) => conn,
            Self::Pooled(conn) => conn,
        }
    }
}
