//! `Accept` and `Accept-Encoding` read with their quality values (RFC 9110 §12.4.2): a
//! client may list a type only to refuse it (`q=0`), and the most specific entry that
//! covers a type is the one that rates it.

use axum::http::{HeaderMap, HeaderName};

/// How a request's header rates one media type or coding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// 0 (refused) to 1.
    pub q: f32,
    /// Named itself, not covered by `type/*`, `*/*` or `*`.
    pub exact: bool,
}

/// The entry of `name` that rates `wanted` (case-insensitive), the most specific one when
/// several cover it; `None` when none does (or the header is absent).
pub fn rating(headers: &HeaderMap, name: &HeaderName, wanted: &str) -> Option<Rating> {
    let mut best: Option<(u8, Rating)> = None;
    let values = headers.get_all(name).into_iter();
    for entry in values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = entry.split(';');
        let range = parts.next().unwrap_or_default().trim();
        let Some(specificity) = covers(range, wanted) else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f32>().ok())
            .filter(|q| (0.0..=1.0).contains(q))
            .unwrap_or(1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            let exact = specificity == 2;
            best = Some((specificity, Rating { q, exact }));
        }
    }
    best.map(|(_, rating)| rating)
}

/// 2 for the value itself, 1 for `type/*`, 0 for `*/*` or `*`.
fn covers(range: &str, wanted: &str) -> Option<u8> {
    if range.eq_ignore_ascii_case(wanted) {
        return Some(2);
    }
    if range == "*" || range == "*/*" {
        return Some(0);
    }
    let (kind, sub) = range.split_once('/')?;
    let wanted_kind = wanted.split_once('/')?.0;
    (sub == "*" && kind.eq_ignore_ascii_case(wanted_kind)).then_some(1)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header::ACCEPT};

    use super::*;

    fn rate(values: &[&str], wanted: &str) -> Option<(f32, bool)> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        rating(&headers, &ACCEPT, wanted).map(|r| (r.q, r.exact))
    }

    #[test]
    fn the_most_specific_entry_rates_a_type() {
        let gr = "application/graphql-response+json";
        assert_eq!(rate(&[], gr), None);
        assert_eq!(rate(&["text/html"], gr), None);
        assert_eq!(rate(&[gr], gr), Some((1.0, true)));
        assert_eq!(
            rate(&["Application/GraphQL-Response+JSON"], gr),
            Some((1.0, true))
        );
        assert_eq!(rate(&["*/*"], gr), Some((1.0, false)));
        assert_eq!(
            rate(&["*/*;q=0.8, application/*;q=0.5"], gr),
            Some((0.5, false))
        );
        // Refused by name, whatever a wider range says; parameters before `q` are the type's.
        assert_eq!(
            rate(
                &[
                    "*/*",
                    "application/graphql-response+json; charset=utf-8 ; Q=0"
                ],
                gr
            ),
            Some((0.0, true))
        );
        assert_eq!(
            rate(
                &[
                    "application/json;q=0.9",
                    "application/graphql-response+json;q=1"
                ],
                "application/json"
            ),
            Some((0.9, true))
        );
        // A quality that is not one counts as none given.
        assert_eq!(
            rate(&["application/json;q=2"], "application/json"),
            Some((1.0, true))
        );
        assert_eq!(
            rate(&["application/json;q=x"], "application/json"),
            Some((1.0, true))
        );
        assert_eq!(rate(&["gzip;q=0, br"], "gzip"), Some((0.0, true)));
        assert_eq!(rate(&["br, *"], "gzip"), Some((1.0, false)));
    }
}
