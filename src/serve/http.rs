//! The receiver's HTTP/1.1, as little as its clients need: one request per connection, its
//! head parsed by `httparse` (hyper's own parser, already built for the clients), a body of
//! at most [`MAX_WEBHOOK_BODY_BYTES`] refused from its Content-Length before it is read, the
//! whole request within a deadline (a client that trickles bytes holds a connection for no
//! longer), and an answer that never repeats what was sent.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::limits::{MAX_WEBHOOK_BODY_BYTES, MAX_WEBHOOK_HEAD_BYTES};

/// How long a client has to send its whole request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// A request as the routes see it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// An answer: a status and a short JSON body of our own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub message: &'static str,
}

impl Answer {
    pub const fn new(status: u16, message: &'static str) -> Answer {
        Answer { status, message }
    }
}

/// Reads one request; an `Answer` instead when it cannot be taken (too large, malformed,
/// too slow).
pub async fn read<S: AsyncReadExt + Unpin>(stream: &mut S) -> Result<Request, Answer> {
    match tokio::time::timeout(REQUEST_DEADLINE, read_within(stream)).await {
        Ok(r) => r,
        Err(_) => Err(Answer::new(408, "the request did not arrive in time")),
    }
}

async fn read_within<S: AsyncReadExt + Unpin>(stream: &mut S) -> Result<Request, Answer> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Answer::new(400, "the connection failed"))?;
        if n == 0 {
            return Err(Answer::new(400, "the request ended early"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(head)) => {
                let method = req.method.unwrap_or_default().to_string();
                let path = req.path.unwrap_or_default().to_string();
                let length = body_length(req.headers)?;
                let mut body = buf.split_off(head);
                if body.len() > length {
                    return Err(Answer::new(
                        400,
                        "the body is longer than its Content-Length",
                    ));
                }
                let missing = length - body.len();
                body.resize(length, 0);
                stream
                    .read_exact(&mut body[length - missing..])
                    .await
                    .map_err(|_| Answer::new(400, "the request ended early"))?;
                return Ok(Request { method, path, body });
            }
            Ok(httparse::Status::Partial) if buf.len() <= MAX_WEBHOOK_HEAD_BYTES => continue,
            Ok(httparse::Status::Partial) => {
                return Err(Answer::new(431, "the request's head is too large"));
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Answer::new(431, "the request has too many headers"));
            }
            Err(_) => return Err(Answer::new(400, "not an HTTP/1.1 request")),
        }
    }
}

/// The body's length from Content-Length (none: no body); a chunked body is refused, as the
/// webhook clients always send a length.
fn body_length(headers: &[httparse::Header]) -> Result<usize, Answer> {
    let mut length = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Answer::new(411, "send the body with a Content-Length"));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(Answer::new(400, "the Content-Length is not a number"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Answer::new(400, "two different Content-Lengths"));
            }
            length = Some(n);
        }
    }
    let length = length.unwrap_or(0);
    if length > MAX_WEBHOOK_BODY_BYTES {
        return Err(Answer::new(
            413,
            "the body is larger than a webhook's 64 KiB",
        ));
    }
    Ok(length)
}

/// Writes `answer` and closes the connection.
pub async fn write<S: AsyncWriteExt + Unpin>(stream: &mut S, answer: &Answer) {
    let reason = match answer.status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    // Our own words only: no quote or backslash to escape.
    let body = format!("{{\"message\":\"{}\"}}", answer.message);
    let text = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        answer.status,
        body.len()
    );
    let _ = tokio::time::timeout(REQUEST_DEADLINE, async {
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer_to(bytes: &[u8]) -> Result<Request, Answer> {
        let mut r: &[u8] = bytes;
        read(&mut r).await
    }

    #[tokio::test]
    async fn a_webhook_is_read_whole() {
        let r = answer_to(b"POST /flagger HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{}\r\n")
            .await
            .ok()
            .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/flagger"));
        assert_eq!(r.body, b"{}\r\n");
    }

    #[tokio::test]
    async fn what_cannot_be_taken_is_refused_with_its_status() {
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            64 * 1024 + 1
        );
        let cases: [(&[u8], u16); 5] = [
            (big.as_bytes(), 413),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                411,
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 400),
            (b"\x00\x01 nonsense\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
        ];
        for (bytes, status) in cases {
            let got = answer_to(bytes).await.err().map(|a| a.status);
            assert_eq!(got, Some(status), "{}", String::from_utf8_lossy(bytes));
        }
        let long_head = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(9000));
        assert_eq!(
            answer_to(long_head.as_bytes())
                .await
                .err()
                .map(|a| a.status),
            Some(431)
        );
    }
}
