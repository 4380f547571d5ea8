"""A handler's imports run with the cyclic garbage collector paused, and what they made is
frozen; the collector is on again afterwards, whatever happened in between."""

import gc
import subprocess
import sys

import pytest

from pipeline.handlers import coldstart
from shipline.local.template import raw
from tests.support.paths import ROOT

HANDLER_MODULES = sorted({r["Properties"]["Handler"].rsplit(".", 1)[0] for r in raw()["Resources"].values()
                          if r["Type"] == "AWS::Serverless::Function"})


def test_the_collector_is_paused_inside_and_on_again_after():
    frozen = gc.get_freeze_count()
    with coldstart.imports():
        assert not gc.isenabled()
        made = [[] for _ in range(10)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(made)
    gc.unfreeze()


def test_a_failed_import_leaves_the_collector_on_and_freezes_nothing():
    frozen = gc.get_freeze_count()
    with pytest.raises(ImportError), coldstart.imports():
        raise ImportError("no module named nowhere")
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_a_collector_turned_off_before_stays_off():
    gc.disable()
    try:
        with coldstart.imports():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_each_handler_imports_with_the_collector_paused_and_leaves_it_on(module):
    # In a fresh interpreter, as Lambda imports the handler: collections during the import are
    # counted by gc's callback; afterwards the collector is on and the imported objects frozen.
    probe = ("import gc, sys\n"
             "runs = []\n"
             "gc.callbacks.append(lambda phase, info: runs.append(info['generation']) if phase == 'start' else None)\n"
             f"sys.path.insert(0, 'functions')\nimport {module}\n"
             "print(gc.isenabled(), gc.get_freeze_count(), len(runs))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true",
                              "AWS_DEFAULT_REGION": "us-east-1"})
    enabled, frozen, collections = out.stdout.split()
    assert enabled == "True"
    assert int(frozen) > 10_000  # boto3, Powertools, pydantic and shipline's own objects
    # Unpaused, the same imports make over a hundred collections. What runs before the pause
    # (compiling the handler module itself, on a checkout without bytecode yet) may make one.
    assert int(collections) <= 3
