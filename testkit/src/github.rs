//! A fake of GitHub's pulls API that follows `shared/contracts/github/` and rejects what
//! GitHub rejects: no User-Agent (403), a wrong token (401 "Bad credentials"), an unknown API
//! version (400), a missing `head`/`base`/`title` (422), a second open PR for the same
//! head and base (422 "A pull request already exists for OWNER:BRANCH."). It also serves
//! labels, review requests, and a GitHub App's installation-token exchange, which checks the
//! App JWT's RS256 signature, `iss`, `iat` and `exp`. Served under `/api/v3`, as GitHub
//! Enterprise Server does, unless started at another prefix.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{
    merging::{MergeState, Merging, Refusal},
    server::{Req, Resp, Server, Tls},
};

/// A pull request the fake holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pull {
    pub number: u64,
    /// Always `owner:branch`.
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub open: bool,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub draft: bool,
    pub merge: MergeState,
}

/// A GitHub App the fake knows: its id, its installation, its public key (PKCS#1 DER), and
/// the installation token it hands out.
#[derive(Clone)]
pub struct App {
    pub app_id: String,
    pub installation_id: u64,
    pub public_key: Vec<u8>,
    pub issues_token: String,
}

/// The fake, serving `/repos/{owner}/{repo}/pulls` and friends.
pub struct GitHubFake {
    pub server: Server,
    pulls: Arc<Mutex<Vec<Pull>>>,
    app: Arc<Mutex<Option<App>>>,
    prefix: String,
    merging: Merging,
}

/// The fields of `EnablePullRequestAutoMergeInput`, read from the published schema.
fn auto_merge_input_fields() -> Vec<String> {
    let path = crate::shared_dir().join("contracts/github/graphql-automerge.graphql");
    let text = std::fs::read_to_string(path).expect("the GraphQL contract");
    let start = text
        .find("input EnablePullRequestAutoMergeInput {")
        .expect("the input type");
    let body = &text[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('"') && l.contains(':'))
        .map(|l| l.split(':').next().unwrap().trim().to_string())
        .collect()
}

impl GitHubFake {
    /// Serves the pulls of `slug` (`owner/repo`) under `/api/v3`, accepting `token`.
    pub fn start(tls: &Tls, slug: &str, token: &str) -> GitHubFake {
        GitHubFake::start_at(tls, slug, token, "/api/v3")
    }

    /// As [`GitHubFake::start`], under `prefix` ("" for github.com's layout).
    pub fn start_at(tls: &Tls, slug: &str, token: &str, prefix: &str) -> GitHubFake {
        let pulls: Arc<Mutex<Vec<Pull>>> = Arc::default();
        let app: Arc<Mutex<Option<App>>> = Arc::default();
        let merging = Merging::default();
        let (p, a, m, slug, token, pre) = (
            pulls.clone(),
            app.clone(),
            merging.clone(),
            slug.to_string(),
            token.to_string(),
            prefix.to_string(),
        );
        // GraphQL beside REST: `/graphql`, or `/api/graphql` beside GHES's `/api/v3`.
        let graphql = match prefix.strip_suffix("/v3") {
            Some(api) => format!("{api}/graphql"),
            None => format!("{prefix}/graphql"),
        };
        let inputs = auto_merge_input_fields();
        let server = Server::start(tls, move |req| {
            let ctx = Ctx {
                slug: &slug,
                token: &token,
                merging: &m,
            };
            if req.path == graphql {
                return graphql_handle(req, &ctx, &p, &inputs);
            }
            match req.path.strip_prefix(&pre) {
                Some(path) => handle(req, path, &ctx, &p, &a),
                None => error(404, "Not Found"),
            }
        });
        GitHubFake {
            server,
            pulls,
            app,
            prefix: prefix.into(),
            merging,
        }
    }

    /// The merge rules and the statuses posted (a test requires contexts through it).
    pub fn checks(&self) -> Merging {
        self.merging.clone()
    }

    /// Merges into `bare` (the served Env repo) from now on; returns the rules to tune.
    pub fn serve_merges(&self, bare: &std::path::Path) -> Merging {
        self.merging.set(|r| r.bare = Some(bare.to_path_buf()));
        self.merging.clone()
    }

    /// Makes the fake know a GitHub App (the token exchange answers only for it).
    pub fn add_app(&self, app: App) {
        *self.app.lock().unwrap() = Some(app);
    }

    /// The API base URL to give as GITOPS_API_URL.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.server.base_url(), self.prefix)
    }

    /// Every pull request, open or closed.
    pub fn pulls(&self) -> Vec<Pull> {
        self.pulls.lock().unwrap().clone()
    }

    /// A handle to the pull requests that outlives this borrow (for server hooks).
    pub fn pulls_handle(&self) -> PullsHandle {
        PullsHandle(self.pulls.clone())
    }

    /// Forgets every pull request (benchmarks start each run from the same state).
    pub fn clear(&self) {
        self.pulls.lock().unwrap().clear();
    }

    /// Adds a pull request, as if someone had opened it.
    pub fn add(&self, head: &str, base: &str, title: &str) -> u64 {
        self.pulls_handle().add(head, base, title)
    }
}

/// Shared access to the fake's pull requests.
pub struct PullsHandle(Arc<Mutex<Vec<Pull>>>);

impl PullsHandle {
    /// Every pull request, as [`GitHubFake::pulls`].
    pub fn all(&self) -> Vec<Pull> {
        self.0.lock().unwrap().clone()
    }

    /// Adds an open pull request, as if someone had opened it; returns its number.
    pub fn add(&self, head: &str, base: &str, title: &str) -> u64 {
        let mut p = self.0.lock().unwrap();
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

    /// Closes pull request `number` without merging it, as a person would.
    pub fn close(&self, number: u64) {
        if let Some(p) = self
            .0
            .lock()
            .unwrap()
            .iter_mut()
            .find(|p| p.number == number)
        {
            p.open = false;
        }
    }
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(
        status,
        &json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

/// What every handler needs of the fake.
struct Ctx<'a> {
    slug: &'a str,
    token: &'a str,
    merging: &'a Merging,
}

fn pull_json(p: &Pull, base_url: &str, slug: &str, m: &Merging) -> Value {
    let auto = p.merge.auto.as_ref().map(|method| {
        json!({"enabled_by": {"login": "iter8-bot"}, "merge_method": method,
               "commit_title": p.title, "commit_message": ""})
    });
    json!({
        "number": p.number,
        "node_id": format!("PR_kwDOfake{}", p.number),
        "merged": p.merge.merged.is_some(),
        // GitHub fills it for an open request too (its test merge commit).
        "merge_commit_sha": p.merge.merged.clone().unwrap_or_else(|| "0".repeat(40)),
        "auto_merge": auto,
        "state": if p.open { "open" } else { "closed" },
        "title": p.title,
        "body": p.body,
        "html_url": format!("{base_url}/{slug}/pull/{}", p.number),
        "url": format!("{base_url}/repos/{slug}/pulls/{}", p.number),
        "head": {"label": p.head, "ref": p.head.split_once(':').map(|x| x.1).unwrap_or(&p.head), "sha": m.head(&p.head)},
        "base": {"label": p.base, "ref": p.base},
        "draft": p.draft,
        "labels": p.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "requested_reviewers": p.reviewers.iter().map(|r| json!({"login": r})).collect::<Vec<_>>(),
    })
}

fn handle(
    req: &Req,
    path: &str,
    ctx: &Ctx,
    pulls: &Mutex<Vec<Pull>>,
    app: &Mutex<Option<App>>,
) -> Resp {
    let (slug, token) = (ctx.slug, ctx.token);
    // The pulls API's limit on a description (a 422 from create and update alike).
    if matches!(req.method.as_str(), "POST" | "PATCH") && req.longer_than("body", 65_536) {
        return Resp::json(
            422,
            &json!({"message": "Validation Failed",
                "errors": [{"resource": "Issue", "code": "custom", "field": "body",
                    "message": "body is too long (maximum is 65536 characters)"}],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}),
        );
    }
    // Troubleshooting docs: "Requests without a valid User-Agent header will be rejected."
    if req.header("user-agent").is_none_or(str::is_empty) {
        return error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    if let Some(v) = req.header("x-github-api-version")
        && v != "2022-11-28"
    {
        return error(
            400,
            &format!("Unsupported 'X-GitHub-Api-Version' header: {v}"),
        );
    }
    if path.starts_with("/app/") {
        return app_token(req, path, app);
    }
    let auth_ok = req
        .header("authorization")
        .is_some_and(|a| a == format!("Bearer {token}") || a == format!("token {token}"));
    if !auth_ok {
        return error(401, "Bad credentials");
    }
    if let Some(rest) = path.strip_prefix(&format!("/repos/{slug}"))
        && let Some(r) = crate::statuses::repos(req, rest, ctx.merging, true)
    {
        return r;
    }
    let owner = slug.split('/').next().unwrap_or("");
    let base_path = format!("/repos/{slug}/pulls");
    let base_url = "https://github.test";
    let mut pulls = pulls.lock().unwrap();
    let issues = format!("/repos/{slug}/issues/");
    match (req.method.as_str(), path) {
        ("GET", p) if p == base_path => {
            let q = req.query_pairs();
            let state = q.get("state").map(String::as_str).unwrap_or("open");
            if !["open", "closed", "all"].contains(&state) {
                return error(422, "Validation Failed");
            }
            let list: Vec<Value> = pulls
                .iter()
                .filter(|p| match state {
                    "open" => p.open,
                    "closed" => !p.open,
                    _ => true,
                })
                // `head` filters by `user:ref-name`.
                .filter(|p| q.get("head").is_none_or(|h| *h == p.head))
                .filter(|p| q.get("base").is_none_or(|b| *b == p.base))
                .map(|p| pull_json(p, base_url, slug, ctx.merging))
                .collect();
            Resp::json(200, &Value::Array(list))
        }
        ("POST", p) if p == base_path => {
            let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                return error(400, "Problems parsing JSON");
            };
            let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(head), Some(base)) = (field("head"), field("base")) else {
                return Resp::json(
                    422,
                    &json!({"message": "Validation Failed", "documentation_url": "x",
                    "errors": [{"resource": "PullRequest", "field": "head", "code": "missing_field"}]}),
                );
            };
            let Some(title) = field("title") else {
                return Resp::json(
                    422,
                    &json!({"message": "Validation Failed", "documentation_url": "x",
                    "errors": [{"resource": "PullRequest", "field": "title", "code": "missing_field"}]}),
                );
            };
            let head = if head.contains(':') {
                head
            } else {
                format!("{owner}:{head}")
            };
            if pulls
                .iter()
                .any(|p| p.open && p.head == head && p.base == base)
            {
                return Resp::json(
                    422,
                    &json!({"message": "Validation Failed",
                    "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {head}.")}],
                    "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}),
                );
            }
            let number = pulls.len() as u64 + 1;
            let p = Pull {
                number,
                head,
                base,
                title,
                body: field("body").unwrap_or_default(),
                open: true,
                draft: body.get("draft").and_then(Value::as_bool).unwrap_or(false),
                ..Pull::default()
            };
            let v = pull_json(&p, base_url, slug, ctx.merging);
            pulls.push(p);
            Resp::json(201, &v)
        }
        // issues/add-labels: a PR is an issue; `labels` holds names.
        ("POST", p) if p.starts_with(&issues) && p.ends_with("/labels") => {
            let n = p[issues.len()..p.len() - "/labels".len()]
                .parse::<u64>()
                .ok();
            let Some(pull) = n.and_then(|n| pulls.iter_mut().find(|x| x.number == n)) else {
                return error(404, "Not Found");
            };
            let names: Option<Vec<String>> = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|b| b.get("labels").cloned())
                .and_then(|l| serde_json::from_value(l).ok());
            let Some(names) = names else {
                return error(
                    422,
                    "Invalid request.\n\nFor 'links/0/schema', nil is not an array.",
                );
            };
            for n in names {
                if !pull.labels.contains(&n) {
                    pull.labels.push(n);
                }
            }
            let v: Vec<Value> = pull.labels.iter().map(|l| json!({"name": l})).collect();
            Resp::json(200, &Value::Array(v))
        }
        // pulls/request-reviewers
        ("POST", p)
            if p.starts_with(&format!("{base_path}/")) && p.ends_with("/requested_reviewers") =>
        {
            let n = p[base_path.len() + 1..p.len() - "/requested_reviewers".len()]
                .parse::<u64>()
                .ok();
            let Some(pull) = n.and_then(|n| pulls.iter_mut().find(|x| x.number == n)) else {
                return error(404, "Not Found");
            };
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let list = |k: &str| -> Vec<String> {
                body.get(k)
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default()
            };
            let (users, teams) = (list("reviewers"), list("team_reviewers"));
            if users.is_empty() && teams.is_empty() {
                return error(422, "Validation Failed");
            }
            for r in users.into_iter().chain(teams) {
                if !pull.reviewers.contains(&r) {
                    pull.reviewers.push(r);
                }
            }
            Resp::json(201, &pull_json(pull, base_url, slug, ctx.merging))
        }
        ("GET", p) if p.starts_with(&format!("{base_path}/")) => {
            let n = p[base_path.len() + 1..].parse::<u64>().ok();
            let Some(pull) = n.and_then(|n| pulls.iter_mut().find(|x| x.number == n)) else {
                return error(404, "Not Found");
            };
            if pull.open {
                ctx.merging
                    .settle(&mut pull.merge, &pull.base, &pull.head, &pull.title);
                pull.open = pull.merge.merged.is_none();
            }
            Resp::json(200, &pull_json(pull, base_url, slug, ctx.merging))
        }
        ("PUT", p) if p.starts_with(&format!("{base_path}/")) && p.ends_with("/merge") => {
            let n = p[base_path.len() + 1..p.len() - "/merge".len()]
                .parse::<u64>()
                .ok();
            let Some(pull) = n.and_then(|n| pulls.iter_mut().find(|x| x.number == n)) else {
                return error(404, "Not Found");
            };
            merge(req, pull, ctx.merging)
        }
        ("PATCH", p) if p.starts_with(&format!("{base_path}/")) => {
            let Ok(n) = p[base_path.len() + 1..].parse::<u64>() else {
                return error(404, "Not Found");
            };
            let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                return error(400, "Problems parsing JSON");
            };
            let Some(pull) = pulls.iter_mut().find(|x| x.number == n) else {
                return error(404, "Not Found");
            };
            if let Some(t) = body.get("title").and_then(Value::as_str) {
                pull.title = t.into();
            }
            if let Some(b) = body.get("body").and_then(Value::as_str) {
                pull.body = b.into();
            }
            Resp::json(200, &pull_json(pull, base_url, slug, ctx.merging))
        }
        _ => error(404, "Not Found"),
    }
}

/// `PUT /pulls/{n}/merge` (contracts/github/merge.notes.md): 405 not mergeable or a method
/// the repository does not allow, 409 a `sha` that is not the head, 200 merged.
fn merge(req: &Req, pull: &mut Pull, m: &Merging) -> Resp {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let method = body["merge_method"].as_str().unwrap_or("merge");
    if !["merge", "squash", "rebase"].contains(&method) {
        return error(422, "Validation Failed");
    }
    if !pull.open {
        return error(405, "Pull Request is not mergeable");
    }
    let title = format!("Merge pull request #{} from {}", pull.number, pull.head);
    match m.merge(
        &mut pull.merge,
        &pull.base,
        &pull.head,
        method,
        body["sha"].as_str(),
        &title,
    ) {
        Ok(sha) => {
            pull.open = false;
            Resp::json(
                200,
                &json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
            )
        }
        Err(Refusal::MethodNotAllowed) => error(
            405,
            match method {
                "squash" => "Squash merges are not allowed on this repository.",
                "rebase" => "Rebase merges are not allowed on this repository.",
                _ => "Merge commits are not allowed on this repository.",
            },
        ),
        Err(Refusal::Stale) => error(
            409,
            "Head branch was modified. Review and try the merge again.",
        ),
        Err(_) => error(405, "Pull Request is not mergeable"),
    }
}

fn graphql_error(message: &str) -> Resp {
    Resp::json(
        200,
        &json!({"data": {"enablePullRequestAutoMerge": null},
                "errors": [{"message": message, "path": ["enablePullRequestAutoMerge"]}]}),
    )
}

/// `POST /graphql`: only `enablePullRequestAutoMerge`, its input fields checked against the
/// published schema. A repository without auto-merge and a request with nothing to wait for
/// answer as GitHub does (HTTP 200 with `errors`).
fn graphql_handle(req: &Req, ctx: &Ctx, pulls: &Mutex<Vec<Pull>>, inputs: &[String]) -> Resp {
    if req.header("authorization") != Some(&format!("Bearer {}", ctx.token)) {
        return error(401, "Bad credentials");
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let query = body["query"].as_str().unwrap_or("");
    let Some(at) = query.find("enablePullRequestAutoMerge(input: {") else {
        return graphql_error("only enablePullRequestAutoMerge is served");
    };
    let input = &query[at + "enablePullRequestAutoMerge(input: {".len()..];
    let input = &input[..input.find('}').unwrap_or(0)];
    for field in input.split(',').filter_map(|f| f.split(':').next()) {
        if !inputs.iter().any(|i| i == field.trim()) {
            return graphql_error(&format!(
                "InputObject 'EnablePullRequestAutoMergeInput' doesn't accept argument '{}'",
                field.trim()
            ));
        }
    }
    let v = &body["variables"];
    let method = v["method"].as_str().unwrap_or("MERGE").to_ascii_lowercase();
    let mut pulls = pulls.lock().unwrap();
    let id = v["pr"].as_str().unwrap_or("");
    let Some(pull) = pulls
        .iter_mut()
        .find(|p| format!("PR_kwDOfake{}", p.number) == id)
    else {
        return graphql_error(&format!(
            "Could not resolve to a node with the global id of '{id}'"
        ));
    };
    let rules = ctx.merging.rules();
    if !rules.auto_merge {
        return graphql_error("Auto merge is not allowed for this repository");
    }
    if !pull.open {
        return graphql_error("Pull request Pull request is closed");
    }
    if v["head"]
        .as_str()
        .is_some_and(|h| h != ctx.merging.head(&pull.head))
    {
        return graphql_error("Expected head OID does not match the pull request's head");
    }
    if rules.pending_reads == 0 && ctx.merging.checks_pass(&ctx.merging.head(&pull.head)) {
        return graphql_error("Pull request Pull request is in clean status");
    }
    pull.merge.auto = Some(method);
    Resp::json(
        200,
        &json!({"data": {"enablePullRequestAutoMerge": {"clientMutationId": null}}}),
    )
}

/// `POST /app/installations/{id}/access_tokens`: only with a valid App JWT (RS256 by the
/// App's key, `iss` the App, issued in the past, expiring within ten minutes).
fn app_token(req: &Req, path: &str, app: &Mutex<Option<App>>) -> Resp {
    let Some(app) = app.lock().unwrap().clone() else {
        return error(404, "Not Found");
    };
    let want = format!("/app/installations/{}/access_tokens", app.installation_id);
    if req.method != "POST" || path != want {
        return error(404, "Not Found");
    }
    let jwt = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if let Err(why) = check_jwt(jwt, &app) {
        return error(
            401,
            &format!("A JSON web token could not be decoded ({why})"),
        );
    }
    Resp::json(
        201,
        &json!({"token": app.issues_token, "expires_at": "2099-01-01T00:00:00Z",
                "permissions": {"contents": "write", "pull_requests": "write"},
                "repository_selection": "selected"}),
    )
}

fn check_jwt(jwt: &str, app: &App) -> Result<(), String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts[..] else {
        return Err("not three parts".into());
    };
    let header: Value = b64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad header")?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let sig = b64.decode(sig).map_err(|_| "bad signature encoding")?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &app.public_key,
    )
    .verify(format!("{h}.{c}").as_bytes(), &sig)
    .map_err(|_| "signature does not verify with the App's key")?;
    let claims: Value = b64
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad claims")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let iss = match &claims["iss"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("no iss".into()),
    };
    if iss != app.app_id {
        return Err(format!("iss {iss} is not the App"));
    }
    let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
    let (Some(iat), Some(exp)) = (iat, exp) else {
        return Err("iat and exp must be numbers".into());
    };
    if iat > now + 5 {
        return Err("iat is in the future".into());
    }
    if exp <= now {
        return Err("expired".into());
    }
    if exp > now + 600 || exp - iat > 660 {
        return Err("'Expiration time' claim ('exp') is too far in the future".into());
    }
    Ok(())
}
