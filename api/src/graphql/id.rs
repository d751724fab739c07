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
        // Written into a buffer, not `format!`ed: a page encodes one id per row.
        let mut buffer = [0; 9 + 32];
        let text = match self {
            Self::Category(id) => kind_and_uuid(&mut buffer, b"Category:", id),
            Self::Thread(id) => kind_and_uuid(&mut buffer, b"Thread:", id),
            Self::Reply(id) => kind_and_uuid(&mut buffer, b"Reply:", id),
            Self::User(id) => return ID(URL_SAFE_NO_PAD.encode([b"User:", id.as_bytes()].concat())),
        };
        ID(URL_SAFE_NO_PAD.encode(text))
    }

    pub fn decode(id: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
        let (kind, key) = raw.split_once(':')?;
        // Only the form `encode` writes: one object, one id (a cache keyed by ids would
        // otherwise keep an object that came under a hyphenated or braced uuid twice).
        let uuid = || {
            let simple =
                key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            simple.then(|| Uuid::try_parse(key).ok()).flatten()
        };
        match kind {
            "Category" => uuid().map(Self::Category),
            "Thread" => uuid().map(Self::Thread),
            "Reply" => uuid().map(Self::Reply),
            "User" if service::validate::is_user_id(key) => Some(Self::User(key.to_owned())),
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

/// `kind` then the uuid in lowercase hex without hyphens (`Uuid::simple`).
fn kind_and_uuid<'a>(buffer: &'a mut [u8; 41], kind: &[u8], id: &Uuid) -> &'a [u8] {
    let (head, tail) = buffer.split_at_mut(kind.len());
    head.copy_from_slice(kind);
    id.simple().encode_lower(&mut tail[..32]);
    &buffer[..kind.len() + 32]
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
        /// Ids are kept by clients: the text never changes (`Kind:` and the simple uuid).
        #[test]
        fn encoded_as_always(bits: u128, user in ".{1,40}") {
            let uuid = Uuid::from_u128(bits);
            let expected = |text: String| ID(URL_SAFE_NO_PAD.encode(text));
            proptest::prop_assert_eq!(NodeId::Category(uuid).encode(), expected(format!("Category:{}", uuid.simple())));
            proptest::prop_assert_eq!(NodeId::Thread(uuid).encode(), expected(format!("Thread:{}", uuid.simple())));
            proptest::prop_assert_eq!(NodeId::Reply(uuid).encode(), expected(format!("Reply:{}", uuid.simple())));
            proptest::prop_assert_eq!(NodeId::User(user.clone()).encode(), expected(format!("User:{user}")));
        }

        #[test]
        fn any_text_decodes_or_is_refused(text in ".{0,100}") {
            let _ = NodeId::decode(&text);
            let _ = NodeId::thread(&ID(text.clone()), "id");
        }

        #[test]
        fn encoded_pairs_decode_or_are_refused(kind in "[A-Za-z]{0,10}", key in ".{0,60}") {
            let text = URL_SAFE_NO_PAD.encode(format!("{kind}:{key}"));
            if let Some(id) = NodeId::decode(&text) {
                proptest::prop_assert_eq!(id.encode().0, text);
            }
        }
    }

    #[test]
    fn a_known_id() {
        let id = Uuid::parse_str("019fbaf2-6899-7a2e-8dc2-96841540792f").unwrap();
        assert_eq!(
            NodeId::Thread(id).encode().0,
            "VGhyZWFkOjAxOWZiYWYyNjg5OTdhMmU4ZGMyOTY4NDE1NDA3OTJm"
        );
    }

    #[test]
    fn one_object_has_one_id() {
        let id = Uuid::parse_str("019fbaf2-6899-7a2e-8dc2-96841540792f").unwrap();
        let encoded = |key: String| URL_SAFE_NO_PAD.encode(format!("Thread:{key}"));
        assert_eq!(
            NodeId::decode(&encoded(id.simple().to_string())),
            Some(NodeId::Thread(id))
        );
        for other in [
            id.hyphenated().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
            id.simple().to_string().to_uppercase(),
        ] {
            assert_eq!(NodeId::decode(&encoded(other.clone())), None, "{other}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "!!", "VGhyZWFkOm5vcGU", "Zm9vOmJhcg", "VXNlcjo"] {
            assert_eq!(NodeId::decode(text), None, "{text}");
        }
    }
}
