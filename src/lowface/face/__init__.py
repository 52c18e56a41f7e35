"""Frozen face networks, all read offline from registry packages (checksums in :mod:`lowface.face.packages`):

- recognizers: FaceNet (:mod:`~lowface.face.facenet`, InceptionResnetV1 / VGGFace2) and dlib's ResNet
  (:mod:`~lowface.face.dlib_resnet`, read from dlib's own serialisation by :mod:`~lowface.face.dlib_format`);
- detectors: MTCNN (:mod:`~lowface.face.mtcnn`, with landmarks), dlib HOG and BlazeFace (:mod:`~lowface.face.detect`);
- alignment and the recognition pipeline (detector + alignment + recognizer, differentiable warps):
  :mod:`~lowface.face.align`, :mod:`~lowface.face.pipeline`;
- face parsing (LaPa labels from MediaPipe's segmenter, :mod:`~lowface.face.parsing`; TensorFlow graph readers in
  :mod:`~lowface.face.tf_graph` / :mod:`~lowface.face.tf_module`) and the identity database of the training set
  (:mod:`~lowface.face.database`).
"""
