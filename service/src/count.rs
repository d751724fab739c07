//! Grouped counts for `totalCount` where no counter column exists.

use std::{collections::HashMap, hash::Hash};

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QuerySelect, Select, TryGetableMany, sea_query::Expr,
};

use crate::Result;

/// `SELECT column, COUNT(*) … GROUP BY column` over `select`'s rows.
pub(crate) async fn grouped<E, K>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    column: E::Column,
) -> Result<HashMap<K, i64>>
where
    E: EntityTrait,
    E::Column: ColumnTrait,
    K: Eq + Hash,
    (K, i64): TryGetableMany,
{
    let rows: Vec<(K, i64)> = select
        .select_only()
        .column(column)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(column)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
