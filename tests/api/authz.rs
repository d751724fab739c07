//! The authorization matrix: for every role and action, the `viewerCan*` field says
//! exactly what the mutation then allows, and a refusal has the right code. (Deleting a
//! deleted reply is the one exception: a no-op success, while `viewerCanDelete` is false;
//! `writes.rs` tests it.)

use api::graphql::NodeId;
use entity::{thread, user::Role};
use serde_json::{Value, json};

use crate::{
    fixtures,
    helpers::{TestApp, codes},
    writes::{self, run},
};

const ROLES: [Option<&str>; 5] = [
    None,
    Some("member"),
    Some("author"),
    Some("mod"),
    Some("admin"),
];

#[derive(Clone, Copy, Debug)]
enum Action {
    CreateCategory,
    CreateThread,
    Reply,
    ReplyLocked,
    EditThread,
    DeleteThreadAlone,
    DeleteThreadOthersReplied,
    EditReply,
    DeleteReply,
    Vote,
    RetractVote,
    Lock,
    Unlock,
    Pin,
    Unpin,
}

/// Who may, by the contract: (member, author, moderator, admin); anonymous never.
fn allowed(action: Action) -> [bool; 4] {
    use Action::*;
    match action {
        CreateCategory => [false, false, false, true],
        CreateThread | Reply => [true, true, true, true],
        ReplyLocked => [false, false, false, false],
        EditThread | DeleteThreadAlone | EditReply | DeleteReply => [false, true, true, true],
        DeleteThreadOthersReplied => [false, false, true, true],
        Vote | RetractVote => [true, false, true, true],
        Lock | Unlock | Pin | Unpin => [false, false, true, true],
    }
}

backend_test! {
    async fn every_role_against_every_action(backend) {
        use Action::*;
        let app = TestApp::spawn(backend).await;
        let db = &app.db;
        fixtures::user(db, "member", Role::Member).await;
        let author = fixtures::user(db, "author", Role::Member).await;
        fixtures::user(db, "mod", Role::Moderator).await;
        fixtures::user(db, "admin", Role::Admin).await;
        let bystander = fixtures::user(db, "bystander", Role::Member).await;
        let category = fixtures::category(db, "matrix").await;
        let category_id = NodeId::Category(category.id).encode().0;

        let actions = [CreateCategory, CreateThread, Reply, ReplyLocked, EditThread, DeleteThreadAlone,
            DeleteThreadOthersReplied, EditReply, DeleteReply, Vote, RetractVote, Lock, Unlock, Pin, Unpin];
        let mut checked = 0;
        for action in actions {
            for (r, role) in ROLES.iter().enumerate() {
                // A fresh thread per case: its opening post is the author's; a bystander
                // has replied when the case needs someone else in the thread.
                let posters: Vec<&entity::user::Model> = match action {
                    DeleteThreadOthersReplied => vec![&author, &bystander],
                    _ => vec![&author],
                };
                let (thread, posts) = fixtures::thread(db, &category, &posters, "matrix thread", posters.len()).await;
                if matches!(action, ReplyLocked | Unlock) {
                    set_status(db, &thread, thread::Status::Locked).await;
                }
                if matches!(action, Unpin) {
                    fixtures::pin(db, &thread).await;
                }
                if matches!(action, RetractVote) {
                    fixtures::vote(db, &posts[0], &bystander, 1).await;
                }
                let thread_id = NodeId::Thread(thread.id).encode().0;
                let reply_id = NodeId::Reply(posts[0].id).encode().0;
                let expected = r > 0 && allowed(action)[r - 1];

                // What the viewer is told beforehand.
                let field = match action {
                    Reply | ReplyLocked => Some("viewerCanReply"),
                    EditThread => Some("viewerCanEdit"),
                    DeleteThreadAlone | DeleteThreadOthersReplied => Some("viewerCanDelete"),
                    Lock | Unlock | Pin | Unpin => Some("viewerCanModerate"),
                    EditReply => Some("replyCanEdit"),
                    DeleteReply => Some("replyCanDelete"),
                    Vote | RetractVote => Some("replyCanVote"),
                    CreateCategory | CreateThread => None,
                };
                if let Some(field) = field {
                    let data = app.graphql_as(role.map(crate::helpers::token).as_deref(),
                        "query($id: ID!, $r: ID!) { thread(id: $id) { viewerCanReply viewerCanEdit viewerCanDelete viewerCanModerate }
                           reply: node(id: $r) { ... on Reply { viewerCanEdit viewerCanDelete viewerCanVote } } }",
                        json!({ "id": thread_id, "r": reply_id })).await;
                    let told = match field {
                        "replyCanEdit" => &data["data"]["reply"]["viewerCanEdit"],
                        "replyCanDelete" => &data["data"]["reply"]["viewerCanDelete"],
                        "replyCanVote" => &data["data"]["reply"]["viewerCanVote"],
                        f => &data["data"]["thread"][f],
                    };
                    assert_eq!(told, &json!(expected), "{action:?} as {role:?}: {field}");
                }

                // What the mutation then does.
                let (query, input) = match action {
                    CreateCategory => (writes::CREATE_CATEGORY, json!({ "slug": format!("c-{r}"), "name": "n" })),
                    CreateThread => (writes::CREATE_THREAD, json!({ "categoryId": category_id, "title": "Title", "body": "b" })),
                    Reply | ReplyLocked => (writes::ADD_REPLY, json!({ "threadId": thread_id, "body": "b" })),
                    EditThread => (writes::EDIT_THREAD, json!({ "threadId": thread_id, "title": "New title" })),
                    DeleteThreadAlone | DeleteThreadOthersReplied => (writes::DELETE_THREAD, json!({ "threadId": thread_id })),
                    EditReply => (writes::EDIT_REPLY, json!({ "replyId": reply_id, "body": "changed" })),
                    DeleteReply => (writes::DELETE_REPLY, json!({ "replyId": reply_id })),
                    Vote => (writes::CAST_VOTE, json!({ "replyId": reply_id, "value": "UP" })),
                    RetractVote => (writes::RETRACT_VOTE, json!({ "replyId": reply_id })),
                    Lock => (writes::LOCK, json!({ "threadId": thread_id })),
                    Unlock => (writes::UNLOCK, json!({ "threadId": thread_id })),
                    Pin => (writes::PIN, json!({ "threadId": thread_id })),
                    Unpin => (writes::UNPIN, json!({ "threadId": thread_id })),
                };
                let body: Value = run(&app, *role, query, input).await;
                if expected {
                    assert!(body.get("errors").is_none(), "{action:?} as {role:?} must succeed: {body:#}");
                } else {
                    let code = if role.is_none() { "UNAUTHENTICATED" } else { "FORBIDDEN" };
                    assert_eq!(codes(&body), [code], "{action:?} as {role:?}: {body:#}");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 75);
        fixtures::assert_counters_exact(db).await;
    }
}

async fn set_status(db: &service::Db, thread: &thread::Model, status: thread::Status) {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let mut active = thread.clone().into_active_model();
    active.status = Set(status);
    active.update(db).await.unwrap();
}

backend_test! {
    /// A signed-out write is refused as such before its input is checked or its row looked
    /// up: the same code whatever else is wrong with it.
    async fn signed_out_writes_are_refused_before_anything_else(backend) {
        let app = TestApp::spawn(backend).await;
        let missing = |id: fn(uuid::Uuid) -> NodeId| id(uuid::Uuid::now_v7()).encode().0;
        let (category, thread, reply) = (
            missing(NodeId::Category),
            missing(NodeId::Thread),
            missing(NodeId::Reply),
        );
        let cases = [
            (writes::CREATE_CATEGORY, json!({ "slug": "Not A Slug", "name": "" })),
            (writes::CREATE_THREAD, json!({ "categoryId": category, "title": "", "body": "" })),
            (writes::ADD_REPLY, json!({ "threadId": thread, "body": " " })),
            (writes::EDIT_THREAD, json!({ "threadId": thread, "title": "" })),
            (writes::DELETE_THREAD, json!({ "threadId": thread })),
            (writes::EDIT_REPLY, json!({ "replyId": reply, "body": "" })),
            (writes::DELETE_REPLY, json!({ "replyId": reply })),
            (writes::CAST_VOTE, json!({ "replyId": reply, "value": "UP" })),
            (writes::RETRACT_VOTE, json!({ "replyId": reply })),
            (writes::LOCK, json!({ "threadId": thread })),
            (writes::PIN, json!({ "threadId": thread })),
            // Ids that do not decode, as well.
            (writes::CREATE_THREAD, json!({ "categoryId": "garbage", "title": "t", "body": "b" })),
            (writes::ADD_REPLY, json!({ "threadId": "garbage", "body": "b" })),
            (writes::DELETE_REPLY, json!({ "replyId": "garbage" })),
            (writes::CAST_VOTE, json!({ "replyId": "garbage", "value": "UP" })),
            (writes::LOCK, json!({ "threadId": "garbage" })),
        ];
        for (query, input) in cases {
            let body = run(&app, None, query, input.clone()).await;
            assert_eq!(codes(&body), ["UNAUTHENTICATED"], "{input}: {body:#}");
        }
    }
}
