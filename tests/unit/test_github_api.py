"""GitHub's REST API as the build starter reads it: the repository a clone URL names, the API
root of each kind of GitHub, and GitHub's answers (trees, blobs, refs, its errors) turned into
the core's types, with no network (a stand-in opener answers)."""

import base64
import email.message
import io
import json
import urllib.error

import pytest

from pipeline.adapters import github_api
from pipeline.adapters.github_api import GitHubApiError, Repository, repository_of
from pipeline.domain.inputs import InputsUnknownError, TreeEntry, folder_listing

REPO = Repository("github.com", "example-org", "multi-agent-orchestrator")
SHA = "1279bbb2c1ca1e45aabe8b9a37c06e64359d28f5"


class Reply(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def answering(status: int, body: object, headers: dict[str, str] | None = None, seen: list | None = None):
    """An opener that answers every request with `status` and `body` (GitHub's JSON)."""
    def opener(request, timeout):
        if seen is not None:
            seen.append(request)
        data = json.dumps(body).encode()
        if status == 200:
            return Reply(data)
        message = email.message.Message()
        for key, value in (headers or {}).items():
            message[key] = value
        raise urllib.error.HTTPError(request.full_url, status, "error", message, io.BytesIO(data))
    return opener


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/example-org/multi-agent-orchestrator.git", REPO),
    ("https://github.com/example-org/multi-agent-orchestrator", REPO),
    ("https://github.com/example-org/multi-agent-orchestrator/", REPO),
    ("git@github.com:example-org/multi-agent-orchestrator.git", REPO),
    ("https://GitHub.com/example-org/multi-agent-orchestrator.git", REPO),
    ("https://ghe.example.com/platform/shipline.git", Repository("ghe.example.com", "platform", "shipline")),
])
def test_a_clone_url_names_its_repository(url, expected):
    assert repository_of(url) == expected


@pytest.mark.parametrize("url", ["", "github.com/example-org", "https://github.com/example-org", "not a url"])
def test_a_url_that_names_no_repository_is_inputs_unknown(url):
    with pytest.raises(InputsUnknownError, match="is not a repository's clone URL"):
        repository_of(url)


@pytest.mark.parametrize(("host", "root"), [
    ("github.com", "https://api.github.com"),
    ("octocorp.ghe.com", "https://api.octocorp.ghe.com"),  # GitHub Enterprise Cloud with data residency
    ("ghe.example.com", "https://ghe.example.com/api/v3"),  # GitHub Enterprise Server
])
def test_the_api_root_follows_the_host(host, root):
    assert Repository(host, "o", "r").api == f"{root}/repos/o/r"


def test_a_recursive_tree_is_read_as_entries_and_submodules_are_kept_apart():
    seen: list = []
    body = {"sha": "t" * 40, "truncated": False, "tree": [
        {"path": "docker", "mode": "040000", "type": "tree", "sha": "a" * 40},
        {"path": "docker/langgraph/Dockerfile", "mode": "100644", "type": "blob", "sha": "b" * 40, "size": 10},
        {"path": "vendor/lib", "mode": "160000", "type": "commit", "sha": "c" * 40},
    ]}
    tree = github_api.tree(REPO, SHA, recursive=True, token="t0ken", opener=answering(200, body, seen=seen))
    assert not tree.truncated and tree.sha == "t" * 40
    assert TreeEntry("docker/langgraph/Dockerfile", "blob", "b" * 40) in tree.entries
    (request,) = seen
    assert request.full_url == f"https://api.github.com/repos/example-org/multi-agent-orchestrator/git/trees/{SHA}" \
                               "?recursive=1"
    assert request.get_header("Authorization") == "Bearer t0ken"
    assert request.get_header("X-github-api-version") == github_api.API_VERSION
    assert request.get_header("User-agent") and request.get_header("Accept") == "application/vnd.github+json"
    assert folder_listing(tree.entries, "") == {"docker": "a" * 40}  # no submodule, as GetFolder lists
    assert folder_listing(tree.entries, "docker/langgraph") == {"Dockerfile": "b" * 40}
    assert folder_listing(tree.entries, "missing") == {}


def test_no_token_sends_no_authorization():
    seen: list = []
    github_api.tree(REPO, SHA, recursive=False, opener=answering(200, {"sha": "t", "tree": []}, seen=seen))
    assert seen[0].get_header("Authorization") is None


def test_a_truncated_tree_says_so():
    body = {"sha": "t" * 40, "truncated": True, "tree": []}
    assert github_api.tree(REPO, SHA, recursive=True, opener=answering(200, body)).truncated


def test_a_blob_is_decoded_from_base64():
    content = b"FROM python:3.13-slim\n"
    body = {"sha": "b" * 40, "encoding": "base64", "content": base64.encodebytes(content).decode(), "size": 22}
    assert github_api.blob(REPO, "b" * 40, opener=answering(200, body)) == content


def test_a_branch_head_is_the_commit_its_ref_names():
    body = {"ref": "refs/heads/main", "object": {"type": "commit", "sha": SHA}}
    assert github_api.branch_head(REPO, "main", opener=answering(200, body)) == SHA


def test_a_ref_that_names_no_commit_is_refused():
    body = {"ref": "refs/heads/main", "object": {"type": "tag", "sha": SHA}}
    with pytest.raises(GitHubApiError, match="not a branch's head"):
        github_api.branch_head(REPO, "main", opener=answering(200, body))


def test_a_spent_rate_limit_names_the_limit_and_its_reset():
    headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1795000000"}
    said = r"GitHub answered 403 \(API rate limit exceeded.*\): the rate limit of 60 requests an hour is spent until "
    with pytest.raises(GitHubApiError, match=said + r"\d\d:\d\d:\d\dZ \(without a token"):
        github_api.tree(REPO, SHA, recursive=True, opener=answering(
            403, {"message": "API rate limit exceeded for 1.2.3.4."}, headers))


def test_a_secondary_rate_limit_names_its_wait():
    with pytest.raises(GitHubApiError, match="a secondary rate limit, retry after 60 s"):
        github_api.tree(REPO, SHA, recursive=True, opener=answering(
            429, {"message": "You have exceeded a secondary rate limit."}, {"retry-after": "60"}))


def test_not_found_without_a_token_says_a_private_repository_needs_one():
    with pytest.raises(GitHubApiError, match=r"404 \(Not Found\): a private repository needs a token"):
        github_api.tree(REPO, SHA, recursive=True, opener=answering(404, {"message": "Not Found"}))


def test_bad_credentials_is_inputs_unknown():
    with pytest.raises(InputsUnknownError, match=r"401 \(Bad credentials\)"):
        github_api.tree(REPO, SHA, recursive=True, token="old", opener=answering(401, {"message": "Bad credentials"}))


def test_an_answer_that_is_not_a_tree_is_refused():
    with pytest.raises(GitHubApiError, match="not a tree"):
        github_api.tree(REPO, SHA, recursive=True, opener=answering(200, {"message": "hello"}))


def test_a_network_failure_is_inputs_unknown():
    def unreachable(request, timeout):
        raise urllib.error.URLError("connection refused")

    with pytest.raises(GitHubApiError, match="connection refused"):
        github_api.tree(REPO, SHA, recursive=True, opener=unreachable)
