"""Training: config validation, a short real run, and resume giving exactly the uninterrupted result."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import safetensors.torch
import torch

from conftest import assert_close, smooth_test_image
from lowface.io import ImageData, write_image
from lowface.registry import MODELS
from lowface.train.config import TrainConfig, load_config
from lowface.train.trainer import Trainer


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A fake data root with an lfw/ folder of six small images and a train_images.txt."""
    root = tmp_path_factory.mktemp("data")
    lines = []
    for i in range(6):
        rel = f"lfw-deepfunneled/P{i}/P{i}_0001.png"
        write_image(root / "lfw" / rel, ImageData(smooth_test_image(48, 48, seed=i)))
        lines.append(rel)
    (root / "lfw" / "train_images.txt").write_text("\n".join(lines) + "\n")
    return root


def config_for(tiny_data: Path, out_dir: Path, steps: int, model: str = "fast_enhance_net", *extra: str):
    """A tiny run with the contrastive and feature modules (the face-network terms have their own test)."""
    return load_config(None, overrides(tiny_data, out_dir, steps, model, *extra))


def overrides(tiny_data: Path, out_dir: Path, steps: int, model: str = "fast_enhance_net", *extra: str) -> list[str]:
    return [
        f"data_root={tiny_data}",
        f"out_dir={out_dir}",
        f"steps={steps}",
        "crop=32",
        "checkpoint_every=1",
        "log_every=1",
        f"model.type={model}",
        "loss_weights.semantic=0",
        "loss_weights.face=0",
        *extra,
    ]


def test_unknown_config_keys_are_rejected_with_the_valid_ones_listed(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stepz: 10\n")
    with pytest.raises(ValueError, match=r"unknown keys \['stepz'\].*valid keys"):
        load_config(bad)
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, ["steps"])
    assert load_config(None, ["loss_weights.smooth=0"]).loss_weights["color"] == 0.05


@pytest.mark.parametrize("text", ["", "\n", "# model: {type: restore_net}\n"])
def test_an_empty_config_file_is_refused_not_run_on_the_defaults(tmp_path: Path, text: str):
    """A config that an edit left empty (a failed sed, a truncated copy) once started a full training run on the
    defaults; it names the file instead. No config at all still means the defaults."""
    empty = tmp_path / "student.yaml"
    empty.write_text(text)
    with pytest.raises(ValueError, match=r"student\.yaml: the training config is empty"):
        load_config(empty)
    assert load_config(None).to_dict() == TrainConfig().to_dict()


def test_configs_shipped_in_the_repository_load():
    paths = sorted(Path(__file__).resolve().parents[2].joinpath("configs").rglob("*.yaml"))
    assert len(paths) >= 5
    for path in paths:
        assert load_config(path).model["type"] in MODELS


@pytest.mark.slow
@pytest.mark.parametrize("model", ["enhance_net", "fast_enhance_net"])
def test_short_run_logs_every_term_and_exports_weights(tiny_data: Path, tmp_path: Path, model: str):
    path = Trainer(config_for(tiny_data, tmp_path / "run", 3, model)).fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3]
    assert {"feature_cr", "brightness_cr", "perceptual", "color", "smooth"} <= set(log[0])
    weights = safetensors.torch.load_file(str(path))
    assert all(torch.isfinite(v).all() for v in weights.values())


@pytest.mark.slow
def test_resume_after_interruption_equals_uninterrupted_run(tiny_data: Path, tmp_path: Path):
    straight = Trainer(config_for(tiny_data, tmp_path / "straight", 4, "fast_enhance_net", "snapshot_every=3")).fit()
    Trainer(config_for(tiny_data, tmp_path / "resumed", 2)).fit()  # "interrupted" after two steps
    resumed_trainer = Trainer(config_for(tiny_data, tmp_path / "resumed", 4))
    assert resumed_trainer.step == 2
    resumed = resumed_trainer.fit()
    a, b = safetensors.torch.load_file(str(straight)), safetensors.torch.load_file(str(resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    snapshots = sorted(p.name for p in (tmp_path / "straight" / "snapshots").iterdir())
    assert snapshots == ["step-3.safetensors"]  # every 3 steps: step 3 only, not the final step 4
    step3 = safetensors.torch.load_file(str(tmp_path / "straight" / "snapshots" / snapshots[0]))
    assert any(not torch.equal(step3[k], a[k]) for k in a)
    resumed_folder = sorted(p.name for p in (tmp_path / "resumed").glob("config*.yaml"))
    assert resumed_folder == ["config-until-step-2.yaml", "config.yaml"]  # steps=2, then steps=4
    assert "steps: 2" in (tmp_path / "resumed" / "config-until-step-2.yaml").read_text()


def test_nan_loss_skips_the_step_without_touching_weights(tiny_data: Path, tmp_path: Path):
    trainer = Trainer(config_for(tiny_data, tmp_path / "nan", 1))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    batch = trainer.batch(0)
    batch["positive"] = torch.full_like(batch["positive"], float("nan"))
    assert trainer.train_step(batch) is None
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def _run_cli(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )


@pytest.mark.slow
def test_two_process_ddp_equals_one_process_on_the_same_global_batch(tiny_data: Path, tmp_path: Path):
    extra = ("batch_size=2", "threads=1", "checkpoint_every=100")
    config = config_for(tiny_data, tmp_path / "single", 3, "fast_enhance_net", *extra)
    single = Trainer(config).fit()
    sets = [f"--set={o}" for o in overrides(tiny_data, tmp_path / "ddp", 3, "fast_enhance_net", *extra)]
    launch = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "lowface.cli", "train"]
    process = _run_cli([*launch, *sets])
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    a = safetensors.torch.load_file(str(single))
    b = safetensors.torch.load_file(str(tmp_path / "ddp" / "model.safetensors"))
    # Adam divides each gradient by its running magnitude, so a parameter whose gradient is near Adam's eps (a bias
    # deep in the net) moves by a share of lr that the all-reduce's float rounding can change: bound every
    # difference by a quarter of one step, the mean by a thousandth of one, and let at most 1 % of the values (here
    # 0.1 %, all biases) differ beyond 1e-6. Training on the wrong half of the batch, or without the all-reduce,
    # moves parameters apart by up to a whole step each.
    lr = config.lr
    gaps = torch.cat([(a[key] - b[key]).abs().flatten() for key in a])
    share_beyond = (gaps > 1e-6).double().mean()
    assert gaps.max() <= 0.25 * lr and gaps.mean() <= 1e-3 * lr and share_beyond <= 0.01, (
        f"DDP and one process differ: max {gaps.max():.2e}, mean {gaps.mean():.2e}, {share_beyond:.2%} beyond 1e-6"
    )
    log = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3]  # one log, written by rank 0


@pytest.mark.slow
def test_kill_9_during_training_then_resume_gives_the_uninterrupted_result(tiny_data: Path, tmp_path: Path):
    run = tmp_path / "killed"
    sets = [f"--set={o}" for o in overrides(tiny_data, run, 10_000, "enhance_net", "threads=1")]
    process = _run_cli(["-m", "lowface.cli", "train", *sets])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        log = run / "log.jsonl"
        if log.exists() and len(log.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    step = torch.load(run / "checkpoint.pt", weights_only=True)["step"]  # an intact checkpoint, whatever the moment
    assert step >= 2
    resumed = Trainer(config_for(tiny_data, run, step + 2, "enhance_net", "threads=1"))
    assert resumed.step == step
    resumed_path = resumed.fit()
    straight = Trainer(config_for(tiny_data, tmp_path / "straight", step + 2, "enhance_net", "threads=1")).fit()
    a, b = safetensors.torch.load_file(str(straight)), safetensors.torch.load_file(str(resumed_path))
    for key in a:
        assert_close(a[key], b[key], atol=1e-6, rtol=1e-5, msg=f"{key}: ")
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def face_data(data_root: Path, tmp_path_factory) -> Path:
    """A data root of four real LFW training faces of two identities (for the face and semantic modules)."""
    pytest.importorskip("mediapipe", reason="the semantic module needs the parse extra (mediapipe==0.10.21)")
    from lowface.face.packages import FaceModelMissing, packaged_file

    try:
        packaged_file("facenet_casia", verify=False)
        packaged_file("mtcnn_pnet", verify=False)
    except FaceModelMissing as exc:
        pytest.skip(str(exc))
    train = (data_root / "lfw" / "train_images.txt").read_text().split()
    by_person: dict[str, list[str]] = {}
    for rel in train:
        by_person.setdefault(Path(rel).parent.name, []).append(rel)
    chosen = [rels[:2] for rels in by_person.values() if len(rels) >= 2][:2]
    root = tmp_path_factory.mktemp("faces")
    lines = []
    for rel in (r for pair in chosen for r in pair):
        (root / "lfw" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_root / "lfw" / rel, root / "lfw" / rel)
        lines.append(rel)
    (root / "lfw" / "train_images.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.slow
def test_all_four_modules_train_together_on_real_faces(face_data: Path, tmp_path: Path):
    names = ["semantic=1.0", "face=1.0"]
    config = load_config(
        None,
        [f"data_root={face_data}", f"out_dir={tmp_path / 'run'}", "steps=2", "crop=160", "log_every=1",
         "model.type=fast_enhance_net", "synthesis=x0.15-noise0.02", "face_scale=10"]
        + [f"loss_weights.{n}" for n in names],
    )  # fmt: skip
    trainer = Trainer(config)
    assert trainer.objective.face is not None and len(trainer.objective.face.database) == 2
    assert trainer.dataset.faces.detected.all()  # MTCNN finds every clean LFW face
    trainer.fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert {"feature_cr", "brightness_cr", "perceptual", "color", "smooth", "semantic", "face"} <= set(log[0])
    assert all(0 < entry["face"] < 10 and entry["semantic"] > 0 for entry in log)
    caches = sorted(p.name.split("-")[0] for p in (tmp_path / "run").glob("*-*.*"))
    assert caches == ["faces", "parsing"]


@pytest.mark.parametrize("objective", ["zero_dce", "zero_dce_pp", "sci"])
def test_zero_reference_competitors_train_with_their_own_terms(tiny_data: Path, tmp_path: Path, objective: str):
    config = load_config(
        None,
        [f"data_root={tiny_data}", f"out_dir={tmp_path}", "steps=2", "crop=32", "log_every=1", "batch_size=2",
         f"model.type={objective}", f"objective={objective}"],
    )  # fmt: skip
    Trainer(config).fit()
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    expected = {"fidelity", "smooth"} if objective == "sci" else {"spatial", "exposure", "color", "curve_smooth"}
    assert set(log[-1]) - {"step", "loss", "train_seconds"} == expected
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in log)


def test_objective_weights_default_per_objective_and_reject_foreign_terms():
    assert load_config(None, ["objective=zero_dce_pp"]).loss_weights["curve_smooth"] == 1600.0
    assert load_config(None, ["objective=sci", "loss_weights.smooth=2"]).loss_weights == {"fidelity": 1.5, "smooth": 2}
    with pytest.raises(ValueError, match=r"unknown terms \['perceptual'\] for objective 'zero_dce'"):
        load_config(None, ["objective=zero_dce", "loss_weights.perceptual=1"])
    with pytest.raises(ValueError, match="ablations are Low-FaceNet's"):
        load_config(None, ["objective=sci", "ablation=no-face"])
    with pytest.raises(ValueError, match="unknown objective"):
        load_config(None, ["objective=cyclegan"])


def test_train_only_freezes_everything_else(tiny_data: Path, tmp_path: Path):
    config = load_config(
        None,
        [f"data_root={tiny_data}", f"out_dir={tmp_path}", "steps=2", "crop=32", "batch_size=2",
         "model.type=retinexnet", "model.width=8", "objective=retinexnet_relight", "train_only=[relight]"],
    )  # fmt: skip
    trainer = Trainer(config)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("decom."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("relight."))
    with pytest.raises(ValueError, match="matches no parameter"):
        Trainer(load_config(None, [f"data_root={tiny_data}", f"out_dir={tmp_path}/x", "train_only=[nothing]"]))


@pytest.fixture(scope="module")
def tiny_sice(tiny_data: Path) -> Path:
    """tiny_data plus a fake sice/ folder: every frame of the committed train scenes as a small image (the
    under-exposed ones at a fifth of their reference), so the committed split resolves to real files."""
    from lowface.data.sice import load_scenes

    for scene in load_scenes("train"):
        reference = smooth_test_image(40, 40, seed=scene.scene)
        for number in scene.frames:
            image = reference * (0.2 if number in scene.under_exposed else 1.0)
            write_image(tiny_data / "sice" / f"{number}.jpg", ImageData(image))
    return tiny_data


def test_training_mixes_real_pairs_in_and_the_weights_record_their_model(tiny_sice: Path, tmp_path: Path):
    from lowface.inference.catalogue import create_model, weights_architecture

    extra = ("sice_share=0.5", "model.guide=linear", "loss_weights.reconstruction=1")
    trainer = Trainer(config_for(tiny_sice, tmp_path / "run", 2, "fast_enhance_net", *extra))
    assert type(trainer.dataset).__name__ == "MixedDataset" and len(trainer.dataset) == 12  # 6 faces + 6 pairs
    path = trainer.fit()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["reconstruction"] > 0
    assert weights_architecture(path) == {"type": "fast_enhance_net", "guide": "linear"}
    assert create_model("lowface-fast", weights=path).upsampler.domain == "linear"
    alone = Trainer(load_config(None, [f"data_root={tiny_sice}", f"out_dir={tmp_path / 'zd'}", "steps=1", "crop=32",
                                       "model.type=zero_dce_pp", "objective=zero_dce_pp", "sice_share=1",
                                       "sice_frames=all"]))  # fmt: skip
    assert type(alone.dataset).__name__ == "RealPairsDataset" and len(alone.dataset) > 900  # every train frame
    alone.fit()


@pytest.mark.slow
def test_worker_processes_train_exactly_as_the_main_process(tiny_data: Path, tmp_path: Path):
    plain = Trainer(config_for(tiny_data, tmp_path / "plain", 3)).fit()
    with_workers = Trainer(config_for(tiny_data, tmp_path / "workers", 3, "fast_enhance_net", "workers=2")).fit()
    a, b = safetensors.torch.load_file(str(plain)), safetensors.torch.load_file(str(with_workers))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="workers must be 0 or more"):
        load_config(None, ["workers=-1"])


def test_a_distilled_student_learns_its_teacher_and_leaves_the_teacher_alone(tiny_data: Path, tmp_path: Path):
    from lowface.inference.catalogue import create_model

    teacher_before = {k: v.clone() for k, v in create_model("lowface-fast").state_dict().items()}
    extra = ["objective=distill", "teacher=lowface-fast", "model.scale=8", "model.width=8", "lr=0.001",
             "loss_weights.teacher_illumination=0.1"]  # fmt: skip
    trainer = Trainer(load_config(None, [*overrides(tiny_data, tmp_path / "student", 8)[:-2], *extra]))
    batch = trainer.batch(0)
    first = trainer.objective(trainer.model(batch["low"]), batch)[1]["teacher"]
    trainer.fit()
    trainer.model.eval()
    with torch.no_grad():
        last = trainer.objective(trainer.model(batch["low"]), batch)[1]["teacher"]
    assert last < first  # it moved towards the teacher's output
    assert not any(p.requires_grad for p in trainer.objective.teacher.parameters())
    teacher_after = trainer.objective.teacher.state_dict()
    assert all(torch.equal(teacher_before[k], teacher_after[k].cpu()) for k in teacher_before)
    with pytest.raises(ValueError, match="needs a teacher"):
        Trainer(load_config(None, [*overrides(tiny_data, tmp_path / "orphan", 1)[:-2], "objective=distill"]))


def test_a_teacher_can_be_another_version_of_a_catalogued_network(tiny_data: Path, tmp_path: Path):
    """teacher: name:file.safetensors - the file's tensors and recorded arguments, not the shipped ones."""
    from lowface.inference.catalogue import create_model

    older = create_model("lowface-fast").state_dict()
    older = {k: v + 0.01 if v.is_floating_point() else v for k, v in older.items()}  # not the shipped tensors
    file = tmp_path / "older.safetensors"
    safetensors.torch.save_file(older, str(file))
    base = [*overrides(tiny_data, tmp_path / "student", 1)[:-2], "objective=distill", "model.scale=8",
            "model.width=8"]  # fmt: skip
    teacher = Trainer(load_config(None, [*base, f"teacher=lowface-fast:{file}"])).objective.teacher
    assert all(torch.equal(older[k], v.cpu()) for k, v in teacher.state_dict().items())
    with pytest.raises(FileNotFoundError, match=r"lowface-fast:nowhere\.safetensors: no weights file nowhere"):
        Trainer(load_config(None, [*base, "teacher=lowface-fast:nowhere.safetensors"]))


def test_training_faces_add_the_celeba_train_people_and_never_val_or_test(data_root: Path):
    from lowface.data.celeba import celeba_identities, committed_split
    from lowface.train.face_targets import training_faces

    if not (data_root / "celeba_wild" / "identities.txt").is_file():
        pytest.skip(f"CelebA in-the-wild photos not found under {data_root}")
    lfw_paths, lfw_names = training_faces(data_root, ["lfw"])
    paths, names = training_faces(data_root, ["lfw", "celeba"])
    assert paths[: len(lfw_paths)] == lfw_paths and names[: len(lfw_names)] == lfw_names
    people = celeba_identities(data_root)
    added = list(zip(paths[len(lfw_paths) :], names[len(lfw_names) :], strict=True))
    assert len(added) == 5 * len(committed_split()["train"])  # five photos a person
    assert all(people[p] in committed_split()["train"] and name == f"celeba-{people[p]}" for p, name in added)
    with pytest.raises(ValueError, match="face_sets"):
        training_faces(data_root, ["ffhq"])


def test_a_frozen_int8_aware_part_keeps_its_calibrated_ranges_while_the_trained_part_tracks_its_own(
    tiny_data: Path, tmp_path: Path
):
    extra = ["objective=distill", "teacher=lowface-fast", "model.type=restore_net", "model.denoiser_width=8",
             "model.denoiser_int8_aware=true", "model.estimator_int8_aware=true", "train_only=[denoiser]"]  # fmt: skip
    trainer = Trainer(load_config(None, [*overrides(tiny_data, tmp_path, 2)[:-2], *extra]))
    estimator, denoiser = trainer.model.enhancer.estimator, trainer.model.denoiser
    for quantiser in estimator.quantisers.values():  # calibrated, as a shipped file's are
        quantiser.low.fill_(-0.5), quantiser.high.fill_(0.75), quantiser.batches.fill_(100)
    before = {k: v.clone() for k, v in estimator.quantisers.state_dict().items()}
    trainer.fit()
    assert all(torch.equal(before[k], v) for k, v in estimator.quantisers.state_dict().items())
    assert all(int(q.batches) == 2 for q in denoiser.quantisers.values())  # the trained part's ranges follow its maps
    assert estimator.quantising(), "the frozen part still rounds as the int8 runtime does, on its own ranges"
