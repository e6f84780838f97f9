//! The host the operator configured, chosen by its kind.

use super::{
    azure_devops, bitbucket_cloud, bitbucket_server,
    error::Error,
    flow::{Host, Opened, Pr, PullRequest, Request, open},
    gitea, github, gitlab,
    kind::Kind,
    merge::{self, Ask, Merged, Merges},
    status::{self, CommitStatus, Statuses},
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

    /// The open request for `req`'s branch into its base, if any.
    pub async fn find_pull_request(&self, req: &Request) -> Result<Option<Pr>, Error> {
        self.host().find(req).await
    }

    /// Finds the open request for `req` (unless `found` is what a lookup already found);
    /// creates it if there is none, else updates its text; adds missing labels and
    /// reviewers. With `dry_run`, only looks.
    pub async fn open_pull_request(
        &self,
        req: &Request,
        dry_run: bool,
        found: Option<Result<Option<Pr>, Error>>,
    ) -> Result<Opened, Error> {
        let h = self.host();
        open(h, req, dry_run, found).await
    }

    /// Sets the commit status on the PR's head unless it carries it already (`fresh`: the
    /// run has just pushed that head, so it cannot); with `dry_run`, only looks.
    pub async fn set_status(
        &self,
        req: &Request,
        s: &CommitStatus,
        dry_run: bool,
        fresh: bool,
    ) -> Result<status::Action, Error> {
        let h = self.statuses();
        status::set(h, req, s, dry_run, fresh).await
    }

    /// Merges `pr`, or turns its auto-merge on, as `ask` says, and waits as long as it says.
    pub async fn merge_pull_request(
        &self,
        req: &Request,
        pr: &PullRequest,
        ask: &Ask,
    ) -> Result<Merged, Error> {
        let h = self.merges();
        merge::merge(h, req, pr, ask).await
    }
}

/// The host behind each of its faces: the flows take it as a trait object, so each flow is
/// compiled once for all hosts (see `flow::Answer`).
impl Provider {
    fn dyn_host(&self) -> (&dyn Host, &dyn Merges, &dyn Statuses) {
        match self {
            Provider::GitHub(h) => (h, h, h),
            Provider::GitLab(h) => (h, h, h),
            Provider::Gitea(h) => (h, h, h),
            Provider::AzureDevOps(h) => (h, h, h),
            Provider::BitbucketServer(h) => (h, h, h),
            Provider::BitbucketCloud(h) => (h, h, h),
        }
    }

    fn host(&self) -> &dyn Host {
        self.dyn_host().0
    }

    fn merges(&self) -> &dyn Merges {
        self.dyn_host().1
    }

    fn statuses(&self) -> &dyn Statuses {
        self.dyn_host().2
    }
}
