//! A direct path for the objects that pages are made of (threads, replies, users).
//!
//! async-graphql resolves every field of every object as a boxed future, driven by a
//! `FuturesUnordered` per object; on a front page of 100 threads with their authors that
//! machinery cost more server time than the database statements did. Most selections on
//! these objects ask only for values already in memory. For those, the object's
//! selection is walked here and its `Value` built directly, with the same scalars
//! async-graphql would produce. Anything else (fragments, directives, arguments, a field
//! that has to load) falls back to async-graphql for the whole object; a test holds the
//! two paths to equal answers. Keys come in selection order (async-graphql orders them by
//! completion, which differs only when sibling fields load). No field-level extension
//! is installed: one would not see the fields built here.

use async_graphql::{
    ContextSelectionSet, InputType, Positioned, ScalarType, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
};
use service::Viewer;

use super::context::Loader;

/// The object's value if every selected field is a plain field that `value_of` knows
/// (it returns `None` for one it does not, or that needs more than memory).
pub fn object(
    ctx: &ContextSelectionSet<'_>,
    mut value_of: impl FnMut(&str, &Positioned<Field>) -> Option<Value>,
) -> Option<Value> {
    let items = &ctx.item.node.items;
    // Empty once `@skip`/`@include` were applied: async-graphql answers null for that.
    if items.is_empty() {
        return None;
    }
    let mut map = IndexMap::with_capacity(items.len());
    for item in items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        if !field.node.directives.is_empty() || !field.node.arguments.is_empty() {
            return None;
        }
        let key = field.node.response_key().node.clone();
        // The same key twice needs async-graphql's merging of the two selections.
        if map.contains_key(&key) {
            return None;
        }
        let value = value_of(field.node.name.node.as_str(), field)?;
        map.insert(key, value);
    }
    Some(Value::Object(map))
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

pub fn typename(name: &str) -> Value {
    Value::String(name.to_owned())
}

/// Implements async-graphql's traits for `$outer`, a newtype over the `#[Object]` type
/// `$inner`: the schema sees `$inner`, and values resolve through `$fast` first.
macro_rules! fast_object {
    ($outer:ty, $inner:ty, $fast:path) => {
        impl async_graphql::OutputType for $outer {
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
                match $fast(&self.0, ctx) {
                    Some(value) => Ok(value),
                    None => async_graphql::OutputType::resolve(&self.0, ctx, field).await,
                }
            }
        }

        impl async_graphql::ContainerType for $outer {
            async fn resolve_field(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
                async_graphql::ContainerType::resolve_field(&self.0, ctx).await
            }
        }

        impl async_graphql::ObjectType for $outer {}
    };
}

pub(crate) use fast_object;
