//! A pack on its way in, checked object by object before anything is built from it.
//!
//! gix's indexer inflates each object into memory to hash it, so a 1 GiB blob of zeros (a
//! 1 MB pack) costs 1 GiB before any size check could run. Every object's size is in its
//! entry header, and a delta's result size in the first bytes of its data: the gate reads
//! them as the bytes pass and refuses the first one over the limit, before the indexer has
//! seen its data. To find where one entry ends and the next begins it inflates each entry
//! into a small buffer that is thrown away (a pack has no entry lengths).

use std::io::Read;

use gix_zlib::{Decompress, FlushDecompress, Status};

/// An object in the pack declared more bytes than the fetch holds.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server's pack holds an object of {size} bytes, over the {limit}-byte limit")]
pub(crate) struct Oversized {
    pub(crate) size: u64,
    pub(crate) limit: u64,
}

/// Where the gate is in the pack.
enum State {
    /// The 12-byte pack header: `PACK`, version, object count.
    Pack,
    /// An entry's header (type and size, then a delta's base).
    Header,
    /// An entry's zlib data; for a delta, its first bytes hold the result's size.
    Data {
        declared: u64,
        delta: bool,
        seen: u64,
    },
    /// The pack's checksum, and anything after it.
    Trailer,
}

/// Passes a pack through, refusing an object larger than `limit` from its header.
pub(crate) struct Gate<R> {
    inner: R,
    limit: u64,
    state: State,
    /// Bytes of a header (or a delta's first data bytes) not complete yet.
    pending: Vec<u8>,
    left: u32,
    z: Decompress,
    scratch: Box<[u8]>,
}

impl<R: Read> Gate<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Gate<R> {
        Gate {
            inner,
            limit,
            state: State::Pack,
            pending: Vec::with_capacity(32),
            left: 0,
            z: Decompress::new(),
            scratch: vec![0u8; 16 << 10].into_boxed_slice(),
        }
    }

    /// Reads `bytes` (which are passing to the indexer) as pack entries.
    fn check(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Pack => self.pack_header(bytes)?,
                State::Header => self.entry_header(bytes)?,
                State::Data { .. } => self.data(bytes)?,
                State::Trailer => return Ok(()),
            };
        }
        Ok(())
    }

    fn pack_header<'b>(&mut self, bytes: &'b [u8]) -> std::io::Result<&'b [u8]> {
        let take = (12 - self.pending.len()).min(bytes.len());
        self.pending.extend_from_slice(&bytes[..take]);
        if self.pending.len() == 12 {
            if &self.pending[..4] != b"PACK" {
                return Err(bad("it does not start with PACK"));
            }
            self.left = u32::from_be_bytes(self.pending[8..12].try_into().expect("4 bytes"));
            self.pending.clear();
            self.state = self.next_entry();
        }
        Ok(&bytes[take..])
    }

    fn next_entry(&self) -> State {
        if self.left == 0 {
            State::Trailer
        } else {
            State::Header
        }
    }

    fn entry_header<'b>(&mut self, bytes: &'b [u8]) -> std::io::Result<&'b [u8]> {
        for (i, b) in bytes.iter().enumerate() {
            self.pending.push(*b);
            if self.pending.len() > 64 {
                return Err(bad("an entry header too long"));
            }
            if let Some((kind, size)) = parse_header(&self.pending) {
                self.refuse_over(size)?;
                self.pending.clear();
                self.z.reset();
                self.state = State::Data {
                    declared: size,
                    delta: kind >= 6,
                    seen: 0,
                };
                return Ok(&bytes[i + 1..]);
            }
        }
        Ok(&[])
    }

    fn data<'b>(&mut self, bytes: &'b [u8]) -> std::io::Result<&'b [u8]> {
        let State::Data {
            declared,
            delta,
            seen,
        } = &mut self.state
        else {
            unreachable!("called in the data state only")
        };
        let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
        let status = self
            .z
            .decompress(bytes, &mut self.scratch, FlushDecompress::None)
            .map_err(|_| bad("an entry that does not inflate"))?;
        let used = (self.z.total_in() - before_in) as usize;
        let made = (self.z.total_out() - before_out) as usize;
        if *delta && *seen < 20 {
            let keep = made.min(20 - *seen as usize);
            self.pending.extend_from_slice(&self.scratch[..keep]);
        }
        *seen += made as u64;
        if *seen > *declared {
            return Err(bad("an entry larger than its header says"));
        }
        let (is_delta, done) = (*delta, status == Status::StreamEnd);
        if is_delta && let Some(result) = delta_result_size(&self.pending) {
            self.refuse_over(result)?;
        }
        if done {
            self.pending.clear();
            self.left -= 1;
            self.state = self.next_entry();
        } else if used == 0 && made == 0 {
            // The scratch buffer is full of output only when made > 0; no progress on a
            // non-empty input means the stream is broken.
            return Err(bad("an entry that does not inflate"));
        }
        Ok(&bytes[used..])
    }

    fn refuse_over(&self, size: u64) -> std::io::Result<()> {
        if size > self.limit {
            return Err(std::io::Error::other(Oversized {
                size,
                limit: self.limit,
            }));
        }
        Ok(())
    }
}

impl<R: Read> Read for Gate<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check(&buf[..n])?;
        Ok(n)
    }
}

/// An entry header's type and size, once `h` holds all of it (and a delta's base).
fn parse_header(h: &[u8]) -> Option<(u8, u64)> {
    let kind = (h[0] >> 4) & 7;
    let mut size = u64::from(h[0] & 0x0f);
    let mut at = 1;
    let mut shift = 4;
    if h[0] & 0x80 != 0 {
        loop {
            let b = *h.get(at)?;
            at += 1;
            size |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(u64::MAX);
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    match kind {
        // An offset delta's base: a varint whose last byte has no high bit.
        6 => h[at..]
            .iter()
            .any(|b| b & 0x80 == 0)
            .then_some((kind, size)),
        // A delta by object id: the 20-byte id.
        7 => (h.len() >= at + 20).then_some((kind, size)),
        _ => Some((kind, size)),
    }
}

/// A delta's result size (the second varint of its data), once `d` holds it.
fn delta_result_size(d: &[u8]) -> Option<u64> {
    let mut at = 0;
    let mut varint = || {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let b = *d.get(at)?;
            at += 1;
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(u64::MAX);
            shift += 7;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
    };
    varint()?;
    varint()
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::other(format!("the server's pack is malformed: {what}"))
}

/// Passes `pack` through the gate with `limit`: what the indexer would have received, or the
/// refusal (the pack-gate fuzz target's entry point).
pub fn check_pack(pack: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
    let mut out = vec![];
    Gate::new(pack, limit).read_to_end(&mut out)?;
    Ok(out)
}

/// The [`Oversized`] refusal in an error's chain, if that is why it failed.
pub(crate) fn oversized(e: &(dyn std::error::Error + 'static)) -> Option<Oversized> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(o) = c.downcast_ref::<Oversized>() {
            return Some(*o);
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && let Some(o) = io.get_ref().and_then(|i| i.downcast_ref::<Oversized>())
        {
            return Some(*o);
        }
        // NB: gix's own error type keeps a cause's message, not always the cause itself.
        if let Some(o) = from_message(&c.to_string()) {
            return Some(o);
        }
        cur = c.source();
    }
    None
}

/// An [`Oversized`] read back from its own message.
fn from_message(text: &str) -> Option<Oversized> {
    let rest = text.split("holds an object of ").nth(1)?;
    let (size, rest) = rest.split_once(" bytes, over the ")?;
    let (limit, _) = rest.split_once("-byte limit")?;
    Some(Oversized {
        size: size.parse().ok()?,
        limit: limit.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::{Gate, oversized};

    /// A pack made by real git of `files` (name, content), deltas allowed.
    fn pack_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str], stdin: &[u8]| -> Vec<u8> {
            use std::io::Write;
            let mut c = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(stdin).unwrap();
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "git {args:?}");
            out.stdout
        };
        git(&["init", "-q", "--bare"], b"");
        let mut ids = String::new();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
            let id = git(&["hash-object", "-w", name], b"");
            ids.push_str(std::str::from_utf8(&id).unwrap());
        }
        git(&["pack-objects", "--stdout", "--window=10"], ids.as_bytes())
    }

    fn through(pack: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
        let mut out = vec![];
        // Small reads, as a network delivers them: headers split across reads.
        let mut gate = Gate::new(std::io::BufReader::with_capacity(7, pack), limit);
        let mut buf = [0u8; 5];
        loop {
            let n = gate.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn a_pack_within_the_limit_passes_byte_for_byte_deltas_included() {
        let base: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut changed = base.clone();
        changed.extend_from_slice(b"one more line\n");
        let pack = pack_of(&[("a", base), ("b", changed), ("c", b"small".to_vec())]);
        assert_eq!(through(&pack, 1 << 20).unwrap(), pack);
    }

    #[test]
    fn a_blob_over_the_limit_is_refused_from_its_header_before_its_data_passes() {
        // 64 MiB of zeros: a pack of about 64 KB.
        let pack = pack_of(&[("big", vec![0u8; 64 << 20])]);
        assert!(pack.len() < 200 << 10, "{}", pack.len());
        let mut gate = Gate::new(&pack[..], 4 << 20);
        let mut buf = vec![0u8; 16];
        let mut passed = 0;
        let err = loop {
            match gate.read(&mut buf) {
                Ok(n) => passed += n,
                Err(e) => break e,
            }
        };
        assert!(passed < 32, "refused at the header, after {passed} bytes");
        let o = oversized(&err).expect("an Oversized refusal");
        assert_eq!((o.size, o.limit), (64 << 20, 4 << 20));
    }

    #[test]
    fn a_delta_whose_result_is_over_the_limit_is_refused() {
        let base: Vec<u8> = (0..100_000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut bigger = base.clone();
        bigger.extend_from_slice(&base);
        bigger.extend_from_slice(&base);
        let pack = pack_of(&[("a", base.clone()), ("b", bigger)]);
        // The base fits; the delta's result (three times it) does not.
        let limit = base.len() as u64 + 10;
        let err = through(&pack, limit).unwrap_err();
        assert!(oversized(&err).is_some(), "{err}");
    }

    #[test]
    fn a_pack_that_lies_about_an_entry_is_refused() {
        let mut pack = pack_of(&[("a", b"hello hello hello".to_vec())]);
        // The first entry's size nibble says 1 byte, the data inflates to 17.
        pack[12] = (pack[12] & 0xf0) | 0x01;
        pack[12] &= 0x7f;
        let err = through(&pack, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
    }
}
