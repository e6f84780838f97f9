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

use super::{Error, Fetched, Remote, auth_status, boxed, chain};
use crate::names::BranchName;

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
        if let Some(status) = auth_status(e) {
            return Error::Auth {
                url: url.clone(),
                status,
            };
        }
        Error::Push {
            url: url.clone(),
            source: boxed(std::io::Error::other(chain(e))),
        }
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
    let (mut transport, handshake) = super::connect(remote, Protocol::V1, Service::ReceivePack)
        .map_err(|e| push_err(e.as_ref()))?;

    let current = handshake
        .refs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find_map(|r| {
            let (name, target, _) = r.unpack();
            (name == refname.as_bytes())
                .then(|| target.map(ObjectId::from))
                .flatten()
        });
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

    let caps = &handshake.capabilities;
    if !caps.contains("report-status") {
        return Err(push_err(&std::io::Error::other(
            "the server does not offer report-status; cannot confirm a push",
        )));
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
    wanted.push(format!("agent={}", crate::http::USER_AGENT));
    let null = ObjectId::null(gix::hash::Kind::Sha1);
    let command = format!(
        "{} {} {}\0{}\n",
        expected.unwrap_or(null),
        new,
        refname,
        wanted.join(" ")
    );

    let mut writer = transport
        .request(WriteMode::Binary, MessageKind::Flush, false)
        .map_err(|e| push_err(&e))?;
    writer
        .write_all(command.as_bytes())
        .map_err(|e| push_err(&e))?;
    writer
        .write_message(MessageKind::Flush)
        .map_err(|e| push_err(&e))?;
    let (mut raw, mut reader) = writer.into_parts();
    raw.write_all(&pack).map_err(|e| push_err(&e))?;
    raw.flush().map_err(|e| push_err(&e))?;
    drop(raw);

    let mut unpack = None;
    let mut status = None;
    while let Some(line) = reader.readline() {
        let line = line.map_err(|e| push_err(&e))?.map_err(|e| push_err(&e))?;
        let Some(text) = line.as_bstr() else { break };
        let text = String::from_utf8_lossy(text).trim_end().to_string();
        if let Some(rest) = text.strip_prefix("unpack ") {
            unpack = Some(rest.to_string());
        } else if let Some(rest) = text.strip_prefix("ok ") {
            if rest == refname {
                status = Some(Ok(()));
            }
        } else if let Some(rest) = text.strip_prefix("ng ") {
            let (name, reason) = rest.split_once(' ').unwrap_or((rest, "no reason given"));
            if name == refname {
                status = Some(Err(reason.to_string()));
            }
        }
    }
    match unpack.as_deref() {
        Some("ok") => {}
        Some(reason) => {
            return Err(Error::Unpack {
                url,
                reason: reason.into(),
            });
        }
        None => {
            return Err(push_err(&std::io::Error::other(
                "the server's report ended before 'unpack'; the push may not have landed",
            )));
        }
    }
    match status {
        Some(Ok(())) => Ok(PushOutcome::Updated),
        Some(Err(reason)) => Err(Error::Rejected {
            url,
            refname,
            reason,
        }),
        None => Err(push_err(&std::io::Error::other(format!(
            "the server's report does not mention {refname}"
        )))),
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
