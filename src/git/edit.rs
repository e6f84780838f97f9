//! Write the planned edits as a commit without a work tree: blobs, trees and the commit stay
//! in the repository's object memory until `push` packs them.

use gix::{ObjectId, objs::tree::EntryKind};

use super::{
    error::{Error, boxed},
    fetch::Fetched,
};
use crate::plan::Edit;

/// The commit made for a plan.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The new commit.
    pub id: ObjectId,
    /// Its tree.
    pub tree: ObjectId,
    /// Its only parent: the fetched base tip.
    pub parent: ObjectId,
}

/// Who signs the commit.
pub struct Identity<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// Writes `edits` on top of the base tip as one commit, SSH-signed when a signer is given;
/// moves no ref.
pub fn commit(
    fetched: &Fetched,
    edits: &[Edit],
    who: Identity<'_>,
    message: &str,
    signer: Option<&crate::git::sign::Signer>,
) -> Result<Commit, Error> {
    let w = |e: gix::Error| Error::Write { source: boxed(e) };
    let repo = &fetched.repo;
    // NB: the lower-level editor, because gix's own `Editor::write` insists that every entry's
    // object is present, and a partial fetch leaves the blobs we do not touch on the server.
    let root: gix::objs::Tree = repo
        .find_tree(fetched.base_tree)
        .map_err(|e| Error::Write { source: boxed(e) })?
        .decode()
        .map_err(|e| Error::Write { source: boxed(e) })?
        .into();
    let mut editor = gix::objs::tree::Editor::new(root, &repo.objects, gix::hash::Kind::Sha1);
    for e in edits {
        let components = e.path().as_str().split('/');
        match e {
            Edit::Write { content, .. } => {
                let blob = repo.write_blob(content).map_err(w)?.detach();
                editor
                    .upsert(components, EntryKind::Blob, blob)
                    .map_err(|e| Error::Write { source: boxed(e) })?;
            }
            Edit::Delete { .. } => {
                editor
                    .remove(components)
                    .map_err(|e| Error::Write { source: boxed(e) })?;
            }
        }
    }
    let tree = editor
        .write(|tree| repo.write_object(tree).map(|id| id.detach()))
        .map_err(w)?;
    let signature = gix::actor::Signature {
        name: who.name.into(),
        email: who.email.into(),
        time: gix::date::Time::now_utc(),
    };
    let mut commit = gix::objs::Commit {
        tree,
        parents: [fetched.base_tip].into_iter().collect(),
        author: signature.clone(),
        committer: signature,
        encoding: None,
        message: message.into(),
        extra_headers: vec![],
    };
    if let Some(signer) = signer {
        // As git does: the signature is over the commit as it reads without its `gpgsig`
        // header, which then goes after the committer.
        let mut payload = Vec::new();
        gix::objs::WriteTo::write_to(&commit, &mut payload)
            .map_err(|e| Error::Write { source: boxed(e) })?;
        commit
            .extra_headers
            .push(("gpgsig".into(), signer.sign(&payload).into()));
    }
    let id = repo.write_object(&commit).map_err(w)?.detach();
    Ok(Commit {
        id,
        tree,
        parent: fetched.base_tip,
    })
}

/// True when the remote PR branch already holds a commit with `tree` on `parent` (signed, when
/// commits are to be signed): pushing again would change nothing but the commit time. An
/// unsigned one is replaced once signing is turned on, or branch rules would refuse the merge.
pub fn already_pushed(fetched: &Fetched, tree: ObjectId, signing: bool) -> bool {
    matches!(fetched.head_commit, Some((t, Some(p))) if t == tree && p == fetched.base_tip)
        && (fetched.head_signed || !signing)
}

/// Who made the PR branch's tip, as `Name <email>` (for a message about a head that moved).
pub fn head_author(fetched: &Fetched) -> Option<String> {
    let commit = fetched.repo.find_commit(fetched.head_tip?).ok()?;
    let a = commit.author().ok()?;
    Some(format!("{} <{}>", a.name, a.email))
}
