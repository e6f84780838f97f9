//! The `/repos/{owner}/{repo}` REST shape GitHub and Gitea (Forgejo) share: the same paths
//! and bodies to update a pull request, label it (a PR is an issue) and ask for reviews.
//! Each host keeps what differs (finding, creating, duplicates, team reviewers).

use reqwest::Method;
use serde_json::json;

use super::{api::Api, error::Error, flow::Request};

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
