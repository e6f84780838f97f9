//! gix's HTTP transport with the run's bounds: no request starts after the deadline, no
//! answer is read past it, and the ref advertisement (the `info/refs` answer, or `ls-refs`'s)
//! is read to at most its byte budget.
//!
//! gix's reqwest backend reads each answer on its own thread, and its timeout is per request:
//! a server that trickles one byte a second, or sends side-band progress forever, keeps a
//! transfer alive long after GITOPS_TIMEOUT. Checking the clock on every read of the answer
//! ends it at the deadline, whatever the server does.

use std::{
    io::{BufRead, Read, Write},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use gix::protocol::transport::client::blocking_io::http::{
    self, GetResponse, Http, PostBodyDataKind, PostResponse,
};

/// The run's deadline passed during a git transfer.
#[derive(Debug, thiserror::Error)]
#[error("GITOPS_TIMEOUT passed during a git transfer; nothing more is sent")]
pub(crate) struct PastDeadline;

/// A git server's ref advertisement was larger than the run reads.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server's ref advertisement is over {limit} bytes (the run asks for two branches); check GITOPS_REPO"
)]
pub(crate) struct TooManyRefs {
    pub(crate) limit: u64,
}

/// gix's reqwest transport, bounded by `deadline` and the advertisement budget.
pub(crate) struct Bounded {
    inner: super::pool::Lent,
    deadline: Option<Instant>,
}

impl Bounded {
    /// A transport on a worker lent by `pool` (its open connection, when it has one).
    pub(crate) fn new(pool: &super::pool::Pool, deadline: Option<Instant>) -> Bounded {
        Bounded {
            inner: pool.lend(),
            deadline,
        }
    }

    fn check(&self) -> gix::error::Result<()> {
        if past(self.deadline) {
            return Err(gix::error::Error::from_error(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                PastDeadline,
            )));
        }
        Ok(())
    }
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl Http for Bounded {
    type Headers = <http::reqwest::Remote as Http>::Headers;
    type ResponseBody = Capped<<http::reqwest::Remote as Http>::ResponseBody>;
    type PostBody = Sniff<<http::reqwest::Remote as Http>::PostBody>;

    fn get(
        &mut self,
        url: &str,
        base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> gix::error::Result<GetResponse<Self::Headers, Self::ResponseBody>> {
        self.check()?;
        let r = self.inner.get(url, base_url, headers)?;
        // A GET is the advertisement (`info/refs`): all refs with the original protocol.
        let refs = Arc::new(AtomicBool::new(true));
        Ok(GetResponse {
            headers: r.headers,
            body: Capped::new(r.body, self.deadline, refs),
        })
    }

    fn post(
        &mut self,
        url: &str,
        base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
        body: PostBodyDataKind,
    ) -> gix::error::Result<PostResponse<Self::Headers, Self::ResponseBody, Self::PostBody>> {
        self.check()?;
        let r = self.inner.post(url, base_url, headers, body)?;
        // The request is written before its answer is read: whether it asked for refs is
        // known by then.
        let refs = Arc::new(AtomicBool::new(false));
        Ok(PostResponse {
            post_body: Sniff {
                inner: r.post_body,
                refs: refs.clone(),
                deadline: self.deadline,
            },
            headers: r.headers,
            body: Capped::new(r.body, self.deadline, refs),
        })
    }

    fn configure(&mut self, config: &dyn std::any::Any) -> gix::error::Result {
        self.inner.configure(config)
    }

    fn redirected_base_url(&self) -> Option<String> {
        self.inner.redirected_base_url()
    }
}

/// A request body on its way out: marks an `ls-refs` command (protocol v2), and stops at the
/// deadline.
pub(crate) struct Sniff<W> {
    inner: W,
    refs: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl<W: Write> Write for Sniff<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if past(self.deadline) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                PastDeadline,
            ));
        }
        // gix writes each pkt-line in one call: "0014command=ls-refs\n".
        if buf.windows(16).any(|w| w == b"command=ls-refs\n") {
            self.refs.store(true, Ordering::Relaxed);
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An answer on its way in: ended at the deadline, and at the advertisement budget when it
/// is one.
pub(crate) struct Capped<R> {
    inner: R,
    deadline: Option<Instant>,
    refs: Arc<AtomicBool>,
    read: u64,
}

impl<R> Capped<R> {
    fn new(inner: R, deadline: Option<Instant>, refs: Arc<AtomicBool>) -> Capped<R> {
        Capped {
            inner,
            deadline,
            refs,
            read: 0,
        }
    }
}

/// Refuses going on past the deadline, or past the advertisement budget with `more` bytes.
fn within(
    deadline: Option<Instant>,
    refs: &AtomicBool,
    read: u64,
    more: usize,
) -> std::io::Result<()> {
    if past(deadline) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            PastDeadline,
        ));
    }
    let limit = crate::limits::MAX_REF_ADVERTISEMENT_BYTES;
    if refs.load(Ordering::Relaxed) && read + more as u64 > limit {
        return Err(std::io::Error::other(TooManyRefs { limit }));
    }
    Ok(())
}

impl<R: BufRead> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        within(self.deadline, &self.refs, self.read, 0)?;
        let n = self.inner.read(buf)?;
        within(self.deadline, &self.refs, self.read, n)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Capped<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        within(self.deadline, &self.refs, self.read, 0)?;
        let buf = self.inner.fill_buf()?;
        within(self.deadline, &self.refs, self.read, buf.len())?;
        Ok(buf)
    }

    fn consume(&mut self, amt: usize) {
        self.read += amt as u64;
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, Read, Write},
        sync::{Arc, atomic::AtomicBool},
        time::{Duration, Instant},
    };

    use super::{Capped, Sniff};

    #[test]
    fn an_advertisement_is_cut_at_its_budget_and_a_pack_is_not() {
        let big = vec![b'x'; crate::limits::MAX_REF_ADVERTISEMENT_BYTES as usize + 1];
        let refs = Arc::new(AtomicBool::new(true));
        let mut r = Capped::new(&big[..], None, refs);
        let mut sink = vec![];
        let e = r.read_to_end(&mut sink).unwrap_err();
        assert!(e.to_string().contains("ref advertisement is over"), "{e}");
        let mut r = Capped::new(&big[..], None, Arc::new(AtomicBool::new(false)));
        assert_eq!(r.read_to_end(&mut sink).unwrap(), big.len());
    }

    #[test]
    fn an_ls_refs_request_marks_its_answer_as_an_advertisement() {
        let refs = Arc::new(AtomicBool::new(false));
        let mut w = Sniff {
            inner: vec![],
            refs: refs.clone(),
            deadline: None,
        };
        w.write_all(b"0013command=fetch\n").unwrap();
        assert!(!refs.load(std::sync::atomic::Ordering::Relaxed));
        w.write_all(b"0014command=ls-refs\n").unwrap();
        assert!(refs.load(std::sync::atomic::Ordering::Relaxed));
    }

    #[test]
    fn nothing_is_read_or_written_after_the_deadline() {
        let past = Some(Instant::now() - Duration::from_millis(1));
        let mut r = Capped::new(&b"0008abc\n"[..], past, Arc::new(AtomicBool::new(false)));
        assert!(r.fill_buf().is_err());
        let mut w = Sniff {
            inner: vec![],
            refs: Arc::new(AtomicBool::new(false)),
            deadline: past,
        };
        assert!(w.write_all(b"0000").is_err());
        assert!(w.inner.is_empty());
    }
}
