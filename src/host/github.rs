//! GitHub's pulls API (`../shared/contracts/github/`), for github.com, GitHub Enterprise Cloud
//! (`api.SUBDOMAIN.ghe.com`) and Enterprise Server (`https://HOST/api/v3`): list open PRs by
//! head and base, create (with `draft`), update; labels through the issues API, reviewers
//! through requested_reviewers. Sends what GitHub requires (User-Agent from the client,
//! Accept, X-GitHub-Api-Version, Bearer).

use reqwest::Method;
use serde_json::json;

use super::{
    api::{Api, Auth},
    error::{AUTO_HINT, Error, METHOD_HINT, PERMISSION_HINT},
    flow::{self, Host, Pr, PullRequest, Request},
    merge::{self, Ask, Auto, Merges, Reading, Status},
    repos,
    status::{self, CommitStatus, State, Statuses},
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
    /// The GraphQL endpoint (auto-merge has no REST call).
    graphql: Api,
}

impl GitHub {
    /// A client on `api` (`https://api.github.com`, or GHES's `https://HOST/api/v3`).
    /// Authenticates with `Authorization: Bearer` and GitHub's API version headers.
    pub fn new(http: reqwest::Client, base: &url::Url, token: Credential) -> GitHub {
        GitHub {
            api: Api::new(http.clone(), base, Auth::Bearer(token.clone()), HEADERS),
            graphql: Api::new(http, &graphql_url(base), Auth::Bearer(token), HEADERS),
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

/// GitHub's GraphQL endpoint beside its REST base: `https://api.github.com/graphql`, and on
/// Enterprise Server `https://HOST/api/graphql` beside `https://HOST/api/v3`.
fn graphql_url(base: &url::Url) -> url::Url {
    let mut u = base.clone();
    let path = base.path().trim_end_matches('/');
    match path.strip_suffix("/api/v3") {
        Some(root) => u.set_path(&format!("{root}/api/graphql")),
        None => u.set_path(&format!("{path}/graphql")),
    }
    u
}

/// `enablePullRequestAutoMerge` (contracts/github/graphql-automerge.graphql), with the head
/// the run pushed as `expectedHeadOid`.
const ENABLE_AUTO_MERGE: &str = "mutation($pr: ID!, $method: PullRequestMergeMethod, $head: GitObjectID) { enablePullRequestAutoMerge(input: {pullRequestId: $pr, mergeMethod: $method, expectedHeadOid: $head}) { clientMutationId } }";

/// A GraphQL answer: HTTP 200, with `errors` when the mutation was refused.
#[derive(serde::Deserialize)]
struct GraphQl {
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(serde::Deserialize)]
struct GraphQlError {
    message: String,
}

/// `PUT /pulls/{n}/merge` refusals (contracts/github/merge.notes.md): 405 "not mergeable" (or
/// "Merge commits are not allowed on this repository." for a method), 409 the head moved.
const REFUSALS: &[(u16, &str, Reading)] = &[
    (405, "not allowed", Reading::NotAllowed(METHOD_HINT)),
    (405, "", Reading::NotMergeable),
    (409, "", Reading::Moved),
];

impl Merges for GitHub {
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
            #[derive(serde::Deserialize)]
            struct Result {
                sha: String,
            }
            let body = json!({
                "sha": ask.head,
                "merge_method": ask.method.name(),
            });
            // Not retried: a lost answer is judged by reading the request again.
            let r: Result = self
                .api
                .send(
                    Method::PUT,
                    &Self::path(req, &format!("/pulls/{}/merge", pr.number)),
                    &[],
                    Some(&body),
                )
                .await
                .map_err(|e| merge::read_refusal(e, pr, ask, REFUSALS))?;
            Ok(Some(r.sha))
        })
    }

    fn auto_merge<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a PullRequest,
        ask: &'a Ask,
    ) -> merge::Answer<'a, Auto> {
        Box::pin(async move {
            let body = json!({
                "query": ENABLE_AUTO_MERGE,
                "variables": {
                    "pr": pr.node_id,
                    "method": ask.method.name().to_ascii_uppercase(),
                    "head": ask.head,
                },
            });
            let answer: GraphQl = self
                .graphql
                .call("enable auto-merge", Method::POST, "", &[], Some(&body))
                .await?;
            let Some(e) = answer.errors.into_iter().next() else {
                return Ok(Auto::On);
            };
            let m = e.message;
            if m.contains("Auto merge is not allowed") {
                Err(merge::not_allowed(pr, m, AUTO_HINT))
            } else if m.contains("clean status") || m.contains("not in the correct state") {
                // Nothing to wait for (its checks passed already): GitHub merges only now.
                tracing::info!(pr = %pr.url, "auto-merge has nothing to wait for; merging now");
                Ok(Auto::Merged(self.merge(req, pr, ask).await?))
            } else if m.contains("not allowed to") {
                Err(merge::not_allowed(pr, m, PERMISSION_HINT))
            } else {
                Err(Error::Answer {
                    what: "enable auto-merge".into(),
                    message: m,
                })
            }
        })
    }
}

impl Host for GitHub {
    fn find<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Option<Pr>> {
        Box::pin(async move {
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
        })
    }

    fn create<'a>(&'a self, req: &'a Request) -> flow::Answer<'a, Pr> {
        Box::pin(async move {
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
        })
    }

    fn update<'a>(&'a self, pr: &'a Pr, title: &'a str, req: &'a Request) -> flow::Answer<'a, ()> {
        Box::pin(async move { repos::update(&self.api, req, pr.number, title).await })
    }

    /// GitHub's 422 "A pull request already exists for OWNER:BRANCH." (contracts/github/notes.md).
    fn is_duplicate(&self, e: &Error) -> bool {
        matches!(e, Error::Status { status: 422, message, .. } if message.contains("already exists"))
    }

    fn add_labels<'a>(
        &'a self,
        req: &'a Request,
        pr: &'a Pr,
        labels: &'a [String],
    ) -> flow::Answer<'a, ()> {
        Box::pin(async move {
            // A PR is an issue; labels live on the issue. Adding is idempotent.
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
            // `org/team` names a team; anything else a user.
            let (teams, users): (Vec<&String>, Vec<&String>) =
                reviewers.iter().partition(|r| r.contains('/'));
            let teams: Vec<&str> = teams
                .iter()
                .filter_map(|t| t.split_once('/').map(|(_, slug)| slug))
                .collect();
            let body = json!({ "reviewers": users, "team_reviewers": teams });
            repos::request_reviewers(&self.api, req, pr.number, &body).await
        })
    }
}

impl Statuses for GitHub {
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
