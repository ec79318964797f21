//! Commits: resolving a branch, tag or sha to a commit, reading its metadata, and history.

use std::fmt;
use std::str::FromStr;

use gix::bstr::ByteSlice;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

use crate::error::{Error, Result};
use crate::mirror::Mirror;

/// The full id of a commit (40 hex digits). `Display` and `FromStr` use the hex form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(pub(crate) gix::ObjectId);

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommitId({})", self.0)
    }
}

impl FromStr for CommitId {
    type Err = Error;

    /// Parses a full hex id; it does not check that the commit exists (see [`Mirror::resolve`]).
    fn from_str(hex: &str) -> Result<CommitId> {
        gix::ObjectId::from_hex(hex.as_bytes())
            .map(CommitId)
            .map_err(|source| Error::UnknownRevision {
                revision: hex.to_owned(),
                source: Some(gix::Error::from_error(source)),
            })
    }
}

/// What history shows of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: CommitId,
    /// The whole message: summary line, blank line, body (trailing whitespace removed).
    pub message: String,
    pub author_name: String,
    pub author_email: String,
    /// When the commit was authored (what `git log` shows).
    pub time: jiff::Timestamp,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or_default()
    }
}

impl Mirror {
    /// Resolves `revision` (a branch, a tag, a full or abbreviated sha) to a commit of the
    /// mirror. Annotated tags are peeled to their commit. Anything else is
    /// [`Error::UnknownRevision`].
    pub fn resolve(&self, revision: &str) -> Result<CommitInfo> {
        let repo = self.repo.to_thread_local();
        let unknown = |source| Error::UnknownRevision {
            revision: revision.to_owned(),
            source: Some(source),
        };
        let id = repo
            .rev_parse_single(revision.as_bytes().as_bstr())
            .map_err(unknown)?;
        let commit = id
            .object()
            .and_then(|object| object.peel_to_kind(gix::object::Kind::Commit))
            .map_err(unknown)?
            .into_commit();
        commit_info(&commit)
    }

    /// Up to `limit` commits reachable from `from` (itself included), newest first by commit
    /// time.
    pub fn log(&self, from: &CommitId, limit: usize) -> Result<Vec<CommitInfo>> {
        let repo = self.repo.to_thread_local();
        let read_error = |source| Error::ReadObject {
            commit: from.to_string(),
            object: "history".to_owned(),
            source,
        };
        find_commit(&repo, from)?;
        let walk = repo
            .rev_walk([from.0])
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .all()
            .map_err(read_error)?;
        let mut commits = Vec::new();
        for info in walk.take(limit) {
            let commit = info.and_then(|info| info.object()).map_err(read_error)?;
            commits.push(commit_info(&commit)?);
        }
        Ok(commits)
    }
}

/// Finds the commit `id`, or says that the mirror has no such commit.
pub(crate) fn find_commit<'repo>(
    repo: &'repo gix::Repository,
    id: &CommitId,
) -> Result<gix::Commit<'repo>> {
    repo.find_commit(id.0)
        .map_err(|source| Error::UnknownRevision {
            revision: id.to_string(),
            source: Some(source),
        })
}

fn commit_info(commit: &gix::Commit<'_>) -> Result<CommitInfo> {
    let id = CommitId(commit.id);
    let read_error = |source| Error::ReadObject {
        commit: id.to_string(),
        object: "commit".to_owned(),
        source,
    };
    let message = commit.message_raw().map_err(read_error)?;
    let author = commit.author().map_err(read_error)?;
    let seconds = author.time().map_err(read_error)?.seconds;
    Ok(CommitInfo {
        id,
        message: message.to_str_lossy().trim_end().to_owned(),
        author_name: author.name.to_str_lossy().into_owned(),
        author_email: author.email.to_str_lossy().into_owned(),
        // A time outside jiff's range (years beyond ±9999) is clamped rather than refused.
        time: jiff::Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        }),
    })
}
