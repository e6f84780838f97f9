//! Every byte budget of the run, in one place (docs/security.md, *Limits*). Each input has its own
//! budget, enforced while it is read (a declared size is checked before anything is
//! allocated for it), and a refusal names the input, its size and the limit. Together they
//! keep the worst accepted input under 32 MiB of peak RSS (the Job's limit is 64 Mi; the
//! benchmark's "largest accepted inputs" prints one row per kind).

/// Largest file the planner reads from the Env repo (winner, baseline, apply files, promotion
/// files, templates, the experiment's manifests). Env repo manifests are kilobytes.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// The most bytes of apply files one run parses (every file of GITOPS_APPLY or of the targets'
/// `apply` together).
pub const MAX_APPLY_BYTES: usize = 1024 * 1024;
/// The most objects one run applies (the tutorial applies one).
pub const MAX_OBJECTS: usize = 256;
/// Files larger than this (either side) are summarised in the diff, not diffed line by line.
pub const MAX_DIFF_FILE_BYTES: usize = 256 * 1024;

/// What the YAML the tool parses may expand to, aliases included, per file (and, for apply
/// files, per run): serde-saphyr bounds how many aliases a file holds, not what they expand
/// to (`[*a, *a, …]` over a 900 KB anchor is 54 MB). Apply objects are sent as JSON, so the
/// expanded size is what the API server would receive. Four times the apply budget leaves
/// room for the anchors that real manifests use (a shared label block), and no more.
pub const MAX_YAML_EXPANDED_BYTES: u64 = 4 * MAX_APPLY_BYTES as u64;
/// The most nodes (scalars, sequences, mappings) the YAML may expand to, likewise: each node
/// is a value in memory while its document is converted. The benchmark's 1 MiB apply file of
/// 256 VirtualServices has about 120,000.
pub const MAX_YAML_NODES: u64 = 200_000;

/// The largest object the fetch lets into the temporary repo where every object is one the
/// rules read or walk through (the commits, the trees on the rules' paths, the blobs):
/// refused from its pack header, before it is inflated. A blob over [`MAX_FILE_BYTES`] is
/// refused later, by name, from its object header.
pub const MAX_FETCHED_OBJECT_BYTES: u64 = 2 * MAX_FILE_BYTES as u64;
/// The most bytes of refs a git server may advertise (the `info/refs` answer, or `ls-refs`'s):
/// about 100,000 refs. The run asks for two.
pub const MAX_REF_ADVERTISEMENT_BYTES: u64 = 8 * 1024 * 1024;

/// The largest answer read from a Git host's API (a PR lookup, a merge's state). The longest
/// documented answers (a page of 100 pull requests) are a few hundred KB.
pub const MAX_API_BODY_BYTES: u64 = 4 * 1024 * 1024;
/// The largest answer read from the Kubernetes API server (an Experiment, a discovery
/// document, an Application, an applied object): etcd stores objects of at most 1.5 MiB.
pub const MAX_KUBE_BODY_BYTES: u64 = 4 * 1024 * 1024;
/// The largest Secret the tool reads: Kubernetes refuses Secrets over 1 MiB of data, which is
/// about 1.4 MB as base64 in JSON.
pub const MAX_SECRET_BODY_BYTES: u64 = 2 * 1024 * 1024;
/// The longest token taken from a Secret or GITOPS_TOKEN. Host tokens are 40 to a few hundred
/// bytes; a GitHub App key or a signing key (read as a PEM) may be longer, up to
/// [`MAX_KEY_BYTES`].
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The longest private key taken from a Secret (a 16384-bit RSA key in PEM is about 13 KB).
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// The receiver (`serve`): the largest webhook body it reads. Flagger's payload and an Argo
/// Rollouts notification are a few hundred bytes; a larger one is refused (413) from its
/// Content-Length, before it is read.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 64 * 1024;
/// The receiver: the longest request line and headers.
pub const MAX_WEBHOOK_HEAD_BYTES: usize = 8 * 1024;
