//! Bitbucket Cloud pull requests (REST 2.0 at `https://api.bitbucket.org/2.0`,
//! `../shared/contracts/bitbucket/`), for `https://bitbucket.org/{workspace}/{repo}.git`: find
//! with `q=` on the source and destination branch and state OPEN; create with `draft` and
//! reviewers by UUID or account id; update with PUT (reviewers replace the list, so the ones
//! there are kept). Bitbucket has no labels. Access tokens (repository, project, workspace) go
//! as Bearer; git takes them with the user name `x-token-auth`.
//!
//! Merging: the merge endpoint names no head commit and there is no auto-merge, so the tool
//! does not merge here (refused when the inputs are checked); it can wait for a person's merge
//! and reads the request's state for that.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{
    api::{Api, Auth},
    error::Error,
    flow::{self, Host, Pr, PullRequest, Request},
    merge::{self, Ask, Auto, Merges, State, Status},
    status::{self, CommitStatus, Statuses},
};
use crate::trust::credential::Credential;

/// What refuses a merge here (a merge that cannot name the head it merges is never sent).
pub const NO_MERGE: &str = "Bitbucket Cloud's merge takes no head commit to check (and it has no auto-merge), so the tool never merges there; leave GITOPS_MERGE=none and set GITOPS_MERGE_WAIT to wait for a person's merge";

/// Bitbucket Cloud's pull requests API.
pub struct BitbucketCloud {
    api: Api,
}

#[derive(Deserialize)]
struct Branch {
    name: String,
}

#[derive(Deserialize)]
struct Commit {
    hash: String,
}

#[derive(Deserialize)]
struct Endpoint {
    branch: Branch,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    account_id: String,
}

#[derive(Deserialize)]
struct Href {
    href: String,
}

#[derive(Deserialize)]
struct Links {
    html: Href,
}

/// A pull request as Cloud answers it.
#[derive(Deserialize)]
struct PullRequestBody {
    id: u64,
    #[serde(default)]
    state: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    source: Endpoint,
    destination: Endpoint,
    #[serde(default)]
    reviewers: Vec<Account>,
    links: Links,
    #[serde(default)]
    merge_commit: Option<Commit>,
}

/// A page: `values` (and `next`, not followed: one head and base have one open request).
#[derive(Deserialize)]
struct Page {
    values: Vec<PullRequestBody>,
}

impl From<PullRequestBody> for Pr {
    fn from(p: PullRequestBody) -> Pr {
        Pr {
            number: p.id,
            url: p.links.html.href,
            title: p.title,
            body: p.description.unwrap_or_default(),
            labels: vec![],
            // Either id names a reviewer; both are kept, so either matches.
            reviewers: p
                .reviewers
                .into_iter()
                .flat_map(|a| [a.uuid, a.account_id])
                .filter(|s| !s.is_empty())
                .collect(),
            reviewer_ids: vec![],
            node_id: String::new(),
        }
    }
}

/// A reviewer as the API takes it: `{uuid}` in braces, else an account id.
fn account(id: &str) -> serde_json::Value {
    if id.starts_with('{') {
        json!({"uuid": id})
    } else {
        json!({"account_id": id})
    }
}

impl BitbucketCloud {
    /// A client on `api` (`https://api.bitbucket.org/2.0`).
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> BitbucketCloud {
        BitbucketCloud {
            api: Api::new(http, base, Auth::Bearer(token), &[]),
        }
    }

    fn path(req: &Request, rest: &str) -> String {
        format!(
            "/repositories/{}/{}/pullrequests{rest}",
            req.target.owner(),
            req.target.repo()
        )
    }
}

/// `"` inside a filter string is escaped (branch names may not hold one, but a filter is built
/// only from what is sure to be one string).
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Host for BitbucketCloud {
    fn find<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Option<Pr>> {
        Box::pin(async move {
            let q = format!(
                "source.branch.name = {} AND destination.branch.name = {} AND state = \"OPEN\"",
                quoted(&req.branch),
                quoted(&req.base)
            );
            let page: Page = self
                .api
                .call(
                    "find pull request",
                    Method::GET,
                    &Self::path(req, ""),
                    &[("q", &q), ("pagelen", "10")],
                    None,
                )
                .await?;
            Ok(page
                .values
                .into_iter()
                .find(|p| {
                    p.source.branch.name == req.branch && p.destination.branch.name == req.base
                })
                .map(Pr::from))
        })
    }

    fn create<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Pr> {
        Box::pin(async move {
            let body = json!({
                "title": req.title,
                "description": req.body,
                "source": {"branch": {"name": req.branch}},
                "destination": {"branch": {"name": req.base}},
                "draft": req.draft,
            });
            let p: PullRequestBody = self
                .api
                .send(Method::POST, &Self::path(req, ""), &[], Some(&body))
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
                    Method::PUT,
                    &Self::path(req, &format!("/{}", pr.number)),
                    &body,
                )
                .await
        })
    }

    /// Bitbucket Cloud documents no answer for a second request on the same branches: a 400
    /// on create is looked up once (another run's request is adopted), else it is the error.
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 400, .. })
    }

    fn duplicate_is_certain(&self) -> bool {
        false
    }

    fn add_labels<'a>(
        &'a self,
        _: &'a Request,
        _: &'a Pr,
        _: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move { Err(Error::no_labels("Bitbucket")) })
    }

    /// The PUT's `reviewers` replaces the list: the ones there are sent again.
    fn add_reviewers<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        reviewers: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let all: Vec<_> = pr
                .reviewers
                .iter()
                .filter(|r| r.starts_with('{'))
                .chain(reviewers)
                .map(|r| account(r))
                .collect();
            self.api
                .act(
                    "request reviewers",
                    Method::PUT,
                    &Self::path(req, &format!("/{}", pr.number)),
                    &json!({"title": pr.title, "reviewers": all}),
                )
                .await
        })
    }
}

impl Merges for BitbucketCloud {
    /// For a wait: `MERGED` (its `merge_commit`), `DECLINED` or `SUPERSEDED` (closed), open.
    fn status<'a>(&'a self, req: &'a Request, pr: &'a PullRequest) -> merge::Answer<'a, Status> {
        Box::pin(async move {
            let p: PullRequestBody = self
                .api
                .call(
                    "read pull request",
                    Method::GET,
                    &Self::path(req, &format!("/{}", pr.number)),
                    &[],
                    None,
                )
                .await?;
            let state = match p.state.as_str() {
                "MERGED" => State::Merged,
                "OPEN" => State::Open,
                _ => State::Closed,
            };
            Ok(Status {
                state,
                head: p.source.commit.map(|c| c.hash).unwrap_or_default(),
                merge_commit: p.merge_commit.map(|c| c.hash),
                auto_merge: false,
            })
        })
    }

    fn merge<'a>(
        &'a self,
        _: &'a Request,
        pr: &'a PullRequest,
        _: &'a Ask,
    ) -> merge::Answer<'a, Option<String>> {
        Box::pin(async move {
            Err(merge::not_allowed(
                pr,
                "no head precondition".into(),
                NO_MERGE,
            ))
        })
    }

    fn auto_merge<'a>(
        &'a self,
        _: &'a Request,
        pr: &'a PullRequest,
        _: &'a Ask,
    ) -> merge::Answer<'a, Auto> {
        Box::pin(async move { Err(merge::not_allowed(pr, "no auto-merge".into(), NO_MERGE)) })
    }
}

/// Bitbucket Cloud's build statuses (`/repositories/{ws}/{repo}/commit/{sha}/statuses/build`:
/// `key` (the context), `state` `SUCCESSFUL` or `FAILED`, `name`, `description`, `url`,
/// which is required: the PR's when no GITOPS_STATUS_URL). One status per key, updated in
/// place.
impl Statuses for BitbucketCloud {
    fn current<'a>(
        &'a self,
        req: &'a Request,
        sha: &'a str,
        context: &'a str,
    ) -> status::Answer<'a, Option<(status::State, String)>> {
        Box::pin(async move {
            let path = format!(
                "/repositories/{}/{}/commit/{sha}/statuses/build/{}",
                req.target.owner(),
                req.target.repo(),
                url::form_urlencoded::byte_serialize(context.as_bytes()).collect::<String>()
            );
            let s: serde_json::Value = match self
                .api
                .call("read build status", Method::GET, &path, &[], None)
                .await
            {
                Ok(s) => s,
                Err(Error::Status { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(build_state(&s))
        })
    }

    fn put<'a>(&'a self, req: &'a Request, s: &'a CommitStatus) -> status::Answer<'a, ()> {
        Box::pin(async move {
            let body = build_body(s);
            self.api
                .act(
                    "set build status",
                    Method::POST,
                    &format!(
                        "/repositories/{}/{}/commit/{}/statuses/build",
                        req.target.owner(),
                        req.target.repo(),
                        s.sha
                    ),
                    &body,
                )
                .await
        })
    }
}

/// A build status as Bitbucket Cloud and Data Center take it: keyed by the context (one per
/// key, updated in place), `url` required.
pub(crate) fn build_body(s: &CommitStatus) -> serde_json::Value {
    let state = match s.state {
        status::State::Success => "SUCCESSFUL",
        status::State::Failure => "FAILED",
    };
    json!({"key": s.context, "state": state, "name": s.context,
           "description": s.description, "url": s.target_url})
}

/// A build status' state (`SUCCESSFUL` or `FAILED`, as Bitbucket Cloud and Data Center name
/// them) and description. NB: read as `Value`: a type of its own would be another copy of
/// the API's `call`.
pub(crate) fn build_state(s: &serde_json::Value) -> Option<(status::State, String)> {
    let state = match s["state"].as_str()? {
        "SUCCESSFUL" => status::State::Success,
        "FAILED" => status::State::Failure,
        _ => return None,
    };
    Some((
        state,
        s["description"].as_str().unwrap_or_default().to_string(),
    ))
}
