//! Global object ids: opaque to clients (`base64url("Thread:<uuid>")`), decoded here and
//! nowhere else.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use service::Error;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeId {
    Category(Uuid),
    Thread(Uuid),
    Reply(Uuid),
    User(String),
}

impl NodeId {
    pub fn encode(&self) -> ID {
        let text = match self {
            Self::Category(id) => format!("Category:{}", id.simple()),
            Self::Thread(id) => format!("Thread:{}", id.simple()),
            Self::Reply(id) => format!("Reply:{}", id.simple()),
            Self::User(id) => format!("User:{id}"),
        };
        ID(URL_SAFE_NO_PAD.encode(text))
    }

    pub fn decode(id: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
        let (kind, key) = raw.split_once(':')?;
        let uuid = || Uuid::try_parse(key).ok();
        match kind {
            "Category" => uuid().map(Self::Category),
            "Thread" => uuid().map(Self::Thread),
            "Reply" => uuid().map(Self::Reply),
            "User" if !key.is_empty() => Some(Self::User(key.to_owned())),
            _ => None,
        }
    }

    /// Decodes an id argument that must name a `kind`; `field` names it in the error.
    fn expect<T>(
        id: &ID,
        field: &'static str,
        kind: &str,
        pick: impl FnOnce(Self) -> Option<T>,
    ) -> Result<T, Error> {
        Self::decode(id)
            .and_then(pick)
            .ok_or_else(|| Error::invalid(field, format!("not the id of a {kind}")))
    }

    pub fn category(id: &ID, field: &'static str) -> Result<Uuid, Error> {
        Self::expect(id, field, "Category", |n| match n {
            Self::Category(id) => Some(id),
            _ => None,
        })
    }

    pub fn thread(id: &ID, field: &'static str) -> Result<Uuid, Error> {
        Self::expect(id, field, "Thread", |n| match n {
            Self::Thread(id) => Some(id),
            _ => None,
        })
    }

    pub fn reply(id: &ID, field: &'static str) -> Result<Uuid, Error> {
        Self::expect(id, field, "Reply", |n| match n {
            Self::Reply(id) => Some(id),
            _ => None,
        })
    }

    pub fn user(id: &ID, field: &'static str) -> Result<String, Error> {
        Self::expect(id, field, "User", |n| match n {
            Self::User(id) => Some(id),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let ids = [
            NodeId::Category(Uuid::now_v7()),
            NodeId::Thread(Uuid::now_v7()),
            NodeId::Reply(Uuid::now_v7()),
            NodeId::User("user_2abc:with:colons".to_owned()),
        ];
        for id in ids {
            assert_eq!(NodeId::decode(&id.encode()), Some(id));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_decodes_or_is_refused(text in ".{0,100}") {
            let _ = NodeId::decode(&text);
            let _ = NodeId::thread(&ID(text.clone()), "id");
        }

        #[test]
        fn encoded_pairs_decode_or_are_refused(kind in "[A-Za-z]{0,10}", key in ".{0,60}") {
            let text = URL_SAFE_NO_PAD.encode(format!("{kind}:{key}"));
            if let Some(id) = NodeId::decode(&text) {
                proptest::prop_assert_eq!(NodeId::decode(&id.encode()), Some(id));
            }
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "!!", "VGhyZWFkOm5vcGU", "Zm9vOmJhcg", "VXNlcjo"] {
            assert_eq!(NodeId::decode(text), None, "{text}");
        }
    }
}
