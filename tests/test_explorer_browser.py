"""The explorer in a real browser: JupyterLab on a free loopback port, headless Chromium (Debian's
`chromium`, driven by Playwright; nothing is downloaded) opens notebooks/explorer.ipynb pointed at a
small run, runs it, changes the ε slider and the model, and checks that the prediction and norms it
shows change and equal `helpers`' own computation. The screenshot is kept in
runs/test-artifacts/explorer-browser.png."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from conftest import make_explorer_run
from helpers.attacks import build_attack
from helpers.core.files import ROOT
from helpers.explorer.inspection import inspect
from helpers.explorer.run import ExplorerRun

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACT = ROOT / "runs" / "test-artifacts" / "explorer-browser.png"
TOKEN = "explorer-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(url of the explorer notebook, its parameter file): JupyterLab serving a copy of the notebook
    whose parameters cell names a small run made here."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium not found: `make setup` installs Debian's chromium (apt-get install chromium)")
    base = tmp_path_factory.mktemp("lab")
    pfile = make_explorer_run(base / "params.yaml")
    values = yaml.safe_load(pfile.read_text())
    pfile.write_text(yaml.safe_dump({**values, "num_threads": 1}))  # the kernel's numbers equal this process's
    nb = json.loads((ROOT / "notebooks" / "explorer.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = cell["source"].replace('"parameters/default.yaml"', json.dumps(str(pfile)))
    (base / "explorer.ipynb").write_text(json.dumps(nb))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                               "--ip=127.0.0.1", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={base}",
                               "--LabApp.expose_app_in_browser=True", "--allow-root"],
                              stdout=subprocess.DEVNULL, stderr=open(base / "lab.log", "w"),
                              # the kernel imports this checkout's helpers, whichever one the venv was installed from
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
            break
        except OSError:
            assert server.poll() is None, (base / "lab.log").read_text()[-2000:]
            time.sleep(0.2)
    yield f"{url}/lab/tree/explorer.ipynb?token={TOKEN}", pfile
    server.terminate()
    server.wait(timeout=30)


def _summary(page, previous: str = "", timeout: float = 60) -> str:
    """The explorer's one-line summary once it shows a result (different from `previous`)."""
    loc = page.locator(".widget-html-content", has_text="L2 =")
    t0 = time.time()
    while time.time() - t0 < timeout:
        if loc.count():
            text = loc.first.inner_text()
            if text != previous and "error" not in text:
                return text
        errors = page.locator(".widget-html-content", has_text="error:")
        assert not errors.count(), errors.first.inner_text()
        time.sleep(0.2)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACT.with_name("explorer-browser-failed.png")), full_page=True)
    raise AssertionError(f"no new summary after {timeout} s (last: {previous!r}); the page is in "
                         f"{ARTIFACT.with_name('explorer-browser-failed.png')}; it reads: {page.inner_text('body')[-1500:]}")


def _expected(pfile, model: str, eps: float) -> str:
    run = ExplorerRun(str(pfile))
    v = run.variant(model, "dense")
    x, label = run.image(run.data.classes[0], 0)
    ins = inspect(run.load(v), x, label, run.data.classes, build_attack("pgd", run.params), eps,
                  variant=f"{model} dense, {run.data.classes[0]} #0", seed=run.params["seed"])
    return ins.summary()


def test_the_explorer_runs_and_follows_the_slider_and_the_model(lab):
    from playwright.sync_api import sync_playwright

    url, pfile = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.goto(url)
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel",
                               timeout=120_000)
        page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.ready.then(() => "
                      "window.jupyterapp.commands.execute('notebook:run-all-cells'))")
        first = _summary(page)
        assert first == _expected(pfile, "SimpleCNN", 0.03)

        readout = page.locator(".widget-slider:has(.widget-label:text-is('ε')) .widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("0.08")
        page.keyboard.press("Enter")
        second = _summary(page, first)
        assert second == _expected(pfile, "SimpleCNN", 0.08) and second != first

        page.locator(".widget-dropdown:has(.widget-label:text-is('model')) select").select_option("ResNetSmall-w32")
        third = _summary(page, second)
        assert third == _expected(pfile, "ResNetSmall-w32", 0.08)
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACT), full_page=True)
        browser.close()
