from pathlib import Path

import pytest

from pipeline.domain.manifest import ManifestError, UnknownServiceError, load_manifest, parse_manifest
from tests.support.paths import MANIFEST, ROOT


def _base() -> dict:
    return {
        "project": {"name": "demo"},
        "services": {
            "api": {
                "dockerfile": "docker/api/Dockerfile",
                "paths": ["docker/api/"],
                "port": 8000,
                "health_check": {"command": "true"},
            }
        },
    }


def test_repository_manifest_lists_the_four_services_with_the_guide_ports():
    manifest = load_manifest(MANIFEST)
    ports = {name: spec.port for name, spec in manifest.services.items()}
    assert ports == {"aws-agent-core": 8000, "langgraph": 8001, "snowflake-cortex": 8002, "langfuse": 3000}
    assert manifest.services["langfuse"].optional is True
    assert manifest.project.name == "multi-agent-orchestrator" and manifest.project.branch == "main"


def test_every_service_dockerfile_follows_the_guide_layout():
    manifest = load_manifest(MANIFEST)
    for name, spec in manifest.services.items():
        assert spec.dockerfile == f"docker/{name}/Dockerfile"


def test_lambda_package_manifest_is_the_repository_manifest():
    packaged = ROOT / "functions" / "services.toml"
    assert packaged.is_symlink() and packaged.resolve() == MANIFEST.resolve()


def test_cpu_and_memory_default_to_512_and_1024():
    spec = parse_manifest(_base()).services["api"]
    assert (spec.cpu, spec.memory) == (512, 1024)


def test_sizing_is_overridable_per_environment():
    data = _base()
    data["services"]["api"]["environments"] = {"prod": {"cpu": 1024, "memory": 2048}}
    spec = parse_manifest(data).services["api"]
    assert spec.sizing("prod") == (1024, 2048)
    assert spec.sizing("dev") == (512, 1024)


def test_missing_field_names_file_and_field():
    data = _base()
    del data["services"]["api"]["port"]
    with pytest.raises(ManifestError, match=r"^services\.toml: services\.api\.port: Field required$"):
        parse_manifest(data)


def test_unknown_field_is_rejected_by_name():
    data = _base()
    data["services"]["api"]["prot"] = 8000
    with pytest.raises(ManifestError, match=r"services\.api\.prot: Extra inputs are not permitted"):
        parse_manifest(data)


def test_impossible_fargate_size_is_rejected():
    data = _base()
    data["services"]["api"]["environments"] = {"prod": {"cpu": 512, "memory": 512}}
    with pytest.raises(ManifestError, match=r"services\.api\.environments\.prod: cpu 512 with memory 512"):
        parse_manifest(data)


def test_port_out_of_range_is_rejected():
    data = _base()
    data["services"]["api"]["port"] = 70000
    with pytest.raises(ManifestError, match=r"services\.api\.port"):
        parse_manifest(data)


def test_dockerfile_outside_the_repository_is_rejected():
    data = _base()
    data["services"]["api"]["dockerfile"] = "../elsewhere/Dockerfile"
    with pytest.raises(ManifestError, match=r"services\.api\.dockerfile: must be a path inside the repository"):
        parse_manifest(data)


def test_invalid_toml_names_the_file(tmp_path: Path):
    path = tmp_path / "services.toml"
    path.write_text("[services\n")
    with pytest.raises(ManifestError, match=rf"^{path}: not valid TOML"):
        load_manifest(path)


def test_missing_file_names_the_file(tmp_path: Path):
    with pytest.raises(ManifestError, match="file not found"):
        load_manifest(tmp_path / "nope.toml")


def test_unknown_service_lookup_says_which_exist():
    with pytest.raises(UnknownServiceError, match=r"'billing' is not in the manifest \(known: api\)"):
        parse_manifest(_base()).service("billing")


@pytest.mark.parametrize("name", ["multi.agent", "Upper", "double--dash", "trailing-", "a" * 65])
def test_project_names_that_an_aws_name_would_refuse_are_refused(name):
    data = _base()
    data["project"]["name"] = name
    with pytest.raises(ManifestError, match=r"project\.name"):
        parse_manifest(data)


def test_a_service_name_with_a_dot_is_refused_as_ecs_refuses_it():
    data = _base()
    data["services"]["api.v2"] = data["services"].pop("api")
    with pytest.raises(ManifestError, match=r"services\.api\.v2\.name: String should match pattern"):
        parse_manifest(data)


@pytest.mark.parametrize(("path", "problem"), [
    ("", "must name a file or folder"), ("./", "must name a file or folder"), ("/docker/api/", "no leading /"),
    ("docker/../secrets/", "'..' parts"), ("docker//api/", "empty"),
])
def test_paths_that_can_never_match_are_refused(path, problem):
    data = _base()
    data["services"]["api"]["paths"] = [path]
    with pytest.raises(ManifestError, match=problem):
        parse_manifest(data)


def test_a_path_under_dot_slash_is_normalised():
    data = _base()
    data["services"]["api"]["paths"] = ["./docker/api/"]
    data["project"]["shared_paths"] = ["./services.toml"]
    manifest = parse_manifest(data)
    assert manifest.services["api"].paths == ("docker/api/",) and manifest.project.shared_paths == ("services.toml",)


@pytest.mark.parametrize(("field", "value", "where"), [
    ("port", True, "services.api.port: Input should be a valid integer"),  # was port 1
    ("port", "8000", "services.api.port: Input should be a valid integer"),
    ("port", 8000.0, "services.api.port: Input should be a valid integer"),
    ("cpu", "512", "services.api.cpu: Input should be a valid integer"),
    ("optional", "no", "services.api.optional: Input should be a valid boolean"),  # was True
    ("health_check", {"command": "true", "retries": True}, "services.api.health_check.retries: Input should be a "
                                                           "valid integer"),
    ("environments", {"prod": {"cpu": "1024", "memory": 2048}},
     "services.api.environments.prod.cpu: Input should be a valid integer"),
])
def test_a_value_of_the_wrong_toml_type_is_refused_not_converted(field, value, where):
    """TOML has integers and booleans: `port = true` or `optional = "no"` is a mistake to name,
    not port 1 or an optional service."""
    data = _base()
    data["services"]["api"][field] = value
    with pytest.raises(ManifestError) as raised:
        parse_manifest(data)
    assert str(raised.value) == f"services.toml: {where}"


@pytest.mark.parametrize("key", ["prot", "name"])
def test_an_unknown_key_in_defaults_is_named_there_not_in_every_service(key):
    data = {**_base(), "defaults": {"cpu": 512, key: 8000}}
    with pytest.raises(ManifestError) as raised:
        parse_manifest(data)
    assert str(raised.value) == (f"services.toml: defaults.{key}: unknown field ([defaults] takes the fields a "
                                 "service takes, but not name)")


@pytest.mark.parametrize("data", [{}, {"project": {"name": "demo"}}])
def test_a_manifest_without_services_says_to_add_one(data):
    with pytest.raises(ManifestError) as raised:
        parse_manifest(data)
    assert str(raised.value) == "services.toml: services: missing: add a [services.<name>] table for each service"


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("dockerfile", "", "must name a file inside the repository"),
    ("dockerfile", "docker/api/", "must name a file inside the repository"),
    ("dockerfile", "docker/api/Docker\x00file", "must not hold control characters"),
    ("context", "", "must name a folder inside the repository ('.' for its root)"),
    ("context", "docker/\napi", "must not hold control characters"),
])
def test_a_dockerfile_or_context_no_build_could_use_is_refused_before_a_build_starts(field, value, problem):
    """The build would start and fail at `build-image.sh check`: the manifest refuses it on load."""
    data = _base()
    data["services"]["api"][field] = value
    with pytest.raises(ManifestError) as raised:
        parse_manifest(data)
    assert str(raised.value) == f"services.toml: services.api.{field}: {problem}"


def test_a_manifest_with_a_number_too_long_to_read_names_the_file(tmp_path: Path):
    path = tmp_path / "services.toml"
    path.write_text("x = " + "9" * 5000 + "\n")
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    assert str(raised.value) == f"{path}: not valid TOML (a number has more digits than can be read)"


def test_a_manifest_nested_too_deeply_names_the_file(tmp_path: Path):
    path = tmp_path / "services.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    assert str(raised.value) == f"{path}: not valid TOML (nested too deeply)"
