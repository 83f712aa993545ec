# The front door. Everything real is in CMakeLists.txt; this file only names
# the jobs and installs what is missing first.
#
#   make run        build, then run the main job (the examples)
#   make test       build, then run the whole suite with ctest
#   make test-asan  the same suite built with clang, ASan + UBSan
#   make test-tsan  the same suite built with clang, ThreadSanitizer
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make bench      build, then run every benchmark in bench/
#   make install    install headers, libraries and muster.pc (PREFIX=...)

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

.PHONY: all deps build run test test-asan test-tsan fuzz bench install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

run: build
	@scripts/run-main.sh $(BUILD)

test: build
	ctest --test-dir $(BUILD) $(CTEST_FLAGS)

test-asan: deps
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DMUSTER_SANITIZE=address,undefined >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) $(CTEST_FLAGS)

# tests/tsan.supp says why libuv's own fd calls are not checked. TSan can
# defer a signal past the moment a test waits for it (seen about once in 30
# runs of a signal test), so each test gets a second try here only. A race
# may show in one try and not the next, so any race report in any try's
# output (ctest's LastTest.log keeps them all) fails the pass.
test-tsan: deps
	CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DMUSTER_SANITIZE=thread >/dev/null
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --test-dir $(TSAN_BUILD) $(CTEST_FLAGS) --repeat until-pass:2
	@if grep -q 'SUMMARY: ThreadSanitizer' \
	    $(TSAN_BUILD)/Testing/Temporary/LastTest.log; then \
	  echo "ThreadSanitizer reported a race in a try that was then passed:"; \
	  grep -B40 -A2 'SUMMARY: ThreadSanitizer' \
	    $(TSAN_BUILD)/Testing/Temporary/LastTest.log | head -200; \
	  exit 1; \
	fi

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DMUSTER_FUZZ=ON \
	  -DMUSTER_SANITIZE=address,undefined >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@# New units go to $(FUZZ_BUILD)/units/<name> (libFuzzer writes to its
	@# first corpus directory); the committed seeds in fuzz/corpus/ are only
	@# read. Copy a unit there by hand when it is worth keeping.
	@for f in $(FUZZ_BUILD)/fuzz/fuzz-*; do \
	  case $$f in *-replay) continue;; esac; \
	  n=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/units/$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/units/$$n \
	    fuzz/corpus/$$n || exit 1; \
	done

# wrk drives bench/cluster.sh. nginx and node are optional anchors (their
# figures are skipped, with a note, when missing); installing nginx from
# Debian also starts a system service, so it is left to the user.
# bench/manager.sh installs PM2 with npm into a temporary folder (skipped,
# with a note, without npm or a network).
bench: build
	@scripts/deps.sh wrk
	@scripts/run-bench.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
