//! The kind of Git host, and the API base each kind has for a repo's origin.

/// The kind of Git host, which decides the API spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    GitHub,
    GitLab,
    Gitea,
    /// Azure DevOps Services and Server (`azure-devops`).
    #[serde(rename = "azure-devops")]
    AzureDevOps,
    /// Bitbucket Cloud (`bitbucket`).
    #[serde(rename = "bitbucket")]
    BitbucketCloud,
    /// Bitbucket Data Center and Server (`bitbucket-server`).
    #[serde(rename = "bitbucket-server")]
    BitbucketServer,
}

impl Kind {
    /// Every kind by its name in GITOPS_PROVIDER (the help text names each; a test holds
    /// them together).
    pub const NAMES: [&'static str; 6] = [
        "github",
        "gitlab",
        "gitea",
        "azure-devops",
        "bitbucket",
        "bitbucket-server",
    ];

    /// The other names GITOPS_PROVIDER takes (case aside), each for the kind `parse` says.
    pub const ALIASES: [&'static str; 6] = [
        "forgejo",
        "azure",
        "azuredevops",
        "bitbucket-cloud",
        "bitbucket-datacenter",
        "bitbucket-dc",
    ];

    /// Parses GITOPS_PROVIDER.
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "github" => Some(Kind::GitHub),
            "gitlab" => Some(Kind::GitLab),
            "gitea" | "forgejo" => Some(Kind::Gitea),
            "azure-devops" | "azure" | "azuredevops" => Some(Kind::AzureDevOps),
            "bitbucket" | "bitbucket-cloud" => Some(Kind::BitbucketCloud),
            "bitbucket-server" | "bitbucket-datacenter" | "bitbucket-dc" => {
                Some(Kind::BitbucketServer)
            }
            _ => None,
        }
    }

    /// The kind a well-known host name implies: github.com and GitHub Enterprise Cloud's
    /// `*.ghe.com` (and their `api.` hosts), gitlab.com.
    pub fn from_host(host: &str) -> Option<Kind> {
        let host = host.to_ascii_lowercase();
        let host = host.strip_prefix("api.").unwrap_or(&host);
        if host == "github.com" || host.ends_with(".ghe.com") {
            Some(Kind::GitHub)
        } else if host == "gitlab.com" {
            Some(Kind::GitLab)
        } else if host == "bitbucket.org" {
            Some(Kind::BitbucketCloud)
        } else if host == "dev.azure.com" || host.ends_with(".visualstudio.com") {
            Some(Kind::AzureDevOps)
        } else {
            None
        }
    }

    /// The kind an API base URL's path implies: GitHub Enterprise Server's `/api/v3`,
    /// GitLab's `/api/v4`, Gitea's and Forgejo's `/api/v1`.
    pub fn from_api_path(path: &str) -> Option<Kind> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/api/v3") {
            Some(Kind::GitHub)
        } else if path.ends_with("/api/v4") {
            Some(Kind::GitLab)
        } else if path.ends_with("/api/v1") {
            Some(Kind::Gitea)
        } else if path.ends_with("/rest/api/latest") || path.ends_with("/rest/api/1.0") {
            Some(Kind::BitbucketServer)
        } else {
            None
        }
    }

    /// The API base for a repo at `origin` (its clone URL; most kinds read only the origin).
    pub fn default_api(self, origin: &url::Url) -> url::Url {
        let host = origin.host_str().unwrap_or_default().to_ascii_lowercase();
        let at = |path: &str| {
            let mut u = origin.clone();
            u.set_path(path);
            u.set_query(None);
            u.set_fragment(None);
            u
        };
        match self {
            Kind::GitHub if host == "github.com" => {
                url::Url::parse("https://api.github.com").expect("constant URL")
            }
            Kind::GitHub if host.ends_with(".ghe.com") => {
                let mut u = at("/");
                let _ = u.set_host(Some(&format!("api.{host}")));
                u
            }
            Kind::GitHub => at("/api/v3"),
            Kind::GitLab => at("/api/v4"),
            Kind::Gitea => at("/api/v1"),
            // The organization (or collection) and project are in each call's path.
            Kind::AzureDevOps => at("/"),
            Kind::BitbucketCloud if host == "bitbucket.org" => {
                url::Url::parse("https://api.bitbucket.org/2.0").expect("constant URL")
            }
            Kind::BitbucketCloud => at("/2.0"),
            // Beside the clone URL's `/scm/`, under the same context path.
            Kind::BitbucketServer => {
                let path = origin.path();
                let context = path.find("/scm/").map_or("", |i| &path[..i]);
                at(&format!("{context}/rest/api/latest"))
            }
        }
    }

    /// The API base for an API URL as the operator gave it. Bitbucket Data Center's server
    /// root (`https://HOST[/context]`, what most people paste) is its REST API's parent: the
    /// API is `/rest/api/latest` beneath it. Every other URL is taken as given.
    pub fn api_base(self, given: url::Url) -> url::Url {
        let path = given.path().trim_end_matches('/').to_string();
        match self {
            Kind::BitbucketServer if !path.contains("/rest/") && !path.ends_with("/rest") => {
                let mut u = given;
                u.set_path(&format!("{path}/rest/api/latest"));
                u
            }
            _ => given,
        }
    }

    /// What the token needs to set a commit status, as each host documents it.
    pub fn status_scope(self) -> &'static str {
        match self {
            Kind::GitHub => {
                "`repo:status` (a classic token) or Commit statuses: write (fine-grained)"
            }
            Kind::GitLab => "the `api` scope and the Developer role",
            Kind::Gitea => "the `write:repository` scope",
            Kind::AzureDevOps => "the Code (status) scope (`vso.code_status`)",
            Kind::BitbucketCloud => "the `repository` scope",
            Kind::BitbucketServer => "read access to the repository (REPO_READ)",
        }
    }

    /// The longest PR description the host takes, in characters (the body is fitted to it:
    /// the diff shrinks first, then the tables, never the verdict line).
    /// - GitHub: 65,536 (422 "body is too long (maximum is 65536 characters)").
    /// - GitLab: 1,048,576 (the merge request API's `description` limit).
    /// - Azure DevOps: 4,000 (400 "A description for a pull request must not be longer than
    ///   4000 characters").
    /// - Bitbucket Data Center: under 32,768 (400 "Please enter a non-empty value less than
    ///   32768 characters", Atlassian BSERV-14135).
    /// - Bitbucket Cloud and Gitea/Forgejo document none; 262,144 (Bitbucket Cloud took 1.3
    ///   million in dependabot's tests, which cap it there) and 65,536 (Gitea's API mirrors
    ///   GitHub's) keep the page readable.
    pub fn max_body_chars(self) -> usize {
        match self {
            Kind::GitHub | Kind::Gitea => 65_536,
            Kind::GitLab => 1_048_576,
            Kind::AzureDevOps => 4_000,
            // "less than 32768": 32,767 at most.
            Kind::BitbucketServer => 32_767,
            Kind::BitbucketCloud => 262_144,
        }
    }

    /// What the host calls the request, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::GitLab => "merge request",
            _ => "pull request",
        }
    }
}

#[cfg(test)]
mod names {
    use super::Kind;

    #[test]
    fn a_bitbucket_data_center_root_url_gets_its_rest_api_path() {
        let base = |k: Kind, u: &str| k.api_base(url::Url::parse(u).unwrap()).to_string();
        let dc = Kind::BitbucketServer;
        assert_eq!(
            base(dc, "https://bb.corp"),
            "https://bb.corp/rest/api/latest"
        );
        assert_eq!(
            base(dc, "https://bb.corp/bitbucket/"),
            "https://bb.corp/bitbucket/rest/api/latest"
        );
        assert_eq!(
            base(dc, "https://bb.corp/rest/api/latest"),
            "https://bb.corp/rest/api/latest"
        );
        assert_eq!(
            base(dc, "https://bb.corp/rest/api/1.0"),
            "https://bb.corp/rest/api/1.0"
        );
        assert_eq!(base(Kind::GitHub, "https://ghe.corp"), "https://ghe.corp/");
    }

    #[test]
    fn every_kind_has_a_name_the_help_text_gives() {
        let cmd = <crate::config::Args as clap::Args>::augment_args(clap::Command::new("t"));
        let help = cmd
            .get_arguments()
            .find(|a| a.get_id() == "provider")
            .and_then(|a| a.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        for name in Kind::NAMES {
            assert!(Kind::parse(name).is_some(), "{name}");
            assert!(
                help.contains(name),
                "--provider's help does not name {name}: {help}"
            );
        }
    }
}
