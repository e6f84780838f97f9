//! A modelled network link on loopback: a TCP proxy in front of a test server that makes every
//! byte pay what it would on a real link. Each direction is one wire of the link's bandwidth,
//! shared by every connection through the link (as a Job's traffic shares its node's path to
//! the Git host); a byte arrives half a round trip after it left the wire; a new connection's
//! first byte waits one more round trip (the TCP handshake, which loopback's `connect` skips).
//! The TLS handshake, each HTTP request and its answer then cost what they cost on the link,
//! with no knowledge of HTTP here: a client that reuses its connection saves the handshakes, one
//! that needs fewer round trips saves those.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    time::Instant,
};

/// A link's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// The round trip: each byte arrives `rtt / 2` after it was put on the wire.
    pub rtt: Duration,
    /// The bandwidth of each direction, in bits per second.
    pub bits_per_sec: u64,
}

impl Link {
    /// 30 ms, 100 Mbit/s: a Job in a cloud region talking to a hosted Git service.
    pub const REGION: Link = Link {
        rtt: Duration::from_millis(30),
        bits_per_sec: 100_000_000,
    };
    /// 100 ms, 20 Mbit/s: a Job far from its Git host.
    pub const FAR: Link = Link {
        rtt: Duration::from_millis(100),
        bits_per_sec: 20_000_000,
    };

    /// How long `bytes` take to go onto the wire.
    fn serialize(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 * 8.0 / self.bits_per_sec as f64)
    }

    /// `30ms/100Mbit`
    pub fn label(&self) -> String {
        format!(
            "{}ms/{}Mbit",
            self.rtt.as_millis(),
            self.bits_per_sec / 1_000_000
        )
    }
}

/// One direction of the link: when its wire is next free.
#[derive(Clone)]
struct Wire(Arc<Mutex<Instant>>);

impl Wire {
    fn new() -> Wire {
        Wire(Arc::new(Mutex::new(Instant::now())))
    }

    /// Puts `bytes`, ready at `ready`, on the wire after what is already on it; returns when
    /// they have all left.
    fn send(&self, link: &Link, ready: Instant, bytes: usize) -> Instant {
        let mut free = self.0.lock().unwrap();
        let left = (*free).max(ready) + link.serialize(bytes);
        *free = left;
        left
    }
}

/// A running link: proxies that share its two wires. Stops when dropped.
pub struct LinkModel {
    link: Link,
    up: Wire,
    down: Wire,
    /// Connections opened through the link, by the upstream's port.
    opened: Arc<Mutex<HashMap<u16, usize>>>,
    runtime: tokio::runtime::Runtime,
}

impl LinkModel {
    pub fn new(link: Link) -> LinkModel {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        LinkModel {
            link,
            up: Wire::new(),
            down: Wire::new(),
            opened: Arc::default(),
            runtime,
        }
    }

    /// A port on 127.0.0.1 that reaches `upstream` over this link.
    pub fn proxy(&self, upstream: SocketAddr) -> SocketAddr {
        let listener = self
            .runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (link, up, down) = (self.link, self.up.clone(), self.down.clone());
        let opened = self.opened.clone();
        self.runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                *opened.lock().unwrap().entry(upstream.port()).or_default() += 1;
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                // The handshake: the client's first byte leaves one round trip after connect.
                let open = Instant::now() + link.rtt;
                tokio::spawn(carry(cr, sw, link, up.clone(), open));
                tokio::spawn(carry(sr, cw, link, down.clone(), Instant::now()));
            }
        });
        addr
    }

    /// How many connections were opened through the link to `upstream`.
    pub fn connections_to(&self, upstream: SocketAddr) -> usize {
        self.opened
            .lock()
            .unwrap()
            .get(&upstream.port())
            .copied()
            .unwrap_or(0)
    }

    /// `url` (`https://127.0.0.1:PORT/...`) reached over this link instead.
    pub fn url(&self, url: &str) -> String {
        let rest = url
            .strip_prefix("https://127.0.0.1:")
            .expect("a test server URL");
        let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let upstream: SocketAddr = format!("127.0.0.1:{port}").parse().expect("port");
        format!("https://{}{path}", self.proxy(upstream))
    }
}

/// Carries one direction of one connection: each chunk read is put on `wire` and written
/// `rtt / 2` after it left; an end of stream follows the last byte.
async fn carry(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Link,
    wire: Wire,
    open: Instant,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let deliver = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if chunk.is_empty() || to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        let ready = Instant::now().max(open);
        let left = wire.send(&link, ready, n);
        if tx.send((left + link.rtt / 2, buf[..n].to_vec())).is_err() || n == 0 {
            break;
        }
    }
    let _ = deliver.await;
}
