"""The bytecode `make deploy` ships (tools/runtime_bytecode.py): hash-based, so it still
validates when the package's ZIP dates every file 1980-01-01, as SAM CLI's does."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SAM_ZIP_DATE = 315532800  # 1980-01-01T00:00:00Z, the date SAM CLI's package ZIP gives every file


def _tool():
    spec = importlib.util.spec_from_file_location("runtime_bytecode", ROOT / "tools" / "runtime_bytecode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of functions/ as a deployment package, with stale bytecode of another Python in it."""
    root = tmp_path / "functions"
    shutil.copytree(ROOT / "functions", root, ignore=shutil.ignore_patterns("__pycache__"))
    stale = root / "pipeline" / "__pycache__"
    stale.mkdir()
    (stale / "__init__.cpython-39.pyc").write_bytes(b"stale")
    return root


def _as_in_the_zip(root: Path) -> None:
    for source in root.rglob("*.py"):
        os.utime(source, (SAM_ZIP_DATE, SAM_ZIP_DATE))


def _loaded_from_bytecode(root: Path, module: str) -> bool:
    """Whether importing `module` (nothing written, as in read-only /var/task) ran its bytecode
    (`-v`: "code object from '<the .pyc>'") rather than compiling its source."""
    verbose = subprocess.run([sys.executable, "-B", "-v", "-c", f"import {module}"], cwd=root, capture_output=True,
                             text=True, check=True, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(root)}).stderr
    source = root / Path(*module.split(".")).with_suffix(".py")
    from_bytecode = f"# code object from '{importlib.util.cache_from_source(str(source))}'" in verbose
    from_source = f"# code object from {source}" in verbose
    assert from_bytecode != from_source, verbose[-2000:]
    return from_bytecode


def test_the_runtime_is_read_from_the_template():
    assert _tool().runtime_version() == (3, 13)


def test_compiled_bytecode_is_checked_hash_for_every_module_and_old_caches_are_gone(package):
    tool = _tool()
    tool.remove_bytecode(package)
    count = tool.compile_tree(sys.executable, package)
    sources = list(package.rglob("*.py"))
    assert count == len(sources) > 50
    assert not list(package.rglob("*.cpython-39.pyc"))
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        header = cached.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == 0b11  # hash-based, checked (PEP 552)
        assert header[8:16] == importlib.util.source_hash(source.read_bytes())


def test_hash_based_bytecode_is_used_when_the_zip_dates_the_sources_1980(package):
    tool = _tool()
    tool.remove_bytecode(package)
    tool.compile_tree(sys.executable, package)
    _as_in_the_zip(package)
    assert _loaded_from_bytecode(package, "pipeline.domain.naming")


def test_timestamp_bytecode_is_not_used_then_which_is_why_it_is_hash_based(package):
    subprocess.run([sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "timestamp", str(package)],
                   check=True)
    _as_in_the_zip(package)
    assert not _loaded_from_bytecode(package, "pipeline.domain.naming")


def test_an_edited_source_is_compiled_afresh_not_run_from_old_bytecode(package):
    tool = _tool()
    tool.compile_tree(sys.executable, package)
    naming = package / "pipeline" / "domain" / "naming.py"
    naming.write_text(naming.read_text() + "\nEDITED = True\n")
    answer = subprocess.run([sys.executable, "-B", "-c", "import pipeline.domain.naming as n; print(n.EDITED)"],
                            cwd=package, capture_output=True, text=True, check=True,
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(package)})
    assert answer.stdout.strip() == "True"


def test_without_the_runtime_python_the_package_goes_without_bytecode_and_says_so(package, monkeypatch, capsys):
    tool = _tool()
    monkeypatch.setattr(tool, "find_python", lambda version: None)
    assert tool.main([str(package)]) == 0
    assert not list(package.rglob("*.pyc"))
    assert "no Python 3.13 here" in capsys.readouterr().err


def test_bytecode_survives_sam_clis_own_package_zip(package, tmp_path):
    """SAM CLI's packager (what `sam deploy` zips a function's CodeUri with) keeps __pycache__
    and dates every entry 1980-01-01; unpacked with those dates, as in Lambda, the bytecode runs."""
    import time
    import zipfile

    from samcli.lib.package.utils import make_zip_with_lambda_permissions

    tool = _tool()
    tool.remove_bytecode(package)
    tool.compile_tree(sys.executable, package)
    archive = make_zip_with_lambda_permissions(str(tmp_path / "package"), str(package))
    task = tmp_path / "task"
    with zipfile.ZipFile(archive) as zipped:
        assert any("__pycache__/" in name for name in zipped.namelist())
        for entry in zipped.infolist():
            assert entry.date_time == (1980, 1, 1, 0, 0, 0)
            zipped.extract(entry, task)
            when = time.mktime((*entry.date_time, 0, 0, -1))
            os.utime(task / entry.filename, (when, when))
    assert _loaded_from_bytecode(task, "pipeline.domain.naming")


def test_a_failing_runtime_measurement_is_a_skipped_row_not_a_lost_bench(monkeypatch):
    """`make bench` writes its results after the runtime rows: a pip or handler failure there is
    one row saying why, not an exception that loses the run."""
    spec = importlib.util.spec_from_file_location("runtime_init", ROOT / "bench" / "runtime_init.py")
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    runtime_init = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runtime_init)

    def pip_fails():
        raise subprocess.CalledProcessError(1, ["pip"], stderr="ERROR: THESE PACKAGES DO NOT MATCH THE HASHES")

    monkeypatch.setattr(runtime_init, "_venv", pip_fails)
    result = runtime_init.measure()
    assert set(result) == {"skipped"} and "DO NOT MATCH THE HASHES" in result["skipped"]


def test_the_libraries_floor_imports_what_the_handler_imports_except_shiplines_own_code(monkeypatch):
    """The bench's floor (`_libraries`): a handler's init less shipline's modules. Run, it loads
    boto3, Powertools and pydantic as the handler does, and no `pipeline` module."""
    spec = importlib.util.spec_from_file_location("runtime_init", ROOT / "bench" / "runtime_init.py")
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    runtime_init = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runtime_init)
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "functions"), "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    code = runtime_init._libraries(Path(sys.executable), environment, "build_events", ("dynamodb", "sns"))
    assert "pipeline" not in code
    loaded = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                            env=environment, capture_output=True, text=True, check=True).stdout.split()
    assert {"boto3", "aws_lambda_powertools", "pydantic"} <= set(loaded)
    assert not any(name.startswith("pipeline") for name in loaded)


def test_a_directory_that_is_not_the_functions_code_is_refused_and_left_alone(tmp_path):
    cache = tmp_path / "elsewhere" / "__pycache__"
    cache.mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds no pipeline package"):
        _tool().main([str(tmp_path)])
    assert cache.is_dir()
