//! Commit statuses as each host serves them (tests/fixtures/contracts/*.statuses.json), kept
//! in the fake's merge rules so a required context holds the merge: the same store, each
//! host's paths, bodies, states and refusals.

use serde_json::{Value, json};

use crate::{
    merging::{Merging, Posted},
    server::{Req, Resp},
};

/// A host's state name as the store keeps it (`success`, `failure`, `pending`, `error`).
fn normal(state: &str) -> Option<&'static str> {
    Some(match state {
        "success" | "succeeded" | "SUCCESSFUL" => "success",
        "failure" | "failed" | "FAILED" => "failure",
        "pending" | "running" | "INPROGRESS" => "pending",
        "error" | "canceled" | "STOPPED" | "CANCELLED" => "error",
        _ => return None,
    })
}

fn text(b: &Value, k: &str) -> String {
    b.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// GitHub and Gitea (`rest` after `/repos/{owner}/{repo}`): `POST /statuses/{sha}` and
/// `GET /commits/{sha}/statuses`, newest first. GitHub refuses a description over 140
/// characters and a state it does not know (422).
pub(crate) fn repos(req: &Req, rest: &str, m: &Merging, github: bool) -> Option<Resp> {
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["statuses", sha]) => {
            let b: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            let raw = text(&b, "state");
            let known = ["error", "failure", "pending", "success", "warning"];
            let Some(state) = normal(&raw).filter(|_| known.contains(&raw.as_str())) else {
                return Some(Resp::json(
                    422,
                    &json!({"message": "Validation Failed", "errors": [{"resource": "Status", "field": "state", "code": "invalid"}]}),
                ));
            };
            let description = text(&b, "description");
            if github && description.chars().count() > 140 {
                return Some(Resp::json(
                    422,
                    &json!({"message": "Validation Failed", "errors": [{"resource": "Status", "code": "custom", "field": "description", "message": "description is too long (maximum is 140 characters)"}]}),
                ));
            }
            let context = Some(text(&b, "context"))
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "default".into());
            let p = Posted {
                sha: sha.to_string(),
                context,
                state: state.into(),
                description,
                target_url: b
                    .get("target_url")
                    .and_then(Value::as_str)
                    .map(String::from),
            };
            m.post_status(p.clone(), false);
            Some(Resp::json(201, &repos_json(&p)))
        }
        ("GET", ["commits", sha, "statuses"]) => {
            let list: Vec<Value> = m.statuses_of(sha).iter().map(repos_json).collect();
            Some(Resp::json(200, &Value::Array(list)))
        }
        _ => None,
    }
}

fn repos_json(p: &Posted) -> Value {
    json!({"state": p.state, "context": p.context, "description": p.description,
           "target_url": p.target_url, "status": p.state})
}

/// GitLab: `POST /projects/:id/statuses/:sha` (`state`, `name`) and
/// `GET /projects/:id/repository/commits/:sha/statuses?name=`, newest first. Posting the state
/// a context already has is refused, as GitLab refuses the transition (400).
pub(crate) fn gitlab(req: &Req, segs: &[&str], m: &Merging) -> Option<Resp> {
    match (req.method.as_str(), segs) {
        ("POST", ["statuses", sha]) => {
            let b: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            let raw = text(&b, "state");
            let Some(state) = normal(&raw).filter(|_| {
                ["pending", "running", "success", "failed", "canceled"].contains(&raw.as_str())
            }) else {
                return Some(Resp::json(
                    400,
                    &json!({"message": "state does not have a valid value"}),
                ));
            };
            let name = Some(text(&b, "name"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into());
            if let Some(now) = m.statuses_of(sha).into_iter().find(|p| p.context == name)
                && now.state == state
            {
                return Some(Resp::json(
                    400,
                    &json!({"message": format!("Cannot transition status via :{raw} from :{raw}")}),
                ));
            }
            let p = Posted {
                sha: sha.to_string(),
                context: name,
                state: state.into(),
                description: text(&b, "description"),
                target_url: b
                    .get("target_url")
                    .and_then(Value::as_str)
                    .map(String::from),
            };
            m.post_status(p.clone(), false);
            Some(Resp::json(201, &gitlab_json(&p)))
        }
        ("GET", ["repository", "commits", sha, "statuses"]) => {
            let name = req.query_pairs().get("name").cloned();
            let list: Vec<Value> = m
                .statuses_of(sha)
                .iter()
                .filter(|p| name.as_ref().is_none_or(|n| &p.context == n))
                .map(gitlab_json)
                .collect();
            Some(Resp::json(200, &Value::Array(list)))
        }
        _ => None,
    }
}

fn gitlab_json(p: &Posted) -> Value {
    let status = match p.state.as_str() {
        "failure" => "failed",
        s => s,
    };
    json!({"status": status, "name": p.context, "description": p.description, "target_url": p.target_url})
}

/// Azure DevOps (`segs` after the repository): `POST`/`GET commits/{id}/statuses`, the
/// context as `{genre, name}` (stored as `genre/name`).
pub(crate) fn azure(req: &Req, segs: &[&str], m: &Merging) -> Option<Resp> {
    let ["commits", sha, "statuses"] = segs else {
        return None;
    };
    match req.method.as_str() {
        "POST" => {
            let b: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            let raw = text(&b, "state");
            let Some(state) = normal(&raw)
                .filter(|_| ["pending", "succeeded", "failed", "error"].contains(&raw.as_str()))
            else {
                return Some(Resp::json(
                    400,
                    &json!({"message": "Invalid argument value.\r\nParameter name: state", "typeKey": "InvalidArgumentValueException"}),
                ));
            };
            let (genre, name) = (text(&b["context"], "genre"), text(&b["context"], "name"));
            if name.is_empty() {
                return Some(Resp::json(
                    400,
                    &json!({"message": "Invalid argument value.\r\nParameter name: context.name", "typeKey": "InvalidArgumentValueException"}),
                ));
            }
            let context = if genre.is_empty() {
                name
            } else {
                format!("{genre}/{name}")
            };
            let p = Posted {
                sha: sha.to_string(),
                context,
                state: state.into(),
                description: text(&b, "description"),
                target_url: b.get("targetUrl").and_then(Value::as_str).map(String::from),
            };
            m.post_status(p.clone(), false);
            Some(Resp::json(201, &azure_json(&p)))
        }
        "GET" => {
            let mut seen = std::collections::HashSet::new();
            let latest = req
                .query_pairs()
                .get("latestOnly")
                .is_some_and(|v| v == "true");
            let list: Vec<Value> = m
                .statuses_of(sha)
                .iter()
                .filter(|p| !latest || seen.insert(p.context.clone()))
                .map(azure_json)
                .collect();
            Some(Resp::json(
                200,
                &json!({"count": list.len(), "value": list}),
            ))
        }
        _ => None,
    }
}

fn azure_json(p: &Posted) -> Value {
    let (genre, name) = p.context.split_once('/').unwrap_or(("", &p.context));
    let state = match p.state.as_str() {
        "success" => "succeeded",
        "failure" => "failed",
        s => s,
    };
    json!({"state": state, "description": p.description, "targetUrl": p.target_url,
           "context": {"genre": genre, "name": name}})
}

/// Bitbucket's build statuses, Cloud and Data Center alike: one per key, overwritten; `key`,
/// `state` and `url` required (400 otherwise).
pub(crate) fn post_build(req: &Req, sha: &str, m: &Merging) -> Resp {
    let b: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
    let (key, raw, url) = (text(&b, "key"), text(&b, "state"), text(&b, "url"));
    let state = normal(&raw).filter(|_| {
        ["SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED", "CANCELLED"].contains(&raw.as_str())
    });
    let (Some(state), false, false) = (state, key.is_empty(), url.is_empty()) else {
        return Resp::json(
            400,
            &json!({"errors": [{"message": "key, state and url are required", "context": null}],
                    "type": "error", "error": {"message": "key, state and url are required"}}),
        );
    };
    let p = Posted {
        sha: sha.into(),
        context: key,
        state: state.into(),
        description: text(&b, "description"),
        target_url: Some(url),
    };
    m.post_status(p.clone(), true);
    Resp::json(201, &build_json(&p))
}

/// The build status under `key` on `sha`, or 404.
pub(crate) fn get_build(sha: &str, key: &str, m: &Merging) -> Resp {
    match m.statuses_of(sha).into_iter().find(|p| p.context == key) {
        Some(p) => Resp::json(200, &build_json(&p)),
        None => Resp::json(
            404,
            &json!({"type": "error", "error": {"message": "Build status not found"},
                    "errors": [{"message": "No build status for that key"}]}),
        ),
    }
}

fn build_json(p: &Posted) -> Value {
    let state = match p.state.as_str() {
        "success" => "SUCCESSFUL",
        "failure" => "FAILED",
        "pending" => "INPROGRESS",
        _ => "STOPPED",
    };
    json!({"key": p.context, "state": state, "name": p.context, "description": p.description, "url": p.target_url})
}
