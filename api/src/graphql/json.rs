//! The JSON of a GraphQL response, written straight from async-graphql's `Value`s.
//!
//! Pages are mostly string bytes (bodies, titles, ids, cursors), and serde_json escapes a
//! string by looking each byte up in a table: a tenth of a thread page's instructions.
//! Here the scan looks at eight bytes at a time for the few that need escaping (controls,
//! `"` and `\`) and copies the runs between them whole. The output is byte for byte what
//! serde_json writes (a test holds the two to it); errors and extensions, small and rare,
//! still go through serde_json.
//!
//! A request error (below) is written without `data`, as the GraphQL spec asks of an error
//! raised before execution; serde would write `"data":null`.
//!
//! A list that the direct path (`fast`) wrote as JSON while it built it travels in the
//! value tree as [`prewritten`] bytes, and is copied out as it is.

use async_graphql::{BatchResponse, Response, Value};

/// Bytes of JSON in a value tree. async-graphql's `Value` has no variant for JSON already
/// written, so they travel as `Value::Binary`, which no field of this schema produces; only
/// [`to_vec`] may read a tree that holds them (serde would write them as numbers).
pub fn prewritten(json: Vec<u8>) -> Value {
    Value::Binary(json.into())
}

/// The response as JSON, as `serde_json::to_vec` would write it.
pub fn to_vec(body: &BatchResponse) -> serde_json::Result<Vec<u8>> {
    let responses = match body {
        BatchResponse::Single(response) => std::slice::from_ref(response),
        BatchResponse::Batch(responses) => responses.as_slice(),
    };
    // Sized for the lists written already, so that the buffer is not grown and copied
    // again on its way through a page.
    let lists: usize = responses.iter().map(|r| prewritten_len(&r.data)).sum();
    let mut out = Vec::with_capacity(4096 + lists);
    match body {
        BatchResponse::Single(response) => write_response(&mut out, response)?,
        BatchResponse::Batch(responses) => {
            out.push(b'[');
            for (i, response) in responses.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_response(&mut out, response)?;
            }
            out.push(b']');
        }
    }
    Ok(out)
}

fn prewritten_len(value: &Value) -> usize {
    match value {
        Value::Binary(json) => json.len(),
        Value::List(items) => items.iter().map(prewritten_len).sum(),
        Value::Object(map) => map.values().map(prewritten_len).sum(),
        _ => 0,
    }
}

/// Whether `response` answers a request that never executed: the document did not parse or
/// validate, its variables did not fit, or it named no operation. Every error of execution
/// has the path of its field, and `data` is null then only when a non-null root field failed.
pub fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn write_response(out: &mut Vec<u8>, response: &Response) -> serde_json::Result<()> {
    let mut comma = "";
    out.push(b'{');
    if !is_request_error(response) {
        out.extend_from_slice(b"\"data\":");
        write_value(out, &response.data)?;
        comma = ",";
    }
    if !response.extensions.is_empty() {
        out.extend_from_slice(comma.as_bytes());
        out.extend_from_slice(b"\"extensions\":");
        serde_json::to_writer(&mut *out, &response.extensions)?;
        comma = ",";
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(comma.as_bytes());
        out.extend_from_slice(b"\"errors\":");
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

/// `value` as JSON at the end of `out`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::String(s) => write_str(out, s),
        Value::Enum(name) => write_str(out, name.as_str()),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key.as_str());
                out.push(b':');
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        Value::Binary(json) => out.extend_from_slice(json),
        Value::Number(n) => match n.as_i64() {
            Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            // Floats and the largest integers keep serde_json's formatting.
            None => serde_json::to_writer(&mut *out, value)?,
        },
    }
    Ok(())
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `word` is below 0x20, `"` or `\`. Exact in that
/// direction (no such byte is missed); a rare false alarm only sends the eight bytes
/// through the byte-wise path.
fn needs_escape(word: u64) -> bool {
    let below = |n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    (below(0x20) | zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

/// `s` as a JSON string at the end of `out`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if needs_no_escape(bytes) {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes);
    }
    out.push(b'"');
}

/// The common case (ids, names, most text). Short strings (keys above all) are read as
/// one or two words padded with spaces; longer ones in blocks of 32 bytes without an
/// early exit inside a block, which the compiler turns into vector compares.
fn needs_no_escape(bytes: &[u8]) -> bool {
    if bytes.len() <= 16 {
        let mut padded = [b' '; 16];
        padded[..bytes.len()].copy_from_slice(bytes);
        let (low, high) = padded.split_at(8);
        let word = |half: &[u8]| <[u8; 8]>::try_from(half).map_or(0, u64::from_le_bytes);
        return !needs_escape(word(low)) && !needs_escape(word(high));
    }
    let plain = |block: &[u8]| {
        let mut flags = 0u8;
        for &b in block {
            flags |= u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\');
        }
        flags == 0
    };
    let mut blocks = bytes.chunks_exact(32);
    blocks.all(|block| <&[u8; 32]>::try_from(block).is_ok_and(|block| plain(block)))
        && plain(blocks.remainder())
}

fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let (mut run, mut i) = (0, 0);
    let mut unicode = *b"\\u0000";
    while i < bytes.len() {
        if let Some(chunk) = bytes
            .get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            && !needs_escape(u64::from_le_bytes(chunk))
        {
            i += 8;
            continue;
        }
        let byte = bytes[i];
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                unicode[4] = HEX[usize::from(byte >> 4)];
                unicode[5] = HEX[usize::from(byte & 0xf)];
                &unicode
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escaped);
        i += 1;
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use async_graphql::{Name, PathSegment, ServerError, indexmap::IndexMap};
    use proptest::prelude::*;

    use super::*;

    fn same_as_serde_json(body: &BatchResponse) {
        let ours = to_vec(body).unwrap();
        let theirs = serde_json::to_vec(body).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            // Escapes are rare in random text: strings made of them and their neighbours.
            "[\\x00-\\x21\"\\\\/a\u{7f}\u{e9}\u{1F600}]{0,80}".prop_map(Value::String),
            // Plain text with one escape somewhere, at any offset of the blocks.
            (
                "[a-z ]{0,100}",
                any::<prop::sample::Index>(),
                "[\\x00-\\x1f\"\\\\]"
            )
                .prop_map(|(text, at, escape)| {
                    let mut text = text;
                    text.insert_str(at.index(text.len() + 1), &escape);
                    Value::String(text)
                }),
            "[A-Z_]{1,12}".prop_map(|n| Value::Enum(Name::new(n))),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                prop::collection::vec((any::<String>(), inner), 0..8).prop_map(|fields| {
                    Value::Object(
                        fields
                            .into_iter()
                            .map(|(k, v)| (Name::new(k), v))
                            .collect::<IndexMap<_, _>>(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(data in value(), errors in 0usize..3) {
            let mut response = Response::new(data);
            for i in 0..errors {
                let mut error = ServerError::new(format!("wrong \"{i}\"\n"), None);
                error.path = vec![PathSegment::Field(format!("f{i}")), PathSegment::Index(i)];
                response.errors.push(error);
            }
            same_as_serde_json(&BatchResponse::Single(response));
        }
    }

    #[test]
    fn prewritten_json_is_copied_as_it_is() {
        let rows = prewritten(br#"[{"a":"\u0001"},{}]"#.to_vec());
        let data = Value::Object([(Name::new("nodes"), rows)].into_iter().collect());
        let out = to_vec(&BatchResponse::Single(Response::new(data))).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"data":{"nodes":[{"a":"\u0001"},{}]}}"#
        );
    }

    #[test]
    fn batches_and_extensions() {
        let with_extension =
            Response::new(Value::String("a\u{1}b".into())).extension("cost", Value::from(3));
        let mut failed_field = ServerError::new("no", None);
        failed_field.path = vec![PathSegment::Field("thread".into())];
        same_as_serde_json(&BatchResponse::Batch(vec![
            with_extension,
            Response::from_errors(vec![failed_field]),
        ]));
        same_as_serde_json(&BatchResponse::Batch(Vec::new()));
    }

    #[test]
    fn a_request_error_has_no_data() {
        let refused = Response::from_errors(vec![ServerError::new("no", None)]);
        assert!(is_request_error(&refused));
        let out = to_vec(&BatchResponse::Single(refused)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"errors":[{"message":"no"}]}"#
        );
        let with_extension = Response::from_errors(vec![ServerError::new("no", None)])
            .extension("cost", Value::from(3));
        let out = to_vec(&BatchResponse::Single(with_extension)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"{"extensions":{"cost":3},"errors":[{"message":"no"}]}"#
        );
    }
}
