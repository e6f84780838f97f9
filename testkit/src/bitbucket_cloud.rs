//! A fake of Bitbucket Cloud's pull request API (REST 2.0) following
//! `shared/contracts/bitbucket/`, and rejecting what Cloud rejects: no or a wrong Bearer token
//! (401), a create without `title` or `source.branch.name` (400 with `fields`), a `q` filter on
//! a field it does not know (400), a reviewer that is not a `{uuid}` or account id it knows
//! (400). Errors use the documented envelope `{"type": "error", "error": {"message", …}}`;
//! lists the paginated wrapper `{"size", "page", "pagelen", "values"}`; commits are named by
//! 12-digit abbreviated hashes, as Cloud does. Cloud documents no answer for a second open
//! request on the same branches: this fake answers it with a 400 in that envelope (an
//! assumption, said here and in the README).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{
    github::Pull,
    merging::Merging,
    server::{Req, Resp, Server, Tls},
};

/// Reviewers the fake knows: a UUID and an account id.
pub const REVIEWERS: [&str; 2] = [
    "{d2b4c0e6-6f1a-4b8e-9c3d-5a7e1f2b3c4d}",
    "557058:0f6e3c1a-2b4d-4e8f-9a1b-3c5d7e9f1a2b",
];

/// The fake, serving `/2.0/repositories/{workspace}/{repo}/pullrequests`.
pub struct BitbucketCloudFake {
    pub server: Server,
    pulls: Arc<Mutex<Vec<Pull>>>,
    merging: Merging,
}

impl BitbucketCloudFake {
    /// A reviewer it knows, by UUID.
    pub const REVIEWER_UUID: &str = REVIEWERS[0];

    /// Serves `workspace/repo`, accepting `token` as Bearer.
    pub fn start(tls: &Tls, slug: &str, token: &str) -> BitbucketCloudFake {
        let pulls: Arc<Mutex<Vec<Pull>>> = Arc::default();
        let merging = Merging::default();
        let prefix = format!("/2.0/repositories/{slug}/pullrequests");
        let (p, m, t, s) = (
            pulls.clone(),
            merging.clone(),
            token.to_string(),
            slug.to_string(),
        );
        let server = Server::start(tls, move |req| {
            if req.header("authorization") != Some(&format!("Bearer {t}")) {
                return error(
                    401,
                    "Token is invalid, expired, or not supported for this endpoint.",
                );
            }
            let commit = format!("/2.0/repositories/{s}/commit/");
            if let Some(rest) = req.path.strip_prefix(&commit)
                && let Some((sha, build)) = rest.split_once("/statuses/build")
            {
                return match (req.method.as_str(), build.trim_start_matches('/')) {
                    ("POST", "") => crate::statuses::post_build(req, sha, &m),
                    ("GET", key) if !key.is_empty() => {
                        let key: String =
                            url::form_urlencoded::parse(format!("k={key}").as_bytes())
                                .next()
                                .map(|(_, v)| v.into_owned())
                                .unwrap_or_default();
                        crate::statuses::get_build(sha, &key, &m)
                    }
                    _ => error(404, "Resource not found"),
                };
            }
            match req.path.strip_prefix(&prefix) {
                Some(rest) => handle(req, rest, &s, &m, &mut p.lock().unwrap()),
                None => error(404, "Repository not found"),
            }
        });
        BitbucketCloudFake {
            server,
            pulls,
            merging,
        }
    }

    /// The API base to give as GITOPS_API_URL.
    pub fn api_url(&self) -> String {
        format!("{}/2.0", self.server.base_url())
    }

    /// Every pull request (`head` is the source branch).
    pub fn pulls(&self) -> Vec<Pull> {
        self.pulls.lock().unwrap().clone()
    }

    /// The merge rules and the build statuses posted.
    pub fn checks(&self) -> Merging {
        self.merging.clone()
    }

    /// Serves merges into `bare`; returns the rules.
    pub fn serve_merges(&self, bare: &std::path::Path) -> Merging {
        self.merging.set(|r| r.bare = Some(bare.to_path_buf()));
        self.merging.clone()
    }

    /// A person merging request `number` in the web UI (a merge commit), as a closure for a
    /// server hook.
    pub fn person_merges(&self, number: u64) -> impl FnOnce() + Send + 'static {
        let (pulls, m) = (self.pulls.clone(), self.merging.clone());
        move || {
            let mut pulls = pulls.lock().unwrap();
            let p = pulls
                .iter_mut()
                .find(|p| p.number == number)
                .expect("the request");
            let title = format!("Merged in {} (pull request #{number})", p.head);
            m.merge(&mut p.merge, &p.base, &p.head, "merge", None, &title)
                .expect("the merge");
            p.open = false;
        }
    }

    /// Opens a pull request as someone else would (for races).
    pub fn opener(&self) -> impl Fn(&str, &str, &str) + Send + 'static {
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
        }
    }
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(
        status,
        &json!({"type": "error", "error": {"message": message}}),
    )
}

fn short(id: &str) -> Value {
    match id.get(..12) {
        Some(s) => json!({"hash": s, "type": "commit"}),
        None => Value::Null,
    }
}

fn pull_json(p: &Pull, slug: &str, m: &Merging) -> Value {
    let state = match (&p.merge.merged, p.open) {
        (Some(_), _) => "MERGED",
        (None, true) => "OPEN",
        (None, false) => "DECLINED",
    };
    let reviewer = |r: &String| {
        if r.starts_with('{') {
            json!({"type": "user", "uuid": r})
        } else {
            json!({"type": "user", "account_id": r})
        }
    };
    json!({
        "type": "pullrequest", "id": p.number, "title": p.title, "description": p.body,
        "state": state, "draft": p.draft,
        "source": {"branch": {"name": p.head}, "commit": short(&m.head(&p.head))},
        "destination": {"branch": {"name": p.base}, "commit": short(&m.head(&p.base))},
        "reviewers": p.reviewers.iter().map(reviewer).collect::<Vec<_>>(),
        "merge_commit": p.merge.merged.as_deref().map(short).unwrap_or(Value::Null),
        "links": {"html": {"href": format!("https://bitbucket.org/{slug}/pull-requests/{}", p.number)}},
    })
}

/// The `q` filter the tool sends: `field = "value"` clauses joined by AND.
fn filter(q: &str) -> Result<Vec<(String, String)>, String> {
    q.split(" AND ")
        .map(|c| {
            let (f, v) = c.split_once(" = ").ok_or(format!("cannot parse {c:?}"))?;
            let f = f.trim();
            if !["source.branch.name", "destination.branch.name", "state"].contains(&f) {
                return Err(format!("Invalid field name '{f}'"));
            }
            let v = v.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"'));
            Ok((f.to_string(), v.ok_or("strings are quoted")?.to_string()))
        })
        .collect()
}

fn handle(req: &Req, rest: &str, slug: &str, m: &Merging, pulls: &mut Vec<Pull>) -> Resp {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let find = |pulls: &mut Vec<Pull>, n: &str| -> Option<usize> {
        let n: u64 = n.parse().ok()?;
        pulls.iter().position(|p| p.number == n)
    };
    match (req.method.as_str(), rest.trim_start_matches('/')) {
        ("GET", "") => {
            let q = req.query_pairs();
            let clauses = match q.get("q").map(|q| filter(q)).transpose() {
                Ok(c) => c.unwrap_or_default(),
                Err(e) => return error(400, &e),
            };
            let values: Vec<Value> = pulls
                .iter()
                .filter(|p| {
                    clauses.iter().all(|(f, v)| match f.as_str() {
                        "source.branch.name" => p.head == *v,
                        "destination.branch.name" => p.base == *v,
                        _ => (v == "OPEN") == p.open,
                    })
                })
                .map(|p| pull_json(p, slug, m))
                .collect();
            Resp::json(
                200,
                &json!({"size": values.len(), "page": 1, "pagelen": 10, "values": values}),
            )
        }
        ("POST", "") => {
            let (Some(title), Some(head)) = (
                body["title"].as_str(),
                body["source"]["branch"]["name"].as_str(),
            ) else {
                return Resp::json(
                    400,
                    &json!({"type": "error", "error": {"message": "Bad request",
                    "fields": {"source": ["This field is required."]},
                    "detail": "You must specify a valid source branch when creating a pull request."}}),
                );
            };
            let base = body["destination"]["branch"]["name"]
                .as_str()
                .unwrap_or("main");
            if pulls
                .iter()
                .any(|p| p.open && p.head == head && p.base == base)
            {
                return error(
                    400,
                    "There is already an open pull request from this branch to the destination.",
                );
            }
            let p = Pull {
                number: pulls.len() as u64 + 1,
                head: head.into(),
                base: base.into(),
                title: title.into(),
                body: body["description"].as_str().unwrap_or_default().into(),
                open: true,
                draft: body["draft"].as_bool().unwrap_or(false),
                ..Pull::default()
            };
            let v = pull_json(&p, slug, m);
            pulls.push(p);
            Resp::json(201, &v)
        }
        ("GET", n) => {
            let Some(i) = find(pulls, n) else {
                return error(404, "Pull request not found");
            };
            let p = &mut pulls[i];
            if p.open {
                m.settle(&mut p.merge, &p.base, &p.head, &p.title);
                p.open = p.merge.merged.is_none();
            }
            Resp::json(200, &pull_json(p, slug, m))
        }
        ("PUT", n) => {
            let Some(i) = find(pulls, n) else {
                return error(404, "Pull request not found");
            };
            let p = &mut pulls[i];
            if !p.open {
                return error(400, "Only open pull requests can be mutated.");
            }
            if let Some(t) = body["title"].as_str() {
                p.title = t.into();
            }
            if let Some(d) = body["description"].as_str() {
                p.body = d.into();
            }
            if let Some(list) = body["reviewers"].as_array() {
                let ids: Vec<String> = list
                    .iter()
                    .filter_map(|r| r["uuid"].as_str().or(r["account_id"].as_str()))
                    .map(str::to_string)
                    .collect();
                if ids.len() != list.len() || ids.iter().any(|i| !REVIEWERS.contains(&i.as_str())) {
                    return error(400, "Malformed reviewers list");
                }
                p.reviewers = ids;
            }
            Resp::json(200, &pull_json(p, slug, m))
        }
        _ => error(404, "Resource not found"),
    }
}
