//! A fake of Azure DevOps' pull request API (Git REST 7.1) following
//! `shared/contracts/azure-devops/`, and rejecting what Azure DevOps rejects: no `api-version`
//! in the query or the Accept header (400 `VssVersionNotSpecifiedException`), no or a wrong
//! token (401, TF400813), an unknown repository (404), a create without its refs or title
//! (400), a second active request for the same source and target (409 TF401179
//! `GitPullRequestExistsException`), an update of a property outside the documented list (400
//! `InvalidArgumentValueException`). Accepts Basic with any user name and the token as the
//! password (a PAT), and Bearer (an Entra token). Answers lists wrapped as `{"value", "count"}`
//! and a create with 201, as the recorded examples do. Completing a request merges it into the
//! served bare repo when its head is `lastMergeSourceCommit`.

use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{Value, json};

use crate::{
    github::Pull,
    merging::{Merging, Refusal},
    server::{Req, Resp, Server, Tls},
};

/// The identity the token belongs to (it creates the requests).
pub const CREATOR: &str = "d6245f20-2af8-44f4-9451-8107cb2767db";

/// The properties an update may set ("Status, Title, Description, CompletionOptions,
/// MergeOptions, AutoCompleteSetBy.Id, TargetRefName"), plus the commit a completion names.
const UPDATABLE: &[&str] = &[
    "status",
    "title",
    "description",
    "completionOptions",
    "mergeOptions",
    "autoCompleteSetBy",
    "targetRefName",
    "lastMergeSourceCommit",
];

/// The fake, serving one repository `/{org}/{project}/_apis/git/repositories/{repo}`.
pub struct AzureFake {
    pub server: Server,
    pulls: Arc<Mutex<Vec<Pull>>>,
    merging: Merging,
}

struct Ctx {
    token: String,
    /// `org/project/_git/repo`, for the web URLs.
    remote: String,
    merging: Merging,
}

impl AzureFake {
    /// Serves `repo` of `org/project`, accepting `token`.
    pub fn start(tls: &Tls, org_project: &str, repo: &str, token: &str) -> AzureFake {
        let pulls: Arc<Mutex<Vec<Pull>>> = Arc::default();
        let merging = Merging::default();
        let prefix = format!("/{org_project}/_apis/git/repositories/{repo}");
        let ctx = Ctx {
            token: token.into(),
            remote: format!("{org_project}/_git/{repo}"),
            merging: merging.clone(),
        };
        let p = pulls.clone();
        let server = Server::start(tls, move |req| {
            if let Some(r) = refuse(req, &ctx.token) {
                return r;
            }
            match req.path.strip_prefix(&prefix) {
                Some(rest) => handle(req, rest, &ctx, &mut p.lock().unwrap()),
                None => wrapped(
                    404,
                    "TF401019: The Git repository with name or identifier does not exist or you do not have permissions for the operation you are attempting.",
                    "GitRepositoryNotFoundException",
                ),
            }
        });
        AzureFake {
            server,
            pulls,
            merging,
        }
    }

    /// The API base to give as GITOPS_API_URL (the organization is in each path).
    pub fn api_url(&self) -> String {
        format!("{}/", self.server.base_url())
    }

    /// Every pull request (`head` is the source branch).
    pub fn pulls(&self) -> Vec<Pull> {
        self.pulls.lock().unwrap().clone()
    }

    /// Opens a pull request as someone else would (for races); returns its id.
    pub fn opener(&self) -> impl Fn(&str, &str, &str) -> u64 + Send + 'static {
        let pulls = self.pulls.clone();
        move |head, base, title| {
            let mut p = pulls.lock().unwrap();
            let number = p.len() as u64 + 1;
            p.push(Pull {
                number,
                head: head.into(),
                base: base.into(),
                title: title.into(),
                open: true,
                ..Pull::default()
            });
            number
        }
    }

    /// Merges into `bare` (the served Env repo) from now on; returns the rules to tune.
    pub fn checks(&self) -> Merging {
        self.merging.clone()
    }

    /// Merges into `bare` (the served Env repo) from now on; returns the rules to tune.
    pub fn serve_merges(&self, bare: &std::path::Path) -> Merging {
        self.merging.set(|r| r.bare = Some(bare.to_path_buf()));
        self.merging.clone()
    }
}

/// The wrapped exception every Azure DevOps error is.
fn wrapped(status: u16, message: &str, type_key: &str) -> Resp {
    Resp::json(
        status,
        &json!({"$id": "1", "innerException": null, "message": message,
                "typeName": format!("Microsoft.TeamFoundation.Git.Server.{type_key}, Microsoft.TeamFoundation.Git.Server"),
                "typeKey": type_key, "errorCode": 0, "eventId": 3000}),
    )
}

/// What every request must carry: an api-version and the token.
fn refuse(req: &Req, token: &str) -> Option<Resp> {
    let in_accept = req
        .header("accept")
        .is_some_and(|a| a.contains("api-version="));
    if !req.query_pairs().contains_key("api-version") && !in_accept {
        return Some(wrapped(
            400,
            &format!(
                "No api-version was supplied for the \"{}\" request. The version must be supplied either as part of the Accept header (e.g. \"application/json; api-version=1.0\") or as a query parameter (e.g. \"?api-version=1.0\").",
                req.method
            ),
            "VssVersionNotSpecifiedException",
        ));
    }
    let auth = req.header("authorization").unwrap_or("");
    let basic_ok = auth
        .strip_prefix("Basic ")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|s| s.split_once(':').map(|(_, p)| p == token))
        .unwrap_or(false);
    if basic_ok || auth == format!("Bearer {token}") {
        return None;
    }
    Some(wrapped(
        401,
        "TF400813: Resource not available for anonymous access. Client authentication required.",
        "UnauthorizedRequestException",
    ))
}

fn branch(r: &str) -> Option<String> {
    r.strip_prefix("refs/heads/").map(str::to_string)
}

fn pull_json(p: &Pull, ctx: &Ctx) -> Value {
    let status = match (&p.merge.merged, p.open) {
        (Some(_), _) => "completed",
        (None, true) => "active",
        (None, false) => "abandoned",
    };
    let mut v = json!({
        "pullRequestId": p.number,
        "codeReviewId": p.number,
        "status": status,
        "title": p.title,
        "description": p.body,
        "isDraft": p.draft,
        "sourceRefName": format!("refs/heads/{}", p.head),
        "targetRefName": format!("refs/heads/{}", p.base),
        "createdBy": {"id": CREATOR, "uniqueName": "iter8-bot@example.com"},
        "repository": {"remoteUrl": format!("https://dev.azure.com/{}", ctx.remote)},
        "labels": p.labels.iter().map(|l| json!({"name": l, "active": true})).collect::<Vec<_>>(),
        "reviewers": p.reviewers.iter().map(|r| json!({"id": r, "vote": 0})).collect::<Vec<_>>(),
        "lastMergeSourceCommit": {"commitId": ctx.merging.head(&p.head)},
        "mergeStatus": if ctx.merging.rules().pending_reads > 0 { "rejectedByPolicy" } else { "succeeded" },
    });
    if let Some(c) = &p.merge.merged {
        v["lastMergeCommit"] = json!({"commitId": c});
    }
    if p.merge.auto.is_some() {
        v["autoCompleteSetBy"] = json!({"id": CREATOR});
    }
    v
}

fn handle(req: &Req, rest: &str, ctx: &Ctx, pulls: &mut Vec<Pull>) -> Resp {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    if req.longer_than("description", 4_000) {
        return wrapped(
            400,
            "Invalid argument value.\r\nParameter name: A description for a pull request must not be longer than 4000 characters.",
            "InvalidArgumentValueException",
        );
    }
    let lower = rest.to_ascii_lowercase();
    let segs: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
    let find = |pulls: &mut Vec<Pull>, n: &str| -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        pulls.iter().position(|p| p.number == n)
    };
    if let Some(r) = crate::statuses::azure(req, segs.as_slice(), &ctx.merging) {
        return r;
    }
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["pullrequests"]) => {
            let q = req.query_pairs();
            let want = |k: &str| q.get(&format!("searchCriteria.{k}")).cloned();
            let status = want("status").unwrap_or_else(|| "active".into());
            let list: Vec<Value> = pulls
                .iter()
                .filter(|p| status == "all" || (status == "active") == p.open)
                .filter(|p| {
                    want("sourceRefName")
                        .is_none_or(|s| branch(&s).as_deref() == Some(p.head.as_str()))
                })
                .filter(|p| {
                    want("targetRefName")
                        .is_none_or(|s| branch(&s).as_deref() == Some(p.base.as_str()))
                })
                .map(|p| pull_json(p, ctx))
                .collect();
            Resp::json(200, &json!({"value": list, "count": list.len()}))
        }
        ("POST", ["pullrequests"]) => create(&body, ctx, pulls),
        ("GET", ["pullrequests", n]) => {
            let Some(i) = find(pulls, n) else {
                return wrapped(
                    404,
                    "TF401180: The requested pull request was not found.",
                    "GitPullRequestNotFoundException",
                );
            };
            let p = &mut pulls[i];
            if p.open {
                ctx.merging.settle(&mut p.merge, &p.base, &p.head, &p.title);
                p.open = p.merge.merged.is_none();
            }
            Resp::json(200, &pull_json(p, ctx))
        }
        ("PATCH", ["pullrequests", n]) => {
            let Some(i) = find(pulls, n) else {
                return wrapped(
                    404,
                    "TF401180: The requested pull request was not found.",
                    "GitPullRequestNotFoundException",
                );
            };
            update(&body, &mut pulls[i], ctx)
        }
        ("POST", ["pullrequests", n, "labels"]) => {
            let (Some(i), Some(name)) = (find(pulls, n), body["name"].as_str()) else {
                return wrapped(
                    400,
                    "The name of the label is required.",
                    "InvalidArgumentValueException",
                );
            };
            if !pulls[i].labels.iter().any(|l| l == name) {
                pulls[i].labels.push(name.into());
            }
            Resp::json(
                200,
                &json!({"id": "6a5d6c1e-0000-0000-0000-000000000001", "name": name, "active": true}),
            )
        }
        ("PUT", ["pullrequests", n, "reviewers", id]) => {
            let Some(i) = find(pulls, n) else {
                return wrapped(
                    404,
                    "TF401180: The requested pull request was not found.",
                    "GitPullRequestNotFoundException",
                );
            };
            // An identity id is a GUID; a vote for someone else must be 0.
            if id.len() != 36 || id.split('-').count() != 5 || body["vote"].as_i64() != Some(0) {
                return wrapped(
                    400,
                    &format!("The identity {id} could not be found."),
                    "IdentityNotFoundException",
                );
            }
            if !pulls[i].reviewers.iter().any(|r| r == id) {
                pulls[i].reviewers.push(id.to_string());
            }
            Resp::json(200, &json!({"id": id, "vote": 0}))
        }
        _ => wrapped(
            404,
            "The resource cannot be found.",
            "ResourceNotFoundException",
        ),
    }
}

fn create(body: &Value, ctx: &Ctx, pulls: &mut Vec<Pull>) -> Resp {
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    let (Some(source), Some(target)) = (
        text("sourceRefName").and_then(branch),
        text("targetRefName").and_then(branch),
    ) else {
        return wrapped(
            400,
            "The source and target ref names must be given as refs/heads/...",
            "InvalidArgumentValueException",
        );
    };
    let Some(title) = text("title") else {
        return wrapped(
            400,
            "The title of the pull request is required.",
            "InvalidArgumentValueException",
        );
    };
    if pulls
        .iter()
        .any(|p| p.open && p.head == source && p.base == target)
    {
        return wrapped(
            409,
            "TF401179: An active pull request for the source and target branch already exists.",
            "GitPullRequestExistsException",
        );
    }
    let p = Pull {
        number: pulls.len() as u64 + 1,
        head: source,
        base: target,
        title: title.into(),
        body: text("description").unwrap_or_default().into(),
        open: true,
        draft: body["isDraft"].as_bool().unwrap_or(false),
        labels: body["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["name"].as_str().map(str::to_string))
            .collect(),
        ..Pull::default()
    };
    let v = pull_json(&p, ctx);
    pulls.push(p);
    Resp::json(201, &v)
}

/// PATCH: the text, abandoning, completing (a merge at `lastMergeSourceCommit`), or
/// auto-complete (`autoCompleteSetBy`).
fn update(body: &Value, p: &mut Pull, ctx: &Ctx) -> Resp {
    if let Some(k) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !UPDATABLE.contains(&k.as_str())))
    {
        return wrapped(
            400,
            &format!("The property {k} cannot be updated."),
            "InvalidArgumentValueException",
        );
    }
    if let Some(t) = body["title"].as_str() {
        p.title = t.into();
    }
    if let Some(d) = body["description"].as_str() {
        p.body = d.into();
    }
    let strategy = body["completionOptions"]["mergeStrategy"]
        .as_str()
        .unwrap_or("noFastForward");
    let method = match strategy {
        "squash" => "squash",
        "rebase" => "rebase",
        _ => "merge",
    };
    let sha = body["lastMergeSourceCommit"]["commitId"].as_str();
    let title = format!("Merged PR {}: {}", p.number, p.title);
    let completing = body["status"] == "completed";
    let auto = body["autoCompleteSetBy"]["id"].as_str() == Some(CREATOR);
    if body["status"] == "abandoned" {
        p.open = false;
    } else if completing || auto {
        if completing && sha.is_none() {
            return wrapped(
                400,
                "lastMergeSourceCommit must be given to complete the pull request.",
                "InvalidArgumentValueException",
            );
        }
        match ctx
            .merging
            .merge(&mut p.merge, &p.base, &p.head, method, sha, &title)
        {
            Ok(_) => p.open = false,
            Err(Refusal::Stale) => {
                return wrapped(
                    409,
                    "TF401181: The pull request cannot be completed because the source branch has been updated since the commit that was specified.",
                    "GitPullRequestStaleException",
                );
            }
            // Policies not met: the request stays active (mergeStatus says why); auto-complete
            // waits for them.
            Err(Refusal::Pending) if auto => p.merge.auto = Some(method.into()),
            Err(Refusal::MethodNotAllowed) => {
                return wrapped(
                    400,
                    &format!("The merge strategy {strategy} is not allowed by the branch policy."),
                    "InvalidArgumentValueException",
                );
            }
            Err(_) => {}
        }
    }
    Resp::json(200, &pull_json(p, ctx))
}
