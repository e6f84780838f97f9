//! The Kubernetes client, made once and only when a step needs it (a run with GITOPS_TOKEN,
//! GITOPS_WINNER and no GITOPS_APPLY never touches a cluster). KUBECONFIG, else the
//! in-cluster service account; timeouts on every request.
//!
//! kube's `Client` runs over a stack assembled here (rustls with ring, HTTP/1, timeouts, base
//! URI, bearer token) from a connection read here (the kubeconfig by `crate::kube::kubeconfig`):
//! kube's own loader also carries the legacy auth-provider plugins (jsonpath and a regex
//! engine), three quarters of a megabyte of a static binary for kubeconfigs kubectl itself has
//! replaced with exec plugins.

use std::time::Duration;

use tokio::sync::OnceCell;

use crate::kube::kubeconfig::{self, Kubeconfig};

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum NoCluster {
    #[error(
        "no Kubernetes configuration found (KUBECONFIG, ~/.kube/config or the in-cluster service account); run inside the cluster or set KUBECONFIG"
    )]
    NotFound(#[source] BoxError),
    /// A kubeconfig was found, and what is wrong with it is the source.
    #[error("the kubeconfig cannot be used")]
    Unusable(#[source] BoxError),
    /// The kubeconfig's exec credential plugin failed: it may reach a network (a cloud's token
    /// service), so unlike the others this is the step's failure, retried like it.
    #[error("no Kubernetes credential")]
    Plugin(#[source] BoxError),
}

/// An exec credential plugin that ran and failed, or gave no credential.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PluginFailed(String);

/// A lazily made client and the namespace its configuration names.
pub struct Cluster {
    cell: OnceCell<(kube::Client, String)>,
    timeout: Duration,
}

impl Cluster {
    /// Nothing is read until [`Cluster::client`] is called.
    pub fn new(timeout: Duration) -> Self {
        Cluster {
            cell: OnceCell::new(),
            timeout,
        }
    }

    /// The client and the configuration's default namespace.
    pub async fn client(&self) -> Result<&(kube::Client, String), NoCluster> {
        self.cell
            .get_or_try_init(|| async {
                let conn = connection(self.timeout).await?;
                let ns = conn.namespace.clone();
                Ok((build(conn, self.timeout).map_err(NoCluster::Unusable)?, ns))
            })
            .await
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the API server is and how to prove who we are.
struct Connection {
    server: http::Uri,
    /// The name the server's certificate is checked against, when not the server's host
    /// (the kubeconfig's `tls-server-name`: an API server reached by IP or through a tunnel).
    tls_server_name: Option<rustls::pki_types::ServerName<'static>>,
    roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    auth: Credential,
    namespace: String,
}

enum Credential {
    Token(String),
    ClientCert(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ),
    None,
}

impl Credential {
    /// A bearer token, registered for redaction (it is a credential to the whole cluster).
    fn token(t: &str) -> Credential {
        crate::trust::redact::register(t);
        Credential::Token(t.to_string())
    }
}

const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// KUBECONFIG (or ~/.kube/config), else the in-cluster service account: the order kube's
/// `Config::infer` uses. Credentials: a token, a token file, a client certificate, or an exec
/// plugin (EKS, GKE); legacy auth-provider plugins are refused with a message.
async fn connection(timeout: Duration) -> Result<Connection, NoCluster> {
    match Kubeconfig::from_env().map_err(NoCluster::Unusable)? {
        Some(kc) => from_kubeconfig(kc, timeout).await.map_err(|e| {
            if e.is::<PluginFailed>() {
                NoCluster::Plugin(e)
            } else {
                NoCluster::Unusable(e)
            }
        }),
        None => in_cluster().map_err(NoCluster::NotFound),
    }
}

fn in_cluster() -> Result<Connection, BoxError> {
    let host = std::env::var("KUBERNETES_SERVICE_HOST")
        .map_err(|_| "no kubeconfig, and KUBERNETES_SERVICE_HOST is not set (not in a Pod)")?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
    service_account(std::path::Path::new(SA_DIR), &host, &port)
}

/// The Pod's service account (token, CA, namespace files in `dir`) for the API at host:port.
fn service_account(dir: &std::path::Path, host: &str, port: &str) -> Result<Connection, BoxError> {
    // An IPv6 address needs brackets in a URL.
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let read =
        |f: &str| std::fs::read(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()));
    let token = String::from_utf8(read("token")?)?.trim().to_string();
    let namespace = read("namespace")
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "default".into());
    Ok(Connection {
        server: format!("https://{host}:{port}").parse()?,
        tls_server_name: None,
        roots: certs(&read("ca.crt")?)?,
        auth: Credential::token(&token),
        namespace,
    })
}

fn certs(pem: &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, BoxError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err("no certificate in the CA data".into());
    }
    Ok(certs)
}

/// The bytes of `data` (base64) or of the file `path`.
fn data_or_file(data: Option<&str>, path: Option<&str>) -> Result<Option<Vec<u8>>, BoxError> {
    use base64::Engine;
    Ok(match (data, path) {
        (Some(d), _) => Some(base64::engine::general_purpose::STANDARD.decode(d.trim())?),
        (None, Some(p)) => Some(std::fs::read(p).map_err(|e| format!("{p}: {e}"))?),
        (None, None) => None,
    })
}

async fn from_kubeconfig(kc: Kubeconfig, timeout: Duration) -> Result<Connection, BoxError> {
    let ctx_name = kc
        .current_context
        .clone()
        .ok_or("the kubeconfig has no current-context")?;
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| format!("the kubeconfig has no context {ctx_name:?}"))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| format!("the kubeconfig has no cluster {:?}", ctx.cluster))?;
    if cluster.insecure_skip_tls_verify == Some(true) {
        return Err(
            "the kubeconfig asks to skip TLS verification; give the cluster's CA instead".into(),
        );
    }
    // Going straight to the server instead would be a silent change of route.
    if let Some(p) = cluster.proxy_url.as_ref().filter(|p| !p.is_empty()) {
        return Err(format!(
            "the kubeconfig's cluster is reached through proxy-url {p:?}, which this tool does not support; give a server it can reach directly (in a Pod, the in-cluster service account needs no kubeconfig)"
        )
        .into());
    }
    let server: http::Uri = cluster
        .server
        .clone()
        .ok_or("the kubeconfig's cluster has no server")?
        .parse()?;
    let roots = match data_or_file(
        cluster.certificate_authority_data.as_deref(),
        cluster.certificate_authority.as_deref(),
    )? {
        Some(pem) => certs(&pem)?,
        None => vec![],
    };
    let user = ctx
        .user
        .as_ref()
        .and_then(|u| kc.users.iter().find(|a| &a.name == u))
        .and_then(|a| a.user.clone())
        .unwrap_or_default();
    let auth = user_auth(&user, timeout).await?;
    let tls_server_name = match cluster.tls_server_name.as_deref() {
        Some(n) => Some(
            rustls::pki_types::ServerName::try_from(n.trim_matches(['[', ']']).to_string())
                .map_err(|_| {
                    format!("the kubeconfig's tls-server-name {n:?} is not a host name")
                })?,
        ),
        None => None,
    };
    Ok(Connection {
        server,
        tls_server_name,
        roots,
        auth,
        namespace: ctx.namespace.clone().unwrap_or_else(|| "default".into()),
    })
}

/// How the kubeconfig's user authenticates: a token (or token file), a client certificate, or
/// an exec plugin; a legacy auth-provider is refused with what to use instead.
async fn user_auth(user: &kubeconfig::User, timeout: Duration) -> Result<Credential, BoxError> {
    let auth = if let Some(t) = &user.token {
        Credential::token(t.trim())
    } else if let Some(f) = &user.token_file {
        Credential::token(
            std::fs::read_to_string(f)
                .map_err(|e| format!("{f}: {e}"))?
                .trim(),
        )
    } else if let Some(cert) = data_or_file(
        user.client_certificate_data.as_deref(),
        user.client_certificate.as_deref(),
    )? {
        let key = data_or_file(user.client_key_data.as_deref(), user.client_key.as_deref())?
            .ok_or("the kubeconfig has a client certificate without its key")?;
        client_cert(&cert, &key)?
    } else if let Some(exec) = &user.exec {
        exec_credential(exec, timeout).await?
    } else if user.auth_provider.is_some() {
        return Err("the kubeconfig uses a legacy auth-provider plugin; use an exec credential plugin (kubectl's current way) or a token".into());
    } else {
        Credential::None
    };
    Ok(auth)
}

fn client_cert(cert: &[u8], key: &[u8]) -> Result<Credential, BoxError> {
    use rustls::pki_types::{PrivateKeyDer, pem::PemObject};
    Ok(Credential::ClientCert(
        certs(cert)?,
        PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("the client key: {e}"))?,
    ))
}

/// Runs `cmd` to its end, or kills it after `timeout` (`None`). Its output is read while it
/// runs, so a chatty plugin cannot block on a full pipe.
fn output_within(
    mut cmd: std::process::Command,
    timeout: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = vec![];
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let end = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Some(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

/// Runs an exec credential plugin and reads its ExecCredential (a token, or a certificate).
async fn exec_credential(
    exec: &kubeconfig::Exec,
    timeout: Duration,
) -> Result<Credential, BoxError> {
    let command = exec
        .command
        .clone()
        .ok_or("the exec plugin has no command")?;
    let mut cmd = std::process::Command::new(&command);
    cmd.args(&exec.args);
    // A plugin gets what a cloud's token helper needs (PATH, HOME, its cloud's variables),
    // never this tool's own settings: GITOPS_TOKEN is a Git host token.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GITOPS_") {
            cmd.env_remove(k);
        }
    }
    for e in &exec.env {
        cmd.env(&e.name, &e.value);
    }
    // As kubectl does: plugins read the protocol version, and that no one can answer a prompt.
    let api_version = exec
        .api_version
        .as_deref()
        .unwrap_or("client.authentication.k8s.io/v1");
    cmd.env(
        "KUBERNETES_EXEC_INFO",
        serde_json::json!({
            "apiVersion": api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": false},
        })
        .to_string(),
    );
    cmd.stdin(std::process::Stdio::null());
    // A plugin is a short-lived local program; run it off the async threads.
    let failed =
        |why: String| PluginFailed(format!("the exec credential plugin {command:?} {why}"));
    let out = tokio::task::spawn_blocking(move || output_within(cmd, timeout))
        .await?
        .map_err(|e| failed(format!("could not run: {e}")))?
        .ok_or_else(|| {
            failed(format!(
                "did not finish within {}s (GITOPS_REQUEST_TIMEOUT) and was stopped",
                timeout.as_secs()
            ))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(failed(format!("failed: {}", stderr.trim())).into());
    }
    let cred: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| failed(format!("gave no ExecCredential JSON: {e}")))?;
    let status = &cred["status"];
    if let Some(t) = status["token"].as_str() {
        return Ok(Credential::token(t));
    }
    match (
        status["clientCertificateData"].as_str(),
        status["clientKeyData"].as_str(),
    ) {
        (Some(c), Some(k)) => client_cert(c.as_bytes(), k.as_bytes()),
        _ => Err(failed("gave neither a token nor a certificate".into()).into()),
    }
}

/// kube's client over our stack: rustls (ring) with the cluster's CA, HTTP/1, timeouts on
/// connect, read and write, the API server's base URI, and the bearer token.
fn build(conn: Connection, timeout: Duration) -> Result<kube::Client, BoxError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if conn.roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for c in conn.roots {
        roots.add(c)?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let (tls, token) = match conn.auth {
        Credential::ClientCert(certs, key) => (builder.with_client_auth_cert(certs, key)?, None),
        Credential::Token(t) => (builder.with_no_client_auth(), Some(t)),
        Credential::None => (builder.with_no_client_auth(), None),
    };
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = conn.tls_server_name {
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = https.enable_http1().wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(Some(timeout));
    connector.set_read_timeout(Some(timeout));
    connector.set_write_timeout(Some(timeout));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, kube::client::Body>(connector);
    let service = tower::ServiceBuilder::new()
        // Every answer is read within a byte budget: a hostile or broken API server cannot
        // make the run hold more (an Experiment, a discovery document, an applied object).
        .map_response(|r: http::Response<_>| {
            r.map(|b| http_body_util::Limited::new(b, crate::limits::MAX_KUBE_BODY_BYTES as usize))
        })
        .layer(kube::client::middleware::BaseUriLayer::new(conn.server))
        .option_layer(
            token
                .as_deref()
                .map(tower_http::auth::AddAuthorizationLayer::bearer),
        )
        .map_err(BoxError::from)
        .service(client);
    Ok(kube::Client::new(service, conn.namespace))
}

/// An answer longer than the run reads from the API server.
#[derive(Debug, thiserror::Error)]
#[error("the API server's answer is over {limit} bytes, more than any object this run reads")]
pub struct BodyTooLarge {
    pub limit: u64,
}

/// True when `e` is an answer cut at its byte budget (`BodyTooLarge`, or the client's own
/// limit): the same answer would come again, so it is not retried.
fn too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<BodyTooLarge>().is_some()
            || c.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
        {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The body of a GET through `client`, read to at most `limit` bytes (refused from its
/// Content-Length where it has one). A failed answer becomes kube's `Api` error with its
/// status and the Status' reason, never its body text (a Secret's answer may hold secrets).
pub async fn request_bytes(
    client: &kube::Client,
    req: http::Request<Vec<u8>>,
    limit: u64,
) -> Result<Vec<u8>, kube::Error> {
    use http_body_util::BodyExt;
    let res = client.send(req.map(kube::client::Body::from)).await?;
    let status = res.status();
    let declared = res
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let over = || kube::Error::Service(Box::new(BodyTooLarge { limit }));
    if declared.is_some_and(|d| d > limit) {
        return Err(over());
    }
    let mut body = res.into_body();
    let mut out = vec![];
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(data) = frame.data_ref() {
            if (out.len() + data.len()) as u64 > limit {
                return Err(over());
            }
            out.extend_from_slice(data);
        }
    }
    if status.is_success() {
        return Ok(out);
    }
    let reason = serde_json::from_slice::<kube::core::Status>(&out)
        .ok()
        .map(|s| s.reason)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
    Err(kube::Error::Api(
        kube::core::Status::failure(&format!("HTTP {}", status.as_u16()), &reason)
            .with_code(status.as_u16())
            .boxed(),
    ))
}

/// True for failures worth another try: 429, 5xx, and transport faults.
pub fn is_transient(e: &kube::Error) -> bool {
    if too_large(e) {
        return false;
    }
    match e {
        // NB: code 0 is an error body without a code (a proxy's JSON, not the API server's
        // Status): its HTTP status is lost, so it counts as transient; the retries are bounded.
        kube::Error::Api(s) => s.code == 0 || s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::HttpError(_) => true,
        _ => false,
    }
}

/// The HTTP status of an API error, if that is what `e` is.
pub fn status(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real CA certificate (PEM), made by the test harness.
    fn ca() -> String {
        testkit::Tls::new().ca_pem
    }

    #[test]
    fn a_pods_service_account_names_the_server_token_ca_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "sa-token\n").unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca()).unwrap();
        std::fs::write(dir.path().join("namespace"), "iter8-system").unwrap();
        let c = service_account(dir.path(), "10.96.0.1", "443").unwrap();
        assert_eq!(c.server, "https://10.96.0.1:443/");
        assert_eq!(c.namespace, "iter8-system");
        assert!(matches!(c.auth, Credential::Token(ref t) if t == "sa-token"));
        assert_eq!(c.roots.len(), 1);
        let v6 = service_account(dir.path(), "fd00::1", "6443").unwrap();
        assert_eq!(v6.server, "https://[fd00::1]:6443/");
        std::fs::remove_file(dir.path().join("token")).unwrap();
        let err = service_account(dir.path(), "10.96.0.1", "443")
            .err()
            .unwrap();
        assert!(err.to_string().contains("token"), "{err}");
    }

    fn kubeconfig(user: &str) -> Kubeconfig {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(ca());
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n{user}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n"
        );
        Kubeconfig::parse(&text).unwrap()
    }

    #[test]
    fn tls_server_name_is_the_name_the_certificate_is_checked_against() {
        use base64::Engine;
        // The fake's certificate names 127.0.0.1 and localhost; it is reached as 127.0.0.1.
        let tls = testkit::Tls::new();
        let kube = testkit::KubeFake::start(&tls, "t0k3n");
        kube.add_secret("default", "s", &[("k", "v")]);
        let ca = base64::engine::general_purpose::STANDARD.encode(&tls.ca_pem);
        let get = |name: &'static str| {
            let text = format!(
                "clusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\n    tls-server-name: {name}\nusers:\n- name: u\n  user: {{token: t0k3n}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n",
                kube.server.base_url()
            );
            async move {
                let conn =
                    from_kubeconfig(Kubeconfig::parse(&text).unwrap(), Duration::from_secs(5))
                        .await?;
                let client = build(conn, Duration::from_secs(5))?;
                let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
                    kube::Api::namespaced(client, "default");
                api.get("s").await.map_err(BoxError::from)
            }
        };
        // The fake runs its own runtime: this test's is made after it.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(get("localhost"))
            .expect("the certificate names localhost");
        let err = rt.block_on(get("elsewhere.example")).err().unwrap();
        assert!(
            format!("{err:?}").contains("NotValidForName"),
            "checked against the configured name: {err:?}"
        );
        let err = rt
            .block_on(from_kubeconfig(
            Kubeconfig::parse(
                "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.1', tls-server-name: 'no good'}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n"
            )
            .unwrap(),
                Duration::from_secs(5),
            ))
            .err()
            .unwrap();
        assert!(err.to_string().contains("tls-server-name"), "{err}");
    }

    #[tokio::test]
    async fn a_proxy_url_is_refused_rather_than_bypassed() {
        let k = Kubeconfig::parse(
            "clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.1', proxy-url: 'socks5://proxy:1080'}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
        )
        .unwrap();
        let err = from_kubeconfig(k, Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("proxy-url \"socks5://proxy:1080\", which this tool does not support"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn kubeconfig_users_token_exec_plugin_and_refused_auth_providers() {
        let c = from_kubeconfig(kubeconfig("    token: t0k3n"), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(matches!(c.auth, Credential::Token(ref t) if t == "t0k3n"));
        assert_eq!(c.namespace, "default");
        // An exec plugin (as EKS and GKE use): its ExecCredential's token.
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("plugin.sh");
        std::fs::write(
            &plugin,
            "#!/bin/sh\ncase \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 3;; esac\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-'$GREETING'\"}}'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let user = format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      env:\n      - name: GREETING\n        value: plugin\n      interactiveMode: Never",
            plugin.display()
        );
        let c = from_kubeconfig(kubeconfig(&user), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(matches!(c.auth, Credential::Token(ref t) if t == "from-plugin"));
        let err = from_kubeconfig(
            kubeconfig("    auth-provider:\n      name: gcp"),
            Duration::from_secs(5),
        )
        .await
        .err()
        .unwrap();
        assert!(err.to_string().contains("legacy auth-provider"), "{err}");
    }
}
