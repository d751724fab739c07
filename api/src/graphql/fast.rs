//! A direct path for the objects that pages are made of.
//!
//! async-graphql resolves every field of every object as a boxed future, driven by a
//! `FuturesUnordered` per object; on a front page of 20 categories and 100 threads with
//! their authors that machinery cost more server time than the database statements did.
//! Here an object's selection is walked once: the fields whose values are in memory are
//! built directly, with the same scalars async-graphql would produce, and only the
//! others (connections, loaders) go through async-graphql's resolver for that one field,
//! awaited together. A connection's `nodes` go one step further: their rows are written
//! as JSON while they are walked (`list`). A selection with fragments, directives or the
//! same key twice is left to async-graphql whole; a test holds the two paths to equal
//! answers. Keys come in selection order (async-graphql orders them by completion, which
//! differs only when sibling fields load). The one extension (`cost.rs`, on the schema
//! for known documents only) has no field hook: one would not see the fields built here.

use std::{
    cell::RefCell,
    future::Future,
    hash::{BuildHasher, RandomState},
    rc::Rc,
    sync::LazyLock,
};

use async_graphql::{
    ContainerType, Context, ContextSelectionSet, InputType, Name, Positioned, ScalarType,
    ServerResult, Value,
    indexmap::{
        IndexMap,
        map::raw_entry_v1::{RawEntryApiV1, RawEntryMut},
    },
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet},
};
use futures_util::future::join_all;
use service::Viewer;

use super::{context::Loader, json, user::Author};

/// An object that the direct path can build.
pub trait Direct: ContainerType + Sync {
    /// A field's value when it needs nothing but memory; `None` leaves the field to
    /// `resolve_deferred`. Only fields without arguments are asked for.
    fn value_of(
        &self,
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        field: &Positioned<Field>,
    ) -> Option<Value>;

    /// The author read with the row, if the type has one: its `author` field is then
    /// written as JSON in place, so that a list's rows need not build it as a `Value`.
    fn author(&self) -> Option<&Author> {
        None
    }

    /// One field that is not in memory (`ctx` is the field's context); by default
    /// through async-graphql's own resolver.
    fn resolve_deferred(
        &self,
        ctx: &Context<'_>,
    ) -> impl Future<Output = ServerResult<Option<Value>>> + Send {
        self.resolve_field(ctx)
    }
}

/// The object's value, or `None` when its selection needs async-graphql's whole path.
/// A field that fails is null and its error reported; `nulls` moves the null up where the
/// field is non-null.
pub async fn object<'a, T: Direct>(ctx: &ContextSelectionSet<'a>, root: &T) -> Option<Value> {
    let mut deferred = Vec::new();
    let mut map = walk(
        ctx,
        |name, field| {
            let value = plain(field)
                .then(|| root.value_of(ctx, name, field))
                .flatten();
            if value.is_none() {
                deferred.push(field);
            }
            Some(value.unwrap_or_default())
        },
        || root.introspection_type_name(),
    )?;
    if !deferred.is_empty() {
        // Boxed: the resolvers' futures are large, and most objects (every row of a
        // page) have no field to wait for; inline, each of them would carry and move
        // that space.
        Box::pin(settle(ctx, root, &mut map, deferred)).await;
    }
    Some(if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    })
}

/// Resolves the fields that are not in memory, together, into `map`.
async fn settle<'a, T: Direct>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    map: &mut IndexMap<Name, Value>,
    deferred: Vec<&'a Positioned<Field>>,
) {
    let resolve = |field: &'a Positioned<Field>| async move {
        (field, root.resolve_deferred(&ctx.with_field(field)).await)
    };
    let results = match deferred.as_slice() {
        [field] => vec![resolve(field).await],
        fields => join_all(fields.iter().map(|field| resolve(field))).await,
    };
    for (field, result) in results {
        let key = &field.node.response_key().node;
        match result {
            Ok(value) => {
                if let Some(slot) = map.get_mut(key) {
                    *slot = value.unwrap_or_default();
                }
            }
            // Null in its place, keeping the selection's order; `nulls` moves the null up
            // if the field is non-null.
            Err(error) => {
                ctx.add_error(error);
                if let Some(slot) = map.get_mut(key) {
                    *slot = Value::Null;
                }
            }
        }
    }
}

/// The object's value if every selected field is in memory: for an object inside
/// another's direct build, which does not wait.
pub fn object_fields<T: Direct>(ctx: &ContextSelectionSet<'_>, root: &T) -> Option<Value> {
    walk(
        ctx,
        |name, field| plain(field).then(|| root.value_of(ctx, name, field))?,
        || root.introspection_type_name(),
    )
    .map(Value::Object)
}

/// A list of objects whose selected fields are all in memory, written as JSON while it
/// is walked ([`json::prewritten`]): a page's rows become bytes without a map per row
/// to build, walk and drop. `None` as for [`object_fields`], if any row falls short.
pub fn list<'t, T: Direct + 't>(
    ctx: &ContextSelectionSet<'_>,
    items: impl ExactSizeIterator<Item = &'t T>,
) -> Option<Value> {
    if ctx.data_opt::<Merging>().is_some() {
        return items
            .map(|item| object_fields(ctx, item))
            .collect::<Option<_>>()
            .map(Value::List);
    }
    let keys = key_hashes(ctx.item)?;
    let count = items.len();
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_fields(ctx, item, &keys, &mut out)?;
        if i == 0 {
            // Rows of a page are alike: room for the rest at the first one's size (up to
            // a bound: a thread's first post may be far longer than its replies).
            out.reserve(((out.len() + 1) * (count - 1)).min(MAX_RESERVED));
        }
    }
    out.push(b']');
    Some(json::prewritten(out))
}

/// The most a list reserves ahead of its rows.
const MAX_RESERVED: usize = 256 * 1024;

/// In a request's data when its document asks for an object-valued key twice in one
/// object (directly or through fragments): async-graphql resolves both and merges their
/// answers, objects key by key and lists item by item, but not JSON already written, so
/// such a request builds its lists as values.
pub struct Merging;

/// Whether async-graphql could merge two answers for one key in `document` (any of its
/// operations). This runs before validation, which refuses fragment cycles: past a
/// budget of selections or of nesting, the answer is yes.
pub fn merges_answers(document: &ExecutableDocument) -> bool {
    let mut walk = Walk {
        document,
        budget: 10_000,
        depth: 0,
    };
    document
        .operations
        .iter()
        .any(|(_, op)| walk.repeats(&op.node.selection_set.node))
}

/// Deepest nesting of selections and spreads `merges_answers` follows.
const MAX_NESTING: usize = 64;

struct Walk<'a> {
    document: &'a ExecutableDocument,
    budget: usize,
    depth: usize,
}

impl<'a> Walk<'a> {
    /// Whether one object of `set` asks for an object-valued key twice, or any of its
    /// fields' selections does.
    fn repeats(&mut self, set: &'a SelectionSet) -> bool {
        let mut keys = Vec::new();
        if self.collect_keys(set, &mut keys) {
            return true;
        }
        // Sorted rather than compared pairwise: a hostile document may hold thousands.
        keys.sort_unstable();
        keys.windows(2).any(|pair| pair[0] == pair[1])
    }

    /// Adds the response keys of `set`'s object-valued fields, fragments flattened, to
    /// `keys` (true: a repeat found below, or the walk is past its bounds).
    fn collect_keys(&mut self, set: &'a SelectionSet, keys: &mut Vec<&'a str>) -> bool {
        if self.depth == MAX_NESTING {
            return true;
        }
        self.depth += 1;
        let found = set.items.iter().any(|item| {
            let Some(left) = self.budget.checked_sub(1) else {
                return true;
            };
            self.budget = left;
            match &item.node {
                Selection::Field(field) => {
                    let below = &field.node.selection_set.node;
                    if below.items.is_empty() {
                        return false;
                    }
                    keys.push(field.node.response_key().node.as_str());
                    self.repeats(below)
                }
                Selection::InlineFragment(fragment) => {
                    self.collect_keys(&fragment.node.selection_set.node, keys)
                }
                Selection::FragmentSpread(spread) => {
                    let fragments = &self.document.fragments;
                    fragments
                        .get(&spread.node.fragment_name.node)
                        .is_some_and(|fragment| {
                            self.collect_keys(&fragment.node.selection_set.node, keys)
                        })
                }
            }
        });
        self.depth -= 1;
        found
    }
}

/// An object-typed field of `ctx`'s object (`author { … }`) written as JSON at the end
/// of `out`, as `list` writes a row.
pub fn write_object<T: Direct>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    item: &T,
    out: &mut Vec<u8>,
) -> Option<()> {
    let field_ctx = ctx.with_field(field);
    let ctx = field_ctx.with_selection_set(&field.node.selection_set);
    let keys = key_hashes(ctx.item)?;
    write_fields(&ctx, item, &keys, out)
}

/// One object of `keys`' selection: `{"key":value,…}`.
fn write_fields<T: Direct>(
    ctx: &ContextSelectionSet<'_>,
    item: &T,
    keys: &Keys,
    out: &mut Vec<u8>,
) -> Option<()> {
    for (field, prefix) in fields(ctx.item).zip(keys.written.iter()) {
        out.extend_from_slice(prefix);
        let name = field.node.name.node.as_str();
        if name == "__typename" {
            json::write_str(out, &item.introspection_type_name());
            continue;
        }
        if !plain(field) {
            return None;
        }
        let start = out.len();
        let author = (name == "author").then(|| item.author()).flatten();
        if author.and_then(|a| a.write(ctx, field, out)).is_none() {
            out.truncate(start);
            json::write_value(out, &item.value_of(ctx, name, field)?).ok()?;
        }
    }
    out.push(b'}');
    Some(())
}

/// Like `fields`, for an object that is not a `Direct` type (`pageInfo`).
pub fn record(
    ctx: &ContextSelectionSet<'_>,
    type_name: &str,
    mut value_of: impl FnMut(&str) -> Option<Value>,
) -> Option<Value> {
    walk(
        ctx,
        |name, field| plain(field).then(|| value_of(name))?,
        || type_name.to_owned().into(),
    )
    .map(Value::Object)
}

fn plain(field: &Positioned<Field>) -> bool {
    field.node.arguments.is_empty()
}

/// Walks a selection of fields only (no fragments, no directives, each key once),
/// taking each field's value from `value_of`; `None` from it, or any other selection,
/// stops the walk.
fn walk<'a>(
    ctx: &ContextSelectionSet<'a>,
    mut value_of: impl FnMut(&str, &'a Positioned<Field>) -> Option<Value>,
    type_name: impl Fn() -> std::borrow::Cow<'static, str>,
) -> Option<IndexMap<Name, Value>> {
    let keys = key_hashes(ctx.item)?;
    let mut map = IndexMap::with_capacity_and_hasher(keys.hashed.len(), KEYS.clone());
    for (field, (key, hash)) in fields(ctx.item).zip(keys.hashed.iter()) {
        let name = field.node.name.node.as_str();
        let value = if name == "__typename" {
            Value::String(type_name().into_owned())
        } else {
            value_of(name, field)?
        };
        // `key_hashes` saw each key once.
        if let RawEntryMut::Vacant(slot) =
            map.raw_entry_mut_v1().from_key_hashed_nocheck(*hash, key)
        {
            slot.insert_hashed_nocheck(*hash, key.clone(), value);
        }
    }
    Some(map)
}

/// The fields of a selection that `key_hashes` accepted.
fn fields(set: &Positioned<SelectionSet>) -> impl Iterator<Item = &Positioned<Field>> {
    set.node.items.iter().filter_map(|item| match &item.node {
        Selection::Field(field) => Some(field),
        _ => None,
    })
}

/// The hasher of every map built here. One for all, so that a response key hashes the
/// same in each of them and its hash can be computed once per selection instead of once
/// per object: SipHash of the keys (std's hasher, which `Value` maps use) was a tenth of
/// a page's instructions, the same few keys hashed again for every row.
static KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// A selection's response keys: with their hashes under `KEYS` (for maps), and as a
/// written object puts them (`{"id":`, then `,"body":`, …; escaped once per selection).
struct Keys {
    hashed: Box<[(Name, u64)]>,
    written: Box<[Box<[u8]>]>,
}

/// Selections whose keys are kept per thread (a page has a handful).
const KEPT_SELECTIONS: usize = 32;

thread_local! {
    /// Recently walked selections' keys. A selection is found by its keys' strings: each
    /// request runs on its own copy of a cached document (async-graphql takes the
    /// document by value), and the copies share their names' strings, which a parse
    /// never shares between two places in a document. An entry holds its names, so their
    /// strings stay allocated while it lives: a key at the same address as a kept one is
    /// that key, of a copy of the same field.
    static KEY_HASHES: RefCell<Vec<Rc<Keys>>> =
        RefCell::new(Vec::with_capacity(KEPT_SELECTIONS));
}

/// The response keys of a selection that the direct path can build: fields only, none
/// with a directive, each key once (the same key twice needs async-graphql's merging of
/// the two selections), and at least one (none is left once `@skip`/`@include` were
/// applied: async-graphql answers null for that). `None` for any other selection.
fn key_hashes(set: &Positioned<SelectionSet>) -> Option<Rc<Keys>> {
    let same_keys = |kept: &Keys| {
        kept.hashed.len() == set.node.items.len()
            && kept
                .hashed
                .iter()
                .zip(&set.node.items)
                .all(|((name, _), item)| {
                    matches!(&item.node, Selection::Field(field)
                    if std::ptr::eq(field.node.response_key().node.as_str(), name.as_str()))
                })
    };
    let kept = KEY_HASHES.with_borrow(|kept| kept.iter().find(|keys| same_keys(keys)).cloned());
    if kept.is_some() {
        return kept;
    }
    let hashed: Box<[(Name, u64)]> = set
        .node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) if field.node.directives.is_empty() => {
                let key = field.node.response_key().node.clone();
                let hash = KEYS.hash_one(&key);
                Some((key, hash))
            }
            _ => None,
        })
        .collect::<Option<_>>()?;
    let distinct = hashed
        .iter()
        .enumerate()
        .all(|(i, (key, _))| hashed[..i].iter().all(|(other, _)| other != key));
    if hashed.is_empty() || !distinct {
        return None;
    }
    let written = hashed
        .iter()
        .enumerate()
        .map(|(i, (key, _))| {
            let mut prefix = vec![if i == 0 { b'{' } else { b',' }];
            json::write_str(&mut prefix, key.as_str());
            prefix.push(b':');
            prefix.into_boxed_slice()
        })
        .collect();
    let keys = Rc::new(Keys { hashed, written });
    KEY_HASHES.with_borrow_mut(|kept| {
        if kept.len() == KEPT_SELECTIONS {
            kept.remove(0);
        }
        kept.push(keys.clone());
    });
    Some(keys)
}

/// The value of an object-typed field of `ctx`'s object (`author { … }`), built by
/// `resolve` from the field's own selection.
pub fn nested(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    resolve: impl FnOnce(&ContextSelectionSet<'_>) -> Option<Value>,
) -> Option<Value> {
    let field_ctx = ctx.with_field(field);
    resolve(&field_ctx.with_selection_set(&field.node.selection_set))
}

/// The request's viewer, as resolvers see it.
pub fn viewer<'a>(ctx: &ContextSelectionSet<'a>) -> Option<&'a Viewer> {
    ctx.data::<Loader>()
        .ok()
        .map(|loader| &loader.loader().viewer)
}

pub fn string(value: &str) -> Value {
    Value::String(value.to_owned())
}

pub fn scalar<T: ScalarType>(value: &T) -> Value {
    value.to_value()
}

pub fn optional<T: ScalarType>(value: Option<&T>) -> Value {
    value.map_or(Value::Null, ScalarType::to_value)
}

pub fn enumeration<T: InputType>(value: T) -> Value {
    value.to_value()
}

/// Implements async-graphql's traits for `$outer`, a newtype over the object type
/// `$inner`: the schema sees `$inner`, and values resolve through `Direct` first.
/// Generic newtypes give their parameters first: `direct_object!([N: Bound] A<N>, B<N>)`.
macro_rules! direct_object {
    ([$($generics:tt)*] $outer:ty, $inner:ty) => {
        impl<$($generics)*> async_graphql::OutputType for $outer {
            fn type_name() -> std::borrow::Cow<'static, str> {
                <$inner as async_graphql::OutputType>::type_name()
            }

            fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                <$inner as async_graphql::OutputType>::create_type_info(registry)
            }

            async fn resolve(
                &self,
                ctx: &async_graphql::ContextSelectionSet<'_>,
                field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
            ) -> async_graphql::ServerResult<async_graphql::Value> {
                match $crate::graphql::fast::object(ctx, self).await {
                    Some(value) => Ok(value),
                    None => async_graphql::OutputType::resolve(&self.0, ctx, field).await,
                }
            }
        }

        impl<$($generics)*> async_graphql::ContainerType for $outer {
            async fn resolve_field(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
                async_graphql::ContainerType::resolve_field(&self.0, ctx).await
            }
        }

        impl<$($generics)*> async_graphql::ObjectType for $outer {}
    };
    ($outer:ty, $inner:ty) => {
        $crate::graphql::fast::direct_object!([] $outer, $inner);
    };
}

pub(crate) use direct_object;

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::merges_answers;

    #[test]
    fn a_key_asked_twice_where_answers_merge() {
        let merges = |query: &str| merges_answers(&parse_query(query).unwrap());
        assert!(!merges(
            "{ categories { nodes { id name } } thread(id: 1) { title } }"
        ));
        assert!(!merges(
            "{ a: categories { nodes { id } } b: categories { nodes { id } } }"
        ));
        assert!(!merges(
            "{ categories { nodes { id } } ...F } fragment F on Query { x }"
        ));
        assert!(merges(
            "{ categories { nodes { id } } categories { nodes { name } } }"
        ));
        assert!(merges(
            "{ c { n { id } } ... on Query { c { n { name } } } }"
        ));
        assert!(merges("{ c { ...F ...F } } fragment F on C { n { id } }"));
        assert!(merges("{ t { r { n { a { x } a { y } } } } }"));
        assert!(!merges("{ t { r { n { a { x } } a { y } } } }"));
        // A cycle (refused later by validation) ends on the budget.
        assert!(merges("{ ...F } fragment F on Query { c { ...F } }"));
    }
}
