//! A fake of GitHub's pulls API that follows `shared/contracts/github/` and rejects what
//! GitHub rejects: no User-Agent (403), a wrong token (401 "Bad credentials"), an unknown API
//! version (400), a missing `head`/`base`/`title` (422), a second open PR for the same
//! head and base (422 "A pull request already exists for OWNER:BRANCH.").

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::server::{Req, Resp, Server, Tls};

/// A pull request the fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    /// Always `owner:branch`.
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub open: bool,
}

/// The fake, serving `/repos/{owner}/{repo}/pulls`.
pub struct GitHubFake {
    pub server: Server,
    pulls: Arc<Mutex<Vec<Pull>>>,
}

impl GitHubFake {
    /// Serves the pulls of `slug` (`owner/repo`), accepting `token`.
    pub fn start(tls: &Tls, slug: &str, token: &str) -> GitHubFake {
        let pulls: Arc<Mutex<Vec<Pull>>> = Arc::default();
        let (p, slug, token) = (pulls.clone(), slug.to_string(), token.to_string());
        let server = Server::start(tls, move |req| handle(req, &slug, &token, &p));
        GitHubFake { server, pulls }
    }

    /// The API base URL to give as GITOPS_API_URL.
    pub fn api_url(&self) -> String {
        self.server.base_url()
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
    /// Adds an open pull request, as if someone had opened it; returns its number.
    pub fn add(&self, head: &str, base: &str, title: &str) -> u64 {
        let mut p = self.0.lock().unwrap();
        let number = p.len() as u64 + 1;
        p.push(Pull {
            number,
            head: head.into(),
            base: base.into(),
            title: title.into(),
            body: String::new(),
            open: true,
        });
        number
    }
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(
        status,
        &json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

fn pull_json(p: &Pull, base_url: &str, slug: &str) -> Value {
    json!({
        "number": p.number,
        "state": if p.open { "open" } else { "closed" },
        "title": p.title,
        "body": p.body,
        "html_url": format!("{base_url}/{slug}/pull/{}", p.number),
        "url": format!("{base_url}/repos/{slug}/pulls/{}", p.number),
        "head": {"label": p.head, "ref": p.head.split_once(':').map(|x| x.1).unwrap_or(&p.head)},
        "base": {"label": p.base, "ref": p.base},
    })
}

fn handle(req: &Req, slug: &str, token: &str, pulls: &Mutex<Vec<Pull>>) -> Resp {
    // Troubleshooting docs: "Requests without a valid User-Agent header will be rejected."
    if req.header("user-agent").is_none_or(str::is_empty) {
        return error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    let auth_ok = req
        .header("authorization")
        .is_some_and(|a| a == format!("Bearer {token}") || a == format!("token {token}"));
    if !auth_ok {
        return error(401, "Bad credentials");
    }
    if let Some(v) = req.header("x-github-api-version")
        && v != "2022-11-28"
    {
        return error(
            400,
            &format!("Unsupported 'X-GitHub-Api-Version' header: {v}"),
        );
    }
    let owner = slug.split('/').next().unwrap_or("");
    let base_path = format!("/repos/{slug}/pulls");
    let base_url = "https://github.test";
    let mut pulls = pulls.lock().unwrap();
    match (req.method.as_str(), req.path.as_str()) {
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
                .map(|p| pull_json(p, base_url, slug))
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
            };
            let v = pull_json(&p, base_url, slug);
            pulls.push(p);
            Resp::json(201, &v)
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
            Resp::json(200, &pull_json(pull, base_url, slug))
        }
        _ => error(404, "Not Found"),
    }
}
