//! The merge: once the pull request is open at the commit this run pushed (or found pushed),
//! merge it now or turn on the host's auto-merge, and maybe wait until it is merged. Every
//! merge names that commit; when the host says the head moved, the branch is fetched again
//! and judged by the run's own rules: its change (another run of it pushed the same) is
//! merged at the new head, anyone else's commit is never merged.

use std::time::Duration;

use tracing::{info, warn};

use super::{
    context::{Context, Credentials},
    job::Job,
    outcome,
    promote::{self, Holder, Landed},
    pull_request::Proposal,
    report::{MergeReport, MergeState, Report},
};
use crate::{
    Error,
    config::Config,
    host::{self, merge::Ask},
    retry,
};

/// How often the head may move to another commit of this run's before the run gives up.
const MOVES: usize = 3;

/// Merges as asked. Returns the commit that put the change on the base branch, when it is
/// there (merged now, or found there by a rerun), for Argo CD.
#[tracing::instrument(target = "iter8_gitops::step", name = "merge", skip_all)]
pub async fn merge(
    ctx: &Context,
    cfg: &Config,
    creds: &Credentials,
    job: &Job,
    proposal: Option<&Proposal>,
    landed: &Landed,
    report: &mut Report,
) -> Result<Option<String>, Error> {
    if !cfg.pr.merge.is_asked() || landed.plan.is_superseded() {
        return Ok(None);
    }
    if landed.commit.is_none() {
        info!("the base branch already holds the change: nothing to merge");
        let base = report.base_commit.clone();
        return Ok(record(report, cfg, MergeState::AlreadyMerged, base));
    }
    if cfg.output.dry_run {
        record(report, cfg, MergeState::DryRun, None);
        return Ok(None);
    }
    // Validation asked for a host API and PR mode: a commit here has its pull request.
    let (Some(p), Some(head)) = (proposal, report.commit.clone()) else {
        return Err(Error::Internal(
            "a merge was asked, but no pull request was opened for the commit".into(),
        ));
    };
    let tree = landed.commit.as_ref().map(|c| c.tree);
    let merged = merge_head(ctx, cfg, creds, job, p, head, tree).await?;
    let state = match (merged.landing, merged.kept) {
        (host::merge::Landing::Merged, _) => MergeState::Merged,
        (host::merge::Landing::AutoMerge, false) => MergeState::AutoMerge,
        (host::merge::Landing::AutoMerge, true) => MergeState::AutoMergeKept,
    };
    if state == MergeState::Merged {
        info!(pr = %p.pr.url, commit = merged.commit.as_deref().unwrap_or(""), "merged");
    }
    Ok(record(report, cfg, state, merged.commit).filter(|_| state == MergeState::Merged))
}

/// Puts the merge in the report; returns its commit.
fn record(
    report: &mut Report,
    cfg: &Config,
    state: MergeState,
    commit: Option<String>,
) -> Option<String> {
    report.merge = Some(MergeReport {
        policy: cfg.pr.merge.policy,
        method: cfg.pr.merge.method,
        state,
        commit: commit.clone(),
    });
    commit
}

/// The host's merge at `head`, again at a new head that the run's rules say is its own.
async fn merge_head(
    ctx: &Context,
    cfg: &Config,
    creds: &Credentials,
    job: &Job,
    p: &Proposal,
    mut head: String,
    tree: Option<gix::ObjectId>,
) -> Result<host::merge::Merged, Error> {
    let mut moves = 0;
    loop {
        let ask = Ask {
            policy: cfg.pr.merge.policy,
            method: cfg.pr.merge.method,
            head: head.clone(),
            wait: wait(cfg),
        };
        let e = match p.provider.merge_pull_request(&p.req, &p.pr, &ask).await {
            Ok(m) => return Ok(m),
            Err(e @ host::Error::HeadMoved { .. }) => e,
            Err(e) => return Err(e.into()),
        };
        let (Some(tree), true) = (tree, moves < MOVES) else {
            return Err(e.into());
        };
        moves += 1;
        match promote::pr_branch_holder(ctx, cfg, creds, job, tree).await? {
            Holder::Ours(tip) => {
                warn!(was = %head, now = %tip, "the PR's head moved to the same change (another run of this promotion pushed it); merging that");
                head = tip;
            }
            Holder::Other { author, .. } => return Err(moved_by(e, author).into()),
        }
    }
}

/// The host's "head moved", with who made the commit now there.
fn moved_by(e: host::Error, author: Option<String>) -> host::Error {
    match e {
        host::Error::HeadMoved {
            url, expected, now, ..
        } => host::Error::HeadMoved {
            url,
            expected,
            now,
            by: author,
        },
        e => e,
    }
}

/// GITOPS_MERGE_WAIT, within what the run's deadline leaves (Argo CD's wait comes after).
fn wait(cfg: &Config) -> Duration {
    let asked = cfg.pr.merge.wait;
    if asked.is_zero() {
        return asked;
    }
    let after = cfg
        .cluster
        .argocd
        .as_ref()
        .and_then(|a| a.wait)
        .unwrap_or_default();
    match retry::time_left() {
        Some(left) => asked.min(left.saturating_sub(after + Duration::from_secs(2))),
        None => asked,
    }
}

/// The Event for a merge this run saw: on the Experiment (finish) or the Application (start).
pub async fn tell(ctx: &Context, cfg: &Config, uid: Option<String>, report: &mut Report) {
    let Some(m) = &report.merge else { return };
    if m.state != MergeState::Merged {
        return;
    }
    let note = match (&report.pr, &m.commit) {
        (Some(pr), Some(c)) => format!(
            "pull request {} merged as {c} ({})",
            pr.url,
            m.method.name()
        ),
        (Some(pr), None) => format!("pull request {} merged ({})", pr.url, m.method.name()),
        _ => "merged".into(),
    };
    outcome::progress(&ctx.cluster, cfg, uid, "Merged", note, report).await;
}
