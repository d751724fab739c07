//! Reading a row to change it: `FOR UPDATE` on Postgres, so that concurrent writers of the
//! same row queue behind each other and each sees the one before. SQLite's write
//! transactions (`BEGIN IMMEDIATE`) already hold the database's one write lock.

use sea_orm::{ConnectionTrait, EntityTrait, PrimaryKeyTrait, QuerySelect};

use crate::{Error, Result};

pub(crate) async fn row<E>(
    txn: &impl ConnectionTrait,
    id: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    what: &'static str,
) -> Result<E::Model>
where
    E: EntityTrait,
{
    E::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(Error::NotFound(what))
}
