"""Training: the config (YAML, overrides, validation), the resumable trainer, data-parallel setup
(:mod:`.distributed`), the run folder's files (:mod:`.checkpoints`) and the face targets of the training set."""
