//! Read the Git host token from a Secret through the Kubernetes API.
//!
//! The Secret's body is read as bytes (at most `MAX_SECRET_BODY_BYTES`) and parsed here, not
//! by kube's typed `get`: kube logs a body it cannot parse whole, at WARN, and at that point
//! nothing has told the redactor what the Secret holds. Here every value the body holds is
//! registered with the redactor before anything about the Secret can be printed, and no
//! message ever carries the body or a parser's excerpt of it.

use base64::Engine;

use crate::{
    kube::{
        call::{Failure, call},
        cluster::Cluster,
    },
    limits::{MAX_KEY_BYTES, MAX_SECRET_BODY_BYTES, MAX_TOKEN_BYTES},
    trust::{credential::Token, redact},
};

/// Why the token could not be read; every variant names the Secret, namespace and key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot read secret {name:?} in namespace {namespace:?} (for a local run without a cluster, set GITOPS_TOKEN instead)"
    )]
    NoCluster {
        name: String,
        namespace: String,
        #[source]
        source: crate::kube::cluster::NoCluster,
    },
    #[error(
        "secret {name:?} not found in namespace {namespace:?}; create it (kubectl create secret generic {name} --from-literal={key}=TOKEN) or set GITOPS_TOKEN_SECRET / GITOPS_NAMESPACE"
    )]
    NotFound {
        name: String,
        namespace: String,
        key: String,
    },
    #[error(
        "not allowed to read secret {name:?} in namespace {namespace:?} (HTTP {status}); grant the task's service account `get` on secrets there"
    )]
    Forbidden {
        name: String,
        namespace: String,
        status: u16,
    },
    #[error(
        "secret {name:?} in namespace {namespace:?} has no key {key:?} (found: {found}); set GITOPS_TOKEN_KEY or fix the Secret"
    )]
    NoKey {
        name: String,
        namespace: String,
        key: String,
        found: String,
    },
    #[error(
        "secret {name:?} in namespace {namespace:?}: key {key:?} is empty or not a UTF-8 token (for a GitHub App key: not a PEM private key)"
    )]
    BadValue {
        name: String,
        namespace: String,
        key: String,
    },
    #[error(
        "secret {name:?} in namespace {namespace:?}: the API server's answer {what}; nothing of it is shown (it may hold credentials). Check the API server or the proxy in front of it"
    )]
    Malformed {
        name: String,
        namespace: String,
        what: String,
    },
    #[error(
        "secret {name:?} in namespace {namespace:?}: the value under key {key:?} is {size} bytes; a token is at most {max} bytes. Check GITOPS_TOKEN_KEY names the token"
    )]
    TooLong {
        name: String,
        namespace: String,
        key: String,
        size: usize,
        max: usize,
    },
    #[error("reading secret {name:?} in namespace {namespace:?} failed")]
    Api {
        name: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

/// The namespace the Secret `name` is read from: the run's, else the cluster configuration's.
pub async fn namespace(
    cluster: &Cluster,
    given: Option<String>,
    name: &str,
) -> Result<String, Error> {
    match given {
        Some(ns) => Ok(ns),
        None => cluster
            .client()
            .await
            .map(|(_, ns)| ns.clone())
            .map_err(|source| Error::NoCluster {
                name: name.into(),
                namespace: "(current)".into(),
                source,
            }),
    }
}

/// Reads the token under `key` of Secret `name` in `namespace`.
pub async fn read(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Token, Error> {
    let value = entry(cluster, namespace, name, key).await?;
    too_long(&value, MAX_TOKEN_BYTES, namespace, name, key)?;
    // Tokens are often created with `echo` and carry a trailing newline.
    match std::str::from_utf8(&value).map(str::trim) {
        Ok(t) if !t.is_empty() && !t.chars().any(char::is_control) => Ok(Token::new(t.to_string())),
        _ => Err(Error::BadValue {
            name: name.into(),
            namespace: namespace.into(),
            key: key.into(),
        }),
    }
}

/// Reads an armored private key (a GitHub App PEM, an OpenSSH or OpenPGP signing key) under `key` of
/// Secret `name` in `namespace`.
pub async fn read_pem(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Token, Error> {
    let value = entry(cluster, namespace, name, key).await?;
    too_long(&value, MAX_KEY_BYTES, namespace, name, key)?;
    match std::str::from_utf8(&value) {
        Ok(t) if t.contains("-----BEGIN ") && t.contains(" PRIVATE KEY") => {
            Ok(Token::new(t.trim().to_string()))
        }
        _ => Err(Error::BadValue {
            name: name.into(),
            namespace: namespace.into(),
            key: key.into(),
        }),
    }
}

fn too_long(value: &[u8], max: usize, namespace: &str, name: &str, key: &str) -> Result<(), Error> {
    if value.len() <= max {
        return Ok(());
    }
    Err(Error::TooLong {
        name: name.into(),
        namespace: namespace.into(),
        key: key.into(),
        size: value.len(),
        max,
    })
}

/// The raw bytes under `key` of Secret `name` in `namespace`.
async fn entry(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, Error> {
    let (n, ns, k) = (name.to_string(), namespace.to_string(), key.to_string());
    let (client, _) = cluster.client().await.map_err(|source| Error::NoCluster {
        name: n.clone(),
        namespace: ns.clone(),
        source,
    })?;
    let body = call("read secret", || get(client, namespace, name))
        .await
        .map_err(|f| match f {
            Failure::NotFound(_) => Error::NotFound {
                name: n.clone(),
                namespace: ns.clone(),
                key: k.clone(),
            },
            Failure::Forbidden(status) => Error::Forbidden {
                name: n.clone(),
                namespace: ns.clone(),
                status,
            },
            Failure::Other(source) => Error::Api {
                name: n.clone(),
                namespace: ns.clone(),
                source,
            },
        })?;
    let malformed = |what: &str| Error::Malformed {
        name: n.clone(),
        namespace: ns.clone(),
        what: what.into(),
    };
    let data = values(&body).map_err(malformed)?;
    let Some(value) = data.iter().find(|(name, _)| name == key).map(|(_, v)| v) else {
        let found: Vec<_> = data.iter().map(|(k, _)| k.as_str()).collect();
        let found = if found.is_empty() {
            "no keys".to_string()
        } else {
            found.join(", ")
        };
        return Err(Error::NoKey {
            name: n,
            namespace: ns,
            key: k,
            found,
        });
    };
    Ok(value.clone())
}

/// The Secret's body, read as bytes within its budget.
async fn get(client: &kube::Client, namespace: &str, name: &str) -> Result<Vec<u8>, kube::Error> {
    let path = format!(
        "/api/v1/namespaces/{}/secrets/{}",
        url::form_urlencoded::byte_serialize(namespace.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    );
    let req = http::Request::get(path)
        .header(http::header::ACCEPT, "application/json")
        .body(vec![])
        .map_err(kube::Error::HttpError)?;
    crate::kube::cluster::request_bytes(client, req, MAX_SECRET_BODY_BYTES).await
}

/// The keys and decoded values of a Secret's `data`. Every value is given to the redactor
/// (every form it travels in) before this returns, whatever is wrong with the rest; an error
/// says what was wrong, never what was there.
pub fn values(body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, &'static str> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| "is not JSON")?;
    let data = match doc.get("data") {
        None | Some(serde_json::Value::Null) => return Ok(vec![]),
        Some(serde_json::Value::Object(m)) => m,
        Some(_) => return Err("has a `data` that is not a map of keys to values"),
    };
    // First tell the redactor everything that could be a secret: each string as sent
    // (base64) and decoded.
    for v in data.values() {
        if let Some(s) = v.as_str() {
            redact::register(s);
            if let Ok(bytes) = b64.decode(s)
                && let Ok(text) = std::str::from_utf8(&bytes)
            {
                redact::register(text);
                redact::register(text.trim());
            }
        }
    }
    let mut out = vec![];
    for (k, v) in data {
        let s = v
            .as_str()
            .ok_or("has a value in `data` that is not a base64 string")?;
        let bytes = b64
            .decode(s)
            .map_err(|_| "has a value in `data` that is not base64")?;
        out.push((k.clone(), bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::values;

    #[test]
    fn a_secret_body_that_does_not_fit_says_what_is_wrong_and_never_what_is_there() {
        for body in [
            &br#"{"data": {"token": "c2VjcmV0LXRva2VuLXZhbHVl", "extra": 5}}"#[..],
            br#"{"data": "c2VjcmV0LXRva2VuLXZhbHVl"}"#,
            br#"<html>c2VjcmV0LXRva2VuLXZhbHVl</html>"#,
            br#"{"data": {"token": "not base64 !!"}}"#,
        ] {
            let e = values(body).unwrap_err();
            assert!(!e.contains("c2Vj") && !e.contains("secret-token"), "{e}");
        }
        // The value was registered before the error: a message that carried it shows ***.
        values(br#"{"data": {"token": "c2VjcmV0LXRva2VuLXZhbHVl", "extra": 5}}"#).unwrap_err();
        let shown = crate::trust::redact::text("leak: secret-token-value c2VjcmV0LXRva2VuLXZhbHVl");
        assert!(
            !shown.contains("secret-token-value") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }

    #[test]
    fn a_secret_body_is_read_as_its_keys_and_decoded_values() {
        let got = values(br#"{"kind":"Secret","data":{"token":"dG9rCg==","pat":"eA=="}}"#).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&("token".into(), b"tok\n".to_vec())));
        assert!(values(br#"{"kind":"Secret"}"#).unwrap().is_empty());
    }
}
