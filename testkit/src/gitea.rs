//! A fake of Gitea's (and Forgejo's) pulls API (v1) following `shared/contracts/gitea/`, and
//! rejecting what Gitea rejects: a wrong or missing token (401), an unknown repo or a base/head
//! lookup that finds nothing (404 `{"message": "not found", "url": ...}`), a create without
//! `head` or `base` (422), head equal to base (422), a second open PR for the same targets
//! (409 "pull request already exists for these targets [...]"), review requests for unknown
//! users (422). Accepts `Authorization: token X` and `Bearer X`.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{
    github::Pull,
    merging::{Merging, Refusal},
    server::{Req, Resp, Server, Tls},
};

const SWAGGER: &str = "https://gitea.test/api/swagger";

/// The fake, serving `/api/v1/repos/{owner}/{repo}` for one repo.
pub struct GiteaFake {
    pub server: Server,
    pulls: Arc<Mutex<Vec<Pull>>>,
    merging: Merging,
}

impl GiteaFake {
    /// Serves the pulls of `slug` (`owner/repo`), accepting `token`.
    pub fn start(tls: &Tls, slug: &str, token: &str) -> GiteaFake {
        let pulls: Arc<Mutex<Vec<Pull>>> = Arc::default();
        let merging = Merging::default();
        let (p, m, slug, token) = (
            pulls.clone(),
            merging.clone(),
            slug.to_string(),
            token.to_string(),
        );
        let server = Server::start(tls, move |req| {
            match req.path.strip_prefix(&format!("/api/v1/repos/{slug}")) {
                Some(rest) => handle(req, rest, &slug, &token, &mut p.lock().unwrap(), &m),
                None => error(404, "not found"),
            }
        });
        GiteaFake {
            server,
            pulls,
            merging,
        }
    }

    /// The merge rules and the statuses posted.
    pub fn checks(&self) -> Merging {
        self.merging.clone()
    }

    /// Merges into `bare` (the served Env repo) from now on; returns the rules to tune.
    pub fn serve_merges(&self, bare: &std::path::Path) -> Merging {
        self.merging.set(|r| r.bare = Some(bare.to_path_buf()));
        self.merging.clone()
    }

    /// The API base URL to give as GITOPS_API_URL.
    pub fn api_url(&self) -> String {
        format!("{}/api/v1", self.server.base_url())
    }

    /// Every pull request (`head` is `owner:branch`; draft is the `WIP:` title).
    pub fn pulls(&self) -> Vec<Pull> {
        let mut pulls = self.pulls.lock().unwrap().clone();
        for p in &mut pulls {
            p.draft = p.title.starts_with("WIP:");
        }
        pulls
    }
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(status, &json!({ "message": message, "url": SWAGGER }))
}

fn pull_json(p: &Pull, slug: &str, m: &Merging) -> Value {
    json!({
        "merged": p.merge.merged.is_some(),
        "merge_commit_sha": p.merge.merged,
        "id": 100 + p.number,
        "number": p.number,
        "state": if p.open { "open" } else { "closed" },
        "title": p.title,
        "body": p.body,
        "html_url": format!("https://gitea.test/{slug}/pulls/{}", p.number),
        "head": {"label": p.head, "ref": p.head.split_once(':').map_or(p.head.as_str(), |x| x.1), "sha": m.head(&p.head)},
        "base": {"label": p.base, "ref": p.base},
        "draft": p.title.starts_with("WIP:"),
        "labels": p.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "requested_reviewers": p.reviewers.iter().map(|r| json!({"login": r})).collect::<Vec<_>>(),
    })
}

fn handle(
    req: &Req,
    rest: &str,
    slug: &str,
    token: &str,
    pulls: &mut Vec<Pull>,
    m: &Merging,
) -> Resp {
    let auth = req.header("authorization").unwrap_or("");
    let ok = auth.split_once(' ').is_some_and(|(scheme, t)| {
        (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
            && t == token
    });
    if !ok {
        return error(401, "token is required");
    }
    if let Some(r) = crate::statuses::repos(req, rest, m, false) {
        return r;
    }
    let owner = slug.split('/').next().unwrap_or("");
    // `head` as Gitea reads it: a branch of this repo, or `owner:branch`.
    let full_head = |h: &str| {
        if h.contains(':') {
            h.to_string()
        } else {
            format!("{owner}:{h}")
        }
    };
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let number = |s: &str| s.parse::<u64>().ok();
    let segs: Vec<&str> = rest.trim_start_matches('/').splitn(3, '/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        // repoGetPullRequestByBaseHead: GET /pulls/{base}/{head}; the head is the rest of
        // the path, so a branch name may hold '/'.
        ("GET", ["pulls", base, head]) => {
            let base: String = url::form_urlencoded::parse(format!("b={base}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let head = full_head(head);
            // The latest PR for the pair, whatever its state.
            match pulls
                .iter()
                .rev()
                .find(|p| p.base == base && p.head == head)
            {
                Some(p) => Resp::json(200, &pull_json(p, slug, m)),
                None => error(404, "not found"),
            }
        }
        ("POST", ["pulls"]) => {
            let (Some(head), Some(base)) = (text("head"), text("base")) else {
                return error(422, "Invalid PullRequest: base and head must be branches");
            };
            let head = full_head(&head);
            if head == format!("{owner}:{base}") {
                return error(
                    422,
                    "Invalid PullRequest: There are no changes between the head and the base",
                );
            }
            if let Some(p) = pulls
                .iter()
                .find(|p| p.open && p.head == head && p.base == base)
            {
                return error(
                    409,
                    &format!(
                        "pull request already exists for these targets [id: {}, issue_id: {}, head_repo_id: 1, base_repo_id: 1, head_branch: {}, base_branch: {}]",
                        100 + p.number,
                        p.number,
                        head.split_once(':').map_or("", |x| x.1),
                        base
                    ),
                );
            }
            let p = Pull {
                number: pulls.len() as u64 + 1,
                head,
                base,
                title: text("title").unwrap_or_default(),
                body: text("body").unwrap_or_default(),
                open: true,
                ..Pull::default()
            };
            let v = pull_json(&p, slug, m);
            pulls.push(p);
            Resp::json(201, &v)
        }
        ("GET", ["pulls", n]) => {
            let Some(p) = number(n).and_then(|n| pulls.iter_mut().find(|p| p.number == n)) else {
                return error(404, "not found");
            };
            if p.open {
                m.settle(&mut p.merge, &p.base, &p.head, &p.title);
                p.open = p.merge.merged.is_none();
            }
            Resp::json(200, &pull_json(p, slug, m))
        }
        ("POST", ["pulls", n, "merge"]) => {
            let Some(p) = number(n).and_then(|n| pulls.iter_mut().find(|p| p.number == n)) else {
                return error(404, "not found");
            };
            merge(&body, p, m)
        }
        // repoEditPullRequest answers 201 (sic, in the swagger).
        ("PATCH", ["pulls", n]) => {
            let Some(p) = number(n).and_then(|n| pulls.iter_mut().find(|p| p.number == n)) else {
                return error(404, "not found");
            };
            if let Some(t) = text("title") {
                p.title = t;
            }
            if let Some(b) = text("body") {
                p.body = b;
            }
            Resp::json(201, &pull_json(p, slug, m))
        }
        ("POST", ["issues", n, "labels"]) => {
            let Some(p) = number(n).and_then(|n| pulls.iter_mut().find(|p| p.number == n)) else {
                return error(404, "not found");
            };
            let Some(labels) = body.get("labels").and_then(Value::as_array) else {
                return error(422, "labels is required");
            };
            for l in labels.iter().filter_map(Value::as_str) {
                if !p.labels.iter().any(|x| x == l) {
                    p.labels.push(l.into());
                }
            }
            let v: Vec<Value> = p.labels.iter().map(|l| json!({"name": l})).collect();
            Resp::json(200, &Value::Array(v))
        }
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            let Some(p) = number(n).and_then(|n| pulls.iter_mut().find(|p| p.number == n)) else {
                return error(404, "not found");
            };
            let names: Vec<String> = body
                .get("reviewers")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            if let Some(u) = names
                .iter()
                .find(|u| !["alice", "bob"].contains(&u.as_str()))
            {
                return error(422, &format!("user does not exist [uid: 0, name: {u}]"));
            }
            for u in names {
                if !p.reviewers.contains(&u) {
                    p.reviewers.push(u);
                }
            }
            Resp::json(201, &json!([]))
        }
        _ => error(404, "not found"),
    }
}

/// `POST /pulls/{n}/merge` (contracts/gitea/merge.notes.md): 404 closed, 405 a style the
/// repository does not allow or not ready, 409 "head out of date", 201 scheduled for when
/// the checks pass (409 if it was already), 200 merged; both with no body.
fn merge(body: &Value, p: &mut Pull, m: &Merging) -> Resp {
    let Some(style) = body.get("do").and_then(Value::as_str) else {
        return error(422, "[Do]: Required");
    };
    let empty = |status| Resp {
        status,
        headers: vec![],
        body: vec![],
    };
    if !p.open {
        return error(404, "not found");
    }
    let auto = body
        .get("merge_when_checks_succeed")
        .and_then(Value::as_bool)
        == Some(true);
    let sha = body.get("head_commit_id").and_then(Value::as_str);
    let title = format!(
        "Merge pull request '{}' (#{}) from {}",
        p.title, p.number, p.head
    );
    match m.merge(&mut p.merge, &p.base, &p.head, style, sha, &title) {
        Ok(_) => {
            p.open = false;
            empty(200)
        }
        Err(Refusal::Pending) if auto && p.merge.auto.is_some() => error(
            409,
            &format!(
                "pull request is already scheduled to auto merge when checks succeed [pull_id: {}]",
                100 + p.number
            ),
        ),
        Err(Refusal::Pending) if auto => {
            p.merge.auto = Some(style.into());
            empty(201)
        }
        Err(Refusal::Pending) => error(405, "Not all required status checks successful"),
        Err(Refusal::MethodNotAllowed) => error(
            405,
            &format!("{style} is not allowed an allowed merge style for this repository"),
        ),
        Err(Refusal::Stale) => error(409, "head out of date"),
        Err(Refusal::Conflict(e)) => error(409, &e),
        Err(Refusal::NotServed) => error(405, "Please try again later"),
    }
}
