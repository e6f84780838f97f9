//! GitLab's merge requests (API v4, `../shared/contracts/gitlab/`): projects addressed by their
//! URL-encoded path (nested groups included); list by `source_branch`, `target_branch` and
//! `state=opened`; create (on the source project, with `target_project_id` for a fork);
//! update with PUT; the 409 "Another open merge request already exists" race handled like
//! GitHub's 422. Drafts are `Draft: ` titles; reviewers are user ids, looked up by username.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{
    api::{Api, Auth},
    error::Error,
    flow::{self, Host, Pr, PullRequest, Request},
    merge::{self, Ask, Auto, Merges, Method as MergeMethod, Reading, State, Status},
    status::{self, CommitStatus, Statuses},
};
use crate::plan::names::RepoSlug;
use crate::trust::credential::Credential;

/// GitLab's draft marker (a title prefix).
pub const DRAFT: &str = "Draft: ";

/// A GitLab instance's merge requests API.
pub struct GitLab {
    api: Api,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: u64,
    web_url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    reviewers: Vec<User>,
    source_project_id: u64,
    target_project_id: u64,
}

#[derive(Deserialize)]
struct Project {
    id: u64,
}

impl From<MergeRequest> for Pr {
    fn from(m: MergeRequest) -> Pr {
        Pr {
            number: m.iid,
            url: m.web_url,
            title: m.title,
            body: m.description.unwrap_or_default(),
            labels: m.labels,
            reviewers: m.reviewers.iter().map(|r| r.username.clone()).collect(),
            reviewer_ids: m.reviewers.iter().map(|r| r.id).collect(),
            node_id: String::new(),
        }
    }
}

/// `/projects/group%2Fsub%2Fproject`: the path, URL-encoded as one segment.
fn project(slug: &RepoSlug) -> String {
    let path = slug.to_string();
    format!(
        "/projects/{}",
        url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
    )
}

impl GitLab {
    /// A client on `api` (`https://HOST/api/v4`).
    /// Authenticates with GitLab's own `PRIVATE-TOKEN` header, which takes personal, project and group tokens.
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> GitLab {
        GitLab {
            api: Api::new(http, base, Auth::PrivateToken(token), &[]),
        }
    }

    async fn project_id(&self, slug: &RepoSlug) -> Result<u64, Error> {
        let p: Project = self
            .api
            .call("look up project", Method::GET, &project(slug), &[], None)
            .await?;
        Ok(p.id)
    }

    fn mr_path(req: &Request, pr: &Pr) -> String {
        Self::pr_path(req, pr.number)
    }

    fn pr_path(req: &Request, iid: u64) -> String {
        format!("{}/merge_requests/{iid}", project(&req.target))
    }
}

/// A merge request's merge state (contracts/gitlab/merge.notes.md).
#[derive(Deserialize)]
struct MergeState {
    state: String,
    /// The source branch's head.
    sha: String,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
    /// "If `true`, the merge request is set to auto-merge."
    #[serde(default)]
    merge_when_pipeline_succeeds: bool,
}

impl From<MergeState> for Status {
    fn from(m: MergeState) -> Status {
        let state = match m.state.as_str() {
            "merged" => State::Merged,
            "opened" | "locked" => State::Open,
            _ => State::Closed,
        };
        // A fast-forward merge has no merge commit: the head itself is on the base.
        let merged = (state == State::Merged).then(|| {
            m.merge_commit_sha
                .or(m.squash_commit_sha)
                .unwrap_or_else(|| m.sha.clone())
        });
        Status {
            state,
            head: m.sha,
            merge_commit: merged,
            auto_merge: m.merge_when_pipeline_succeeds,
        }
    }
}

/// `PUT .../merge` refusals: 405 and 422 cannot merge now, 409 the `sha` is not the head.
const REFUSALS: &[(u16, &str, Reading)] = &[
    (405, "", Reading::NotMergeable),
    (422, "", Reading::NotMergeable),
    (409, "", Reading::Moved),
];

impl GitLab {
    /// One `PUT .../merge`; `auto` sets auto-merge (GitLab merges at once if it can).
    async fn put_merge(
        &self,
        req: &Request,
        pr: &PullRequest,
        ask: &Ask,
        auto: bool,
    ) -> Result<Status, Error> {
        let mut body = json!({
            "sha": ask.head,
            // The project's merge method applies; squashing is per request.
            "squash": ask.method == MergeMethod::Squash,
        });
        if auto {
            // `auto_merge` since 17.11; `merge_when_pipeline_succeeds` for older servers.
            body["auto_merge"] = json!(true);
            body["merge_when_pipeline_succeeds"] = json!(true);
        }
        let m: MergeState = self
            .api
            .send(
                Method::PUT,
                &format!("{}/merge", Self::pr_path(req, pr.number)),
                &[],
                Some(&body),
            )
            .await
            .map_err(|e| merge::read_refusal(e, pr, ask, REFUSALS))?;
        Ok(m.into())
    }
}

impl Merges for GitLab {
    fn status<'a>(&'a self, req: &'a Request, pr: &'a PullRequest) -> merge::Answer<'a, Status> {
        Box::pin(async move {
            let m: MergeState = self
                .api
                .call(
                    "read merge request",
                    Method::GET,
                    &Self::pr_path(req, pr.number),
                    &[],
                    None,
                )
                .await?;
            Ok(m.into())
        })
    }

    fn merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Option<String>> {
        Box::pin(async move { Ok(self.put_merge(req, pr, ask, false).await?.merge_commit) })
    }

    fn auto_merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Auto> {
        Box::pin(async move {
            let s = self.put_merge(req, pr, ask, true).await?;
            Ok(match s.state {
                State::Merged => Auto::Merged(s.merge_commit),
                _ => Auto::On,
            })
        })
    }
}

impl Host for GitLab {
    fn find<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Option<Pr>> {
        Box::pin(async move {
            let mrs: Vec<MergeRequest> = self
                .api
                .call(
                    "find merge request",
                    Method::GET,
                    &format!("{}/merge_requests", project(&req.target)),
                    &[
                        ("state", "opened"),
                        ("source_branch", &req.branch),
                        ("target_branch", &req.base),
                        ("per_page", "20"),
                    ],
                    None,
                )
                .await?;
            // The filters match the branch name in any project; keep the one from our source.
            let source_id = if req.is_fork() {
                Some(self.project_id(&req.source).await?)
            } else {
                None
            };
            Ok(mrs
                .into_iter()
                .find(|m| match source_id {
                    Some(id) => m.source_project_id == id,
                    None => m.source_project_id == m.target_project_id,
                })
                .map(Pr::from))
        })
    }

    fn create<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Pr> {
        Box::pin(async move {
            let title = if req.draft {
                format!("{DRAFT}{}", req.title)
            } else {
                req.title.clone()
            };
            let mut body = json!({
                "source_branch": req.branch,
                "target_branch": req.base,
                "title": title,
                "description": req.body,
            });
            if !req.labels.is_empty() {
                body["labels"] = json!(req.labels.join(","));
            }
            // A fork's merge request is created on the fork, pointing at the target project.
            let on = if req.is_fork() {
                body["target_project_id"] = json!(self.project_id(&req.target).await?);
                &req.source
            } else {
                &req.target
            };
            let m: MergeRequest = self
                .api
                .send(
                    Method::POST,
                    &format!("{}/merge_requests", project(on)),
                    &[],
                    Some(&body),
                )
                .await?;
            Ok(m.into())
        })
    }

    fn update<'a>(&'a self, pr: &'a Pr, title: &'a str, req: &'a Request) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let body = json!({"title": title, "description": req.body});
            self.api
                .act(
                    "update merge request",
                    Method::PUT,
                    &Self::mr_path(req, pr),
                    &body,
                )
                .await
        })
    }

    /// 409 `{"message": ["Another open merge request already exists for this source branch: !N"]}`.
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 409, message, .. }
            if message.contains("Another open merge request already exists"))
    }

    fn add_labels<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        labels: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let body = json!({ "add_labels": labels.join(",") });
            self.api
                .act("add labels", Method::PUT, &Self::mr_path(req, pr), &body)
                .await
        })
    }

    fn add_reviewers<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        reviewers: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            // `reviewer_ids` replaces the list: send the ones there plus the new ones.
            let mut ids = pr.reviewer_ids.clone();
            let mut unknown = vec![];
            for name in reviewers {
                let users: Vec<User> = self
                    .api
                    .call(
                        "look up reviewer",
                        Method::GET,
                        "/users",
                        &[("username", name)],
                        None,
                    )
                    .await?;
                match users.first() {
                    Some(u) => ids.push(u.id),
                    None => unknown.push(name.clone()),
                }
            }
            if ids.len() > pr.reviewer_ids.len() {
                let body = json!({ "reviewer_ids": ids });
                self.api
                    .act(
                        "request reviewers",
                        Method::PUT,
                        &Self::mr_path(req, pr),
                        &body,
                    )
                    .await?;
            }
            if unknown.is_empty() {
                Ok(())
            } else {
                Err(Error::Answer {
                    what: "request reviewers".into(),
                    message: format!("no GitLab user named {unknown:?}"),
                })
            }
        })
    }

    fn draft_prefix(&self) -> Option<&'static str> {
        Some(DRAFT)
    }
}

/// GitLab's commit statuses (`POST /projects/:id/statuses/:sha`: `state` `success` or
/// `failed`, `name`, `description`, `target_url`; `GET …/repository/commits/:sha/statuses`).
impl Statuses for GitLab {
    fn current<'a>(
        &'a self,
        req: &'a Request,
        sha: &'a str,
        context: &'a str,
    ) -> status::Answer<'a, Option<(status::State, String)>> {
        Box::pin(async move {
            // NB: read as `Value`: a type of its own would be another copy of `call`.
            let list: serde_json::Value = self
                .api
                .call(
                    "read commit statuses",
                    Method::GET,
                    &format!("{}/repository/commits/{sha}/statuses", project(&req.target)),
                    &[("name", context), ("all", "false")],
                    None,
                )
                .await?;
            Ok(list.get(0).and_then(|s| {
                let state = match s["status"].as_str()? {
                    "success" => status::State::Success,
                    "failed" => status::State::Failure,
                    _ => return None,
                };
                Some((
                    state,
                    s["description"].as_str().unwrap_or_default().to_string(),
                ))
            }))
        })
    }

    fn put<'a>(&'a self, req: &'a Request, s: &'a CommitStatus) -> status::Answer<'a, ()> {
        Box::pin(async move {
            let state = match s.state {
                status::State::Success => "success",
                status::State::Failure => "failed",
            };
            let mut body = json!({"state": state, "name": s.context, "description": s.description});
            if let Some(u) = &s.target_url {
                body["target_url"] = json!(u);
            }
            self.api
                .act(
                    "set commit status",
                    Method::POST,
                    &format!("{}/statuses/{}", project(&req.target), s.sha),
                    &body,
                )
                .await
        })
    }
}
