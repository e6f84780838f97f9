//! Azure DevOps Repos pull requests (Git REST API 7.1, `../shared/contracts/azure-devops/`), on
//! `https://dev.azure.com/{org}/{project}/_git/{repo}`, the older
//! `https://{org}.visualstudio.com/{project}/_git/{repo}`, and Azure DevOps Server
//! (`https://HOST/{collection}/{project}/_git/{repo}`): `api-version` on every call; list by
//! `searchCriteria` (source and target ref, status active; the answer wrapped as
//! `{"value": [...]}`); create with `isDraft` and labels; update with PATCH; the duplicate
//! answer (TF401179, `GitPullRequestExistsException`) handled like GitHub's 422. Reviewers are
//! identity ids. Merging completes the request (`status: completed`) naming the reviewed
//! head in `lastMergeSourceCommit`, or sets auto-complete.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    api::{Api, Auth},
    error::{Error, METHOD_HINT},
    flow::{self, Host, Pr, PullRequest, Request, full_ref},
    merge::{self, Ask, Auto, Merges, Method as MergeMethod, Reading, State, Status},
    status::{self, CommitStatus, Statuses},
};
use crate::{
    plan::names::RepoSlug,
    trust::{credential::Credential, redact},
};

/// The API version sent with every request (the newest released one).
pub const API_VERSION: &str = "7.1";

/// An Azure DevOps organization's (or collection's) Git API.
pub struct AzureDevOps {
    api: Api,
    /// `{org}.visualstudio.com` names the organization in its host, not its path.
    org_in_host: bool,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize)]
struct Commit {
    #[serde(rename = "commitId")]
    commit_id: String,
}

#[derive(Deserialize)]
struct Repository {
    #[serde(default, rename = "remoteUrl")]
    remote_url: String,
}

/// A pull request as Azure DevOps answers it (`GitPullRequest`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequestBody {
    pull_request_id: u64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: Vec<Named>,
    #[serde(default)]
    reviewers: Vec<Identity>,
    #[serde(default)]
    repository: Option<Repository>,
    #[serde(default)]
    created_by: Option<Identity>,
    #[serde(default)]
    auto_complete_set_by: Option<Identity>,
    #[serde(default)]
    last_merge_source_commit: Option<Commit>,
    #[serde(default)]
    last_merge_commit: Option<Commit>,
}

/// A list, as every recorded example wraps it (the spec says a bare array: both are read).
#[derive(Deserialize)]
#[serde(untagged)]
enum List {
    Wrapped { value: Vec<PullRequestBody> },
    Bare(Vec<PullRequestBody>),
}

impl From<PullRequestBody> for Pr {
    fn from(p: PullRequestBody) -> Pr {
        let web = p.repository.map(|r| r.remote_url).unwrap_or_default();
        Pr {
            number: p.pull_request_id,
            url: format!("{web}/pullrequest/{}", p.pull_request_id),
            title: p.title,
            body: p.description.unwrap_or_default(),
            labels: p.labels.into_iter().map(|l| l.name).collect(),
            reviewers: p.reviewers.into_iter().map(|r| r.id).collect(),
            reviewer_ids: vec![],
            node_id: String::new(),
        }
    }
}

/// A token that is a JWT (a Microsoft Entra access token) goes as Bearer; a personal access
/// token as Basic with an empty user name, as the PAT documentation says.
fn auth_for(token: Credential, base: &url::Url) -> Auth {
    let secret = token.secret_for(base).unwrap_or_default();
    if secret.split('.').count() == 3 && secret.starts_with("eyJ") {
        Auth::Bearer(token)
    } else {
        // The header's value is a form of the token: redact it as such.
        redact::register_basic("", secret);
        Auth::Basic(token)
    }
}

/// The merge strategy for a method (`GitPullRequestCompletionOptions.mergeStrategy`).
fn strategy(m: MergeMethod) -> &'static str {
    match m {
        MergeMethod::Merge => "noFastForward",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase",
    }
}

/// Completing refused: 409 the source moved (TF401181 and its kin), 400 a merge strategy
/// the branch policy does not allow, or another reason it cannot complete now.
const REFUSALS: &[(u16, &str, Reading)] = &[
    (409, "", Reading::Moved),
    (400, "not allowed", Reading::NotAllowed(METHOD_HINT)),
    (400, "", Reading::NotMergeable),
];

impl AzureDevOps {
    /// A client on `api` (`https://dev.azure.com`, `https://{org}.visualstudio.com`, or a
    /// server's root).
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> AzureDevOps {
        let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
        AzureDevOps {
            api: Api::new(
                http,
                base,
                auth_for(token, base),
                &[("Accept", "application/json")],
            )
            .with_query(&[("api-version", API_VERSION)]),
            org_in_host: host.ends_with(".visualstudio.com"),
        }
    }

    /// `/{org}/{project}/_apis/git/repositories/{repo}{rest}` for a repo named as the URL
    /// path before `/_git/` (`org/project/_git`, or `org/_git` when the project has the
    /// repo's name).
    fn path(&self, slug: &RepoSlug, rest: &str) -> String {
        let owner = slug.owner();
        let owner = owner
            .strip_suffix("/_git")
            .unwrap_or(owner.trim_end_matches("_git"));
        let mut parts: Vec<&str> = owner.split('/').filter(|p| !p.is_empty()).collect();
        let want = if self.org_in_host { 1 } else { 2 };
        if parts.len() < want {
            parts.push(slug.repo());
        }
        format!(
            "/{}/_apis/git/repositories/{}{rest}",
            parts.join("/"),
            slug.repo()
        )
    }

    fn pr_path(&self, req: &Request, number: u64) -> String {
        self.path(&req.target, &format!("/pullrequests/{number}"))
    }

    async fn read(&self, req: &Request, number: u64) -> Result<PullRequestBody, Error> {
        self.api
            .call(
                "read pull request",
                Method::GET,
                &self.pr_path(req, number),
                &[],
                None,
            )
            .await
    }

    /// One PATCH that completes the request or sets auto-complete.
    async fn complete(
        &self,
        req: &Request,
        pr: &PullRequest,
        body: &Value,
        ask: &Ask,
    ) -> Result<PullRequestBody, Error> {
        self.api
            .send(
                Method::PATCH,
                &self.pr_path(req, pr.number),
                &[],
                Some(body),
            )
            .await
            .map_err(|e| merge::read_refusal(e, pr, ask, REFUSALS))
    }
}

impl From<PullRequestBody> for Status {
    fn from(p: PullRequestBody) -> Status {
        let state = match p.status.as_str() {
            "completed" => State::Merged,
            "abandoned" => State::Closed,
            _ => State::Open,
        };
        Status {
            head: p
                .last_merge_source_commit
                .map(|c| c.commit_id)
                .unwrap_or_default(),
            merge_commit: p
                .last_merge_commit
                .map(|c| c.commit_id)
                .filter(|_| state == State::Merged),
            auto_merge: p.auto_complete_set_by.is_some_and(|i| !i.id.is_empty()),
            state,
        }
    }
}

impl Host for AzureDevOps {
    fn find<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Option<Pr>> {
        Box::pin(async move {
            let (source, target) = (full_ref(&req.branch), full_ref(&req.base));
            let list: List = self
                .api
                .call(
                    "find pull request",
                    Method::GET,
                    &self.path(&req.target, "/pullrequests"),
                    &[
                        ("searchCriteria.sourceRefName", &source),
                        ("searchCriteria.targetRefName", &target),
                        ("searchCriteria.status", "active"),
                        ("$top", "10"),
                    ],
                    None,
                )
                .await?;
            let (List::Wrapped { value } | List::Bare(value)) = list;
            Ok(value.into_iter().next().map(Pr::from))
        })
    }

    fn create<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Pr> {
        Box::pin(async move {
            let body = json!({
                "sourceRefName": full_ref(&req.branch),
                "targetRefName": full_ref(&req.base),
                "title": req.title,
                "description": req.body,
                "isDraft": req.draft,
                "labels": req.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            });
            let p: PullRequestBody = self
                .api
                .send(
                    Method::POST,
                    &self.path(&req.target, "/pullrequests"),
                    &[],
                    Some(&body),
                )
                .await?;
            Ok(p.into())
        })
    }

    fn update<'a>(&'a self, pr: &'a Pr, title: &'a str, req: &'a Request) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let body = json!({"title": title, "description": req.body});
            self.api
                .act(
                    "update pull request",
                    Method::PATCH,
                    &self.pr_path(req, pr.number),
                    &body,
                )
                .await
        })
    }

    /// TF401179 / `GitPullRequestExistsException`, with 409 (or 400, some clients say).
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 409 | 400, message, .. }
            if message.contains("TF401179") || message.contains("GitPullRequestExistsException"))
    }

    fn add_labels<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        labels: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let path = self.path(&req.target, &format!("/pullRequests/{}/labels", pr.number));
            for l in labels {
                self.api
                    .act("add label", Method::POST, &path, &json!({"name": l}))
                    .await?;
            }
            Ok(())
        })
    }

    fn add_reviewers<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        reviewers: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            for id in reviewers {
                let path = self.path(
                    &req.target,
                    &format!("/pullRequests/{}/reviewers/{id}", pr.number),
                );
                // "When adding other reviewers, vote must be set to zero."
                self.api
                    .act("request reviewer", Method::PUT, &path, &json!({"vote": 0}))
                    .await?;
            }
            Ok(())
        })
    }
}

impl Merges for AzureDevOps {
    fn status<'a>(&'a self, req: &'a Request, pr: &'a PullRequest) -> merge::Answer<'a, Status> {
        Box::pin(async move { Ok(self.read(req, pr.number).await?.into()) })
    }

    fn merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Option<String>> {
        Box::pin(async move {
            let body = json!({
                "status": "completed",
                "lastMergeSourceCommit": {"commitId": ask.head},
                "completionOptions": {"mergeStrategy": strategy(ask.method)},
            });
            let p = self.complete(req, pr, &body, ask).await?;
            match Status::from(p) {
                s if s.state == State::Merged => Ok(s.merge_commit),
                // Accepted but not completed (policies, conflicts): not mergeable now.
                _ => Err(merge::not_mergeable(
                    pr,
                    "the pull request did not complete".into(),
                )),
            }
        })
    }

    fn auto_merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Auto> {
        Box::pin(async move {
            // Auto-complete is set by an identity: the one that created the request, this token's.
            let creator = self
                .read(req, pr.number)
                .await?
                .created_by
                .map(|i| i.id)
                .unwrap_or_default();
            let body = json!({
                "autoCompleteSetBy": {"id": creator},
                "lastMergeSourceCommit": {"commitId": ask.head},
                "completionOptions": {"mergeStrategy": strategy(ask.method)},
            });
            let s = Status::from(self.complete(req, pr, &body, ask).await?);
            Ok(match s.state {
                State::Merged => Auto::Merged(s.merge_commit),
                _ => Auto::On,
            })
        })
    }
}

/// Azure DevOps' commit statuses (`…/commits/{sha}/statuses`, api-version 7.1: `state`
/// `succeeded` or `failed`, `context: {genre, name}` from the context's `genre/name`,
/// `description`, `targetUrl`). A branch policy requires it as "genre/name".
impl Statuses for AzureDevOps {
    fn current<'a>(
        &'a self,
        req: &'a Request,
        sha: &'a str,
        context: &'a str,
    ) -> status::Answer<'a, Option<(status::State, String)>> {
        Box::pin(async move {
            // NB: read as `Value`: a type of its own would be another copy of `call`.
            let (genre, name) = status::genre_and_name(context);
            let page: Value = self
                .api
                .call(
                    "read commit statuses",
                    Method::GET,
                    &self.path(&req.target, &format!("/commits/{sha}/statuses")),
                    &[("latestOnly", "true")],
                    None,
                )
                .await?;
            let found = page["value"].as_array().into_iter().flatten().find(|s| {
                s["context"]["name"].as_str() == Some(name)
                    && s["context"]["genre"].as_str().unwrap_or("") == genre
            });
            Ok(found.and_then(|s| {
                let state = match s["state"].as_str()? {
                    "succeeded" => status::State::Success,
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
                status::State::Success => "succeeded",
                status::State::Failure => "failed",
            };
            let (genre, name) = status::genre_and_name(&s.context);
            let mut body = json!({"state": state, "description": s.description,
            "context": {"genre": genre, "name": name}});
            if let Some(u) = &s.target_url {
                body["targetUrl"] = json!(u);
            }
            self.api
                .act(
                    "set commit status",
                    Method::POST,
                    &self.path(&req.target, &format!("/commits/{}/statuses", s.sha)),
                    &body,
                )
                .await
        })
    }
}
