"""Frozen face networks: recognizers (dlib ResNet so far), file locations of packaged weights.

Detection, alignment, FaceNet, parsing and the face database arrive with the face-networks issue.
"""
