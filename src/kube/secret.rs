//! Read the Git host token from a Secret through the Kubernetes API.

use k8s_openapi::api::core::v1::Secret;

use crate::{
    kube::{
        call::{Failure, call},
        cluster::Cluster,
    },
    trust::credential::Token,
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
    let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
    let secret = call("read secret", || api.get(name))
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
    let data = secret.data.unwrap_or_default();
    let Some(value) = data.get(key) else {
        let found: Vec<_> = data.keys().map(String::as_str).collect();
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
    Ok(value.0.clone())
}
