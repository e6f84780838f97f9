//! A promotion file: read it, validate every target, then run the commits (targets on one
//! repo and branch share one) a few at a time. One failing does not stop the others; each
//! failure is told on the Experiment, and the report lists every target's result.

use std::{sync::Arc, time::Instant};

use tracing::info;

use super::{context::Context, outcome, report, report::Report, single::single};
use crate::{
    Error,
    config::{Config, Job, Promotion, PromotionSource, Target, promotion},
    git,
    plan::{self, names::RepoPath},
    retry,
};

/// How many promotion-file commits are worked on at once.
const TARGETS_AT_ONCE: usize = 4;

/// One commit's result: its index, the targets it covers, and how it went.
type Outcome = (usize, Vec<String>, Result<Report, Error>);

pub async fn run(
    ctx: Arc<Context>,
    cfg: &Config,
    p: &Promotion,
    end: Instant,
) -> Result<Report, Error> {
    let started = Instant::now();
    let targets = load(&ctx, cfg, p).await?;
    let total = targets.len();
    let commits: Vec<_> = promotion::groups(targets)
        .into_iter()
        .map(combine)
        .collect();
    info!(targets = total, commits = commits.len(), "promotion file");
    let results = run_commits(ctx, commits, end).await?;
    let mut report = gather(cfg, results);
    report.timing("total", started);
    verdict(report, total)
}

/// The file's targets, each validated into a `Config` before anything is written.
async fn load(ctx: &Context, cfg: &Config, p: &Promotion) -> Result<Vec<Config>, Error> {
    let text = match &p.source {
        PromotionSource::File(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::from(crate::config::Error::one(
                "GITOPS_CONFIG",
                format!("{} cannot be read: {e}", path.display()),
            ))
        })?,
        PromotionSource::InRepo(path) => from_repo(ctx, cfg, &cfg.repo.dir.join(path)).await?,
    };
    let file = promotion::parse(source_input(&p.source), &text)?;
    Ok(p.targets(&file)?)
}

/// GITOPS_CONFIG_IN_REPO: the promotion file as GITOPS_BRANCH holds it.
async fn from_repo(ctx: &Context, cfg: &Config, path: &RepoPath) -> Result<String, Error> {
    super::local::local_repo_exists(cfg)?;
    // As for a single promotion: a local repo needs no token, so no cluster either.
    let token = ctx.git_token(cfg, cfg.cluster.namespace.clone()).await?;
    let remote = ctx.remote(cfg, token.as_ref())?;
    let (base, head, paths) = (
        cfg.repo.branch.clone(),
        cfg.pr.branch.clone(),
        vec![path.to_string()],
    );
    let fetched = tokio::task::spawn_blocking(move || git::fetch(&remote, &base, &head, &paths))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    match plan::read_text(&fetched, "GITOPS_CONFIG_IN_REPO", path)? {
        Some(text) => Ok(text),
        None => Err(Error::from(crate::config::Error::one(
            "GITOPS_CONFIG_IN_REPO",
            format!(
                "{path} is not a file on {} of {}; check the path (from the repo root) and GITOPS_BRANCH",
                cfg.repo.branch, cfg.repo.location
            ),
        ))),
    }
}

/// One commit for a group: every target's edits and apply files, under its own dir; with
/// the targets' labels. (The receiver runs each of its targets as a group of one.)
pub fn combine(group: Vec<Config>) -> (Vec<String>, Config) {
    let mut combined = group[0].clone();
    let target = |c: &Config| match &c.job {
        Job::Edits(t) => Some(t.clone()),
        _ => None,
    };
    let labels: Vec<String> = group
        .iter()
        .filter_map(|c| target(c).map(|t| t.label))
        .collect();
    let (mut edits, mut apply) = (vec![], vec![]);
    for c in &group {
        let Some(t) = target(c) else { continue };
        let dir = &c.repo.dir;
        edits.extend(t.edits.iter().map(|e| e.within(dir)));
        apply.extend(t.apply.iter().map(|a| dir.join(a)));
    }
    combined.job = Job::Edits(Target {
        label: labels.join(", "),
        edits,
        apply,
        workload: None,
        cause: None,
    });
    combined.repo.dir = RepoPath::root();
    (labels, combined)
}

/// Runs the commits, `TARGETS_AT_ONCE` at a time; each failure is told on the Experiment.
async fn run_commits(
    ctx: Arc<Context>,
    commits: Vec<(Vec<String>, Config)>,
    end: Instant,
) -> Result<Vec<Outcome>, Error> {
    let gate = Arc::new(tokio::sync::Semaphore::new(TARGETS_AT_ONCE));
    let mut set = tokio::task::JoinSet::new();
    for (i, (labels, c)) in commits.into_iter().enumerate() {
        let (gate, ctx) = (gate.clone(), ctx.clone());
        // The commits run side by side: every log line of one carries its targets' names.
        let span = tracing::info_span!("target", name = %labels.join(", "));
        let work = retry::within(end, async move {
            let _turn = gate.acquire_owned().await.expect("the gate stays open");
            let result = single(&ctx, &c).await;
            if let Err(e) = &result {
                outcome::tell_failure(&ctx.cluster, &c, Some(&labels.join(", ")), e).await;
            }
            (i, labels, result)
        });
        set.spawn(tracing::Instrument::instrument(work, span));
    }
    let mut results = vec![];
    while let Some(r) = set.join_next().await {
        results.push(r.map_err(|e| Error::Internal(format!("a target's task failed: {e}")))?);
    }
    results.sort_by_key(|r| r.0);
    Ok(results)
}

/// The file's report: every target's status and every commit's own report.
fn gather(cfg: &Config, results: Vec<Outcome>) -> Report {
    let mut report = Report::new(cfg);
    for (i, labels, result) in results {
        let (ok, code, error) = match &result {
            Ok(_) => (true, 0, None),
            Err(e) => (
                false,
                e.exit_code(),
                Some(crate::trust::redact::text(&e.chain())),
            ),
        };
        for t in &labels {
            report.targets.push(report::TargetStatus {
                target: t.clone(),
                ok,
                exit_code: code,
                commit: i,
                error: error.clone(),
            });
        }
        report.commits.push(report::CommitResult {
            targets: labels.clone(),
            ok,
            exit_code: code,
            error,
            report: result.ok().map(|mut r| {
                r.covers = labels;
                r
            }),
        });
    }
    let any = |f: fn(&Report) -> bool| {
        report
            .commits
            .iter()
            .any(|t| t.report.as_ref().is_some_and(f))
    };
    report.changed = any(|r| r.changed);
    report.promotes = any(|r| r.promotes);
    report.pushed = any(|r| r.pushed);
    report
}

/// Success when every commit succeeded. Otherwise the exit code says what failed: the
/// failures' own code when they agree, else 11 (several kinds of failure).
fn verdict(mut report: Report, total: usize) -> Result<Report, Error> {
    let failed: Vec<(String, u8)> = report
        .commits
        .iter()
        .filter_map(|c| {
            let e = c.error.as_ref()?;
            Some((format!("{}: {e}", c.targets.join(", ")), c.exit_code))
        })
        .collect();
    report.summarize(&format!(
        "promotion file: {total} target(s) in {} commit(s), {}",
        report.commits.len(),
        if failed.is_empty() {
            "all done".to_string()
        } else {
            format!("{} commit(s) failed", failed.len())
        }
    ));
    let Some(first) = failed.first().map(|f| f.1) else {
        return Ok(report);
    };
    let code = if failed.iter().all(|f| f.1 == first) {
        first
    } else {
        11
    };
    Err(Error::Targets {
        failed: failed.len(),
        total: report.targets.len(),
        code,
        messages: failed.into_iter().map(|f| f.0).collect(),
        report_json: report.to_json(),
    })
}

/// Where the promotion file is read from, for its messages.
fn source_input(source: &PromotionSource) -> &'static str {
    match source {
        PromotionSource::File(_) => "GITOPS_CONFIG",
        PromotionSource::InRepo(_) => "GITOPS_CONFIG_IN_REPO",
    }
}
