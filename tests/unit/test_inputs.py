"""The build inputs hash: what it covers, and what does not change it."""

import pytest

from pipeline.domain.inputs import (
    BaseImage,
    base_images,
    input_paths,
    inputs_hash,
    inputs_of_tag,
    inputs_tag,
    parent_folders,
    split_reference,
)
from pipeline.domain.manifest import default_manifest
from tests.support.paths import ROOT

OBJECTS = {"docker/langgraph/": "a" * 40, "workload/langgraph/": "b" * 40, "services.toml": "c" * 40}
BASES = {"langfuse/langfuse:2.95.11": "sha256:" + "1" * 64}


def test_the_same_inputs_in_any_order_have_the_same_hash():
    assert inputs_hash(OBJECTS, BASES) == inputs_hash(dict(reversed(list(OBJECTS.items()))), BASES)


@pytest.mark.parametrize("changed", ["docker/langgraph/", "workload/langgraph/", "services.toml"])
def test_another_object_id_for_any_input_path_changes_the_hash(changed):
    assert inputs_hash({**OBJECTS, changed: "f" * 40}, BASES) != inputs_hash(OBJECTS, BASES)


def test_a_moved_base_image_tag_changes_the_hash():
    moved = {"langfuse/langfuse:2.95.11": "sha256:" + "2" * 64}
    assert inputs_hash(OBJECTS, moved) != inputs_hash(OBJECTS, BASES)


def test_a_path_and_its_object_id_cannot_be_traded_between_inputs():
    # Each line names its path: swapping two ids between paths is another set of inputs.
    swapped = {**OBJECTS, "docker/langgraph/": "b" * 40, "workload/langgraph/": "a" * 40}
    assert inputs_hash(swapped, BASES) != inputs_hash(OBJECTS, BASES)


def test_a_service_inputs_are_its_paths_the_shared_paths_and_its_dockerfile():
    # langgraph's Dockerfile is in docker/langgraph/, whose tree id covers it.
    assert input_paths(default_manifest(), "langgraph") == (
        ".dockerignore", "docker/langgraph/", "services.toml", "workload/common/", "workload/langgraph/")


def test_a_dockerfile_outside_the_service_paths_is_an_input_of_its_own():
    manifest = default_manifest()
    spec = manifest.services["langgraph"].model_copy(update={"dockerfile": "build/langgraph.Dockerfile"})
    elsewhere = manifest.model_copy(update={"services": {**manifest.services, "langgraph": spec}})
    assert "build/langgraph.Dockerfile" in input_paths(elsewhere, "langgraph")


def test_the_folders_listed_are_the_parents_of_the_input_paths():
    assert parent_folders(input_paths(default_manifest(), "langgraph")) == ("", "docker", "workload")


def test_base_images_substitute_args_and_skip_stages_and_scratch():
    dockerfile = """# syntax=docker/dockerfile:1.7
ARG PYTHON_IMAGE=python:3.13-slim@sha256:abc
ARG TOOL="busybox:1.36"
FROM ${PYTHON_IMAGE} AS build
FROM --platform=linux/arm64 $TOOL AS tools
FROM scratch AS empty
FROM build
FROM ${PYTHON_IMAGE}
"""
    assert base_images(dockerfile) == (BaseImage("python:3.13-slim@sha256:abc"), BaseImage("busybox:1.36"))


def test_an_arg_after_the_first_from_does_not_reach_a_later_from():
    dockerfile = "ARG BASE=alpine:3.20\nFROM ${BASE}\nARG BASE=debian:12\nFROM ${BASE}\n"
    assert base_images(dockerfile) == (BaseImage("alpine:3.20"),)


def test_a_from_split_over_lines_is_read_whole():
    dockerfile = "FROM \\\n  langfuse/langfuse:2.95.11 \\\n  AS app\n"
    assert base_images(dockerfile) == (BaseImage("langfuse/langfuse:2.95.11"),)


def test_only_a_reference_with_a_digest_is_pinned():
    assert BaseImage("python:3.13@sha256:abc").digest == "sha256:abc"
    assert BaseImage("langfuse/langfuse:2.95.11").digest is None


def test_every_dockerfile_of_the_manifest_names_its_bases():
    # langfuse is the one named by a tag only: the registry is asked for its digest.
    found = {}
    for name, spec in default_manifest().services.items():
        found[name] = [b.digest is None for b in base_images((ROOT / spec.dockerfile).read_text())]
    assert found == {"aws-agent-core": [False], "langgraph": [False], "snowflake-cortex": [False],
                     "langfuse": [True]}


def test_the_inputs_tag_round_trips_and_nothing_else_is_read_as_one():
    value = "0123456789abcdef" * 4
    assert inputs_of_tag(inputs_tag(value)) == value
    assert inputs_of_tag("inputs-xyz") is None and inputs_of_tag("latest") is None


@pytest.mark.parametrize(("reference", "parts"), [
    ("langfuse/langfuse:2.95.11", ("registry-1.docker.io", "langfuse/langfuse", "2.95.11")),
    ("python:3.13-slim", ("registry-1.docker.io", "library/python", "3.13-slim")),
    ("docker.io/library/alpine", ("registry-1.docker.io", "library/alpine", "latest")),
    ("public.ecr.aws/docker/library/busybox:1.36", ("public.ecr.aws", "docker/library/busybox", "1.36")),
    ("localhost:5000/team/app:v1", ("localhost:5000", "team/app", "v1")),
])
def test_an_image_reference_names_its_registry_repository_and_tag(reference, parts):
    assert split_reference(reference) == parts
