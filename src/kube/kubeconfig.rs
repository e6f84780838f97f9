//! The kubeconfig file, read the way kubectl reads it: KUBECONFIG (a colon-separated list,
//! merged: the first file to name a cluster, user or context wins, as does the first
//! current-context), else ~/.kube/config.
//!
//! Only the fields this tool acts on are typed. Parsing goes YAML → JSON value → these types,
//! so no YAML deserializer is generated for them: kube's full `Kubeconfig` (every field of
//! every kind of entry, through the YAML deserializer) was a quarter of a megabyte of the
//! static binary.

use std::path::{Path, PathBuf};

use serde::Deserialize;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    #[serde(default)]
    pub current_context: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub clusters: Vec<NamedCluster>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub users: Vec<NamedUser>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contexts: Vec<NamedContext>,
}

#[derive(Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Option<Cluster>,
}

#[derive(Deserialize)]
pub struct NamedUser {
    pub name: String,
    pub user: Option<User>,
}

#[derive(Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: Option<Context>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    pub server: Option<String>,
    pub certificate_authority: Option<String>,
    pub certificate_authority_data: Option<String>,
    pub insecure_skip_tls_verify: Option<bool>,
    pub tls_server_name: Option<String>,
    /// Refused: see `cluster::from_kubeconfig`.
    pub proxy_url: Option<String>,
}

/// Holds credentials: deliberately not `Debug`.
#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    pub token: Option<String>,
    #[serde(rename = "tokenFile")]
    pub token_file: Option<String>,
    pub client_certificate: Option<String>,
    pub client_certificate_data: Option<String>,
    pub client_key: Option<String>,
    pub client_key_data: Option<String>,
    pub exec: Option<Exec>,
    /// Only its presence matters: the legacy plugins are refused with a message.
    pub auth_provider: Option<serde_json::Value>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Exec {
    pub api_version: Option<String>,
    pub command: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub env: Vec<EnvVar>,
}

#[derive(Deserialize, Clone)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Deserialize, Clone, Default)]
pub struct Context {
    pub cluster: String,
    pub user: Option<String>,
    pub namespace: Option<String>,
}

/// `clusters: null` (or an empty `args:`) reads as no entries, as in kubectl.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Kubeconfig {
    /// The kubeconfig this process would use: KUBECONFIG's files (merged), else
    /// ~/.kube/config if it exists, else none (then the in-cluster service account).
    pub fn from_env() -> Result<Option<Kubeconfig>, BoxError> {
        let paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG") {
            Some(v) => std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".kube/config"))
                .filter(|p| p.exists())
                .into_iter()
                .collect(),
        };
        if paths.is_empty() {
            return Ok(None);
        }
        let mut merged = Kubeconfig::default();
        for p in &paths {
            merged.merge(Kubeconfig::read(p)?);
        }
        Ok(Some(merged))
    }

    /// One file (every YAML document in it, merged).
    pub fn read(path: &Path) -> Result<Kubeconfig, BoxError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("the kubeconfig {}: {e}", path.display()))?;
        Kubeconfig::parse(&text)
            .map_err(|e| format!("the kubeconfig {}: {e}", path.display()).into())
    }

    pub fn parse(text: &str) -> Result<Kubeconfig, BoxError> {
        // NB: only the parser's first line (what and where): the rest is a snippet of the
        // file around the fault, and a kubeconfig's neighbouring lines are tokens and keys.
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).map_err(|e| {
            let e = e.to_string();
            e.lines().next().unwrap_or("not YAML").to_string()
        })?;
        let mut merged = Kubeconfig::default();
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            merged.merge(serde_json::from_value(doc)?);
        }
        Ok(merged)
    }

    /// kubectl's rule: what is already set wins.
    fn merge(&mut self, other: Kubeconfig) {
        if self.current_context.as_deref().is_none_or(str::is_empty) {
            self.current_context = other.current_context;
        }
        fn add<T>(into: &mut Vec<T>, from: Vec<T>, name: impl Fn(&T) -> &str) {
            for e in from {
                if !into.iter().any(|x| name(x) == name(&e)) {
                    into.push(e);
                }
            }
        }
        add(&mut self.clusters, other.clusters, |c| &c.name);
        add(&mut self.users, other.users, |u| &u.name);
        add(&mut self.contexts, other.contexts, |c| &c.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster:\n    server: https://one:6443\n    certificate-authority-data: Q0E=\n    insecure-skip-tls-verify: false\n    extensions: []\nusers:\n- name: u\n  user:\n    tokenFile: /t\n    client-key-data: S0VZ\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: plugin\n      args: [get-token]\n      env:\n      - {name: A, value: b}\n      interactiveMode: Never\n      provideClusterInfo: false\ncontexts:\n- name: a\n  context: {cluster: c, user: u, namespace: team}\npreferences: {}\n";
    const TWO: &str = "current-context: b\nclusters:\n- name: c\n  cluster: {server: https://two:6443}\n- name: d\n  cluster: {server: https://d:6443}\nusers: null\ncontexts:\n- name: b\n  context: {cluster: d}\n";

    #[test]
    fn the_fields_kubectl_writes_are_read() {
        let k = Kubeconfig::parse(ONE).unwrap();
        assert_eq!(k.current_context.as_deref(), Some("a"));
        let c = k.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(c.server.as_deref(), Some("https://one:6443"));
        assert_eq!(c.certificate_authority_data.as_deref(), Some("Q0E="));
        assert_eq!(c.insecure_skip_tls_verify, Some(false));
        let u = k.users[0].user.as_ref().unwrap();
        assert_eq!(u.token_file.as_deref(), Some("/t"));
        assert_eq!(u.client_key_data.as_deref(), Some("S0VZ"));
        let e = u.exec.as_ref().unwrap();
        assert_eq!(e.command.as_deref(), Some("plugin"));
        assert_eq!(e.args, ["get-token"]);
        assert_eq!(
            (e.env[0].name.as_str(), e.env[0].value.as_str()),
            ("A", "b")
        );
        let x = k.contexts[0].context.as_ref().unwrap();
        assert_eq!((x.cluster.as_str(), x.user.as_deref()), ("c", Some("u")));
        assert_eq!(x.namespace.as_deref(), Some("team"));
    }

    #[test]
    fn several_files_merge_first_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::write(&one, ONE).unwrap();
        std::fs::write(&two, TWO).unwrap();
        let mut k = Kubeconfig::read(&one).unwrap();
        k.merge(Kubeconfig::read(&two).unwrap());
        assert_eq!(k.current_context.as_deref(), Some("a"));
        let servers: Vec<_> = k
            .clusters
            .iter()
            .map(|c| c.cluster.as_ref().unwrap().server.clone().unwrap())
            .collect();
        assert_eq!(servers, ["https://one:6443", "https://d:6443"]);
        assert_eq!(k.contexts.len(), 2);
        // Two documents in one file merge the same way.
        let k = Kubeconfig::parse(&format!("{TWO}---\n{ONE}")).unwrap();
        assert_eq!(k.current_context.as_deref(), Some("b"));
        assert_eq!(k.users.len(), 1);
    }

    #[test]
    fn a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("config");
        std::fs::write(&bad, "clusters: {not: a list}\n").unwrap();
        let err = Kubeconfig::read(&bad).err().unwrap().to_string();
        assert!(err.contains(&bad.display().to_string()), "{err}");
        let err = Kubeconfig::read(&dir.path().join("missing"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
