//! The `/repos/{owner}/{repo}` REST shape GitHub and Gitea (Forgejo) share: the same paths
//! and bodies to update a pull request, label it (a PR is an issue) and ask for reviews.
//! Each host keeps what differs (finding, creating, duplicates, team reviewers). The pull
//! request they answer with is the same too (Gitea's lookup also reads `state`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{
    api::Api,
    error::Error,
    flow::{Pr, PullRequest, Request},
    merge::{State, Status},
    status::{CommitStatus, State as StatusState},
};

/// A label (`name`) or a user (`login`), as both hosts list them.
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: String,
    #[serde(default)]
    login: String,
}

/// A pull request as both hosts answer it.
#[derive(Deserialize)]
pub struct Pull {
    number: u64,
    html_url: String,
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Vec<Named>,
    #[serde(default)]
    requested_reviewers: Vec<Named>,
}

impl From<Pull> for Pr {
    fn from(p: Pull) -> Pr {
        Pr {
            number: p.number,
            url: p.html_url,
            title: p.title,
            body: p.body.unwrap_or_default(),
            labels: p.labels.into_iter().map(|l| l.name).collect(),
            reviewers: p.requested_reviewers.into_iter().map(|r| r.login).collect(),
            reviewer_ids: vec![],
            node_id: p.node_id,
        }
    }
}

/// `/repos/{owner}/{repo}{rest}` on the repo the request is opened on.
pub fn path(req: &Request, rest: &str) -> String {
    format!("/repos/{}/{}{rest}", req.target.owner(), req.target.repo())
}

/// Sets the title and body of pull request `number`.
pub async fn update(api: &Api, req: &Request, number: u64, title: &str) -> Result<(), Error> {
    let body = json!({"title": title, "body": req.body});
    api.act(
        "update pull request",
        Method::PATCH,
        &path(req, &format!("/pulls/{number}")),
        &body,
    )
    .await
}

/// Adds labels by name to pull request `number` (idempotent on both hosts).
pub async fn add_labels(
    api: &Api,
    req: &Request,
    number: u64,
    labels: &[String],
) -> Result<(), Error> {
    let body = json!({ "labels": labels });
    api.act(
        "add labels",
        Method::POST,
        &path(req, &format!("/issues/{number}/labels")),
        &body,
    )
    .await
}

/// Asks for reviews on pull request `number`; `body` is the host's own reviewer list.
pub async fn request_reviewers(
    api: &Api,
    req: &Request,
    number: u64,
    body: &serde_json::Value,
) -> Result<(), Error> {
    api.act(
        "request reviewers",
        Method::POST,
        &path(req, &format!("/pulls/{number}/requested_reviewers")),
        body,
    )
    .await
}

#[derive(Deserialize)]
struct Head {
    sha: String,
}

/// A pull request's merge state, as both hosts answer `GET /pulls/{n}`.
#[derive(Deserialize)]
struct PullStatus {
    state: String,
    #[serde(default)]
    merged: bool,
    /// GitHub fills it for an open request too (its test merge): read only once merged.
    #[serde(default)]
    merge_commit_sha: Option<String>,
    head: Head,
    /// GitHub only: `null`, or how auto-merge will merge.
    #[serde(default)]
    auto_merge: Option<serde_json::Value>,
}

/// Where pull request `pr` stands.
pub async fn status(api: &Api, req: &Request, pr: &PullRequest) -> Result<Status, Error> {
    let p: PullStatus = api
        .call(
            "read pull request",
            Method::GET,
            &path(req, &format!("/pulls/{}", pr.number)),
            &[],
            None,
        )
        .await?;
    let state = match (p.merged, p.state.as_str()) {
        (true, _) => State::Merged,
        (false, "open") => State::Open,
        (false, _) => State::Closed,
    };
    Ok(Status {
        state,
        head: p.head.sha,
        merge_commit: p.merge_commit_sha.filter(|_| p.merged),
        auto_merge: p.auto_merge.is_some_and(|a| !a.is_null()),
    })
}

/// The latest status under `context` on `sha` (`GET …/commits/{sha}/statuses`, newest first),
/// as GitHub and Gitea answer it.
pub async fn current_status(
    api: &Api,
    req: &Request,
    sha: &str,
    context: &str,
) -> Result<Option<(StatusState, String)>, Error> {
    // NB: read as `Value`, not a struct of its own: every type `call` decodes is another
    // copy of the request machinery in the binary (the static binary's 6 MB budget).
    let list: serde_json::Value = api
        .call(
            "read commit statuses",
            Method::GET,
            &path(req, &format!("/commits/{sha}/statuses")),
            &[("per_page", "100")],
            None,
        )
        .await?;
    let newest = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["context"].as_str() == Some(context));
    Ok(newest.and_then(|s| {
        let state = match s["state"].as_str()? {
            "success" => StatusState::Success,
            "failure" => StatusState::Failure,
            _ => return None,
        };
        Some((
            state,
            s["description"].as_str().unwrap_or_default().to_string(),
        ))
    }))
}

/// `POST …/statuses/{sha}` (GitHub and Gitea: `success` or `failure`, `context`,
/// `description`, `target_url`).
pub async fn put_status(api: &Api, req: &Request, s: &CommitStatus) -> Result<(), Error> {
    let state = match s.state {
        StatusState::Success => "success",
        StatusState::Failure => "failure",
    };
    let mut body = json!({"state": state, "context": s.context, "description": s.description});
    if let Some(u) = &s.target_url {
        body["target_url"] = json!(u);
    }
    api.act(
        "set commit status",
        Method::POST,
        &path(req, &format!("/statuses/{}", s.sha)),
        &body,
    )
    .await
}
