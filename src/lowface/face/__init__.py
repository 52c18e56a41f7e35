"""Frozen face networks, all read offline from registry packages (files and checksums in :mod:`.packages`):

- recognizers by name (:mod:`.recognizers`, ``lowface.registry.RECOGNIZERS``): FaceNet (:mod:`.facenet`,
  Inception-ResNet-v1 trained on CASIA-WebFace, read from its TensorFlow graph by :mod:`.tf_graph` /
  :mod:`.tf_module`) and dlib's ResNet (:mod:`.dlib_resnet`, read from dlib's own serialisation by
  :mod:`.dlib_format`);
- detectors by name (:mod:`.detect`, ``lowface.registry.DETECTORS``): MTCNN (:mod:`.mtcnn`, with landmarks),
  dlib HOG and BlazeFace;
- alignment and the recognition pipeline (detector + alignment + recognizer, differentiable warps):
  :mod:`.align`, :mod:`.pipeline`;
- face parsing (LaPa labels from MediaPipe's segmenter and face mesh, :mod:`.parsing`) and the identity database
  of the training set (:mod:`.database`).
"""
