"""The report's figures from a finished run: LFW grids per preset (or a public-domain face through the same
presets), metric plots, failure cases, real-photo and real-pair grids; PNG / JPEG bytes per report section."""

from __future__ import annotations

import numpy as np

from lowface.bench.methods import BOUNDS, MethodSpec, method_images
from lowface.bench.plots import failure_pairs, image_grid, metric_plot
from lowface.bench.real_pairs import RealPairsSet
from lowface.bench.runner import Bench
from lowface.data.lowlight import LOWLIGHT_DIR
from lowface.data.public import public_face
from lowface.data.synth import synthesize_float32
from lowface.io import read_image


def grid_indices(sample: np.ndarray, count: int) -> np.ndarray:
    return sample[:: max(1, len(sample) // count)][:count]


class Figures:
    """Image grids, metric plots and failure cases of a finished run, as PNG bytes per report section."""

    def __init__(self, bench: Bench, record: dict, focus: str | None = None, faces: int = 4, public: bool = False):
        """``public``: grids show scikit-image's public-domain astronaut through the same presets and methods
        instead of dataset faces, and failure cases are listed by pair number without images - a report that
        may be published (LFW and the real photos are for research use only)."""
        self.bench, self.record, self.faces, self.public = bench, record, faces, public
        labels = [m.label for m in bench.methods if m.name not in BOUNDS]
        self.focus = focus if focus in labels else next((m for m in labels if m.startswith("lowface")), None)

    def _images(self, method: MethodSpec, dataset: str, clean, dark, count: int | str) -> list[np.ndarray]:
        c = self.bench.config
        return method_images(method, dataset, clean, dark, count, c.cache_dir, False)[0]

    def lfw(self, preset: str) -> list[tuple[str, bytes]]:

        bench, rows = self.bench, self.record["lfw"][preset]
        grid = self._public_grid(preset) if self.public else self._lfw_grid(preset)
        out = [grid, (f"{preset}: verification accuracy per judge and PSNR", metric_plot(rows, self.record, preset))]
        if self.focus is None:
            return out
        clean = bench.images.clean
        dark = synthesize_float32(clean, preset, seed=0)
        focus = next(m for m in bench.methods if m.label == self.focus)
        enhanced = [] if self.public else self._images(focus, preset, clean, dark, bench.images.protocol)
        index = {key: i for i, key in enumerate(bench.images.keys)}
        same = [p.same for p in bench.images.pairs]
        for judge in bench.judges:
            worst = failure_pairs(rows, self.focus, judge, same, self.bench.config.failures)
            if not worst:
                continue
            scores = "; ".join(f"row {k + 1}: {b:.2f} -> {a:.2f}" for k, (_, b, a) in enumerate(worst))
            if self.public:
                numbers = ", ".join(str(i + 1) for i, _, _ in worst)
                caption = (
                    f"{preset}, failure cases of {self.focus} judged by {judge}: LFW pairs {numbers} (line order "
                    f"of pairs.txt), similarity dark -> enhanced: {scores}. Images left out: LFW faces may not be "
                    "redistributed; run without --public-figures to see them."
                )
                out.append((caption, b""))
                continue
            firsts = [index[bench.images.pairs[i].first] for i, _, _ in worst]
            seconds = [index[bench.images.pairs[i].second] for i, _, _ in worst]
            grid = [
                ("dark A", [dark[i] for i in firsts]),
                ("dark B", [dark[i] for i in seconds]),
                (f"{self.focus} A", [enhanced[i] for i in firsts]),
                (f"{self.focus} B", [enhanced[i] for i in seconds]),
                ("clean A", [clean[i] for i in firsts]),
                ("clean B", [clean[i] for i in seconds]),
            ]
            caption = (
                f"{preset}, failure cases of {self.focus} judged by {judge}: the same-person pairs whose "
                f"similarity dropped most from the dark input to the enhanced images ({scores})"
            )
            out.append((caption, image_grid(grid)))
        return out

    def _lfw_grid(self, preset: str) -> tuple[str, bytes]:

        bench = self.bench
        clean = bench.images.clean
        dark = synthesize_float32(clean, preset, seed=0)
        chosen = grid_indices(bench.sample, self.faces)
        columns = [("input", [dark[i] for i in chosen])]
        for method in bench.methods:
            if method.name not in BOUNDS:
                images = self._images(method, preset, clean, dark, bench.images.protocol)
                columns.append((method.label, [images[i] for i in chosen]))
        columns.append(("clean", [clean[i] for i in chosen]))
        return f"{preset}: the input, every method and the clean image", image_grid(columns)

    def _public_grid(self, preset: str) -> tuple[str, bytes]:

        clean = [public_face()]
        dark = synthesize_float32(clean, preset, seed=0)
        columns = [("input", dark)]
        for method in self.bench.methods:
            if method.name not in BOUNDS:
                columns.append((method.label, self._images(method, f"astronaut-{preset}", clean, dark, 1)))
        columns.append(("clean", clean))
        caption = (
            f"{preset}: scikit-image's public-domain astronaut darkened by the same preset, every method, the clean "
            "image (the tables are measured on LFW; its faces are not shown because they may not be redistributed)"
        )
        return caption, image_grid(columns)

    def real(self) -> list[tuple[str, bytes]]:

        bench, paths = self.bench, self.record["real_photos"]
        if not paths:
            return []
        if self.public:
            return [("Real photo grid left out: the low-light photos are for research use only.", b"")]
        folder = bench.config.data_root / LOWLIGHT_DIR
        originals = [read_image(folder / p).rgb for p in paths]
        chosen = grid_indices(np.arange(len(paths)), self.faces)
        columns = [("input", [originals[i] for i in chosen])]
        for method in bench.methods:
            if method.name not in BOUNDS:
                images = self._images(method, "real", None, originals, len(paths))
                columns.append((method.label, [images[i] for i in chosen]))
        names = ", ".join(paths[i] for i in chosen)
        return [(f"Real low-light photos ({names}): the input and every method", image_grid(columns))]

    def real_pairs(self) -> list[tuple[str, bytes]]:

        if not self.record.get("real_pairs"):
            return []
        if self.public:
            return [("Real-pairs grid left out: SICE is for research use only.", b"")]
        config = self.bench.config
        pairs = RealPairsSet.load(config.data_root, self.record["sice"]["split"], config.sice_limit)
        chosen = grid_indices(np.arange(len(pairs.dark)), self.faces)
        columns = [("input", [pairs.dark[i] for i in chosen])]
        for method in self.bench.methods:
            if method.name not in BOUNDS:
                images = self._images(method, pairs.dataset, None, pairs.dark, len(pairs.dark))
                columns.append((method.label, [images[i] for i in chosen]))
        columns.append(("reference", [pairs.references[i] for i in chosen]))
        names = ", ".join(pairs.names[i] for i in chosen)
        return [(f"SICE {pairs.split} frames ({names}): the input, every method, the reference", image_grid(columns))]

    def all(self) -> dict[str, list[tuple[str, bytes]]]:
        sections = {f"lfw/{preset}": self.lfw(preset) for preset in self.record["lfw"]}
        sections["real_pairs"] = self.real_pairs()
        sections["real"] = self.real()
        return sections
