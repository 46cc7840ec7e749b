# The course's commands. `make demo` and `make test` are the two that matter;
# each creates the virtual environment (.venv) from pyproject.toml on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the graded course that `make formgrader` and `make export` use (`make demo` grades build/demo)
COURSE ?= build/demo
# Jupyter and nbgrader run commands of the environment (e.g. `alembic`): its bin/ goes first
RUN := PATH="$(abspath $(BIN)):$$PATH"

.PHONY: demo test lint release check-release publish solutions lab formgrader bench mutants \
	export sandbox-tools browser-tools clean

$(STAMP): pyproject.toml
	@command -v bwrap >/dev/null || $(MAKE) --no-print-directory sandbox-tools
	@command -v chromium >/dev/null || $(MAKE) --no-print-directory browser-tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## demo: the instructor loop on three made-up students: release, collect, grade, feedback, export
demo: $(STAMP)
	$(BIN)/python -m autograder demo

## test: lint (code and notebooks) and the whole test suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

## release: regenerate notebooks/ (student versions) from solutions/ with nbgrader
release: $(STAMP)
	$(BIN)/python -m autograder release

check-release: $(STAMP)
	$(BIN)/python -m autograder release --check

## publish: write the student repository into OUT (a git repository) for students and Colab
## (URL: default [tool.unet-course] student-repository; ASSIGNMENTS: default all)
OUT ?= build/published
publish: $(STAMP)
	$(BIN)/python -m autograder publish $(OUT) $(if $(URL),--url $(URL)) $(ASSIGNMENTS)

## solutions: execute the reference solutions end to end, keeping their outputs
solutions: $(STAMP)
	$(BIN)/python -m autograder execute

## lab: JupyterLab on the student notebooks (nbgrader's instructor parts off; writes nothing
## into the repository but the notebooks you edit)
lab: $(STAMP)
	$(RUN) $(BIN)/python -m autograder lab

## formgrader: nbgrader's formgrader on a graded course: COURSE=path (default build/demo)
formgrader: $(STAMP)
	$(RUN) $(BIN)/python -m autograder formgrader --course "$(COURSE)"

## export: a graded course's grades as Canvas (LMS=canvas) or Moodle (LMS=moodle) imports them
## (COURSE=path, default build/demo)
LMS ?= canvas
export: $(STAMP)
	$(BIN)/python -m autograder export --to $(LMS) --course $(COURSE)

## bench: the benchmark scripts (they print figures)
bench: $(STAMP)
	$(BIN)/python benchmarks/grading.py
	$(BIN)/python benchmarks/regrade.py
	$(BIN)/python benchmarks/cluster.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/colab.py

# System packages, from the system's package manager (apt-get, as root or with sudo):
# bubblewrap runs student code in a sandbox while grading (no network, no access to
# solutions/ or other students' files); chromium runs the browser test of formgrader
# (tests/test_formgrader.py, driven by Playwright; Playwright's own browser downloads are
# never used). Without them grading runs unsandboxed / the browser test is skipped.
APT_INSTALL = if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq $(1) >/dev/null; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		sudo apt-get update -qq && sudo apt-get install -y -qq $(1) >/dev/null; \
	else \
		echo "WARNING: $(1) is not installed and could not be installed here: $(2)."; \
		echo "Install it with your package manager."; \
	fi

sandbox-tools:
	@$(call APT_INSTALL,bubblewrap,grading will run student code WITHOUT the sandbox)

browser-tools:
	@$(call APT_INSTALL,chromium,the browser test of formgrader is skipped)

clean:
	rm -rf build .pytest_cache .ruff_cache

## mutants: the mutation suite (tests of the tests): mutant, points, first message
mutants: $(STAMP)
	$(BIN)/python -m tests.mutants
