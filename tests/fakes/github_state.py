"""The fake GitHub's state, and the helpers a test uses to seed and read it.

Issue and pull request numbers share one sequence per repository, as on GitHub; every id
(comment, status, reaction, pull) comes from one global sequence starting far from the issue
numbers, so code that mixes up a comment id and a PR number fails here too.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tests.fakes.github_model import (
    ROLES,
    Comment,
    Commit,
    FileChanges,
    Issue,
    Pull,
    Repo,
    Review,
    Status,
    User,
    git_sha,
    utcnow,
)


class GitHubState:
    """Seeding and reading helpers. Mixed into :class:`FakeGitHub`, which provides ``lock``."""

    lock: threading.RLock

    def _init_state(self) -> None:
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.comments_by_id: dict[int, Comment] = {}
        # (org, team slug) → {login: "active" | "pending"}
        self.team_members: dict[tuple[str, str], dict[str, str]] = {}
        self._next_id = 1_000_001
        self._clock = 0

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # seeding -----------------------------------------------------------------------------------

    def add_user(
        self, login: str, *, name: str | None = None, email: str | None = None, type: str = "User"
    ) -> User:
        """Get or create a user; every login the fake meets is created this way."""
        with self.lock:
            if login not in self.users:
                self.users[login] = User(login, self.new_id(), type, name, email)
            return self.users[login]

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        default_branch: str = "main",
        description: str | None = None,
        files: FileChanges | None = None,
    ) -> Repo:
        """A repository whose default branch holds one commit with ``files``.

        Its owner (the part before the slash) has admin rights. A private repository answers 404
        to anyone else, the fake's own login included, until ``add_collaborator`` grants it.
        """
        owner_login, name = full_name.split("/")
        with self.lock:
            if full_name in self.repos:
                raise ValueError(f"repository {full_name} exists")
            owner = self.add_user(owner_login)
            repo = Repo(self.new_id(), owner, name, private, default_branch, description)
            self.repos[full_name] = repo
            initial = files if files is not None else {"README.md": f"# {name}\n"}
            self.commit_files(repo, None, initial, "Initial commit", owner, branch=default_branch)
            return repo

    def add_collaborator(self, full_name: str, login: str, permission: str = "write") -> None:
        """``permission``: a role name, one of admin, maintain, write, triage, read."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {ROLES}")
        with self.lock:
            self.add_user(login)
            self.repo(full_name).roles[login] = permission

    def add_branch(
        self,
        full_name: str,
        branch: str,
        *,
        from_ref: str | None = None,
        files: FileChanges | None = None,
        message: str | None = None,
    ) -> str:
        """Create ``branch`` at ``from_ref`` (default branch by default), plus a commit of
        ``files`` when given. Returns the branch's head sha."""
        with self.lock:
            repo = self.repo(full_name)
            start = self._resolve_or_fail(repo, from_ref or repo.default_branch)
            repo.refs[f"refs/heads/{branch}"] = start
            if files:
                return self.add_commit(full_name, branch, files, message=message)
            return start

    def mirror_commit(self, full_name: str, sha: str, branch: str, message: str = "") -> str:
        """A commit with a given ``sha`` (made in a real local git repository and "pushed")
        on top of ``branch`` (created from the default branch when missing), so statuses and
        PRs can refer to the commits a test built from. Returns ``sha``."""
        with self.lock:
            repo = self.repo(full_name)
            parent = repo.resolve(f"refs/heads/{branch}") or repo.resolve(
                f"refs/heads/{repo.default_branch}"
            )
            tree = dict(repo.commits[parent].tree) if parent else {}
            self._clock += 1
            commit = Commit(
                sha, tree, (parent,) if parent else (), message or sha[:7], repo.owner, self.now()
            )
            repo.commits[sha] = commit
            repo.refs[f"refs/heads/{branch}"] = sha
            repo.pushed_at = commit.date
            return sha

    def add_commit(
        self,
        full_name: str,
        branch: str,
        files: FileChanges,
        *,
        message: str | None = None,
        author: str | None = None,
    ) -> str:
        """A commit on ``branch`` changing ``files`` (``None`` deletes). Returns its sha."""
        with self.lock:
            repo = self.repo(full_name)
            parent = self._resolve_or_fail(repo, f"refs/heads/{branch}")
            user = self.add_user(author) if author else repo.owner
            commit = self.commit_files(
                repo, parent, files, message or f"Update {', '.join(files)}", user, branch=branch
            )
            return commit.sha

    def add_issue(
        self,
        full_name: str,
        title: str,
        *,
        body: str | None = "",
        user: str | None = None,
        labels: Sequence[str] = (),
    ) -> int:
        with self.lock:
            repo = self.repo(full_name)
            author = self.add_user(user) if user else repo.owner
            issue = self._new_issue(repo, title, body, author)
            issue.labels = list(labels)
            return issue.number

    def add_pull(
        self,
        full_name: str,
        head: str,
        *,
        base: str | None = None,
        title: str | None = None,
        body: str | None = "",
        user: str | None = None,
        draft: bool = False,
        files: FileChanges | None = None,
        labels: Sequence[str] = (),
    ) -> int:
        """An open pull request from branch ``head`` (created, with one commit of ``files``,
        when missing) into ``base`` (the default branch). Returns its number."""
        with self.lock:
            repo = self.repo(full_name)
            base = base or repo.default_branch
            if f"refs/heads/{head}" not in repo.refs:
                self.add_branch(
                    full_name,
                    head,
                    from_ref=base,
                    files=files or {f"{head}.txt": f"work on {head}\n"},
                )
            elif files:
                self.add_commit(full_name, head, files)
            author = self.add_user(user) if user else repo.owner
            issue = self.open_pull(
                repo, head, base, title or f"Changes from {head}", body, author, draft
            )
            issue.labels = list(labels)
            return issue.number

    def add_comment(
        self, full_name: str, number: int, body: str, *, user: str | None = None
    ) -> int:
        """An issue comment on issue or PR ``number``. Returns the comment id."""
        with self.lock:
            repo = self.repo(full_name)
            if number not in repo.issues:
                raise KeyError(f"{full_name}#{number} does not exist")
            author = self.add_user(user) if user else repo.owner
            return self.new_comment(repo, number, body, author).id

    def add_review(
        self,
        full_name: str,
        number: int,
        user: str,
        state: str = "APPROVED",
        *,
        commit_id: str | None = None,
        body: str = "",
    ) -> int:
        """A submitted review of PR ``number`` (on its current head unless ``commit_id``)."""
        with self.lock:
            repo = self.repo(full_name)
            pull = self.pull(full_name, number).pull
            assert pull is not None
            review = Review(
                self.new_id(),
                self.add_user(user),
                state,
                commit_id or repo.pull_head_sha(pull, self.repos),
                body,
                self.now(),
            )
            pull.reviews.append(review)
            return review.id

    def dismiss_review(self, full_name: str, number: int, review_id: int) -> None:
        """A review dismissed (by a maintainer, or by branch protection after a push)."""
        with self.lock:
            pull = self.pull(full_name, number).pull
            assert pull is not None
            for review in pull.reviews:
                if review.id == review_id:
                    review.state = "DISMISSED"

    def add_team_member(self, org: str, slug: str, login: str, state: str = "active") -> None:
        """``login`` in team ``org/slug`` (``state`` pending: invited, not yet a member)."""
        with self.lock:
            self.add_user(login)
            self.team_members.setdefault((org.lower(), slug.lower()), {})[login] = state

    def set_mergeable(self, full_name: str, number: int, mergeable: bool | None) -> None:
        with self.lock:
            pull = self.pull(full_name, number).pull
            assert pull is not None
            pull.mergeable = mergeable

    # reading -----------------------------------------------------------------------------------

    def repo(self, full_name: str) -> Repo:
        with self.lock:
            try:
                return self.repos[full_name]
            except KeyError:
                raise KeyError(f"no repository {full_name} in the fake; add_repo() it") from None

    def comments(self, full_name: str, number: int) -> list[Comment]:
        with self.lock:
            return sorted(
                (
                    c
                    for c in self.comments_by_id.values()
                    if c.repo == full_name and c.issue_number == number
                ),
                key=lambda c: c.id,
            )

    def pull(self, full_name: str, number: int) -> Issue:
        with self.lock:
            issue = self.repo(full_name).issues[number]
            if issue.pull is None:
                raise KeyError(f"{full_name}#{number} is an issue, not a pull request")
            return issue

    def pulls(self, full_name: str) -> list[Issue]:
        with self.lock:
            return [i for i in self.repo(full_name).issues.values() if i.pull is not None]

    def statuses(self, full_name: str, ref: str) -> list[Status]:
        """Statuses of a commit, oldest first."""
        with self.lock:
            repo = self.repo(full_name)
            return list(repo.statuses.get(repo.resolve(ref) or ref, []))

    def ref_sha(self, full_name: str, ref: str) -> str | None:
        with self.lock:
            return self.repo(full_name).resolve(ref)

    def file(self, full_name: str, path: str, ref: str | None = None) -> bytes | None:
        with self.lock:
            repo = self.repo(full_name)
            sha = repo.resolve(ref or repo.default_branch)
            return repo.commits[sha].tree.get(path) if sha else None

    # shared with the request handlers ------------------------------------------------------------

    def now(self) -> str:
        return utcnow()

    def new_comment(self, repo: Repo, number: int, body: str, user: User) -> Comment:
        stamp = self.now()
        comment = Comment(self.new_id(), repo.full_name, number, body, user, stamp, stamp)
        self.comments_by_id[comment.id] = comment
        repo.issues[number].updated_at = stamp
        return comment

    def open_pull(
        self,
        repo: Repo,
        head: str,
        base: str,
        title: str,
        body: str | None,
        user: User,
        draft: bool,
        head_repo: Repo | None = None,
    ) -> Issue:
        source = head_repo or repo
        pull = Pull(
            self.new_id(),
            source.full_name,
            head,
            source.refs[f"refs/heads/{head}"],
            base,
            draft=draft,
        )
        issue = self._new_issue(repo, title, body, user)
        issue.pull = pull
        return issue

    def _new_issue(self, repo: Repo, title: str, body: str | None, user: User) -> Issue:
        issue = Issue(repo.next_number, self.new_id(), title, body, user)
        repo.issues[issue.number] = issue
        repo.next_number += 1
        return issue

    def commit_files(
        self,
        repo: Repo,
        parent: str | None,
        files: FileChanges,
        message: str,
        author: User,
        *,
        branch: str | None,
    ) -> Commit:
        tree = dict(repo.commits[parent].tree) if parent else {}
        for path, content in files.items():
            if content is None:
                tree.pop(path, None)
            else:
                tree[path] = content.encode() if isinstance(content, str) else content
        self._clock += 1
        stamp = self.now()
        seed = f"{parent}\n{sorted(tree.items())}\n{message}\n{author.login}\n{self._clock}"
        sha = git_sha("commit", seed.encode())
        commit = Commit(sha, tree, (parent,) if parent else (), message, author, stamp)
        repo.commits[sha] = commit
        if branch is not None:
            repo.refs[f"refs/heads/{branch}"] = sha
        repo.pushed_at = stamp
        return commit

    @staticmethod
    def _resolve_or_fail(repo: Repo, ref: str) -> str:
        sha = repo.resolve(ref)
        if sha is None:
            raise KeyError(f"{repo.full_name} has no ref {ref!r}")
        return sha
