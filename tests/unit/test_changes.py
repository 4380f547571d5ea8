import pytest

from pipeline.domain.changes import Change, changed_paths, normalised_path, services_for_paths
from pipeline.domain.manifest import load_manifest
from tests.support.paths import MANIFEST

ALL = ("aws-agent-core", "langgraph", "snowflake-cortex", "langfuse")


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(MANIFEST)


def test_langgraph_dockerfile_rebuilds_langgraph_only(manifest):
    assert services_for_paths(manifest, ["docker/langgraph/Dockerfile"]) == ("langgraph",)


def test_workload_code_rebuilds_its_service(manifest):
    assert services_for_paths(manifest, ["workload/snowflake_cortex/app.py"]) == ("snowflake-cortex",)


def test_manifest_change_rebuilds_everything(manifest):
    assert services_for_paths(manifest, ["services.toml"]) == ALL


def test_shared_code_rebuilds_everything(manifest):
    assert services_for_paths(manifest, ["workload/common/logging.py"]) == ALL


def test_unclaimed_paths_rebuild_nothing(manifest):
    assert services_for_paths(manifest, ["README.md", "tests/unit/test_x.py"]) == ()


def test_several_services_come_back_in_manifest_order(manifest):
    changed = ["docker/langfuse/Dockerfile", "docker/aws-agent-core/Dockerfile"]
    assert services_for_paths(manifest, changed) == ("aws-agent-core", "langfuse")


def test_a_directory_pattern_does_not_match_a_sibling_with_the_same_prefix(manifest):
    assert services_for_paths(manifest, ["docker/langgraph-old/Dockerfile"]) == ()


def test_the_index_matches_as_the_rule_says_for_many_services():
    from pipeline.domain.manifest import parse_manifest

    services = {f"s{n:03d}": {"dockerfile": f"docker/s{n:03d}/Dockerfile", "paths": [f"docker/s{n:03d}/",
                                                                                    f"app/s{n:03d}.py"],
                              "port": 8000, "health_check": {"command": "true"}} for n in range(200)}
    manifest = parse_manifest({"project": {"shared_paths": ["lib/"]}, "services": services})
    assert services_for_paths(manifest, ["docker/s007/x/y", "app/s150.py", "app/s150.pyc", "docs/x"]) == (
        "s007", "s150")
    assert len(services_for_paths(manifest, ["lib/deep/file.py"])) == 200
    assert services_for_paths(manifest, ["./docker/s001/Dockerfile", "/app/s002.py"]) == ("s001", "s002")


def test_changed_paths_count_both_sides_of_a_rename_once_each():
    changes = [Change("workload/langgraph/graph.py", "docs/graph.py"), Change(None, "./docs/graph.py"),
               Change("services.toml", None)]
    assert changed_paths(changes) == ["workload/langgraph/graph.py", "docs/graph.py", "services.toml"]


@pytest.mark.parametrize(("given", "normalised"), [
    ("./docker/langgraph/Dockerfile", "docker/langgraph/Dockerfile"),
    ("././docker//langgraph/./Dockerfile", "docker/langgraph/Dockerfile"),
    ("/docker/langgraph/", "docker/langgraph/"),
    ("docker/x/../langgraph/Dockerfile", "docker/langgraph/Dockerfile"),
    ("./", ""),
])
def test_a_changed_path_is_normalised_as_the_manifest_names_paths(given, normalised):
    assert normalised_path(given) == normalised


def test_the_root_itself_rebuilds_nothing(manifest):
    assert services_for_paths(manifest, [".", "/"]) == ()
