//! What the host fakes share for merging: the served bare repo and its merge rules, and the
//! merge itself, done by real git on that repo (a merge commit, a squash or a rebase), so a
//! merged request really changes the base branch a test (and Argo CD's fake) then reads.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

/// A repository's merge settings and its checks, as a test sets them.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The bare repo the fake's requests merge into; `None`: merging is not served.
    pub bare: Option<PathBuf>,
    /// The merge methods the repository allows (`merge`, `squash`, `rebase`).
    pub methods: Vec<String>,
    /// The repository allows auto-merge (GitHub's `allow_auto_merge`).
    pub auto_merge: bool,
    /// Reads of a request before its required checks pass (each read is a moment passing):
    /// until then a merge is refused as not mergeable, and auto-merge waits.
    pub pending_reads: u32,
    /// Status contexts a branch rule requires (GitHub's required status checks, Gitea's
    /// status check contexts, Bitbucket's required builds): the head's latest status in each
    /// must be a success before the request merges, now or by auto-merge.
    pub required: Vec<String>,
    /// Every commit status posted, oldest first.
    pub statuses: Vec<Posted>,
}

/// A commit status as a fake stored it (`state`: `success`, `failure`, `pending` or
/// `error`, whatever the host calls them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub sha: String,
    pub context: String,
    pub state: String,
    pub description: String,
    pub target_url: Option<String>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            bare: None,
            methods: vec!["merge".into(), "squash".into(), "rebase".into()],
            auto_merge: true,
            pending_reads: 0,
            required: vec![],
            statuses: vec![],
        }
    }
}

/// The rules, shared by a fake's handler and the test that tunes them.
#[derive(Debug, Clone, Default)]
pub struct Merging(pub(crate) Arc<Mutex<Rules>>);

impl Merging {
    /// Changes the rules.
    pub fn set(&self, f: impl FnOnce(&mut Rules)) {
        f(&mut self.0.lock().unwrap());
    }

    pub(crate) fn rules(&self) -> Rules {
        self.0.lock().unwrap().clone()
    }

    /// Every status posted, oldest first.
    pub fn posted(&self) -> Vec<Posted> {
        self.rules().statuses
    }

    /// Stores a status. With `keyed`, one per sha and context, updated in place (Bitbucket);
    /// else each post adds one, the latest counting (GitHub, GitLab, Gitea, Azure DevOps).
    pub(crate) fn post_status(&self, s: Posted, keyed: bool) {
        let mut r = self.0.lock().unwrap();
        if keyed {
            r.statuses
                .retain(|p| !(p.sha == s.sha && p.context == s.context));
        }
        r.statuses.push(s);
    }

    /// The statuses on `sha`, newest first.
    pub(crate) fn statuses_of(&self, sha: &str) -> Vec<Posted> {
        let mut v: Vec<Posted> = self
            .rules()
            .statuses
            .into_iter()
            .filter(|p| p.sha == sha)
            .collect();
        v.reverse();
        v
    }

    /// True when every required context's latest status on `sha` is a success.
    pub(crate) fn checks_pass(&self, sha: &str) -> bool {
        let latest = self.statuses_of(sha);
        self.rules().required.iter().all(|ctx| {
            latest
                .iter()
                .find(|p| &p.context == ctx)
                .is_some_and(|p| p.state == "success")
        })
    }

    /// A moment passes (the request was read): the checks come closer to passing.
    pub(crate) fn tick(&self) {
        let mut r = self.0.lock().unwrap();
        r.pending_reads = r.pending_reads.saturating_sub(1);
    }
}

/// A request's merge state in a fake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeState {
    /// The merge commit, once merged.
    pub merged: Option<String>,
    /// The method auto-merge will use, once turned on.
    pub auto: Option<String>,
}

/// Why a fake refuses a merge (each host words it its own way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotServed,
    MethodNotAllowed,
    /// The `sha` named is not the head.
    Stale,
    /// Required checks have not passed yet.
    Pending,
    /// Git could not merge (conflicts).
    Conflict(String),
}

/// The tip of `branch` in `bare`, if any.
pub fn tip(bare: &Path, branch: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ])
        .current_dir(bare)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Merging {
    /// The head commit of a request from `head` (a branch of the served repo).
    pub(crate) fn head(&self, head: &str) -> String {
        let branch = head.split_once(':').map_or(head, |x| x.1);
        self.rules()
            .bare
            .and_then(|b| tip(&b, branch))
            .unwrap_or_default()
    }

    /// Merges `head` into `base` now with `method`, if the rules and `sha` allow it.
    pub(crate) fn merge(
        &self,
        state: &mut MergeState,
        base: &str,
        head: &str,
        method: &str,
        sha: Option<&str>,
        title: &str,
    ) -> Result<String, Refusal> {
        let rules = self.rules();
        let Some(bare) = rules.bare else {
            return Err(Refusal::NotServed);
        };
        if !rules.methods.iter().any(|m| m == method) {
            return Err(Refusal::MethodNotAllowed);
        }
        if sha.is_some_and(|s| s != self.head(head)) {
            return Err(Refusal::Stale);
        }
        if rules.pending_reads > 0 || !self.checks_pass(&self.head(head)) {
            return Err(Refusal::Pending);
        }
        let branch = head.split_once(':').map_or(head, |x| x.1);
        let commit = git_merge(&bare, base, branch, method, title).map_err(Refusal::Conflict)?;
        state.merged = Some(commit.clone());
        state.auto = None;
        Ok(commit)
    }

    /// At a read: once the checks pass, auto-merge merges (as the host does in the
    /// background).
    pub(crate) fn settle(&self, state: &mut MergeState, base: &str, head: &str, title: &str) {
        self.tick();
        if let (None, Some(method)) = (&state.merged, state.auto.clone()) {
            let _ = self.merge(state, base, head, &method, None, title);
        }
    }
}

/// Real git: a clone of `base`, the merge as `method` says, pushed back (a fast-forward of
/// `base`, refused if it moved meanwhile). Returns the new tip of `base`.
fn git_merge(
    bare: &Path,
    base: &str,
    head: &str,
    method: &str,
    title: &str,
) -> Result<String, String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = work.path();
    let git = |args: &[&str]| -> Result<String, String> {
        std::panic::catch_unwind(|| crate::git(dir, args)).map_err(|_| format!("git {args:?}"))
    };
    git(&["clone", "-q", "-b", base, bare.to_str().unwrap_or(""), "."])?;
    git(&["fetch", "-q", "origin", &format!("refs/heads/{head}")])?;
    match method {
        "squash" => {
            git(&["merge", "-q", "--squash", "FETCH_HEAD"])?;
            git(&["commit", "-q", "-m", title])?;
        }
        "rebase" => {
            git(&["checkout", "-q", "-b", "rebased", "FETCH_HEAD"])?;
            git(&["rebase", "-q", base])?;
            git(&["checkout", "-q", base])?;
            git(&["merge", "-q", "--ff-only", "rebased"])?;
        }
        _ => {
            git(&["merge", "-q", "--no-ff", "-m", title, "FETCH_HEAD"])?;
        }
    }
    git(&["push", "-q", "origin", &format!("HEAD:refs/heads/{base}")])?;
    Ok(git(&["rev-parse", "HEAD"])?.trim().to_string())
}
