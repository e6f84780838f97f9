//! Push one commit to one branch by speaking receive-pack on gix's transport (gix has no
//! high-level push yet, gitoxide#306). The ref update is a compare-and-swap: the old value
//! we send is the tip we fetched, so a branch someone moved meanwhile is refused by the
//! server, never overwritten.

use std::io::Write;

use gix::{
    ObjectId,
    protocol::transport::{
        Protocol, Service,
        client::{MessageKind, WriteMode, blocking_io::Transport},
    },
};

use super::{
    error::{BoxError, Error, boxed, chain},
    fetch::Fetched,
    remote::{Remote, connect},
};
use crate::plan::names::BranchName;

/// What the push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The server accepted the update.
    Updated,
}

/// Pushes `new` to `branch`, expecting the remote to hold `expected` (None: the branch must
/// not exist). `fetched` holds the new objects in memory.
pub fn push(
    remote: &Remote,
    fetched: &mut Fetched,
    branch: &BranchName,
    expected: Option<ObjectId>,
    new: ObjectId,
) -> Result<PushOutcome, Error> {
    let url = remote.location.to_string();
    let refname = branch.full_ref();
    let push_err = |e: &(dyn std::error::Error + Send + Sync + 'static)| -> Error {
        Error::classify(&url, e, || Error::Push {
            url: url.clone(),
            source: boxed(std::io::Error::other(chain(e))),
        })
    };

    // Pack exactly the objects this run created: the server has the parent and everything
    // it reaches, so the pack is small and needs no thin deltas.
    let objects = fetched
        .repo
        .objects
        .take_object_memory()
        .unwrap_or_default();
    let pack = write_pack(&objects).map_err(|e| Error::Write { source: e })?;

    // receive-pack has no protocol v2.
    let (mut transport, handshake) =
        connect(remote, Protocol::V1, Service::ReceivePack).map_err(|e| push_err(e.as_ref()))?;

    let current = advertised(&handshake, &refname);
    if current != expected {
        // Someone moved the branch after our fetch; the server would refuse the swap anyway.
        return Err(Error::Rejected {
            url,
            refname,
            reason: format!(
                "stale info: the branch is at {} but this run fetched {}",
                current.map_or("nothing".into(), |c| c.to_string()),
                expected.map_or("nothing".into(), |c| c.to_string())
            ),
        });
    }

    let command =
        command(&handshake.capabilities, expected, new, &refname).map_err(|e| push_err(&e))?;
    let lines = send(&mut transport, &command, &pack).map_err(|e| push_err(e.as_ref()))?;
    match parse_report(lines.iter().map(Vec::as_slice), &refname) {
        Report::Updated => Ok(PushOutcome::Updated),
        Report::Unpack(reason) => Err(Error::Unpack { url, reason }),
        Report::Refused(reason) => Err(Error::Rejected {
            url,
            refname,
            reason,
        }),
        Report::Incomplete(what) => Err(push_err(&std::io::Error::other(what))),
    }
}

/// Where the server says `refname` is (None: no such branch).
fn advertised(handshake: &gix::protocol::Handshake, refname: &str) -> Option<ObjectId> {
    handshake
        .refs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find_map(|r| {
            let (name, target, _) = r.unpack();
            (name == refname.as_bytes())
                .then(|| target.map(ObjectId::from))
                .flatten()
        })
}

/// The one update command, with the capabilities we ask for; a server without
/// report-status cannot confirm a push, so it is refused.
fn command(
    caps: &gix::protocol::transport::client::Capabilities,
    expected: Option<ObjectId>,
    new: ObjectId,
    refname: &str,
) -> Result<String, std::io::Error> {
    if !caps.contains("report-status") {
        return Err(std::io::Error::other(
            "the server does not offer report-status; cannot confirm a push",
        ));
    }
    let mut wanted = vec!["report-status".to_string()];
    for c in ["atomic", "quiet"] {
        if caps.contains(c) {
            wanted.push(c.into());
        }
    }
    if caps.contains("object-format") {
        wanted.push("object-format=sha1".into());
    }
    wanted.push(format!("agent={}", crate::trust::http::USER_AGENT));
    let null = ObjectId::null(gix::hash::Kind::Sha1);
    Ok(format!(
        "{} {} {}\0{}\n",
        expected.unwrap_or(null),
        new,
        refname,
        wanted.join(" ")
    ))
}

/// Sends the command and the pack; returns the server's report-status lines.
fn send(
    transport: &mut Box<dyn Transport + Send>,
    command: &str,
    pack: &[u8],
) -> Result<Vec<Vec<u8>>, BoxError> {
    let mut writer = transport
        .request(WriteMode::Binary, MessageKind::Flush, false)
        .map_err(boxed)?;
    writer.write_all(command.as_bytes()).map_err(boxed)?;
    writer.write_message(MessageKind::Flush).map_err(boxed)?;
    let (mut raw, mut reader) = writer.into_parts();
    raw.write_all(pack).map_err(boxed)?;
    raw.flush().map_err(boxed)?;
    drop(raw);

    let mut lines = Vec::new();
    while let Some(line) = reader.readline() {
        let line = line.map_err(boxed)?.map_err(boxed)?;
        let Some(text) = line.as_bstr() else { break };
        lines.push(text.to_vec());
    }
    Ok(lines)
}

/// What the server's report-status says about our one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `unpack ok` and `ok <ref>`.
    Updated,
    /// The pack was not unpacked (`unpack <reason>`).
    Unpack(String),
    /// The ref update was refused (`ng <ref> <reason>`).
    Refused(String),
    /// The report ended too early to tell; the push may or may not have landed.
    Incomplete(String),
}

/// Reads a report-status (the pkt-line payloads, in order) for `refname`. Pure, so it can be
/// fuzzed: the server's text is untrusted and must never make us claim a push that did not land.
pub fn parse_report<'a>(lines: impl IntoIterator<Item = &'a [u8]>, refname: &str) -> Report {
    let mut unpack = None;
    let mut status = None;
    for line in lines {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        if unpack.is_none() {
            // The first line must be the unpack status; anything else is not a report.
            match text.strip_prefix("unpack ") {
                Some(rest) => unpack = Some(rest.to_string()),
                None => break,
            }
            continue;
        }
        if let Some(rest) = text.strip_prefix("ok ") {
            if rest == refname && status.is_none() {
                status = Some(Ok(()));
            }
        } else if let Some(rest) = text.strip_prefix("ng ") {
            let (name, reason) = rest.split_once(' ').unwrap_or((rest, "no reason given"));
            if name == refname {
                // A refusal wins over any `ok` for the same ref: never claim a doubtful push.
                status = Some(Err(reason.to_string()));
            }
        }
    }
    match unpack.as_deref() {
        Some("ok") => {}
        Some(reason) => return Report::Unpack(reason.to_string()),
        None => {
            return Report::Incomplete(
                "the server's report ended before 'unpack'; the push may not have landed".into(),
            );
        }
    }
    match status {
        Some(Ok(())) => Report::Updated,
        Some(Err(reason)) => Report::Refused(reason),
        None => Report::Incomplete(format!("the server's report does not mention {refname}")),
    }
}

/// A version-2 pack of `objects`, each stored whole (no deltas).
fn write_pack(
    objects: &gix::odb::memory::Storage,
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    use gix_pack::data::output;
    let mut entries = Vec::with_capacity(objects.len());
    for (id, (kind, data)) in objects.iter() {
        let count = output::Count::from_data(*id, None);
        let data = gix::objs::Data::new(data, *kind, gix::hash::Kind::Sha1);
        entries.push(
            output::Entry::from_data(&count, &data, gix::zlib::Compression::default())
                .map_err(boxed)?,
        );
    }
    let n = u32::try_from(entries.len()).map_err(boxed)?;
    let mut out = Vec::new();
    let iter = output::bytes::FromEntriesIter::new(
        std::iter::once(Ok(entries)),
        &mut out,
        n,
        gix_pack::data::Version::V2,
        gix::hash::Kind::Sha1,
    );
    for step in iter {
        step.map_err(boxed)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Report, parse_report};

    const REF: &str = "refs/heads/iter8/promote";

    fn parse(lines: &[&str]) -> Report {
        parse_report(lines.iter().map(|l| l.as_bytes()), REF)
    }

    #[test]
    fn an_accepted_update() {
        assert_eq!(
            parse(&["unpack ok\n", &format!("ok {REF}\n")]),
            Report::Updated
        );
    }

    #[test]
    fn a_refused_update_names_the_reason() {
        assert_eq!(
            parse(&["unpack ok", &format!("ng {REF} stale info")]),
            Report::Refused("stale info".into())
        );
        assert_eq!(
            parse(&["unpack ok", &format!("ng {REF}")]),
            Report::Refused("no reason given".into())
        );
    }

    #[test]
    fn a_refusal_wins_over_an_ok_for_the_same_ref() {
        for lines in [
            [
                "unpack ok".to_string(),
                format!("ok {REF}"),
                format!("ng {REF} x"),
            ],
            [
                "unpack ok".to_string(),
                format!("ng {REF} x"),
                format!("ok {REF}"),
            ],
        ] {
            assert_eq!(
                parse(&lines.each_ref().map(String::as_str)),
                Report::Refused("x".into())
            );
        }
    }

    #[test]
    fn an_unpack_failure_is_reported() {
        assert_eq!(
            parse(&["unpack index-pack abnormal exit", &format!("ok {REF}")]),
            Report::Unpack("index-pack abnormal exit".into())
        );
    }

    #[test]
    fn anything_short_of_a_full_report_is_incomplete() {
        for lines in [
            vec![],
            vec![format!("ok {REF}")],
            vec!["unpack ok".to_string()],
            vec!["unpack ok".to_string(), "ok refs/heads/other".to_string()],
            vec!["unpack ok".to_string(), format!("ok {REF}x")],
            vec![
                "garbage".to_string(),
                "unpack ok".to_string(),
                format!("ok {REF}"),
            ],
        ] {
            let got = parse(&lines.iter().map(String::as_str).collect::<Vec<_>>());
            assert!(
                matches!(got, Report::Incomplete(_)),
                "{lines:?} gave {got:?}"
            );
        }
    }
}
