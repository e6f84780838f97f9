//! The run: the flow in the order of the contract, each step a function.

pub mod report;
pub mod retry;

use std::{sync::Arc, time::Instant};

use tracing::{info, warn};

use crate::{
    Error, config,
    config::{Config, RepoLocation, Token, promotion},
    git::{self, sign},
    host,
    kube::{apply, argocd, cluster::Cluster, events, experiment, secret},
    plan::{self, Rules, edits, names::RepoPath, start},
    trust::{credential::Credential, http, redact},
};
use report::Report;

/// How many times the fetch-plan-push cycle runs when the PR branch moves under us.
const PUSH_ATTEMPTS: usize = 4;

/// What the run plans on each fetched tree.
enum Job {
    Finish(Rules),
    Start(start::Rules),
    /// A promotion file's target(s): edits and apply paths from the repo root.
    Edits {
        edits: Vec<edits::EditSpec>,
        apply: Vec<RepoPath>,
        vars: edits::Vars,
    },
}

impl Job {
    fn plan(&self, snap: &dyn plan::Snapshot) -> Result<plan::Plan, Error> {
        match self {
            Job::Finish(r) => Ok(plan::plan(snap, r)?),
            Job::Start(r) => start::plan(snap, r),
            Job::Edits { edits, apply, vars } => {
                Ok(edits::plan(snap, &RepoPath::root(), edits, vars, apply)?)
            }
        }
    }

    /// The blobs the planner reads (`dir/` for every file directly in a folder).
    fn paths(&self) -> Vec<String> {
        match self {
            Job::Finish(r) => [&r.winner, &r.baseline]
                .into_iter()
                .chain(&r.remove)
                .chain(&r.apply)
                .map(|p| r.dir.join(p).as_str().to_string())
                .collect(),
            Job::Edits { edits, apply, vars } => edits
                .iter()
                .flat_map(edits::EditSpec::files)
                .map(|f| vars.expand(&f).unwrap_or(f))
                .chain(apply.iter().map(|a| a.to_string()))
                .collect(),
            Job::Start(r) => vec![
                format!("{}/", r.dir.join(&r.templates)),
                if r.dir.is_root() {
                    "/".into()
                } else {
                    format!("{}/", r.dir)
                },
            ],
        }
    }
}

/// How many promotion-file commits are worked on at once.
const TARGETS_AT_ONCE: usize = 4;

/// Runs one task within the configured deadline; a failure is also told as an Event.
pub async fn run(cfg: Config) -> Result<Report, Error> {
    let deadline = cfg.timeout;
    let end = std::time::Instant::now() + deadline;
    let cluster = Cluster::new(cfg.timeout.min(cfg.request_timeout));
    if let Some(p) = cfg.promotion.clone() {
        let cluster = Arc::new(cluster);
        return match tokio::time::timeout(
            deadline,
            retry::within(end, run_promotion(&cfg, p, cluster, end)),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Error::Deadline(deadline)),
        };
    }
    let result =
        match tokio::time::timeout(deadline, retry::within(end, run_inner(&cfg, &cluster))).await {
            Ok(r) => r,
            Err(_) => Err(Error::Deadline(deadline)),
        };
    // A dry run writes nothing anywhere, an Event included.
    if let Err(e) = &result
        && !cfg.dry_run
        && let Some(on) = regarding(&cfg, None)
    {
        let outcome = events::Outcome {
            warning: true,
            action: action(&cfg),
            reason: "Failed",
            note: redact::text(&e.chain()),
        };
        // Bounded: the run has failed already, and may have failed on the cluster itself.
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            events::post(&cluster, &on, &outcome),
        )
        .await;
    }
    result
}

/// A promotion file: read it, validate every target, then run the commits (targets on one
/// repo and branch share one) a few at a time. One failing does not stop the others.
async fn run_promotion(
    cfg: &Config,
    p: config::Promotion,
    cluster: Arc<Cluster>,
    end: std::time::Instant,
) -> Result<Report, Error> {
    let started = Instant::now();
    let (input, text) = match &p.source {
        config::PromotionSource::File(path) => (
            "GITOPS_CONFIG",
            std::fs::read_to_string(path).map_err(|e| {
                Error::Config(config::Error {
                    problems: vec![config::Problem {
                        input: "GITOPS_CONFIG".into(),
                        message: format!("{} cannot be read: {e}", path.display()),
                    }],
                })
            })?,
        ),
        config::PromotionSource::InRepo(path) => (
            "GITOPS_CONFIG_IN_REPO",
            config_from_repo(cfg, &cluster, &cfg.dir.join(path)).await?,
        ),
    };
    let file = promotion::parse(input, &text)?;
    let author = match &p.source {
        config::PromotionSource::File(_) => promotion::Author::Operator,
        config::PromotionSource::InRepo(_) => promotion::Author::Repo(&p.allow),
    };
    let targets = promotion::configs(&p.base, &file, author)?;
    let total = targets.len();
    let groups = promotion::groups(targets);
    info!(targets = total, commits = groups.len(), "promotion file");

    let gate = Arc::new(tokio::sync::Semaphore::new(TARGETS_AT_ONCE));
    let mut set = tokio::task::JoinSet::new();
    for (i, group) in groups.into_iter().enumerate() {
        let labels: Vec<String> = group.iter().filter_map(|c| c.target.clone()).collect();
        // One commit for the group: every target's edits, under its own dir.
        let mut combined = group[0].clone();
        combined.edits = Some(
            group
                .iter()
                .flat_map(|c| {
                    let dir = c.dir.clone();
                    c.edits
                        .iter()
                        .flatten()
                        .map(move |e| e.within(&dir))
                        .collect::<Vec<_>>()
                })
                .collect(),
        );
        combined.apply = group
            .iter()
            .flat_map(|c| c.apply.iter().map(|a| c.dir.join(a)).collect::<Vec<_>>())
            .collect();
        combined.dir = RepoPath::root();
        let (gate, cluster) = (gate.clone(), cluster.clone());
        set.spawn(retry::within(end, async move {
            let _turn = gate.acquire_owned().await.expect("the gate stays open");
            let result = run_inner(&combined, &cluster).await;
            if let Err(e) = &result
                && !combined.dry_run
                && let Some(on) = regarding(&combined, None)
            {
                let outcome = events::Outcome {
                    warning: true,
                    action: "Promote",
                    reason: "Failed",
                    note: redact::text(&format!("{}: {}", labels.join(", "), e.chain())),
                };
                events::post(&cluster, &on, &outcome).await;
            }
            (i, labels, result)
        }));
    }
    let mut results = vec![];
    while let Some(r) = set.join_next().await {
        results.push(r.map_err(|e| Error::Internal(format!("a target's task failed: {e}")))?);
    }
    results.sort_by_key(|r| r.0);

    let mut report = Report::new(cfg);
    let mut messages = vec![];
    let mut codes = vec![];
    for (i, labels, result) in results {
        let (ok, code, error) = match &result {
            Ok(_) => (true, 0, None),
            Err(e) => (false, e.exit_code(), Some(redact::text(&e.chain()))),
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
        if let Some(message) = &error {
            messages.push(format!("{}: {message}", labels.join(", ")));
            codes.push(code);
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
    report.changed = report
        .commits
        .iter()
        .any(|t| t.report.as_ref().is_some_and(|r| r.changed));
    report.promotes = report
        .commits
        .iter()
        .any(|t| t.report.as_ref().is_some_and(|r| r.promotes));
    report.pushed = report
        .commits
        .iter()
        .any(|t| t.report.as_ref().is_some_and(|r| r.pushed));
    report.timing("total", started);
    let failed = messages.len();
    report.summarize(&format!(
        "promotion file: {total} target(s) in {} commit(s), {}",
        report.commits.len(),
        if failed == 0 {
            "all done".to_string()
        } else {
            format!("{failed} commit(s) failed")
        }
    ));
    if messages.is_empty() {
        return Ok(report);
    }
    // The exit code says whether all succeeded: the failures' own code when they agree,
    // else 11 (several kinds of failure).
    let code = if codes.iter().all(|c| *c == codes[0]) {
        codes[0]
    } else {
        11
    };
    Err(Error::Targets {
        failed: messages.len(),
        total: report.targets.len(),
        code,
        messages,
        report: Box::new(report),
    })
}

/// GITOPS_CONFIG_IN_REPO: the promotion file as GITOPS_BRANCH holds it.
async fn config_from_repo(
    cfg: &Config,
    cluster: &Cluster,
    path: &RepoPath,
) -> Result<String, Error> {
    let io_timeout = cfg.timeout.min(cfg.request_timeout);
    let (tls, http) = clients(cfg, io_timeout)?;
    local_repo_exists(cfg)?;
    // As for a single promotion: a local repo needs no token, so no cluster either.
    let token = if matches!(cfg.repo, RepoLocation::Https(_)) {
        token(cfg, cluster, cfg.namespace.clone(), &http).await?
    } else {
        None
    };
    let remote = git::Remote {
        location: cfg.repo.clone(),
        credentials: git_credentials(cfg, token.as_ref())?,
        tls,
        io_timeout,
    };
    let (base, head, paths) = (
        cfg.branch.clone(),
        cfg.pr_branch.clone(),
        vec![path.to_string()],
    );
    let fetched = tokio::task::spawn_blocking(move || git::fetch(&remote, &base, &head, &paths))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let missing = || {
        Error::Config(config::Error {
            problems: vec![config::Problem {
                input: "GITOPS_CONFIG_IN_REPO".into(),
                message: format!(
                    "{path} is not a file on {} of {}; check the path (from the repo root) and GITOPS_BRANCH",
                    cfg.branch, cfg.repo
                ),
            }],
        })
    };
    match plan::read_text(&fetched, "GITOPS_CONFIG_IN_REPO", path) {
        Ok(Some(text)) => Ok(text),
        Ok(None) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// A local GITOPS_REPO must be a Git repository. Said here, as a configuration problem:
/// otherwise gix's transport fails with a handshake error that reads like a network fault.
fn local_repo_exists(cfg: &Config) -> Result<(), Error> {
    let RepoLocation::Local(path) = &cfg.repo else {
        return Ok(());
    };
    let is_repo = |p: &std::path::Path| p.join("HEAD").is_file() && p.join("objects").is_dir();
    let problem = if !path.exists() {
        "does not exist; give the path of the Env repo (a bare repo, or a clone's .git)"
    } else if !is_repo(path) && !is_repo(&path.join(".git")) {
        "is not a Git repository (no HEAD and objects/ in it, nor in its .git); give the path of a bare repo or a clone"
    } else {
        return Ok(());
    };
    Err(Error::Config(config::Error {
        problems: vec![config::Problem {
            input: "GITOPS_REPO".into(),
            message: format!("{} {problem}", path.display()),
        }],
    }))
}

/// TLS (web roots plus GITOPS_CA_FILE) and the HTTP client every provider call uses.
fn clients(
    cfg: &Config,
    io_timeout: std::time::Duration,
) -> Result<(Arc<rustls::ClientConfig>, reqwest::Client), Error> {
    let ca = match &cfg.ca_file {
        Some(p) => Some(std::fs::read(p).map_err(|source| Error::CaFile {
            path: p.display().to_string(),
            source,
        })?),
        None => None,
    };
    let tls = http::tls_config(ca.as_deref())?;
    let http = http::client(&tls, io_timeout)?;
    Ok((tls, http))
}

/// The Git host token: GITOPS_TOKEN, a GitHub App's installation token, or the Secret's.
async fn token(
    cfg: &Config,
    cluster: &Cluster,
    namespace: Option<String>,
    http: &reqwest::Client,
) -> Result<Option<Token>, Error> {
    let token = match &cfg.token {
        Some(t) => Some(t.clone()),
        None => {
            let ns = secret::namespace(cluster, namespace.clone(), &cfg.token_secret).await?;
            match (&cfg.github_app, &cfg.api_url) {
                (Some(app), Some(api)) => {
                    let key = secret::read_pem(cluster, &ns, &cfg.token_secret, &app.key).await?;
                    redact::register(key.expose());
                    let app = host::github_app::App {
                        app_id: app.app_id.clone(),
                        installation_id: app.installation_id,
                        private_key: key,
                    };
                    let token =
                        host::github_app::installation_token(http.clone(), api, &app).await?;
                    info!(app = %app.app_id, installation = app.installation_id, "got a GitHub App installation token");
                    Some(token)
                }
                _ => Some(secret::read(cluster, &ns, &cfg.token_secret, &cfg.token_key).await?),
            }
        }
    };
    if let Some(t) = &token {
        redact::register(t.expose());
    }
    Ok(token)
}

/// The token bound to the Env repo's origin, for git's Basic auth; a local repo gets none.
fn git_credentials(
    cfg: &Config,
    token: Option<&Token>,
) -> Result<Option<(String, Credential)>, Error> {
    match (&cfg.repo, token) {
        (RepoLocation::Https(url), Some(t)) => {
            redact::register_basic(&cfg.username, t.expose());
            Ok(Some((
                cfg.username.clone(),
                Credential::bind(t.clone(), url)?,
            )))
        }
        _ => Ok(None),
    }
}

/// The commit signing key, read and checked before anything is fetched or written.
async fn signer(
    key: &config::SigningKey,
    cluster: &Cluster,
    namespace: Option<String>,
) -> Result<sign::Signer, Error> {
    const KEY: &str = "ssh-privatekey";
    let (what, text) = match key {
        config::SigningKey::File(path) => {
            let what = format!("GITOPS_SIGNING_KEY_FILE {}", path.display());
            match std::fs::read_to_string(path) {
                Ok(t) => (what, Token::new(t)),
                Err(e) => {
                    return Err(Error::SigningKey {
                        what,
                        reason: format!("cannot be read ({e})"),
                    });
                }
            }
        }
        config::SigningKey::Secret(name) => {
            let ns = secret::namespace(cluster, namespace, name).await?;
            let text = secret::read_pem(cluster, &ns, name, KEY).await?;
            (format!("in Secret {ns}/{name} (key {KEY})"), text)
        }
    };
    redact::register(text.expose());
    let signer = sign::Signer::from_openssh(text.expose()).map_err(|e| Error::SigningKey {
        what,
        reason: e.to_string(),
    })?;
    info!(key = %signer.public_key(), "commits will be SSH-signed");
    Ok(signer)
}

/// What an Event says was done.
fn action(cfg: &Config) -> &'static str {
    match cfg.task {
        config::Task::Finish => "Promote",
        config::Task::Start(_) => "Start",
    }
}

/// What this run's Events are about: the Experiment (finish), the Application (start).
fn regarding(cfg: &Config, uid: Option<String>) -> Option<events::Regarding> {
    match (&cfg.task, &cfg.experiment, &cfg.argocd) {
        (config::Task::Finish, Some(e), _) => Some(events::Regarding {
            api_version: "iter8.tools/v2alpha2".into(),
            kind: "Experiment".into(),
            name: e.name.clone(),
            namespace: e.namespace.clone(),
            uid,
        }),
        (config::Task::Start(_), _, Some(app)) => Some(events::Regarding {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "Application".into(),
            name: app.name.clone(),
            namespace: app.namespace.clone(),
            uid,
        }),
        _ => None,
    }
}

async fn run_inner(cfg: &Config, cluster: &Cluster) -> Result<Report, Error> {
    let mut cfg = cfg.clone();
    let started = Instant::now();
    let mut report = Report::new(&cfg);
    let io_timeout = cfg.timeout.min(cfg.request_timeout);
    let (tls, http) = clients(&cfg, io_timeout)?;

    // 1. Experiment context (finish only).
    let t = Instant::now();
    let mut experiment_uid = None;
    let mut vars = edits::Vars::default();
    let (winner, namespace) = match (&cfg.task, &cfg.winner, &cfg.experiment) {
        (config::Task::Start(_), _, _) => (RepoPath::root(), cfg.namespace.clone()),
        // A promotion file's target: the winner only feeds `${winner.…}` in its edits.
        (_, _, exp) if cfg.edits.is_some() => match exp {
            Some(exp) => {
                let w = experiment::read(cluster, exp, "").await?;
                experiment_uid = w.uid.clone();
                report.winner_version = Some(w.version.clone());
                vars = edits::Vars {
                    winner: Some(w.version.clone()),
                    variables: w.variables.clone(),
                    experiment: Some((exp.name.clone(), exp.namespace.clone())),
                };
                (RepoPath::root(), cfg.namespace.clone().or(w.namespace))
            }
            None => (RepoPath::root(), cfg.namespace.clone()),
        },
        (_, Some(w), _) => (w.clone(), cfg.namespace.clone()),
        (_, None, Some(exp)) => {
            let w = experiment::read(cluster, exp, &cfg.winner_variable).await?;
            experiment_uid = w.uid.clone();
            info!(experiment = %exp.name, version = %w.version, file = %w.file, "experiment recommends a version");
            report.winner_version = Some(w.version.clone());
            let file = RepoPath::parse(&w.file).map_err(|e| {
                Error::Config(config::Error {
                    problems: vec![config::Problem {
                        input: format!("Experiment variable {:?}", cfg.winner_variable),
                        message: format!("{:?} {e}", w.file),
                    }],
                })
            })?;
            (file, cfg.namespace.clone().or(w.namespace))
        }
        (_, None, None) => {
            return Err(Error::Internal(
                "no winner and no experiment passed validation".into(),
            ));
        }
    };
    if let (config::Task::Finish, None) = (&cfg.task, &cfg.edits) {
        report.winner = Some(winner.to_string());
    }
    report.timing("experiment", t);

    local_repo_exists(&cfg)?;
    // 2. Token: needed for an https repo and for the PR API. A GitHub App's comes from
    // exchanging a JWT signed with the App's key, which is in the Secret.
    let t = Instant::now();
    let needs_token = matches!(cfg.repo, RepoLocation::Https(_)) || cfg.api_url.is_some();
    let token = if needs_token {
        token(&cfg, cluster, namespace.clone(), &http).await?
    } else {
        cfg.token.clone()
    };
    if let Some(t) = &token {
        redact::register(t.expose());
    }
    report.timing("token", t);
    let signer = match &cfg.signing {
        Some(key) => Some(signer(key, cluster, namespace.clone()).await?),
        None => None,
    };

    // 3-7. Fetch, plan, commit, push: repeated when the PR branch moved under us.
    let remote = git::Remote {
        location: cfg.repo.clone(),
        credentials: git_credentials(&cfg, token.as_ref())?,
        tls: tls.clone(),
        io_timeout,
    };
    // A promotion file's PR text may refer to the experiment too.
    if cfg.edits.is_some() {
        let expand = |what: &str, text: &str| {
            vars.expand(text).map_err(|reason| edits::Error {
                index: 0,
                label: what.into(),
                reason,
            })
        };
        cfg.pr_title = expand("pr.title", &cfg.pr_title)?;
        if let Some(b) = &cfg.pr_body {
            cfg.pr_body = Some(expand("pr.body", b)?);
        }
    }
    let job = match &cfg.task {
        config::Task::Finish if cfg.edits.is_some() => Job::Edits {
            edits: cfg.edits.clone().unwrap_or_default(),
            apply: cfg.apply.clone(),
            vars,
        },
        config::Task::Finish => Job::Finish(Rules {
            dir: cfg.dir.clone(),
            winner: winner.clone(),
            baseline: cfg.baseline.clone(),
            replace: cfg.replace.clone(),
            remove: cfg.remove.clone(),
            apply: cfg.apply.clone(),
            experiment: cfg.experiment.as_ref().map(|e| e.name.clone()),
        }),
        config::Task::Start(s) => Job::Start(start::Rules {
            dir: cfg.dir.clone(),
            templates: s.templates.clone(),
            version: s.version.clone(),
            set: s.set.clone(),
        }),
    };
    let mut resolved = None;
    let mut attempt = 0;
    let (plan, commit) = loop {
        attempt += 1;
        let t = Instant::now();
        let fetched = fetch(&remote, &cfg, &job).await?;
        report.timing("fetch", t);
        let t = Instant::now();
        let mut plan = job.plan(&fetched)?;
        report.timing("plan", t);
        report.base_commit = Some(fetched.base_tip.to_string());
        report.partial_fetch = fetched.partial;
        report.files = plan.summary(|p| {
            matches!(
                plan::Snapshot::get(&fetched, p.as_str()),
                Some(plan::Entry::File(_))
            )
        });
        if attempt == 1 {
            log_plan(&cfg, &plan);
            for w in &plan.warnings {
                warn!("{w}");
            }
            report.warnings.extend(plan.warnings.iter().cloned());
        }
        // Kinds are resolved before anything is written: an unknown kind must not leave a
        // pushed branch behind.
        // Again only when a re-plan (after a refused push) changed the objects: a newer
        // experiment may have superseded this one, and then nothing is applied.
        // NB: the objects move into the resolved list, never copied: parsed manifests are
        // the largest thing this process holds.
        let objects = std::mem::take(&mut plan.objects);
        let unchanged = |r: &Vec<apply::Resolved>| r.iter().map(|x| &x.object).eq(objects.iter());
        if !resolved.as_ref().is_some_and(unchanged) {
            let t = Instant::now();
            resolved = Some(
                apply::resolve(cluster, objects, namespace.as_deref(), &cfg.apply_policy).await?,
            );
            report.timing("discovery", t);
        }
        if plan.is_empty() {
            info!(
                reason = plan.unchanged_reason.as_deref().unwrap_or(""),
                "nothing to change in the Env repo: no commit, no push, no pull request"
            );
            break (plan, None);
        }
        let t = Instant::now();
        let message = commit_message(&cfg);
        let commit = git::commit(
            &fetched,
            &plan.edits,
            git::Identity {
                name: &cfg.author_name,
                email: &cfg.author_email,
            },
            &message,
            signer.as_ref(),
        )?;
        report.timing("commit", t);
        report.commit = Some(commit.id.to_string());
        if cfg.mode == config::Mode::PullRequest
            && git::already_pushed(&fetched, commit.tree, signer.is_some())
        {
            info!(branch = %cfg.pr_branch, commit = %fetched.head_tip.map(|c| c.to_string()).unwrap_or_default(), "the PR branch already holds this change on this base: not pushing again");
            report.commit = fetched.head_tip.map(|c| c.to_string());
            break (plan, Some(commit));
        }
        if cfg.dry_run {
            info!(branch = %cfg.target_branch(), "dry run: not pushing");
            // The commit was never written anywhere: no id that a reader could look up.
            report.commit = None;
            break (plan, Some(commit));
        }
        let t = Instant::now();
        match push(&remote, fetched, &cfg, commit.id).await {
            Ok(()) => {
                report.timing("push", t);
                report.pushed = true;
                info!(branch = %cfg.target_branch(), commit = %commit.id, "pushed");
                break (plan, Some(commit));
            }
            Err(e) if (e.is_stale() || e.is_transient()) && attempt < PUSH_ATTEMPTS => {
                warn!(error = %redact::text(&e.to_string()), attempt, "push did not land; fetching again and re-planning");
                tokio::time::sleep(retry::backoff_delay(attempt)).await;
            }
            Err(e) if e.is_stale() => {
                return Err(Error::Contended {
                    branch: cfg.target_branch().to_string(),
                    attempts: attempt,
                });
            }
            Err(e) => return Err(e.into()),
        }
    };
    report.promotes = commit.is_some();
    report.diff = plan.diff.clone();

    // 8. Pull request.
    if commit.is_some() && cfg.mode == config::Mode::Push {
        info!(branch = %cfg.branch, "push mode: the change is on the synced branch, no pull request");
    } else if commit.is_some() {
        match (&cfg.api_url, cfg.provider, cfg.pr_slug(), &token) {
            (Some(api), Some(kind), Some(target), Some(token)) => {
                let t = Instant::now();
                // The API token goes to the API's origin only (the operator's GITOPS_API_URL,
                // or the one derived from the repo's host).
                let bound = Credential::bind(token.clone(), api)?;
                let auth = match kind {
                    host::Kind::GitLab => host::Auth::PrivateToken(bound),
                    host::Kind::Gitea => host::Auth::Token(bound),
                    host::Kind::GitHub => host::Auth::Bearer(bound),
                };
                let headers = match kind {
                    host::Kind::GitHub => host::github::HEADERS,
                    _ => &[],
                };
                let host =
                    host::Provider::new(kind, host::Api::new(http.clone(), api, auth, headers));
                let req = host::Request {
                    // A local repo has no slug of its own: its branch is on the target.
                    source: cfg.repo.slug().unwrap_or_else(|| target.clone()),
                    target,
                    branch: cfg.pr_branch.to_string(),
                    base: cfg.branch.to_string(),
                    title: cfg.pr_title.clone(),
                    body: cfg
                        .pr_body
                        .clone()
                        .unwrap_or_else(|| report::pr_body(&cfg, &report, &plan)),
                    labels: cfg.pr_labels.clone(),
                    reviewers: cfg.pr_reviewers.clone(),
                    draft: cfg.pr_draft,
                };
                let opened = host.open_pull_request(&req, cfg.dry_run).await?;
                if let Some(pr) = &opened.pr {
                    info!(pr.number = pr.number, pr.url = %pr.url, action = ?opened.action, "{}", kind.noun());
                }
                report.pr = opened.pr;
                report.pr_action = Some(opened.action);
                report.warnings.extend(opened.warnings);
                report.timing("pull_request", t);
            }
            _ => info!(
                "no Git host API for this repo (a local path without GITOPS_API_URL): skipping the pull request"
            ),
        }
    }

    // What this run changed, as against what the promotion changes (`promotes`): a rerun
    // that finds its commit pushed and its PR up to date changed nothing.
    report.changed = report.pushed
        || matches!(
            report.pr_action,
            Some(host::Action::Created | host::Action::Updated)
        );

    // 9. Argo CD: the change is on the synced branch only in push mode (a PR lands when
    // someone merges it); tell Argo CD now rather than in 3 minutes, and maybe wait for it.
    let mut app_uid = None;
    if let (Some(app), true, Some(c)) = (&cfg.argocd, report.pushed, &commit)
        && cfg.mode == config::Mode::Push
    {
        let t = Instant::now();
        match argocd::refresh(cluster, app).await {
            Ok(on) => app_uid = on.uid,
            // Without a wait, a refused refresh only delays the sync by Argo CD's poll.
            Err(e) if app.wait.is_none() => {
                warn!(error = %e, "could not ask Argo CD to refresh");
                report.warnings.push(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(within) = app.wait {
            argocd::wait(cluster, app, &c.id.to_string(), within).await?;
            report.argocd_synced = Some(true);
        }
        report.timing("argocd", t);
    }

    // 10. Apply.
    let resolved = resolved.unwrap_or_default();
    if cfg.dry_run {
        for r in &resolved {
            info!(kind = %r.object.kind, name = %r.object.name, namespace = r.namespace.as_deref().unwrap_or(""), "dry run: would apply");
        }
        report.objects = resolved.into_iter().map(|r| r.object.body).collect();
    } else if !resolved.is_empty() {
        let t = Instant::now();
        report.applied = apply::apply(cluster, &resolved, &cfg.field_manager).await?;
        report.timing("apply", t);
    }

    // 11. Tell the Experiment (or the Application) what happened.
    let uid = match cfg.task {
        config::Task::Finish => experiment_uid,
        config::Task::Start(_) => app_uid,
    };
    report.summarize(&headline(&cfg, &winner, &plan));
    if !cfg.dry_run
        && let Some(on) = regarding(&cfg, uid)
    {
        let outcome = outcome(&cfg, &report, &winner, &plan);
        if let Some(w) = events::post(cluster, &on, &outcome).await {
            report.warnings.push(w);
        }
    }
    report.timing("total", started);
    Ok(report)
}

/// What the run was about, for the summary line.
fn headline(cfg: &Config, winner: &RepoPath, plan: &plan::Plan) -> String {
    match (&cfg.task, &cfg.edits, &plan.unchanged_reason) {
        (_, _, Some(why)) if why.starts_with("superseded") => why.clone(),
        (config::Task::Start(s), _, _) => {
            format!("rendered the experiment for version {}", s.version)
        }
        (config::Task::Finish, Some(_), _) => "promotion".to_string(),
        (config::Task::Finish, None, _) if *winner == cfg.baseline => {
            format!("the baseline {} stays", cfg.baseline)
        }
        (config::Task::Finish, None, _) => format!("promoted {winner} → {}", cfg.baseline),
    }
}

/// The Event for a run that succeeded.
fn outcome(cfg: &Config, report: &Report, winner: &RepoPath, plan: &plan::Plan) -> events::Outcome {
    let normal = |reason, note: String| events::Outcome {
        warning: false,
        action: action(cfg),
        reason,
        note,
    };
    let landed = match (&report.pr, &report.commit) {
        (Some(pr), _) => format!("pull request {}", pr.url),
        (None, Some(c)) => format!("commit {c} on {}", report.branch),
        (None, None) => String::new(),
    };
    // A rerun that finds its change already proposed (or pushed) did nothing new.
    match (&cfg.task, report.changed) {
        (_, false) => normal(
            "NothingToDo",
            match (&plan.unchanged_reason, &report.pr) {
                (Some(why), _) => why.clone(),
                (None, Some(pr)) => format!("the pull request {} already proposes this", pr.url),
                (None, None) => "the Env repo already records this".into(),
            },
        ),
        (config::Task::Start(s), true) => normal(
            "Started",
            format!(
                "rendered the experiment for version {}: {landed}",
                s.version
            ),
        ),
        // The baseline won: nothing is promoted, the experiment's files are cleaned up.
        (config::Task::Finish, true) if cfg.edits.is_none() && *winner == cfg.baseline => normal(
            "CleanedUp",
            format!(
                "the baseline {} stays; the experiment's files are removed: {landed}",
                cfg.baseline
            ),
        ),
        (config::Task::Finish, true) => normal(
            "Promoted",
            format!(
                "{} promoted to {}: {landed}",
                report.winner_version.as_deref().unwrap_or(winner.as_str()),
                cfg.baseline
            ),
        ),
    }
}

fn commit_message(cfg: &Config) -> String {
    match &cfg.experiment {
        // A trailer, so `git log --format=%(trailers)` finds the experiment behind a change.
        Some(e) => format!(
            "{}\n\nIter8-Experiment: {}/{}\n",
            cfg.commit_message.trim_end(),
            e.namespace,
            e.name
        ),
        None => format!("{}\n", cfg.commit_message.trim_end()),
    }
}

fn log_plan(cfg: &Config, plan: &plan::Plan) {
    // The diff is in the PR and the report; a person asks for it on stderr (a dry run does).
    if plan.diff.is_empty() || !(cfg.dry_run || cfg.show_diff) {
        return;
    }
    match cfg.log_format {
        // The diff is for people: print it as is, not squeezed into one log line.
        config::LogFormat::Text => redact::eprint(&plan.diff),
        config::LogFormat::Json => info!(diff = %plan.diff, "planned change"),
    }
}

async fn fetch(remote: &git::Remote, cfg: &Config, job: &Job) -> Result<git::Fetched, Error> {
    // The only blobs the planner reads: everything else stays on the server.
    let paths = job.paths();
    let op = || {
        let (remote, base, head, paths) = (
            remote.clone(),
            cfg.branch.clone(),
            cfg.pr_branch.clone(),
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

async fn push(
    remote: &git::Remote,
    mut fetched: git::Fetched,
    cfg: &Config,
    new: gix::ObjectId,
) -> Result<(), git::Error> {
    let branch = cfg.target_branch().clone();
    let remote = remote.clone();
    // The compare-and-swap: the value this run fetched (in push mode, the tip it planned on).
    let expected = match cfg.mode {
        config::Mode::PullRequest => fetched.head_tip,
        config::Mode::Push => Some(fetched.base_tip),
    };
    // One attempt per fetch: a push that failed half-way is judged by fetching again (the
    // caller re-plans), never by pushing the same objects blindly.
    tokio::task::spawn_blocking(move || {
        git::push(&remote, &mut fetched, &branch, expected, new).map(|_| ())
    })
    .await
    .map_err(|e| git::Error::Read {
        source: Box::new(e),
    })?
}
