"""GitHub REST response bodies for commits, statuses, refs, branches and contents."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.github_model import Commit, Repo, Status, diff_trees, git_sha
from tests.fakes.github_shapes import WEB, Shapes, node_id


class GitShapes(Shapes):
    # statuses ----------------------------------------------------------------------------------

    def status(self, repo: Repo, status: Status) -> dict[str, Any]:
        return {
            "url": f"{self.api}/repos/{repo.full_name}/statuses/{status.sha}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{status.creator.id}?v=4",
            "id": status.id,
            "node_id": node_id("StatusContext", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": status.created_at,
            "updated_at": status.created_at,
            "creator": self.user(status.creator),
        }

    def combined_status(self, repo: Repo, sha: str) -> dict[str, Any]:
        latest: dict[str, Status] = {}
        for status in repo.statuses.get(sha, []):
            latest[status.context] = status
        states = {s.state for s in latest.values()}
        if states & {"error", "failure"}:
            state = "failure"
        elif "pending" in states or not states:
            state = "pending"
        else:
            state = "success"
        statuses = []
        for status in sorted(latest.values(), key=lambda s: s.id):
            shape = self.status(repo, status)
            del shape["creator"]
            statuses.append(shape)
        url = f"{self.api}/repos/{repo.full_name}"
        return {
            "state": state,
            "statuses": statuses,
            "sha": sha,
            "total_count": len(statuses),
            "repository": self.minimal_repository(repo),
            "commit_url": f"{url}/commits/{sha}",
            "url": f"{url}/commits/{sha}/status",
        }

    # git ---------------------------------------------------------------------------------------

    def git_ref(self, repo: Repo, ref: str) -> dict[str, Any]:
        sha = repo.refs[ref]
        ref_id = int(git_sha("ref", f"{repo.id}:{ref}".encode())[:8], 16)
        return {
            "ref": ref,
            "node_id": node_id("Ref", ref_id),
            "url": f"{self.api}/repos/{repo.full_name}/git/{ref}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.api}/repos/{repo.full_name}/git/commits/{sha}",
            },
        }

    def _git_person(self, commit: Commit) -> dict[str, Any]:
        email = (
            commit.author.email
            or f"{commit.author.id}+{commit.author.login}@users.noreply.github.com"
        )
        return {
            "name": commit.author.name or commit.author.login,
            "email": email,
            "date": commit.date,
        }

    def commit(self, repo: Repo, commit: Commit) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}"
        parent_tree = repo.commits[commit.parents[0]].tree if commit.parents else {}
        files = diff_trees(parent_tree, commit.tree)
        for entry in files:
            path = entry["filename"]
            entry.update(
                {
                    "blob_url": f"{WEB}/{repo.full_name}/blob/{commit.sha}/{path}",
                    "raw_url": f"{WEB}/{repo.full_name}/raw/{commit.sha}/{path}",
                    "contents_url": f"{url}/contents/{path}?ref={commit.sha}",
                }
            )
        return {
            "url": f"{url}/commits/{commit.sha}",
            "sha": commit.sha,
            "node_id": node_id("Commit", int(commit.sha[:8], 16)),
            "html_url": f"{WEB}/{repo.full_name}/commit/{commit.sha}",
            "comments_url": f"{url}/commits/{commit.sha}/comments",
            "commit": {
                "url": f"{url}/git/commits/{commit.sha}",
                "author": self._git_person(commit),
                "committer": self._git_person(commit),
                "message": commit.message,
                "comment_count": 0,
                "tree": {"sha": commit.tree_sha, "url": f"{url}/git/trees/{commit.tree_sha}"},
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "author": self.user(commit.author),
            "committer": self.user(commit.author),
            "parents": [
                {
                    "sha": p,
                    "url": f"{url}/commits/{p}",
                    "html_url": f"{WEB}/{repo.full_name}/commit/{p}",
                }
                for p in commit.parents
            ],
            "stats": {
                "additions": sum(f["additions"] for f in files),
                "deletions": sum(f["deletions"] for f in files),
                "total": sum(f["changes"] for f in files),
            },
            "files": files,
        }

    def short_branch(self, repo: Repo, name: str) -> dict[str, Any]:
        sha = repo.refs[f"refs/heads/{name}"]
        return {
            "name": name,
            "protected": False,
            "commit": {"sha": sha, "url": f"{self.api}/repos/{repo.full_name}/commits/{sha}"},
        }

    def branch(self, repo: Repo, name: str) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}/branches/{name}"
        sha = repo.refs[f"refs/heads/{name}"]
        return {
            "name": name,
            "commit": self.commit(repo, repo.commits[sha]),
            "_links": {"self": url, "html": f"{WEB}/{repo.full_name}/tree/{name}"},
            "protected": False,
            "protection": {
                "enabled": False,
                "required_status_checks": {
                    "enforcement_level": "off",
                    "contexts": [],
                    "checks": [],
                },
            },
            "protection_url": f"{url}/protection",
        }

    # contents ----------------------------------------------------------------------------------

    def _content_links(self, repo: Repo, path: str, ref: str, kind: str) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}"
        sha = git_sha("blob", repo.commits[repo.resolve(ref) or ref].tree.get(path, b""))
        self_url = f"{url}/contents/{path}?ref={ref}"
        html = f"{WEB}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
        git = f"{url}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
        return {
            "url": self_url,
            "git_url": git,
            "html_url": html,
            "_links": {"self": self_url, "git": git, "html": html},
        }

    def content_file(self, repo: Repo, path: str, ref: str, data: bytes) -> dict[str, Any]:
        encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 in lines, too
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": encoded,
            "sha": git_sha("blob", data),
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}",
            **self._content_links(repo, path, ref, "file"),
        }

    def content_dir(
        self, repo: Repo, folder: str, ref: str, tree: dict[str, bytes]
    ) -> list[dict[str, Any]]:
        prefix = f"{folder}/" if folder else ""
        entries: dict[str, dict[str, Any]] = {}
        for path, data in sorted(tree.items()):
            if not path.startswith(prefix):
                continue
            name, _, rest = path[len(prefix) :].partition("/")
            if name in entries:
                continue
            child = prefix + name
            if rest:
                entries[name] = {
                    "type": "dir",
                    "size": 0,
                    "name": name,
                    "path": child,
                    "sha": git_sha("tree", child.encode()),
                    "download_url": None,
                    **self._content_links(repo, child, ref, "dir"),
                }
            else:
                entries[name] = {**self.content_file(repo, child, ref, data)}
                del entries[name]["content"], entries[name]["encoding"]
        return list(entries.values())

    def file_commit(self, repo: Repo, commit: Commit, path: str, branch: str) -> dict[str, Any]:
        data = commit.tree.get(path)
        content = None
        if data is not None:
            content = self.content_file(repo, path, branch, data)
            del content["content"], content["encoding"]
        full = self.commit(repo, commit)
        return {
            "content": content,
            "commit": {
                "sha": commit.sha,
                "node_id": full["node_id"],
                "url": f"{self.api}/repos/{repo.full_name}/git/commits/{commit.sha}",
                "html_url": full["html_url"],
                "author": full["commit"]["author"],
                "committer": full["commit"]["committer"],
                "message": commit.message,
                "tree": full["commit"]["tree"],
                "parents": [
                    {"url": p["url"], "html_url": p["html_url"], "sha": p["sha"]}
                    for p in full["parents"]
                ],
                "verification": full["commit"]["verification"],
            },
        }
