//! Gitea's and Forgejo's pull requests (API v1, `../shared/contracts/gitea/`): look up by base
//! and head (`repoGetPullRequestByBaseHead`, since the list has no head filter), create, edit
//! with PATCH; the 409 "pull request already exists for these targets" race handled like
//! GitHub's 422. Labels by name through the issue API, reviewers through
//! requested_reviewers; drafts are `WIP: ` titles (Gitea's default work-in-progress prefix).

use reqwest::Method;
use serde_json::json;

use super::{
    api::{Api, Auth},
    error::{Error, METHOD_HINT, PERMISSION_HINT},
    flow::{self, Host, Pr, PullRequest, Request},
    merge::{self, Ask, Auto, Merges, Reading, Status},
    repos,
    status::{self, CommitStatus, State, Statuses},
};
use crate::trust::credential::Credential;

/// Gitea's default work-in-progress title prefix (`WORK_IN_PROGRESS_PREFIXES`).
pub const DRAFT: &str = "WIP: ";

/// A Gitea or Forgejo instance's pulls API.
pub struct Gitea {
    api: Api,
}

impl Gitea {
    /// A client on `api` (`https://HOST/api/v1`).
    /// Authenticates with Gitea's and Forgejo's documented `Authorization: token`.
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> Gitea {
        Gitea {
            api: Api::new(http, base, Auth::Token(token), &[]),
        }
    }

    fn path(req: &Request, rest: &str) -> String {
        repos::path(req, rest)
    }

    /// The head as Gitea reads it: the branch, or `owner:branch` from a fork.
    fn head(req: &Request) -> String {
        if req.is_fork() {
            format!("{}:{}", req.source.owner(), req.branch)
        } else {
            req.branch.clone()
        }
    }
}

/// `POST /pulls/{n}/merge` refusals (contracts/gitea/merge.notes.md): 405 for a user who may
/// not merge or a style the repository does not allow, else not mergeable now; 409 "head out
/// of date" for a moved head, other 409s (conflicts, a push out of date) not mergeable.
const REFUSALS: &[(u16, &str, Reading)] = &[
    (
        405,
        "User not allowed",
        Reading::NotAllowed(PERMISSION_HINT),
    ),
    (405, "not allowed", Reading::NotAllowed(METHOD_HINT)),
    (409, "head out of date", Reading::Moved),
    (405, "", Reading::NotMergeable),
    (409, "", Reading::NotMergeable),
];

impl Gitea {
    /// One merge request; `auto` schedules it for when the checks pass. 200: merged now
    /// (no body); 201: scheduled.
    async fn post_merge(
        &self,
        req: &Request,
        pr: &PullRequest,
        ask: &Ask,
        auto: bool,
    ) -> Result<(), Error> {
        let mut body = json!({
            "do": ask.method.name(),
            "head_commit_id": ask.head,
        });
        if auto {
            body["merge_when_checks_succeed"] = json!(true);
        }
        let _: serde_json::Value = self
            .api
            .send(
                Method::POST,
                &Self::path(req, &format!("/pulls/{}/merge", pr.number)),
                &[],
                Some(&body),
            )
            .await
            .map_err(|e| merge::read_refusal(e, pr, ask, REFUSALS))?;
        Ok(())
    }
}

impl Merges for Gitea {
    fn status<'a>(&'a self, req: &'a Request, pr: &'a PullRequest) -> merge::Answer<'a, Status> {
        Box::pin(async move { repos::status(&self.api, req, pr).await })
    }

    fn merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Option<String>> {
        Box::pin(async move {
            // Gitea answers a merge with no body: the flow reads the commit from the request.
            self.post_merge(req, pr, ask, false).await.map(|()| None)
        })
    }

    fn auto_merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Auto> {
        Box::pin(async move {
            match self.post_merge(req, pr, ask, true).await {
                // 201 scheduled, or 200 merged at once (it could merge already): the state says.
                Ok(()) => match repos::status(&self.api, req, pr).await? {
                    s if s.state == merge::State::Merged => Ok(Auto::Merged(s.merge_commit)),
                    _ => Ok(Auto::On),
                },
                // A rerun: it is scheduled already, and stays so (Gitea does not show it).
                Err(Error::NotMergeable { message, .. })
                    if message.contains("already scheduled") =>
                {
                    Ok(Auto::On)
                }
                Err(e) => Err(e),
            }
        })
    }
}

impl Host for Gitea {
    fn find<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Option<Pr>> {
        Box::pin(async move {
            // `{base}` is one path segment; `{head}` is the rest of the path (branch names may
            // hold '/'), so only the base is encoded.
            let base =
                url::form_urlencoded::byte_serialize(req.base.as_bytes()).collect::<String>();
            let path = Self::path(req, &format!("/pulls/{base}/{}", Self::head(req)));
            match self
                .api
                .call::<repos::Pull>("find pull request", Method::GET, &path, &[], None)
                .await
            {
                // The lookup also returns closed and merged requests: only an open one counts.
                Ok(p) if p.state == "open" => Ok(Some(p.into())),
                Ok(_) => Ok(None),
                Err(Error::Status { status: 404, .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn create<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Pr> {
        Box::pin(async move {
            let title = if req.draft {
                format!("{DRAFT}{}", req.title)
            } else {
                req.title.clone()
            };
            let body = json!({
                "head": Self::head(req),
                "base": req.base,
                "title": title,
                "body": req.body,
            });
            let p: repos::Pull = self
                .api
                .send(Method::POST, &Self::path(req, "/pulls"), &[], Some(&body))
                .await?;
            Ok(p.into())
        })
    }

    fn update<'a>(&'a self, pr: &'a Pr, title: &'a str, req: &'a Request) -> flow::Answer<'a, ()> {
        Box::pin(async move { repos::update(&self.api, req, pr.number, title).await })
    }

    /// 409 `pull request already exists for these targets [...]` (contracts/gitea/notes.md).
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 409, message, .. } if message.contains("already exists"))
    }

    fn add_labels<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        labels: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            // issueAddLabel takes label names as well as ids (create takes only ids).
            repos::add_labels(&self.api, req, pr.number, labels).await
        })
    }

    fn add_reviewers<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        reviewers: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let body = json!({ "reviewers": reviewers });
            repos::request_reviewers(&self.api, req, pr.number, &body).await
        })
    }

    fn draft_prefix(&self) -> Option<&'static str> {
        Some(DRAFT)
    }
}

impl Statuses for Gitea {
    fn current<'a>(
        &'a self,
        req: &'a Request,
        sha: &'a str,
        context: &'a str,
    ) -> status::Answer<'a, Option<(State, String)>> {
        Box::pin(async move { repos::current_status(&self.api, req, sha, context).await })
    }

    fn put<'a>(&'a self, req: &'a Request, s: &'a CommitStatus) -> status::Answer<'a, ()> {
        Box::pin(async move { repos::put_status(&self.api, req, s).await })
    }
}
