"""One benchmark run: every method on every dataset, every metric, as a JSON-ready record.

Datasets: the images of the first ``limit`` pairs of LFW's pairs.txt darkened by each synthesis preset (seed 0;
"clean" and "none" bound the range), the real low-light photos (no reference), and the real pairs of SICE's test
(or validation) scenes, real under-exposed frames against their scene's reference (``lowface.bench.real_pairs``:
PSNR, SSIM, CIEDE2000 raw and brightness-matched, faces found and invented). Per (method, LFW set or photos):
- fidelity on all images: PSNR and SSIM against the clean image (RGB, data range 1, 11x11 Gaussian window
  sigma 1.5; lowface.metrics.fidelity);
- no-reference quality on a sample of images: NIQE (MATLAB's algorithm, official pristine model; lower is
  better), BRISQUE (the PyPI brisque 0.2.0 model; lower is better) and LOE against the method's input (lower is
  better);
- feature-space distances on the sample, on the offline ImageNet backbone EfficientNet-Lite0 (not LPIPS, not
  KID-Inception): unlearned LPIPS-style distance to the clean image and KID x 1000 against the clean set;
  LPIPS-VGG itself when the user supplies VGG-16's ImageNet weights (``lpips_vgg``);
- recognition, per judge on all pairs: 10-fold verification accuracy, TAR@FAR=1e-3, closed-set rank-1 with a
  clean gallery and dark/enhanced probes, recovery = (method - none) / (clean - none) accuracy;
- detection, per detector on the sample: detection rate of the centred face and landmark success;
- speed: ms per megapixel and peak resident memory of each method on one image, each in its own process.
Every (method, dataset) row is cached as JSON under ``cache_dir`` next to the enhanced images: a rerun
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lowface.bench.cache import cached_row
from lowface.bench.faces import (
    PairsSet,
    cached_alignments,
    cached_embed,
    detect_central,
    detection_scores,
    identification,
    verification,
)
from lowface.bench.methods import BOUNDS, MethodSpec, method_images
from lowface.bench.real_pairs import sice_record
from lowface.bench.rows import add_false_matches, add_recovery, mean_fidelity, no_reference
from lowface.bench.speed import measure
from lowface.bench.wild import wild_record
from lowface.data.celeba import CELEBA_DIR
from lowface.data.lowlight import LOWLIGHT_DIR, real_lowlight_photos
from lowface.data.sice import SICE_DIR
from lowface.data.synth import synthesize_float32
from lowface.io import as_float, image_to_tensor, read_image
from lowface.metrics.deep import PooledFeatures, create_extractor, feature_distance, kid
from lowface.metrics.lpips import LPIPS


def default_methods() -> list[str]:
    """The bounds, then every enhancer of `lowface models` (classical first)."""
    from lowface.inference.catalogue import CLASSICAL_CARDS, list_models

    classical = [card.name for card in CLASSICAL_CARDS if card.name != "identity"]
    return [*BOUNDS, *classical, *(name for name in list_models() if name not in classical and name != "identity")]


@dataclass
class BenchConfig:
    """What one ``lowface bench`` run measures."""

    data_root: Path = Path("../shared/data")
    limit: int = 600  # LFW pairs (the first N of pairs.txt; 600 = official fold 1)
    presets: list[str] = field(default_factory=lambda: ["linear", "gamma-noise", "physical-3"])
    methods: list[str] = field(default_factory=default_methods)
    judges: list[str] = field(default_factory=lambda: ["facenet", "dlib"])
    detectors: list[str] = field(default_factory=lambda: ["mtcnn", "hog", "blazeface"])
    sample: int = 200  # images for NIQE, LOE and detection (evenly spaced over the set)
    real: bool = True
    real_limit: int | None = None
    sice: bool = True  # real pairs: SICE's under-exposed frames against their scenes' references
    sice_split: str = "test"  # "val" for choices; "test" only for reporting
    sice_limit: int | None = None  # only the first N pairs of the split
    wild: bool = True  # identification and false matches of the CelebA test people in the wild (celeba_wild/)
    wild_limit: int | None = None  # only the first N test people
    speed_size: tuple[int, int] = (1000, 1000)  # (height, width); 0 x 0 skips speed
    speed_repeats: int = 2
    failures: int = 6  # failure cases kept per method and dataset
    lpips_vgg: Path | None = None  # VGG-16 ImageNet weights: adds LPIPS (no registry ships them)
    threads: int = 1
    cache_dir: Path = Path("runs/bench-cache")
    progress: bool = True


def _sample(count: int, size: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(size, count)).round().astype(int))


class Bench:
    """Holds the judges, detectors and the LFW set of one run; ``run()`` returns the record."""

    def __init__(self, config: BenchConfig):
        from lowface.face.detect import create_detector
        from lowface.face.pipeline import RecognitionPipeline

        self.config = config
        torch.set_num_threads(config.threads)
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        self.methods = [MethodSpec.parse(spec) for spec in config.methods]
        self.detectors = {name: create_detector(name) for name in config.detectors}
        self.extractor, self.pooled = create_extractor(), PooledFeatures()
        self.lpips = LPIPS(config.lpips_vgg).eval() if config.lpips_vgg else None
        if not config.presets:  # no LFW part: real photos and real pairs only
            self.images, self.sample = None, np.arange(0)
            return
        self.images = PairsSet.load(config.data_root, config.limit, config.progress)
        self.judges = {name: RecognitionPipeline(name).eval() for name in config.judges}
        self.alignments = {
            name: cached_alignments(judge, self.images, config.cache_dir, config.progress)
            for name, judge in self.judges.items()
        }
        self.sample = _sample(len(self.images.keys), config.sample)
        clean_sample = [self.images.clean[i] for i in self.sample]
        self.references = {
            name: detect_central(det, clean_sample, f"clean {name}", config.progress)
            for name, det in self.detectors.items()
        }
        self.clean_vectors = {name: self._embed(name, self.images.clean, "clean") for name in self.judges}
        self.clean_pooled = self._pooled(clean_sample)

    def _pooled(self, images: list[np.ndarray], batch: int = 32) -> np.ndarray:
        tensors = [torch.cat([image_to_tensor(as_float(im)) for im in images[i : i + batch]])
                   for i in range(0, len(images), batch)]  # fmt: skip
        return np.concatenate([self.pooled(x) for x in tensors])

    def _feature_metrics(self, images: list[np.ndarray], references: list[np.ndarray]) -> dict[str, float]:
        """Mean unlearned feature distance to the references and KID x 1000 of the two sets (EfficientNet-Lite0)."""
        distances, lpips = [], []
        for start in range(0, len(images), 32):
            x = torch.cat([image_to_tensor(as_float(im)) for im in images[start : start + 32]])
            y = torch.cat([image_to_tensor(as_float(im)) for im in references[start : start + 32]])
            with torch.inference_mode():
                distances += feature_distance(x, y, self.extractor).tolist()
                if self.lpips is not None:
                    lpips += self.lpips(x, y).tolist()
        return {
            "feature_distance": float(np.mean(distances)),
            "kid_x1000": 1000 * kid(self._pooled(images), self.clean_pooled, subset_size=min(100, len(images))),
            "lpips_vgg": float(np.mean(lpips)) if lpips else None,
        }

    def _embed(self, judge: str, images: list[np.ndarray], source: str) -> np.ndarray:
        path = self.config.cache_dir / f"emb-{source}-{judge}-{self.images.tag}.npy"
        return cached_embed(self.judges[judge], images, self.alignments[judge], path)

    def _row_key(self, source: str) -> str:
        c = self.config
        tag = self.images.tag if self.images is not None else ""
        spec = f"{source}{tag}{c.judges}{c.detectors}{c.sample}" + ("lpips" if c.lpips_vgg else "")
        return hashlib.sha256(spec.encode()).hexdigest()[:10]

    def lfw_row(self, method: MethodSpec, preset: str, dark: list[np.ndarray]) -> dict:
        images, seconds, source = method_images(
            method, preset, self.images.clean, dark, self.images.protocol, self.config.cache_dir, self.config.progress
        )

        def compute() -> dict:
            sampled = [images[i] for i in self.sample]
            inputs = None if method.name == "clean" else [dark[i] for i in self.sample]
            row = {"source": source, "seconds_per_image": seconds, "psnr": None, "ssim": None}
            if method.name != "clean":  # the reference itself: infinite PSNR, nothing to report
                row.update(mean_fidelity(images, self.images.clean))
            row.update(no_reference(sampled, inputs))
            clean_sample = [self.images.clean[i] for i in self.sample]
            row.update({"feature_distance": None, "kid_x1000": None, "lpips_vgg": None})
            if method.name != "clean":
                row.update(self._feature_metrics(sampled, clean_sample))
            row["judges"] = {}
            for judge in self.judges:
                vectors = self._embed(judge, images, source)
                scores = self.images.scores(vectors)
                row["judges"][judge] = {
                    **verification(self.images, vectors),
                    "rank1": identification(self.images, self.clean_vectors[judge], vectors),
                    "scores": [round(float(s), 5) for s in scores],
                }
            row["detectors"] = {}
            for name, detector in self.detectors.items():
                found = (
                    self.references[name]
                    if method.name == "clean"
                    else detect_central(detector, sampled, f"{method.label} {name}", self.config.progress)
                )
                row["detectors"][name] = detection_scores(found, self.references[name])
            return row

        return cached_row(self.config.cache_dir / f"row-{source}-{self._row_key(source)}.json", compute)

    def run_lfw(self) -> dict:
        results: dict = {}
        for preset in self.config.presets:
            dark = synthesize_float32(self.images.clean, preset, seed=0)
            rows = {}
            for method in tqdm(self.methods, desc=f"LFW {preset}", unit="method", disable=not self.config.progress):
                rows[method.label] = self.lfw_row(method, preset, dark)
            add_recovery(rows, list(self.judges))
            add_false_matches(rows, list(self.judges), [p.same for p in self.images.pairs])
            results[preset] = rows
        return results

    def run_real(self) -> tuple[list[str], dict]:
        folder = self.config.data_root / LOWLIGHT_DIR
        paths = real_lowlight_photos(self.config.data_root, self.config.real_limit)
        originals = [read_image(p).rgb for p in tqdm(paths, desc="reading real", disable=not self.config.progress)]
        rows: dict = {}
        for method in self.methods:
            if method.name == "clean":
                continue
            images, seconds, source = method_images(
                method, "real", None, originals, len(paths), self.config.cache_dir, self.config.progress
            )

            def compute(images=images, seconds=seconds, method=method) -> dict:
                row = {"seconds_per_image": seconds}
                row.update(no_reference(images, None if method.name == "none" else originals))
                row["detectors"] = {}
                for name, detector in self.detectors.items():
                    counts = [len(detector.detect(image_to_tensor(as_float(im))[0])) for im in images]
                    row["detectors"][name] = {
                        "faces": int(sum(counts)),
                        "images_with_faces": int(np.count_nonzero(counts)),
                    }
                return row

            rows[method.label] = cached_row(
                self.config.cache_dir / f"row-{source}-{self._row_key(source)}.json", compute
            )
        return [str(p.relative_to(folder)) for p in paths], rows

    def run_speed(self) -> dict:
        height, width = self.config.speed_size
        if height * width == 0:
            return {}
        out = {}
        for method in tqdm(self.methods, desc="speed", disable=not self.config.progress):
            if method.name in BOUNDS or method.weights is not None:
                continue
            out[method.label] = measure(method.name, height, width, self.config.threads, self.config.speed_repeats)
        return out

    def run_sice(self) -> tuple[dict, dict]:
        """Every method on the real pairs of ``sice_split``: ({"split", "frames", "scenes"}, rows by method)."""
        return sice_record(self.config, self.detectors, self.methods)

    def run_wild(self) -> dict:
        """Identification and false matches of the CelebA test people under each preset (:mod:`.wild`)."""
        return wild_record(self.config, self.judges, self.methods)

    def run(self) -> dict:
        lfw = self.run_lfw()
        real_paths, real = self.run_real() if self.config.real else ([], {})
        sice, sice_rows = {}, {}
        if self.config.sice and (self.config.data_root / SICE_DIR).is_dir():
            sice, sice_rows = self.run_sice()
        elif self.config.sice:
            missing = f"no {SICE_DIR}/ under {self.config.data_root}: the real-pairs benchmark is skipped"
            warnings.warn(missing, stacklevel=1)
        wild = {}
        if self.config.wild and self.images is not None and (self.config.data_root / CELEBA_DIR).is_dir():
            wild = self.run_wild()
        elif self.config.wild and self.images is not None:
            warnings.warn(f"no {CELEBA_DIR}/ under {self.config.data_root}: the in-the-wild part is skipped",
                          stacklevel=1)  # fmt: skip
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.config).items()}
        return {
            "config": config,
            "pairs": len(self.images.pairs) if self.images is not None else 0,
            "images": len(self.images.keys) if self.images is not None else 0,
            "sample": self.sample.tolist(),
            "lfw": lfw,
            "real_photos": real_paths,
            "real": real,
            "sice": sice,
            "real_pairs": sice_rows,
            "wild": wild,
            "speed": self.run_speed(),
        }
