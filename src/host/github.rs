//! GitHub's pulls API (`../shared/contracts/github/`), for github.com, GitHub Enterprise Cloud
//! (`api.SUBDOMAIN.ghe.com`) and Enterprise Server (`https://HOST/api/v3`): list open PRs by
//! head and base, create (with `draft`), update; labels through the issues API, reviewers
//! through requested_reviewers. Sends what GitHub requires (User-Agent from the client,
//! Accept, X-GitHub-Api-Version, Bearer).

use reqwest::Method;
use serde_json::json;

use super::{
    api::{Api, Auth},
    error::Error,
    flow::{Host, Pr, Request},
    repos,
};
use crate::trust::credential::Credential;

/// The API version this client speaks.
pub const API_VERSION: &str = "2022-11-28";

/// The headers every GitHub request carries.
pub const HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/vnd.github+json"),
    ("X-GitHub-Api-Version", API_VERSION),
];

/// A GitHub repository's pulls API.
pub struct GitHub {
    api: Api,
}

impl GitHub {
    /// A client on `api` (`https://api.github.com`, or GHES's `https://HOST/api/v3`).
    /// Authenticates with `Authorization: Bearer` and GitHub's API version headers.
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> GitHub {
        GitHub {
            api: Api::new(http, base, Auth::Bearer(token), HEADERS),
        }
    }

    fn path(req: &Request, rest: &str) -> String {
        repos::path(req, rest)
    }

    /// `owner:branch`: GitHub's head, for the same repo and across forks alike.
    fn head(req: &Request) -> String {
        format!("{}:{}", req.source.owner(), req.branch)
    }
}

impl Host for GitHub {
    async fn find(&self, req: &Request) -> Result<Option<Pr>, Error> {
        let head = Self::head(req);
        let pulls: Vec<repos::Pull> = self
            .api
            .call(
                "find pull request",
                Method::GET,
                &Self::path(req, "/pulls"),
                &[
                    ("state", "open"),
                    ("head", &head),
                    ("base", &req.base),
                    ("per_page", "10"),
                ],
                None,
            )
            .await?;
        Ok(pulls.into_iter().next().map(Pr::from))
    }

    async fn create(&self, req: &Request) -> Result<Pr, Error> {
        let body = json!({
            "title": req.title,
            "head": Self::head(req),
            "base": req.base,
            "body": req.body,
            "draft": req.draft,
        });
        let p: repos::Pull = self
            .api
            .send(Method::POST, &Self::path(req, "/pulls"), &[], Some(&body))
            .await?;
        Ok(p.into())
    }

    async fn update(&self, pr: &Pr, title: &str, req: &Request) -> Result<(), Error> {
        repos::update(&self.api, req, pr.number, title).await
    }

    /// GitHub's 422 "A pull request already exists for OWNER:BRANCH." (contracts/github/notes.md).
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 422, message, .. } if message.contains("already exists"))
    }

    async fn add_labels(&self, req: &Request, pr: &Pr, labels: &[String]) -> Result<(), Error> {
        // A PR is an issue; labels live on the issue. Adding is idempotent.
        repos::add_labels(&self.api, req, pr.number, labels).await
    }

    async fn add_reviewers(
        &self,
        req: &Request,
        pr: &Pr,
        reviewers: &[String],
    ) -> Result<(), Error> {
        // `org/team` names a team; anything else a user.
        let (teams, users): (Vec<&String>, Vec<&String>) =
            reviewers.iter().partition(|r| r.contains('/'));
        let teams: Vec<&str> = teams
            .iter()
            .filter_map(|t| t.split_once('/').map(|(_, slug)| slug))
            .collect();
        let body = json!({ "reviewers": users, "team_reviewers": teams });
        repos::request_reviewers(&self.api, req, pr.number, &body).await
    }
}
