//! A fake of Bitbucket Data Center's pull request API (REST 1.0, `/rest/api/latest`) following
//! `shared/contracts/bitbucket/`, and rejecting what Data Center rejects: no or a wrong Bearer
//! token (401), an unknown repository (404), a create without its refs or title (400), the same
//! branch as source and target (409), a second open request for the same branches (409
//! `DuplicatePullRequestException` with `existingPullRequest`), an update or merge without the
//! current `version` (400) or with an old one (409 "out-of-date"), auto-merge where the
//! repository does not allow it (403). A request's version moves with every update and every
//! new head (a rescope), as the server's does; merging merges into the served bare repo.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{
    github::Pull,
    merging::{Merging, Refusal},
    server::{Req, Resp, Server, Tls},
};

/// A request and what the fake adds to it: its version and the head it last saw.
#[derive(Debug, Clone)]
struct Held {
    pull: Pull,
    version: i64,
    seen_head: String,
}

struct Ctx {
    key: String,
    repo: String,
    base_url: String,
    merging: Merging,
}

/// The fake, serving one repository `/rest/api/latest/projects/{KEY}/repos/{repo}`.
pub struct BitbucketServerFake {
    pub server: Server,
    pulls: Arc<Mutex<Vec<Held>>>,
    merging: Merging,
}

impl BitbucketServerFake {
    /// Serves `repo` of project `key`, accepting `token` as Bearer.
    pub fn start(tls: &Tls, key: &str, repo: &str, token: &str) -> BitbucketServerFake {
        let pulls: Arc<Mutex<Vec<Held>>> = Arc::default();
        let merging = Merging::default();
        let prefix = format!("/rest/api/latest/projects/{key}/repos/{repo}/pull-requests");
        // The handler needs the server's own URL (for links): set once it listens.
        let ctx = Arc::new(Mutex::new(None::<Ctx>));
        let (p, c, t, k, r) = (
            pulls.clone(),
            ctx.clone(),
            token.to_string(),
            key.to_string(),
            repo.to_string(),
        );
        let server = Server::start(tls, move |req| {
            if req.header("authorization") != Some(&format!("Bearer {t}")) {
                return errors(
                    401,
                    "Authentication failed. Please check your credentials and try again.",
                    "com.atlassian.bitbucket.AuthorisationException",
                );
            }
            let c = c.lock().unwrap();
            let Some(ctx) = c.as_ref() else {
                return errors(503, "starting", "");
            };
            let commits = format!("/rest/api/latest/projects/{k}/repos/{r}/commits/");
            if let Some(sha) = req
                .path
                .strip_prefix(&commits)
                .and_then(|rest| rest.strip_suffix("/builds"))
            {
                return match req.method.as_str() {
                    "POST" => crate::statuses::post_build(req, sha, &ctx.merging),
                    _ => {
                        let key = req.query_pairs().get("key").cloned().unwrap_or_default();
                        crate::statuses::get_build(sha, &key, &ctx.merging)
                    }
                };
            }
            match req.path.strip_prefix(&prefix) {
                Some(rest) => handle(req, rest, ctx, &mut p.lock().unwrap()),
                None => errors(
                    404,
                    &format!("Repository {k}/{r} does not exist."),
                    "com.atlassian.bitbucket.repository.NoSuchRepositoryException",
                ),
            }
        });
        *ctx.lock().unwrap() = Some(Ctx {
            key: key.into(),
            repo: repo.into(),
            base_url: server.base_url(),
            merging: merging.clone(),
        });
        BitbucketServerFake {
            server,
            pulls,
            merging,
        }
    }

    /// The API base to give as GITOPS_API_URL.
    pub fn api_url(&self) -> String {
        format!("{}/rest/api/latest", self.server.base_url())
    }

    /// Every pull request (`head` is the source branch).
    pub fn pulls(&self) -> Vec<Pull> {
        self.pulls
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.pull.clone())
            .collect()
    }

    /// The merge rules and the build statuses posted.
    pub fn checks(&self) -> Merging {
        self.merging.clone()
    }

    /// Merges into `bare` (the served Env repo) from now on; returns the rules to tune.
    pub fn serve_merges(&self, bare: &std::path::Path) -> Merging {
        self.merging.set(|r| r.bare = Some(bare.to_path_buf()));
        self.merging.clone()
    }

    /// Opens a pull request as someone else would (for races).
    pub fn opener(&self) -> impl Fn(&str, &str, &str) + Send + 'static {
        let pulls = self.pulls.clone();
        move |head, base, title| {
            let mut p = pulls.lock().unwrap();
            let number = p.len() as u64 + 1;
            p.push(Held {
                pull: Pull {
                    number,
                    head: head.into(),
                    base: base.into(),
                    title: title.into(),
                    open: true,
                    ..Pull::default()
                },
                version: 0,
                seen_head: String::new(),
            });
        }
    }
}

/// Data Center's error shape: `{"errors": [{"context", "message", "exceptionName"}]}`.
fn errors(status: u16, message: &str, exception: &str) -> Resp {
    Resp::json(
        status,
        &json!({"errors": [{"context": null, "message": message, "exceptionName": exception}]}),
    )
}

fn out_of_date(h: &Held, expected: i64) -> Resp {
    Resp::json(
        409,
        &json!({"errors": [{"context": null,
            "message": "You are attempting to modify a pull request based on out-of-date information.",
            "exceptionName": "com.atlassian.bitbucket.pull.PullRequestOutOfDateException",
            "currentVersion": h.version, "expectedVersion": expected}]}),
    )
}

fn pull_json(h: &Held, ctx: &Ctx) -> Value {
    let p = &h.pull;
    let state = match (&p.merge.merged, p.open) {
        (Some(_), _) => "MERGED",
        (None, true) => "OPEN",
        (None, false) => "DECLINED",
    };
    let r = |branch: &str| {
        let tip = ctx.merging.head(branch);
        json!({"id": format!("refs/heads/{branch}"), "displayId": branch,
               "latestCommit": if tip.is_empty() { Value::Null } else { json!(tip) },
               "repository": {"slug": ctx.repo, "project": {"key": ctx.key}}})
    };
    json!({
        "id": p.number, "version": h.version, "state": state, "open": p.open, "closed": !p.open,
        "title": p.title, "description": p.body, "draft": p.draft,
        "fromRef": r(&p.head), "toRef": r(&p.base),
        "reviewers": p.reviewers.iter().map(|n| json!({"user": {"name": n}, "role": "REVIEWER", "approved": false})).collect::<Vec<_>>(),
        "links": {"self": [{"href": format!("{}/projects/{}/repos/{}/pull-requests/{}", ctx.base_url, ctx.key, ctx.repo, p.number)}]},
    })
}

/// A new head is a rescope: the version moves.
fn rescope(h: &mut Held, ctx: &Ctx) {
    let head = ctx.merging.head(&h.pull.head);
    if h.pull.open && head != h.seen_head {
        if !h.seen_head.is_empty() {
            h.version += 1;
        }
        h.seen_head = head;
    }
}

fn handle(req: &Req, rest: &str, ctx: &Ctx, pulls: &mut Vec<Held>) -> Resp {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    // Bitbucket Data Center (BSERV-14135): a description of 32,768 characters or more.
    if req.longer_than("description", 32_767) {
        return Resp::json(
            400,
            &json!({"errors": [{"context": "description",
                "message": "Please enter a non-empty value less than 32768 characters",
                "exceptionName": null}]}),
        );
    }
    for h in pulls.iter_mut() {
        rescope(h, ctx);
    }
    let segs: Vec<&str> = rest
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let find = |pulls: &mut Vec<Held>, n: &str| -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        pulls.iter().position(|h| h.pull.number == n)
    };
    let missing = || {
        errors(
            404,
            "No pull request exists with this ID.",
            "com.atlassian.bitbucket.pull.NoSuchPullRequestException",
        )
    };
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", []) => list(req, ctx, pulls),
        ("POST", []) => create(&body, ctx, pulls),
        ("GET", [n]) => {
            let Some(i) = find(pulls, n) else {
                return missing();
            };
            let h = &mut pulls[i];
            if h.pull.open {
                ctx.merging
                    .settle(&mut h.pull.merge, &h.pull.base, &h.pull.head, &h.pull.title);
                h.pull.open = h.pull.merge.merged.is_none();
            }
            Resp::json(200, &pull_json(h, ctx))
        }
        ("PUT", [n]) => {
            let Some(i) = find(pulls, n) else {
                return missing();
            };
            let h = &mut pulls[i];
            let Some(v) = body["version"].as_i64() else {
                return errors(
                    400,
                    "The pull request's version attribute was not specified",
                    "",
                );
            };
            if v != h.version {
                return out_of_date(h, v);
            }
            if let Some(t) = body["title"].as_str() {
                h.pull.title = t.into();
            }
            if let Some(d) = body["description"].as_str() {
                h.pull.body = d.into();
            }
            h.version += 1;
            Resp::json(200, &pull_json(h, ctx))
        }
        ("POST", [n, "participants"]) => {
            let Some(i) = find(pulls, n) else {
                return missing();
            };
            let name = body["user"]["name"].as_str().unwrap_or("");
            if !["alice", "bob"].contains(&name) || body["role"] != "REVIEWER" {
                return errors(
                    404,
                    &format!("User {name} does not exist."),
                    "com.atlassian.bitbucket.user.NoSuchUserException",
                );
            }
            let h = &mut pulls[i];
            if !h.pull.reviewers.iter().any(|r| r == name) {
                h.pull.reviewers.push(name.into());
            }
            Resp::json(
                200,
                &json!({"user": {"name": name}, "role": "REVIEWER", "approved": false}),
            )
        }
        ("GET", [n, "auto-merge"]) => {
            let Some(i) = find(pulls, n) else {
                return missing();
            };
            let h = &pulls[i];
            match &h.pull.merge.auto {
                Some(s) => Resp::json(
                    200,
                    &json!({"fromHash": h.seen_head, "strategyId": s,
                    "toRefId": format!("refs/heads/{}", h.pull.base), "autoSubject": true}),
                ),
                None => errors(
                    404,
                    "There is no auto-merge request for this pull request.",
                    "",
                ),
            }
        }
        ("POST", [n, "merge"]) => {
            let Some(i) = find(pulls, n) else {
                return missing();
            };
            merge(req, &body, &mut pulls[i], ctx)
        }
        _ => errors(404, "Not found", ""),
    }
}

fn list(req: &Req, ctx: &Ctx, pulls: &[Held]) -> Resp {
    let q = req.query_pairs();
    let state = q.get("state").map(String::as_str).unwrap_or("OPEN");
    let outgoing = q.get("direction").map(String::as_str) == Some("OUTGOING");
    let at = q
        .get("at")
        .map(|a| a.trim_start_matches("refs/heads/").to_string());
    let values: Vec<Value> = pulls
        .iter()
        .filter(|h| state == "ALL" || (state == "OPEN") == h.pull.open)
        .filter(|h| {
            at.as_ref().is_none_or(|a| {
                if outgoing {
                    *a == h.pull.head
                } else {
                    *a == h.pull.base
                }
            })
        })
        .map(|h| pull_json(h, ctx))
        .collect();
    Resp::json(
        200,
        &json!({"size": values.len(), "limit": 25, "isLastPage": true, "values": values, "start": 0}),
    )
}

fn create(body: &Value, ctx: &Ctx, pulls: &mut Vec<Held>) -> Resp {
    let branch = |k: &str| {
        body[k]["id"]
            .as_str()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string)
    };
    let (Some(head), Some(base)) = (branch("fromRef"), branch("toRef")) else {
        return errors(400, "fromRef and toRef are required", "");
    };
    let Some(title) = body["title"].as_str() else {
        return errors(
            400,
            "Please enter a non-empty value less than 255 characters",
            "",
        );
    };
    if head == base {
        return errors(
            409,
            "The source and target branches are the same.",
            "com.atlassian.bitbucket.pull.EmptyPullRequestException",
        );
    }
    if let Some(h) = pulls
        .iter()
        .find(|h| h.pull.open && h.pull.head == head && h.pull.base == base)
    {
        return Resp::json(
            409,
            &json!({"errors": [{"context": null,
            "message": "Only one pull request may be open for a given source and target branch",
            "exceptionName": "com.atlassian.bitbucket.pull.DuplicatePullRequestException",
            "existingPullRequest": pull_json(h, ctx)}]}),
        );
    }
    let h = Held {
        pull: Pull {
            number: pulls.len() as u64 + 1,
            head: head.clone(),
            base,
            title: title.into(),
            body: body["description"].as_str().unwrap_or_default().into(),
            open: true,
            draft: body["draft"].as_bool().unwrap_or(false),
            ..Pull::default()
        },
        version: 0,
        seen_head: ctx.merging.head(&head),
    };
    let v = pull_json(&h, ctx);
    pulls.push(h);
    Resp::json(201, &v)
}

/// POST merge: the version (query and body) must be the current one; `autoMerge` waits for
/// the merge checks where the repository allows it.
fn merge(req: &Req, body: &Value, h: &mut Held, ctx: &Ctx) -> Resp {
    let Some(v) = req
        .query_pairs()
        .get("version")
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return errors(400, "The pull request's version was not specified", "");
    };
    if v != h.version || body["version"].as_i64().is_some_and(|b| b != v) {
        return out_of_date(h, v);
    }
    if !h.pull.open {
        return errors(
            409,
            "The pull request is not open.",
            "com.atlassian.bitbucket.pull.InvalidPullRequestStateException",
        );
    }
    let auto = body["autoMerge"].as_bool() == Some(true);
    if auto && !ctx.merging.rules().auto_merge {
        return errors(
            403,
            "The auto-merge setting is not enabled for the repository that this pull request targets.",
            "",
        );
    }
    let strategy = body["strategyId"].as_str().unwrap_or("no-ff");
    let method = match strategy {
        "squash" | "squash-ff-only" => "squash",
        "rebase-ff-only" | "rebase-no-ff" => "rebase",
        _ => "merge",
    };
    let title = format!("Pull request #{}: {}", h.pull.number, h.pull.title);
    let head = h.pull.head.clone();
    match ctx
        .merging
        .merge(&mut h.pull.merge, &h.pull.base, &head, method, None, &title)
    {
        Ok(_) => {
            h.pull.open = false;
            h.version += 1;
        }
        Err(Refusal::Pending) if auto => h.pull.merge.auto = Some(strategy.into()),
        Err(Refusal::Pending) => {
            return errors(
                409,
                "A merge check vetoed the merge: the required builds have not passed.",
                "com.atlassian.bitbucket.pull.PullRequestMergeVetoedException",
            );
        }
        Err(Refusal::MethodNotAllowed) => {
            return errors(
                400,
                &format!("The merge strategy {strategy} is not enabled for this repository."),
                "",
            );
        }
        Err(_) => {
            return errors(
                409,
                "The pull request has conflicts and cannot be merged.",
                "com.atlassian.bitbucket.pull.PullRequestMergeVetoedException",
            );
        }
    }
    Resp::json(200, &pull_json(h, ctx))
}
