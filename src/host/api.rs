//! The HTTP side every Git host API shares: one base URL, one auth header, JSON in and out,
//! error bodies turned into one message, rate limits read from the headers, bounded retries.
//! The token is an origin-bound [`Credential`]: it is attached only to a request for its own
//! origin, and the client follows no redirect to another (see `http::client`).

use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;

use super::error::Error;

use crate::trust::credential::Credential;

/// How a host wants its token.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer <t>` (GitHub, GitLab OAuth/PAT, Gitea, a GitHub App JWT).
    Bearer(Credential),
    /// `PRIVATE-TOKEN: <t>` (GitLab's own header for personal, project and group tokens).
    PrivateToken(Credential),
    /// `Authorization: token <t>` (Gitea's and Forgejo's documented form).
    Token(Credential),
    /// `Authorization: Basic base64(":" + t)`: an empty user name and the token (an Azure
    /// DevOps personal access token).
    Basic(Credential),
}

impl Auth {
    fn credential(&self) -> &Credential {
        match self {
            Auth::Bearer(c) | Auth::PrivateToken(c) | Auth::Token(c) | Auth::Basic(c) => c,
        }
    }
}

/// One host API: base URL (no trailing slash), auth, fixed headers.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    headers: &'static [(&'static str, &'static str)],
    /// Query parameters every request carries (Azure DevOps' `api-version`).
    query: &'static [(&'static str, &'static str)],
}

impl Api {
    pub fn new(
        http: reqwest::Client,
        base: &url::Url,
        auth: Auth,
        headers: &'static [(&'static str, &'static str)],
    ) -> Api {
        Api {
            http,
            base: base.as_str().trim_end_matches('/').to_string(),
            auth,
            headers,
            query: &[],
        }
    }

    /// The same API, with `query` on every request.
    pub fn with_query(mut self, query: &'static [(&'static str, &'static str)]) -> Api {
        self.query = query;
        self
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One request, no retry. Non-2xx answers become errors carrying the server's message.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let m = method_name(&method);
        let url = self.url(path);
        let Some(secret) = self.auth.credential().secret_for_str(&url) else {
            return Err(Error::Misdirected {
                method: m,
                url: crate::trust::redact::url(&url),
                bound: self.auth.credential().origin(),
            });
        };
        let mut req = self
            .http
            .request(method, &url)
            .query(self.query)
            .query(query);
        for (k, v) in self.headers {
            req = req.header(*k, *v);
        }
        req = authorize(req, &self.auth, secret);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|source| Error::Transport {
            method: m,
            url: url.clone(),
            source: source.without_url(),
        })?;
        let status = resp.status();
        if status.is_success() {
            return decode(m, url, resp).await;
        }
        let headers = resp.headers().clone();
        // The client followed no redirect to another origin (it would have carried, or lost,
        // the token there): say where the API moved instead.
        if status.is_redirection() {
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            return Err(Error::Redirected {
                method: m,
                url,
                status: status.as_u16(),
                location: crate::trust::redact::url(to),
            });
        }
        // Error bodies are JSON or plain text; bytes, not `text()`, whose charset decoding
        // would link every legacy encoding table. Only their start is read: one line of it
        // is shown.
        let body = read_capped(m, &url, resp, ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let message = message_of(&text);
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

    /// [`Api::send`] with bounded retries on transient faults. Only for requests that are
    /// safe to repeat (reads, and updates that set a value); never for a create.
    pub async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        crate::retry::retry(
            what,
            || self.send(method.clone(), path, query, body),
            Error::is_transient,
            Error::retry_after,
        )
        .await
    }
}

impl Api {
    /// [`Api::call`] for requests whose answer is not needed (updates, labels, reviewers).
    pub async fn act(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(), Error> {
        let _: serde_json::Value = self.call(what, method, path, &[], Some(body)).await?;
        Ok(())
    }
}

/// Attaches the token the way the host wants it.
fn authorize(req: reqwest::RequestBuilder, auth: &Auth, secret: &str) -> reqwest::RequestBuilder {
    match auth {
        Auth::Bearer(_) => req.bearer_auth(secret),
        Auth::PrivateToken(_) => req.header("PRIVATE-TOKEN", secret),
        Auth::Token(_) => req.header("Authorization", format!("token {secret}")),
        Auth::Basic(_) => req.basic_auth("", Some(secret)),
    }
}

/// The most of an error answer that is read: its message is one line.
const ERROR_BODY_BYTES: u64 = 64 * 1024;

/// A 2xx answer's JSON body, read within the API body budget. Some answers have none
/// (Gitea's merge: 200 or 201, empty), read as `null`. A whole answer that is not JSON (a
/// login page, a proxy's HTML) is said as such, with its content type, and not retried.
async fn decode<T: DeserializeOwned>(
    m: &'static str,
    url: String,
    resp: reqwest::Response,
) -> Result<T, Error> {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "no content type".to_string(), |t| format!("{t:?}"));
    let body = read_capped(m, &url, resp, crate::limits::MAX_API_BODY_BYTES).await?;
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body).map_err(|source| {
        if source.is_syntax() {
            Error::NotJson {
                method: m,
                url,
                status,
                content_type,
            }
        } else {
            Error::Decode {
                method: m,
                url,
                source,
            }
        }
    })
}

/// An answer's body, read to at most `limit` bytes (refused from its Content-Length where it
/// declares one): a hostile or broken server cannot make the run hold more.
async fn read_capped(
    m: &'static str,
    url: &str,
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    let too_large = || Error::TooLarge {
        method: m,
        url: url.to_string(),
        limit,
    };
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(too_large());
    }
    let mut out = vec![];
    while let Some(chunk) = resp.chunk().await.map_err(|source| Error::Body {
        method: m,
        url: url.to_string(),
        source: source.without_url(),
    })? {
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

/// One line out of an error body, whatever the host's shape: GitHub's `message` plus
/// `errors[].message`, GitLab's `message` as a string, a list or a field map (and `error`),
/// Gitea's `message`. A body that is not JSON is cut to 200 characters.
pub fn message_of(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.chars().take(200).collect();
    };
    let mut parts = vec![];
    let mut add = |m: &serde_json::Value| match m {
        serde_json::Value::String(s) => parts.push(s.clone()),
        serde_json::Value::Array(a) => parts.extend(a.iter().map(plain)),
        serde_json::Value::Object(o) => {
            parts.extend(o.iter().map(|(k, v)| format!("{k} {}", plain(v))));
        }
        _ => {}
    };
    if let Some(m) = v.get("message") {
        add(m);
    }
    match v.get("error") {
        // Bitbucket Cloud's envelope: `{"type": "error", "error": {"message", "detail"}}`.
        Some(serde_json::Value::Object(e)) if e.contains_key("message") => {
            add(&e["message"]);
            if let Some(d) = e.get("detail") {
                add(d);
            }
        }
        Some(e) => add(e),
        None => {}
    }
    if let Some(errs) = v.get("errors").and_then(|e| e.as_array()) {
        for e in errs {
            if let Some(m) = e.get("message") {
                add(m);
            }
        }
    }
    parts.join(": ")
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// How long to wait on a rate-limited answer. GitHub documents the most rules (429, or a
/// 403 that says so): Retry-After; else, with no remaining quota, until the reset; else a
/// minute. GitLab sends Retry-After with its 429s; a 503 with Retry-After is honoured too.
pub fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, message: &str) -> Option<Duration> {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return header("retry-after").map(Duration::from_secs);
    }
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
    use reqwest::header::HeaderValue;

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
        assert_eq!(
            rate_limit_wait(StatusCode::SERVICE_UNAVAILABLE, &h, ""),
            None
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
        assert_eq!(
            rate_limit_wait(StatusCode::SERVICE_UNAVAILABLE, &h, ""),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn every_hosts_error_body_becomes_one_message() {
        assert_eq!(
            message_of(
                r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:iter8_exp."}]}"#
            ),
            "Validation Failed: A pull request already exists for acme:iter8_exp."
        );
        assert_eq!(
            message_of(
                r#"{"message":["Another open merge request already exists for this source branch: !12"]}"#
            ),
            "Another open merge request already exists for this source branch: !12"
        );
        assert_eq!(
            message_of(r#"{"message":{"title":["can't be blank"]}}"#),
            "title can't be blank"
        );
        assert_eq!(message_of(r#"{"error":"invalid_token"}"#), "invalid_token");
        assert_eq!(
            message_of(
                r#"{"type":"error","error":{"message":"Bad request","detail":"You must specify a valid source branch"}}"#
            ),
            "Bad request: You must specify a valid source branch"
        );
        assert_eq!(
            message_of(
                r#"{"errors":[{"context":null,"message":"Only one pull request may be open for a given source and target branch","exceptionName":"x"}]}"#
            ),
            "Only one pull request may be open for a given source and target branch"
        );
        assert_eq!(
            message_of(r#"{"message":"not found","url":"https://gitea.test/api/swagger"}"#),
            "not found"
        );
        assert_eq!(
            message_of("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
