# Thin wrapper around Meson: build, deps, demo, check, bench, fuzz, install.
PREFIX ?= /usr/local
BUILD ?= build
PY = /usr/bin/python3

.PHONY: all deps demo check bench fuzz soak upgrade install clean format
FUZZ_SECONDS ?= 600

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

deps:
	sh scripts/deps.sh

demo: deps all
	sh scripts/demo.sh

check: deps
	$(PY) scripts/check.py

bench: deps all
	$(PY) bench/run.py
	$(PY) bench/worktree.py
	$(PY) bench/view.py
	$(PY) bench/drain.py
	$(PY) bench/conflict.py
	$(PY) bench/team.py
	$(PY) bench/workflow.py
	$(PY) bench/batch.py
	$(PY) bench/slurm.py
	$(PY) bench/tree.py
	$(PY) bench/throughput.py
	$(PY) bench/scale.py
	sh scripts/claude-install.sh >/dev/null && $(PY) bench/claude.py

soak: deps all
	$(PY) bench/soak.py

upgrade: deps all
	$(PY) scripts/upgrade.py

fuzz: deps
	$(PY) scripts/fuzz.py $(FUZZ_SECONDS)

install: all
	meson configure $(BUILD) --prefix=$(PREFIX)
	meson install -C $(BUILD)

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-old
