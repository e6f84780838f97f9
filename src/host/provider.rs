//! The host the operator configured, chosen by its kind.

use super::{
    azure_devops, bitbucket_cloud, bitbucket_server,
    error::Error,
    flow::{Opened, PullRequest, Request, open},
    gitea, github, gitlab,
    kind::Kind,
    merge::{self, Ask, Merged},
    status::{self, CommitStatus},
};
use crate::trust::credential::Credential;

/// A Git host's request API.
pub enum Provider {
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
    Gitea(gitea::Gitea),
    AzureDevOps(azure_devops::AzureDevOps),
    BitbucketServer(bitbucket_server::BitbucketServer),
    BitbucketCloud(bitbucket_cloud::BitbucketCloud),
}

impl Provider {
    /// A client for `kind` at `base`, sending `token` the way that host wants it.
    pub fn new(kind: Kind, http: reqwest::Client, base: &url::Url, token: Credential) -> Provider {
        match kind {
            Kind::GitHub => Provider::GitHub(github::GitHub::new(http, base, token)),
            Kind::GitLab => Provider::GitLab(gitlab::GitLab::new(http, base, token)),
            Kind::Gitea => Provider::Gitea(gitea::Gitea::new(http, base, token)),
            Kind::AzureDevOps => {
                Provider::AzureDevOps(azure_devops::AzureDevOps::new(http, base, token))
            }
            Kind::BitbucketCloud => {
                Provider::BitbucketCloud(bitbucket_cloud::BitbucketCloud::new(http, base, token))
            }
            Kind::BitbucketServer => {
                Provider::BitbucketServer(bitbucket_server::BitbucketServer::new(http, base, token))
            }
        }
    }

    /// Finds the open request for `req`; creates it if there is none, else updates its text;
    /// adds missing labels and reviewers. With `dry_run`, only looks.
    pub async fn open_pull_request(&self, req: &Request, dry_run: bool) -> Result<Opened, Error> {
        let h: &dyn super::flow::Host = match self {
            Provider::GitHub(h) => h,
            Provider::GitLab(h) => h,
            Provider::Gitea(h) => h,
            Provider::AzureDevOps(h) => h,
            Provider::BitbucketServer(h) => h,
            Provider::BitbucketCloud(h) => h,
        };
        open(h, req, dry_run).await
    }

    /// Sets the commit status on the PR's head unless it carries it already; with
    /// `dry_run`, only looks.
    pub async fn set_status(
        &self,
        req: &Request,
        s: &CommitStatus,
        dry_run: bool,
    ) -> Result<status::Action, Error> {
        let h: &dyn status::Statuses = match self {
            Provider::GitHub(h) => h,
            Provider::GitLab(h) => h,
            Provider::Gitea(h) => h,
            Provider::AzureDevOps(h) => h,
            Provider::BitbucketServer(h) => h,
            Provider::BitbucketCloud(h) => h,
        };
        status::set(h, req, s, dry_run).await
    }

    /// Merges `pr`, or turns its auto-merge on, as `ask` says, and waits as long as it says.
    pub async fn merge_pull_request(
        &self,
        req: &Request,
        pr: &PullRequest,
        ask: &Ask,
    ) -> Result<Merged, Error> {
        let h: &dyn merge::Merges = match self {
            Provider::GitHub(h) => h,
            Provider::GitLab(h) => h,
            Provider::Gitea(h) => h,
            Provider::AzureDevOps(h) => h,
            Provider::BitbucketServer(h) => h,
            Provider::BitbucketCloud(h) => h,
        };
        merge::merge(h, req, pr, ask).await
    }
}
