//! `reply_votes`: one up or down vote per (reply, voter); the pair is the primary key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reply_votes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub reply_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub voter_id: String,
    /// `1` (up) or `-1` (down).
    pub value: i16,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::reply::Entity",
        from = "Column::ReplyId",
        to = "super::reply::Column::Id"
    )]
    Reply,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::VoterId",
        to = "super::user::Column::Id"
    )]
    Voter,
}

impl Related<super::reply::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reply.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
