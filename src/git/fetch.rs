//! Fetch what the promotion needs into a temporary bare repository, at depth 1.
//!
//! Protocol v2 on one connection: `ls-refs` for the base and PR branches; then, where the
//! server filters trees, the tips' commits alone (`deepen 1`, `filter tree:0`) and, one
//! request per level, only the trees on the way to the rules' paths (`walk`); where it filters
//! blobs only, commits and every tree (`filter blob:none`); then exactly the blobs the rules
//! read (the winner, the baseline, the files to remove and to apply). A folder deep in a
//! monorepo thus costs the trees on its path and a handful of blobs. A server without
//! `filter`, or one that refuses objects by id, gets a plain depth-1 fetch instead. A server
//! without v2 (Azure DevOps) is fetched from over the original protocol: the tips from its
//! advertisement, the same wants.

use std::{collections::HashMap, num::NonZeroU32, path::Path, sync::atomic::AtomicBool};

use gix::{
    ObjectId,
    protocol::{
        fetch::{
            Arguments, Negotiate, Shallow, Tags,
            negotiate::{self, Round},
        },
        transport::{Protocol, Service, client::blocking_io::Transport},
    },
};

use super::{
    arrival::Arrival,
    error::{BoxError, Error, boxed, chain},
    gate::{Gate, oversized},
    paths::dirs_by_depth,
    remote::{Remote, connect},
};
use crate::{
    plan::names::BranchName,
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
    /// True when the PR branch tip carries a signature (a `gpgsig` header).
    pub head_signed: bool,
    /// True when the server filtered what it sent (`tree:0` or `blob:none`). Either way only
    /// the trees on the way to the rules' paths and the blobs they read are kept.
    pub partial: bool,
    /// How the tree came: `tree:0` (the path walk), `blob:none` or `whole` (every blob).
    pub mode: &'static str,
    /// Blobs the rules read whose size is over the file limit, by id: never inflated, and
    /// read by the planner as [`Entry::TooLarge`], so its refusal names the input and path.
    too_large: HashMap<ObjectId, u64>,
    _dir: tempfile::TempDir,
}

/// Asks for a fixed set of objects: no haves (the temp repo is empty), one round.
struct Wants {
    ids: Vec<ObjectId>,
    filter: Option<&'static str>,
}

impl Negotiate for Wants {
    fn mark_complete_and_common_ref(&mut self) -> Result<negotiate::Action, gix::error::Error> {
        Ok(negotiate::Action::MustNegotiate {
            remote_ref_target_known: vec![false; self.ids.len()],
        })
    }

    fn add_wants(&mut self, arguments: &mut Arguments, _known: &[bool]) -> bool {
        for id in &self.ids {
            arguments.want(id);
        }
        if let Some(f) = self.filter {
            arguments.filter(f);
        }
        !self.ids.is_empty()
    }

    fn one_round(
        &mut self,
        _state: &mut negotiate::one_round::State,
        _arguments: &mut Arguments,
        _previous: Option<&gix::protocol::fetch::Response>,
    ) -> Result<(Round, bool), gix::error::Error> {
        Ok((
            Round {
                haves_sent: 0,
                in_vain: 0,
                haves_to_send: 0,
                previous_response_had_at_least_one_in_common: false,
            },
            true,
        ))
    }
}

/// One upload-pack conversation.
struct Conn {
    transport: Box<dyn Transport + Send>,
    handshake: gix::protocol::Handshake,
}

impl Conn {
    fn open(remote: &Remote) -> Result<Conn, BoxError> {
        let (transport, handshake) = connect(remote, Protocol::V2, Service::UploadPack)?;
        Ok(Conn {
            transport,
            handshake,
        })
    }

    fn can_filter(&self) -> bool {
        let caps = &self.handshake.capabilities;
        match self.handshake.server_protocol_version {
            Protocol::V2 => caps
                .capability("fetch")
                .and_then(|c| c.supports("filter"))
                .unwrap_or(false),
            _ => caps.contains("filter"),
        }
    }

    /// The tips of `names`: asked with `ls-refs` (v2), or read from the advertisement the
    /// original protocol opens with (servers without v2, such as Azure DevOps').
    fn refs(&mut self, names: &[String]) -> Result<Vec<(String, Option<ObjectId>)>, BoxError> {
        if self.handshake.server_protocol_version == Protocol::V2 {
            return self.ls_refs(names);
        }
        let advertised = self.handshake.refs.as_deref().unwrap_or_default();
        Ok(advertised
            .iter()
            .map(|r| {
                let (name, target, _) = r.unpack();
                (name.to_string(), target.map(ObjectId::from))
            })
            .filter(|(name, _)| names.iter().any(|n| n == name))
            .collect())
    }

    fn ls_refs(&mut self, names: &[String]) -> Result<Vec<(String, Option<ObjectId>)>, BoxError> {
        use gix::protocol::{LsRefsCommand, ls_refs::RefPrefixes};
        let mut prefixes = RefPrefixes::new();
        prefixes.extend(names.iter().map(|n| n.as_str().into()));
        let refs = LsRefsCommand::new(Some(prefixes), &self.handshake.capabilities, agent())
            .invoke_blocking(&mut self.transport, &mut gix::progress::Discard, false)
            .map_err(boxed)?;
        Ok(refs
            .iter()
            .map(|r| {
                let (name, target, _) = r.unpack();
                (name.to_string(), target.map(ObjectId::from))
            })
            .collect())
    }

    /// Fetches `ids` into `repo`'s object store, or into a pack file to be sifted.
    fn fetch(
        &mut self,
        repo: &gix::Repository,
        ids: Vec<ObjectId>,
        deepen: bool,
        filter: Option<&'static str>,
        sink: Sink,
    ) -> Result<(), BoxError> {
        let shallow = if deepen {
            Shallow::DepthAtRemote(NonZeroU32::new(1).expect("1 is not zero"))
        } else {
            Shallow::NoChange
        };
        let options = gix::protocol::fetch::Options {
            shallow_file: repo.shallow_file().map_err(boxed)?,
            shallow: &shallow,
            tags: Tags::None,
            reject_shallow_remote: false,
        };
        let context = gix::protocol::fetch::Context {
            handshake: &mut self.handshake,
            transport: &mut self.transport,
            user_agent: agent(),
            trace_packetlines: false,
        };
        let pack_dir = repo.objects.store_ref().path().join("pack");
        let interrupt = AtomicBool::new(false);
        gix::protocol::fetch(
            &mut Wants { ids, filter },
            |reader, progress, should_interrupt| match sink {
                Sink::Index => index(reader, &pack_dir, progress, should_interrupt),
                Sink::File(path, arrival) => to_file(reader, path, arrival),
            },
            gix::progress::Discard,
            &interrupt,
            context,
            options,
        )
        .map_err(boxed)?;
        Ok(())
    }
}

/// Where a fetched pack goes.
#[derive(Clone, Copy)]
enum Sink<'a> {
    /// Indexed into the repo's object store (a pack and its index).
    Index,
    /// Written as it comes to this file (made empty by the caller), to be sifted as it
    /// arrives: nothing is held per object.
    File(&'a Path, &'a Arrival),
}

/// Indexes the pack from `reader` into `pack_dir`, as git's `index-pack` does. Every object
/// in such a pack is one the run holds in memory (a commit, a tree on the rules' paths, a
/// blob they read), so each passes the gate first: one over the limit is refused from its
/// header, before the indexer inflates it.
fn index(
    reader: &mut dyn std::io::BufRead,
    pack_dir: &Path,
    progress: &mut dyn gix::progress::DynNestedProgress,
    should_interrupt: &AtomicBool,
) -> gix::error::Result<bool> {
    let mut gated = std::io::BufReader::with_capacity(
        16 << 10,
        Gate::new(reader, crate::limits::MAX_FETCHED_OBJECT_BYTES),
    );
    gix_pack::Bundle::write_to_directory(
        &mut gated,
        Some(pack_dir),
        progress,
        should_interrupt,
        None::<gix::odb::Cache<gix::odb::store::Handle<std::sync::Arc<gix::odb::Store>>>>,
        gix::hash::Kind::Sha1,
        gix_pack::bundle::write::Options {
            thread_limit: Some(1),
            ..Default::default()
        },
    )
    .map(|_| true)
}

/// Copies the pack from `reader` to `path`, telling `arrival` what reached the file.
fn to_file(
    reader: &mut dyn std::io::BufRead,
    path: &Path,
    arrival: &Arrival,
) -> gix::error::Result<bool> {
    let mut copy = || -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut out = std::io::BufWriter::with_capacity(16 << 10, arrival.writer(file));
        std::io::copy(reader, &mut out)?;
        std::io::Write::flush(&mut out)
    };
    copy().map_err(gix::error::Error::from_error)?;
    Ok(true)
}

fn agent() -> (&'static str, Option<String>) {
    ("agent", Some(crate::trust::http::USER_AGENT.into()))
}

/// Fetches `base` and `head` (which may not exist yet) from `remote` at depth 1, with the
/// blobs at `paths` (repo-relative); the rest of the tree's blobs only when the server
/// cannot filter.
pub fn fetch(
    remote: &Remote,
    base: &BranchName,
    head: &BranchName,
    paths: &[String],
) -> Result<Fetched, Error> {
    let url = remote.location.to_string();
    let fetch_err = |e: BoxError| -> Error {
        Error::classify(&url, e.as_ref(), || Error::Fetch {
            url: url.clone(),
            branch: base.to_string(),
            source: boxed(std::io::Error::other(chain(e.as_ref()))),
        })
    };
    let (dir, repo) = temp_repo()?;
    let mut conn = Conn::open(remote).map_err(fetch_err)?;
    let refs = conn
        .refs(&[base.full_ref(), head.full_ref()])
        .map_err(fetch_err)?;
    let tip = |b: &BranchName| {
        refs.iter()
            .find(|(n, _)| *n == b.full_ref())
            .and_then(|(_, id)| *id)
    };
    let base_tip = tip(base).ok_or_else(|| Error::BranchNotFound {
        url: url.clone(),
        branch: base.to_string(),
    })?;
    let head_tip = tip(head);

    let mut wants = vec![base_tip];
    wants.extend(head_tip.filter(|h| *h != base_tip));
    let filter = conn.can_filter();
    let walked =
        filter && walk(&mut conn, &repo, dir.path(), &wants, base_tip, paths).map_err(fetch_err)?;
    let mut too_large = HashMap::new();
    if !walked {
        if filter && conn.handshake.server_protocol_version == Protocol::V2 {
            // A refused walk may have left the conversation unusable: start a new one.
            conn = Conn::open(remote).map_err(fetch_err)?;
        }
        let filter = filter.then_some("blob:none");
        too_large = whole(
            &mut conn,
            &repo,
            dir.path(),
            &wants,
            base_tip,
            paths,
            filter,
        )
        .map_err(fetch_err)?;
    }
    let mode = match (filter, walked) {
        (true, true) => "tree:0",
        (true, false) => "blob:none",
        (false, _) => "whole",
    };
    let mut fetched = reopen(dir, base_tip, head_tip, mode, too_large)?;
    if filter && !fetched.missing_blobs(paths).is_empty() {
        fetched = fetch_blobs(&mut conn, remote, fetched, &wants, paths, &fetch_err)?;
    }
    if !fetched.missing_blobs(paths).is_empty() {
        return Err(fetch_err(boxed(std::io::Error::other(
            "the server did not send the requested blobs",
        ))));
    }
    Ok(fetched)
}

/// Fetches the blobs at `paths` that `fetched` lacks, by id; where the server refuses objects
/// by id (uploadpack.allowAnySHA1InWant unset), the whole pack instead, on a fresh connection.
fn fetch_blobs(
    conn: &mut Conn,
    remote: &Remote,
    mut fetched: Fetched,
    wants: &[ObjectId],
    paths: &[String],
    fetch_err: &dyn Fn(BoxError) -> Error,
) -> Result<Fetched, Error> {
    let (base_tip, head_tip) = (fetched.base_tip, fetched.head_tip);
    let missing = fetched.missing_blobs(paths);
    let mut mode = fetched.mode;
    let mut too_large = std::mem::take(&mut fetched.too_large);
    let result = conn.fetch(&fetched.repo, missing.clone(), false, None, Sink::Index);
    if let Err(e) = &result
        && let Some(o) = oversized(e.as_ref())
    {
        // Which of the blobs it was: alone, at once; else one request each (only ever on a
        // repo that holds a file over the limit), so the planner can name the file.
        let size = o.size;
        if let [one] = missing.as_slice() {
            too_large.insert(*one, size);
        } else {
            let mut conn = Conn::open(remote).map_err(fetch_err)?;
            for id in missing {
                if let Err(e) = conn.fetch(&fetched.repo, vec![id], false, None, Sink::Index) {
                    let o = oversized(e.as_ref()).ok_or_else(|| fetch_err(e))?;
                    too_large.insert(id, o.size);
                    // The refused answer was not read to its end: a new conversation.
                    conn = Conn::open(remote).map_err(fetch_err)?;
                }
            }
        }
    } else if let Err(e) = result {
        mode = "whole";
        tracing::debug!(error = %chain(e.as_ref()), "fetching blobs by id was refused; fetching the whole tree");
        let mut conn = Conn::open(remote).map_err(fetch_err)?;
        // A handle without object memory: what the sifter keeps must reach the disk.
        let dir = fetched._dir.path();
        let repo = gix::open_opts(dir, gix::open::Options::isolated())
            .map_err(|e| Error::Read { source: boxed(e) })?;
        too_large =
            whole(&mut conn, &repo, dir, wants, base_tip, paths, None).map_err(fetch_err)?;
    }
    reopen(fetched._dir, base_tip, head_tip, mode, too_large)
}

/// Fetches the tips at depth 1 as one pack (with `filter` `blob:none`, or every blob), written
/// to a file in the temp repo and sifted for what the rules read (`sift.rs`) as it arrives
/// (`arrival.rs`): memory does not grow with the repo, and the sifting ends with the
/// transfer. A pack that cannot be sifted (deltas by object id) is indexed whole, through the
/// gate. Returns the blobs the rules read that are over the file limit.
fn whole(
    conn: &mut Conn,
    repo: &gix::Repository,
    dir: &Path,
    wants: &[ObjectId],
    base_tip: ObjectId,
    paths: &[String],
    filter: Option<&'static str>,
) -> Result<HashMap<ObjectId, u64>, BoxError> {
    let pack = dir.join("whole.pack");
    std::fs::File::create(&pack).map_err(boxed)?;
    let arrival = Arrival::default();
    let sifted = std::thread::scope(|s| -> Result<_, BoxError> {
        // Its own handle on the temp repo, without object memory: what it keeps reaches the
        // disk, where the fetch's caller reads it.
        let sifter = s.spawn(|| {
            let repo = gix::open_opts(dir, gix::open::Options::isolated()).map_err(boxed)?;
            let following = arrival.reader(std::fs::File::open(&pack).map_err(boxed)?);
            super::sift::sift(&pack, following, &repo, wants, base_tip, paths)
        });
        let ended = arrival.guard();
        let fetched = conn.fetch(
            repo,
            wants.to_vec(),
            true,
            filter,
            Sink::File(&pack, &arrival),
        );
        arrival.finish(fetched.is_ok());
        drop(ended);
        let sifted = sifter
            .join()
            .map_err(|_| boxed(std::io::Error::other("the sifter failed")))?;
        fetched.map(|()| sifted)
    })?;
    if let Err(e) = &sifted {
        tracing::debug!(error = %chain(e.as_ref()), "the pack could not be sifted; indexing it whole");
        let mut file = std::io::BufReader::new(std::fs::File::open(&pack).map_err(boxed)?);
        let pack_dir = repo.objects.store_ref().path().join("pack");
        index(
            &mut file,
            &pack_dir,
            &mut gix::progress::Discard,
            &AtomicBool::new(false),
        )
        .map_err(boxed)?;
    }
    std::fs::remove_file(&pack).map_err(boxed)?;
    Ok(sifted.unwrap_or_default())
}

/// Fetches the tips' commits without trees (`filter tree:0`), then, one request per level,
/// just the trees on the way to the rules' paths: a 3-level path costs four small requests
/// where `blob:none` sends every tree of the tip, which is most of a monorepo's bytes.
/// False when the server refuses (`uploadpackfilter.tree.allow=false`, say): the caller
/// fetches with `blob:none` instead. An object over the limit is an error, not a refusal.
fn walk(
    conn: &mut Conn,
    repo: &gix::Repository,
    dir: &std::path::Path,
    wants: &[ObjectId],
    base_tip: ObjectId,
    paths: &[String],
) -> Result<bool, BoxError> {
    let result = (|| -> Result<(), BoxError> {
        conn.fetch(repo, wants.to_vec(), true, Some("tree:0"), Sink::Index)?;
        let open = || gix::open_opts(dir, gix::open::Options::isolated()).map_err(boxed);
        let root = open()?
            .find_commit(base_tip)
            .map_err(boxed)?
            .tree_id()
            .map_err(boxed)?
            .detach();
        conn.fetch(repo, vec![root], false, Some("tree:0"), Sink::Index)?;
        for level in dirs_by_depth(paths) {
            let repo_now = open()?;
            let tree = repo_now.find_tree(root).map_err(boxed)?;
            let mut ids = vec![];
            for d in &level {
                // A folder the promotion creates is not there yet: nothing to fetch for it.
                if let Ok(Some(e)) = tree.lookup_entry_by_path(d.as_str())
                    && e.mode().is_tree()
                    && !repo_now.has_object(e.object_id())
                    && !ids.contains(&e.object_id())
                {
                    ids.push(e.object_id());
                }
            }
            if ids.is_empty() {
                continue;
            }
            conn.fetch(repo, ids, false, Some("tree:0"), Sink::Index)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(true),
        Err(e) if oversized(e.as_ref()).is_some() => Err(e),
        Err(e) => {
            tracing::debug!(error = %chain(e.as_ref()), "the path walk (filter tree:0) was refused; fetching every tree");
            Ok(false)
        }
    }
}

/// Every temporary repo this process made: a run that ends at its deadline does not wait for
/// the transfer filling one, so it removes them itself ([`remove_temporary_repos`]).
static LIVE: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes the temporary repos still on disk (those of transfers cut at the deadline; the
/// others were removed when their run let go of them).
pub fn remove_temporary_repos() {
    let dirs = std::mem::take(
        &mut *LIVE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// An empty bare repo in a fresh temporary directory, isolated from the machine's git config.
fn temp_repo() -> Result<(tempfile::TempDir, gix::Repository), Error> {
    // 0700: the fetched tree and the objects written from it are the Env repo's (private
    // repo content), and nothing else on the machine needs to read them.
    let dir = tempfile::Builder::new()
        .prefix("iter8-gitops-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| Error::TempRepo {
            dir: std::env::temp_dir(),
            source: boxed(e),
        })?;
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(dir.path().to_path_buf());
    // Isolated: $HOME and /etc/gitconfig must not change what a Job does.
    let repo: gix::Repository = gix::ThreadSafeRepository::init_opts(
        dir.path(),
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(|e| Error::TempRepo {
        dir: dir.path().into(),
        source: boxed(e),
    })?
    .into();
    Ok((dir, repo))
}

/// Opens the temp repo afresh (so it sees the new packs) and reads the tips.
fn reopen(
    dir: tempfile::TempDir,
    base_tip: ObjectId,
    head_tip: Option<ObjectId>,
    mode: &'static str,
    too_large: HashMap<ObjectId, u64>,
) -> Result<Fetched, Error> {
    let repo = gix::open_opts(dir.path(), gix::open::Options::isolated())
        .map_err(|e| Error::Read { source: boxed(e) })?
        .with_object_memory();
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
    let head_signed = head_tip.is_some_and(|id| {
        repo.find_commit(id)
            .ok()
            .and_then(|c| {
                c.decode()
                    .ok()
                    .map(|d| d.extra_headers.iter().any(|(k, _)| *k == "gpgsig"))
            })
            .unwrap_or(false)
    });
    Ok(Fetched {
        repo,
        base_tip,
        base_tree,
        head_tip,
        head_commit,
        head_signed,
        partial: mode != "whole",
        mode,
        too_large,
        _dir: dir,
    })
}

impl Fetched {
    /// Blob ids at `paths` in the base tree that are not in the object store yet.
    fn missing_blobs(&self, paths: &[String]) -> Vec<ObjectId> {
        let Ok(tree) = self.repo.find_tree(self.base_tree) else {
            return vec![];
        };
        let mut out = vec![];
        let mut want = |id: ObjectId| {
            if !self.repo.has_object(id) && !out.contains(&id) && !self.too_large.contains_key(&id)
            {
                out.push(id);
            }
        };
        for p in paths {
            // `dir/`: every file directly in that directory (`start` reads a folder).
            if let Some(dir) = p.strip_suffix('/') {
                for name in self.children(dir) {
                    let full = if dir.is_empty() {
                        name
                    } else {
                        format!("{dir}/{name}")
                    };
                    if let Ok(Some(e)) = tree.lookup_entry_by_path(full)
                        && e.mode().is_blob()
                    {
                        want(e.object_id());
                    }
                }
            } else if let Ok(Some(e)) = tree.lookup_entry_by_path(p.as_str())
                && e.mode().is_blob()
            {
                want(e.object_id());
            }
        }
        out
    }
}

impl Snapshot for Fetched {
    fn children(&self, dir: &str) -> Vec<String> {
        let Ok(root) = self.repo.find_tree(self.base_tree) else {
            return vec![];
        };
        let tree = if dir.is_empty() {
            root
        } else {
            match root.lookup_entry_by_path(dir) {
                Ok(Some(e)) if e.mode().is_tree() => match e.object().map(|o| o.into_tree()) {
                    Ok(t) => t,
                    Err(_) => return vec![],
                },
                _ => return vec![],
            }
        };
        tree.iter()
            .filter_map(Result::ok)
            .map(|e| e.filename().to_string())
            .collect()
    }

    fn get(&self, path: &str) -> Option<Entry> {
        if path.is_empty() {
            return Some(Entry::Dir);
        }
        let tree = self.repo.find_tree(self.base_tree).ok()?;
        let entry = tree.lookup_entry_by_path(path).ok()??;
        let mode = entry.mode();
        Some(if mode.is_tree() {
            Entry::Dir
        } else if mode.is_link() {
            Entry::Symlink
        } else if mode.is_commit() {
            Entry::Submodule
        } else {
            // NB: in a partial fetch only the blobs at the rules' paths are here; the planner
            // reads no others (`fetch` verified these are present). The size comes from the
            // object's header: a file over the limit is never inflated (a 1 GiB blob of zeros
            // is a 1 MB pack).
            let id = entry.object_id();
            if let Some(size) = self.too_large.get(&id) {
                return Some(Entry::TooLarge(*size));
            }
            match self.repo.find_header(id).map(|h| h.size()) {
                Ok(size) if size > crate::limits::MAX_FILE_BYTES as u64 => {
                    return Some(Entry::TooLarge(size));
                }
                Ok(_) => {}
                Err(_) => return Some(Entry::Unavailable),
            }
            match self.repo.find_object(id) {
                Ok(o) => Entry::File(o.data.clone()),
                Err(_) => Entry::Unavailable,
            }
        })
    }
}
