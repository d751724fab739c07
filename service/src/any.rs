//! `column IN (…)` that keeps one statement text on Postgres: `column = ANY($1)` with an
//! array, so a batch of any size reuses one prepared statement and its plan. SQLite has
//! no arrays and gets the plain list.

use sea_orm::{
    ColumnTrait, DbBackend, Value,
    sea_query::{Expr, ExprTrait, extension::postgres::PgFunc},
};

pub(crate) fn any_of<C, V>(backend: DbBackend, column: C, values: Vec<V>) -> Expr
where
    C: ColumnTrait,
    V: Into<Value>,
    Vec<V>: Into<Value>,
{
    match backend {
        DbBackend::Postgres => Expr::col(column).eq(PgFunc::any(Expr::val(values))),
        _ => column.is_in(values),
    }
}
