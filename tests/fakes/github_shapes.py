"""GitHub REST response bodies built from the fake's state.

The field lists follow GitHub's answers (the webhook payloads in tests/data/github-webhooks
carry the same user, repository and pull request objects) and are checked by
tests/integration/test_fakes.py against the models githubkit generates from GitHub's OpenAPI
description: a required field missing, a wrong type or a field GitHub does not document fails
that suite.

API URLs point at the fake (``api``), so PyGithub's lazy objects call it back; web URLs point
at github.com, as a real answer's would.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.github_model import (
    LEGACY_PERMISSION,
    Comment,
    Issue,
    Reaction,
    Repo,
    Review,
    User,
    diff_trees,
)
from tests.fakes.github_state import GitHubState

WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global id: base64 of "0<len(kind)>:<kind><id>"."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def error(status: int, message: str, **extra: Any) -> dict[str, Any]:
    # GitHub's 422 bodies are described without `status` (the validation-error schema)
    shape = {"message": message, "documentation_url": DOCS, **extra}
    return shape if status == 422 else {**shape, "status": str(status)}


def validation_failed(
    *errors: dict[str, Any], message: str = "Validation Failed"
) -> dict[str, Any]:
    return error(422, message, errors=list(errors))


class Shapes:
    def __init__(self, api: str, state: GitHubState) -> None:
        self.api = api
        self.state = state

    # users -------------------------------------------------------------------------------------

    def user(self, user: User) -> dict[str, Any]:
        url = f"{self.api}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{WEB}/{user.login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def public_user(self, user: User) -> dict[str, Any]:
        owned = [r for r in self.state.repos.values() if r.owner.login == user.login]
        return {
            **self.user(user),
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": sum(not r.private for r in owned),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": user.created_at,
            "updated_at": user.created_at,
        }

    def private_user(self, user: User) -> dict[str, Any]:
        owned = [r for r in self.state.repos.values() if r.owner.login == user.login]
        private = sum(r.private for r in owned)
        return {
            **self.public_user(user),
            "notification_email": user.email,
            "private_gists": 0,
            "total_private_repos": private,
            "owned_private_repos": private,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
            "plan": {
                "name": "free",
                "space": 976562499,
                "collaborators": 0,
                "private_repos": 10000,
            },
        }

    def collaborator(self, repo: Repo, user: User) -> dict[str, Any]:
        role = repo.permission_of(user.login)
        rank = ("none", "read", "triage", "write", "maintain", "admin").index(role)
        return {
            **self.user(user),
            "role_name": role,
            "permissions": {
                "admin": rank >= 5,
                "maintain": rank >= 4,
                "push": rank >= 3,
                "triage": rank >= 2,
                "pull": rank >= 1,
            },
        }

    def permission(self, repo: Repo, user: User) -> dict[str, Any]:
        role = repo.permission_of(user.login)
        return {
            "permission": LEGACY_PERMISSION[role],
            "role_name": role,
            "user": self.collaborator(repo, user),
        }

    # repositories ------------------------------------------------------------------------------

    def repository(self, repo: Repo) -> dict[str, Any]:
        """The ``repository`` shape (inside a pull request's head and base)."""
        url = f"{self.api}/repos/{repo.full_name}"
        web = f"{WEB}/{repo.full_name}"
        open_issues = sum(i.state == "open" for i in repo.issues.values())
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": web,
            "description": repo.description,
            "fork": False,
            "url": url,
            "forks_url": f"{url}/forks",
            "keys_url": f"{url}/keys{{/key_id}}",
            "collaborators_url": f"{url}/collaborators{{/collaborator}}",
            "teams_url": f"{url}/teams",
            "hooks_url": f"{url}/hooks",
            "issue_events_url": f"{url}/issues/events{{/number}}",
            "events_url": f"{url}/events",
            "assignees_url": f"{url}/assignees{{/user}}",
            "branches_url": f"{url}/branches{{/branch}}",
            "tags_url": f"{url}/tags",
            "blobs_url": f"{url}/git/blobs{{/sha}}",
            "git_tags_url": f"{url}/git/tags{{/sha}}",
            "git_refs_url": f"{url}/git/refs{{/sha}}",
            "trees_url": f"{url}/git/trees{{/sha}}",
            "statuses_url": f"{url}/statuses/{{sha}}",
            "languages_url": f"{url}/languages",
            "stargazers_url": f"{url}/stargazers",
            "contributors_url": f"{url}/contributors",
            "subscribers_url": f"{url}/subscribers",
            "subscription_url": f"{url}/subscription",
            "commits_url": f"{url}/commits{{/sha}}",
            "git_commits_url": f"{url}/git/commits{{/sha}}",
            "comments_url": f"{url}/comments{{/number}}",
            "issue_comment_url": f"{url}/issues/comments{{/number}}",
            "contents_url": f"{url}/contents/{{+path}}",
            "compare_url": f"{url}/compare/{{base}}...{{head}}",
            "merges_url": f"{url}/merges",
            "archive_url": f"{url}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{url}/downloads",
            "issues_url": f"{url}/issues{{/number}}",
            "pulls_url": f"{url}/pulls{{/number}}",
            "milestones_url": f"{url}/milestones{{/number}}",
            "notifications_url": f"{url}/notifications{{?since,all,participating}}",
            "labels_url": f"{url}/labels{{/name}}",
            "releases_url": f"{url}/releases{{/id}}",
            "deployments_url": f"{url}/deployments",
            "created_at": repo.created_at,
            "updated_at": repo.pushed_at,
            "pushed_at": repo.pushed_at,
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "clone_url": f"{web}.git",
            "svn_url": web,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_issues,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if repo.private else "public",
            "forks": 0,
            "open_issues": open_issues,
            "watchers": 0,
            "default_branch": repo.default_branch,
        }

    def full_repository(self, repo: Repo, viewer: User | None) -> dict[str, Any]:
        shape = self.repository(repo)
        shape.update(
            {
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "merge_commit_title": "MERGE_MESSAGE",
                "merge_commit_message": "PR_TITLE",
                "temp_clone_token": "",
                "network_count": 0,
                "subscribers_count": 0,
                "custom_properties": {},
            }
        )
        if viewer is not None:
            shape["permissions"] = {
                k: v for k, v in self.collaborator(repo, viewer)["permissions"].items()
            }
        return shape

    def minimal_repository(self, repo: Repo) -> dict[str, Any]:
        return self.repository(repo)

    # issues, pulls, comments -------------------------------------------------------------------

    def _reaction_rollup(self, url: str, reactions: list[Reaction]) -> dict[str, Any]:
        counts = {content: sum(r.content == content for r in reactions) for content in REACTIONS}
        return {"url": f"{url}/reactions", "total_count": len(reactions), **counts}

    def comment(self, comment: Comment) -> dict[str, Any]:
        repo = self.state.repos[comment.repo]
        issue = repo.issues[comment.issue_number]
        url = f"{self.api}/repos/{repo.full_name}/issues/comments/{comment.id}"
        kind = "pull" if issue.pull else "issues"
        return {
            "url": url,
            "html_url": f"{WEB}/{repo.full_name}/{kind}/{issue.number}#issuecomment-{comment.id}",
            "issue_url": f"{self.api}/repos/{repo.full_name}/issues/{issue.number}",
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "user": self.user(comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": repo.association_of(comment.user.login),
            "body": comment.body,
            "reactions": self._reaction_rollup(url, comment.reactions),
            "performed_via_github_app": None,
        }

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": node_id("Reaction", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": reaction.created_at,
        }

    def _labels(self, repo: Repo, names: list[str]) -> list[dict[str, Any]]:
        return [
            {
                "id": 1000 + i,
                "node_id": node_id("Label", 1000 + i),
                "url": f"{self.api}/repos/{repo.full_name}/labels/{name}",
                "name": name,
                "description": None,
                "color": "ededed",
                "default": False,
                "archived_by": None,
            }
            for i, name in enumerate(names)
        ]

    def issue(self, repo: Repo, issue: Issue) -> dict[str, Any]:
        url = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        kind = "pull" if issue.pull else "issues"
        web = f"{WEB}/{repo.full_name}/{kind}/{issue.number}"
        shape: dict[str, Any] = {
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "url": url,
            "repository_url": f"{self.api}/repos/{repo.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": web,
            "number": issue.number,
            "state": issue.state,
            "state_reason": None,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.user),
            "labels": self._labels(repo, issue.labels),
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(self.state.comments(repo.full_name, issue.number)),
            "closed_at": issue.closed_at,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_by": None,
            "author_association": repo.association_of(issue.user.login),
            "reactions": self._reaction_rollup(url, []),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
        }
        if issue.pull is not None:
            shape["draft"] = issue.pull.draft
            shape["pull_request"] = {
                "url": f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}",
                "html_url": web,
                "diff_url": f"{web}.diff",
                "patch_url": f"{web}.patch",
                "merged_at": issue.pull.merged_at,
            }
        return shape

    def _branch_end(self, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repository(repo),
        }

    def pull(self, repo: Repo, issue: Issue, *, full: bool) -> dict[str, Any]:
        pull = issue.pull
        assert pull is not None
        url = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        issue_url = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        web = f"{WEB}/{repo.full_name}/pull/{issue.number}"
        head_repo = self.state.repos[pull.head_repo]
        head_sha = repo.pull_head_sha(pull, self.state.repos)
        base_sha = repo.refs.get(f"refs/heads/{pull.base_ref}", head_sha)
        statuses_url = f"{self.api}/repos/{repo.full_name}/statuses/{head_sha}"
        shape: dict[str, Any] = {
            "url": url,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": web,
            "diff_url": f"{web}.diff",
            "patch_url": f"{web}.patch",
            "issue_url": issue_url,
            "number": issue.number,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": self.user(issue.user),
            "body": issue.body,
            "labels": self._labels(repo, issue.labels),
            "milestone": None,
            "active_lock_reason": None,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "merged_at": pull.merged_at,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.api}/repos/{repo.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": statuses_url,
            "head": self._branch_end(head_repo, pull.head_ref, head_sha),
            "base": self._branch_end(repo, pull.base_ref, base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": web},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {
                    "href": f"{self.api}/repos/{repo.full_name}/pulls/comments{{/number}}"
                },
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": statuses_url},
            },
            "author_association": repo.association_of(issue.user.login),
            "auto_merge": None,
            "draft": pull.draft,
        }
        if full:
            base_tree = repo.commits[base_sha].tree if base_sha in repo.commits else {}
            head_tree = head_repo.commits[head_sha].tree
            files = diff_trees(base_tree, head_tree)
            new_commits = head_repo.ancestors(head_sha) - repo.ancestors(base_sha)
            shape.update(
                {
                    "merged": pull.merged_at is not None,
                    "mergeable": None if issue.state == "closed" else pull.mergeable,
                    "rebaseable": None if issue.state == "closed" else pull.mergeable,
                    "mergeable_state": "unknown"
                    if issue.state == "closed" or pull.mergeable is None
                    else ("clean" if pull.mergeable else "dirty"),
                    "merged_by": None,
                    "comments": len(self.state.comments(repo.full_name, issue.number)),
                    "review_comments": 0,
                    "maintainer_can_modify": pull.maintainer_can_modify,
                    "commits": len(new_commits),
                    "additions": sum(f["additions"] for f in files),
                    "deletions": sum(f["deletions"] for f in files),
                    "changed_files": len(files),
                }
            )
        return shape

    def review(self, repo: Repo, issue: Issue, review: Review) -> dict[str, Any]:
        web = f"{WEB}/{repo.full_name}/pull/{issue.number}"
        pull_url = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        return {
            "id": review.id,
            "node_id": node_id("PullRequestReview", review.id),
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": f"{web}#pullrequestreview-{review.id}",
            "pull_request_url": pull_url,
            "_links": {
                "html": {"href": f"{web}#pullrequestreview-{review.id}"},
                "pull_request": {"href": pull_url},
            },
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "author_association": repo.association_of(review.user.login),
        }

    def team_membership(self, org: str, slug: str, login: str, state: str) -> dict[str, Any]:
        return {
            "url": f"{self.api}/organizations/{org}/team/{slug}/memberships/{login}",
            "role": "member",
            "state": state,
        }
