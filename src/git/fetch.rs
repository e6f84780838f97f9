//! Fetch the base branch and the PR branch at depth 1 into a temporary bare repository.

use std::{num::NonZeroU32, sync::atomic::AtomicBool};

use gix::{ObjectId, remote::Direction};

use super::{Error, Remote, auth_status, boxed};
use crate::{
    names::BranchName,
    plan::{Entry, Snapshot},
};

/// A fetched repository: the temporary bare repo (deleted on drop) and the tips we saw.
pub struct Fetched {
    /// The repo, with object memory on: new objects stay in RAM until pushed.
    pub repo: gix::Repository,
    /// Tip of the base branch.
    pub base_tip: ObjectId,
    /// Tree of the base tip.
    pub base_tree: ObjectId,
    /// Tip of the PR branch on the remote, if it exists.
    pub head_tip: Option<ObjectId>,
    /// Tree and first parent of the PR branch tip (to see whether our change is already there).
    pub head_commit: Option<(ObjectId, Option<ObjectId>)>,
    _dir: tempfile::TempDir,
}

/// Fetches `base` and `head` (which may not exist yet) from `remote`, depth 1.
pub fn fetch(remote: &Remote, base: &BranchName, head: &BranchName) -> Result<Fetched, Error> {
    let url = remote.location.to_string();
    let fetch_err = |e: &(dyn std::error::Error + Send + Sync + 'static)| -> Error {
        if let Some(status) = auth_status(e) {
            return Error::Auth {
                url: url.clone(),
                status,
            };
        }
        Error::Fetch {
            url: url.clone(),
            branch: base.to_string(),
            source: boxed(std::io::Error::other(super::chain(e))),
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("iter8-gitops-")
        .tempdir()
        .map_err(|e| Error::TempRepo {
            dir: std::env::temp_dir(),
            source: boxed(e),
        })?;
    // Isolated: $HOME and /etc/gitconfig must not change what a Job does.
    let repo = gix::ThreadSafeRepository::init_opts(
        dir.path(),
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(|e| Error::TempRepo {
        dir: dir.path().into(),
        source: boxed(e),
    })?;
    let repo: gix::Repository = repo.into();

    let specs = [
        format!("+{}:refs/remotes/origin/{}", base.full_ref(), base),
        format!("+{}:refs/remotes/origin/{}", head.full_ref(), head),
    ];
    let remote_handle = repo
        .remote_at(remote.location.as_gix_url().as_str())
        .and_then(|r| r.with_refspecs(specs.iter().map(String::as_str), Direction::Fetch))
        .map_err(|e| fetch_err(&e))?;
    let mut conn = remote_handle
        .connect(Direction::Fetch)
        .map_err(|e| fetch_err(&e))?;
    let https = matches!(remote.location, crate::config::RepoLocation::Https(_));
    let account = remote.account();
    if https && let Some(account) = &account {
        // Basic auth up front saves the 401 round trip; the callback answers a later ask.
        conn.transport_mut()
            .set_identity(account.clone())
            .map_err(|e| fetch_err(&e))?;
    }
    // Never fall back to git's credential helpers or a prompt: a Job has no terminal.
    let mut conn = conn.with_credentials(move |action| match (action, &account) {
        (gix::credentials::helper::Action::Get(ctx), Some(account)) => {
            Ok(Some(gix::credentials::protocol::Outcome {
                identity: account.clone(),
                next: gix::credentials::helper::NextAction::from(ctx),
            }))
        }
        _ => Ok(None),
    });
    if https {
        conn = conn.with_transport_options(Box::new(remote.http_options()));
    }
    receive(conn, &url, base, head, dir, &fetch_err, &repo)
}

fn receive<T: gix::protocol::transport::client::blocking_io::Transport>(
    conn: gix::remote::Connection<'_, '_, '_, T>,
    url: &str,
    base: &BranchName,
    head: &BranchName,
    dir: tempfile::TempDir,
    fetch_err: &dyn Fn(&(dyn std::error::Error + Send + Sync + 'static)) -> Error,
    repo: &gix::Repository,
) -> Result<Fetched, Error> {
    let prepare = conn
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| fetch_err(&e))?;
    let advertised = |name: &str| {
        prepare.ref_map().remote_refs.iter().find_map(|r| {
            let (full, target, _) = r.unpack();
            (full == name.as_bytes()).then(|| target.map(ObjectId::from))
        })
    };
    if advertised(&base.full_ref()).flatten().is_none() {
        return Err(Error::BranchNotFound {
            url: url.into(),
            branch: base.to_string(),
        });
    }
    let one = NonZeroU32::new(1).expect("1 is not zero");
    prepare
        .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(one))
        .receive(gix::progress::Discard, &AtomicBool::new(false))
        .map_err(|e| fetch_err(&e))?;

    let repo = gix::open_opts(repo.git_dir(), gix::open::Options::isolated())
        .map_err(|e| Error::Read { source: boxed(e) })?
        .with_object_memory();
    let tip = |b: &BranchName| -> Result<Option<ObjectId>, Error> {
        match repo.try_find_reference(format!("refs/remotes/origin/{b}").as_str()) {
            Ok(Some(mut r)) => r
                .peel_to_id()
                .map(|id| Some(id.detach()))
                .map_err(|e| Error::Read { source: boxed(e) }),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::Read { source: boxed(e) }),
        }
    };
    let base_tip = tip(base)?.ok_or_else(|| Error::BranchNotFound {
        url: url.into(),
        branch: base.to_string(),
    })?;
    let head_tip = tip(head)?;
    let tree_of = |id: ObjectId| -> Result<(ObjectId, Option<ObjectId>), Error> {
        let c = repo
            .find_commit(id)
            .map_err(|e| Error::Read { source: boxed(e) })?;
        let tree = c
            .tree_id()
            .map_err(|e| Error::Read { source: boxed(e) })?
            .detach();
        Ok((tree, c.parent_ids().next().map(|p| p.detach())))
    };
    let base_tree = tree_of(base_tip)?.0;
    let head_commit = head_tip.map(tree_of).transpose()?;
    Ok(Fetched {
        repo,
        base_tip,
        base_tree,
        head_tip,
        head_commit,
        _dir: dir,
    })
}

impl Snapshot for Fetched {
    fn get(&self, path: &str) -> Option<Entry> {
        let tree = self.repo.find_tree(self.base_tree).ok()?;
        if path.is_empty() {
            return Some(Entry::Dir);
        }
        let entry = tree.lookup_entry_by_path(path).ok()??;
        let mode = entry.mode();
        Some(if mode.is_tree() {
            Entry::Dir
        } else if mode.is_link() {
            Entry::Symlink
        } else if mode.is_commit() {
            Entry::Submodule
        } else {
            Entry::File(self.repo.find_object(entry.object_id()).ok()?.data.clone())
        })
    }
}
