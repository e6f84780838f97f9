//! What each kind of host accepts, asked by config's validators and the run so that neither
//! holds host names: the kinds to offer, the hosts recognised by name, how a repo is named,
//! the git user name a token goes with, the merge options it refuses, whether it takes a
//! GitHub App and whether a commit status needs a link. [`Kind::table`] renders these as
//! docs/hosts.md's table, which a test holds to them.

use super::{
    kind::Kind,
    merge::{Method, Policy},
};
use crate::plan::names::RepoSlug;

impl Kind {
    /// Every kind, in GITOPS_PROVIDER's order.
    pub const ALL: [Kind; 6] = [
        Kind::GitHub,
        Kind::GitLab,
        Kind::Gitea,
        Kind::AzureDevOps,
        Kind::BitbucketCloud,
        Kind::BitbucketServer,
    ];

    /// The kinds, as a message offers them (GITOPS_PROVIDER's values, with what each covers).
    pub const CHOICES: &'static str = "github (GitHub Enterprise Server too), gitlab, gitea (Forgejo too) azure-devops (Azure DevOps Server too), bitbucket (Cloud) or bitbucket-server (Data Center)";

    /// The kinds as an unknown GITOPS_PROVIDER is told them.
    pub const NAMED: &'static str = "github, gitlab, gitea (gitea also covers Forgejo), azure-devops, bitbucket or bitbucket-server";

    /// The names, as a list ending in "or".
    pub fn names_or() -> String {
        let (last, rest) = Kind::NAMES.split_last().expect("six kinds");
        format!("{} or {last}", rest.join(", "))
    }

    /// The hosts whose kind is known from their name alone ([`Kind::from_host`]).
    pub const KNOWN_HOSTS: &'static str = "github.com, *.ghe.com, gitlab.com or dev.azure.com";

    /// The git user name a token is sent with, unless GITOPS_USERNAME says otherwise: Bitbucket
    /// Cloud takes an access token for git only with the literal `x-token-auth`; the others
    /// take any, and `x-access-token` is GitHub's own.
    pub fn git_username(kind: Option<Kind>) -> &'static str {
        match kind {
            Some(Kind::BitbucketCloud) => "x-token-auth",
            _ => "x-access-token",
        }
    }

    /// Why a repo named `slug` cannot be on this kind of host, if it cannot: only GitLab has
    /// nested groups; Azure DevOps names a repo `{org}/{project}/_git/{repo}`; Bitbucket Data
    /// Center `scm/{PROJECT}/{repo}` (after the context path, if any).
    pub fn slug_problem(self, slug: &RepoSlug) -> Option<String> {
        let owner = slug.owner();
        match self {
            Kind::GitLab => None,
            Kind::AzureDevOps if !(owner == "_git" || owner.ends_with("/_git")) => Some(format!(
                "{slug} is not an Azure DevOps repo: give the path of its clone URL, {{org}}/{{project}}/_git/{{repo}}"
            )),
            Kind::AzureDevOps => None,
            Kind::BitbucketServer => {
                let parts: Vec<&str> = owner.rsplit('/').take(2).collect();
                let scm = parts.len() == 2 && parts[1] == "scm";
                (!scm).then(|| format!(
                    "{slug} is not a Bitbucket Data Center repo: give the path of its clone URL, scm/{{PROJECT}}/{{repo}}"
                ))
            }
            _ if owner.contains('/') => Some(format!(
                "{slug} has nested groups, which only GitLab has; give owner/repo"
            )),
            _ => None,
        }
    }

    /// Why this host cannot merge as asked, naming the input to change, if it cannot.
    pub fn merge_refusal(
        self,
        policy: Policy,
        method: Method,
    ) -> Option<(&'static str, &'static str)> {
        match self {
            Kind::BitbucketCloud if policy != Policy::None => {
                Some(("GITOPS_MERGE", super::bitbucket_cloud::NO_MERGE))
            }
            Kind::GitLab if method == Method::Rebase => Some((
                "GITOPS_MERGE_METHOD",
                "rebase is not a GitLab merge option: the project's merge method (merge commit, semi-linear or fast-forward) decides; use merge or squash",
            )),
            _ => None,
        }
    }

    /// Whether GitHub App credentials (GITOPS_GITHUB_APP_*) work here: GitHub's alone.
    pub fn takes_github_app(self) -> bool {
        self == Kind::GitHub
    }

    /// Whether a commit status must carry a link: Bitbucket's `url` is required (Cloud and
    /// Data Center), so the run links the PR when GITOPS_STATUS_URL does not say.
    pub fn status_needs_link(self) -> bool {
        matches!(self, Kind::BitbucketCloud | Kind::BitbucketServer)
    }

    /// docs/hosts.md's table of what each host takes, from the answers above.
    pub fn table() -> String {
        let mut out = String::from(
            "| GITOPS_PROVIDER | git user | GITOPS_MERGE | GITOPS_MERGE_METHOD | GitHub App | status link | status token | PR description |\n|---|---|---|---|---|---|---|---|\n",
        );
        let yes = |b: bool| if b { "yes" } else { "no" };
        for (k, name) in Kind::ALL.into_iter().zip(Kind::NAMES) {
            let merges: Vec<&str> = [
                (Policy::None, "none"),
                (Policy::Auto, "auto"),
                (Policy::Now, "now"),
            ]
            .into_iter()
            .filter(|(p, _)| k.merge_refusal(*p, Method::Merge).is_none())
            .map(|(_, n)| n)
            .collect();
            let methods: Vec<&str> = [Method::Merge, Method::Squash, Method::Rebase]
                .into_iter()
                .filter(|m| k.merge_refusal(Policy::Now, *m).is_none() || merges == ["none"])
                .map(Method::name)
                .collect();
            out.push_str(&format!(
                "| `{name}` | `{}` | {} | {} | {} | {} | {} | {} characters |\n",
                Kind::git_username(Some(k)),
                merges.join(", "),
                if merges == ["none"] {
                    "–".to_string()
                } else {
                    methods.join(", ")
                },
                yes(k.takes_github_app()),
                if k.status_needs_link() {
                    "required (the PR's)"
                } else {
                    "optional"
                },
                k.status_scope(),
                k.max_body_chars(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn the_hosts_page_shows_the_table_the_code_answers() {
        let page = include_str!("../../docs/hosts.md");
        let table = Kind::table();
        assert!(
            page.contains(&table),
            "docs/hosts.md must hold this table as it is:\n{table}"
        );
    }
}
