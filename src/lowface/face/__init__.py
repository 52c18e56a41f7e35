"""Face networks (detection, alignment, recognition, parsing): arrive with the face-networks issue."""
