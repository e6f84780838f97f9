//! Sifts a pack on disk for the objects on the rules' paths, without indexing it.
//!
//! A server that cannot filter sends every blob of the tip. Indexing that pack (what
//! `git index-pack` and gix do) keeps a record per object, so memory grows with the repo
//! (29.6 MB at 100k files, hundreds at 1M). Here the pack, written to disk as it arrived, is
//! read in order and each object resolved (its delta base from a small cache or the file)
//! and hashed; only the commits asked for, the trees on the way to the rules' paths and the
//! blobs the rules read are kept, as loose objects in the temporary repo. Memory is the cache
//! plus the largest object, at any repo size. Objects may come in any order (a child tree can
//! precede its parent inside one delta family), so the pack is read again while a pass
//! finds something new.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    fs::File,
    io::{BufRead, BufReader, Read, Seek, SeekFrom},
    path::Path,
    rc::Rc,
};

use gix::{ObjectId, objs::Kind};
use gix_pack::data::entry::Header;

use super::{
    delta,
    error::{BoxError, boxed},
};

/// The most a cached resolved object may take, in all: enough for delta families that sit
/// together in git's pack order.
const CACHE_BYTES: usize = 4 << 20;
/// Larger objects are hashed as they are inflated, never held whole (unless wanted).
const HOLD_BYTES: u64 = 1 << 20;
/// A delta chain longer than git's own limit (4095) is a corrupt or hostile pack.
const MAX_CHAIN: usize = 4096;

/// A resolved object: its kind and its bytes, shared between the cache and its reader.
type Object = Rc<(Kind, Vec<u8>)>;

/// What a wanted object is for.
#[derive(Clone)]
enum Want {
    /// A commit; for the base tip, its tree is the root of the walk.
    Commit {
        base: bool,
    },
    /// The tree of this folder ("" for the root).
    Tree(String),
    Blob,
}

/// The rules' paths, as the sifter looks them up.
struct Paths {
    /// Every folder on the way to a path, the root excluded: `a`, `a/b` for `a/b/c.yaml`.
    dirs: HashSet<String>,
    /// Files the rules read.
    files: HashSet<String>,
    /// Folders whose files are all read (`start` lists a folder: `dir/`).
    listed: HashSet<String>,
}

impl Paths {
    fn new(paths: &[String]) -> Paths {
        let mut p = Paths {
            dirs: HashSet::new(),
            files: HashSet::new(),
            listed: HashSet::new(),
        };
        for path in paths {
            let (dir, file) = match path.strip_suffix('/') {
                Some(dir) => {
                    p.listed.insert(dir.to_string());
                    (dir, None)
                }
                None => (path.rsplit_once('/').map_or("", |(d, _)| d), Some(path)),
            };
            p.files.extend(file.cloned());
            let mut at = 0;
            while at < dir.len() {
                let end = dir[at..].find('/').map_or(dir.len(), |i| at + i);
                p.dirs.insert(dir[..end].to_string());
                at = end + 1;
            }
        }
        p
    }
}

/// The sifter's state over the passes.
struct Sifter<'a> {
    repo: &'a gix::Repository,
    paths: Paths,
    wanted: HashMap<ObjectId, Want>,
    /// What is in the repo already (a subtree two paths share is kept once).
    kept: HashSet<ObjectId>,
    cache: Cache,
    disk: File,
}

/// Keeps, in `repo`, the commits `wants`, the trees on the way to `paths` from `base_tip`'s
/// tree, and the blobs at `paths`, found in the pack at `pack`. Objects the pack lacks (a
/// `blob:none` pack has no blobs) are left for the caller to fetch; an error means the pack
/// could not be read this way (the caller indexes it whole instead).
pub(super) fn sift(
    pack: &Path,
    repo: &gix::Repository,
    wants: &[ObjectId],
    base_tip: ObjectId,
    paths: &[String],
) -> Result<(), BoxError> {
    let mut s = Sifter {
        repo,
        paths: Paths::new(paths),
        wanted: wants
            .iter()
            .map(|id| {
                (
                    *id,
                    Want::Commit {
                        base: *id == base_tip,
                    },
                )
            })
            .collect(),
        kept: HashSet::new(),
        cache: Cache::default(),
        disk: File::open(pack).map_err(boxed)?,
    };
    while !s.wanted.is_empty() {
        if s.pass(pack)? == 0 {
            break;
        }
    }
    Ok(())
}

impl Sifter<'_> {
    /// Reads the pack once, in order; returns how many wanted objects it kept.
    fn pass(&mut self, pack: &Path) -> Result<usize, BoxError> {
        let mut r = BufReader::with_capacity(64 << 10, File::open(pack).map_err(boxed)?);
        let mut header = [0u8; gix_pack::data::header::SIZE];
        r.read_exact(&mut header).map_err(boxed)?;
        let (_, count) = gix_pack::data::header::decode(&header).map_err(boxed)?;
        let mut offset = header.len() as u64;
        let mut kept = 0;
        for _ in 0..count {
            let at = offset;
            let entry = gix_pack::data::Entry::from_read(&mut r, at, 20).map_err(boxed)?;
            let (id, object, used) = self.next_object(&mut r, &entry, at)?;
            offset += entry.header_size() as u64 + used;
            if let Some(want) = self.wanted.remove(&id) {
                let (kind, data) = match object {
                    Some(o) => (o.0, o.1.clone()),
                    None => read_object(&mut self.disk, at, &mut self.cache)?,
                };
                self.keep(id, kind, &data, want)?;
                kept += 1;
            }
        }
        Ok(kept)
    }

    /// Resolves and hashes the entry at `offset` whose header was just read from `r`: its
    /// id, its object (unless it was too large to hold) and the compressed bytes it took.
    fn next_object(
        &mut self,
        r: &mut impl BufRead,
        entry: &gix_pack::data::Entry,
        offset: u64,
    ) -> Result<(ObjectId, Option<Object>, u64), BoxError> {
        let size = entry.decompressed_size;
        if let Some(kind) = entry.header.as_kind()
            && size > HOLD_BYTES
        {
            let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
            hasher.update(&gix::objs::encode::loose_header(kind, size));
            let used = inflate_into(r, size, &mut |chunk| hasher.update(chunk))?;
            return Ok((hasher.try_finalize().map_err(boxed)?, None, used));
        }
        let mut data = Vec::with_capacity(size as usize);
        let used = inflate_into(r, size, &mut |chunk| data.extend_from_slice(chunk))?;
        let object = match entry.header {
            Header::OfsDelta { base_distance } => {
                let base = Header::verified_base_pack_offset(offset, base_distance)
                    .ok_or_else(|| boxed(std::io::Error::other("a delta base outside the pack")))?;
                let base = resolve(&mut self.disk, base, &mut self.cache)?;
                (base.0, delta::apply(&base.1, &data)?)
            }
            Header::RefDelta { .. } => {
                return Err(boxed(std::io::Error::other(
                    "a delta by object id (the sifter reads offset deltas only)",
                )));
            }
            _ => (entry.header.as_kind().expect("not a delta"), data),
        };
        let id =
            gix::objs::compute_hash(gix::hash::Kind::Sha1, object.0, &object.1).map_err(boxed)?;
        let object = Rc::new(object);
        self.cache.put(offset, object.clone());
        Ok((id, Some(object), used))
    }

    /// Writes a wanted object to the repo and wants what it leads to on the rules' paths.
    fn keep(&mut self, id: ObjectId, kind: Kind, data: &[u8], want: Want) -> Result<(), BoxError> {
        use gix::objs::Write as _;
        self.repo
            .objects
            .write_buf_with_known_id(kind, data, id)
            .map_err(boxed)?;
        self.kept.insert(id);
        match want {
            Want::Commit { base: true } => {
                let tree = gix::objs::CommitRefIter::from_bytes(data, gix::hash::Kind::Sha1)
                    .tree_id()
                    .map_err(boxed)?;
                self.wanted.insert(tree, Want::Tree(String::new()));
            }
            Want::Tree(dir) => self.want_children(&dir, data)?,
            Want::Commit { base: false } | Want::Blob => {}
        }
        Ok(())
    }

    /// Wants the folders on the way and the files the rules read, among `tree`'s entries.
    fn want_children(&mut self, dir: &str, tree: &[u8]) -> Result<(), BoxError> {
        for e in gix::objs::TreeRefIter::from_bytes(tree, gix::hash::Kind::Sha1) {
            let e = e.map_err(boxed)?;
            let path = if dir.is_empty() {
                e.filename.to_string()
            } else {
                format!("{dir}/{}", e.filename)
            };
            let want = if e.mode.is_tree() && self.paths.dirs.contains(&path) {
                Want::Tree(path)
            } else if e.mode.is_blob_or_symlink()
                && (self.paths.files.contains(&path) || self.paths.listed.contains(dir))
            {
                Want::Blob
            } else {
                continue;
            };
            if !self.kept.contains(e.oid) {
                self.wanted.insert(e.oid.to_owned(), want);
            }
        }
        Ok(())
    }
}

/// Inflates the zlib stream at `r` (which must hold `size` bytes) into `sink`; returns the
/// compressed bytes it took, so the next entry's offset is known.
fn inflate_into(
    r: &mut impl BufRead,
    size: u64,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<u64, BoxError> {
    use gix_zlib::{Decompress, FlushDecompress, Status};
    let mut z = Decompress::new();
    let mut out = vec![0u8; (size as usize).clamp(1, 64 << 10) + 1];
    loop {
        let input = r.fill_buf().map_err(boxed)?;
        let eof = input.is_empty();
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let flush = if eof {
            FlushDecompress::Finish
        } else {
            FlushDecompress::None
        };
        let status = z.decompress(input, &mut out, flush).map_err(boxed)?;
        let consumed = (z.total_in() - before_in) as usize;
        let written = (z.total_out() - before_out) as usize;
        r.consume(consumed);
        sink(&out[..written]);
        if z.total_out() > size {
            return Err(boxed(std::io::Error::other(
                "an object larger than its header says",
            )));
        }
        match status {
            Status::StreamEnd if z.total_out() == size => return Ok(z.total_in()),
            Status::StreamEnd => break,
            _ if eof || (consumed == 0 && written == 0) => break,
            _ => {}
        }
    }
    Err(boxed(std::io::Error::other(
        "a truncated object in the pack",
    )))
}

/// The object at `offset` in the pack file, its delta chain applied: from the cache, or read
/// back from the file (bases come before their deltas, so they are on disk already).
fn resolve(disk: &mut File, offset: u64, cache: &mut Cache) -> Result<Object, BoxError> {
    if let Some(o) = cache.get(offset) {
        return Ok(o);
    }
    let o = Rc::new(read_object(disk, offset, cache)?);
    cache.put(offset, o.clone());
    Ok(o)
}

/// Reads the object at `offset`, following its delta chain back to a base (or a cached
/// object), then applying the deltas forward: no recursion, whatever the chain's length.
fn read_object(
    disk: &mut File,
    offset: u64,
    cache: &mut Cache,
) -> Result<(Kind, Vec<u8>), BoxError> {
    let mut deltas = vec![];
    let mut at = offset;
    let (kind, mut data) = loop {
        if let Some(o) = cache.get(at) {
            break (o.0, o.1.clone());
        }
        if deltas.len() > MAX_CHAIN {
            return Err(boxed(std::io::Error::other("a delta chain too long")));
        }
        disk.seek(SeekFrom::Start(at)).map_err(boxed)?;
        let mut r = BufReader::with_capacity(8 << 10, &*disk);
        let entry = gix_pack::data::Entry::from_read(&mut r, at, 20).map_err(boxed)?;
        let mut data = Vec::with_capacity(entry.decompressed_size.min(CACHE_BYTES as u64) as usize);
        inflate_into(&mut r, entry.decompressed_size, &mut |c| {
            data.extend_from_slice(c)
        })?;
        match entry.header {
            Header::OfsDelta { base_distance } => {
                deltas.push(data);
                at = Header::verified_base_pack_offset(at, base_distance)
                    .ok_or_else(|| boxed(std::io::Error::other("a delta base outside the pack")))?;
            }
            Header::RefDelta { .. } => {
                return Err(boxed(std::io::Error::other("a delta by object id")));
            }
            _ => break (entry.header.as_kind().expect("not a delta"), data),
        }
    };
    for d in deltas.iter().rev() {
        data = delta::apply(&data, d)?;
    }
    Ok((kind, data))
}

/// Resolved objects by pack offset, oldest dropped first past `CACHE_BYTES`.
#[derive(Default)]
struct Cache {
    objects: HashMap<u64, Object>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl Cache {
    fn get(&self, offset: u64) -> Option<Object> {
        self.objects.get(&offset).cloned()
    }

    fn put(&mut self, offset: u64, object: Object) {
        let len = object.1.len();
        if len > CACHE_BYTES / 4 || self.objects.contains_key(&offset) {
            return;
        }
        while self.bytes + len > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(o) = self.objects.remove(&old) {
                self.bytes -= o.1.len();
            }
        }
        self.bytes += len;
        self.order.push_back(offset);
        self.objects.insert(offset, object);
    }
}
