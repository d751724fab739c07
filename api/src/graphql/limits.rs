//! Limits checked before a request runs: its size and nesting (before it is even parsed:
//! the grammar recurses once per bracket, until pest's stack guard ends it with a syntax
//! error, thousands of levels in), then its aliases and root fields (on the parsed
//! document). Depth and complexity are checked by async-graphql's validation, with
//! connection sizes counted (`connection::cost`).

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensions, ServerError,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    },
};

use super::{Limits, error::QUERY_TOO_COMPLEX};

/// Brackets a query may nest before it is refused unparsed; validation then holds
/// selections to `Limits::depth`.
const MAX_NESTING: usize = 64;

pub fn too_complex(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions = async_graphql::Error::new("")
        .extend_with(|_, ext| ext.set("code", QUERY_TOO_COMPLEX))
        .extensions;
    error
}

/// Size and nesting of the query text, in one pass that skips strings and comments.
/// They end where async-graphql's grammar ends them; where this pass and the parser
/// could disagree (text the parser refuses), it reads on as code, counting more, never
/// less.
pub fn check_text(query: &str, limits: &Limits) -> Result<(), ServerError> {
    if query.len() > limits.query_bytes {
        return Err(too_complex(format!(
            "the query is {} bytes long (at most {})",
            query.len(),
            limits.query_bytes
        )));
    }
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            // To the end of the line: `\r` ends one as well as `\n`.
            b'#' => {
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            // A block string's one escape is `\"""`; any other backslash is itself.
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            // Of a string's escapes only `\"` and `\\` could move where it ends; a line
            // break ends it (the parser refuses the text there).
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    let escaped =
                        bytes[i] == b'\\' && matches!(bytes.get(i + 1), Some(b'"' | b'\\'));
                    i += if escaped { 2 } else { 1 };
                }
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    if deepest > MAX_NESTING {
        return Err(too_complex(format!(
            "the query nests {deepest} levels deep (at most {MAX_NESTING} brackets)"
        )));
    }
    Ok(())
}

/// The limits that depend on the document alone, aliases and fields with every fragment
/// spread in place: a document the cache kept passed them when it was kept
/// (`documents::Cache::keep`).
pub fn check_whole(document: &ExecutableDocument, limits: &Limits) -> Result<(), ServerError> {
    let mut aliases = 0;
    for (_, op) in document.operations.iter() {
        aliases += count_aliases(&op.node.selection_set.node);
    }
    for fragment in document.fragments.values() {
        aliases += count_aliases(&fragment.node.selection_set.node);
    }
    if aliases > limits.aliases {
        return Err(too_complex(format!(
            "the query has {aliases} aliases (at most {})",
            limits.aliases
        )));
    }
    // async-graphql's checks walk every operation with each fragment spread in place,
    // once per spread and unmemoized: fragments that each spread the next eight times
    // make a kilobyte of text a billion steps, before its complexity limit is reached.
    let mut counted = HashMap::new();
    let walked = document.operations.iter().fold(0usize, |sum, (_, op)| {
        sum.saturating_add(count_fields(
            document,
            &op.node.selection_set.node,
            Depth::Whole,
            &mut counted,
        ))
    });
    if walked > limits.complexity {
        return Err(too_complex(format!(
            "the query selects {walked} fields once its fragments are spread (at most {})",
            limits.complexity
        )));
    }
    Ok(())
}

/// Root fields of the operation that will run (which one depends on the request).
pub fn check_roots(
    document: &ExecutableDocument,
    operation: Option<&str>,
    limits: &Limits,
) -> Result<(), ServerError> {
    if let Some(op) = selected(document, operation) {
        let roots = count_fields(
            document,
            &op.selection_set.node,
            Depth::Root,
            &mut HashMap::new(),
        );
        if roots > limits.root_fields {
            return Err(too_complex(format!(
                "the operation asks for {roots} root fields (at most {})",
                limits.root_fields
            )));
        }
    }
    Ok(())
}

/// How many mutations the operation that will run makes: its root fields if it is a
/// mutation (each is one), else none.
pub fn mutations(document: &ExecutableDocument, operation: Option<&str>) -> u32 {
    selected(document, operation)
        .filter(|op| op.ty == OperationType::Mutation)
        .map_or(0, |op| {
            let roots = count_fields(
                document,
                &op.selection_set.node,
                Depth::Root,
                &mut HashMap::new(),
            );
            u32::try_from(roots).unwrap_or(u32::MAX)
        })
}

/// The operation that runs: the one named, or the document's only one (as async-graphql
/// picks it).
pub(super) fn selected<'a>(
    document: &'a ExecutableDocument,
    operation: Option<&str>,
) -> Option<&'a async_graphql::parser::types::OperationDefinition> {
    match (&document.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        _ => None,
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Which fields `count_fields` counts.
#[derive(Clone, Copy)]
enum Depth {
    /// The set's own (root fields, for a root set).
    Root,
    /// The set's own and every one below them.
    Whole,
}

/// Fields of a selection set, through its fragments: a fragment counts each time it is
/// spread, as async-graphql runs it each time. Each fragment's count is worked out once
/// (a fragment spread twice in each of thirty others must not cost 2^30 steps), and one
/// that spreads itself, which validation refuses later, counts nothing the second time.
/// `counted` remembers fragments for one `depth` only.
fn count_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    depth: Depth,
    counted: &mut HashMap<&'a str, Option<usize>>,
) -> usize {
    set.items.iter().fold(0, |sum, item| {
        let n = match &item.node {
            Selection::Field(field) => match depth {
                Depth::Root => 1,
                Depth::Whole => 1usize.saturating_add(count_fields(
                    document,
                    &field.node.selection_set.node,
                    depth,
                    counted,
                )),
            },
            Selection::InlineFragment(fragment) => {
                count_fields(document, &fragment.node.selection_set.node, depth, counted)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match (counted.get(name), document.fragments.get(name)) {
                    (Some(known), _) => known.unwrap_or(0),
                    (None, Some(fragment)) => {
                        counted.insert(name, None);
                        let n = count_fields(
                            document,
                            &fragment.node.selection_set.node,
                            depth,
                            counted,
                        );
                        counted.insert(name, Some(n));
                        n
                    }
                    (None, None) => 0,
                }
            }
        };
        sum.saturating_add(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    /// Both checks, as a document parsed for its request meets them.
    fn check_document(
        document: &ExecutableDocument,
        operation: Option<&str>,
        limits: &Limits,
    ) -> Result<(), ServerError> {
        check_whole(document, limits)?;
        check_roots(document, operation, limits)
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        let deep = format!("{}{}", "{a".repeat(100), "}".repeat(100));
        assert!(check_text(&deep, &limits()).is_err());
        let hidden = format!(
            "{{ a(s: \"{}\") # {}\n }}",
            "{".repeat(100),
            "{".repeat(100)
        );
        assert!(check_text(&hidden, &limits()).is_ok());
        let block = format!("{{ a(s: \"\"\"{}\"\"\") }}", "[".repeat(100));
        assert!(check_text(&block, &limits()).is_ok());
        let escaped = format!("{{ a(s: \"\"\"\\\"\"\"{}\"\"\") }}", "[".repeat(100));
        assert!(check_text(&escaped, &limits()).is_ok());
        // Comments and strings end where the grammar ends them: a comment at `\r`, a
        // block string at its first unescaped triple quote (`\\` escapes nothing there),
        // a string at a line break.
        for before in [
            "#\r",
            "{ a(s: \"\"\"\\\\\"\"\" \"\"\") ",
            "{ a(s: \"\\\\\") ",
            "{ a(s: \"\\q\r",
        ] {
            let text = format!("{before}{deep}");
            assert!(check_text(&text, &limits()).is_err(), "{before:?}");
        }
        let huge = "a".repeat(limits().query_bytes + 1);
        assert!(check_text(&huge, &limits()).is_err());
    }

    #[test]
    fn aliases_and_root_fields_are_counted_through_fragments()
    -> Result<(), async_graphql::parser::Error> {
        let many: String = (0..60).map(|i| format!("a{i}: __typename ")).collect();
        let doc = async_graphql::parser::parse_query(format!("{{ {many} }}"))?;
        assert!(check_document(&doc, None, &limits()).is_err());
        let roots: String = (0..21).map(|i| format!("f{i} ")).collect();
        let doc = async_graphql::parser::parse_query(format!(
            "{{ ...F }} fragment F on Query {{ {roots} }}"
        ))?;
        assert!(check_document(&doc, None, &limits()).is_err());
        let doc = async_graphql::parser::parse_query("mutation M { a } query Q { b }")?;
        assert_eq!(
            (mutations(&doc, Some("M")), mutations(&doc, Some("Q"))),
            (1, 0)
        );
        let doc = async_graphql::parser::parse_query(
            "mutation { a b: a ...F } fragment F on Mutation { c }",
        )?;
        assert_eq!(mutations(&doc, None), 3, "each root field is a mutation");
        // A fragment counts each time it is spread (async-graphql runs it each time)…
        let doc = async_graphql::parser::parse_query(
            "mutation { ...F ...F ...F } fragment F on Mutation { a }",
        )?;
        assert_eq!(mutations(&doc, None), 3);
        // …without walking it each time, and a cycle ends.
        let bomb: String = (0..40)
            .map(|i| format!("fragment F{i} on Query {{ ...F{} ...F{} }} ", i + 1, i + 1))
            .collect();
        let doc = async_graphql::parser::parse_query(format!(
            "{{ ...F0 }} {bomb} fragment F40 on Query {{ a }}"
        ))?;
        assert!(
            check_document(&doc, None, &limits()).is_err(),
            "2^40 root fields"
        );
        // Under a field, and in an operation that is not the one to run, async-graphql's
        // checks still walk every spread: 8^10 fields in a kilobyte.
        let bomb: String = (0..10)
            .map(|i| {
                format!(
                    "fragment F{i} on T {{ {} }} ",
                    format!("...F{} ", i + 1).repeat(8)
                )
            })
            .collect();
        for head in ["{ t { ...F0 } }", "query A { a } query B { t { ...F0 } }"] {
            let doc = async_graphql::parser::parse_query(format!(
                "{head} {bomb} fragment F10 on T {{ a }}"
            ))?;
            let message = check_document(&doc, Some("A"), &limits()).map_err(|e| e.message);
            assert!(
                message
                    .as_ref()
                    .is_err_and(|m| m.contains("once its fragments are spread")),
                "{head}: {message:?}"
            );
        }
        let doc = async_graphql::parser::parse_query(
            "{ ...A } fragment A on Query { a ...B } fragment B on Query { b ...A }",
        )?;
        assert!(check_document(&doc, None, &limits()).is_ok());
        assert!(check_document(&doc, Some("Q"), &limits()).is_ok());
        Ok(())
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_is_measured_without_panicking(text in "[{}()\\[\\]\"#\\\\a\n\r ]{0,400}") {
            let _ = check_text(&text, &Limits::default());
        }
    }
}
