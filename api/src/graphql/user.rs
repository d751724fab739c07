//! `User`, the `viewer` and `user` root fields, and author lookups.

use std::sync::Arc;

use async_graphql::{
    Context, ContextSelectionSet, ID, Object, Positioned, Result, Value, parser::types::Field,
};
use chrono::{DateTime, Utc};
use service::{Viewer, page::AuthorRow, user};

use super::{
    connection::{ForumConnection, TotalSource, connection, or_empty, request, window},
    context::{loader, viewer},
    enums::Role,
    error::ServiceResultExt,
    fast::{self, Direct, direct_object},
    id::NodeId,
    loader::{AuthorRepliesKey, AuthorThreadsKey, UserKey},
    reply::Reply,
    thread::Thread,
    timestamp,
};

/// A member of the forum, mirrored from Clerk.
pub struct User(UserFields);

/// A user's row, and its fields as async-graphql resolves them.
pub struct UserFields(UserRow);

direct_object!(User, UserFields);

/// A user's row as far as it was read: a byline's columns (with a page, when nothing
/// else of its authors was asked for), or all of them. A field a card lacks loads the
/// whole row, so a card is never an answer short of data.
#[derive(Clone)]
pub enum UserRow {
    Card(Arc<user::Card>),
    Full(Arc<user::User>),
}

/// What a card and a whole row both hold.
struct Byline<'a> {
    id: &'a str,
    username: Option<&'a String>,
    first_name: Option<&'a String>,
    last_name: Option<&'a String>,
    image_url: Option<&'a String>,
    deleted: bool,
}

impl UserRow {
    fn byline(&self) -> Byline<'_> {
        match self {
            Self::Card(c) => Byline {
                id: &c.id,
                username: c.username.as_ref(),
                first_name: c.first_name.as_ref(),
                last_name: c.last_name.as_ref(),
                image_url: c.image_url.as_ref(),
                deleted: c.is_deleted(),
            },
            Self::Full(u) => Byline {
                id: &u.id,
                username: u.username.as_ref(),
                first_name: u.first_name.as_ref(),
                last_name: u.last_name.as_ref(),
                image_url: u.image_url.as_ref(),
                deleted: u.is_deleted(),
            },
        }
    }

    fn id(&self) -> &str {
        self.byline().id
    }

    fn is_deleted(&self) -> bool {
        self.byline().deleted
    }

    fn display_name(&self) -> String {
        let b = self.byline();
        user::display_name(
            b.first_name.map(String::as_str),
            b.last_name.map(String::as_str),
            b.username.map(String::as_str),
        )
        .unwrap_or_else(|| "Anonymous".to_owned())
    }

    /// The whole row: read already, or loaded now.
    async fn full(&self, ctx: &Context<'_>) -> Result<Arc<user::User>> {
        match self {
            Self::Full(u) => Ok(u.clone()),
            Self::Card(c) => {
                let user = loader(ctx)?.load_one(UserKey(c.id.clone())).await.gql()?;
                user.map(Arc::new)
                    .ok_or(service::Error::NotFound("user"))
                    .gql()
            }
        }
    }
}

impl User {
    pub fn new(user: Arc<user::User>) -> Self {
        Self::of(UserRow::Full(user))
    }

    fn of(row: UserRow) -> Self {
        Self(UserFields(row))
    }

    /// The `Node` interface's `id`.
    pub async fn id(&self, _: &Context<'_>) -> Result<ID> {
        Ok(NodeId::User(self.0.0.id().to_owned()).encode())
    }
}

impl Direct for User {
    fn value_of(
        &self,
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        _: &Positioned<Field>,
    ) -> Option<Value> {
        let u = &self.0.0;
        Some(match name {
            "id" => Value::String(NodeId::User(u.id().to_owned()).encode().0),
            "clerkId" => fast::string(u.id()),
            "displayName" => Value::String(u.display_name()),
            "firstName" => fast::optional(u.byline().first_name),
            "lastName" => fast::optional(u.byline().last_name),
            "imageUrl" => fast::optional(u.byline().image_url),
            _ => {
                let UserRow::Full(u) = u else { return None };
                match name {
                    "role" => fast::enumeration(Role::from(u.effective_role())),
                    "createdAt" => timestamp::value(&u.created_at),
                    "email" => fast::optional(email(u, fast::viewer(ctx)?)),
                    _ => return None,
                }
            }
        })
    }
}

/// The fields of `User` that a card answers (`UserRow::Card`); `authors_to_read` reads
/// only a card when no other is selected.
pub const CARD_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "clerkId",
    "displayName",
    "firstName",
    "lastName",
    "imageUrl",
];

/// Shown only to the user and to admins.
fn email<'a>(u: &'a user::User, viewer: &Viewer) -> Option<&'a String> {
    let allowed = viewer.is(&u.id) || viewer.is_admin();
    u.email.as_ref().filter(|_| allowed)
}

/// The user with this id, unless the account is deleted (then content shows no author).
pub async fn author(ctx: &Context<'_>, id: &str) -> Result<Option<User>> {
    let user = loader(ctx)?.load_one(UserKey(id.to_owned())).await.gql()?;
    Ok(user
        .filter(|u| !u.is_deleted())
        .map(|u| User::new(Arc::new(u))))
}

/// The author of a thread or reply: read with it (a join in the page's statement), or
/// left to the loader.
pub enum Author {
    Load(String),
    Read(UserRow),
}

impl Author {
    pub fn of(author_id: &str, read: Option<AuthorRow>) -> Self {
        match read {
            Some(AuthorRow::Card(card)) => Self::Read(UserRow::Card(Arc::new(card))),
            Some(AuthorRow::Full(user)) => Self::Read(UserRow::Full(Arc::new(user))),
            None => Self::Load(author_id.to_owned()),
        }
    }

    /// The author, unless the account is deleted.
    pub async fn resolve(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self {
            Self::Read(user) => Ok((!user.is_deleted()).then(|| User::of(user.clone()))),
            Self::Load(id) => author(ctx, id).await,
        }
    }

    /// The `author { … }` field's value without async-graphql, when the author was read
    /// with the row (see `fast`).
    pub fn fast(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> Option<Value> {
        match self {
            Self::Read(user) if user.is_deleted() => Some(Value::Null),
            Self::Read(user) => fast::nested(ctx, field, |ctx| {
                fast::object_fields(ctx, &User::of(user.clone()))
            }),
            Self::Load(_) => None,
        }
    }

    /// The same as `fast`, written as JSON at the end of `out`.
    pub fn write(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        match self {
            Self::Read(user) if user.is_deleted() => {
                out.extend_from_slice(b"null");
                Some(())
            }
            Self::Read(user) => fast::write_object(ctx, field, &User::of(user.clone()), out),
            Self::Load(_) => None,
        }
    }
}

#[Object(name = "User")]
impl UserFields {
    /// The global id of this user.
    async fn id(&self) -> ID {
        NodeId::User(self.0.id().to_owned()).encode()
    }

    /// The user's id at Clerk, the identity provider.
    async fn clerk_id(&self) -> &str {
        self.0.id()
    }

    /// The name to show: first and last name, else the username.
    async fn display_name(&self) -> String {
        self.0.display_name()
    }

    async fn first_name(&self) -> Option<&str> {
        self.0.byline().first_name.map(String::as_str)
    }

    async fn last_name(&self) -> Option<&str> {
        self.0.byline().last_name.map(String::as_str)
    }

    /// The user's avatar.
    async fn image_url(&self) -> Option<&str> {
        self.0.byline().image_url.map(String::as_str)
    }

    /// What the user may do beyond posting.
    async fn role(&self, ctx: &Context<'_>) -> Result<Role> {
        Ok(self.0.full(ctx).await?.effective_role().into())
    }

    /// When the account was created.
    async fn created_at(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(self.0.full(ctx).await?.created_at)
    }

    /// The primary email address: shown only to the user and to admins.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let user = self.0.full(ctx).await?;
        Ok(email(&user, viewer(ctx)?).cloned())
    }

    /// Threads the user started, newest first.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn threads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ForumConnection<Thread>> {
        let arguments = request(first, after, last, before);
        let window = window(arguments, &service::thread::BY_AUTHOR, &ctx.look_ahead())?;
        let key = AuthorThreadsKey(self.0.id().to_owned(), window);
        let page = or_empty(loader(ctx)?.load_one(key).await.gql()?);
        let total = TotalSource::AuthorThreads(self.0.id().to_owned());
        Ok(connection(page, total, Thread::new))
    }

    /// Replies the user posted, newest first.
    #[graphql(complexity = "crate::graphql::connection::cost(first, last, child_complexity)")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ForumConnection<Reply>> {
        let arguments = request(first, after, last, before);
        let window = window(arguments, &service::reply::BY_AUTHOR, &ctx.look_ahead())?;
        let key = AuthorRepliesKey(self.0.id().to_owned(), window);
        let page = or_empty(loader(ctx)?.load_one(key).await.gql()?);
        let total = TotalSource::AuthorReplies(self.0.id().to_owned());
        Ok(connection(page, total, Reply::new))
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user; null when signed out.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        // The edge read (or provisioned) this row a moment ago and refuses deleted
        // accounts; the role shown is the role this request's permissions use.
        Ok(loader(ctx)?.loader().me.clone().map(User::new))
    }

    /// The user with this id, or null if there is none (or the account is deleted).
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        let id = NodeId::user(&id, "id").gql()?;
        author(ctx, &id).await
    }
}
