//! Mirroring Clerk's user events into the `user` table.
//!
//! Every event is one statement that applies only if it is newer than what the row holds,
//! so duplicate, out-of-order and concurrent deliveries converge to the newest event:
//! - `user.created` / `user.updated` are ordered by Clerk's `data.updated_at` (epoch ms);
//!   one without it (Clerk always sends it) counts as older than any that has it, rather
//!   than borrowing a delivery's clock, which a retry hours later would make the newest;
//! - `user.deleted` carries no `updated_at`; it turns the row into a tombstone (personal
//!   data erased, `deleted_at` = the envelope's `timestamp`). Clerk never reuses a user id,
//!   so a tombstone is final: no later delivery, however its clock reads, brings the user
//!   back, and a delete that arrives first leaves a tombstone for the others to meet.

use chrono::{DateTime, Utc};
use entity::user::Role;
use sea_orm::{ActiveEnum, ConnectionTrait, Value};
use serde::Deserialize;

use crate::{Error, Result, clock, sql::Sql, validate};

/// The envelope of a Clerk webhook event.
#[derive(Debug, Deserialize)]
pub struct ClerkEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: serde_json::Value,
    /// When Clerk emitted the event (epoch ms); not an integer = absent, so that an event
    /// of a type this service ignores is never refused for it.
    #[serde(default, deserialize_with = "integer_or_none")]
    pub timestamp: Option<i64>,
}

fn integer_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_i64())
}

/// `null` read as the type's default: Clerk's lists may come as `null`.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Deserialize)]
struct ClerkUser {
    id: String,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    image_url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    email_addresses: Vec<EmailAddress>,
    primary_email_address_id: Option<String>,
    #[serde(default)]
    public_metadata: serde_json::Value,
    created_at: Option<i64>,
    updated_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct EmailAddress {
    id: String,
    email_address: String,
}

#[derive(Debug, Deserialize)]
struct DeletedUser {
    id: String,
}

/// What an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The row now reflects this event.
    Applied,
    /// The row already reflects this event or a newer one (or is a tombstone).
    Stale,
    /// Not a user event.
    Ignored,
}

impl ClerkEvent {
    pub fn parse(body: &[u8]) -> Result<Self> {
        serde_json::from_slice(body)
            .map_err(|e| Error::invalid("body", format!("not a Clerk event: {e}")))
    }
}

/// Applies one event. `received_ms` (svix's signed time of this delivery) stands in for
/// the deletion time of a `user.deleted` without an envelope timestamp.
#[tracing::instrument(skip_all, fields(kind = %event.kind))]
pub async fn apply(
    db: &impl ConnectionTrait,
    event: &ClerkEvent,
    received_ms: i64,
) -> Result<Outcome> {
    let applied = match event.kind.as_str() {
        "user.created" | "user.updated" => {
            let user: ClerkUser = data(event)?;
            upsert(db, &user, user.updated_at.unwrap_or(0)).await?
        }
        "user.deleted" => {
            let user: DeletedUser = data(event)?;
            tombstone(
                db,
                &valid_id(&user.id)?,
                event.timestamp.unwrap_or(received_ms),
            )
            .await?
        }
        _ => return Ok(Outcome::Ignored),
    };
    Ok(if applied {
        Outcome::Applied
    } else {
        Outcome::Stale
    })
}

fn data<T: serde::de::DeserializeOwned>(event: &ClerkEvent) -> Result<T> {
    serde_json::from_value(event.data.clone())
        .map_err(|e| Error::invalid("data", format!("not a Clerk user: {e}")))
}

fn valid_id(id: &str) -> Result<String> {
    if !validate::is_user_id(id) {
        return Err(Error::invalid("data.id", "not a Clerk user id"));
    }
    Ok(id.to_owned())
}

/// The role that `public_metadata.role` grants.
fn role(metadata: &serde_json::Value) -> Role {
    match metadata.get("role").and_then(|r| r.as_str()) {
        Some("admin") => Role::Admin,
        Some("moderator") => Role::Moderator,
        _ => Role::Member,
    }
}

/// A time of Clerk's, if both backends can store it (else the caller's fallback).
fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    clock::from_micros(ms.checked_mul(1000)?).filter(clock::storable)
}

fn text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(validate::storable_text)
}

async fn upsert(db: &impl ConnectionTrait, user: &ClerkUser, version: i64) -> Result<bool> {
    let id = valid_id(&user.id)?;
    let email = user.primary_email_address_id.as_ref().and_then(|primary| {
        user.email_addresses
            .iter()
            .find(|e| &e.id == primary)
            .map(|e| validate::storable_text(&e.email_address))
    });
    let now = clock::now();
    let sent_created = user.created_at.and_then(from_ms);
    let created = sent_created.unwrap_or(now);
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "INSERT INTO \"user\" (id, email, username, first_name, last_name, image_url, role, \
         source_version, created_at, updated_at) VALUES (",
    );
    let values: [Value; 10] = [
        id.into(),
        email.into(),
        text(&user.username).into(),
        text(&user.first_name).into(),
        text(&user.last_name).into(),
        text(&user.image_url).into(),
        role(&user.public_metadata).to_value().into(),
        version.into(),
        created.into(),
        now.into(),
    ];
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(value);
    }
    sql.push(
        ") ON CONFLICT (id) DO UPDATE SET email = excluded.email, username = excluded.username, \
         first_name = excluded.first_name, last_name = excluded.last_name, \
         image_url = excluded.image_url, role = excluded.role, \
         source_version = excluded.source_version, updated_at = excluded.updated_at",
    );
    // `now` stands in for a creation time only in a new row: an update that lacks one
    // keeps the row's.
    if sent_created.is_some() {
        sql.push(", created_at = excluded.created_at");
    }
    sql.push(
        " WHERE \"user\".deleted_at IS NULL AND (\"user\".source_version IS NULL \
         OR \"user\".source_version < excluded.source_version) RETURNING id",
    );
    Ok(db.query_one_raw(sql.statement()).await?.is_some())
}

async fn tombstone(db: &impl ConnectionTrait, id: &str, deleted_ms: i64) -> Result<bool> {
    let deleted = from_ms(deleted_ms).unwrap_or_else(clock::now);
    let mut sql = Sql::new(db.get_database_backend());
    // Only the id, the creation and the deletion time survive; the personal columns are
    // emptied. A delete that arrives first has no creation time but its own.
    sql.push("INSERT INTO \"user\" (id, role, source_version, deleted_at, created_at, updated_at) VALUES (")
        .bind(id.to_owned())
        .push(", ")
        .bind(Role::Member.to_value())
        .push(", ")
        .bind(deleted_ms)
        .push(", ")
        .bind(deleted)
        .push(", ")
        .bind(deleted)
        .push(", ")
        .bind(deleted)
        .push(
            ") ON CONFLICT (id) DO UPDATE SET email = NULL, username = NULL, first_name = NULL, \
             last_name = NULL, image_url = NULL, role = excluded.role, role_override = NULL, \
             source_version = excluded.source_version, deleted_at = excluded.deleted_at, \
             updated_at = excluded.updated_at \
             WHERE \"user\".deleted_at IS NULL RETURNING id",
        );
    Ok(db.query_one_raw(sql.statement()).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_public_metadata() {
        let role_of = |v: serde_json::Value| role(&v);
        assert_eq!(role_of(serde_json::json!({ "role": "admin" })), Role::Admin);
        assert_eq!(
            role_of(serde_json::json!({ "role": "moderator" })),
            Role::Moderator
        );
        assert_eq!(
            role_of(serde_json::json!({ "role": "owner" })),
            Role::Member
        );
        assert_eq!(role_of(serde_json::json!({ "role": 1 })), Role::Member);
        assert_eq!(role_of(serde_json::Value::Null), Role::Member);
    }

    #[test]
    fn parses_envelopes_and_refuses_garbage() {
        let event = ClerkEvent::parse(
            br#"{"type":"user.deleted","data":{"id":"user_1","deleted":true},"timestamp":5}"#,
        );
        assert!(matches!(
            event,
            Ok(ClerkEvent {
                timestamp: Some(5),
                ..
            })
        ));
        assert!(ClerkEvent::parse(b"[]").is_err());
        assert!(ClerkEvent::parse(b"\xff").is_err());
        assert!(
            valid_id("").is_err()
                && valid_id(&"x".repeat(129)).is_err()
                && valid_id("a\nb").is_err()
        );
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,20}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::hash_map(
                    prop::sample::select(vec![
                        "id",
                        "type",
                        "data",
                        "timestamp",
                        "email_addresses",
                        "email_address",
                        "primary_email_address_id",
                        "public_metadata",
                        "role",
                        "updated_at",
                        "created_at",
                        "first_name",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..8,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = ClerkEvent::parse(&bytes);
        }

        /// Whatever a signed payload holds, reading it as a user event is an answer.
        #[test]
        fn arbitrary_payloads_are_read_or_refused(data in json(), kind in prop::sample::select(vec!["user.created", "user.updated", "user.deleted"])) {
            let event = ClerkEvent { kind: kind.to_owned(), data, timestamp: None };
            let _: Result<ClerkUser> = super::data(&event);
            let _: Result<DeletedUser> = super::data(&event);
            if let Ok(user) = super::data::<ClerkUser>(&event) {
                let _ = valid_id(&user.id);
                let _ = role(&user.public_metadata);
                let _ = user.updated_at.and_then(from_ms);
            }
        }
    }
}
