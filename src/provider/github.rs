//! GitHub's pulls API (`../shared/contracts/github/`): list open PRs for head->base, create,
//! update. Sends what GitHub requires (User-Agent, Accept, X-GitHub-Api-Version, Bearer).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{Action, Error, PullRequest, Request};
use crate::{config::Token, names::RepoSlug};

/// The API version this client speaks.
pub const API_VERSION: &str = "2022-11-28";

/// A GitHub (or GitHub Enterprise Server) repository's pulls API.
pub struct GitHub {
    http: reqwest::Client,
    api: url::Url,
    repo: RepoSlug,
    token: Token,
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    html_url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
}

impl GitHub {
    /// A client for `repo` at `api` (e.g. `https://api.github.com`, or GHES's `/api/v3`).
    pub fn new(http: reqwest::Client, api: url::Url, repo: RepoSlug, token: Token) -> Self {
        GitHub {
            http,
            api,
            repo,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/{}{}",
            self.api.as_str().trim_end_matches('/'),
            self.repo.owner(),
            self.repo.repo(),
            path
        )
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        url: String,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let m = method_name(&method);
        let mut req = self
            .http
            .request(method, &url)
            .query(query)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|source| Error::Transport {
            method: m,
            url: url.clone(),
            source: source.without_url(),
        })?;
        let status = resp.status();
        if status.is_success() {
            return resp.json().await.map_err(|source| Error::Body {
                method: m,
                url,
                source: source.without_url(),
            });
        }
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .map(|v| {
                let mut m = v
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string();
                if let Some(errs) = v.get("errors").and_then(|e| e.as_array()) {
                    for e in errs {
                        if let Some(em) = e.get("message").and_then(|x| x.as_str()) {
                            m.push_str(": ");
                            m.push_str(em);
                        }
                    }
                }
                m
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        let retry_after = rate_limit_wait(status, &headers, &message);
        if (status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN)
            && retry_after.is_none()
        {
            return Err(Error::Auth {
                method: m,
                url,
                status: status.as_u16(),
                message,
            });
        }
        Err(Error::Status {
            method: m,
            url,
            status: status.as_u16(),
            message,
            retry_after,
        })
    }

    async fn with_retry<T: for<'de> Deserialize<'de>>(
        &self,
        what: &str,
        method: Method,
        url: String,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        crate::retry::retry(
            what,
            || self.send(method.clone(), url.clone(), query, body.clone()),
            Error::is_transient,
            Error::retry_after,
        )
        .await
    }

    /// The open PR for `head` (`owner:branch`) into `base`, if any.
    async fn find(&self, head: &str, base: &str) -> Result<Option<Pull>, Error> {
        let pulls: Vec<Pull> = self
            .with_retry(
                "find pull request",
                Method::GET,
                self.url("/pulls"),
                &[
                    ("state", "open"),
                    ("head", head),
                    ("base", base),
                    ("per_page", "10"),
                ],
                None,
            )
            .await?;
        Ok(pulls.into_iter().next())
    }

    /// Finds the open PR for `req`; creates it if there is none, else updates its text.
    /// With `dry_run`, only looks.
    pub async fn open_pull_request(
        &self,
        req: &Request,
        dry_run: bool,
    ) -> Result<(Option<PullRequest>, Action), Error> {
        let existing = self.find(&req.head, &req.base).await?;
        if dry_run {
            return Ok(match existing {
                Some(p) => (
                    Some(PullRequest {
                        number: p.number,
                        url: p.html_url,
                    }),
                    Action::WouldKeep,
                ),
                None => (None, Action::WouldCreate),
            });
        }
        if let Some(p) = existing {
            return self.update(p, req).await;
        }
        // The head for create is `branch` on the same repo, `owner:branch` across repos; the
        // `owner:branch` form is accepted for both.
        let body =
            json!({"title": req.title, "head": req.head, "base": req.base, "body": req.body});
        // NB: no retry around create: a create whose response was lost must not be sent
        // twice; the re-lookup below finds it instead.
        match self
            .send::<Pull>(Method::POST, self.url("/pulls"), &[], Some(body))
            .await
        {
            Ok(p) => Ok((
                Some(PullRequest {
                    number: p.number,
                    url: p.html_url,
                }),
                Action::Created,
            )),
            Err(e) if is_duplicate(&e) || e.is_transient() => {
                tracing::info!(error = %e, "create did not answer cleanly; looking the pull request up again");
                match self.find(&req.head, &req.base).await? {
                    Some(p) => self.update(p, req).await,
                    None if e.is_transient() => {
                        let body = json!({"title": req.title, "head": req.head, "base": req.base, "body": req.body});
                        let p: Pull = self
                            .with_retry(
                                "create pull request",
                                Method::POST,
                                self.url("/pulls"),
                                &[],
                                Some(body),
                            )
                            .await?;
                        Ok((
                            Some(PullRequest {
                                number: p.number,
                                url: p.html_url,
                            }),
                            Action::Created,
                        ))
                    }
                    None => Err(Error::Vanished {
                        head: req.head.clone(),
                        base: req.base.clone(),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, p: Pull, req: &Request) -> Result<(Option<PullRequest>, Action), Error> {
        let pr = PullRequest {
            number: p.number,
            url: p.html_url.clone(),
        };
        if p.title == req.title && p.body.as_deref().unwrap_or("") == req.body {
            return Ok((Some(pr), Action::Unchanged));
        }
        let body = json!({"title": req.title, "body": req.body});
        let _: serde_json::Value = self
            .with_retry(
                "update pull request",
                Method::PATCH,
                self.url(&format!("/pulls/{}", p.number)),
                &[],
                Some(body),
            )
            .await?;
        Ok((Some(pr), Action::Updated))
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        _ => "HTTP",
    }
}

/// GitHub's 422 "A pull request already exists for OWNER:BRANCH." (contracts/github/notes.md).
fn is_duplicate(e: &Error) -> bool {
    matches!(e, Error::Status { status: 422, message, .. } if message.contains("already exists"))
}

/// How long to wait on a rate-limited answer (429, or a 403 that says so), per GitHub's
/// documented rules: Retry-After; else, with no remaining quota, until the reset; else a minute.
fn rate_limit_wait(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    message: &str,
) -> Option<Duration> {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let remaining_zero = header("x-ratelimit-remaining") == Some(0);
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (remaining_zero || message.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return None;
    }
    if let Some(secs) = header("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if remaining_zero && let Some(reset) = header("x-ratelimit-reset") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    Some(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn rate_limits_follow_the_documented_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, "Bad credentials"),
            None
        );
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h, ""),
            Some(Duration::from_secs(60))
        );
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &h,
                "You have exceeded a secondary rate limit"
            ),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn the_duplicate_pr_body_is_recognized() {
        let e = Error::Status {
            method: "POST",
            url: "u".into(),
            status: 422,
            message: "Validation Failed: A pull request already exists for acme:iter8_exp.".into(),
            retry_after: None,
        };
        assert!(is_duplicate(&e));
    }
}
