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
    paths::Paths,
};

/// The most a cached resolved object may take, in all: enough for delta families that sit
/// together in git's pack order.
const CACHE_BYTES: usize = 64 << 10;
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

/// What the sifter found that the run cannot hold: wanted blobs over the file limit (by id,
/// with their declared size), and the largest object it passed over unhashed (a delta over
/// the limit, or one built on such a base: its id cannot be known without building it).
#[derive(Default)]
struct Over {
    blobs: HashMap<ObjectId, u64>,
    passed_over: u64,
}

/// The sifter's state over the passes.
struct Sifter<'a> {
    repo: &'a gix::Repository,
    paths: Paths,
    wanted: HashMap<ObjectId, Want>,
    /// What is in the repo already (a subtree two paths share is kept once).
    kept: HashSet<ObjectId>,
    pack: Pack,
    over: Over,
}

/// Keeps, in `repo`, the commits `wants`, the trees on the way to `paths` from `base_tip`'s
/// tree, and the blobs at `paths`, found in the pack at `pack`. Objects the pack lacks (a
/// `blob:none` pack has no blobs) are left for the caller to fetch; an error means the pack
/// could not be read this way (the caller indexes it whole instead). Returns the blobs the
/// rules read that are over the file limit, with their sizes: they are hashed as they
/// stream, never held.
pub(super) fn sift(
    pack: &Path,
    first_pass: impl Read,
    repo: &gix::Repository,
    wants: &[ObjectId],
    base_tip: ObjectId,
    paths: &[String],
) -> Result<HashMap<ObjectId, u64>, BoxError> {
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
        pack: Pack {
            disk: File::open(pack).map_err(boxed)?,
            cache: Cache::default(),
            inflater: Inflater::new(),
        },
        over: Over::default(),
    };
    // The first pass reads the pack as it arrives (`first_pass`); any other, once it is all
    // on disk.
    let mut first = Some(first_pass);
    while !s.wanted.is_empty() {
        let kept = match first.take() {
            Some(r) => s.pass(BufReader::with_capacity(16 << 10, r))?,
            None => s.pass(BufReader::with_capacity(
                16 << 10,
                File::open(pack).map_err(boxed)?,
            ))?,
        };
        if kept == 0 {
            break;
        }
    }
    // A wanted blob never found, in a pack where an object too large to build was passed
    // over: that was it (its declared size is the one named). A tree or commit is the
    // caller's "not sent" error.
    if s.over.passed_over > 0 {
        for (id, want) in &s.wanted {
            if matches!(want, Want::Blob) {
                s.over.blobs.insert(*id, s.over.passed_over);
            }
        }
    }
    Ok(s.over.blobs)
}

impl Sifter<'_> {
    /// Reads the pack once, in order, from `r`; returns how many wanted objects it kept.
    fn pass(&mut self, mut r: impl BufRead) -> Result<usize, BoxError> {
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
            let Some(id) = id else { continue };
            if let Some(want) = self.wanted.remove(&id) {
                let size = entry.decompressed_size;
                let (kind, data) = match object {
                    Some(o) => (o.0, o.1.clone()),
                    None if matches!(want, Want::Blob)
                        && size > crate::limits::MAX_FILE_BYTES as u64 =>
                    {
                        self.over.blobs.insert(id, size);
                        kept += 1;
                        continue;
                    }
                    None if size > delta::MAX_RESULT => {
                        return Err(boxed(std::io::Error::other(super::gate::Oversized {
                            size,
                            limit: delta::MAX_RESULT,
                        })));
                    }
                    None => self
                        .pack
                        .read_object(at)?
                        .ok_or_else(|| corrupt("a wanted object built on one too large"))?,
                };
                self.keep(id, kind, &data, want)?;
                kept += 1;
            }
        }
        Ok(kept)
    }

    /// Resolves and hashes the entry at `offset` whose header was just read from `r`: its
    /// id (unless it was a delta too large to build), its object (unless it was too large to
    /// hold) and the compressed bytes it took.
    fn next_object(
        &mut self,
        r: &mut impl BufRead,
        entry: &gix_pack::data::Entry,
        offset: u64,
    ) -> Result<(Option<ObjectId>, Option<Object>, u64), BoxError> {
        let size = entry.decompressed_size;
        if let Some(kind) = entry.header.as_kind()
            && size > HOLD_BYTES
        {
            let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
            hasher.update(&gix::objs::encode::loose_header(kind, size));
            let used = self
                .pack
                .inflater
                .inflate(r, size, &mut |c| hasher.update(c))?;
            return Ok((Some(hasher.try_finalize().map_err(boxed)?), None, used));
        }
        if size > delta::MAX_RESULT {
            return Ok((None, None, self.pass_over(r, size)?));
        }
        // The size is the server's word: it bounds the bytes, not the allocation.
        let mut data = Vec::with_capacity(size.min(HOLD_BYTES) as usize);
        let used = (self.pack.inflater).inflate(r, size, &mut |c| data.extend_from_slice(c))?;
        let object = match entry.header {
            Header::OfsDelta { base_distance } => {
                let result = delta::result_size(&data)?;
                let base = Header::verified_base_pack_offset(offset, base_distance)
                    .ok_or_else(|| boxed(std::io::Error::other("a delta base outside the pack")))?;
                let base = match result <= delta::MAX_RESULT {
                    true => self.pack.resolve(base)?,
                    false => None,
                };
                let Some(base) = base else {
                    self.over.passed_over = self.over.passed_over.max(result);
                    return Ok((None, None, used));
                };
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
        self.pack.cache.put(offset, object.clone());
        Ok((Some(id), Some(object), used))
    }

    /// Inflates an entry too large to build into nothing, to reach the next one.
    fn pass_over(&mut self, r: &mut impl BufRead, size: u64) -> Result<u64, BoxError> {
        self.over.passed_over = self.over.passed_over.max(size);
        self.pack.inflater.inflate(r, size, &mut |_| {})
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

/// One zlib inflater and its output buffer, reused for every object: a fresh inflater per
/// object (40 KB of state, allocated and freed a million times) grew glibc's arenas to
/// hundreds of MB.
struct Inflater {
    z: gix_zlib::Decompress,
    out: Box<[u8]>,
}

impl Inflater {
    fn new() -> Inflater {
        Inflater {
            z: gix_zlib::Decompress::new(),
            out: vec![0u8; 16 << 10].into_boxed_slice(),
        }
    }

    /// Inflates the zlib stream at `r` (which must hold `size` bytes) into `sink`; returns
    /// the compressed bytes it took, so the next entry's offset is known.
    fn inflate(
        &mut self,
        r: &mut impl BufRead,
        size: u64,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, BoxError> {
        use gix_zlib::{FlushDecompress, Status};
        let z = &mut self.z;
        z.reset();
        let (start_in, start_out) = (z.total_in(), z.total_out());
        loop {
            let input = r.fill_buf().map_err(boxed)?;
            let eof = input.is_empty();
            let (before_in, before_out) = (z.total_in(), z.total_out());
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let status = z.decompress(input, &mut self.out, flush).map_err(boxed)?;
            let consumed = (z.total_in() - before_in) as usize;
            let written = (z.total_out() - before_out) as usize;
            r.consume(consumed);
            sink(&self.out[..written]);
            let total = z.total_out() - start_out;
            if total > size {
                return Err(corrupt("an object larger than its header says"));
            }
            match status {
                Status::StreamEnd if total == size => return Ok(z.total_in() - start_in),
                Status::StreamEnd => break,
                _ if eof || (consumed == 0 && written == 0) => break,
                _ => {}
            }
        }
        Err(corrupt("a truncated object"))
    }
}

/// The pack file read back at any offset, with the resolved objects cached.
struct Pack {
    disk: File,
    cache: Cache,
    inflater: Inflater,
}

impl Pack {
    /// The object at `offset`, its delta chain applied: from the cache, or read back from
    /// the file (bases come before their deltas, so they are on disk already). `None` when an
    /// object on the chain is too large to build.
    fn resolve(&mut self, offset: u64) -> Result<Option<Object>, BoxError> {
        if let Some(o) = self.cache.get(offset) {
            return Ok(Some(o));
        }
        let Some(o) = self.read_object(offset)? else {
            return Ok(None);
        };
        let o = Rc::new(o);
        self.cache.put(offset, o.clone());
        Ok(Some(o))
    }

    /// Reads the object at `offset`, following its delta chain back to a base (or a cached
    /// object), then applying the deltas forward: no recursion, whatever the chain's length.
    /// `None` when an object on the chain is too large to build.
    fn read_object(&mut self, offset: u64) -> Result<Option<(Kind, Vec<u8>)>, BoxError> {
        let mut deltas = vec![];
        let mut at = offset;
        let (kind, mut data) = loop {
            if let Some(o) = self.cache.get(at) {
                break (o.0, o.1.clone());
            }
            if deltas.len() > MAX_CHAIN {
                return Err(corrupt("a delta chain too long"));
            }
            let Some((header, data)) = self.read_entry(at)? else {
                return Ok(None);
            };
            match header {
                Header::OfsDelta { base_distance } => {
                    deltas.push(data);
                    at = Header::verified_base_pack_offset(at, base_distance)
                        .ok_or_else(|| corrupt("a delta base outside the pack"))?;
                }
                Header::RefDelta { .. } => return Err(corrupt("a delta by object id")),
                _ => break (header.as_kind().expect("not a delta"), data),
            }
        };
        for d in deltas.iter().rev() {
            if delta::result_size(d)? > delta::MAX_RESULT {
                return Ok(None);
            }
            data = delta::apply(&data, d)?;
        }
        Ok(Some((kind, data)))
    }

    /// The header and inflated bytes of the entry at `at`; `None` when it is too large to
    /// hold.
    fn read_entry(&mut self, at: u64) -> Result<Option<(Header, Vec<u8>)>, BoxError> {
        (&self.disk).seek(SeekFrom::Start(at)).map_err(boxed)?;
        let mut r = BufReader::with_capacity(8 << 10, &self.disk);
        let entry = gix_pack::data::Entry::from_read(&mut r, at, 20).map_err(boxed)?;
        let size = entry.decompressed_size;
        if size > delta::MAX_RESULT {
            return Ok(None);
        }
        let mut data = Vec::with_capacity(size.min(CACHE_BYTES as u64) as usize);
        self.inflater
            .inflate(&mut r, size, &mut |c| data.extend_from_slice(c))?;
        Ok(Some((entry.header, data)))
    }
}

fn corrupt(what: &str) -> BoxError {
    boxed(std::io::Error::other(format!(
        "the pack cannot be sifted: {what}"
    )))
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

#[cfg(test)]
mod tests {
    use std::{path::Path, process::Command};

    use gix::ObjectId;

    use super::sift;

    /// Runs git in `dir` with `stdin`; its output as bytes (a pack) or, through `git`, text.
    fn git_bytes(dir: &Path, args: &[&str], stdin: &str) -> Vec<u8> {
        use std::io::Write;
        let mut c = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        out.stdout
    }

    fn git(dir: &Path, args: &[&str], stdin: &str) -> String {
        String::from_utf8(git_bytes(dir, args, stdin)).unwrap()
    }

    /// An Env repo with `a/b/c/{x,y}.yaml`, `d/{1,2}.yaml` and 40 look-alike sibling
    /// folders (so that git deltifies), committed once.
    fn env_repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        git(p, &["init", "-q", "-b", "main"], "");
        let mut files = vec![
            ("a/b/c/x.yaml".to_string(), "kind: Deployment\n".repeat(40)),
            ("a/b/c/y.yaml".into(), "kind: Service\n".repeat(40)),
            ("d/1.yaml".into(), "kind: ConfigMap\n".repeat(40)),
            ("d/2.yaml".into(), "kind: Secret\n".repeat(40)),
        ];
        for i in 0..40 {
            let body = format!(
                "{}name: app-{i}\n",
                "kind: ConfigMap\nmetadata: {}\n".repeat(30)
            );
            files.push((format!("e{i:02}/app/config.yaml"), body.clone()));
            files.push((format!("a/b/s{i:02}.yaml"), body));
        }
        for (name, body) in files {
            std::fs::create_dir_all(p.join(&name).parent().unwrap()).unwrap();
            std::fs::write(p.join(name), body).unwrap();
        }
        git(p, &["add", "-A"], "");
        git(
            p,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                "c",
            ],
            "",
        );
        dir
    }

    fn id(repo: &Path, rev: &str) -> ObjectId {
        ObjectId::from_hex(git(repo, &["rev-parse", rev], "").trim().as_bytes()).unwrap()
    }

    /// The ids of the loose objects in `repo` (where the sifter keeps what it finds).
    fn loose(repo: &Path) -> Vec<ObjectId> {
        let mut ids = vec![];
        for d in std::fs::read_dir(repo.join("objects")).unwrap() {
            let d = d.unwrap();
            let name = d.file_name().to_string_lossy().to_string();
            if name.len() != 2 {
                continue;
            }
            for f in std::fs::read_dir(d.path()).unwrap() {
                let hex = format!("{name}{}", f.unwrap().file_name().to_string_lossy());
                ids.push(ObjectId::from_hex(hex.as_bytes()).unwrap());
            }
        }
        ids.sort();
        ids
    }

    /// Sifts `pack` into a new bare repo for `HEAD` and the paths the rules read.
    fn sift_into_new_repo(src: &Path, pack: &Path) -> (tempfile::TempDir, Result<(), String>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = gix::init_bare(dir.path()).unwrap();
        let head = id(src, "HEAD");
        let paths = [
            "a/b/c/x.yaml".to_string(),
            "a/b/c/y.yaml".into(),
            "d/".into(),
        ];
        let first = std::fs::File::open(pack).unwrap();
        let result = sift(pack, first, &repo, &[head], head, &paths)
            .map(|over| assert!(over.is_empty(), "no file over the limit here"))
            .map_err(|e| e.to_string());
        (dir, result)
    }

    fn pack_of(src: &Path, args: &[&str], stdin: &str) -> std::path::PathBuf {
        let pack = src.join("test.pack");
        let args = [&["pack-objects", "--stdout", "-q"], args].concat();
        let bytes = git_bytes(src, &args, stdin);
        std::fs::write(&pack, bytes).unwrap();
        pack
    }

    /// How many entries of `pack` are deltas (`git verify-pack -v` gives them a base).
    fn deltas_in(src: &Path, pack: &Path) -> usize {
        git(src, &["index-pack", pack.to_str().unwrap()], "");
        git(src, &["verify-pack", "-v", pack.to_str().unwrap()], "")
            .lines()
            .filter(|l| l.split_whitespace().count() == 7)
            .count()
    }

    #[test]
    fn keeps_only_the_commit_the_trees_on_the_way_and_the_blobs_read_from_a_whole_pack() {
        let src = env_repo();
        let s = src.path();
        let pack = pack_of(s, &["--revs", "--delta-base-offset"], "HEAD\n");
        assert!(
            deltas_in(s, &pack) > 0,
            "the pack has offset deltas to resolve"
        );
        let (dir, result) = sift_into_new_repo(s, &pack);
        result.unwrap();
        let mut expected: Vec<ObjectId> = [
            "HEAD",
            "HEAD^{tree}",
            "HEAD:a",
            "HEAD:a/b",
            "HEAD:a/b/c",
            "HEAD:a/b/c/x.yaml",
            "HEAD:a/b/c/y.yaml",
            "HEAD:d",
            "HEAD:d/1.yaml",
            "HEAD:d/2.yaml",
        ]
        .iter()
        .map(|r| id(s, r))
        .collect();
        expected.sort();
        assert_eq!(loose(dir.path()), expected, "nothing else is kept");
        // Each is the object git has, byte for byte.
        let repo = gix::open(dir.path()).unwrap();
        let blob = repo.find_object(id(s, "HEAD:a/b/c/x.yaml")).unwrap();
        assert_eq!(blob.data, std::fs::read(s.join("a/b/c/x.yaml")).unwrap());
    }

    #[test]
    fn a_child_tree_sent_before_its_parent_is_found_on_a_later_pass() {
        let src = env_repo();
        let s = src.path();
        // Written in the order given (no tags, no deltas): the deepest tree first.
        let order = ["HEAD:a/b/c", "HEAD:a/b", "HEAD:a", "HEAD^{tree}", "HEAD"]
            .iter()
            .map(|r| id(s, r).to_string())
            .chain(
                [
                    "HEAD:a/b/c/x.yaml",
                    "HEAD:a/b/c/y.yaml",
                    "HEAD:d",
                    "HEAD:d/1.yaml",
                    "HEAD:d/2.yaml",
                ]
                .iter()
                .map(|r| id(s, r).to_string()),
            )
            .collect::<Vec<_>>()
            .join("\n");
        let pack = pack_of(s, &["--window=0"], &format!("{order}\n"));
        let (dir, result) = sift_into_new_repo(s, &pack);
        result.unwrap();
        assert_eq!(loose(dir.path()).len(), 10);
    }

    #[test]
    fn a_pack_with_deltas_by_object_id_or_cut_short_is_refused_not_misread() {
        let src = env_repo();
        let s = src.path();
        let pack = pack_of(s, &["--revs"], "HEAD\n");
        assert!(deltas_in(s, &pack) > 0);
        let (_, result) = sift_into_new_repo(s, &pack);
        assert!(result.unwrap_err().contains("by object id"));

        let pack = pack_of(s, &["--revs", "--delta-base-offset"], "HEAD\n");
        let bytes = std::fs::read(&pack).unwrap();
        std::fs::write(&pack, &bytes[..bytes.len() / 2]).unwrap();
        let (_, result) = sift_into_new_repo(s, &pack);
        assert!(result.is_err());
    }
}
