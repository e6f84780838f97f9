//! Fetch → plan → commit → push, repeated when the pushed branch moved under us: the change
//! itself. Every decision is the planner's, made on the fetched tree before the first write.

use tracing::{info, warn};

use super::{context::Context, context::Credentials, job::Job, report::Report};
use crate::{
    Error,
    config::{Config, LogFormat, Mode},
    git,
    kube::apply,
    plan::{self, Plan},
    retry,
    trust::redact,
};

/// How many times the fetch-plan-push cycle runs when the PR branch moves under us.
const PUSH_ATTEMPTS: usize = 4;

/// What the change came to.
pub struct Landed {
    pub plan: Plan,
    /// The commit made (`None`: the Env repo already records the change).
    pub commit: Option<git::Commit>,
    /// The objects to apply, their kinds resolved and admitted.
    pub resolved: Vec<apply::Resolved>,
}

/// Where one round of the cycle ended.
enum Round {
    Done(Option<git::Commit>),
    /// The push did not land: fetch again and re-plan.
    Again,
}

/// Said once, when the first push starts: the PR lookup can run beside it.
pub type Pushing = Option<tokio::sync::oneshot::Sender<()>>;

/// Runs the cycle until the change is pushed (or found pushed, or nothing to do). `pushing`
/// is told when a push starts.
pub async fn promote(
    ctx: &Context,
    cfg: &Config,
    creds: &Credentials,
    job: &Job,
    namespace: Option<&str>,
    mut pushing: Pushing,
    report: &mut Report,
) -> Result<Landed, Error> {
    let remote = ctx.remote(cfg, creds.token.as_ref())?;
    let mut resolved: Option<Vec<apply::Resolved>> = None;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let fetched = fetch(&remote, cfg, job).await?;
        let mut plan = planned(job, &fetched, cfg, report, attempt == 1)?;
        // Kinds are resolved before anything is written: an unknown kind must not leave a
        // pushed branch behind. Again only when a re-plan (after a refused push) changed the
        // objects: a newer experiment may have superseded this one, and then nothing is
        // applied. NB: the objects move into the resolved list, never copied: parsed
        // manifests are the largest thing this process holds.
        let objects = std::mem::take(&mut plan.objects);
        let unchanged = |r: &Vec<apply::Resolved>| r.iter().map(|x| &x.object).eq(objects.iter());
        if !resolved.as_ref().is_some_and(unchanged) {
            resolved = Some(discover(ctx, cfg, objects, namespace).await?);
        }
        let round = if plan.is_empty() {
            info!(
                reason = plan.unchanged_reason.as_deref().unwrap_or(""),
                "nothing to change in the Env repo: no commit, no push, no pull request"
            );
            Round::Done(None)
        } else {
            let round = (fetched, &plan, attempt, &mut pushing);
            commit_and_push(&remote, cfg, creds, round, report).await?
        };
        if let Round::Done(commit) = round {
            return Ok(Landed {
                plan,
                commit,
                resolved: resolved.unwrap_or_default(),
            });
        }
    }
}

/// Whose commit is at the PR branch's tip now.
pub enum Holder {
    /// This run's change (the same tree on the same base): its id.
    Ours(String),
    /// Someone else's: its author, when it could be read.
    Other { author: Option<String> },
}

/// Fetches again and judges the PR branch's tip by this run's rules: a tip with the tree
/// this run committed, on the same base, is its change (another run of it pushed it).
pub async fn pr_branch_holder(
    ctx: &Context,
    cfg: &Config,
    creds: &Credentials,
    job: &Job,
    tree: gix::ObjectId,
) -> Result<Holder, Error> {
    let remote = ctx.remote(cfg, creds.token.as_ref())?;
    let fetched = fetch(&remote, cfg, job).await?;
    let tip = fetched.head_tip.map(|c| c.to_string());
    if git::already_pushed(&fetched, tree, creds.signer.is_some())
        && let Some(tip) = tip
    {
        return Ok(Holder::Ours(tip));
    }
    Ok(Holder::Other {
        author: git::head_author(&fetched),
    })
}

/// Plans on the fetched tree and records what the report says of it; the first round also
/// shows the diff and the warnings.
fn planned(
    job: &Job,
    fetched: &git::Fetched,
    cfg: &Config,
    report: &mut Report,
    first: bool,
) -> Result<Plan, Error> {
    let plan = plan_step(job, fetched)?;
    report.base_commit = Some(fetched.base_tip.to_string());
    report.partial_fetch = fetched.partial;
    report.fetch = fetched.mode;
    report.files = plan.summary(|p| {
        matches!(
            plan::Snapshot::get(fetched, p.as_str()),
            Some(plan::Entry::File(_))
        )
    });
    if first {
        log_plan(cfg, &plan);
        for w in &plan.warnings {
            warn!("{w}");
        }
        report.warnings.extend(plan.warnings.iter().cloned());
    }
    Ok(plan)
}

#[tracing::instrument(target = "iter8_gitops::step", name = "plan", skip_all)]
fn plan_step(job: &Job, fetched: &git::Fetched) -> Result<Plan, Error> {
    job.plan(fetched)
}

#[tracing::instrument(target = "iter8_gitops::step", name = "discovery", skip_all)]
async fn discover(
    ctx: &Context,
    cfg: &Config,
    objects: Vec<plan::Object>,
    namespace: Option<&str>,
) -> Result<Vec<apply::Resolved>, Error> {
    Ok(apply::resolve(&ctx.cluster, objects, namespace, &cfg.cluster.apply_policy).await?)
}

/// Commits the plan and pushes it with a compare-and-swap; a refused or failed push asks for
/// another round while attempts remain.
async fn commit_and_push(
    remote: &git::Remote,
    cfg: &Config,
    creds: &Credentials,
    (fetched, plan, attempt, pushing): (git::Fetched, &Plan, usize, &mut Pushing),
    report: &mut Report,
) -> Result<Round, Error> {
    let commit = commit_step(cfg, creds, &fetched, plan)?;
    report.commit = Some(commit.id.to_string());
    if cfg.mode == Mode::PullRequest
        && git::already_pushed(&fetched, commit.tree, creds.signer.is_some())
    {
        info!(branch = %cfg.pr.branch, commit = %fetched.head_tip.map(|c| c.to_string()).unwrap_or_default(), "the PR branch already holds this change on this base: not pushing again");
        report.commit = fetched.head_tip.map(|c| c.to_string());
        return Ok(Round::Done(Some(commit)));
    }
    if cfg.output.dry_run {
        info!(branch = %cfg.target_branch(), "dry run: not pushing");
        // The commit was never written anywhere: no id that a reader could look up.
        report.commit = None;
        return Ok(Round::Done(Some(commit)));
    }
    if let Some(tx) = pushing.take() {
        let _ = tx.send(());
    }
    match push(remote, fetched, cfg, commit.id).await {
        Ok(()) => {
            report.pushed = true;
            info!(branch = %cfg.target_branch(), commit = %commit.id, "pushed");
            Ok(Round::Done(Some(commit)))
        }
        Err(e) if (e.is_stale() || e.is_transient()) && attempt < PUSH_ATTEMPTS => {
            warn!(error = %redact::text(&e.to_string()), attempt, "push did not land; fetching again and re-planning");
            tokio::time::sleep(retry::backoff_delay(attempt)).await;
            Ok(Round::Again)
        }
        Err(e) if e.is_stale() => Err(Error::Contended {
            branch: cfg.target_branch().to_string(),
            attempts: attempt,
        }),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(target = "iter8_gitops::step", name = "commit", skip_all)]
fn commit_step(
    cfg: &Config,
    creds: &Credentials,
    fetched: &git::Fetched,
    plan: &Plan,
) -> Result<git::Commit, Error> {
    Ok(git::commit(
        fetched,
        &plan.edits,
        git::Identity {
            name: &cfg.commit.author_name,
            email: &cfg.commit.author_email,
        },
        &commit_message(cfg),
        creds.signer.as_deref(),
    )?)
}

fn commit_message(cfg: &Config) -> String {
    let message = cfg.commit.message.trim_end();
    match &cfg.cluster.experiment {
        // A trailer, so `git log --format=%(trailers)` finds the experiment behind a change.
        Some(e) => format!(
            "{message}\n\nIter8-Experiment: {}/{}\n",
            e.namespace, e.name
        ),
        None => format!("{message}\n"),
    }
}

fn log_plan(cfg: &Config, plan: &Plan) {
    // The diff is in the PR and the report; a person asks for it on stderr (a dry run does).
    if plan.diff.is_empty() || !(cfg.output.dry_run || cfg.output.show_diff) {
        return;
    }
    match cfg.output.log_format {
        // The diff is for people: print it as is, not squeezed into one log line.
        LogFormat::Text => redact::eprint(&plan.diff),
        LogFormat::Json => info!(diff = %plan.diff, "planned change"),
    }
}

/// Fetches only the blobs the planner reads: everything else stays on the server.
#[tracing::instrument(target = "iter8_gitops::step", name = "fetch", skip_all)]
async fn fetch(remote: &git::Remote, cfg: &Config, job: &Job) -> Result<git::Fetched, Error> {
    let paths = job.paths();
    let op = || {
        let (remote, base, head, paths) = (
            remote.clone(),
            cfg.repo.branch.clone(),
            cfg.pr.branch.clone(),
            paths.clone(),
        );
        async move {
            tokio::task::spawn_blocking(move || git::fetch(&remote, &base, &head, &paths))
                .await
                .map_err(|e| git::Error::Read {
                    source: Box::new(e),
                })?
        }
    };
    Ok(retry::retry("fetch", op, git::Error::is_transient, |_| None).await?)
}

/// One push, with the compare-and-swap against the value this run fetched (in push mode,
/// the tip it planned on). One attempt per fetch: a push that failed half-way is judged by
/// fetching again (the caller re-plans), never by pushing the same objects blindly.
#[tracing::instrument(target = "iter8_gitops::step", name = "push", skip_all)]
async fn push(
    remote: &git::Remote,
    mut fetched: git::Fetched,
    cfg: &Config,
    new: gix::ObjectId,
) -> Result<(), git::Error> {
    let branch = cfg.target_branch().clone();
    let remote = remote.clone();
    let expected = match cfg.mode {
        Mode::PullRequest => fetched.head_tip,
        Mode::Push => Some(fetched.base_tip),
    };
    tokio::task::spawn_blocking(move || {
        git::push(&remote, &mut fetched, &branch, expected, new).map(|_| ())
    })
    .await
    .map_err(|e| git::Error::Read {
        source: Box::new(e),
    })?
}
