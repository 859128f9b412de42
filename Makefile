# The verbs of the study kit. Everything installs itself on first use.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PARAMS ?= parameters/default.yaml
# the committed studies, each parameters/<study>.yaml with its own report under report/
STUDIES := default lenet5-fashion
STUDY ?= $(STUDIES)
STAMP  := $(VENV)/.installed
# uv installs the same pinned versions as pip, downloading in parallel: a fresh venv of the kit took 31 s
# against pip's 218 s here (most of it torch's CUDA wheels). pip does it where uv is missing or fails.
# --compile-bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set (as on these machines) every
# kernel would otherwise compile torch's and matplotlib's sources again (make test took 1.6x as long).
INSTALL = $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) $(1) || $(PY) -m pip install --quiet $(1)
APT_PACKAGES := texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc fonts-dejavu poppler-utils \
                dataset-fashion-mnist chromium

.PHONY: setup system-deps report run test faults bench lab clean distclean help

help:
	@echo "make report  - run every committed study and build its report: default (Sports-10, report/report.pdf),"
	@echo "               lenet5-fashion (report/lenet5-fashion.pdf); make report STUDY=lenet5-fashion builds one"
	@echo "make test    - the whole test suite (unit tests, notebook smoke run, report build, explorer in a browser)"
	@echo "make faults  - the fault-injection suite, with the killed-run and determinism tests (about 10 minutes)"
	@echo "make bench   - training throughput and batch-1 latency of every model"
	@echo "make lab     - JupyterLab with the project's environment, opening the explorer (notebooks/explorer.ipynb)"
	@echo "make clean   - remove run outputs and caches (keeps figures/ and report/)"
	@echo "make run PARAMS=parameters/x.yaml - run the notebooks with another parameter file"

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required (or: make PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv || true
	$(call INSTALL,-e ".[dev]")
	$(call INSTALL,--no-deps torchattacks==3.5.1)
	$(PY) -c "import torch, torchvision.ops; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

# System packages for the PDF route (XeLaTeX with DejaVu fonts, pandoc), Fashion-MNIST's IDX files and the
# browser the explorer's test drives (Debian's chromium: Playwright downloads nothing), installed when missing.
system-deps:
	@if command -v xelatex >/dev/null && command -v pandoc >/dev/null && command -v pdftotext >/dev/null \
	    && fc-list | grep -q DejaVuSerif && test -d /usr/share/datasets/fashion-mnist \
	    && command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(APT_PACKAGES) (about 3 minutes)"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES) >/dev/null; \
	else \
	    echo "error: the PDF report needs xelatex, pandoc, pdftotext and the DejaVu fonts, the LeNet study Fashion-MNIST,"; \
	    echo "the explorer's browser test chromium."; \
	    echo "On Debian/Ubuntu, as root: apt-get install $(APT_PACKAGES)"; \
	    echo "With conda: conda env create -f environment.yml (then install TeX Live with XeLaTeX)"; \
	    exit 1; \
	fi

report: setup
	@for study in $(STUDY); do \
	    test -f parameters/$$study.yaml || { echo "error: no study '$$study' (parameters/$$study.yaml); studies: $(STUDIES)"; exit 2; }; \
	    echo "== study $$study (parameters/$$study.yaml)"; \
	    $(PY) -m helpers.run parameters/$$study.yaml --report || exit 1; \
	done

run: setup
	$(PY) -m helpers.run $(PARAMS)

# Two workers: the suite is mostly one core's Python (kernels, imports, LaTeX), so two halve its time;
# a file's tests share a worker, so each study fixture runs once (tests/conftest.py). TEST_WORKERS=0: in-process.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Damaged files, full disks, bad images, stale plugins, and whole studies killed with SIGKILL and rerun
# (tests/test_faults_*.py, tests/test_data_bad_images.py); the killed-run tests take minutes, so make test
# leaves them out (the marker `faults`).
faults: setup
	$(PY) -m pytest -q -m "" tests/test_faults_corrupt.py tests/test_faults_stale.py tests/test_data_bad_images.py \
	    tests/test_faults_killed.py

bench: setup
	$(PY) -m helpers.bench $(ARGS)

lab: setup
	cd notebooks && ../$(VENV)/bin/jupyter lab explorer.ipynb $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf runs .cache .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
