"""The Powertools the stack deploys is the Powertools the tests run, and the test environment is
the lock: the template resolves the layer from the SSM parameter of one release, and that
release is the one installed here, pinned in pyproject.toml and in requirements.lock."""

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from shipline.cli import deployed_powertools, main
from shipline.local.template import raw
from tests.support.paths import ROOT

# The path Powertools publishes each layer release under, one per architecture, runtime and release
# (its update_ssm workflow; `latest` also exists, but it moves).
SSM_LAYER = re.compile(
    r"^\{\{resolve:ssm:/aws/service/powertools/python/(?P<arch>arm64|x86_64)/(?P<python>python3\.\d+)"
    r"/(?P<version>\d+\.\d+\.\d+)\}\}$"
)
LOCKFILE = ROOT / "tools" / "lockfile.py"


def _layer() -> re.Match:
    layers = raw()["Globals"]["Function"]["Layers"]
    assert len(layers) == 1 and isinstance(layers[0], str), layers
    found = SSM_LAYER.match(layers[0])
    assert found, f"the layer is not a pinned Powertools SSM parameter: {layers[0]}"
    return found


def _pin(requirements: list[str], name: str) -> str:
    for line in requirements:
        match = re.match(rf"^{re.escape(name)}(\[[^\]]*\])?==(?P<version>[^\s;\\]+)", line.strip())
        if match:
            return match.group("version")
    raise AssertionError(f"{name} is not pinned with ==")


def test_layer_is_resolved_from_the_ssm_parameter_of_the_functions_runtime_and_architecture():
    function = raw()["Globals"]["Function"]
    layer = _layer()
    assert layer["arch"] == function["Architectures"][0]
    assert layer["python"] == function["Runtime"]


def test_ssm_path_version_is_the_powertools_the_tests_install():
    import aws_lambda_powertools.shared.version

    version = _layer()["version"]
    assert importlib.metadata.version("aws-lambda-powertools") == version
    assert aws_lambda_powertools.shared.version.VERSION == version
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert _pin(pyproject, "aws-lambda-powertools") == version
    assert _pin((ROOT / "requirements.lock").read_text().splitlines(), "aws-lambda-powertools") == version


def test_the_translated_functions_keep_the_dynamic_reference():
    """The SAM transform (and so the local account) passes the reference through to CloudFormation,
    which resolves it when it creates the functions."""
    from shipline.local.model import translate

    functions = [r for r in translate()["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions and all(f["Properties"]["Layers"] == [_layer().group(0)] for f in functions)


# SAM CLI's own calls into the translator's deprecated validator; nothing of ours.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:samcli.*", "ignore::DeprecationWarning:samtranslator.*")
def test_sam_deploy_reads_the_functions_with_the_dynamic_reference():
    """`sam deploy` loads every function (and its layers) before it packages; a string that is no
    ARN must not stop it there."""
    from samcli.commands.deploy.auth_utils import auth_per_resource
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    from tests.contract.test_template import FUNCTIONS

    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"), parameter_overrides={})
    auth_per_resource(stacks)
    functions = list(SamFunctionProvider(stacks, ignore_code_extraction_warnings=True).get_all())
    assert len(functions) == len(FUNCTIONS)
    assert all([layer.arn for layer in f.layers] == [_layer().group(0)] for f in functions)


def test_shipline_version_reports_its_own_and_the_deployed_powertools(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    layer = _layer()
    assert capsys.readouterr().out == (
        f"shipline {importlib.metadata.version('shipline')} "
        f"(Powertools {layer['version']} layer for {layer['python']} {layer['arch']})\n"
    )
    assert deployed_powertools() == (layer["version"], layer["python"], layer["arch"])


# ---------------------------------------------------------------------------- the lock
def _check(lock) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LOCKFILE), "check", str(lock)],
                          capture_output=True, text=True, check=False)


def test_every_locked_package_is_pinned_with_hashes():
    text = (ROOT / "requirements.lock").read_text()
    requirements = re.findall(r"^([A-Za-z0-9][^\s]*)(.*?)(?=^[A-Za-z0-9]|\Z)", text, re.M | re.S)
    assert len(requirements) > 50
    for name, rest in requirements:
        assert "==" in name and "--hash=sha256:" in rest, name


def test_lock_check_accepts_the_committed_lock():
    result = _check(ROOT / "requirements.lock")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def copied_project(tmp_path):
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_lock_check_fails_in_one_line_when_pyproject_dependencies_changed(copied_project):
    pyproject = copied_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pytest>=8",', '"pytest>=8",\n  "requests>=2",'))
    result = _check(copied_project / "requirements.lock")
    assert result.returncode == 1
    assert result.stderr == (
        "lockfile: error: requirements.lock is stale: pyproject.toml's dependencies changed since it was made; "
        "run `make lock` and commit both\n"
    )


def test_lock_check_ignores_edits_outside_the_dependency_sections(copied_project):
    pyproject = copied_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 120", "line-length = 119"))
    assert _check(copied_project / "requirements.lock").returncode == 0


def test_lock_check_fails_when_the_lock_is_missing(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = _check(tmp_path / "requirements.lock")
    assert result.returncode == 1 and "requirements.lock is missing: run `make lock`" in result.stderr
