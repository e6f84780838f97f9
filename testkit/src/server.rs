//! A small HTTPS server: TLS from a test CA, hyper for HTTP/1.1 (which de-chunks request
//! bodies), a synchronous handler per request, and scripted faults.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;

/// A test CA and a server certificate it signed for 127.0.0.1 and localhost.
#[derive(Clone)]
pub struct Tls {
    /// The CA certificate, PEM: what clients must trust.
    pub ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Makes a fresh CA and server certificate.
    pub fn new() -> Tls {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "iter8-gitops test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let key = rcgen::KeyPair::generate().expect("server key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer).expect("server cert");

        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server TLS config");
        Tls {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        }
    }
}

impl Default for Tls {
    fn default() -> Self {
        Tls::new()
    }
}

/// A request as the handler sees it, body already collected.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Req {
    /// True when the JSON body's `field` (a PR description) is longer than `max` characters:
    /// the fakes refuse what their host refuses.
    pub fn longer_than(&self, field: &str, max: usize) -> bool {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|b| b.get(field)?.as_str().map(|s| s.chars().count() > max))
            .unwrap_or(false)
    }

    /// A header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The query parameters, decoded.
    pub fn query_pairs(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// A JSON response.
    pub fn json(status: u16, v: &serde_json::Value) -> Resp {
        Resp {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// How many bytes the request's body had, as sent (what the client pushed).
    pub request_bytes: usize,
    /// How many bytes the answer's body had (what the client fetched).
    pub response_bytes: usize,
    /// How long the handler took.
    pub micros: u128,
    /// When the request arrived (to check that nothing was sent after a deadline).
    pub at: std::time::SystemTime,
}

/// A scripted failure: answer the `nth` (1-based) request whose `METHOD path` contains
/// `matches` with `status` (and headers) instead of serving it, `times` times in a row.
#[derive(Debug, Clone)]
pub struct Fault {
    pub matches: String,
    pub nth: usize,
    pub times: usize,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub kind: FaultKind,
    /// What an `Endless` fault repeats.
    pub repeat: Vec<u8>,
}

/// How a fault shows on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// An HTTP status (with the fault's headers and body) instead of the real answer.
    Status,
    /// The connection is closed before any answer (a reset or a crashed proxy).
    Reset,
    /// The real request is served, but its answer is cut in the middle of the body.
    Truncate,
    /// The answer comes only after this long (past the client's timeout, it never arrives).
    Stall(std::time::Duration),
    /// The server goes down at this request, as a crashed or restarting process does: every
    /// open connection is dropped and the port refuses connections for this long.
    Down(std::time::Duration),
    /// The real answer, its body sent one byte every this long (a trickling server).
    Trickle(std::time::Duration),
    /// The fault's body at once, then the fault's `repeat` bytes every this long, forever
    /// (a server that sends side-band progress and never the pack).
    Endless(std::time::Duration),
}

impl Fault {
    /// The first `times` requests matching `matches` get `status`.
    pub fn status(matches: &str, status: u16, times: usize) -> Fault {
        Fault {
            matches: matches.into(),
            nth: 1,
            times,
            status,
            headers: vec![],
            body: "{\"message\":\"injected fault\"}".into(),
            kind: FaultKind::Status,
            repeat: vec![],
        }
    }

    /// The first `times` requests matching `matches` are answered one byte every `every`.
    pub fn trickle(matches: &str, every: std::time::Duration, times: usize) -> Fault {
        Fault {
            kind: FaultKind::Trickle(every),
            ..Fault::status(matches, 0, times)
        }
    }

    /// The first `times` requests matching `matches` get 200 with `head` (and `headers`), then
    /// `repeat` every `every`, forever.
    pub fn endless(
        matches: &str,
        head: &str,
        repeat: &[u8],
        every: std::time::Duration,
        times: usize,
    ) -> Fault {
        Fault {
            kind: FaultKind::Endless(every),
            body: head.into(),
            repeat: repeat.to_vec(),
            ..Fault::status(matches, 200, times)
        }
    }

    /// Only the `nth` matching request (1-based) and the `times - 1` after it get the fault.
    pub fn nth(mut self, nth: usize) -> Fault {
        self.nth = nth;
        self
    }

    /// The first `times` requests matching `matches` lose their connection unanswered.
    pub fn reset(matches: &str, times: usize) -> Fault {
        Fault {
            kind: FaultKind::Reset,
            ..Fault::status(matches, 0, times)
        }
    }

    /// The first `times` requests matching `matches` are served, their answer cut in half.
    pub fn truncate(matches: &str, times: usize) -> Fault {
        Fault {
            kind: FaultKind::Truncate,
            ..Fault::status(matches, 0, times)
        }
    }

    /// The first `times` requests matching `matches` are answered only after `delay`.
    pub fn stall(matches: &str, delay: std::time::Duration, times: usize) -> Fault {
        Fault {
            kind: FaultKind::Stall(delay),
            ..Fault::status(matches, 0, times)
        }
    }

    /// At the first `times` requests matching `matches`, the server goes down for `outage`:
    /// open connections drop, new ones are refused (ECONNREFUSED), then it comes back.
    pub fn down(matches: &str, outage: std::time::Duration, times: usize) -> Fault {
        Fault {
            kind: FaultKind::Down(outage),
            ..Fault::status(matches, 0, times)
        }
    }

    /// Adds a response header (e.g. Retry-After).
    pub fn header(mut self, k: &str, v: &str) -> Fault {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;
/// Runs before a matching request is served (e.g. to move a branch between fetch and push).
type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    faults: Vec<(Fault, usize)>,
    hooks: Vec<(String, Hook)>,
    log: Vec<Recorded>,
    /// Set by a `Down` fault: the accept loop closes the port for this long.
    outage: Option<std::time::Duration>,
}

/// A running HTTPS server; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Serves `handler` over TLS on 127.0.0.1, port 0.
    pub fn start(tls: &Tls, handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handler: Handler = Arc::new(handler);
        let state = Arc::new(Mutex::new(State::default()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config.clone());
        let st = state.clone();
        // Bumped when the server "goes down": every connection task watching it ends.
        let (epoch, _) = tokio::sync::watch::channel(0u64);
        let outage = Arc::new(tokio::sync::Notify::new());
        runtime.spawn(async move {
            let mut listener = listener;
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => Some(a),
                    () = outage.notified() => None,
                };
                let Some(accepted) = accepted else {
                    let down = st.lock().unwrap().outage.take().unwrap_or_default();
                    drop(listener);
                    epoch.send_modify(|e| *e += 1);
                    tokio::time::sleep(down).await;
                    // mio sets SO_REUSEADDR, so the same port binds again at once.
                    listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
                    continue;
                };
                let Ok((tcp, _)) = accepted else {
                    continue;
                };
                // Small pkt-line writes must not wait for delayed ACKs (Nagle), as with a real server.
                let _ = tcp.set_nodelay(true);
                let (acceptor, handler, st) = (acceptor.clone(), handler.clone(), st.clone());
                let (mut gone, outage) = (epoch.subscribe(), outage.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = service_fn(move |req: hyper::Request<Incoming>| {
                        let (handler, st, outage) = (handler.clone(), st.clone(), outage.clone());
                        async move {
                            serve(req, handler, st, &outage)
                                .await
                                .ok_or_else(|| std::io::Error::other("injected reset"))
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = gone.changed() => {}
                    }
                });
            }
        });
        Server {
            addr,
            state,
            _runtime: runtime,
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Adds a scripted failure.
    pub fn fault(&self, f: Fault) {
        self.state.lock().unwrap().faults.push((f, 0));
    }

    /// Forgets every scripted failure (a fault "heals").
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Runs `f` once, just before the first request whose `METHOD path` contains `matches`.
    pub fn before(&self, matches: &str, f: impl FnOnce() + Send + 'static) {
        self.state
            .lock()
            .unwrap()
            .hooks
            .push((matches.into(), Box::new(f)));
    }

    /// Every request served so far.
    pub fn log(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }
}

async fn serve(
    req: hyper::Request<Incoming>,
    handler: Handler,
    st: Arc<Mutex<State>>,
    outage: &tokio::sync::Notify,
) -> Option<hyper::Response<Body>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let req = Req {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let key = format!("{} {}", req.method, req.path);
    let started = std::time::Instant::now();
    let at = std::time::SystemTime::now();
    let (hook, fault) = {
        let mut s = st.lock().unwrap();
        let hook = s
            .hooks
            .iter()
            .position(|(m, _)| key.contains(m.as_str()))
            .map(|i| s.hooks.remove(i).1);
        let mut fault = None;
        for (f, seen) in s.faults.iter_mut() {
            if key.contains(f.matches.as_str()) {
                *seen += 1;
                if *seen >= f.nth && *seen < f.nth + f.times {
                    fault = Some(f.clone());
                    break;
                }
            }
        }
        (hook, fault)
    };
    let resp = match &fault {
        Some(f) if matches!(f.kind, FaultKind::Status | FaultKind::Endless(_)) => Resp {
            status: f.status,
            headers: f.headers.clone(),
            body: f.body.clone().into_bytes(),
        },
        Some(f) if matches!(f.kind, FaultKind::Reset | FaultKind::Down(_)) => {
            let mut s = st.lock().unwrap();
            if let FaultKind::Down(d) = f.kind {
                s.outage = Some(d);
                outage.notify_one();
            }
            s.log.push(Recorded {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                status: 0,
                headers: req.headers.clone(),
                body: String::new(),
                request_bytes: req.body.len(),
                response_bytes: 0,
                micros: started.elapsed().as_micros(),
                at,
            });
            return None;
        }
        _ => {
            if let Some(FaultKind::Stall(d)) = fault.as_ref().map(|f| f.kind) {
                tokio::time::sleep(d).await;
            }
            if let Some(h) = hook {
                tokio::task::spawn_blocking(h).await.expect("hook runs");
            }
            let r = req.clone();
            tokio::task::spawn_blocking(move || handler(&r))
                .await
                .expect("handler runs")
        }
    };
    st.lock().unwrap().log.push(Recorded {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        status: resp.status,
        headers: req.headers.clone(),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        request_bytes: req.body.len(),
        response_bytes: resp.body.len(),
        micros: started.elapsed().as_micros(),
        at,
    });
    let mut b = hyper::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            b = b.header(k.as_str(), v.as_str());
        }
    }
    let drip = fault.as_ref().and_then(|f| match f.kind {
        FaultKind::Trickle(every) => Some(Drip::new(resp.body.clone(), vec![], every)),
        FaultKind::Endless(every) => Some(Drip::new(vec![], f.repeat.clone(), every)),
        _ => None,
    });
    let endless_head = fault
        .as_ref()
        .filter(|f| matches!(f.kind, FaultKind::Endless(_)))
        .map(|_| resp.body.clone());
    if let Some(mut drip) = drip {
        if let Some(head) = endless_head {
            drip.head = Some(Bytes::from(head));
        }
        return Some(b.body(drip.boxed()).expect("response"));
    }
    let body: Body = if fault.is_some_and(|f| f.kind == FaultKind::Truncate) {
        Cut {
            data: Some(Bytes::from(resp.body)),
            sent_half: false,
        }
        .boxed()
    } else {
        Full::new(Bytes::from(resp.body))
            .map_err(|never| match never {})
            .boxed()
    };
    Some(b.body(body).expect("response"))
}

type Body = BoxBody<Bytes, std::io::Error>;

/// A body that announces its whole length, sends the first half, then fails: the client sees
/// the connection end in the middle of the answer.
struct Cut {
    data: Option<Bytes>,
    sent_half: bool,
}

impl http_body::Body for Cut {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        if self.sent_half {
            return std::task::Poll::Ready(Some(Err(std::io::Error::other("injected truncation"))));
        }
        self.sent_half = true;
        let data = self.data.take().unwrap_or_default();
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(
            data.slice(..data.len() / 2),
        ))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// A body sent slowly: `head` at once, then `data` one byte every `every`, then `repeat`
/// every `every` forever (when it is not empty).
struct Drip {
    head: Option<Bytes>,
    data: Bytes,
    at: usize,
    repeat: Bytes,
    every: std::time::Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Drip {
    fn new(data: Vec<u8>, repeat: Vec<u8>, every: std::time::Duration) -> Drip {
        Drip {
            head: None,
            data: Bytes::from(data),
            at: 0,
            repeat: Bytes::from(repeat),
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl http_body::Body for Drip {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        use std::{future::Future, task::Poll};
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(head))));
        }
        if self.at >= self.data.len() && self.repeat.is_empty() {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let next = tokio::time::Instant::now() + self.every;
        self.sleep.as_mut().reset(next);
        let chunk = if self.at < self.data.len() {
            self.at += 1;
            self.data.slice(self.at - 1..self.at)
        } else {
            self.repeat.clone()
        };
        Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }
}
