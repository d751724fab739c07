//! Who may do what. Each rule is one function used both by the mutation it guards and by
//! the `viewerCan*` field that announces it, so the two cannot disagree. One exception:
//! deleting a deleted reply succeeds (and changes nothing), while `viewerCanDelete` is
//! false, since there is nothing left to delete. An anonymous viewer gets
//! `Unauthenticated`; a signed-in one who may not, `Forbidden` with the reason.

use entity::thread::Status;

use crate::{Error, Result, Viewer, reply::Reply, thread::Thread};

/// Each write also checks this first, before its input or its row: a signed-out client
/// hears so before anything else, and takes no lock.
pub fn signed_in<'a>(viewer: &'a Viewer, action: &str) -> Result<&'a str> {
    viewer
        .user_id()
        .ok_or_else(|| Error::Unauthenticated(format!("sign in to {action}")))
}

pub fn create_category(viewer: &Viewer) -> Result<()> {
    signed_in(viewer, "create a category")?;
    if !viewer.is_admin() {
        return Err(Error::forbidden("only an admin can create a category"));
    }
    Ok(())
}

pub fn create_thread(viewer: &Viewer) -> Result<()> {
    signed_in(viewer, "start a thread").map(drop)
}

pub fn reply(viewer: &Viewer, thread: &Thread) -> Result<()> {
    signed_in(viewer, "reply")?;
    if thread.status == Status::Locked {
        return Err(Error::forbidden(
            "this thread is locked: it takes no new replies",
        ));
    }
    Ok(())
}

/// Lock, unlock, pin and unpin.
pub fn moderate(viewer: &Viewer) -> Result<()> {
    signed_in(viewer, "moderate")?;
    if !viewer.is_moderator() {
        return Err(Error::forbidden("only a moderator or an admin can do this"));
    }
    Ok(())
}

pub fn edit_thread(viewer: &Viewer, thread: &Thread) -> Result<()> {
    let id = signed_in(viewer, "edit a thread")?;
    if id != thread.author_id && !viewer.is_moderator() {
        return Err(Error::forbidden(
            "only the thread's author or a moderator can edit it",
        ));
    }
    Ok(())
}

/// `others_replied`: someone other than the author has posted in the thread.
pub fn delete_thread(viewer: &Viewer, thread: &Thread, others_replied: bool) -> Result<()> {
    let id = signed_in(viewer, "delete a thread")?;
    if viewer.is_moderator() {
        return Ok(());
    }
    if id != thread.author_id {
        return Err(Error::forbidden(
            "only the thread's author or a moderator can delete it",
        ));
    }
    if others_replied {
        return Err(Error::forbidden(
            "others have replied: only a moderator can delete this thread now",
        ));
    }
    Ok(())
}

pub fn edit_reply(viewer: &Viewer, reply: &Reply) -> Result<()> {
    let id = signed_in(viewer, "edit a reply")?;
    if reply.is_deleted() {
        return Err(Error::forbidden("this reply was deleted"));
    }
    if id != reply.author_id && !viewer.is_moderator() {
        return Err(Error::forbidden(
            "only the reply's author or a moderator can edit it",
        ));
    }
    Ok(())
}

/// Deleting a reply that is already deleted is allowed (and changes nothing), so that a
/// retried delete gets the same answer as the first.
pub fn delete_reply(viewer: &Viewer, reply: &Reply) -> Result<()> {
    let id = signed_in(viewer, "delete a reply")?;
    if id != reply.author_id && !viewer.is_moderator() {
        return Err(Error::forbidden(
            "only the reply's author or a moderator can delete it",
        ));
    }
    Ok(())
}

/// Whether there is anything for the viewer to delete (`viewerCanDelete`).
pub fn can_delete_reply(viewer: &Viewer, reply: &Reply) -> bool {
    !reply.is_deleted() && delete_reply(viewer, reply).is_ok()
}

/// Cast a vote.
pub fn vote(viewer: &Viewer, reply: &Reply) -> Result<()> {
    retract(viewer, reply)?;
    if reply.is_deleted() {
        return Err(Error::forbidden("this reply was deleted"));
    }
    Ok(())
}

/// Take a vote back: also from a reply deleted since it was cast, whose votes stay and
/// count until their voters withdraw them.
pub fn retract(viewer: &Viewer, reply: &Reply) -> Result<()> {
    let id = signed_in(viewer, "vote")?;
    if id == reply.author_id {
        return Err(Error::forbidden("you cannot vote on your own reply"));
    }
    Ok(())
}
