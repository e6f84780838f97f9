//! Bitbucket Data Center (and Server) pull requests (REST 1.0, `/rest/api/latest`,
//! `../shared/contracts/bitbucket/`), for repos at `https://HOST[/context]/scm/{PROJECT}/{repo}.git`:
//! find by `at` (the head ref), `direction=OUTGOING` and state OPEN, matching the target ref;
//! create with `fromRef`/`toRef` and `draft`; update with the `version` precondition (read
//! first, read again when it moved); the 409 `DuplicatePullRequestException` handled like
//! GitHub's 422. Reviewers are user names, added as REVIEWER participants. Bitbucket has no
//! labels. HTTP access tokens go as Bearer.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    api::{Api, Auth},
    error::{AUTO_HINT, Error, METHOD_HINT},
    flow::{self, Host, Pr, PullRequest, Request, full_ref},
    merge::{self, Ask, Auto, Merges, Method as MergeMethod, Reading, State, Status},
    status::{self, CommitStatus, Statuses},
};
use crate::{plan::names::RepoSlug, trust::credential::Credential};

/// A Bitbucket Data Center instance's REST API.
pub struct BitbucketServer {
    api: Api,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ref {
    id: String,
    #[serde(default)]
    latest_commit: Option<String>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Participant {
    user: User,
}

#[derive(Deserialize)]
struct Href {
    href: String,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default, rename = "self")]
    self_: Vec<Href>,
}

/// A pull request as Data Center answers it (`RestPullRequest`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequestBody {
    id: u64,
    version: i64,
    #[serde(default)]
    state: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    from_ref: Ref,
    to_ref: Ref,
    #[serde(default)]
    reviewers: Vec<Participant>,
    #[serde(default)]
    links: Links,
}

/// A page of a paged API.
#[derive(Deserialize)]
struct Page {
    values: Vec<PullRequestBody>,
}

impl From<PullRequestBody> for Pr {
    fn from(p: PullRequestBody) -> Pr {
        Pr {
            number: p.id,
            url: p
                .links
                .self_
                .into_iter()
                .next()
                .map(|h| h.href)
                .unwrap_or_default(),
            title: p.title,
            body: p.description.unwrap_or_default(),
            labels: vec![],
            reviewers: p.reviewers.into_iter().map(|r| r.user.name).collect(),
            reviewer_ids: vec![],
            node_id: String::new(),
        }
    }
}

impl From<&PullRequestBody> for Status {
    fn from(p: &PullRequestBody) -> Status {
        let state = match p.state.as_str() {
            "MERGED" => State::Merged,
            "OPEN" => State::Open,
            _ => State::Closed,
        };
        Status {
            state,
            head: p.from_ref.latest_commit.clone().unwrap_or_default(),
            // Once merged, the target ref's latest commit is the one that merged it.
            merge_commit: p
                .to_ref
                .latest_commit
                .clone()
                .filter(|_| state == State::Merged),
            auto_merge: false,
        }
    }
}

/// The merge strategy id for a method (Bitbucket's `no-ff`, `squash`, `rebase-ff-only`).
fn strategy(m: MergeMethod) -> &'static str {
    match m {
        MergeMethod::Merge => "no-ff",
        MergeMethod::Squash => "squash",
        MergeMethod::Rebase => "rebase-ff-only",
    }
}

/// Merge refusals: 409 "out-of-date" (the version moved: a new head, or another update),
/// other 409s (conflicts, a merge check's veto) not mergeable now; 403 auto-merge off.
const REFUSALS: &[(u16, &str, Reading)] = &[
    (409, "out-of-date", Reading::Moved),
    (409, "out of date", Reading::Moved),
    (409, "", Reading::NotMergeable),
    (403, "auto-merge", Reading::NotAllowed(AUTO_HINT)),
    (400, "strategy", Reading::NotAllowed(METHOD_HINT)),
];

impl BitbucketServer {
    /// A client on `api` (`https://HOST[/context]/rest/api/latest`).
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> BitbucketServer {
        BitbucketServer {
            api: Api::new(http, base, Auth::Bearer(token), &[]),
        }
    }

    /// `/projects/{KEY}/repos/{repo}/pull-requests{rest}` for a repo named as the clone URL's
    /// path (`…/scm/{KEY}/{repo}`).
    fn path(slug: &RepoSlug, rest: &str) -> String {
        format!(
            "/projects/{}/repos/{}/pull-requests{rest}",
            project_key(slug),
            slug.repo()
        )
    }

    fn repo_ref(slug: &RepoSlug, branch: &str) -> Value {
        json!({"id": full_ref(branch),
               "repository": {"slug": slug.repo(), "project": {"key": project_key(slug)}}})
    }

    async fn read(&self, req: &Request, number: u64) -> Result<PullRequestBody, Error> {
        self.api
            .call(
                "read pull request",
                Method::GET,
                &Self::path(&req.target, &format!("/{number}")),
                &[],
                None,
            )
            .await
    }

    /// One merge at the version read with head `ask.head` (the version moves with the head).
    async fn post_merge(
        &self,
        req: &Request,
        pr: &PullRequest,
        ask: &Ask,
        auto: bool,
    ) -> Result<PullRequestBody, Error> {
        let now = self.read(req, pr.number).await?;
        if now.from_ref.latest_commit.as_deref() != Some(ask.head.as_str()) {
            return Err(merge::moved(pr, ask));
        }
        let version = now.version.to_string();
        let mut body = json!({"version": now.version, "strategyId": strategy(ask.method)});
        if auto {
            body["autoMerge"] = json!(true);
        }
        self.api
            .send(
                Method::POST,
                &Self::path(&req.target, &format!("/{}/merge", pr.number)),
                &[("version", &version)],
                Some(&body),
            )
            .await
            .map_err(|e| merge::read_refusal(e, pr, ask, REFUSALS))
    }
}

/// The project key: the path segment after `scm` (`~user` for a personal repo).
fn project_key(slug: &RepoSlug) -> &str {
    slug.owner().rsplit('/').next().unwrap_or_default()
}

impl Host for BitbucketServer {
    fn find<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Option<Pr>> {
        Box::pin(async move {
            let (head, base) = (full_ref(&req.branch), full_ref(&req.base));
            let page: Page = self
                .api
                .call(
                    "find pull request",
                    Method::GET,
                    &Self::path(&req.target, ""),
                    &[
                        ("at", &head),
                        ("direction", "OUTGOING"),
                        ("state", "OPEN"),
                        ("limit", "25"),
                    ],
                    None,
                )
                .await?;
            Ok(page
                .values
                .into_iter()
                .find(|p| p.to_ref.id == base && p.from_ref.id == head)
                .map(Pr::from))
        })
    }

    fn create<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Pr> {
        Box::pin(async move {
            let body = json!({
                "title": req.title,
                "description": req.body,
                "draft": req.draft,
                "fromRef": Self::repo_ref(&req.source, &req.branch),
                "toRef": Self::repo_ref(&req.target, &req.base),
            });
            let p: PullRequestBody = self
                .api
                .send(Method::POST, &Self::path(&req.target, ""), &[], Some(&body))
                .await?;
            Ok(p.into())
        })
    }

    /// With the version read just before; read again when another update moved it.
    fn update<'a>(&'a self, pr: &'a Pr, title: &'a str, req: &'a Request) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let mut attempt = 0;
            loop {
                let version = self.read(req, pr.number).await?.version;
                let body = json!({"version": version, "title": title, "description": req.body});
                let path = Self::path(&req.target, &format!("/{}", pr.number));
                match self
                    .api
                    .act("update pull request", Method::PUT, &path, &body)
                    .await
                {
                    Err(Error::Status { status: 409, .. }) if attempt < 3 => attempt += 1,
                    r => return r,
                }
            }
        })
    }

    /// 409 "Only one pull request may be open for a given source and target branch"
    /// (`DuplicatePullRequestException`; the answer names the existing one, which the flow
    /// then finds).
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 409, message, .. } if message.contains("Only one pull request may be open"))
    }

    fn add_labels<'a>(
        &'a self,
        _: &'a Request,
        _: &'a Pr,
        _: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move { Err(Error::no_labels("Bitbucket")) })
    }

    fn add_reviewers<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        reviewers: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            let path = Self::path(&req.target, &format!("/{}/participants", pr.number));
            for name in reviewers {
                let body = json!({"user": {"name": name}, "role": "REVIEWER"});
                self.api
                    .act("request reviewer", Method::POST, &path, &body)
                    .await?;
            }
            Ok(())
        })
    }
}

impl Merges for BitbucketServer {
    fn status<'a>(&'a self, req: &'a Request, pr: &'a PullRequest) -> merge::Answer<'a, Status> {
        Box::pin(async move {
            let p = self.read(req, pr.number).await?;
            let mut s = Status::from(&p);
            if s.state == State::Open {
                // An auto-merge request names the head it is for.
                let path = Self::path(&req.target, &format!("/{}/auto-merge", pr.number));
                let auto: Result<Value, Error> = self
                    .api
                    .call("read auto-merge", Method::GET, &path, &[], None)
                    .await;
                s.auto_merge = match auto {
                    Ok(v) => v["fromHash"].as_str() == Some(s.head.as_str()),
                    Err(Error::Status { status: 404, .. }) => false,
                    Err(e) => return Err(e),
                };
            }
            Ok(s)
        })
    }

    fn merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Option<String>> {
        Box::pin(async move {
            let p = self.post_merge(req, pr, ask, false).await?;
            Ok(Status::from(&p).merge_commit)
        })
    }

    fn auto_merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Auto> {
        Box::pin(async move {
            let p = self.post_merge(req, pr, ask, true).await?;
            let s = Status::from(&p);
            Ok(match s.state {
                State::Merged => Auto::Merged(s.merge_commit),
                _ => Auto::On,
            })
        })
    }
}

/// Bitbucket Data Center's build statuses (7.4+: `/projects/{KEY}/repos/{repo}/commits/{sha}/builds`,
/// `key` (the context), `state` `SUCCESSFUL` or `FAILED`, `name`, `description`, `url`
/// (required: the PR's when no GITOPS_STATUS_URL); read back by `?key=`). One status per key,
/// updated in place; a merge check can require it.
impl Statuses for BitbucketServer {
    fn current<'a>(
        &'a self,
        req: &'a Request,
        sha: &'a str,
        context: &'a str,
    ) -> status::Answer<'a, Option<(status::State, String)>> {
        Box::pin(async move {
            let path = Self::builds(&req.target, sha);
            let s: Value = match self
                .api
                .call(
                    "read build status",
                    Method::GET,
                    &path,
                    &[("key", context)],
                    None,
                )
                .await
            {
                Ok(s) => s,
                Err(Error::Status { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(super::bitbucket_cloud::build_state(&s))
        })
    }

    fn put<'a>(&'a self, req: &'a Request, s: &'a CommitStatus) -> status::Answer<'a, ()> {
        Box::pin(async move {
            let body = super::bitbucket_cloud::build_body(s);
            self.api
                .act(
                    "set build status",
                    Method::POST,
                    &Self::builds(&req.target, &s.sha),
                    &body,
                )
                .await
        })
    }
}

impl BitbucketServer {
    fn builds(slug: &RepoSlug, sha: &str) -> String {
        format!(
            "/projects/{}/repos/{}/commits/{sha}/builds",
            project_key(slug),
            slug.repo()
        )
    }
}
